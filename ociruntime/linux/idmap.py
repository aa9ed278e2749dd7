"""What the runtime makes for the init with the host's privileges: detached
trees (:func:`prepare`) that the init only attaches.

Idmapped mounts (mounts[].uidMappings/gidMappings, the idmap/ridmap
options): mount_setattr(MOUNT_ATTR_IDMAP) takes a user namespace fd whose
maps say how file owners on disk appear through the mount.  The runtime
makes one such namespace per mapping: a short-lived child unshares
CLONE_NEWUSER, the runtime writes its maps and keeps an fd to
/proc/CHILD/ns/user (which keeps the namespace alive), and the child exits.
The runtime then makes the detached, idmapped bind and hands its fd to the
init, which attaches it.

A container with a user namespace: its init, root only in that namespace,
can no longer open what only the host's root may (a source beneath a 0700
directory) nor make device nodes.  So the runtime, as crun does, opens every
bind source itself (open_tree) and makes the nodes of ``linux.devices`` in a
tmpfs of a private mount namespace (:func:`device_trees`), whether or not
the host has them.  Not for a rootless runtime, which has no more privilege
than its init.
"""

from __future__ import annotations

from .. import oslite as os
from ..errors import OCIError, SpecError


def wanted(m: dict) -> bool:
    """Mount ``m`` is idmapped (process/runtime.needs_runtime_trees asks the
    same without importing this module; tests/unit/test_runtime_trees.py)."""
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
    """{mount index: detached bind tree} for every idmapped mount and, in a user
    namespace (as root), every bind mount; {rootfs.device_key(i): node} for
    the devices (:func:`device_trees`).

    Made here, in the runtime: setting an idmapping needs CAP_SYS_ADMIN in the
    user namespace of the filesystem (the host's), which an init in a user
    namespace of its own does not have.  It only attaches the tree.  A plain
    bind the runtime could not open is left to the init, which reports why."""
    linux = config.get("linux") or {}
    userns = os.geteuid() == 0 and any(
        ns.get("type") == "user" for ns in linux.get("namespaces") or []
    )
    out: dict[int, int] = {}
    try:
        for i, m in enumerate(config.get("mounts") or []):
            idmapped = wanted(m)
            if not (idmapped or userns):
                continue
            from .rootfs import bind_tree, first_propagation, is_bind, parse_options, source_path

            where = f"/mounts/{i}"
            opts = m.get("options") or []
            bind = is_bind(m)
            if not idmapped:
                if bind:
                    flags, _prop, _data, rro = parse_options(opts)
                    try:
                        out[i] = bind_tree(
                            source_path(m, bundle), flags, rro, m, -1, first_propagation(config)
                        )
                    except (OSError, OCIError):
                        pass  # the init tries, and says why it cannot
                continue
            if not bind:
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
                    out[i] = bind_tree(
                        source_path(m, bundle), flags, rro, m, ns, first_propagation(config)
                    )
                except OSError as e:
                    raise SpecError(
                        where, f"idmapped mount of {m.get('source')}: {e.strerror}"
                    ) from None
            finally:
                os.close(ns)
        if userns and linux.get("devices"):
            out.update(device_trees(linux))
    except BaseException:
        for fd in out.values():
            os.close(fd)
        raise
    return out


def _host_id(i: int, maps: list[dict]) -> int:
    """Container id ``i`` as the host sees it (the overflow id if unmapped)."""
    for m in maps:
        if m["containerID"] <= i < m["containerID"] + m["size"]:
            return i - m["containerID"] + m["hostID"]
    return 65534


def device_trees(linux: dict) -> dict[int, int]:
    """{rootfs.device_key(i): a detached bind of a node made for /linux/devices/i}.

    An init in a user namespace may not mknod, and binding the host's node
    (runc's way) fails where the host has none.  As crun does, a short-lived
    child makes the nodes with the host's CAP_MKNOD: in a mount namespace of
    its own (nothing of this reaches the host's), on a tmpfs with device
    access, with the config's mode and the owner the container's ids map to;
    it sends a detached bind of each (open_tree) over a socket and exits.
    Fifos need no privilege: the init makes those.  A node that cannot be
    made is left to the init, which says why."""
    import _socket
    import array

    from .rootfs import device_key

    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            _make_nodes(linux, theirs)
        finally:
            os._exit(0)
    theirs.close()
    out: dict[int, int] = {}
    try:
        while True:
            fds = array.array("i")
            data, anc, _flags, _addr = ours.recvmsg(64, _socket.CMSG_SPACE(fds.itemsize))
            for level, kind, raw in anc:
                if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                    fds.frombytes(raw[: len(raw) - (len(raw) % fds.itemsize)])
            if not data and not fds:
                break  # EOF: the child is done
            for fd in fds[1:]:
                os.close(fd)
            if fds:
                out[device_key(int(data))] = fds[0]
    except BaseException:
        for fd in out.values():
            os.close(fd)
        raise
    finally:
        ours.close()
        os.waitpid(pid, 0)
    return out


def _make_nodes(linux: dict, sock) -> None:
    """The child of :func:`device_trees`."""
    import _socket
    import sys

    from . import syscalls as sc
    from .rootfs import DEV_TYPES

    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    # attached (in this namespace only): kernels before 6.15 clone no detached mount
    sc.mount("tmpfs", "/dev", "tmpfs", sc.MS_NOSUID | sc.MS_NOEXEC, "mode=700,size=4k")
    os.umask(0)
    dfd = os.open("/dev", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    for i, d in enumerate(linux.get("devices") or []):
        if d.get("type") not in ("c", "u", "b"):
            continue
        name = str(i)
        try:
            mode = DEV_TYPES[d["type"]] | (d.get("fileMode", 0o666) & 0o7777)
            os.mknod(name, mode, os.makedev(d.get("major", 0), d.get("minor", 0)), dir_fd=dfd)
            os.chown(
                name,
                _host_id(d.get("uid", 0), linux.get("uidMappings") or []),
                _host_id(d.get("gid", 0), linux.get("gidMappings") or []),
                dir_fd=dfd,
                follow_symlinks=False,
            )
            tree = sc.open_tree(dfd, name, sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC)
        except (OSError, KeyError, TypeError, ValueError):
            continue  # the init tries, and says why it cannot
        sock.sendmsg(
            [name.encode()],
            [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, tree.to_bytes(4, sys.byteorder))],
        )
        os.close(tree)
