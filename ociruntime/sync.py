"""Typed messages between the runtime and the container's init.

Each message is one JSON object ``{"type": ..., ...}``, framed by a 4-byte
length, over a Unix socketpair.  A socket, not a pair of pipes: the process
that becomes the container's (an exec'd process above all) holds its end
while the container's processes can see it, and a container process with
CAP_SYS_PTRACE can open another process's pipe through ``/proc/PID/fd/N``
and write into it, but not a socket (ENXIO).  An empty read means the peer
is gone (every copy of its end is closed).  See docs/create-start.md for
the sequence.
"""

from __future__ import annotations

import sys

from . import jsonio
from . import oslite as os
from .errors import OCIError

# the container side sends and reads messages after it has joined the
# container's mount namespace, where the _json extension could not be loaded
jsonio.load_c()
# For the fault-injection tests only: messages of these types fail to send
# (tests/integration/test_faults.py)
_FAILING = os.environ.get("OCIRUNTIME_TEST_SEND_FAILS")

ARGS = "args"  # runtime -> a child forked at entry (process/first_child.py): its InitArgs, as JSON
READY = "ready"  # init -> runtime: set up, args[0] found, waiting for commit
ERROR = "error"  # init -> runtime: setup failed; "msg" says why
COMMIT = "commit"  # runtime -> init: state recorded, wait for start
EXEC = "exec"  # runtime -> init: (run, exec) state recorded, exec now
ACK = "ack"  # init -> runtime: COMMIT or EXEC received, the runtime may exit
USERNS = "userns"  # init -> runtime: in my new user namespace; write my uid/gid maps
USERNS_DONE = "userns-done"  # runtime -> init: mapped
PID = (
    "pid"  # init -> runtime: the init is now my child "pid" (pid 1 of a pid ns made in the user ns)
)
# runtime -> init: the container's v1 cgroup directories ("dirs"), made; join them
JOIN = "join"
# init -> runtime: mounts done, before pivot_root, I am in the cgroup (or: wait
# until the runtime has put me there); run the prestart and createRuntime hooks
CREATE_RUNTIME = "create-runtime"
# runtime -> init: done ("state" for the createContainer hooks); go on.  Sent
# unasked, once the cgroups are ready, when there is nothing to run at that
# point (InitArgs.runtime_point_unasked): the init then never sends CREATE_RUNTIME
CREATE_RUNTIME_DONE = "create-runtime-done"


# the one reply each request gets (the sender waits for it: request())
REPLIES = {
    USERNS: USERNS_DONE,
    CREATE_RUNTIME: CREATE_RUNTIME_DONE,
    COMMIT: ACK,
    EXEC: ACK,
}


class PeerGone(Exception):
    """The other side closed its end (it exited or was killed)."""


class Channel:
    """One side: one end of a socketpair (close-on-exec)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)
            except OSError:
                pass
        self.fd = -1


def socketpair() -> tuple[int, int]:
    """Two connected stream sockets as bare fds, close-on-exec.  The socket
    objects are detached: reads and writes go through ``os`` like any fd."""
    import _socket

    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    return a.detach(), b.detach()


def pair() -> tuple[Channel, Channel]:
    """(the runtime's end, the child's end); each closes the other's after fork."""
    a, b = socketpair()
    return Channel(a), Channel(b)


def send(ch: Channel, type_: str, **fields: object) -> None:
    if _FAILING is not None and type_ in _FAILING.split(","):
        raise OSError(5, f"sending {type_} (OCIRUNTIME_TEST_SEND_FAILS)")
    fields["type"] = type_
    data = jsonio.dumps(fields, compact=True).encode()
    data = len(data).to_bytes(4, "little") + data
    try:
        while data:
            data = data[os.write(ch.fd, data) :]
    except (BrokenPipeError, ConnectionResetError):
        raise PeerGone() from None


def _read(fd: int, n: int) -> bytes:
    chunks = []
    while n:
        try:
            chunk = os.read(fd, n)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise PeerGone()
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv(ch: Channel) -> dict:
    n = int.from_bytes(_read(ch.fd, 4), "little")
    return jsonio.loads(_read(ch.fd, n))


class Failed(OCIError):
    """The peer sent ERROR instead of what was expected; ``message`` is all of it."""

    def __init__(self, message: dict) -> None:
        super().__init__(message.get("msg") or "unknown error", message.get("where"))
        self.message = message


def expect(ch: Channel, *types: str) -> dict:
    """The next message, which must be one of ``types``: the one check of
    every message's type.  The peer's ERROR raises :class:`Failed`; anything
    else is a protocol error naming what was expected and what arrived."""
    msg = recv(ch)
    kind = msg.get("type")
    if kind in types:
        return msg
    if kind == ERROR:
        raise Failed(msg)
    raise OCIError(f"internal error: expected {' or '.join(types)} on the sync socket, got {kind}")


def request(ch: Channel, type_: str, **fields: object) -> dict:
    """Send ``type_`` and wait for its reply (:data:`REPLIES`)."""
    send(ch, type_, **fields)
    return expect(ch, REPLIES[type_])


def converse(ch: Channel, handlers: dict, until: tuple[str, ...]) -> dict:
    """Serve the peer's requests until one of ``until`` arrives (returned):
    ``handlers[type](message)`` for each, whose result (a dict of fields) is
    sent back as the type's reply when it has one (:data:`REPLIES`)."""
    while True:
        msg = expect(ch, *until, *handlers)
        kind = msg["type"]
        if kind in until:
            return msg
        reply = handlers[kind](msg)
        if kind in REPLIES:
            send(ch, REPLIES[kind], **(reply or {}))


def send_fd(sock, fd: int, data: bytes = b"x") -> None:
    """``fd`` over the Unix socket ``sock`` (a socket object) as exactly one
    SCM_RIGHTS fd in one message, with ``data`` (what go-runc and conmon
    expect of a console socket: the pty's name)."""
    import _socket

    sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])


def recv_fd(sock, what: str) -> int:
    """The one fd a :func:`send_fd` sent; OSError naming ``what`` otherwise."""
    import _socket
    import array

    fds = array.array("i")
    msg, anc, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        # a sender that failed may have said why instead
        why = msg.decode(errors="replace") if msg and not fds else "expected exactly one fd"
        raise OSError(0, f"{what}: {why}")
    return fds[0]


def listen_exec(state_dir: str):
    """The exec socket, ``<state_dir>/exec.sock`` (0600), listening: the init
    blocks in accept(2) on it until ``start`` connects."""
    import _socket  # only here: run has no exec socket, and the module is big

    dirfd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        # bind through the dir fd: sun_path is too short for long roots and ids
        s.bind(f"/proc/self/fd/{dirfd}/exec.sock")
        os.chmod("exec.sock", 0o600, dir_fd=dirfd)
        s.listen(1)
    except BaseException:
        s.close()
        raise
    finally:
        os.close(dirfd)
    return s
