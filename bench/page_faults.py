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
* a forked child's faults by what it runs before it exits (nothing, a
  small ``json.dumps``, fifty state records), the runtime's modules
  loaded: what any Python after a fork costs;
* per call (root, with ``--ociruntime``): the page faults and CPU of the
  whole process tree (ru_minflt and user + system time from wait4): the
  launcher's bare interpreter, and ``run`` of /bin/true in a busybox
  bundle by ociruntime and runc, alternating.

* per process of a lifecycle (``--lifecycle``): create, start and delete
  and the container's init (its own process tree; ``create``'s includes
  the processes it waited for: our first child, runc's ``runc init``
  stages), for ociruntime and runc alternating; with ``--kinds`` (needs
  ``perf``), each process's faults by kind, from the kernel's
  ``exceptions:page_fault_user`` tracepoint: a write to a page already
  mapped (error code 0x7: a copy on write, mostly pages shared with the
  process it was forked from, or the binary's data), a write to a page not
  yet mapped (0x6: fresh memory), a read (0x4) or an instruction fetch
  (0x14) of one not mapped.

    /usr/bin/python3 bench/page_faults.py [--pages 4000] [--runs 20]
        [--ociruntime ociruntime] [--runc runc] [--lifecycle [--kinds]]

README's eighth series (issue 16) quotes it: the init takes the first
child's memory over (ociruntime/linux/procattr.py: take_over) instead of a
copy, 500 fewer faults per container.  Its eleventh (``--lifecycle
--kinds``) finds where a lifecycle's faults beyond runc's go: the copies
on write between the runtime and its forked first child.
"""

from __future__ import annotations

import argparse
import ctypes
import json
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
    p.add_argument("--lifecycle", action="store_true", help="faults per process of a lifecycle")
    p.add_argument("--kinds", action="store_true", help="with --lifecycle: by kind (needs perf)")
    o = p.parse_args(argv)
    if o.lifecycle and o.kinds:
        return kinds_main(sys.argv[1:] if argv is None else argv, o.runs)
    if o.lifecycle:
        return lifecycle_main(o)

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

    # in a bare interpreter of its own, as the runtime's (this one has
    # threading and its at-fork hooks loaded)
    import subprocess

    interp = (interpreter_of(shlex.split(o.ociruntime)) if o.ociruntime else None) or sys.executable
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fork_tax.py")
    sys.stdout.flush()
    subprocess.run([interp, "-IS", script], check=True)

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


ROLES = ("create", "start", "init", "delete")
# error codes of exceptions:page_fault_user (x86: bit 0 present, 1 write, 2 user, 4 fetch)
KINDS = {
    "0x7": "write, mapped (copy on write)",
    "0x6": "write, not mapped",
    "0x4": "read, not mapped",
    "0x14": "fetch, not mapped",
}


def lifecycle_once(cmd: list[str], root: Path, bundle: Path, cid: str, seen: dict) -> dict:
    """One create, start, init's exit and delete; per role (CPU ms, faults),
    and in ``seen`` the pid of each role's process (the init: from --pid-file)."""
    out = {}
    pid_file = root / f"{cid}.pid"
    steps = (
        ("create", ["create", "--pid-file", str(pid_file), "-b", str(bundle), cid]),
        ("start", ["start", cid]),
        ("delete", ["delete", cid]),
    )
    for role, args in steps:
        argv = [*cmd, "--root", str(root), *args]
        pid = os.posix_spawnp(argv[0], argv, os.environ)
        seen[pid] = role
        _, status, ru = os.wait4(pid, 0)
        if status:
            raise SystemExit(f"page_faults.py: {shlex.join(argv)}: wait status {status}")
        out[role] = ((ru.ru_utime + ru.ru_stime) * 1e3, ru.ru_minflt)
        if role == "create":
            init = int(pid_file.read_text())
            seen[init] = "init"
        if role == "start":  # the init (now /bin/true) is ours to reap: we are its subreaper
            _, status, ru = os.wait4(init, 0)
            out["init"] = ((ru.ru_utime + ru.ru_stime) * 1e3, ru.ru_minflt)
    pid_file.unlink()
    return out


def lifecycle_main(o) -> int:
    """Faults and CPU per process of create/start/delete, ociruntime and runc."""
    if o.ociruntime is None:
        raise SystemExit("page_faults.py: --lifecycle needs --ociruntime")
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: the inits come to us
    runtimes = {"ociruntime": shlex.split(o.ociruntime)}
    if shutil.which(shlex.split(o.runc)[0]):
        runtimes["runc"] = shlex.split(o.runc)
    seen: dict[int, str] = {}
    owner: dict[int, str] = {}
    res = {k: {r: [] for r in ROLES} for k in runtimes}
    with tempfile.TemporaryDirectory(prefix="page-faults-") as tmp:
        work = Path(tmp)
        build_bundle(work / "bundle", runtimes["ociruntime"])
        for i in range(o.runs):
            for name, cmd in runtimes.items():
                (work / name).mkdir(exist_ok=True)
                time.sleep(0.05)
                before = set(seen)
                got = lifecycle_once(
                    cmd, work / name, work / "bundle", f"pfl{os.getpid()}-{i}", seen
                )
                for pid in set(seen) - before:
                    owner[pid] = name
                for role, v in got.items():
                    res[name][role].append(v)
    print(f"per process of create, start, delete ({o.runs} lifecycles; mean CPU, median faults):")
    for name, roles in res.items():
        total = [0.0, 0.0]
        for role in ROLES:
            cpu = statistics.mean(x[0] for x in roles[role])
            faults = statistics.median(x[1] for x in roles[role])
            total = [total[0] + cpu, total[1] + faults]
            print(f"  {name:10} {role:8} {cpu:6.2f} ms CPU {faults:7.0f} page faults")
        print(f"  {name:10} {'all':8} {total[0]:6.2f} ms CPU {total[1]:7.0f} page faults")
    dump = os.environ.get("PAGE_FAULTS_PIDS")
    if dump:  # under perf (kinds_main): the roles of the pids, for the parent
        Path(dump).write_text(json.dumps({"seen": seen, "owner": owner}))
    return 0


def kinds_main(argv: list[str], runs: int) -> int:
    """Run this script's --lifecycle under ``perf record`` (the fault
    tracepoint and forks), then count each role's faults by kind."""
    import subprocess

    if shutil.which("perf") is None:
        raise SystemExit("page_faults.py: --kinds needs perf (Debian: linux-perf)")
    with tempfile.TemporaryDirectory(prefix="page-faults-perf-") as tmp:
        data, pids = f"{tmp}/perf.data", f"{tmp}/pids.json"
        args = [a for a in argv if a != "--kinds"]
        env = dict(os.environ, PAGE_FAULTS_PIDS=pids)
        rec = [
            "perf",
            "record",
            "-q",
            "-e",
            "exceptions:page_fault_user",
            "-e",
            "sched:sched_process_fork",
            "-o",
            data,
            "--",
        ]
        subprocess.run(
            [*rec, sys.executable, os.path.abspath(__file__), *args], env=env, check=True
        )
        roles = json.loads(Path(pids).read_text())
        out = subprocess.run(
            ["perf", "script", "-i", data, "-F", "pid,event,trace"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    seen = {int(k): v for k, v in roles["seen"].items()}
    owner = {int(k): v for k, v in roles["owner"].items()}
    kinds(out, seen, owner, runs)
    return 0


def kinds(out: str, seen: dict[int, str], owner: dict[int, str], runs: int) -> None:
    """From ``perf script`` lines: faults per role and kind.  A pid the
    harness did not start is a descendant of one it did (our first child,
    runc's init stages): "create's children"."""
    parent: dict[int, int] = {}
    counts: dict[tuple[str, str, str], int] = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 3:
            continue
        if f[1].startswith("sched:sched_process_fork"):
            kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
            parent[int(kv["child_pid"])] = int(kv["pid"])
            continue
        pid = int(f[0])
        code = next((x.split("=", 1)[1] for x in f[2:] if x.startswith("error_code=")), None)
        p, hops = pid, 0
        while p not in seen and p in parent and hops < 10:
            p, hops = parent[p], hops + 1
        if p not in seen or code is None:
            continue
        role = seen[p] if p == pid else f"{seen[p]}'s children"
        key = (owner.get(p, "?"), role, code)
        counts[key] = counts.get(key, 0) + 1
    print(f"by kind (perf, exceptions:page_fault_user; per lifecycle, {runs} lifecycles):")
    for name in sorted({k[0] for k in counts}):
        for role in sorted({k[1] for k in counts if k[0] == name}, key=_role_order):
            row = {c: n / runs for (nm, r, c), n in counts.items() if nm == name and r == role}
            parts = ", ".join(
                f"{KINDS.get(c, c)} {n:.0f}" for c, n in sorted(row.items(), key=lambda x: -x[1])
            )
            print(f"  {name:10} {role:18} {sum(row.values()):6.0f}: {parts}")


def _role_order(role: str) -> tuple[int, str]:
    return (ROLES.index(role.split("'")[0]) if role.split("'")[0] in ROLES else 9, role)


if __name__ == "__main__":
    sys.exit(main())
