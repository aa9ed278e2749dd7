"""The runtime's side of ``restore``: the container is rebuilt from its
bundle and CRIU brings its processes back into it (docs/checkpoint.md).

As runc's restore: the state directory, the cgroup (made, its limits from
the bundle applied) and the rootfs's mount points are made as create makes
them; then ``criu swrk`` is started *inside* the container's cgroup, with
the rootfs bound at ``<state>/criu-root`` in a mount namespace of its own
(so that no mount of the restore is ever seen on the host, even if it
crashes), and told what the bundle says (ociruntime/criu.py).  CRIU
notifies us as it goes: ``setup-namespaces`` (the prestart and
createRuntime hooks, with the restored init's pid; a new network
namespace's loopback up), ``post-restore`` (the pid, recorded at once for
``delete --force``), ``orphan-pts-master`` (a terminal's master, sent to
``--console-socket``).  The restored init is our child (``rst_sibling``)
and is recorded as create records its init.  If anything fails, what was
made goes: the restored processes, the cgroup, the state directory.

Runs in the ``ociruntime restore`` process; beside process/runtime.py,
whose helpers it shares, so that create's path never loads it.
"""

from __future__ import annotations

import time

from .. import SPEC_VERSION, jsonio, log, trace
from .. import oslite as os
from ..errors import OCIError
from ..state import Store, atomic_write, proc_start_time
from .runtime import (
    ForeignCgroup,
    Spawned,
    Terminal,
    become_subreaper,
    kill_reap,
    owner,
    record_init,
    refuse_foreign,
    rfc3339,
    rootless,
)

ROOT_DIR = "criu-root"


