"""Idmapped mounts: mounts[].uidMappings/gidMappings and the idmap/ridmap options.

mount_setattr(MOUNT_ATTR_IDMAP) takes a user namespace fd whose maps say how
file owners on disk appear through the mount.  The runtime makes one such
namespace per mapping: a short-lived child unshares CLONE_NEWUSER, the
runtime writes its maps and keeps an fd to /proc/CHILD/ns/user (which keeps
the namespace alive), and the child exits.  The runtime then makes the
detached, idmapped bind (see :func:`prepare`) and hands its fd to the init,
which attaches it.
"""

from __future__ import annotations

from .. import oslite as os
from ..errors import SpecError


def wanted(m: dict) -> bool:
    opts = m.get("options") or []
    return bool(m.get("uidMappings") or m.get("gidMappings")) or "idmap" in opts or "ridmap" in opts


def _maps(lines: list[dict]) -> str:
    return "".join(f"{x['containerID']} {x['hostID']} {x['size']}\n" for x in lines)


def userns_fd(uid_maps: list[dict], gid_maps: list[dict], where: str) -> int:
    from . import syscalls as sc

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            sc.unshare(sc.CLONE_NEWUSER)
        except BaseException:
            os._exit(1)
        os.read(r, 1)  # until the runtime is done with our maps
        os._exit(0)
    os.close(r)
    try:
        ns = f"/proc/{pid}/ns/user"
        own = os.stat("/proc/self/ns/user").st_ino
        for _ in range(2000):  # the child's unshare: wait until it is in its own namespace
            if os.stat(ns).st_ino != own:
                break
            os.sched_yield()
        for file, lines in (("uid_map", uid_maps), ("gid_map", gid_maps)):
            try:
                with open(f"/proc/{pid}/{file}", "w") as f:
                    f.write(_maps(lines))
            except OSError as e:
                raise SpecError(
                    where, f"the kernel refused the idmapped mount's {file}: {e.strerror}"
                ) from None
        return os.open(ns, os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(w)
        os.waitpid(pid, 0)


def prepare(config: dict, bundle: str) -> dict[int, int]:
    """{mount index: detached, idmapped bind tree} for every idmapped mount.

    Made here, in the runtime: setting an idmapping needs CAP_SYS_ADMIN in the
    user namespace of the filesystem (the host's), which an init in a user
    namespace of its own does not have.  It only attaches the tree."""
    linux = config.get("linux") or {}
    out: dict[int, int] = {}
    try:
        for i, m in enumerate(config.get("mounts") or []):
            if not wanted(m):
                continue
            from .rootfs import bind_tree, parse_options, source_path

            where = f"/mounts/{i}"
            opts = m.get("options") or []
            if not (m.get("type") == "bind" or "bind" in opts or "rbind" in opts):
                raise SpecError(where, "idmapped mounts must be bind mounts")
            uid = m.get("uidMappings") or linux.get("uidMappings")
            gid = m.get("gidMappings") or linux.get("gidMappings")
            if not uid or not gid:
                raise SpecError(
                    where,
                    "an idmapped mount needs uid and gid mappings (its own or the container's)",
                )
            ns = userns_fd(uid, gid, where)
            try:
                flags, _prop, _data, rro = parse_options(opts)
                try:
                    out[i] = bind_tree(source_path(m, bundle), flags, rro, m, ns)
                except OSError as e:
                    raise SpecError(
                        where, f"idmapped mount of {m.get('source')}: {e.strerror}"
                    ) from None
            finally:
                os.close(ns)
    except BaseException:
        for fd in out.values():
            os.close(fd)
        raise
    return out
