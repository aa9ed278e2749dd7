"""The command's entry point (the installed launcher and ``python -m ociruntime``).

What happens here rather than in the CLI module pays off only when done
before it is imported: the cyclic garbage collector is switched off; a
foreground run or exec blocks the signals it will forward; and the process
ends with ``os._exit`` once its output is flushed, skipping the
interpreter's teardown, which frees every object only for the kernel to
drop the whole address space a moment later.

The container's first child used to be forked here, to import the
container side on the other CPU while the runtime checked the config.  It
no longer is (2026-12-06, issue 16): measured side by side, forking it
late from the runtime (process/first_child.fork) costs 5-10% less CPU per
run and lifecycle, and 20 parallel runs 5-10% less wall time, for the same
wall time of one run.  The early child and the runtime each copied the
interpreter's heap pages they wrote and each imported the modules they
share; the late child inherits them.
"""

import sys

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
    from .cli import main as cli_main

    code = cli_main(argv, t0)
    from . import oslite as os

    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)
