"""systemd's readiness protocol through the container (NOTIFY_SOCKET), as
runc and crun carry it.

A systemd unit of ``Type=notify`` that runs ``ociruntime run -d`` (or
create, then start) has NOTIFY_SOCKET in the runtime's environment.  The
container must not be handed the host's socket itself: systemd credits a
message to the unit by its sender's pid and cgroup, which a process in
another pid namespace and cgroup does not share.  So, as runc does:

* create makes ``<state dir>/notify`` (0755), binds it read-only at
  /run/notify in the container (the last mount, over any /run tmpfs), and
  gives the process NOTIFY_SOCKET=/run/notify/notify.sock in place of any
  it had (:func:`prepare`);
* whoever lets the process run (start; run, during its create) first binds
  a datagram socket at ``notify/notify.sock`` (0777: the process may run as
  any user) (:func:`listen`), then waits until the process sends a datagram
  with a ``READY=`` line, or the init exits (:meth:`Listener.forward`);
* on READY it sends the caller's socket that line, then ``MAINPID=`` the
  init's host pid (systemd then watches the container's init as the unit's
  main process), then ``BARRIER=1`` with a pipe's write end, and waits for
  systemd to close it (sd_notify_barrier(3)), up to 30 s: until then
  systemd may not have taken the messages in, and once this process has
  exited it could not tell whose they were.

A NOTIFY_SOCKET that no datagram could reach (a relative path, no socket
at the path) is refused before create makes anything or start lets the
process run (:func:`check`).

The waiting is on a pidfd and the socket together: an init that dies
without READY ends the wait at once (runc 1.1 polls /proc every 100 ms and,
for ``run -d``, whose init is its own unreaped child, waits forever).
A foreground ``run`` forwards from a thread while it waits for the
container (:meth:`Listener.forward_in_background`).
"""

from __future__ import annotations

import _socket
import sys

from . import oslite as os
from .errors import OCIError

DIR = "notify"
SOCKET = "notify.sock"
IN_CONTAINER = "/run/notify/" + SOCKET
BARRIER_SECONDS = 30.0


def check(host: str) -> None:
    """Refuse, before anything is made or runs, a NOTIFY_SOCKET that READY
    could never reach: neither an absolute path nor an abstract name
    (sd_notify(3) ignores such a value), or a path with no socket at it."""
    import stat

    if host.startswith("@"):
        return
    if not host.startswith("/"):
        raise OCIError(f"NOTIFY_SOCKET {host}: not an absolute path or an @abstract name")
    try:
        mode = os.stat(host).st_mode
    except OSError as e:
        raise OCIError(f"NOTIFY_SOCKET {host}: {e.strerror.lower()}") from None
    if not stat.S_ISSOCK(mode):
        raise OCIError(f"NOTIFY_SOCKET {host}: not a socket")


def prepare(config: dict, state_dir: str) -> None:
    """create: the notify directory, its mount and the process's variable
    (config is the one this create runs, not the bundle's file)."""
    d = os.path.join(state_dir, DIR)
    try:
        os.mkdir(d, 0o755)
    except OSError as e:
        raise OCIError(f"NOTIFY_SOCKET: creating {d}: {e.strerror}") from None
    config.setdefault("mounts", []).append(
        {
            "destination": os.dirname(IN_CONTAINER),
            "type": "bind",
            "source": d,
            "options": ["bind", "nosuid", "noexec", "nodev", "ro"],
        }
    )
    proc = config["process"]
    env = [e for e in proc.get("env") or [] if not e.startswith("NOTIFY_SOCKET=")]
    proc["env"] = env + ["NOTIFY_SOCKET=" + IN_CONTAINER]


def listen(state_dir: str, cid: str, host: str) -> Listener:
    """Bind the socket the container's process will send to (before it runs);
    what comes there goes on to ``host``, the caller's NOTIFY_SOCKET."""
    d = os.path.join(state_dir, DIR)
    if not os.path.isdir(d):
        raise OCIError(
            "NOTIFY_SOCKET is set, but the container was created without it: "
            "it has no socket to notify through",
            f"container {cid}",
        )
    path = os.path.join(d, SOCKET)
    try:
        os.unlink(path)  # a start that failed before left it
    except FileNotFoundError:
        pass
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        s.bind(path)
        os.chmod(path, 0o777)
    except OSError as e:
        s.close()
        raise OCIError(f"NOTIFY_SOCKET: binding {path}: {e.strerror}") from None
    return Listener(s, host)


def _address(host: str) -> str | bytes:
    """sd_notify(3): a leading "@" names an abstract socket."""
    return b"\0" + host[1:].encode() if host.startswith("@") else host


class Listener:
    """The socket in the container's notify directory, and the caller's."""

    def __init__(self, sock, host: str) -> None:
        self.sock = sock
        self.host = host

    def close(self) -> None:
        self.sock.close()

    def wait_ready(self, pid: int) -> bytes | None:
        """The first ``READY=`` line the container sends, or None once
        ``pid`` (its init) has exited without one."""
        import select

        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return None
        try:
            poll = select.poll()
            poll.register(self.sock.fileno(), select.POLLIN)
            poll.register(pidfd, select.POLLIN)
            while True:
                ready = {fd for fd, _ in poll.poll()}
                if self.sock.fileno() in ready:
                    # one datagram per sd_notify() call, "KEY=VALUE" lines
                    for line in self.sock.recv(4096).split(b"\n"):
                        if line.startswith(b"READY="):
                            return line
                elif pidfd in ready:
                    return None
        finally:
            os.close(pidfd)

    def forward(self, pid: int) -> None:
        """Wait for READY (or the init's end) and tell the caller's socket."""
        try:
            line = self.wait_ready(pid)
        finally:
            self.close()
        if line is None:
            from . import log

            log.debug(f"NOTIFY_SOCKET: the container's init (pid {pid}) ended before READY")
            return
        try:
            tell(self.host, line, pid)
        except OSError as e:
            raise OCIError(f"NOTIFY_SOCKET {self.host}: {e.strerror}") from None

    def forward_in_background(self, pid: int):
        """:meth:`forward` from a thread (a foreground run waits for the container
        meanwhile); a failure is a warning.  Returns a lock the thread holds
        until it is done, which it always is soon after the init exits (the
        pidfd ends the wait; a barrier takes 30 s at most): the caller takes
        it before exiting, so that a READY sent just before the end still
        reaches systemd whole."""
        import _thread

        done = _thread.allocate_lock()
        done.acquire()

        def run() -> None:
            try:
                self.forward(pid)
            except OCIError as e:
                from . import log

                log.warn(e.text)
            finally:
                done.release()

        _thread.start_new_thread(run, ())
        return done


def tell(host: str, ready: bytes, pid: int) -> None:
    """READY, MAINPID, then the barrier: to the caller's socket."""
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(_address(host))
        s.send(ready + b"\n")
        s.send(b"MAINPID=%d\n" % pid)
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                s.sendmsg(
                    [b"BARRIER=1"],
                    [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, w.to_bytes(4, sys.byteorder))],
                )
            finally:
                os.close(w)
            _wait_closed(r, host)
        finally:
            os.close(r)
    finally:
        s.close()


def _wait_closed(r: int, host: str) -> None:
    """The barrier: systemd closes its copy of the pipe's write end once it has
    handled what came before; a peer that never does costs 30 s, as with runc."""
    import select

    if select.select([r], [], [], BARRIER_SECONDS)[0]:
        os.read(r, 1)  # EOF
        return
    from . import log

    log.warn(f"NOTIFY_SOCKET {host}: no answer to BARRIER=1 after {BARRIER_SECONDS:.0f} s")
