"""Typed messages between the runtime and the container's init.

A SOCK_SEQPACKET socketpair keeps message boundaries, so each message is one
JSON object in one datagram: ``{"type": ..., ...}``.  An empty read means the
peer died.  See docs/create-start.md for the sequence.
"""

from __future__ import annotations

import _socket

from . import jsonio

READY = "ready"  # init -> runtime: set up, args[0] found, waiting for commit
ERROR = "error"  # init -> runtime: setup failed; "msg" says why
COMMIT = "commit"  # runtime -> init: state recorded, drop PDEATHSIG, wait for start
EXEC = "exec"  # runtime -> init: (run) state recorded, exec now
ACK = "ack"  # init -> runtime: PDEATHSIG cleared, the runtime may exit
USERNS = "userns"  # init -> runtime: in my new user namespace; write my uid/gid maps
USERNS_DONE = "userns-done"  # runtime -> init: mapped
PID = (
    "pid"  # init -> runtime: the init is now my child "pid" (pid 1 of a pid ns made in the user ns)
)
# init -> runtime: mounts done, before pivot_root; (wait until) I am in the cgroup,
# and run the prestart and createRuntime hooks
CREATE_RUNTIME = "create-runtime"
# runtime -> init: done ("state" for the createContainer hooks); go on
CREATE_RUNTIME_DONE = "create-runtime-done"


class PeerGone(Exception):
    """The other side closed the socket (it exited or was killed)."""


def pair() -> tuple[_socket.socket, _socket.socket]:
    """(_socket, not socket: the socket module costs ~5 ms to import.)"""
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    return a, b


def send(sock: _socket.socket, type_: str, **fields: object) -> None:
    fields["type"] = type_
    sock.send(jsonio.dumps(fields, compact=True).encode())


def recv(sock: _socket.socket) -> dict:
    data = sock.recv(65536)
    if not data:
        raise PeerGone()
    return jsonio.loads(data)
