"""Terminals: a pty made inside the container, its master handed to the caller.

The init (or exec'd process) opens the container's own /dev/ptmx, so the pty
belongs to the container's devpts instance; it gets the slave with
TIOCGPTPEER (no path lookup in the container's /dev/pts), sends the master
over the console socket as exactly one SCM_RIGHTS fd with the pty name as
data (what go-runc and conmon expect), makes the slave its controlling
terminal and stdio, and closes the master.

``run``/``exec`` in the foreground without ``--console-socket`` pass one end
of a socketpair instead and :func:`relay` the master to their own stdio.
"""

from __future__ import annotations

import _socket
import _struct as struct
import fcntl

from .. import oslite as os

TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430
TIOCGPTPEER = 0x5441
TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGWINSZ = 0x5413


def connect(path: str) -> _socket.socket:
    from ..errors import OCIError

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        s.close()
        raise OCIError(f"console socket {path}: {e.strerror}") from None
    return s


def make_pty(ptmx_fd: int, size: dict | None) -> tuple[int, int, str]:
    """(master, slave, name) from an open ptmx; the slave never goes through a path."""
    master = ptmx_fd
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))[0]
    slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    if size:
        set_size(slave, size.get("height", 0), size.get("width", 0))
    return master, slave, f"/dev/pts/{n}"


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def send_master(sock: _socket.socket, master: int, name: str) -> None:
    from ..errors import OCIError
    from ..sync import send_fd

    try:
        send_fd(sock, master, name.encode())
    except OSError as e:  # e.g. EPIPE: the receiver took the connection and closed it
        what = (e.strerror or str(e)).lower()
        raise OCIError(f"--console-socket: sending the terminal failed: {what}") from None


def recv_master(sock: _socket.socket) -> int:
    from ..sync import recv_fd

    return recv_fd(sock, "console socket")


def become_controlling(slave: int) -> None:
    """New session, the slave as controlling terminal and stdin/stdout/stderr."""
    as_stdio(slave)
    take_control()


def as_stdio(slave: int) -> None:
    """The slave as stdin, stdout and stderr (and no other fd)."""
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def take_control() -> None:
    """A new session whose controlling terminal is the one on stdin.  In the
    process that execs, not a parent: a session leader's exit hangs up its
    terminal and takes it away from the session."""
    os.setsid()
    fcntl.ioctl(0, TIOCSCTTY, 0)


def relay(master: int, pid: int) -> int:
    """Copy stdin -> master and master -> stdout until ``pid`` exits; its wait status."""
    import select
    import signal
    import termios
    import tty

    stdin_tty = os.isatty(0)
    saved = termios.tcgetattr(0) if stdin_tty else None

    def winch(*_: object) -> None:
        try:
            fcntl.ioctl(master, TIOCSWINSZ, fcntl.ioctl(0, TIOCGWINSZ, b"\0" * 8))
        except OSError:
            pass

    if stdin_tty:
        tty.setraw(0)
        winch()
        signal.signal(signal.SIGWINCH, winch)
    fds = [master, 0]
    status = None
    try:
        while master in fds or status is None:
            try:
                ready, _, _ = select.select(fds, [], [], 0.1)
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave fd is closed
                    data = b""
                if data:
                    os.write(1, data)
                else:
                    fds.remove(master)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    os.write(master, data)
                else:
                    fds.remove(0)
            if status is None:
                wpid, st = os.waitpid(pid, os.WNOHANG)
                if wpid:
                    status = st
                    if 0 in fds:
                        fds.remove(0)
            elif master in fds and master not in ready:
                # it has exited and a select found nothing more: drain the rest, stop
                os.set_blocking(master, False)
                try:
                    while data := os.read(master, 65536):
                        os.write(1, data)
                except OSError:
                    pass
                fds.remove(master)
        return status
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
