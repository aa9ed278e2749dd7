"""The container side: the init (create) and exec's set-up and process.

Runs in the process that becomes the container's (I in
docs/create-start.md), and in exec's set-up child (C in docs/exec.md),
once the first child (first_child.py) has done its own part: every set-up
step inside the container's namespaces, READY to the runtime over the sync
socket, then (create) a wait for ``start`` on the exec socket, and the
execve of the user's process.  The first child imports this module (the
runtime itself never does, which keeps its memory small), and with it
every module the set-up needs: after pivot_root the host's Python library
is out of reach.  Keep docs/create-start.md in step.
"""

from __future__ import annotations

from .. import jsonio, sync, trace
from .. import oslite as os
from ..cgroups import base as cgroup_base
from ..errors import OCIError, SpecError, one_line, os_error_text
from ..linux import capabilities, namespaces, procattr, security
from ..linux import syscalls as sc
from ..linux.network import loopback_up
from ..linux.rootfs import RESOLVE, Rootfs
from .args import InitArgs


def main(a: InitArgs) -> None:
    """Never returns: execs the container process or exits non-zero.  The
    first child (first_child.run) made this process non-dumpable and closed
    what it inherited."""
    try:
        if a.join_pid:
            # exec: set up out of the container's sight, then fork the process into
            # its pid namespace; only that process comes back here (READY is sent)
            path, args, env = setup_exec(a)
        else:
            path, args, env = setup(a)
            if a.hidden:
                fork_visible(a)
            else:
                sync.send(a.sync, sync.READY, trace=trace.events())
        msg = sync.expect(a.sync, sync.COMMIT if a.exec_sock is not None else sync.EXEC)
        sync.send(a.sync, sync.ACK)
        a.sync.close()
        a.committed = True
        if msg["type"] == sync.COMMIT:
            wait_for_start(a, msg.get("state") or {})
        elif not a.join_pid:
            start_container_hooks(a, msg.get("state") or {})
        if not (a.config.get("process") or {}).get("terminal"):
            # a session of its own, as runc's init and exec'd processes have (a
            # terminal's gave it one): CRIU refuses to checkpoint a process
            # whose session leader is outside the container's pid namespace
            try:
                os.setsid()
            except OSError:
                pass  # a process group leader already
        procattr.lower_nofile()
        if a.filter is not None:  # no_new_privs: the last step, for as few syscalls as can be
            load_seccomp(a, msg.get("state") or {}, "running")
        try:
            os.execve(path, args, env)
        except OSError as e:
            # found and executable, yet refused (a bad format, a missing #! interpreter)
            raise OCIError(os_error_text(OSError(e.errno, e.strerror)), f"exec {path}") from None
    except sync.PeerGone:
        os._exit(1)
    except BaseException as e:  # noqa: BLE001 - must report and never return
        try:
            report(a, e)
        finally:
            os._exit(1)  # even if reporting fails: never back into the runtime's code
    os._exit(1)


def report_forked(a: InitArgs, type_: str, pid: int, **fields: object) -> None:
    """Send the message that names ``pid``, a process just forked, which
    holds the sync socket too and waits for the runtime's word: if it cannot
    be sent, end that process before this one fails, or the runtime (waiting
    for the message) and it (waiting for the reply) would wait for good."""
    try:
        sync.send(a.sync, type_, pid=pid, **fields)
    except BaseException:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        raise


def report(a: InitArgs, e: BaseException) -> None:
    if isinstance(e, OCIError):
        msg, where = e.msg, e.where
    elif isinstance(e, OSError):
        msg, where = e.strerror or str(e), None
    else:
        msg, where = f"internal error in init: {e!r}", None
    if a.committed:
        # the runtime is gone (after start): the container's stderr is all there is
        text = one_line(f"{where}: {msg}" if where else msg)
        try:
            os.write(2, f"ociruntime: {text}\n".encode())
        except OSError:
            pass
        return
    tb = None
    if a.debug:
        try:
            import traceback  # before pivot_root; after it the import fails, which is fine

            tb = traceback.format_exc()
        except ImportError:
            pass
    try:
        sync.send(a.sync, sync.ERROR, msg=msg, where=where, traceback=tb)
    except (OSError, sync.PeerGone):
        pass


