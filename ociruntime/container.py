"""The lifecycle: create, start, state, kill, delete, run.

This is the Python API; the CLI only parses arguments and formats output.
The create/start protocol (who forks whom, which socket carries what) is
written down in docs/create-start.md.
"""

from __future__ import annotations

import _signal
import time

from . import SPEC_VERSION, jsonio, log, sync, trace
from . import oslite as os
from .errors import NotFound, NotRunning, OCIError
from .state import Store, atomic_write, proc_start_time

# _signal, not signal: the signal module builds enums (~2 ms of every call)
SIGNALS = {n[3:]: getattr(_signal, n) for n in dir(_signal) if n.startswith("SIG") and "_" not in n}
SIGNALS.pop("RTMIN", None)
SIGNALS.pop("RTMAX", None)
SIGKILL = _signal.SIGKILL
FORWARDED = tuple(
    getattr(_signal, "SIG" + n) for n in ("INT", "TERM", "HUP", "QUIT", "USR1", "USR2", "WINCH")
)


def parse_signal(sig: str | int) -> int:
    """15, "TERM" and "SIGTERM" are all SIGTERM (containerd, CRI-O, runtime-tools);
    RTMIN+n and RTMAX-n as libc numbers them."""
    if isinstance(sig, int):
        if 0 < sig < _signal.NSIG:
            return sig
        raise OCIError(f"invalid signal: {sig}")
    s = sig.strip().upper()
    if s.isascii() and s.isdigit():
        n = int(s)
        if 0 < n < _signal.NSIG:
            return n
    elif s.isascii():
        s = s[3:] if s.startswith("SIG") else s
        if s in SIGNALS:
            return SIGNALS[s]
        for name, base, sign in (
            ("RTMIN", _signal.SIGRTMIN, "+"),
            ("RTMAX", _signal.SIGRTMAX, "-"),
        ):
            if s == name:
                return base
            off = s[len(name) + 1 :]
            if s.startswith(name + sign) and off.isdigit():
                n = base + int(off) if sign == "+" else base - int(off)
                if _signal.SIGRTMIN <= n <= _signal.SIGRTMAX:
                    return n
    raise OCIError(f"invalid signal: {sig}")


def _rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _wait_exit(pidfd: int, timeout: float) -> bool:
    """True once the process has exited (a zombie counts), waiting up to timeout."""
    import select

    poll = select.poll()
    poll.register(pidfd, select.POLLIN)
    return bool(poll.poll(int(timeout * 1000)))


