#!/usr/bin/python3
"""How long joining a new cgroup takes, by the way a process gets there.

Writing a pid to cgroup.procs moves a whole thread group: the kernel takes
its global cgroup_threadgroup_rwsem for writing, and when no migration ran
in the last RCU grace period that first waits for one (5-25 ms on the
project's VM).  runc and crun pay it once per container.  Two ways in skip
that lock, and ociruntime's container side uses both
(ociruntime/cgroups/base.py: join_self; linux/syscalls.py: clone_fork):

* ``tasks``: a single-threaded process writes "0" to each v1 hierarchy's
  ``tasks`` file, moving only the calling thread;
* ``clone3``: the child is born in a cgroup2 directory (clone3 with
  CLONE_INTO_CGROUP), so nothing migrates.

Each sample makes fresh cgroups (every v1 hierarchy, or the cgroup2 mount),
idles 100 ms so that the previous sample's grace period is over, forks a
child and times its way in:

    /usr/bin/python3 bench/grace_period.py [--runs 15]

Run as root.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ociruntime.cgroups import base, layout  # noqa: E402
from ociruntime.cgroups.v1 import _fill_cpuset, hierarchies  # noqa: E402


def cgroup2_root() -> str | None:
    return {"v2": "/sys/fs/cgroup", "hybrid": "/sys/fs/cgroup/unified"}.get(layout())


def make(mode: str) -> list[str]:
    name = f"ociruntime-gp-{uuid.uuid4().hex[:8]}"
    if mode in ("clone3", "cgroup.procs (cgroup2)"):
        dirs = [f"{cgroup2_root()}/{name}"]
    else:
        dirs = sorted({f"{mp}/{name}" for mp in hierarchies().values()})
    for d in dirs:
        os.mkdir(d)
        if os.path.exists(os.path.join(d, "cpuset.cpus")):
            _fill_cpuset(d)
    return dirs


def one(mode: str) -> float:
    """Milliseconds until the forked child is in the new cgroups."""
    dirs = make(mode)
    try:
        time.sleep(0.1)
        r, w = os.pipe()
        t = time.perf_counter()
        if mode == "clone3":
            from ociruntime.linux import syscalls as sc

            fd = os.open(dirs[0], os.O_PATH | os.O_DIRECTORY)
            pid = sc.clone_fork(0, fd, dirs[0])
            if pid:
                os.close(fd)
        else:
            pid = os.fork()
        if pid == 0:
            try:
                if mode == "tasks":
                    base.join_self(dirs)
                elif mode.startswith("cgroup.procs"):
                    for d in dirs:
                        base.write(d + "/cgroup.procs", "0")
                os.write(w, b"x")
            finally:
                os._exit(0)
        os.close(w)
        os.read(r, 1)
        took = (time.perf_counter() - t) * 1000
        os.close(r)
        os.waitpid(pid, 0)
        return took
    finally:
        for d in dirs:
            base.rmdir(d)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument(
        "--pair",
        action="store_true",
        help="only the way runc and crun join and ociruntime's, as this host has them first"
        " (v1, or pure v2's cgroup2): bench_run.py's wall floors",
    )
    ap.add_argument(
        "--json", metavar="FILE", help='also write {"modes": [...], "medians": {mode: ms}} to FILE'
    )
    o = ap.parse_args()
    if os.geteuid() != 0:
        print("grace_period.py: run as root", file=sys.stderr)
        return 2
    modes = []
    if layout() != "v2":
        modes += ["cgroup.procs (v1)", "tasks"]
    if cgroup2_root():
        modes += ["cgroup.procs (cgroup2)", "clone3"]
    if o.pair:
        modes = modes[:2]  # (cgroup.procs, ours) of v1 where there is v1, else of cgroup2
    print(f"fork and join fresh cgroups ({layout()} host), {o.runs} runs each, after 100 ms idle")
    medians = {}
    for mode in modes:
        times = [one(mode) for _ in range(o.runs)]
        medians[mode] = statistics.median(times)
        q = statistics.quantiles(times, n=10)
        print(
            f"  {mode:24s} median {statistics.median(times):6.2f} ms"
            f"   p10 {q[0]:6.2f}   p90 {q[-1]:6.2f}"
        )
    if o.json:
        import json

        with open(o.json, "w") as f:
            json.dump({"modes": modes, "medians": medians}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
