"""Bringing a container process into being: create's fork and set-up
(:func:`create`, :func:`spawn`), and what exec shares with it (the fork into
the container's namespaces and cgroup, the sync with the container side,
the terminal, the foreground wait).

Apart from container.py so that start, state, kill and delete, which every
container's path calls again and again, do not load it.  The sequence is
docs/create-start.md (and docs/exec.md for exec).
"""

from __future__ import annotations

import _signal
import time

from . import SPEC_VERSION, jsonio, log, sync, trace
from . import oslite as os
from .errors import OCIError
from .state import atomic_write, proc_start_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .container import Container

SIGKILL = _signal.SIGKILL
FORWARDED = tuple(
    getattr(_signal, "SIG" + n) for n in ("INT", "TERM", "HUP", "QUIT", "USR1", "USR2", "WINCH")
)


def create(
    cls,
    cid: str,
    bundle: str = ".",
    root: str | None = None,
    pid_file: str | None = None,
    console_socket: str | None = None,
    no_pivot: bool = False,
    no_new_keyring: bool = False,
    preserve_fds: int = 0,
    _exec_now: bool = False,
    _foreground: bool = False,
) -> Container:
    """Container.create: set everything up; the init waits for start (or execs at
    once for run)."""
    from .spec.load import load_bundle

    c = cls(cid, root)
    with trace.span("load and validate bundle"):
        b = load_bundle(bundle)
    with trace.span("check security settings"):
        sec = plan(b.config)
    term = Terminal(b.config["process"], console_socket, _foreground)
    preserve_fds += socket_activation(b.config["process"])
    lock = c.store.make(cid)
    try:
        from .handoff import InitArgs

        args = InitArgs(
            b.config,
            b.path,
            b.rootfs,
            None,
            None,
            sec,
            no_pivot,
            preserve_fds,
            log._debug,
            keyring=None if no_new_keyring else cid,
        )
        from .linux import idmap

        args.idmaps = idmap.prepare(b.config, b.path)
        try:
            spawn(c, args, term, pid_file, _exec_now)
        finally:
            for fd in args.idmaps.values():
                os.close(fd)
    except BaseException:
        term.close()
        c._abort(c.pid, c._cg)
        raise
    finally:
        os.close(lock)
    c._master = term.take_master()
    return c