class Container:
    """One container in a state root.  ``Container(id, root)`` opens an existing one."""

    def __init__(self, cid: str, root: str | None = None) -> None:
        self.store = Store(root)
        self.id = cid
        self.dir = self.store.dir(cid)
        self.pid = 0
        self._master: int | None = None
        self._rec: dict | None = None  # the record, once create has saved it
        self._cg = None  # create: the cgroup manager, once the paths are known

    # ---- create ---------------------------------------------------------
    @classmethod
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
        """Set everything up; the init waits for :meth:`start` (or execs at once for run)."""
        from .linux.exe import ensure_readonly
        from .spec.load import load_bundle

        ensure_readonly()
        c = cls(cid, root)
        with trace.span("load and validate bundle"):
            b = load_bundle(bundle)
        with trace.span("check security settings"):
            sec = _plan(b.config)
        term = _Terminal(b.config["process"], console_socket, _foreground)
        preserve_fds += _socket_activation(b.config["process"])
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
                c._spawn(args, term, pid_file, _exec_now)
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

    def _spawn(self, args, term: _Terminal, pid_file: str | None, exec_now: bool) -> int:
        from . import cgroups, prefork
        from .linux import namespaces

        nss = namespaces.of(args.config)
        linux = args.config.get("linux") or {}
        self._cg = cg = cgroups.for_config(linux, self.id, rootless=_rootless())
        # recorded before it exists, so that delete --force finds it after a crash
        atomic_write(os.path.join(self.dir, "cgroup.json"), jsonio.dumps(cg.record()))
        # The container side joins its cgroups itself (cgroups.base.join_self): it is
        # forked into the cgroup2 directory, made now, and moves into the v1 ones when
        # we send them.  Not from inside a user namespace, which cannot write the
        # host's cgroupfs: there we move it, through cgroup.procs.
        if "user" not in nss:
            with trace.span("cgroup: create (cgroup2)"):
                args.cgroup2 = cg.create_cgroup2()
            args.join_v1 = bool(cg.targets()[0])
        # the child forked at entry (prefork.py) can take this container unless it
        # needs what only crosses a fork: a pty end, idmapped trees
        early = None
        if nss.get("user", "") is not None and term.child_end() is None and not args.idmaps:
            early = prefork.take()
        else:
            prefork.cancel()
        lsock = None
        try:
            if not exec_now and early is None:
                lsock = sync.listen_exec(self.dir)
            args.exec_sock = lsock
            args.console = term.child_end()
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
            if grandchild:
                # the real init is our grandchild: become its parent when the first child exits
                _become_subreaper()
            if early is not None:
                pid, sock = early
                # it makes the exec socket itself (create), in our state directory
                prefork.hand_over(sock, args.to_wire(None if exec_now else self.dir))
            else:
                pid, sock, _ = _launch(
                    args,
                    {k: nss[k] for k in at_fork if k in nss},
                    (args.config.get("linux") or {}).get("timeOffsets"),
                )
            self.pid = pid  # for _abort, should anything below fail
            if lsock is not None:
                lsock.close()  # now: a dead init must refuse start's connect
            start = proc_start_time(pid)
            atomic_write(os.path.join(self.dir, "init.pid"), f"{pid} {start[0] if start else 0}\n")
            if args.fork_init:
                self.pid = pid = _follow_init(sock, pid)
                start = proc_start_time(pid)
                atomic_write(
                    os.path.join(self.dir, "init.pid"), f"{pid} {start[0] if start else 0}\n"
                )
            # the rest of the cgroup while the init sets up its namespaces and mounts;
            # it joins before it asks for the createRuntime hooks, which may look for it
            with trace.span("cgroup: create"):
                cg.create()
            with trace.span("cgroup: apply resources"):
                cg.apply(linux.get("resources") or {}, linux.get("devices") or [])
            if args.join_v1:
                try:
                    sync.send(sock, sync.JOIN, dirs=cg.targets()[0])
                except OSError:
                    pass  # the init died: _await_ready reports why
            elif args.cgroup2 is None:
                with trace.span("cgroup: add init"):
                    cg.add(pid)
            creating = {
                "ociVersion": SPEC_VERSION,
                "id": self.id,
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

                userns.write_maps(self.pid, args.config.get("linux") or {})

            def new_init(msg: dict) -> None:
                """The first child has forked the real init and exits: follow it."""
                nonlocal pid, start
                first, pid = self.pid, msg["pid"]
                os.waitpid(first, 0)
                self.pid = creating["pid"] = pid
                start = proc_start_time(pid)
                atomic_write(
                    os.path.join(self.dir, "init.pid"), f"{pid} {start[0] if start else 0}\n"
                )

            _await_ready(
                sock,
                "container init exited during set-up",
                create_runtime,
                {sync.USERNS: write_maps, sync.PID: new_init},
            )
            term.receive()
            rec = {
                "ociVersion": SPEC_VERSION,
                "id": self.id,
                "pid": pid,
                "bundle": args.bundle,
                "rootfs": args.rootfs,
                "created": _rfc3339(time.time_ns()),
                "owner": _owner(),
                "annotations": args.config.get("annotations") or {},
                "initStartTime": start[0] if start else 0,
                "config": args.config,
                "cgroup": cg.record(),
            }
            self.store.save(self.id, rec)
            self._rec = rec
            if pid_file:
                atomic_write(os.path.abspath(pid_file), str(pid))
            _commit(sock, sync.EXEC if exec_now else sync.COMMIT, self.store.public(self.id, rec))
            if exec_now:
                self._hooks(rec, "poststart", "running")
            return pid
        finally:
            if lsock is not None:
                lsock.close()  # the init has its own

    def _hooks(self, rec: dict, kind: str, status: str) -> None:
        """poststart / poststop: in the runtime's namespaces; failures are warnings."""
        h = (rec.get("config") or {}).get("hooks") or {}
        if h.get(kind):
            from . import hooks

            st = self.store.public(self.id, rec)
            st["status"] = status
            if status == "stopped":
                st["pid"] = rec.get("pid", 0)
            hooks.run_all(h, kind, st)

    def _abort(self, pid: int, cg=None) -> None:
        """Undo a failed create: the init (and its namespaces and mounts), cgroup, state dir."""
        if pid > 0:
            _kill_reap(pid)
        if cg is not None:
            try:
                cg.destroy()
            except OCIError as e:
                log.warn(f"cleaning up after a failed create: {e.text}")
        self.store.remove(self.id)

    def _remove(self, rec: dict | None) -> None:
        """The container is dead: its cgroup, then its state directory."""
        from . import cgroups

        cg = cgroups.from_record((rec or {}).get("cgroup") or self._partial_cgroup())
        if cg is not None:
            cg.destroy()
        self.store.remove(self.id)

    def _partial_cgroup(self) -> dict | None:
        try:
            with open(os.path.join(self.dir, "cgroup.json"), "rb") as f:
                return jsonio.loads(f.read())
        except (OSError, ValueError):
            return None

    # ---- queries ----------------------------------------------------------
    def _record(self) -> dict:
        return self.store.load(self.id)

    def state(self) -> dict:
        return self.store.public(self.id, self._record())

    def status(self) -> str:
        return self.store.status(self.id, self._record())

    # ---- start --------------------------------------------------------------
    def start(self) -> None:
        with self.store.locked(self.id):
            with trace.span("lock, read the state"):
                rec = self._record()
                status = self.store.status(self.id, rec)
            if status != "created":
                if status == "stopped":
                    raise OCIError("cannot start a container that has stopped")
                raise OCIError(f"cannot start an already {status} container")
            with trace.span("exec socket: connect, the init's answer"):
                got = self._signal_start()
            if got.startswith(b"E"):
                raise OCIError(got[1:].decode(errors="replace"))
            if got != b"0":
                raise OCIError("container init exited before start")
            self._hooks(rec, "poststart", "running")

    def _signal_start(self) -> bytes:
        """Connect to the init's exec socket and remove it; the init's answer:
        "0", or "E" + why the startContainer hooks failed, or b"" if it died."""
        import _socket

        dirfd = os.open(self.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            got = b""
            try:
                s.connect(f"/proc/self/fd/{dirfd}/exec.sock")
                while got != b"0":
                    data = s.recv(4096)
                    if not data:
                        break
                    got += data
            except OSError:
                pass
            finally:
                s.close()
            os.unlink("exec.sock", dir_fd=dirfd)
        finally:
            os.close(dirfd)
        return got

    # ---- kill ---------------------------------------------------------------
    def _pidfd(self, rec: dict) -> int | None:
        """A pidfd for the init, or None if it is gone or its pid was reused."""
        pid = rec["pid"]
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return None
        st = proc_start_time(pid)
        if st is None or st[0] != rec.get("initStartTime"):
            os.close(fd)
            return None
        return fd

    def kill(self, sig: str | int = "TERM", all: bool = False) -> None:
        signum = parse_signal(sig)
        with self.store.locked(self.id):
            rec = self._record()
            if self.store.status(self.id, rec) == "stopped":
                raise NotRunning()
            fd = self._pidfd(rec)
            if fd is None:
                raise NotRunning()
            try:
                if all:
                    for p in self._pids(rec):
                        try:
                            os.kill(p, signum)
                        except ProcessLookupError:
                            pass
                _signal.pidfd_send_signal(fd, signum)
            except ProcessLookupError:
                raise NotRunning() from None
            finally:
                os.close(fd)

    def _pids(self, rec: dict) -> list[int]:
        """Every process in the container's cgroup (host pids)."""
        from . import cgroups

        cg = cgroups.from_record(rec.get("cgroup"))
        return cg.pids() if cg is not None else [rec["pid"]]

    def pids(self) -> list[int]:
        rec = self._record()
        if self.store.status(self.id, rec) == "stopped":
            return []
        return self._pids(rec)

    # ---- pause, resume, update, stats ------------------------------------------
    def _cgroup(self, rec: dict):
        from . import cgroups

        cg = cgroups.from_record(rec.get("cgroup"))
        if cg is None:
            raise OCIError(f"container {self.id} has no cgroup")
        return cg

    def pause(self) -> None:
        with self.store.locked(self.id):
            rec = self._record()
            status = self.store.status(self.id, rec)
            if status not in ("running", "created"):
                raise OCIError(f"container not running: cannot pause a {status} container")
            self._cgroup(rec).freeze()

    def resume(self) -> None:
        with self.store.locked(self.id):
            rec = self._record()
            if self.store.status(self.id, rec) != "paused":
                raise OCIError("container not paused")
            self._cgroup(rec).thaw()

    def update(self, resources: dict) -> None:
        """Apply new linux.resources (merged into the recorded ones) to the cgroup."""
        with self.store.locked(self.id):
            rec = self._record()
            if self.store.status(self.id, rec) == "stopped":
                raise NotRunning()
            linux = rec.setdefault("config", {}).setdefault("linux", {})
            merged = dict(linux.get("resources") or {})
            for k, v in resources.items():
                merged[k] = (
                    dict(merged.get(k) or {}, **v) if isinstance(v, dict) and k != "unified" else v
                )
            cg = self._cgroup(rec)
            cg.apply(
                resources,
                linux.get("devices") or [] if "devices" in resources else None,
                update=True,
            )
            linux["resources"] = merged
            self.store.save(self.id, rec)

    def stats(self) -> dict:
        rec = self._record()
        if self.store.status(self.id, rec) == "stopped":
            raise NotRunning()
        return self._cgroup(rec).stats()

    def oom_kills(self) -> int:
        return self._cgroup(self._record()).oom_kills()

    # ---- delete ---------------------------------------------------------------
    def delete(self, force: bool = False) -> None:
        """Remove the container; a running one only with ``force``.  An unknown id
        is an error (runtime spec), but not with ``force``: runc's extension,
        which podman and containerd use to clean up after a failed create."""
        if force and not self.store.exists(self.id):
            return
        with self.store.locked(self.id):
            try:
                with trace.span("lock, read the state"):
                    rec = self._record()
            except OCIError:
                # a create that died half-way: its init (if any), cgroup and directory
                self._reap_partial()
                self._remove(None)
                return
            status = self.store.status(self.id, rec)
            if status != "stopped":
                if not force:
                    raise OCIError(
                        f"cannot delete container {self.id} that is not stopped: {status}"
                    )
                with trace.span("kill the init, wait for its exit"):
                    self._kill_for_delete(rec, status)
            with trace.span("remove the cgroup and the state"):
                self._remove(rec)
            self._hooks(rec, "poststop", "stopped")

    def _kill_for_delete(self, rec: dict, status: str) -> None:
        fd = self._pidfd(rec)
        if fd is None:
            return
        try:
            _signal.pidfd_send_signal(fd, SIGKILL)
            if status == "paused":
                self._cgroup(rec).thaw()  # a frozen task acts on SIGKILL only once thawed
            if not _wait_exit(fd, 10):
                raise OCIError(f"container {self.id}: init did not exit after SIGKILL")
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)

    def _reap_partial(self) -> None:
        try:
            with open(os.path.join(self.dir, "init.pid")) as f:
                pid, start = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            return
        self._kill_wait({"pid": pid, "initStartTime": start})

    def _kill_wait(self, rec: dict) -> None:
        fd = self._pidfd(rec)
        if fd is None:
            return
        try:
            _signal.pidfd_send_signal(fd, SIGKILL)
            _wait_exit(fd, 10)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)

    # ---- run --------------------------------------------------------------------
    @classmethod
    def run(
        cls,
        cid: str,
        bundle: str = ".",
        root: str | None = None,
        detach: bool = False,
        keep: bool = False,
        **kw: object,
    ) -> int:
        """create + start; in the foreground wait, delete (unless ``keep``), return the status."""
        if detach:
            cls.create(cid, bundle, root, _exec_now=True, **kw)
            return 0
        # signals that arrive before the container exists wait, and are forwarded to it
        held = _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)
        try:
            c = cls.create(cid, bundle, root, _exec_now=True, _foreground=True, **kw)
        except BaseException:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, held)
            raise
        try:
            with trace.span("container process runs"):
                return _wait(c.pid, c._master, held)
        finally:
            if not keep:
                with trace.span("delete (cgroup, state directory)"):
                    c._cleanup_after_run()

    def _cleanup_after_run(self) -> None:
        """Remove what ``run`` made, unless someone (delete --force) already did."""
        try:
            with self.store.locked(self.id):
                # the record create made, if its file is still there (no delete --force)
                if self._rec is not None and os.path.exists(os.path.join(self.dir, "state.json")):
                    rec = self._rec
                else:
                    rec = self.store.load(self.id)
                self._remove(rec)
        except NotFound:
            return
        self._hooks(rec, "poststop", "stopped")

    # ---- exec -------------------------------------------------------------------
    def exec(self, proc: dict, **options: object) -> int:
        """Run ``proc`` (a runtime-spec process) inside the container; the
        options and what comes back: :func:`ociruntime.execute.exec_in`."""
        from .execute import exec_in

        return exec_in(self, proc, **options)


