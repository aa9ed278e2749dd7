"""Fork the container's first child at entry, before the runtime imports anything.

create and run spend ~4 ms importing and validating before they could fork,
and the child then spends ~2.5 ms importing the container side (slower after
a late fork: every page it touches is still shared with the runtime and is
copied on write).  Forked right at entry instead, the child imports the
container side on the other CPU while the runtime imports and checks the
config; it then waits on the sync socket for what it needs (handoff.InitArgs,
as JSON).  The runtime sends that, or, when the config needs what only a
late fork carries (a terminal, idmapped mounts, a user namespace),
closes the socket: the child exits, and the runtime forks as before.
:func:`start_readonly` makes a child that speaks the same protocol but runs
from a read-only clone of the interpreter (linux/exe.py), for a container
that may hold CAP_LINUX_IMMUTABLE.

The child is non-dumpable with PDEATHSIG from its first line: it never
outlives a runtime that died or gave up.
"""

from __future__ import annotations

import posix

_child: tuple[int, int] | None = None


def start() -> None:
    """Fork the child (root only: rootless creates take the late path).  No
    ``os`` here: this runs before it is imported."""
    global _child
    if posix.geteuid() != 0:
        return
    import _socket  # not sync.socketpair: sync's imports can wait until after the fork

    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    ours, theirs = a.detach(), b.detach()
    pid = posix.fork()
    if pid == 0:
        posix.close(ours)
        from . import init
        from .sync import Channel

        init.prefork_main(Channel(theirs))  # never returns
    posix.close(theirs)
    _child = (pid, ours)


def start_readonly(keep: list[int]) -> None:
    """Fork a first child that executes the interpreter from the read-only
    clone of its directory (linux/exe.py) and then serves as the child forked
    at entry does (:func:`take` returns it).  Its fds ``keep`` (a console
    socket end, idmapped trees, preserved fds) cross the exec; the child
    imports the container side itself, so this costs an interpreter start."""
    global _child
    import sys

    from .bundle import BOOT_MAX
    from .linux import exe
    from .sync import socketpair

    cancel()
    fd = exe.readonly_exe()
    home = exe.private_dir()
    bundle = home + "/ociruntime.bundle"
    ours, theirs = socketpair()
    pid = posix.fork()
    if pid == 0:
        try:
            posix.close(ours)
            posix.set_inheritable(theirs, True)
            for k in keep:
                try:
                    posix.set_inheritable(k, True)
                except OSError:
                    pass  # a --preserve-fds fd the caller did not open: left out, as crun does
            code = (
                "import marshal, posix\n"
                f"f = posix.open({bundle!r}, posix.O_RDONLY | posix.O_CLOEXEC)\n"
                f"exec(marshal.loads(posix.pread(f, {BOOT_MAX}, 16)))\n"
                f"launch_init(f, {bundle!r}, {sys.path!r}, {theirs})\n"
            )
            posix.execve(fd, [home + "/python3", "-IS", "-c", code], posix.environ)
        finally:
            posix._exit(127)
    posix.close(fd)
    posix.close(theirs)
    _child = (pid, ours)


def take():
    """The forked child as (pid, our sync Channel), now ours to use; or None."""
    global _child
    c, _child = _child, None
    if c is None:
        return None
    from .sync import Channel

    return c[0], Channel(c[1])


def hand_over(ch, wire: dict) -> None:
    """Send the taken child its InitArgs (``InitArgs.to_wire``); one that died
    meanwhile is the user's one-line error, not a broken pipe."""
    from . import sync
    from .errors import OCIError

    try:
        sync.send(ch, sync.ARGS, **wire)
    except OSError:
        raise OCIError("container init exited before it got its arguments") from None


def cancel() -> None:
    """Not needed after all: the child sees EOF and exits; reap it."""
    c = take()
    if c is not None:
        pid, ch = c
        ch.close()
        try:
            posix.waitpid(pid, 0)
        except ChildProcessError:
            pass