def setup(a: InitArgs) -> tuple[str, list[str], dict[str, str]]:
    """Namespaces, rootfs, hostname, sysctls; then the process's own settings."""
    cfg = a.config
    proc = cfg.get("process") or {}  # none: set up, and never started (Container.start)
    nss = namespaces.of(cfg)
    if a.hidden:
        # the pid namespace is another's, whose processes see into ours: set up out
        # of their sight, in ours, and fork the process into it last (fork_visible)
        a.pidns_fd = namespaces.open_ns(nss["pid"], "pid")
        procattr.scrub_environ()
    # joining another mount namespace hides the host's cgroupfs: keep a way back to it
    host_root = (
        os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        if a.join_v1 and nss.get("mount")
        else None
    )
    with trace.span("namespaces"):
        namespaces.enter(
            nss, skip=("cgroup", "user") if nss.get("user", "") is None else ("cgroup",)
        )
    a.setgroups_denied = procattr.setgroups_denied()
    if a.keyring:
        join_keyring(a.keyring)
    if nss.get("network", "") is None:
        with trace.span("loopback up"):
            loopback_up()
    if (cfg.get("linux") or {}).get("netDevices"):
        import pyroute2  # noqa: F401 - now, while the host's Python library is reachable
    if (cfg.get("hooks") or {}).get("startContainer"):
        from .. import hooks  # noqa: F401 - likewise: they run after pivot_root
    if "hostname" in cfg:
        sc.sethostname(cfg["hostname"])
    if "domainname" in cfg:
        sc.setdomainname(cfg["domainname"])
    if "oomScoreAdj" in proc:
        procattr.set_oom_score_adj(proc["oomScoreAdj"])
    if a.sec.sysctl:
        with trace.span("sysctl"):
            security.apply_sysctl(a.sec)
    if a.sec.seccomp and a.sec.seccomp.notify:
        a.listener = connect_listener(a.sec.seccomp.listener_path)
    root = Rootfs(a.rootfs, cfg, a.bundle)
    root.cgroup = a.cgroup
    root.trees = a.idmaps
    # in a user namespace cgroupfs cannot be mounted (v1): bind the container's cgroups
    root.cgroup_ns = nss.get("cgroup", "") is None and "user" not in nss
    if a.hidden:
        root.procfs = lambda: procfs_context(a, root.fd)
    if "mount" in nss:
        with trace.span("rootfs and mounts"):
            root.prepare()
            try:
                os.close(root.make(proc.get("cwd") or "/", True))
            except OSError as e:
                raise OCIError(
                    f"cwd {proc.get('cwd')}: {e.strerror}", "config.json: /process/cwd"
                ) from None
        create_runtime(a, nss, host_root)
        root.cgroup = a.cgroup
        with trace.span("cgroup mounts"):
            root.mount_deferred()
        create_container_hooks(a)
        if a.console is not None:
            from ..linux import console

            ptmx = root.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
            slave = terminal(a, ptmx, proc)
            root.bind_console(slave)
            if a.hidden:
                console.as_stdio(slave)  # the session is the forked process's (fork_visible)
            else:
                console.become_controlling(slave)
        with trace.span("pivot_root" if not a.no_pivot else "chroot"):
            root.pivot(a.no_pivot)
        if a.console is None:
            reopen_dev_null()
    else:
        # no mount namespace: the caller's is shared (the spec: inherited).  The
        # mounts and devices asked for are made under the rootfs in it, as runc
        # makes them, and removed at delete (linux/hostmounts.py, noted by the
        # runtime); config.load refuses what would change anything above it
        shared = root if cfg.get("mounts") or (cfg.get("linux") or {}).get("devices") else None
        if shared is not None:
            with trace.span("rootfs and mounts (the caller's mount namespace)"):
                shared.populate()
        create_runtime(a, nss, host_root)
        if shared is not None:
            shared.cgroup = a.cgroup
            with trace.span("cgroup mounts"):
                shared.mount_deferred()
        create_container_hooks(a)
        if a.console is not None:
            # no devpts of its own: a pty of the host's, as exec makes there
            from ..linux import console

            ptmx = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
            slave = terminal(a, ptmx, proc)
            if a.hidden:
                console.as_stdio(slave)  # the session is the forked process's (fork_visible)
            else:
                console.become_controlling(slave)
        if shared is not None:
            with trace.span("chroot"):
                shared.chroot()
        else:
            os.chroot(a.rootfs)
            os.chdir("/")
    if a.hidden:
        # for the process forked last; before the capabilities go (setns needs them)
        sc.setns(a.pidns_fd, sc.CLONE_NEWPID, nss["pid"])
        os.close(a.pidns_fd)
        a.pidns_fd = -1
    with trace.span("process: limits, security, user, cwd, executable"):
        return finish_process(a, proc)