# ---- helpers shared by create, run and exec ------------------------------------
def _plan(config: dict):
    from .linux import security

    sec = security.plan(config)
    if sec.seccomp and sec.seccomp.skipped:
        log.debug(
            f"seccomp: syscalls unknown to libseccomp skipped: {', '.join(sec.seccomp.skipped)}"
        )
    return sec


def _rootless() -> bool:
    """--rootless (ociruntime.ROOTLESS): true, false, or auto (a non-root caller)."""
    import ociruntime

    return ociruntime.ROOTLESS == "true" or (ociruntime.ROOTLESS == "auto" and os.geteuid() != 0)


def _socket_activation(proc: dict) -> int:
    """systemd socket activation, as runc passes it on: with LISTEN_FDS=N in our
    environment, fds 3..3+N-1 go to the container, before any --preserve-fds,
    and its process gets LISTEN_FDS=N and LISTEN_PID=1."""
    n = os.environ.get("LISTEN_FDS")
    if not n or not n.isdigit() or int(n) <= 0:
        return 0
    env = [e for e in proc.get("env") or [] if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
    proc["env"] = env + [f"LISTEN_FDS={n}", "LISTEN_PID=1"]
    return int(n)


def _owner() -> str:
    """The user who created the container, by name as runc reports it."""
    uid = os.geteuid()
    if uid == 0:
        return "root"  # without reading nsswitch.conf and passwd on every create
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _ns_types(config: dict) -> list[str]:
    return [ns["type"] for ns in (config.get("linux") or {}).get("namespaces") or []]


def _become_subreaper() -> None:
    """PR_SET_CHILD_SUBREAPER, through python-prctl's C module when it is there
    (cheaper than loading the FFI into the runtime process)."""
    try:
        import _prctl
    except ImportError:
        from .linux import syscalls as sc

        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    else:
        _prctl.prctl(_prctl.PR_SET_CHILD_SUBREAPER, 1)


def _follow_init(sock, first: int) -> int:
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


def _launch(
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


def _await_ready(sock, gone: str, create_runtime=None, other: dict | None = None) -> None:
    """Until READY (or ERROR); the CREATE_RUNTIME point on the way runs ``create_runtime``
    (which returns the state for the createContainer hooks); USERNS is answered
    after ``other[USERNS]`` wrote the maps, PID handed to ``other[PID]``."""
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


def _commit(sock, kind: str, state: dict) -> None:
    """State is recorded: let the child drop PDEATHSIG and go on; wait for its ack."""
    sync.send(sock, kind, state=state)
    try:
        sync.recv(sock)
    except sync.PeerGone:
        raise OCIError("the container process exited before it was committed") from None
    finally:
        sock.close()


def _kill_reap(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _wait(pid: int, master: int | None, held: object = None) -> int:
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


class _Terminal:
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
