"""The signals a foreground ``run`` or ``exec`` passes on to its container.

As runc does: every signal but those the runtime handles itself (SIGCHLD,
SIGWINCH: the pty's size when relaying one, SIGURG) and those its own
actions raise: the synchronous faults, and SIGPIPE (a hook that does not
read the state we write it), which CPython ignores anyway.  They are blocked from the runtime's
first line (entry.py, :func:`block_early`) until the container's process
runs, so that none is lost or kills the runtime half-way: one that arrived
before the process exists makes the runtime undo what it made and exit
128+N (process/runtime.py, :func:`pending`); after, each is forwarded.
"""

from __future__ import annotations

import _signal

_OWN = {
    "SIGKILL",
    "SIGSTOP",
    "SIGCHLD",
    "SIGURG",
    "SIGWINCH",
    "SIGPIPE",
    "SIGSEGV",
    "SIGBUS",
    "SIGFPE",
    "SIGILL",
    "SIGTRAP",
    "SIGSYS",
}
_OWN_NUMBERS = {getattr(_signal, n) for n in _OWN if hasattr(_signal, n)}
FORWARDED = tuple(sorted(s for s in _signal.valid_signals() if s not in _OWN_NUMBERS))
_early: object | None = None  # the mask from before block_early(), if it ran


def block_early() -> None:
    """entry.py, for a foreground run or exec: block them before anything else."""
    global _early
    _early = _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)


def block() -> object:
    """Block them (if entry did not already); the mask to restore once the
    container's process runs and forwarding handlers are in place."""
    old = _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)
    return _early if _early is not None else old


def pending() -> int | None:
    """A forwarded signal that arrived while blocked, if any (the lowest)."""
    waiting = _signal.sigpending()
    return next((s for s in FORWARDED if s in waiting), None)


def name(sig: int) -> str:
    for n in dir(_signal):
        if n.startswith("SIG") and "_" not in n and getattr(_signal, n) == sig:
            return n
    return f"signal {sig}"