def reopen_dev_null() -> None:
    """stdio on the host's /dev/null is reopened on the container's own (as
    runc does): a file of a mount outside the container is one CRIU cannot
    checkpoint.  Only a real null device (char 1:3) replaces it.  (After
    pivot_root: no import here.)"""
    ifmt, ifchr = 0o170000, 0o020000
    try:
        null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        st = os.fstat(null)
        if st.st_mode & ifmt != ifchr or st.st_rdev != os.makedev(1, 3):
            return
        for fd in (0, 1, 2):
            try:
                s = os.fstat(fd)
            except OSError:
                continue
            if s.st_mode & ifmt == ifchr and s.st_rdev == st.st_rdev and s.st_dev != st.st_dev:
                os.dup2(null, fd)
    finally:
        os.close(null)


def fork_visible(a: InitArgs) -> None:
    """Fork the process that becomes the container's into the pid namespace
    set for our children, now that nothing of the host is left in us; we
    report READY with its pid and end, it returns (and takes the terminal:
    a session leader's exit would hang it up)."""
    with trace.span("fork the process into the pid namespace"):
        pid = os.fork()
    if pid:
        report_forked(a, sync.READY, pid, trace=trace.events())
        os._exit(0)
    if (a.config.get("process") or {}).get("terminal"):
        from ..linux import console  # imported already, before pivot_root

        console.take_control()


def procfs_context(a: InitArgs, rootfd: int) -> int:
    """An fs context (fsopen) for a procfs of the container's pid namespace,
    for a set-up process that is not in it (:func:`fork_visible`): procfs
    belongs to the pid namespace of whoever calls fsopen.  A helper enters
    the rootfs (chroot), closes every fd but one socket, keeps only
    CAP_SYS_ADMIN (fsopen's), and forks a process into the pid namespace
    that opens the context, sends it back, and exits: the one process of
    ours the container's pid namespace sees before the container's own, for
    one fsopen, with nothing of the host (THREAT_MODEL.md)."""
    import _socket

    from ..linux import capabilities

    ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    helper = os.fork()
    if helper == 0:
        try:
            keep = theirs.fileno()
            os.fchdir(rootfd)
            os.chroot(".")
            sc.setns(a.pidns_fd, sc.CLONE_NEWPID)
            sc.close_range(0, keep - 1)
            sc.close_range(keep + 1)
            admin = {21}  # CAP_SYS_ADMIN
            capabilities.drop_bounding(admin)
            capabilities.apply(
                {"effective": admin, "permitted": admin, "inheritable": set(), "ambient": set()}
            )
            if os.fork() == 0:
                sync.send_fd(theirs, sc.fsopen("proc"))
                os._exit(0)
            _, status = os.wait()
            os._exit(1 if status else 0)
        except BaseException as e:  # noqa: BLE001 - a forked helper never returns
            try:
                theirs.send(str(getattr(e, "strerror", None) or e).encode())
            finally:
                os._exit(1)
    theirs.close()
    try:
        return sync.recv_fd(ours, "procfs of the container's pid namespace")
    finally:
        ours.close()
        os.waitpid(helper, 0)


def create_runtime(a: InitArgs, nss: dict, host_root: int | None) -> None:
    """The createRuntime point: we join the container's v1 cgroups, which the
    runtime made while we set up (a user namespace: the runtime moves us, as
    we cannot write to the host's cgroupfs from inside it); pages dirtied
    before are not billed to the container, which keeps its memory floor
    low.  The runtime then runs the prestart and createRuntime hooks (with
    none to run, it sent their reply unasked: ``runtime_point_unasked``).  Then
    the new cgroup namespace, rooted at that cgroup (the createContainer
    hooks run once its cgroupfs is mounted: :func:`create_container_hooks`)."""
    procattr.reset_signals()
    a.signals_reset = True
    if a.join_v1:
        with trace.span("cgroup: join (v1 tasks)"):
            msg = sync.expect(a.sync, sync.JOIN)
            cgroup_base.join_self(msg["dirs"], host_root)
    if host_root is not None:
        os.close(host_root)
    if a.runtime_point_unasked:  # nothing to run there: the runtime says so once it is ready
        with trace.span("createRuntime point (runtime: nothing to run)"):
            msg = sync.expect(a.sync, sync.CREATE_RUNTIME_DONE)
    else:
        with trace.span("createRuntime hooks (runtime)"):
            msg = sync.request(a.sync, sync.CREATE_RUNTIME)
    if nss.get("cgroup", "") is None:
        sc.unshare(sc.CLONE_NEWCGROUP)
    a.state = msg.get("state") or {}
    a.cgroup = msg.get("cgroup")
    moved = a.state.pop("netDevices", None)
    if moved:
        from ..linux.netdev import restore

        restore(moved)


