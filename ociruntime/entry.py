"""The command's entry point (the installed launcher and ``python -m ociruntime``).

What happens here rather than in the CLI module pays off only when done
before it is imported: the cyclic garbage collector is switched off; for
create, run and exec the container's first child (or exec's) is forked
(process/first_child.py); a plain ``state ID`` is answered without the
CLI (:func:`state_call`); and the process ends with ``os._exit``
once its output is flushed, skipping the interpreter's teardown, which
frees every object only for the kernel to drop the whole address space a
moment later.
"""

import sys

_ATTACHING = {"create", "run", "exec"}
_FOREGROUND = {"run", "exec"}


def main() -> None:
    # A command lives for milliseconds; the cyclic collector would spend
    # ~0.5-1 ms walking the objects the imports make, to free next to nothing.
    # (events, which can run for hours, turns it back on.)
    import gc
    import time

    t0 = time.monotonic_ns()  # for --trace: where our code starts
    gc.disable()
    argv = sys.argv[1:]
    if not _FOREGROUND.isdisjoint(argv) and not {"-d", "--detach"} & set(argv):
        # a foreground run or exec: no signal lost or fatal before the container runs
        # (sigfwd.py); a false positive (an id spelled "run") blocks them for nothing
        from . import sigfwd

        sigfwd.block_early()
    # a false positive (an id or argument spelled "run") costs one fork
    if not _ATTACHING.isdisjoint(argv) and "--rootless=true" not in argv:
        from .process import first_child

        first_child.start()
    elif "state" in argv:
        _state(argv)  # returns only when the CLI must answer
    from .cli import main as cli_main

    code = cli_main(argv, t0)
    first_child = sys.modules.get("ociruntime.process.first_child")
    if first_child is not None:
        # an early child nobody took (an error, or "run" was only an id): let it go
        first_child.cancel()
    _exit(code)


def _exit(code: int) -> None:
    from . import oslite as os

    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)


# The global flags a state call may carry (podman and CRI-O pass --root, the
# JSON log, --systemd-cgroup), with the values the CLI takes (None: any).
# None of them changes what state prints.
_STATE_FLAGS: dict[str, tuple[str, ...] | None] = {
    "--root": None,
    "--log": None,
    "--log-format": ("text", "json"),
    "--rootless": ("auto", "true", "false"),
}


def state_call(argv: list[str]) -> tuple[dict[str, str], str] | None:
    """``([GLOBAL FLAGS] state ID)`` as (the flags' values, ID); None for
    any other command line, which the CLI parses (a flag not in
    :data:`_STATE_FLAGS`, ``--debug``, ``--trace``, a value the CLI would
    refuse, a flag of state's own, a second argument).  What this takes, the
    CLI parses the same (tests/unit/test_entry.py)."""
    opts: dict[str, str] = {}
    i, n = 0, len(argv)
    while i < n and argv[i].startswith("--"):
        name, eq, value = argv[i].partition("=")
        i += 1
        if name == "--systemd-cgroup" and (not eq or value in ("true", "false", "1", "0")):
            continue
        if name not in _STATE_FLAGS:
            return None
        if not eq:
            if i == n:
                return None
            value = argv[i]
            i += 1
        allowed = _STATE_FLAGS[name]
        if allowed is not None and value not in allowed:
            return None
        opts[name] = value
    if i + 2 != n or argv[i] != "state" or argv[i + 1].startswith("-"):
        return None
    return opts, argv[i + 1]


def _state(argv: list[str]) -> None:
    """``state ID`` without the CLI: podman and CRI-O call it again and
    again, and the CLI's modules (the parser's tables, the log, the
    commands) are most of what it costs beyond the interpreter's start
    (0.9 ms of 1.1 ms here). It creates the --log file, as every command
    does, and prints what the CLI's state prints (``Store.state_text``),
    then exits. State only reads, so on any failure it returns and the CLI
    does it all again, and says what went wrong as it always does."""
    call = state_call(argv)
    if call is None:
        return
    opts, cid = call
    from . import oslite as os
    from .state import Store

    if "OCIRUNTIME_TRACE" in os.environ or "OCIRUNTIME_TEST_KILL_AT" in os.environ:
        return  # what the CLI reads from the environment: --trace, the fault tests
    try:
        if "--log" in opts:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            os.close(os.open(opts["--log"], flags, 0o644))
        text = Store(opts.get("--root")).state_text(cid)
    except Exception:
        return
    sys.stdout.write(text + "\n")
    _exit(0)