def restore(
    store: Store,
    cid: str,
    bundle: str = ".",
    image_path: str = "checkpoint",
    work_path: str | None = None,
    pid_file: str | None = None,
    console_socket: str | None = None,
    detach: bool = False,
    no_subreaper: bool = False,
    criu_path: str | None = None,
    tcp_established: bool = False,
    ext_unix_sk: bool = False,
    shell_job: bool = False,
    file_locks: bool = False,
    manage_cgroups_mode: str | None = None,
    empty_ns: list[str] | None = None,
    auto_dedup: bool = False,
    lazy_pages: bool = False,
    lsm_profile: str | None = None,
    lsm_mount_context: str | None = None,
) -> Spawned:
    """Restore the checkpoint in ``image_path`` as container ``cid`` of
    ``bundle``; its init's pid, the state record, and (foreground with a
    terminal) the pty master to relay."""
    from .. import criu
    from ..config.load import load_bundle

    exe = criu.binary(criu_path, "restore")
    rpc = criu.rpc()
    with trace.span("load and validate bundle"):
        b = load_bundle(bundle)
    config = b.config
    image = os.path.abspath(image_path)
    criu.check_images(image)
    descriptors = criu.read_descriptors(image)
    cg_mode = criu.cg_mode(rpc, manage_cgroups_mode)
    ns_mask = criu.ns_mask(list(empty_ns or []))
    if lazy_pages and not criu.features(exe, lazy_pages=True)["lazy_pages"]:
        raise OCIError(
            "restore: --lazy-pages: criu cannot do lazy pages on this host"
            " (it needs userfaultfd: a kernel with CONFIG_USERFAULTFD)"
        )
    if lsm_profile or lsm_mount_context:
        criu.need_version(exe, 31600, "--lsm-profile and --lsm-mount-context")
    term = Terminal(config["process"], console_socket, not detach)
    if not detach and not no_subreaper:
        # processes orphaned in the container (no pid namespace) come to us
        become_subreaper()
    lock = store.make(cid)
    state_dir = store.dir(cid)
    fds: list[int] = []
    inherit: list[tuple[str, int]] = []
    cg = None
    sw = None
    got: dict = {}
    try:
        work = os.path.abspath(work_path) if work_path else image
        # checked here for a clear error; criu's child opens both again, in its
        # own mount namespace (_prepare_root)
        os.close(
            criu.writable_dir(
                work,
                "--work-path" if work_path else "--image-path",
                "restore",
                make=bool(work_path),
            )
        )
        inherit, join = criu.restore_ns(config)
        linux = config.get("linux") or {}
        cg = _cgroup(store, cid, linux)
        root_dir = os.path.join(state_dir, ROOT_DIR)
        os.mkdir(root_dir, 0o755)

        req = rpc.criu_req()
        req.type = rpc.RESTORE
        o = req.opts
        # criu's fds: 4.. the namespaces to inherit, then the two directories
        o.images_dir_fd = 4 + len(inherit)
        o.work_dir_fd = 5 + len(inherit)
        o.log_level = 4
        o.log_file = criu.RESTORE_LOG
        o.evasive_devices = True
        o.rst_sibling = True
        o.root = root_dir
        o.manage_cgroups = True
        o.manage_cgroups_mode = cg_mode
        o.notify_scripts = True
        o.shell_job = shell_job
        o.ext_unix_sk = ext_unix_sk
        o.tcp_established = tcp_established
        o.file_locks = file_locks
        o.empty_ns = ns_mask
        o.orphan_pts_master = True
        o.auto_dedup = auto_dedup
        o.lazy_pages = lazy_pages
        if lsm_profile:
            o.lsm_profile = lsm_profile
        if lsm_mount_context:
            o.lsm_mount_context = lsm_mount_context
        conf = criu.config_file(config)
        if conf:
            o.config_file = conf
        for key, val in criu.restore_mounts(config, b.path, b.rootfs, cg.record()):
            m = o.ext_mnt.add()
            m.key, m.val = key, val
        for i, (key, _fd) in enumerate(inherit):
            x = o.inherit_fd.add()
            x.key, x.fd = key, 4 + i  # criu's fds: 0-2 stdio, 3 the socket, then these
        for name, path in join:
            j = o.join_ns.add()
            j.ns, j.ns_file = name, path
        for i, s in enumerate(descriptors[:3]):
            if "pipe:" in s:  # the caller's stdio (conmon's, a shim's pipes) takes its place
                x = o.inherit_fd.add()
                x.key, x.fd = s, i

        with trace.span("criu: start swrk in the container's cgroup"):
            sw = criu.Swrk(
                exe,
                extra=[fd for _, fd in inherit],
                prepare=lambda: _prepare_root(config, b.path, b.rootfs, root_dir, image, work),
                quiet=False,
            )
            # criu, and so every process it restores, in the container's cgroup;
            # each controller's root there for CRIU's cgroup images (runc's criuApplyCgroups)
            cg.add(sw.pid)
            for ctrl, path in _cgroups_of(sw.pid):
                r = o.cg_root.add()
                r.ctrl, r.path = ctrl, path

        new_netns = "network" in {
            ns.get("type") for ns in linux.get("namespaces") or [] if not ns.get("path")
        }
        creating = {
            "ociVersion": SPEC_VERSION,
            "id": cid,
            "status": "creating",
            "pid": 0,
            "bundle": b.path,
            "annotations": config.get("annotations") or {},
        }

        def notify(script: str, pid: int, got_fds: list[int]) -> None:
            log.debug(f"criu: notification {script} (pid {pid})")
            if script == "setup-namespaces":
                if new_netns:
                    _loopback_up(pid)
                creating["pid"] = pid
                for kind in ("prestart", "createRuntime"):
                    if (config.get("hooks") or {}).get(kind):
                        from .. import hooks

                        with trace.span(f"{kind} hooks"):
                            hooks.run_all(config["hooks"], kind, creating)
            elif script == "post-restore":
                got["pid"] = pid
                record_init(state_dir, pid)
            elif script == "orphan-pts-master":
                if got_fds and term.child_end() is not None:
                    from ..linux import console

                    console.send_master(term.child_end(), got_fds[0], "orphan-pts-master")

        log_path = os.path.join(work, criu.RESTORE_LOG)
        with trace.span("criu: restore"):
            try:
                resp = sw.request(req, notify)
            except (criu.Failed, OSError) as e:
                raise criu.failure("restore", log_path, e) from None
        pid = resp.restore.pid or got.get("pid", 0)
        got["pid"] = pid
        sw.close()
        sw = None
        if pid <= 0 or proc_start_time(pid) is None:
            raise criu.failure("restore", log_path, OCIError("the restored process is gone"))
        rec = _record(store, cid, b, config, pid, cg, image)
        term.receive()
        if pid_file:
            atomic_write(os.path.abspath(pid_file), str(pid))
        try:
            os.rmdir(root_dir)
        except OSError:
            pass
    except BaseException as e:
        if sw is not None:
            sw.kill()
        if got.get("pid"):
            kill_reap(got["pid"])
        if cg is not None:
            try:
                # a cgroup in use before us (frozen, or another's processes): only what we made goes
                cg.remove_made() if isinstance(e, ForeignCgroup) else cg.destroy()
            except OCIError as e2:
                log.warn(f"cleaning up after a failed restore: {e2.text}")
        try:
            store.remove(cid)
        except OSError as e2:
            log.warn(f"cleaning up after a failed restore: {e2}")
        term.close()
        raise
    finally:
        for fd in fds + [fd for _, fd in inherit]:
            os.close(fd)
        os.close(lock)
    return Spawned(pid, rec, term.take_master())


