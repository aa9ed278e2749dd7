#!/usr/bin/python3
"""Benchmark ociruntime against runc and crun: wall time, CPU, peak RSS, load.

Cases, on a private copy of the busybox bundle running /bin/true (``sleep``
where a running container is needed):

* ``run``: ``RUNTIME --root R run -b BUNDLE ID``
* ``lifecycle``: ``create ID && start ID && delete -f ID``, one shell
  command (youki's published hyperfine line, without its drop_caches)
* ``state``: ``state ID`` of a running container; beside it the runtime's
  interpreter alone (``PYTHON -IS -c pass``, the launcher's #! interpreter)
* ``exec``: ``exec ID /bin/true`` into such a container
* ``parallel``: ``--parallel`` (20) ``run`` started at once by one shell
* ``features``: ``features`` (crun 1.8 has none: n/a)
* ``rss``: peak RSS of ``run``, ``/usr/bin/time -f %M`` (ru_maxrss of the
  waited tree: its largest process, the runtime or its init before the
  exec; GNU time sits inside crun's wrapper, which is not counted)
* ``load``: ``--load-workers`` (8) threads each looping create, start,
  wait for the init's exit, delete for ``--load-seconds`` (60) per runtime,
  one runtime at a time, in ``--load-rounds`` (4) that rotate the
  runtimes: containers per second and CPU per container.

Timing, warm-up and statistics are hyperfine's (``--export-json``).
hyperfine finishes one command's runs before it starts the next, so it
cannot alternate runtimes within an iteration: each (case, runtime) is
measured in rounds of ``--round`` (10) runs, one hyperfine call each with
``--warmup`` (1) of its own, and the runtimes' order rotates every round,
so that drift in the machine's load hits all of them alike.  ``state``,
whose target is a line about 1 ms from the bare interpreter's start (both
some 10 ms), is measured three times as often in rounds of 2: the
machine's speed drifts by more than that from one round of 10 to the
next.  The harness only joins each runtime's ``times`` and takes median,
p10 and p90.
Commands run without a shell (``-N``) but for lifecycle and parallel,
where hyperfine subtracts its calibrated shell start-up.

CPU is the kernel's accounting of the whole process tree the runtime
starts: hyperfine's user+system, getrusage(RUSAGE_CHILDREN) around each
run, i.e. every descendant that was waited for.  An init that outlives
``create`` is reparented, and it does much of the work (``runc init``,
crun's and ociruntime's forked init), so the harness makes itself a child
subreaper: such orphans come to it, it reaps them and adds their CPU,
divided by the runs of the hyperfine call (warm-ups included), to
hyperfine's mean.  The container's own /bin/true cannot be left out: it
is the init after its exec, one process.  It is the same static busybox
for all three; the harness prints what it costs run directly.  CPU figures
are means (per container for load), wall figures medians.

After each sample that moves a process into a cgroup (run, lifecycle,
exec, parallel, rss) the host idles ``--gap`` ms (50), as hyperfine's
``--prepare 'sleep 0.05'``.  The first write of a pid to cgroup.procs after
a quiet spell waits for an RCU grace period (bench/grace_period.py; runc
and crun move their init that way, ociruntime's container side joins in
ways that do not wait); back to back, a run that starts within a grace
period of the previous run's move skips most of that wait, so figures
would depend on who ran just before.  With the gap every sample starts as
on a quiet host (``--gap 0``: back to back).

load waits for each init with waitpid (the harness is its subreaper; its
pid comes from ``create --pid-file``): free and the same for every
runtime.  The harness's own CPU is printed apart, not counted.

crun 1.8 refuses this host's cgroup v1 "hybrid" layout (cgroup2 at
/sys/fs/cgroup/unified), so there crun runs inside ``unshare -m sh -c
'umount /sys/fs/cgroup/unified; exec "$@"'`` (state, exec and features
try without it first).  Its wall and CPU cost is measured (busybox true
with and without it); targets against crun use crun's figures less that
cost per wrapped call (run 1, lifecycle 3); parallel as measured.

Ratios are ociruntime / other.  The targets (issue 16) are in TARGETS and
printed met or not, each with its floor where one applies (floors()): the
peer's figure with its program starts replaced by ociruntime's interpreter
starts, both timed bare in the same run; for a wall-time target also less
the cgroup grace period the peer waits for and ociruntime does not
(grace_wait(): bench/grace_period.py's joins, cgroup.procs against ours).

Beside run and parallel it also measures ``bench/python_floor.py`` (the
"python floor" row, on the launcher's interpreter): a runtime in Python
that only does the kernel's work, one interpreter and no fork of it.  No
runtime in Python can spend less on the same ``run``, so each target of
those cases also gets "Python's floor", its ratio with the script in
ociruntime's place (python_floors()): a target the script misses is out of
reach from Python (``--no-python-floor``: not measured).  Run as root with
the system interpreter::

    /usr/bin/python3 bench/bench_run.py --json bench/out/run.json --png --readme-png
    /usr/bin/python3 bench/bench_run.py --cases run,state --no-crun --runs 10
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PNG = REPO / "bench" / "out" / "bench.png"
README_PNG = REPO / "docs" / "bench.png"
UNIFIED = "/sys/fs/cgroup/unified"
GNU_TIME = "/usr/bin/time"
CRUN_WRAPPER = ["unshare", "-m", "sh", "-c", f'umount {UNIFIED} 2>/dev/null; exec "$@"', "w"]
SLEEP_ARGS = ["sleep", "1000000"]
BASELINE = "python3 -IS -c pass"  # measured beside state
# measured beside run and parallel: the least a Python runtime can spend (python_floor.py)
PYFLOOR = "python floor"
PYFLOOR_SCRIPT = REPO / "bench" / "python_floor.py"
PYFLOOR_CASES = ("run", "parallel")


@dataclass(frozen=True)
class Case:
    name: str
    label: str  # {n}: --parallel, {w}: --load-workers
    unit: str = "ms"  # ms: wall time; MiB: rss; /s: load
    wrapped_calls: int | None = 1  # crun wrapper runs per sample; None: not estimable
    crun_wrapped: bool = True  # False: try crun without the wrapper first
    container: bool = False  # needs a running sleep container
    migrates: bool = False  # moves a process into a cgroup: --gap before each sample
    shell: bool = False  # a shell command line, else hyperfine -N
    reduced: bool = False  # expensive: runs/5 in rounds of round/5
    fine: bool = False  # cheap, its target a line ~1 ms off: 3x runs in rounds of 2


CASES = {
    c.name: c
    for c in (
        Case("run", "run /bin/true", migrates=True),
        Case("lifecycle", "create+start+delete -f", wrapped_calls=3, migrates=True, shell=True),
        Case("state", "state (running)", crun_wrapped=False, container=True, fine=True),
        Case("exec", "exec /bin/true", crun_wrapped=False, container=True, migrates=True),
        Case(
            "parallel", "{n}x run in parallel", "ms", None, migrates=True, shell=True, reduced=True
        ),
        Case("features", "features", crun_wrapped=False),
        Case("rss", "peak RSS of run", "MiB", 0, migrates=True, reduced=True),
        Case("load", "{w} loops create/start/wait/delete", "/s", None),
    )
}
# Program starts per sample: each CLI call is one, and runc's init is a second
# start of runc (``runc init``); crun and ociruntime fork theirs.  See floors().
STARTS = {
    "run": {"ociruntime": 1, "runc": 2, "crun": 1},
    "lifecycle": {"ociruntime": 3, "runc": 4, "crun": 3},
    "load": {"ociruntime": 3, "runc": 4, "crun": 3},
    "parallel": {"ociruntime": 1, "runc": 2, "crun": 1},  # times --parallel
}
# (text, case, metric, peer, limit): met when ociruntime / peer <= limit (load: >=);
# peer BASELINE: met when ociruntime <= baseline + limit ms.  Case None: n/a.
TARGETS = (
    ("run /bin/true wall <= 0.9x runc", "run", "value", "runc", 0.9),
    ("run /bin/true wall <= 1.0x crun", "run", "value", "crun", 1.0),
    ("run /bin/true CPU <= 1.0x runc", "run", "cpu_ms", "runc", 1.0),
    ("run /bin/true CPU <= 1.5x crun", "run", "cpu_ms", "crun", 1.5),
    ("create+start+delete -f wall <= 1.0x runc", "lifecycle", "value", "runc", 1.0),
    ("create+start+delete -f CPU <= 1.0x runc", "lifecycle", "cpu_ms", "runc", 1.0),
    ("{n} runs in parallel wall <= 0.9x runc", "parallel", "value", "runc", 0.9),
    ("{n} runs in parallel wall <= 1.3x crun", "parallel", "value", "crun", 1.3),
    ("{w} loops: containers/s >= runc's", "load", "value", "runc", 1.0),
    ("state <= python3 -IS -c pass + 1 ms", "state", "value", BASELINE, 1.0),
    ("peak RSS of run <= runc", "rss", "value", "runc", 1.0),
    ("create --systemd-cgroup in the systemd guest <= 1.0x runc", None, "", "", 0),
)


class BenchError(Exception):
    pass


class Reaper:
    """The harness as child subreaper, with one thread that reaps every child.

    Every process the harness starts goes through spawn(), so the thread is
    the only waiter.  Exits of spawned and expect()ed pids are kept for
    wait(); the others are orphans (containers' inits reparented here),
    their CPU summed in ``orphan_cpu``; ``cpu`` sums every reaped process.
    """

    def __init__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
            raise BenchError(f"PR_SET_CHILD_SUBREAPER: {os.strerror(ctypes.get_errno())}")
        self.cond = threading.Condition()
        self.awaited: set[int] = set()
        self.results: dict[int, int] = {}  # pid: exit code
        self.spawns, self.cpu, self.orphan_cpu = 0, 0.0, 0.0
        self.null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        seen = 0
        while True:
            try:
                pid, status, ru = os.wait4(-1, 0)
            except ChildProcessError:  # no descendants at all until the next spawn
                with self.cond:
                    self.cond.wait_for(lambda s=seen: self.spawns != s, timeout=1.0)
                    seen = self.spawns
                continue
            with self.cond:
                self.cpu += ru.ru_utime + ru.ru_stime
                if pid in self.awaited:
                    self.awaited.discard(pid)
                    self.results[pid] = os.waitstatus_to_exitcode(status)
                    self.cond.notify_all()
                else:
                    self.orphan_cpu += ru.ru_utime + ru.ru_stime

    def spawn(self, argv: list[str], err: int | None = None) -> int:
        fds = [(os.POSIX_SPAWN_DUP2, fd, n) for n, fd in enumerate((self.null,) * 2 + (err,))]
        with self.cond:  # registered before the thread can see it exit
            pid = os.posix_spawnp(
                argv[0],
                argv,
                os.environ,
                file_actions=[a for a in fds if a[1] is not None],
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
            )
            self.awaited.add(pid)
            self.spawns += 1
            self.cond.notify_all()
        return pid

    def expect(self, pid: int) -> None:
        """Keep the exit of a living orphan (a container's init) for wait()."""
        with self.cond:
            self.awaited.add(pid)

    def wait(self, pid: int, timeout: float | None = None) -> int:
        with self.cond:
            if not self.cond.wait_for(lambda: pid in self.results, timeout):
                raise BenchError(f"pid {pid} did not exit within {timeout} s")
            return self.results.pop(pid)

    def run(self, argv: list[str], err: int | None = None) -> int:
        return self.wait(self.spawn(argv, err if err is not None else self.null))

    def settle(self) -> None:
        """Return once the thread has reaped every child that has exited."""
        try:
            while os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                time.sleep(0.001)
        except ChildProcessError:
            pass


class Runtime:
    """A runtime under test (or, with ``fixed``, a command measured beside)."""

    def __init__(self, name, argv, bundles, work: Path, reaper, prefix=(), fixed=None):
        self.name, self.argv, self.prefix, self.fixed = name, argv, list(prefix), fixed
        self.bundle, self.sleep_bundle = bundles
        self.reaper, self.root = reaper, work / f"root-{name.split()[0]}"
        self.root.mkdir()
        self.log_path = work / f"{name.split()[0]}.err"
        self.err = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC)
        self.wrap, self.sleeper = True, None

    def cmd(self, *args: str, inner=()) -> list[str]:
        prefix = self.prefix if self.wrap else []
        return [*prefix, *inner, *self.argv, "--root", str(self.root), *args]

    def fail(self, what: str, code: int) -> BenchError:
        tail = self.log_path.read_text(errors="replace")[-3000:].strip() or "(empty)"
        return BenchError(f"{self.name}: {what} exited with {code}\n--- stderr ---\n{tail}")

    def call(self, *args: str) -> None:
        if code := self.reaper.run(self.cmd(*args), self.err):
            raise self.fail(f"`{shlex.join(self.cmd(*args))}`", code)

    def command(self, case: str, tag: str, o) -> str:
        """The command line that hyperfine times for one sample of ``case``."""
        b, j = str(self.bundle), lambda *a, **k: shlex.join(self.cmd(*a, **k))
        if self.fixed:
            return shlex.join(self.fixed)
        if case == "lifecycle":
            return f"{j('create', '-b', b, tag)} && {j('start', tag)} && {j('delete', '-f', tag)}"
        if case == "parallel":
            runs = [f"{j('run', '-b', b, f'{tag}-{i}')} & p{i}=$!" for i in range(o.parallel)]
            waits = [f"wait $p{i} || r=1" for i in range(o.parallel)]
            return "; ".join([*runs, "r=0", *waits, "exit $r"])
        if case == "rss":
            rss = str(self.root.parent / f"{tag}.rss")
            return j("run", "-b", b, tag, inner=(GNU_TIME, "-a", "-f", "%M", "-o", rss))
        args = {"run": ("run", "-b", b, tag), "state": ("state", self.sleeper)}
        args |= {"exec": ("exec", self.sleeper, "/bin/true"), "features": ("features",)}
        return j(*args[case])

    def start_sleeper(self) -> None:
        self.wrap, self.sleeper = True, f"sleep-{self.name}"
        self.call("create", "-b", str(self.sleep_bundle), self.sleeper)
        self.call("start", self.sleeper)

    def cleanup(self) -> None:
        """Force-delete whatever is left in the state root."""
        self.wrap, self.sleeper = True, None
        for name in sorted(os.listdir(self.root)):
            if (self.root / name).is_dir():
                self.reaper.run(self.cmd("delete", "-f", name))
        self.reaper.settle()


def stats(xs: list[float]) -> dict:
    q = statistics.quantiles(xs, n=10, method="inclusive") if len(xs) > 1 else xs * 9
    out = {"n": len(xs), "median": statistics.median(xs), "p10": q[0], "p90": q[-1]}
    return out | {"min": min(xs), "max": max(xs), "samples": xs}


def hyperfine(reaper, command: str, runs: int, warmup: int, shell: bool, gap_ms: float, work):
    """One hyperfine call: its runs' wall times (ms) and the mean CPU per run (ms)."""
    out, log = work / "hyperfine.json", work / "hyperfine.err"
    argv = ["hyperfine", "--style", "none", "--output", "inherit", "--export-json", str(out)]
    argv += ["--runs", str(runs), "--warmup", str(warmup), *([] if shell else ["-N"])]
    argv += ["--prepare", f"sleep {gap_ms / 1000:g}"] if gap_ms > 0 else []
    orphans = reaper.orphan_cpu
    with open(log, "wb") as f:
        code = reaper.run([*argv, command], f.fileno())
    reaper.settle()
    if code:
        raise BenchError(f"hyperfine exited with {code} for: {command}\n{log.read_text()[-3000:]}")
    res = json.loads(out.read_text())["results"][0]
    orphan_ms = (reaper.orphan_cpu - orphans) * 1000.0 / (runs + warmup)
    return [t * 1000.0 for t in res["times"]], (res["user"] + res["system"]) * 1000.0 + orphan_ms


def probe(rt: Runtime, case: Case, o) -> str | None:
    """One unmeasured sample, which picks crun's wrapper; returns why n/a, if so."""
    for wrap in [False, True] if rt.prefix and not case.crun_wrapped else [True]:
        rt.wrap = wrap
        line = rt.command(case.name, f"probe-{case.name}-{rt.name.split()[0]}", o)
        if not (code := rt.reaper.run(["sh", "-c", line], rt.err)):
            return None
    if case.name == "features":
        return f"`features` exited with {code}"
    raise rt.fail(f"probe of {case.name} (`{line}`)", code)


def rotate(items: list, k: int) -> list:
    return items[k % len(items) :] + items[: k % len(items)]


def measure_case(case: Case, runtimes: list[Runtime], o, reaper, work) -> dict:
    """Rounds of hyperfine calls rotating the runtimes, joined per runtime."""
    res: dict = {"unavailable": {}, "crun_wrapped": None}
    active = []
    try:
        for rt in runtimes:
            if case.container and not rt.fixed:
                rt.start_sleeper()
            if why := probe(rt, case, o):
                res["unavailable"][rt.name], res[rt.name] = why, None
                continue
            active.append(rt)
            if rt.name == "crun":
                res["crun_wrapped"] = bool(rt.prefix and rt.wrap)
        total, size = o.runs, o.round
        if case.reduced:
            total, size = o.runs // 5 or 1, o.round // 5 or 1
        elif case.fine:
            total, size = o.runs * 3, min(o.round, 2)
        samples = {rt.name: [] for rt in active}
        cpu = {rt.name: 0.0 for rt in active}
        done = r = 0
        while done < total:
            n = min(size, total - done)
            for rt in rotate(active, r):
                tag = f"{case.name}-{rt.name.split()[0]}-{r}"
                gap = o.gap if case.migrates else 0
                line = rt.command(case.name, tag, o)
                wall, mean_cpu = hyperfine(reaper, line, n, o.warmup, case.shell, gap, work)
                cpu[rt.name] += mean_cpu * n / total
                if case.name == "rss":
                    rss = (work / f"{tag}.rss").read_text().split()[o.warmup :]
                    wall = [int(kib) / 1024.0 for kib in rss]
                samples[rt.name] += wall
            done, r = done + n, r + 1
    finally:
        for rt in runtimes:
            if rt.sleeper:
                rt.cleanup()
            rt.wrap = True
    for name, xs in samples.items():
        res[name] = stats(xs) | ({} if case.name == "rss" else {"cpu_ms": cpu[name]})
    return res | {"runs": total, "round": size, "warmup_per_round": o.warmup}


def load_loop(rt: Runtime, seconds: float, workers: int) -> list[float]:
    """Threads looping create/start/wait/delete: [containers, s, CPU s, harness CPU s]."""
    deadline, counts, errors = time.monotonic() + seconds, [0] * workers, []

    def worker(w: int) -> None:
        try:
            while time.monotonic() < deadline and not errors:
                cid = f"load-{rt.name}-{w}-{counts[w]}"
                pid_file = rt.root.parent / f"{cid}.pid"
                rt.call("create", "--pid-file", str(pid_file), "-b", str(rt.bundle), cid)
                pid = int(pid_file.read_text())
                rt.reaper.expect(pid)  # it cannot exit before start
                rt.call("start", cid)
                rt.reaper.wait(pid, timeout=60)
                rt.call("delete", cid)
                pid_file.unlink()
                counts[w] += 1
        except BaseException as e:  # re-raised below
            errors.append(e)

    rt.wrap = True
    cpu0, own0, t0 = rt.reaper.cpu, os.times(), time.monotonic()
    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    rt.reaper.settle()
    if errors:
        raise errors[0]
    own = os.times()
    own_cpu = own.user + own.system - own0.user - own0.system
    return [sum(counts), elapsed, rt.reaper.cpu - cpu0, own_cpu]


def measure_load(runtimes: list[Runtime], o) -> dict:
    total = {rt.name: [0, 0.0, 0.0, 0.0] for rt in runtimes}
    for r in range(o.load_rounds):
        for rt in rotate(runtimes, r):
            got = load_loop(rt, o.load_seconds / o.load_rounds, o.load_workers)
            total[rt.name] = [a + b for a, b in zip(total[rt.name], got, strict=True)]
    res: dict = {"unavailable": {}, "crun_wrapped": True if runtimes[-1].prefix else None}
    for name, (n, secs, cpu, own) in total.items():
        res[name] = {"containers": n, "seconds": round(secs, 2), "median": n / secs}
        res[name] |= {"cpu_ms": cpu * 1000 / max(n, 1), "harness_cpu_ms": own * 1000 / max(n, 1)}
    return res


def wrapper_cost(reaper, true: str, o, work, wrapped: bool) -> dict:
    """busybox true alone, and in crun's wrapper: wall medians, CPU means (ms)."""
    out = {}
    for name, argv in (("plain", [true]), ("wrapped", [*CRUN_WRAPPER, true]))[: 1 + wrapped]:
        wall, cpu = hyperfine(reaper, shlex.join(argv), o.runs, o.warmup, False, 0, work)
        out[name] = {"median_ms": statistics.median(wall), "cpu_ms": cpu}
    if wrapped:
        out["overhead_ms"] = out["wrapped"]["median_ms"] - out["plain"]["median_ms"]
        out["overhead_cpu_ms"] = out["wrapped"]["cpu_ms"] - out["plain"]["cpu_ms"]
    return out


def start_costs(reaper, interp: str | None, runtimes: list, o, work) -> dict:
    """Each program's bare start, ``{"cpu": {name: ms}, "wall": {name: ms}}``
    (CPU mean, wall median): the launcher's interpreter (``-IS -c pass``) for
    ociruntime, ``--version`` for runc and crun (unwrapped)."""
    out: dict = {"cpu": {}, "wall": {}}
    for rt in runtimes:
        argv = [interp, "-IS", "-c", "pass"] if rt.name == "ociruntime" else [*rt.argv, "--version"]
        if argv[0]:
            wall, cpu = hyperfine(reaper, shlex.join(argv), o.runs, o.warmup, False, 0, work)
            out["cpu"][rt.name], out["wall"][rt.name] = cpu, statistics.median(wall)
    return out


def grace_wait(reaper, runs: int, work) -> dict:
    """The wait in a cgroup join that runc and crun pay and ociruntime skips (ms).

    bench/grace_period.py's joins of fresh cgroups after an idle spell: a
    write to cgroup.procs (how runc and crun move their init, once per
    container) against ociruntime's way in (v1: "0" to ``tasks``; pure v2:
    clone3 into the directory).  The difference of the medians, at least 0,
    is what a peer's wall time holds that ociruntime's own work need not:
    wall floors take it out of the peer's figure.  It runs as a child of the
    harness (its forks are its own to wait for, not the reaper's)."""
    out_file = work / "grace.json"
    script = str(Path(__file__).resolve().parent / "grace_period.py")
    argv = [sys.executable, script, "--runs", str(runs), "--pair", "--json", str(out_file)]
    with open(work / "grace.err", "wb") as f:
        code = reaper.run(argv, f.fileno())
    if code:
        raise BenchError(f"grace_period.py exited with {code}: {(work / 'grace.err').read_text()}")
    got = json.loads(out_file.read_text())
    theirs, mine = got["modes"]
    out = {"runs": runs, "modes": [theirs, mine]}
    out["peer_ms"], out["ours_ms"] = got["medians"][theirs], got["medians"][mine]
    out["wait_ms"] = max(0.0, out["peer_ms"] - out["ours_ms"])
    return out


def floors(rows: dict, starts: dict, grace: float, targets: list[dict], o) -> dict:
    """What an interpreter per call leaves reachable, per target.

    A peer's figure per sample, with its program's starts taken out and as
    many interpreter starts as ociruntime makes put in: ociruntime's figure
    if its own work (arguments, config, namespaces, mounts, cgroups, exec)
    cost no more than the peer's.  The ratio of that floor to the peer's
    figure is the best ociruntime can reach without cheaper work than the
    peer's; a target below it cannot be met by trimming our work to the
    peer's.  CPU targets use the starts' CPU.  The parallel and load cases
    are CPU-bound on this machine (2 cores), so their wall and throughput
    targets are judged on the CPU floor too.  The wall targets of one
    ``run`` or lifecycle use the starts' wall time, which is on the critical
    path (runc's init start too), less ``grace``, the cgroup wait the peer
    pays once per container and ociruntime does not (grace_wait())."""
    out = {}
    cpu, wall = starts.get("cpu", {}), starts.get("wall", {})
    for t in targets:
        case, peer = t.get("case"), t.get("peer")
        if case not in STARTS or t.get("met") is None:
            continue
        by_wall = t["metric"] != "cpu_ms" and case not in ("parallel", "load")
        each = wall if by_wall else cpu
        if peer not in each or "ociruntime" not in each:
            continue
        row = rows[case]
        theirs = row["value" if by_wall else "cpu_ms"].get(peer)
        if not theirs:
            continue
        if peer == "crun" and t.get("note") and (by_wall or t["metric"] == "cpu_ms"):
            theirs = t["other"]  # less crun's wrapper, as the target
        k = o.parallel if case == "parallel" else 1
        n_mine, n_theirs = STARTS[case]["ociruntime"] * k, STARTS[case][peer] * k
        floor = theirs - n_theirs * each[peer] + n_mine * each["ociruntime"]
        if by_wall:
            floor -= grace
        ratio = floor / theirs
        if case == "load":  # containers/s: the inverse of CPU per container
            ratio = 1 / ratio
        t["floor"] = ratio
        t["reachable"] = ratio >= t["limit"] if case == "load" else ratio <= t["limit"]
        kind = "wall" if by_wall else "cpu"
        out[t["target"]] = {f"floor_{kind}_ms": floor, f"peer_{kind}_ms": theirs, "ratio": ratio}
    return out


# --- report ----------------------------------------------------------------


def summarize(case: Case, res: dict, names: list[str], label: str) -> dict:
    row = {"case": case.name, "label": label, "unit": case.unit}
    for key in ("value", "cpu_ms", "p10", "p90"):
        row[key] = {n: (res.get(n) or {}).get("median" if key == "value" else key) for n in names}
    for key, prefix in (("value", "ratio_vs_"), ("cpu_ms", "cpu_ratio_vs_")):
        mine = row[key]["ociruntime"]
        for other in ("runc", "crun"):
            theirs = row[key].get(other)
            row[prefix + other] = mine / theirs if mine is not None and theirs else None
    if BASELINE in res:
        row["baseline"] = (res[BASELINE] or {}).get("median")
    if res.get(PYFLOOR):
        row["pyfloor"] = {"value": res[PYFLOOR]["median"], "cpu_ms": res[PYFLOOR]["cpu_ms"]}
    return row


def evaluate_targets(rows: dict, wrapper: dict | None, o) -> list[dict]:
    out = []
    for text, case, metric, peer, limit in TARGETS:
        t = {"target": text.format(n=o.parallel, w=o.load_workers), "case": case, "met": None}
        out.append(t)
        if case is None or case not in rows:
            t["why"] = (
                "case not run"
                if case
                else "not measured here (no systemd): bench/systemd_create.py --install DIR in the"
                " systemd guest"
            )
            continue
        mine = rows[case][metric]["ociruntime"]
        theirs = rows[case].get("baseline") if peer == BASELINE else rows[case][metric].get(peer)
        if peer == "crun" and theirs and wrapper and CASES[case].wrapped_calls:
            cost = wrapper["overhead_ms" if metric == "value" else "overhead_cpu_ms"]
            theirs -= CASES[case].wrapped_calls * cost
            t["note"] = "crun without its wrapper, estimated"
        t |= {"metric": metric, "peer": peer, "ociruntime": mine, "other": theirs, "limit": limit}
        if mine is None or theirs is None:
            t["why"] = f"{peer} not measured"
        elif peer == BASELINE:
            t["met"] = mine <= theirs + limit
        else:
            t["ratio"] = mine / theirs
            t["met"] = t["ratio"] >= limit if case == "load" else t["ratio"] <= limit
    return out


def python_floors(rows: dict, targets: list[dict]) -> None:
    """Each target's ratio for bench/python_floor.py in ociruntime's place.

    That script is a runtime in Python that only does the kernel's work (no
    check, no state, no fork of the interpreter): no runtime in Python can
    cost less for the same ``run``, so a target it misses is out of reach
    from Python.  The peer's figure is the target's own (crun's less its
    wrapper where the target says so); the parallel case is measured as is,
    20 of the script at once."""
    for t in targets:
        floor = (rows.get(t["case"]) or {}).get("pyfloor")
        if floor is None or t["met"] is None or t["peer"] == BASELINE or not t["other"]:
            continue
        t["python_floor"] = floor[t["metric"]] / t["other"]
        t["python_reachable"] = t["python_floor"] <= t["limit"]


def fmt(v, unit="ms") -> str:
    return "n/a" if v is None else f"{v:.1f}" if v >= 100 or unit == "/s" else f"{v:.2f}"


def met_text(t: dict) -> str:
    if t["met"] is None:
        return "n/a"
    got = f"{t['ratio']:.2f}x" if "ratio" in t else f"{t['ociruntime']:.2f} vs {t['other']:.2f}"
    text = f"{got:>13}  {'met' if t['met'] else 'NOT met'}"
    if "floor" in t:
        text += f"  (floor {t['floor']:.2f}x{'' if t['reachable'] else ': out of reach'})"
    if "python_floor" in t:
        reach = "" if t["python_reachable"] else ": out of reach from Python"
        text += f"  (Python's floor {t['python_floor']:.2f}x{reach})"
    return text


def print_report(rows: list[dict], names: list[str], targets: list[dict]) -> None:
    table = [["case", "unit", *names, "vs runc", "vs crun"]]
    for r in rows:
        table.append([r["label"], r["unit"]])
        for n in names:
            cpu = r["cpu_ms"][n]
            table[-1].append(fmt(r["value"][n], r["unit"]) + (f" / {fmt(cpu)}" if cpu else ""))
        for w, c in (
            (r["ratio_vs_runc"], r["cpu_ratio_vs_runc"]),
            (r["ratio_vs_crun"], r["cpu_ratio_vs_crun"]),
        ):
            table[-1].append("-" if w is None else f"{w:.2f}x" + (f" / {c:.2f}x" if c else ""))
        if "baseline" in r:
            table.append([BASELINE, "ms", fmt(r["baseline"])] + [""] * (len(names) + 1))
        if "pyfloor" in r:
            f = r["pyfloor"]
            cells = [f"{fmt(f['value'])} / {fmt(f['cpu_ms'])}"] + [""] * (len(names) + 1)
            table.append([f"  {PYFLOOR} (bench/python_floor.py)", r["unit"], *cells])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    table.insert(1, ["-" * w for w in widths])
    print("\nwall median / CPU mean per sample; load: containers/s / CPU ms per container")
    print("ratios: ociruntime / other, wall / CPU")
    for row in table:
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  " + "  ".join(cells).rstrip())
    print("\ntargets (issue 16)")
    width = max(len(t["target"]) for t in targets)
    for t in targets:
        if t["met"] is None:
            print(f"  {t['target']:<{width}}  n/a: {t['why']}")
            continue
        note = f"  ({t['note']})" if "note" in t else ""
        print(f"  {t['target']:<{width}}  {met_text(t)}{note}")


def with_pyfloor(row: dict) -> dict:
    """A summary row with the python floor as one more bar (no p10-p90)."""
    floor = row.get("pyfloor") or {}
    out = dict(row)
    for key in ("value", "cpu_ms", "p10", "p90"):
        out[key] = dict(row[key]) | {PYFLOOR: floor.get(key)}
    return out


def draw_chart(report: dict, path: Path) -> None:
    """Panels of grouped bars (wall, CPU, RSS, containers/s) and the targets."""
    try:
        import matplotlib
    except ImportError:
        raise BenchError(f"--png needs matplotlib for {sys.executable}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, rows = list(report["runtimes"]), report["summary"]
    if any("pyfloor" in r for r in rows):  # a fourth bar where the script ran
        names, rows = names + [PYFLOOR], [with_pyfloor(r) for r in rows]
    colors = {"ociruntime": "#3b75af", "runc": "#ef8636", "crun": "#519e3e", PYFLOOR: "#9a9a9a"}
    by_unit = {u: [r for r in rows if r["unit"] == u] for u in ("ms", "MiB", "/s")}
    panels = [
        (by_unit["ms"], "value", "ratio_vs_", "wall time, ms: median, p10-p90"),
        (by_unit["ms"], "cpu_ms", "cpu_ratio_vs_", "CPU, ms: mean, the runtime's tree"),
        (by_unit["MiB"], "value", "ratio_vs_", "peak RSS, MiB: largest process"),
        (by_unit["/s"], "value", "ratio_vs_", "containers per second"),
    ]
    fig = plt.figure(figsize=(14, 9.5))
    grid = fig.add_gridspec(2, 6)
    spots = [grid[0, :3], grid[0, 3:], grid[1, 0], grid[1, 1]]
    panels = [(fig.add_subplot(at), *p) for at, p in zip(spots, panels, strict=True) if p[0]]
    bar = 0.8 / len(names)
    for ax, panel, key, rkey, title in panels:

        def high(r, key=key):  # the top of a group's bars and whiskers
            return max((r["p90"][n] if key == "value" else None) or r[key][n] or 0 for n in names)

        top = max(high(r) for r in panel)
        low = min((r[key][n] for r in panel for n in names if r[key][n]), default=top)
        log = panel[0]["unit"] == "ms" and top > 20 * low
        for j, name in enumerate(names):
            xs = [i + (j - (len(names) - 1) / 2) * bar for i in range(len(panel))]
            hs = [r[key][name] or 0 for r in panel]
            err = None
            if key == "value" and panel[0]["unit"] != "/s":
                err = [[h - (r["p10"][name] or h) for h, r in zip(hs, panel, strict=True)]]
                err += [[(r["p90"][name] or h) - h for h, r in zip(hs, panel, strict=True)]]
            ax.bar(xs, hs, bar, label=name, color=colors.get(name), yerr=err, capsize=2)
        for i, r in enumerate(panel):
            text = "\n".join(f"{r[rkey + o]:.2f}x {o}" for o in ("runc", "crun") if r[rkey + o])
            y = high(r) * 1.15 if log else high(r) + top * 0.03
            ax.text(i, y, text, ha="center", va="bottom", fontsize=7)
        if log:
            ax.set_yscale("log")
        ax.set_ylim(low * 0.5 if log else 0, top * (5 if log else 1.3))
        ax.set_xticks(range(len(panel)))
        ax.set_xticklabels([r["label"] for r in panel], fontsize=7.5, rotation=20, ha="right")
        ax.set_title(title + (" (log scale)" if log else ""), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    panels[0][0].legend(loc="upper left", fontsize=8)
    ax = fig.add_subplot(grid[1, 2:])
    ax.axis("off")
    lines = [f"{met_text(t):>22}  {t['target']}" for t in report["targets"]]
    ax.text(0.05, 1, "targets\n\n" + "\n".join(lines), va="top", fontsize=8, family="monospace")
    versions = "; ".join(v["version_line"] for v in report["runtimes"].values())
    fig.suptitle("ociruntime vs runc vs crun (ratios: ociruntime / other)", fontsize=10.5)
    foot = f"{machine_line(report['machine'])}; {versions}; {report['date']}"
    fig.text(0.01, 0.01, foot, fontsize=7, color="#444")
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- set-up ----------------------------------------------------------------


def version_of(argv: list[str]) -> str:
    try:
        out = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    return (out.stdout or out.stderr).strip() or "unknown"


def machine_info() -> dict:
    with open("/proc/cpuinfo") as f:
        models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
    with open("/proc/self/mountinfo") as f:
        fs = {ln.split()[4]: ln.split(" - ")[1].split()[0] for ln in f}
    layout = "v1 hybrid" if fs.get(UNIFIED) == "cgroup2" else "v1"
    layout = "v2" if fs.get("/sys/fs/cgroup") == "cgroup2" else layout
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": (models or ["?"])[0],
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cgroup_layout": layout,
        "python": platform.python_version(),
        "loadavg_at_start": list(os.getloadavg()),
    }


def machine_line(m: dict) -> str:
    return f"{m['cpu_model']}, nproc {m['nproc']}, Linux {m['kernel']}, cgroup {m['cgroup_layout']}"


def build_bundle(dest: Path, spec_cmd: list[str]) -> None:
    """Private busybox bundle running /bin/true without a terminal."""
    env = dict(os.environ, OCIRUNTIME=" ".join(spec_cmd), DEMO_ARGS='["/bin/true"]')
    script = str(REPO / "bundles" / "build-busybox.sh")
    proc = subprocess.run(["sh", script, str(dest)], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError(f"{script} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    config = json.loads((dest / "config.json").read_text())
    config["process"]["args"], config["process"]["terminal"] = ["/bin/true"], False
    (dest / "config.json").write_text(json.dumps(config, indent="\t") + "\n")


def derive_bundle(src: Path, dest: Path, args: list[str] | None, oci_version: str | None) -> None:
    """A bundle with src's config (other args / ociVersion) over src's rootfs."""
    config = json.loads((src / "config.json").read_text())
    if args is not None:
        config["process"]["args"] = args
    if oci_version is not None:
        config["ociVersion"] = oci_version
    config["root"]["path"] = str(src / config["root"]["path"])
    dest.mkdir()
    (dest / "config.json").write_text(json.dumps(config, indent="\t") + "\n")


def interpreter_of(argv: list[str]) -> str | None:
    """The Python that the ociruntime command runs (a launcher's #! line)."""
    path = shutil.which(argv[0])
    if "python" in os.path.basename(path):
        return path
    with open(path, "rb") as f:
        head = f.readline()
    return head[2:].split()[0].decode() if head.startswith(b"#!") and b"python" in head else None


def resolve_cmd(text: str, what: str) -> list[str]:
    argv = shlex.split(text)
    if not argv or shutil.which(argv[0]) is None:
        raise BenchError(f"{what} command {text!r} not found on PATH")
    return argv


def parse_cases(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    names = list(CASES) if names == ["all"] else names
    if not names or any(c not in CASES for c in names):
        raise argparse.ArgumentTypeError(f"{text!r}: choose from {','.join(CASES)} or all")
    return list(dict.fromkeys(names))


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = ap.add_argument
    add("--runs", type=int, default=50, help="measured runs per case and runtime (50)")
    add("--round", type=int, default=10, help="runs per hyperfine call; runtimes rotate (10)")
    add("--warmup", type=int, default=1, help="warm-up runs per hyperfine call (1)")
    add("--gap", type=float, default=50.0, help="idle ms before each cgroup-moving sample (50)")
    add("--cases", type=parse_cases, metavar="LIST", help=f"default: all of {','.join(CASES)}")
    add("--ociruntime", default="ociruntime", help="ociruntime command, shell-split")
    add("--runc", default="runc", help="runc command")
    add("--crun", default="crun", help="crun command")
    add("--interpreter", help="the Python timed beside state (default: the launcher's)")
    add(
        "--no-python-floor",
        action="store_true",
        help="do not measure bench/python_floor.py beside run and parallel",
    )
    crun = ap.add_mutually_exclusive_group()
    crun.add_argument("--with-crun", action="store_true", help="require crun (default: if found)")
    crun.add_argument("--no-crun", action="store_true", help="do not measure crun")
    add("--parallel", type=int, default=20, metavar="N", help="runs at once in parallel (20)")
    add("--load-seconds", type=float, default=60.0, help="load: seconds per runtime (60)")
    add("--load-workers", type=int, default=8, help="load: loops in parallel (8)")
    add("--load-rounds", type=int, default=4, help="load: rounds rotating the runtimes (4)")
    add("--json", metavar="FILE", help="write everything as JSON")
    add("--png", nargs="?", const=str(DEFAULT_PNG), metavar="FILE", help="draw the chart")
    add("--readme-png", action="store_true", help=f"copy the chart to {README_PNG} (implies --png)")
    add("--spec-with", metavar="CMD", help="command whose `spec` writes the bundle's config")
    o = ap.parse_args(argv)
    for name in ("runs", "round", "parallel", "load_workers", "load_rounds"):
        if getattr(o, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be at least 1")
    if o.warmup < 0 or o.gap < 0 or o.load_seconds <= 0:
        ap.error("--warmup and --gap must not be negative, --load-seconds must be positive")
    o.png = o.png or (str(DEFAULT_PNG) if o.readme_png else None)
    return o


def setup(o, work: Path, notes: list[str]) -> list[tuple]:
    """The peers as (name, argv, (bundle, sleep bundle), wrapper), bundles built."""
    oci = resolve_cmd(o.ociruntime, "--ociruntime")
    bundles = (work / "bundle", work / "bundle-sleep")
    build_bundle(bundles[0], resolve_cmd(o.spec_with, "--spec-with") if o.spec_with else oci)
    derive_bundle(bundles[0], bundles[1], SLEEP_ARGS, None)
    peers = [("ociruntime", oci, bundles, ()), ("runc", resolve_cmd(o.runc, "--runc"), bundles, ())]
    if o.no_crun or not (o.with_crun or shutil.which(shlex.split(o.crun)[0])):
        notes += [] if o.no_crun else [f"crun ({o.crun!r}) not on PATH: not measured"]
        return peers
    # crun 1.8 rejects ociVersion >= 1.2: its copy of the config says 1.1.0
    crun_bundles = (work / "bundle-crun", work / "bundle-crun-sleep")
    derive_bundle(bundles[0], crun_bundles[0], None, "1.1.0")
    derive_bundle(bundles[0], crun_bundles[1], SLEEP_ARGS, "1.1.0")
    wrapper = CRUN_WRAPPER if os.path.ismount(UNIFIED) else ()
    if wrapper:
        notes.append(f"crun runs in a private mount namespace with {UNIFIED} unmounted")
    return peers + [("crun", resolve_cmd(o.crun, "--crun"), crun_bundles, wrapper)]


def main(argv: list[str] | None = None) -> int:
    o = parse_args(argv)
    if os.geteuid() != 0:
        print("bench_run.py: must run as root", file=sys.stderr)
        return 2
    cases = [CASES[c] for c in (o.cases or CASES)]
    for tool in ["hyperfine"] + [GNU_TIME] * any(c.name == "rss" for c in cases):
        if not shutil.which(tool):
            print(
                f"bench_run.py: needs {tool} (apt-get install {Path(tool).name})", file=sys.stderr
            )
            return 2
    started, work, notes = time.monotonic(), Path(tempfile.mkdtemp(prefix="oci-bench-")), []
    runtimes: list[Runtime] = []
    try:
        peers = setup(o, work, notes)
        interp = o.interpreter or interpreter_of(peers[0][1])
        machine, versions = machine_info(), {p[0]: version_of(p[1]) for p in peers}
        reaper = Reaper()  # from here on, every child process goes through it
        runtimes = [Runtime(n, a, b, work, reaper, p) for n, a, b, p in peers]
        names, wrapped = [rt.name for rt in runtimes], bool(runtimes[-1].prefix)
        baseline = [interp, "-IS", "-c", "pass"]
        extra = (
            [Runtime(BASELINE, [], (None, None), work, reaper, fixed=baseline)] if interp else []
        )
        pyfloor = []
        if interp and not o.no_python_floor:
            floor_argv = [interp, "-IS", str(PYFLOOR_SCRIPT)]
            bundles = (runtimes[0].bundle, runtimes[0].sleep_bundle)
            pyfloor = [Runtime(PYFLOOR, floor_argv, bundles, work, reaper)]
        print(f"machine: {machine_line(machine)}; load {machine['loadavg_at_start'][0]:.2f}")
        for name in names:
            print(f"{name}: {' | '.join(versions[name].splitlines())}")
        print(
            f"{o.runs} runs per case in rounds of {o.round} (+{o.warmup} warm-up each; parallel,"
            f" rss a fifth; state 3x in rounds of 2), {o.gap:g} ms gap;"
            f" load {o.load_workers} loops, {o.load_seconds:g} s"
        )
        for note in notes:
            print(f"note: {note}")
        results, rows = {}, []
        for case in cases:
            print(f"  {case.name} ...", end="", flush=True)
            t0 = time.monotonic()
            if case.name == "load":
                res = measure_load(runtimes, o)
            else:
                more = {"state": extra} | dict.fromkeys(PYFLOOR_CASES, pyfloor)
                more = more.get(case.name, [])
                res = measure_case(case, runtimes + more, o, reaper, work)
            results[case.name] = res | {"seconds": round(time.monotonic() - t0, 1)}
            label = case.label.format(n=o.parallel, w=o.load_workers)
            rows.append(summarize(case, res, names, label))
            print(f" {time.monotonic() - t0:.1f} s", flush=True)
        true = str(work / "bundle" / "rootfs" / "bin" / "true")
        costs = wrapper_cost(reaper, true, o, work, wrapped)
        targets = evaluate_targets({r["case"]: r for r in rows}, wrapped and costs, o)
        python_floors({r["case"]: r for r in rows}, targets)
        starts = start_costs(reaper, interp, runtimes, o, work)
        walled = {"run", "lifecycle"} & {r["case"] for r in rows}
        grace = grace_wait(reaper, max(5, o.runs // 4), work) if walled else None
        floor = floors(
            {r["case"]: r for r in rows}, starts, grace["wait_ms"] if grace else 0.0, targets, o
        )
        print_report(rows, names, targets)
        if starts["cpu"]:
            print(
                "\nfloor: a peer's figure with its starts replaced by ociruntime's (interpreter"
                " per call), CPU: "
                + ", ".join(f"{n} start {ms:.2f} ms" for n, ms in starts["cpu"].items())
                + "; wall: "
                + ", ".join(f"{n} {ms:.2f} ms" for n, ms in starts["wall"].items())
                + f"; starts per sample {STARTS['lifecycle']} for a lifecycle"
            )
        if pyfloor and PYFLOOR_CASES[0] in results:
            print(
                f"Python's floor: the target with {PYFLOOR_SCRIPT.name} in ociruntime's place, a"
                " runtime in Python that only does the kernel's work (no check, no state, no"
                " forked interpreter): a target it misses is out of reach from Python"
            )
        if grace:
            print(
                f"wall floors also less the cgroup wait a peer pays and ociruntime does not:"
                f" {grace['wait_ms']:.2f} ms ({grace['modes'][0]} {grace['peer_ms']:.2f} ms"
                f" against {grace['modes'][1]} {grace['ours_ms']:.2f} ms, medians of"
                f" {grace['runs']} joins, bench/grace_period.py)"
            )
        print(
            f"\nthe container's /bin/true (busybox) run directly: {costs['plain']['cpu_ms']:.2f} ms"
            " CPU; it is in every runtime's CPU figure (the init's process after its exec)"
        )
        if wrapped:
            print(
                f"crun's wrapper: {costs['overhead_ms']:.2f} ms wall, {costs['overhead_cpu_ms']:.2f}"
                " ms CPU per call, in crun's figures (run 1x; lifecycle and load 3x per container)"
            )
        for name, res in results.items():
            if res.get("crun_wrapped") is False:
                print(f"crun ran without the wrapper for {name}")
        for n in names if "load" in results else ():
            r = results["load"][n]
            print(
                f"load {n}: {r['containers']} containers in {r['seconds']} s; the harness spent"
                f" {r['harness_cpu_ms']:.2f} ms CPU per container (not counted)"
            )
        print(f"\ntotal time {time.monotonic() - started:.1f} s")
        report = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine,
            "method": {k: v for k, v in vars(o).items() if k not in ("json", "png", "cases")},
            "runtimes": {
                rt.name: {
                    "argv": rt.argv,
                    "wrapper": rt.prefix,
                    "version": versions[rt.name],
                    "version_line": versions[rt.name].splitlines()[0],
                }
                for rt in runtimes
            },
            "interpreter": interp,
            "notes": notes,
            "results": results,
            "summary": rows,
            "targets": targets,
            "true_and_crun_wrapper": costs,
            "start_cpu_ms": starts["cpu"],
            "start_wall_ms": starts["wall"],
            "grace_wait": grace,
            "floors": floor,
            "seconds": round(time.monotonic() - started, 1),
        }
        if o.json:
            Path(o.json).parent.mkdir(parents=True, exist_ok=True)
            Path(o.json).write_text(json.dumps(report, indent=2) + "\n")
            print(f"wrote {o.json}")
        if o.png:
            draw_chart(report, Path(o.png))
            print(f"wrote {o.png}")
            if o.readme_png and Path(o.png).resolve() != README_PNG.resolve():
                shutil.copyfile(o.png, README_PNG)
                print(f"wrote {README_PNG}")
        return 0
    except BenchError as e:
        print(f"bench_run.py: error: {e}", file=sys.stderr)
        return 1
    finally:
        for rt in runtimes:
            rt.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