def spawn(c: Container, args, term: Terminal, pid_file: str | None, exec_now: bool) -> int:
    """Fork (or hand the early child) the container's first child, make and join the
    cgroup, follow the set-up to READY, record the state, commit; the init's pid."""
    from . import cgroups, prefork
    from .linux import namespaces

    nss = namespaces.of(args.config)
    linux = args.config.get("linux") or {}
    c._cg = cg = cgroups.for_config(linux, c.id, rootless=rootless())
    # recorded before it exists, so that delete --force finds it after a crash
    atomic_write(os.path.join(c.dir, "cgroup.json"), jsonio.dumps(cg.record()))
    # The container side joins its cgroups itself (cgroups.base.join_self): it is
    # forked into the cgroup2 directory, made now, and moves into the v1 ones when
    # we send them.  Not from inside a user namespace, which cannot write the
    # host's cgroupfs: there we move it, through cgroup.procs.
    if "user" not in nss:
        with trace.span("cgroup: create (cgroup2)"):
            args.cgroup2 = cg.create_cgroup2()
        args.join_v1 = bool(cg.targets()[0])
    refuse_frozen(cg)
    args.console = term.child_end()
    early = first_child(
        args,
        "user" in nss,
        bool(term.child_end() is not None or args.idmaps or nss.get("user", "") is None),
    )
    lsock = None
    try:
        if not exec_now and early is None:
            lsock = sync.listen_exec(c.dir)
        args.exec_sock = lsock
        if nss.get("user", "") is None:
            # a new user namespace must own the new pid namespace: the first child
            # makes that one itself, after the user namespace, and forks the real init
            at_fork = ("time",)
            grandchild = nss.get("pid", "") is None
        else:
            # pid and time namespaces apply to children only: the first child makes
            # (or joins) them and forks the real init, so that this process never
            # loads the FFI (the container side does all the syscalls)
            at_fork = ()
            grandchild = args.fork_init = bool("pid" in nss or "time" in nss or args.cgroup2)
            # another's pid namespace (no user namespace of ours to keep its processes
            # out): the process is forked into it only once set up (init.fork_visible)
            args.hidden = bool(nss.get("pid")) and "user" not in nss
        if grandchild:
            # the real init is our grandchild: become its parent when the first child exits
            become_subreaper()
        if early is not None:
            pid, sock = early
            # it makes the exec socket itself (create), in our state directory
            prefork.hand_over(sock, args.to_wire(None if exec_now else c.dir))
        else:
            pid, sock, _ = launch(
                args,
                {k: nss[k] for k in at_fork if k in nss},
                (args.config.get("linux") or {}).get("timeOffsets"),
            )
        c.pid = pid  # for _abort, should anything below fail
        if lsock is not None:
            lsock.close()  # now: a dead init must refuse start's connect
        start = proc_start_time(pid)
        atomic_write(os.path.join(c.dir, "init.pid"), f"{pid} {start[0] if start else 0}\n")
        if args.fork_init:
            c.pid = pid = follow_init(sock, pid)
            start = proc_start_time(pid)
            atomic_write(os.path.join(c.dir, "init.pid"), f"{pid} {start[0] if start else 0}\n")
        # the rest of the cgroup while the init sets up its namespaces and mounts;
        # it joins before it asks for the createRuntime hooks, which may look for it
        with trace.span("cgroup: create"):
            cg.create()
        with trace.span("cgroup: apply resources"):
            cg.apply(linux.get("resources") or {}, linux.get("devices") or [])
        refuse_frozen(cg)  # now that the v1 directories exist, before the init joins them
        if args.join_v1:
            try:
                sync.send(sock, sync.JOIN, dirs=cg.targets()[0])
            except OSError:
                pass  # the init died: await_ready reports why
        elif args.cgroup2 is None:
            with trace.span("cgroup: add init"):
                cg.add(pid)
        creating = {
            "ociVersion": SPEC_VERSION,
            "id": c.id,
            "status": "creating",
            "pid": pid,
            "bundle": args.bundle,
            "annotations": args.config.get("annotations") or {},
        }

        def create_runtime() -> dict:
            netdevs = (args.config.get("linux") or {}).get("netDevices")
            if netdevs:
                from .linux import netdev

                with trace.span("move netDevices"):
                    creating["netDevices"] = netdev.move(netdevs, pid)
            for kind in ("prestart", "createRuntime"):
                if (args.config.get("hooks") or {}).get(kind):
                    from . import hooks

                    with trace.span(f"{kind} hooks"):
                        hooks.run_all(args.config["hooks"], kind, creating)
            return {"state": creating, "cgroup": cg.record()}

        def write_maps(msg: dict) -> None:
            from .linux import userns

            userns.write_maps(c.pid, args.config.get("linux") or {})

        def new_init(msg: dict) -> None:
            """The first child has forked the real init and exits: follow it."""
            nonlocal pid, start
            first, pid = c.pid, msg["pid"]
            os.waitpid(first, 0)
            c.pid = creating["pid"] = pid
            start = proc_start_time(pid)
            atomic_write(os.path.join(c.dir, "init.pid"), f"{pid} {start[0] if start else 0}\n")

        ready = await_ready(
            sock,
            "container init exited during set-up",
            create_runtime,
            {sync.USERNS: write_maps, sync.PID: new_init},
        )
        if "pid" in ready:  # set up hidden: the process was forked last
            new_init(ready)
        term.receive()
        rec = {
            "ociVersion": SPEC_VERSION,
            "id": c.id,
            "pid": pid,
            "bundle": args.bundle,
            "rootfs": args.rootfs,
            "created": rfc3339(time.time_ns()),
            "owner": owner(),
            "annotations": args.config.get("annotations") or {},
            "initStartTime": start[0] if start else 0,
            "config": args.config,
            "cgroup": cg.record(),
        }
        c.store.save(c.id, rec)
        c._rec = rec
        if pid_file:
            atomic_write(os.path.abspath(pid_file), str(pid))
        commit(sock, sync.EXEC if exec_now else sync.COMMIT, c.store.public(c.id, rec))
        if exec_now:
            c._hooks(rec, "poststart", "running")
        return pid
    finally:
        if lsock is not None:
            lsock.close()  # the init has its own