def create_container_hooks(a: InitArgs) -> None:
    """In the container's namespaces, every mount in place (cgroupfs too, as
    with runc), before pivot_root."""
    if (a.config.get("hooks") or {}).get("createContainer"):
        with trace.span("createContainer hooks"):
            from .. import hooks

            hooks.run_all(a.config["hooks"], "createContainer", dict(a.state, status="creating"))


def setup_exec(a: InitArgs) -> tuple[str, list[str], dict[str, str]]:
    """exec: everything is done here (the first child has joined the cgroup),
    in the host's pid namespace where the
    container cannot see us, and only then is the process forked into the
    container's pid namespace (docs/exec.md).  The cgroup, every other
    namespace (the mount namespace makes the container's root our root and
    cwd), the terminal, limits, LSM label, capabilities, user and cwd are all
    in place, and every host fd is closed, before a process of ours becomes
    visible to the container: a container process with CAP_SYS_PTRACE in the
    host's user namespace may open /proc/PID/root, cwd and fd of anything it
    sees, non-dumpable or not, and trace it (issue 19).  Returns in that
    process, after the set-up process has reported READY with its pid."""
    proc = a.config["process"]
    if a.console is not None:
        from ..linux import console  # before joining: the container has no Python library
    if "oomScoreAdj" in proc:
        procattr.set_oom_score_adj(proc["oomScoreAdj"])
    procattr.scrub_environ()
    if a.sec.seccomp and a.sec.seccomp.notify:
        a.listener = connect_listener(a.sec.seccomp.listener_path)  # a host path
    nss = namespaces.of(a.config)
    if "user" in nss:
        a.setgroups_denied = procattr.setgroups_denied(f"/proc/{a.join_pid}/setgroups")
    with trace.span("join namespaces"):
        namespaces.join(a.join_pid, nss)
    # joining the mount namespace moved root and cwd to the container's root
    if a.console is not None:
        root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            ptmx = sc.openat2(
                root, "/dev/ptmx", os.O_RDWR | os.O_NOCTTY, RESOLVE, display="/dev/ptmx"
            )
        finally:
            os.close(root)
        console.as_stdio(terminal(a, ptmx, proc))
    with trace.span("process: limits, security, user, cwd, executable"):
        found = finish_process(a, proc)
    with trace.span("fork the process into the pid namespace"):
        pid = os.fork()
    if pid:
        report_forked(a, sync.READY, pid, trace=trace.events())
        os._exit(0)
    if proc.get("terminal"):
        console.take_control()
    return found


def terminal(a: InitArgs, ptmx: int, proc: dict) -> int:
    """Make the pty, send its master to the console socket; returns the slave."""
    from ..linux import console  # already imported by the caller, before pivot_root

    st = os.fstat(ptmx)
    if (os.major(st.st_rdev), os.minor(st.st_rdev)) != (5, 2):
        os.close(ptmx)
        raise OCIError("/dev/ptmx in the container is not the pty multiplexer (5:2)")
    master, slave, name = console.make_pty(ptmx, proc.get("consoleSize"))
    try:
        console.send_master(a.console, master, name)
    finally:
        os.close(master)
        a.console.close()
        a.console = None
    return slave


def join_keyring(name: str) -> None:
    """A session keyring of the container's own (keyrings are not namespaced)."""
    try:
        sc.keyctl_join_session_keyring(name)
    except OSError as e:
        # ENOSYS, EACCES, EPERM: keyrings are off here, which runc tolerates too
        if e.errno not in (38, 13, 1):
            raise


