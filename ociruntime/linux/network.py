"""Network set-up inside a new network namespace.

Only loopback is needed at create; an ioctl does it in microseconds, where
importing pyroute2 costs ~90 ms on every create.  pyroute2 is for moving
real interfaces (netDevices).
"""

from __future__ import annotations

import fcntl

from .. import oslite as os
from . import syscalls as sc

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def _ifreq(name: bytes, flags: int) -> bytes:
    """struct ifreq with ifr_flags: the name in 16 bytes, a short, padding to 40."""
    return name.ljust(16, b"\0") + flags.to_bytes(2, "little") + bytes(22)


def loopback_up() -> None:
    # the socket through the FFI: the _socket module costs ~250 KiB of objects
    fd = sc.socket(sc.AF_INET, sc.SOCK_DGRAM | sc.SOCK_CLOEXEC)
    try:
        flags = int.from_bytes(fcntl.ioctl(fd, SIOCGIFFLAGS, _ifreq(b"lo", 0))[16:18], "little")
        fcntl.ioctl(fd, SIOCSIFFLAGS, _ifreq(b"lo", flags | IFF_UP))
    finally:
        os.close(fd)