def _cgroup(store: Store, cid: str, linux: dict):
    """The container's cgroup as create makes it: recorded first (cgroup.json,
    for delete --force), made, its limits applied."""
    from .. import cgroups

    cg = cgroups.for_config(linux, cid, rootless=rootless())
    atomic_write(os.path.join(store.dir(cid), "cgroup.json"), jsonio.dumps(cg.record()))
    with trace.span("cgroup: create"):
        cg.create()
    with trace.span("cgroup: apply resources"):
        cg.apply(linux.get("resources") or {}, linux.get("devices") or [])
    refuse_foreign(cg)
    return cg


def _cgroups_of(pid: int) -> list[tuple[str, str]]:
    """(controller, path) of each hierarchy ``pid`` is in; "" for cgroup2."""
    out = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            _, ctls, path = line.split(":", 2)
            for c in ctls.split(",") if ctls else [""]:
                out.append((c, path))
    return out


def _prepare_root(
    config: dict, bundle: str, rootfs: str, root_dir: str, image: str, work: str
) -> list[int]:
    """In criu's child, before the exec: a mount namespace of its own (a slave
    of the host's, so nothing goes back), the rootfs bound at ``root_dir``
    (CRIU wants a mount point whose parent is not overmounted), and the
    mount points made as create made them (runc's
    prepareCriuRestoreMounts): bind mounts are put in place on the rootfs,
    in this namespace only, so that mount points inside them can be made;
    none under a tmpfs, whose contents CRIU restores.  Returns the image and
    work directories opened here: CRIU mounts in its work directory, which
    must be a mount of its own namespace."""
    from ..linux import syscalls as sc
    from ..linux.rootfs import Rootfs, fdpath, is_bind, source_path

    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_SLAVE)
    try:
        sc.mount(rootfs, root_dir, None, sc.MS_BIND | sc.MS_REC)
    except OSError as e:
        raise OCIError(f"restore: binding the rootfs {rootfs}: {e.strerror}") from None
    r = Rootfs(rootfs, config, bundle)
    r.fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    mounts = config.get("mounts") or []
    tmpfs = [
        "/" + os.path.normpath("/" + m["destination"]).lstrip("/")
        for m in mounts
        if m.get("type") == "tmpfs"
    ]
    for i, m in enumerate(mounts):
        dest = "/" + os.path.normpath("/" + m["destination"]).lstrip("/")
        if m.get("type") == "cgroup" or any(dest.startswith(t.rstrip("/") + "/") for t in tmpfs):
            continue
        bind = is_bind(m)
        src = source_path(m, bundle) if bind else ""
        try:
            fd = r.make(dest, not bind or os.path.isdir(src))
            try:
                if bind:
                    sc.mount(src, fdpath(fd), None, sc.MS_BIND | sc.MS_REC, display=dest)
            finally:
                os.close(fd)
        except OSError as e:
            raise OCIError(
                f"restore: mount point {dest}: {e.strerror}", f"config.json: /mounts/{i}"
            ) from None
    os.close(r.fd)
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    return [os.open(image, flags), os.open(work, flags)]


def _loopback_up(pid: int) -> None:
    """The restored network namespace (made empty, as runc has CRIU make it) gets
    its loopback up, as create gave it, before CRIU restores its sockets."""
    from ..linux import syscalls as sc

    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - exits
            code = 1
            try:
                from ..linux import network

                sc.setns(fd, sc.CLONE_NEWNET)
                network.loopback_up()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
    finally:
        os.close(fd)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OCIError("restore: bringing the restored network namespace's loopback up failed")


def _record(store: Store, cid: str, b, config: dict, pid: int, cg, image: str) -> dict:
    """The state record, as create writes it, for the restored init."""
    cfg = jsonio.loads(jsonio.dumps(config))
    # CRIU restores into a time namespace of its own (clocks continue): later
    # execs must join it (runc adds it to the config too)
    try:
        if os.stat(f"/proc/{pid}/ns/time").st_ino != os.stat("/proc/self/ns/time").st_ino:
            nss = cfg.setdefault("linux", {}).setdefault("namespaces", [])
            if not any(ns.get("type") == "time" for ns in nss):
                nss.append({"type": "time"})
    except OSError:
        pass
    start = proc_start_time(pid)
    rec = {
        "ociVersion": SPEC_VERSION,
        "id": cid,
        "pid": pid,
        "bundle": b.path,
        "rootfs": b.rootfs,
        "created": rfc3339(time.time_ns()),
        "owner": owner(),
        "annotations": config.get("annotations") or {},
        "initStartTime": start[0] if start else 0,
        "config": cfg,
        "cgroup": cg.record(),
        "restored": image,
    }
    store.save(cid, rec)
    return rec
