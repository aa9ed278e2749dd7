#!/usr/bin/python3
"""What a page fault costs on this machine, and how many a container takes.

A Python runtime touches a few MiB of fresh memory per call (the
interpreter's own start, then the objects its imports make), and a
forked process copies every page it writes that its parent still maps.
On a VM each fault can cost microseconds; this puts numbers on both:

* per 4 KiB page: a first touch of anonymous memory (one fault each), the
  same range filled by the kernel in one call (MADV_POPULATE_WRITE, Linux
  5.14), and a write to a page shared with the process it was forked from
  (copy on write);
* per call (root, with ``--ociruntime``): the page faults and CPU of the
  whole process tree (ru_minflt and user + system time from wait4): the
  launcher's bare interpreter, and ``run`` of /bin/true in a busybox
  bundle by ociruntime and runc, alternating.

    /usr/bin/python3 bench/page_faults.py [--pages 4000] [--runs 20]
        [--ociruntime ociruntime] [--runc runc]

README's eighth series (issue 16) quotes it: the init takes the first
child's memory over (ociruntime/linux/procattr.py: take_over) instead of a
copy, 500 fewer faults per container.
"""

from __future__ import annotations

import argparse
import ctypes
import mmap
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_run import build_bundle, interpreter_of  # noqa: E402

PAGE = mmap.PAGESIZE
MADV_POPULATE_WRITE = 23


def first_touch(pages: int) -> float:
    """us per page: one write to each page of fresh anonymous memory."""
    m = mmap.mmap(-1, pages * PAGE)
    t = time.perf_counter()
    for i in range(0, pages * PAGE, PAGE):
        m[i] = 1
    dt = time.perf_counter() - t
    t = time.perf_counter()  # the loop alone, on pages now present
    for i in range(0, pages * PAGE, PAGE):
        m[i] = 2
    loop = time.perf_counter() - t
    m.close()
    return (dt - loop) / pages * 1e6


def populate(pages: int) -> float | None:
    """us per page: the kernel fills the range in one madvise call."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    m = mmap.mmap(-1, pages * PAGE)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(m))
    t = time.perf_counter()
    ret = libc.madvise(addr, pages * PAGE, MADV_POPULATE_WRITE)
    dt = time.perf_counter() - t
    m.close()
    return None if ret else dt / pages * 1e6  # EINVAL before Linux 5.14


def copy_on_write(pages: int) -> float:
    """us per page: a forked child's first write to each page its parent holds."""
    m = mmap.mmap(-1, pages * PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    for i in range(0, pages * PAGE, PAGE):
        m[i] = 1
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        t = time.perf_counter()
        for i in range(0, pages * PAGE, PAGE):
            m[i] = 2
        dt = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(0, pages * PAGE, PAGE):
            m[i] = 3
        loop = time.perf_counter() - t
        os.write(w, repr((dt - loop) / pages * 1e6).encode())
        os._exit(0)
    os.close(w)
    out = os.read(r, 100)
    os.close(r)
    os.waitpid(pid, 0)
    m.close()
    return float(out)


def tree_cost(argv: list[str]) -> tuple[float, int]:
    """CPU (ms) and page faults of ``argv``'s process tree, from wait4."""
    pid = os.posix_spawnp(argv[0], argv, os.environ)
    _, status, ru = os.wait4(pid, 0)
    if status:
        raise SystemExit(f"page_faults.py: {shlex.join(argv)}: wait status {status}")
    return (ru.ru_utime + ru.ru_stime) * 1e3, ru.ru_minflt


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=4000, help="pages per memory measure")
    p.add_argument("--runs", type=int, default=20, help="calls per command")
    p.add_argument("--ociruntime", default=None, help="measure its run (root; a command line)")
    p.add_argument("--runc", default="runc", help="runc beside it, if on PATH")
    o = p.parse_args(argv)

    print(f"per 4 KiB page, median of 5 ({o.pages} pages each):")
    for name, f in (
        ("first touch of anonymous memory", first_touch),
        ("filled in one call (MADV_POPULATE_WRITE)", populate),
        ("copy on write after fork", copy_on_write),
    ):
        xs = [f(o.pages) for _ in range(5)]
        if None in xs:
            print(f"  {name:45} not supported by this kernel")
        else:
            print(f"  {name:45} {statistics.median(xs):6.2f} us")

    if o.ociruntime is None:
        return 0
    oci = shlex.split(o.ociruntime)
    cmds: dict[str, list[str]] = {}
    interp = interpreter_of(oci)
    if interp:
        cmds["the interpreter (-IS -c pass)"] = [interp, "-IS", "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="page-faults-") as tmp:
        work = Path(tmp)
        build_bundle(work / "bundle", oci)
        runtimes = {"ociruntime": oci}
        if shutil.which(shlex.split(o.runc)[0]):
            runtimes["runc"] = shlex.split(o.runc)
        for name, cmd in runtimes.items():
            (work / name).mkdir()
            cmds[f"{name} run /bin/true"] = [
                *cmd,
                "--root",
                str(work / name),
                "run",
                "-b",
                str(work / "bundle"),
            ]
        res: dict[str, list[tuple[float, int]]] = {k: [] for k in cmds}
        for i in range(o.runs):
            for k, cmd in cmds.items():  # alternating, so that drift hits all alike
                argv_i = [*cmd, f"pf{os.getpid()}-{i}"] if "run" in k else cmd
                time.sleep(0.05)
                res[k].append(tree_cost(argv_i))
    print(f"per call, the whole process tree, {o.runs} calls each (mean CPU, median faults):")
    for k, xs in res.items():
        cpu = statistics.mean(x[0] for x in xs)
        faults = statistics.median(x[1] for x in xs)
        print(f"  {k:45} {cpu:6.2f} ms CPU {faults:7.0f} page faults")
    return 0


if __name__ == "__main__":
    sys.exit(main())
