"""The lifecycle: create, start, state, kill, delete, run.

This is the Python API; the CLI only parses arguments and formats output.
The create/start protocol (who forks whom, which socket carries what) is
written down in docs/create-start.md.
"""

from __future__ import annotations

import _signal
import os
import time

from . import SPEC_VERSION, log, sync, trace
from .errors import NotRunning, OCIError
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
    """15, "TERM" and "SIGTERM" are all SIGTERM (containerd, CRI-O, runtime-tools)."""
    if isinstance(sig, int):
        return sig
    s = sig.strip().upper()
    if s.isdigit():
        n = int(s)
        if 0 < n < _signal.NSIG:
            return n
    else:
        s = s[3:] if s.startswith("SIG") else s
        if s in SIGNALS:
            return SIGNALS[s]
        if s.startswith("RTMIN") or s.startswith("RTMAX"):
            base = _signal.SIGRTMIN if s.startswith("RTMIN") else _signal.SIGRTMAX
            off = s[5:]
            try:
                n = base + int(off) if off else base
            except ValueError:
                n = -1
            if _signal.SIGRTMIN <= n <= _signal.SIGRTMAX:
                return n
    raise OCIError(f"invalid signal: {sig}")


def _rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _wait_exit(pid: int, pidfd: int, timeout: float) -> bool:
    """True once ``pid`` has exited (a zombie counts), waiting up to timeout."""
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
    ) -> Container:
        """Set everything up; the init waits for :meth:`start` (or execs at once for run)."""
        from .spec.load import load_bundle

        c = cls(cid, root)
        with trace.span("load and validate bundle"):
            b = load_bundle(bundle)
        with trace.span("check security settings"):
            from .linux import security

            sec = security.plan(b.config)
            if sec.seccomp and sec.seccomp.skipped:
                log.debug(
                    f"seccomp: syscalls unknown to libseccomp skipped: {', '.join(sec.seccomp.skipped)}"
                )
        proc = b.config["process"]
        if proc.get("terminal") and not console_socket:
            raise OCIError(
                "process.terminal is true but no --console-socket was given (terminals come in a later release)"
            )
        if console_socket:
            raise OCIError("--console-socket is not supported yet")
        lock = c.store.make(cid)
        pid = 0
        try:
            pid = c._spawn(b, sec, pid_file, no_pivot, preserve_fds, _exec_now)
        except BaseException:
            c._abort(pid)
            raise
        finally:
            os.close(lock)
        c.pid = pid
        return c

    def _spawn(
        self, b, sec, pid_file: str | None, no_pivot: bool, preserve_fds: int, exec_now: bool
    ) -> int:
        import _socket

        from . import init
        from .linux import namespaces

        dirfd = os.open(self.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        lsock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            if not exec_now:
                # bind through the dir fd: sun_path is too short for long roots and ids
                lsock.bind(f"/proc/self/fd/{dirfd}/exec.sock")
                os.chmod("exec.sock", 0o600, dir_fd=dirfd)
                lsock.listen(1)
            parent_sock, child_sock = sync.pair()
            args = init.InitArgs(
                b.config,
                b.path,
                b.rootfs,
                child_sock,
                lsock,
                sec,
                no_pivot,
                preserve_fds,
                log._debug,
            )
            with trace.span("fork init"), namespaces.for_children(namespaces.of(b.config)):
                pid = os.fork()
                if pid == 0:
                    parent_sock.close()
                    init.main(args)  # never returns
            child_sock.close()
            lsock.close()
            start = proc_start_time(pid)
            atomic_write(os.path.join(self.dir, "init.pid"), f"{pid} {start[0] if start else 0}\n")
            try:
                with trace.span("wait for init set-up"):
                    msg = sync.recv(parent_sock)
            except sync.PeerGone:
                raise OCIError("container init exited during set-up") from None
            trace.add(msg.pop("trace", None) or [])
            if msg["type"] == sync.ERROR:
                if msg.get("traceback"):
                    log.debug("init traceback:\n" + msg["traceback"])
                raise OCIError(msg["msg"], msg.get("where"))
            created = time.time_ns()
            rec = {
                "ociVersion": SPEC_VERSION,
                "id": self.id,
                "pid": pid,
                "bundle": b.path,
                "rootfs": b.rootfs,
                "created": _rfc3339(created),
                "owner": "",
                "annotations": b.config.get("annotations") or {},
                "initStartTime": start[0] if start else 0,
                "config": {k: b.config[k] for k in ("hooks", "linux") if k in b.config},
            }
            self.store.save(self.id, rec)
            if pid_file:
                atomic_write(os.path.abspath(pid_file), str(pid))
            sync.send(
                parent_sock,
                sync.EXEC if exec_now else sync.COMMIT,
                state=self.store.public(self.id, rec),
            )
            try:
                sync.recv(parent_sock)
            except sync.PeerGone:
                raise OCIError("container init exited before it was committed") from None
            parent_sock.close()
            return pid
        finally:
            os.close(dirfd)

    def _abort(self, pid: int) -> None:
        """Undo a failed create: the init (and its namespaces and mounts) and the state dir."""
        if pid > 0:
            try:
                os.kill(pid, SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.store.remove(self.id)

    # ---- queries ----------------------------------------------------------
    def _record(self) -> dict:
        return self.store.load(self.id)

    def state(self) -> dict:
        return self.store.public(self.id, self._record())

    def status(self) -> str:
        return self.store.status(self.id, self._record())

    # ---- start --------------------------------------------------------------
    def start(self) -> None:
        import _socket

        with self.store.locked(self.id):
            rec = self._record()
            status = self.store.status(self.id, rec)
            if status != "created":
                if status == "stopped":
                    raise OCIError("cannot start a container that has stopped")
                raise OCIError(f"cannot start an already {status} container")
            dirfd = os.open(self.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
                try:
                    s.connect(f"/proc/self/fd/{dirfd}/exec.sock")
                    got = s.recv(1)
                except OSError:
                    got = b""
                finally:
                    s.close()
                os.unlink("exec.sock", dir_fd=dirfd)
            finally:
                os.close(dirfd)
            if got != b"0":
                raise OCIError("container init exited before start")

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
        """Every process in the container: for now, those in its pid namespace."""
        pid = rec["pid"]
        try:
            ns = os.stat(f"/proc/{pid}/ns/pid").st_ino
        except FileNotFoundError:
            return []
        if ns == os.stat("/proc/self/ns/pid").st_ino:
            return [pid]
        out = []
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    if os.stat(f"/proc/{name}/ns/pid").st_ino == ns:
                        out.append(int(name))
                except OSError:
                    pass
        return out

    # ---- delete ---------------------------------------------------------------
    def delete(self, force: bool = False) -> None:
        with self.store.locked(self.id):
            try:
                rec = self._record()
            except OCIError:
                # a create that died half-way: its init (if any) and its directory
                self._reap_partial()
                self.store.remove(self.id)
                return
            status = self.store.status(self.id, rec)
            if status != "stopped":
                if not force:
                    raise OCIError(
                        f"cannot delete container {self.id} that is not stopped: {status}"
                    )
                fd = self._pidfd(rec)
                if fd is not None:
                    try:
                        _signal.pidfd_send_signal(fd, SIGKILL)
                        if not _wait_exit(rec["pid"], fd, 10):
                            raise OCIError(f"container {self.id}: init did not exit after SIGKILL")
                    except ProcessLookupError:
                        pass
                    finally:
                        os.close(fd)
            self.store.remove(self.id)

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
            _wait_exit(rec["pid"], fd, 10)
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
        **kw: object,
    ) -> int:
        """create + start; in the foreground wait, delete, and return the exit status."""
        c = cls.create(cid, bundle, root, _exec_now=True, **kw)
        if detach:
            return 0
        return c._wait_foreground()

    def _wait_foreground(self) -> int:
        pid = self.pid

        def forward(signum: int, _frame: object) -> None:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

        for s in FORWARDED:
            _signal.signal(s, forward)
        _, status = os.waitpid(pid, 0)
        for s in FORWARDED:
            _signal.signal(s, _signal.SIG_DFL)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
        with self.store.locked(self.id):
            self.store.remove(self.id)
        return code