def refuse_frozen(cg) -> None:
    """An init that joins a frozen cgroup stops dead and create waits for it
    forever: refuse, as runc does, before it joins."""
    if cg.frozen():
        raise OCIError("container's cgroup unexpectedly frozen")


def rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def first_child(args, in_userns: bool, late: bool):
    """The container's first child, when the runtime does not fork it itself
    (None: it does, ``late``).  A process that may hold CAP_LINUX_IMMUTABLE
    gets one running from the read-only clone of the interpreter
    (linux/exe.py), which the fds it needs cross by exec; otherwise the child
    forked at entry (prefork.py) serves, unless ``late``: a pty end,
    idmapped trees, a new user namespace, which only a late fork carries."""
    from . import prefork
    from .linux import exe

    if exe.needs_readonly_exe(args.sec.caps, in_userns):
        keep = [*range(3, 3 + args.preserve_fds), *args.idmaps.values()]
        if args.console is not None:
            keep.append(args.console.fileno())
        prefork.start_readonly(keep)
        return prefork.take()
    if late:
        prefork.cancel()
        return None
    return prefork.take()


def plan(config: dict):
    from .linux import security

    sec = security.plan(config)
    if sec.seccomp and sec.seccomp.skipped:
        log.debug(
            f"seccomp: syscalls unknown to libseccomp skipped: {', '.join(sec.seccomp.skipped)}"
        )
    return sec


def rootless() -> bool:
    """--rootless (ociruntime.ROOTLESS): true, false, or auto (a non-root caller)."""
    import ociruntime

    return ociruntime.ROOTLESS == "true" or (ociruntime.ROOTLESS == "auto" and os.geteuid() != 0)


