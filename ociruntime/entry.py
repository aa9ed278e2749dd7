"""The command's entry point (the installed launcher and ``python -m ociruntime``).

What happens here rather than in the CLI module pays off only when done
before it is imported: the cyclic garbage collector is switched off; for
create, run and exec the container's first child (or exec's) is forked
(process/first_child.py); and the process ends with ``os._exit``
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
    from .cli import main as cli_main

    code = cli_main(argv, t0)
    first_child = sys.modules.get("ociruntime.process.first_child")
    if first_child is not None:
        # an early child nobody took (an error, or "run" was only an id): let it go
        first_child.cancel()
    from . import oslite as os

    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)
