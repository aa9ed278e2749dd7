"""Fork the container's first child at entry, before the runtime imports anything.

create and run spend ~4 ms importing and validating before they could fork,
and the child then spends ~2.5 ms importing the container side (slower after
a late fork: every page it touches is still shared with the runtime and is
copied on write).  Forked right at entry instead, the child imports the
container side on the other CPU while the runtime imports and checks the
config; it then waits on the sync pipe for what it needs (handoff.InitArgs,
as JSON).  The runtime sends that, or, when the config needs what only a
late fork carries (a terminal, idmapped mounts, a user namespace),
closes the pipe: the child exits, and the runtime forks as before.

The child is non-dumpable with PDEATHSIG from its first line: it never
outlives a runtime that died or gave up.
"""

from __future__ import annotations

import posix

_child: tuple[int, tuple[int, int]] | None = None


def start() -> None:
    """Fork the child (root only: rootless creates take the late path).  Only
    ``posix`` here: this runs before ``os`` is imported."""
    global _child
    if posix.geteuid() != 0:
        return
    r1, w1 = posix.pipe()  # child -> runtime
    r2, w2 = posix.pipe()  # runtime -> child
    pid = posix.fork()
    if pid == 0:
        posix.close(r1)
        posix.close(w2)
        from . import init
        from .sync import Channel

        init.prefork_main(Channel(r2, w1))  # never returns
    posix.close(r2)
    posix.close(w1)
    _child = (pid, (r1, w2))


def take():
    """The forked child as (pid, our sync Channel), now ours to use; or None."""
    global _child
    c, _child = _child, None
    if c is None:
        return None
    from .sync import Channel

    return c[0], Channel(*c[1])


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