def socket_activation(proc: dict) -> int:
    """systemd socket activation, as runc passes it on: with LISTEN_FDS=N in our
    environment, fds 3..3+N-1 go to the container, before any --preserve-fds,
    and its process gets LISTEN_FDS=N and LISTEN_PID=1."""
    n = os.environ.get("LISTEN_FDS")
    if not n or not n.isdigit() or int(n) <= 0:
        return 0
    env = [e for e in proc.get("env") or [] if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
    proc["env"] = env + [f"LISTEN_FDS={n}", "LISTEN_PID=1"]
    return int(n)


def owner() -> str:
    """The user who created the container, by name as runc reports it."""
    uid = os.geteuid()
    if uid == 0:
        return "root"  # without reading nsswitch.conf and passwd on every create
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def ns_types(config: dict) -> list[str]:
    return [ns["type"] for ns in (config.get("linux") or {}).get("namespaces") or []]


def become_subreaper() -> None:
    """PR_SET_CHILD_SUBREAPER, through python-prctl's C module when it is there
    (cheaper than loading the FFI into the runtime process)."""
    try:
        import _prctl
    except ImportError:
        from .linux import syscalls as sc

        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    else:
        _prctl.prctl(_prctl.PR_SET_CHILD_SUBREAPER, 1)


def follow_init(sock, first: int) -> int:
    """The first child made the pid (and time) namespaces and forked the real
    init into them, then exits: reap it, and return the init's pid."""
    try:
        msg = sync.recv(sock)
    except sync.PeerGone:
        raise OCIError("container init exited during set-up") from None
    if msg["type"] == sync.ERROR:
        raise OCIError(msg["msg"], msg.get("where"))
    if msg["type"] != sync.PID:
        raise OCIError(f"unexpected {msg['type']} from the container's first child")
    os.waitpid(first, 0)
    return msg["pid"]


def launch(
    args, nss: dict, offsets: dict | None = None, cgroup2: str | None = None
) -> tuple[int, object, bool]:
    """Fork the child that becomes the container process, in the pid and time
    namespaces of ``nss`` (and born in the cgroup2 directory ``cgroup2``, if
    given); (pid, our sync end, whether it was born in ``cgroup2``)."""
    from .linux import namespaces

    parent, child = sync.pair()
    args.sync = child
    born_in = False
    try:
        with trace.span("fork"), namespaces.for_children(nss, offsets):
            if cgroup2:
                from .linux.process import fork_into

                pid, born_in = fork_into(cgroup2)
            else:
                pid = os.fork()
            if pid == 0:
                parent.close()
                from . import init  # here: the runtime never needs the container side

                init.main(args)  # never returns
    finally:
        child.close()
    return pid, parent, born_in


def await_ready(sock, gone: str, create_runtime=None, other: dict | None = None) -> dict:
    """Until READY (returned) or ERROR (raised); the CREATE_RUNTIME point on
    the way runs ``create_runtime`` (which returns the state for the
    createContainer hooks); USERNS is answered after ``other[USERNS]`` wrote
    the maps, PID handed to ``other[PID]``."""
    other = other or {}
    try:
        with trace.span("wait for set-up in the container"):
            msg = sync.recv(sock)
            while True:
                if msg["type"] == sync.CREATE_RUNTIME and create_runtime is not None:
                    sync.send(sock, sync.CREATE_RUNTIME_DONE, **create_runtime())
                elif msg["type"] == sync.USERNS and sync.USERNS in other:
                    other[sync.USERNS](msg)
                    sync.send(sock, sync.USERNS_DONE)
                elif msg["type"] == sync.PID and sync.PID in other:
                    other[sync.PID](msg)
                else:
                    break
                msg = sync.recv(sock)
    except sync.PeerGone:
        raise OCIError(gone) from None
    trace.add(msg.pop("trace", None) or [])
    if msg["type"] == sync.ERROR:
        if msg.get("traceback"):
            log.debug("container-side traceback:\n" + msg["traceback"])
        raise OCIError(msg["msg"], msg.get("where"))
    if msg["type"] != sync.READY:
        raise OCIError(f"internal error: expected ready on the sync socket, got {msg['type']}")
    return msg


def commit(sock, kind: str, state: dict) -> None:
    """State is recorded: let the child drop PDEATHSIG and go on; wait for its ack."""
    sync.send(sock, kind, state=state)
    try:
        sync.expect(sock, sync.ACK)
    except sync.PeerGone:
        raise OCIError("the container process exited before it was committed") from None
    finally:
        sock.close()


def kill_reap(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def wait(pid: int, master: int | None, held: object = None) -> int:
    """Foreground: forward signals (and relay the pty) until ``pid`` exits; its status.

    ``held`` is the signal mask from before the caller blocked FORWARDED: restoring
    it once the handlers are in place delivers, and forwards, what arrived meanwhile.
    """

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for s in FORWARDED:
        _signal.signal(s, forward)
    if held is not None:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, held)
    try:
        if master is not None:
            from .linux import console

            status = console.relay(master, pid)
        else:
            _, status = os.waitpid(pid, 0)
    finally:
        for s in FORWARDED:
            _signal.signal(s, _signal.SIG_DFL)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Terminal:
    """process.terminal: where the pty master goes (a console socket, or us)."""

    def __init__(self, proc: dict, console_socket: str | None, foreground: bool) -> None:
        self.sock = None  # the end the child sends the master on
        self.ours = None  # our end, when we relay the pty ourselves
        self.master: int | None = None
        if not proc.get("terminal"):
            if console_socket:
                raise OCIError("--console-socket given but process.terminal is false")
            return
        from .linux import console

        if console_socket:
            self.sock = console.connect(console_socket)
        elif foreground:
            import _socket

            self.ours, self.sock = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        else:
            raise OCIError(
                "cannot allocate a tty without --console-socket when detached (process.terminal is true)"
            )

    def child_end(self):
        return self.sock

    def receive(self) -> None:
        """After the child's READY: the master it sent us (relay mode)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.ours is not None:
            from .linux import console

            self.master = console.recv_master(self.ours)
            self.ours.close()
            self.ours = None

    def take_master(self) -> int | None:
        m, self.master = self.master, None
        return m

    def close(self) -> None:
        for s in (self.sock, self.ours):
            if s is not None:
                s.close()
        if self.master is not None:
            os.close(self.master)
