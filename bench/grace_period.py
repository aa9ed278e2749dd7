#!/usr/bin/python3
"""How long the first cgroup migration waits, and what a busy CPU does to it.

Moving a process into a cgroup (a write to cgroup.procs) takes the kernel's
cgroup_threadgroup_rwsem for writing; when no migration ran in the last RCU
grace period, the write first waits for one.  Every runtime pays this once
per container (ociruntime starts it early: ociruntime/cgroups/warmup.py).

This measures that wait for a no-op migration (a child writes "0" to the
cgroup.procs of the cgroup it is already in) while this process either
spins on the CPU, sleeps, or spins but calls sched_yield() every 0.5 ms.
On the project's VM (2 vCPUs, HZ=250) a spinning Python process stretched
the wait from ~11 ms to ~19-27 ms, and yielding brought it back: RCU's
kernel threads and softirq work need CPU time on our CPU to end the grace
period.  That is why the warm-up makes ociruntime yield between module
loads while the grace period is pending.

    /usr/bin/python3 bench/grace_period.py [--runs 15]

Run as root (it writes to cgroup.procs; nothing moves).
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from ociruntime.cgroups.warmup import own_procs_file  # noqa: E402


def one(path: str, mode: str) -> float | None:
    """Milliseconds until the child's no-op migration returns (None: > 100 ms)."""
    r, w = os.pipe()
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(path, os.O_WRONLY)
            os.write(fd, b"0")
            os.write(w, b"x")
        finally:
            os._exit(0)
    os.close(w)
    last = t
    done = None
    while time.perf_counter() - t < 0.1:
        if select.select([r], [], [], 0)[0]:
            done = time.perf_counter()
            break
        if mode == "sleep":
            time.sleep(0.0002)
        elif mode == "yield" and time.perf_counter() - last > 0.0005:
            os.sched_yield()
            last = time.perf_counter()
    os.waitpid(pid, 0)
    os.close(r)
    return None if done is None else (done - t) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    o = ap.parse_args()
    if os.geteuid() != 0:
        print("grace_period.py: run as root", file=sys.stderr)
        return 2
    path = own_procs_file()
    if path is None:
        print("grace_period.py: no cgroup.procs of our own cgroup found", file=sys.stderr)
        return 2
    print(f"no-op migration through {path}, {o.runs} runs per mode")
    for mode in ("spin", "sleep", "yield"):
        times = []
        for _ in range(o.runs):
            v = one(path, mode)
            times.append(v if v is not None else float("inf"))
            time.sleep(0.04)  # let the previous grace period's state go idle
        q = statistics.quantiles(times, n=10)
        print(
            f"  this process {mode:5s}: median {statistics.median(times):6.1f} ms"
            f"   p10 {q[0]:6.1f}   p90 {q[-1]:6.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
