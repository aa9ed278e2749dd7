#!/usr/bin/python3 -IS
"""A forked child's page faults, by what it runs before it exits.

Run by bench/page_faults.py in the launcher's interpreter with ``-IS``, as
the runtime runs: the runtime's side of create imported first (the config
loader and validator, the container API, the process side), then nine
children each of: exit at once; one small ``json.dumps``; fifty state
records through json and a ``Store``.  In CPython 3.11 every use of an
object writes its reference count, so any Python a forked child runs
copies pages of the interpreter's core objects that its parent also holds
(and the parent, running on, copies them back): README's account of the
lifecycle's page faults (issue 16) rests on it.  Nothing here but what the
runtime itself imports: ``statistics`` or ``threading`` would add at-fork
hooks of their own.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ociruntime.config.load  # noqa: E402, F401
import ociruntime.config.validate  # noqa: E402, F401
import ociruntime.container  # noqa: E402, F401
import ociruntime.process.runtime  # noqa: E402, F401
from ociruntime.state import Store  # noqa: E402


def small() -> None:
    json.dumps({"a": 1, "b": [1, 2, 3]})


def records() -> None:
    for i in range(50):
        json.loads(json.dumps({"id": "x", "pid": i, "status": "created", "annotations": {}}))
    Store("/nonexistent")


def main() -> None:
    print(
        "a forked child's page faults, by what it runs (median of 9; the runtime's modules loaded):"
    )
    for name, work in (
        ("exits at once", lambda: None),
        ("one small json.dumps", small),
        ("50 state records, a Store", records),
    ):
        counts = []
        for _ in range(9):
            pid = os.fork()
            if pid == 0:
                work()
                os._exit(0)
            counts.append(os.wait4(pid, 0)[2].ru_minflt)
        print(f"  {name:45} {sorted(counts)[4]:6d}")


if __name__ == "__main__":
    main()