def finish_process(a: InitArgs, proc: dict) -> tuple[str, list[str], dict[str, str]]:
    """In the kernel's order: privileged settings; what no seccomp profile may
    get in the way of (fds, signals, the filter built); the filter itself
    when it needs CAP_SYS_ADMIN (no no_new_privs); capabilities around the
    user switch; then find what to exec as that user.  Everything that can
    fail is done before READY, so ``create`` never says yes to a container
    whose init then dies; after READY only the sync socket's reads and
    writes, the exec socket, hooks, loading a no_new_privs filter and
    execve remain."""
    sec = a.sec
    user = proc.get("user") or {}
    uid = user.get("uid", 0)
    procattr.set_rlimits(proc.get("rlimits") or [])
    security.apply_sched(sec)
    security.apply_lsm(sec)
    # cwd as root first, retried as the user if that failed (runc's order): a
    # user may keep a cwd root could enter and it cannot (/root 0700)
    cwd = proc.get("cwd") or "/"
    try:
        procattr.chdir(cwd)
        entered = True
    except SpecError:
        entered = False
    env = procattr.env_dict(proc.get("env") or [])
    if "HOME" not in env:  # as runc: /etc/passwd is read only when needed
        env["HOME"] = procattr.home_of(uid)
    if proc.get("terminal"):
        procattr.own_terminal(uid)
    if sec.seccomp:
        from ..linux import seccomp

        with trace.span("seccomp: build the filter"):
            a.filter = seccomp.build(sec.seccomp)
    # nothing of these may be left for after a filter that could refuse them
    procattr.close_fds(a.preserve_fds, a.preserve_gaps)
    if not a.signals_reset:
        procattr.reset_signals()
        a.signals_reset = True
    # from here a dead runtime shows as EOF on the sync socket, which we read next
    sc.prctl(sc.PR_SET_PDEATHSIG, 0)
    if sec.nnp:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    elif sec.seccomp:
        # without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we have it
        load_seccomp(a, a.state, "running" if a.join_pid else "creating")
    if sec.caps is not None:
        capabilities.drop_bounding(sec.caps["bounding"])
        capabilities.keep_across_setuid(True)
    procattr.set_user(user, a.setgroups_denied)
    if sec.caps is not None:
        capabilities.keep_across_setuid(False)
        capabilities.apply(sec.caps)
    os.umask(user.get("umask", 0o022))
    if not entered:
        procattr.chdir(cwd)
    if "args" not in proc:  # no process: start refuses it, nothing is executed
        return "", [], env
    path = procattr.find_executable(proc["args"][0], env)
    return path, proc["args"], env


def connect_listener(path: str):
    """The seccomp agent's socket, connected while its host path is reachable."""
    import _socket

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise OCIError(
            f"seccomp listener {path}: {e.strerror}", "config.json: /linux/seccomp/listenerPath"
        ) from None
    return s


def load_seccomp(a: InitArgs, state: dict, status: str) -> None:
    """Install the filter :func:`finish_process` built; with SCMP_ACT_NOTIFY,
    its listener fd and the container's state go to the seccomp agent."""
    # imported before pivot_root (security.plan before a late fork, Plan.from_wire in a
    # child forked early): no file access here
    from ..linux import seccomp

    fd = seccomp.install(a.sec.seccomp, a.filter)
    a.filter = None
    if fd < 0 or a.listener is None:
        return
    state = dict(state or {}, status=status)
    msg = {
        "ociVersion": state.get("ociVersion", "1.2.0"),
        "fds": ["seccompFd"],
        "pid": state.get("pid", 0),
        "metadata": a.sec.seccomp.listener_metadata,
        "state": state,
    }
    sync.send_fd(a.listener, fd, jsonio.dumps(msg).encode())
    os.close(fd)
    a.listener.close()
    a.listener = None


def start_container_hooks(a: InitArgs, state: dict) -> None:
    if (a.config.get("hooks") or {}).get("startContainer"):
        from .. import hooks  # imported in setup(), before pivot_root

        hooks.run_all(a.config["hooks"], "startContainer", dict(state, status="created"))


def wait_for_start(a: InitArgs, state: dict) -> None:
    """Block until ``start`` connects to the exec socket; run the startContainer
    hooks; answer "0", or the error, which ``start`` reports."""
    fd, _ = a.exec_sock._accept()
    try:
        try:
            start_container_hooks(a, state)
        except OCIError as e:
            os.write(fd, ("E" + e.text).encode())
            raise
        os.write(fd, b"0")
    finally:
        os.close(fd)
        a.exec_sock.close()
