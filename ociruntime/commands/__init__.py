"""The commands: what each does with the parsed command line (cli.Args:
``cmd``, ``id``, ``pos``, ``opts``, ``g``), over the Python API
(container.py).  The ones on every container's path, which containerd and
podman call again and again, are in lifecycle.py; the less frequent ones
in extra.py, which those never load.
"""

from __future__ import annotations

from .. import oslite as os
from ..errors import OCIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class Invocation(Protocol):
        """What cli.Args gives a command (nothing here imports the CLI)."""

        cmd: str
        id: str
        pos: list[str]
        opts: dict
        g: dict


def container(a: Invocation):
    from ..container import Container

    return Container(a.id, a.g["root"])


def check_pid_file(path: str | None) -> None:
    """A --pid-file that cannot be written fails before any process exists."""
    if not path:
        return
    p = os.path.abspath(path)
    d = os.path.dirname(p)
    if not os.path.isdir(d):
        raise OCIError(f"--pid-file {path}: its directory {d} is missing")
    if os.path.isdir(p):
        raise OCIError(f"--pid-file {path}: is a directory")


def check_preserve_fds(n: int) -> None:
    """0 or more, and no more than a process can have open (the hard RLIMIT_NOFILE)."""
    if n < 0:
        raise OCIError(f"--preserve-fds {n}: expected a number of fds, 0 or more")
    if n:
        import resource

        top = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if top != resource.RLIM_INFINITY and n > top - 3:
            raise OCIError(
                f"--preserve-fds {n}: more fds than a process may have open ({top}, fds 3 on)"
            )


def create_kw(a: Invocation) -> dict:
    o = a.opts
    check_pid_file(o["pid_file"])
    check_preserve_fds(o["preserve_fds"])
    return {
        "pid_file": o["pid_file"],
        "console_socket": o["console_socket"],
        "no_pivot": o["no_pivot"],
        "no_new_keyring": o["no_new_keyring"],
        "preserve_fds": o["preserve_fds"],
    }
