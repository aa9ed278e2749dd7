"""A stand-in for systemd's notify socket (NOTIFY_SOCKET), for the tests of
ociruntime/notify.py: tests/integration/test_notify.py and the differential
one in tests/compat/test_differences.py."""

from __future__ import annotations

import array
import os
import socket
import threading
import time


class FakeSystemd:
    """A bound datagram socket and the messages that reached it, in order:
    (bytes, number of fds passed)."""

    def __init__(self, address: str | bytes, answer_after: float = 0.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.address = address
        self.answer_after = answer_after  # seconds before it answers a barrier
        self.answered: float | None = None  # time.monotonic() of that answer
        self.got: list[tuple[bytes, int]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while True:
            try:
                msg, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(16))
            except OSError:
                return
            fds = []
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = list(array.array("i", data[: len(data) - len(data) % 4]))
            self.got.append((msg, len(fds)))  # first: the answer below lets the runtime go
            if fds:
                time.sleep(self.answer_after)
                self.answered = time.monotonic()
            for fd in fds:  # systemd's answer to BARRIER=1
                os.close(fd)

    @property
    def env_value(self) -> str:
        a = self.address
        return "@" + a[1:].decode() if isinstance(a, bytes) else a

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def ready_messages(pid: int) -> list[tuple[bytes, int]]:
    """What ociruntime forwards for a READY=1 from the container whose init is ``pid``."""
    return [(b"READY=1\n", 0), (b"MAINPID=%d\n" % pid, 0), (b"BARRIER=1", 1)]
