#!/usr/bin/python3
"""Benchmark ociruntime against runc and crun, case by case, side by side.

Every case runs on a private copy of the busybox bundle whose process is
``/bin/true`` (terminal false), or ``sleep`` for the cases that need a
running container:

* ``run``       -- ``RUNTIME --root R run -b BUNDLE ID``
* ``lifecycle`` -- ``create -b BUNDLE ID && start ID && delete -f ID`` timed
                   as one unit (the method youki publishes; /bin/true exits
                   right after ``start``).
* ``state``     -- ``state ID`` of a running container (each runtime has its
                   own ``sleep`` container, created before the loop and
                   force-deleted after it).
* ``exec``      -- ``exec ID /bin/true`` into such a running container.
* ``parallel``  -- N (default 20) ``run`` of /bin/true started at once; the
                   time until all N have exited. Fewer iterations: runs/5,
                   at least 5 (``--parallel-runs``).
* ``features``  -- ``features`` (crun 1.8 has no such command: "n/a").
* ``rss``       -- peak RSS of the runtime during ``run`` of /bin/true, as
                   ``/usr/bin/time -f %M`` reports it (see
                   :meth:`Runtime.peak_rss` for what exactly that covers).
                   Same reduced iteration count as ``parallel``.

The runtimes are measured alternately within every iteration (and the order
is rotated each iteration) so that drift in machine load hits all of them
alike. After each sample of a case that moves a process into a cgroup
(run, lifecycle, exec, parallel, rss) the harness idles ``--gap``
milliseconds (default 50). The first write of a pid to cgroup.procs after
a quiet spell waits for an RCU grace period (see bench/grace_period.py;
runc and crun move their init that way, ociruntime's container side joins
in ways that do not wait); back to back, a run that starts within a grace
period of the previous run's move skips most of that wait, so the figures
depend on who ran just before. With the gap every sample starts as a
container start on a quiet host does (``--gap 0`` gives the back-to-back
figures).

Each runtime gets its own private ``--root`` state directory and every
container a unique id. Before a case's loop every runtime runs the case once
unmeasured (a probe), which is also how a missing command becomes "n/a".

crun 1.8 refuses this kind of host's cgroup v1 "hybrid" layout (a cgroup2
mount at /sys/fs/cgroup/unified) when it creates a container, so when that
mount exists crun's create/run/delete go through
``unshare -m sh -c 'umount /sys/fs/cgroup/unified; exec "$@"'``. ``state``,
``exec`` and ``features`` are tried without the wrapper first (they do not
set up cgroups) and use it only if that fails. The cost of the wrapper alone
is measured too, and crun's medians without it are estimated.

The summary table gives medians, the ratios ociruntime/runc and
ociruntime/crun, and the targets: run and create+start+delete at most 1.0x
runc, state at most 2.0x runc, peak RSS at most runc's.

Run as root with the system interpreter (matplotlib for ``--png``)::

    /usr/bin/python3 bench/bench_run.py --runs 50 --json bench/out/run.json --png --readme-png
    /usr/bin/python3 bench/bench_run.py --cases run,state,rss --no-crun --runs 10
    /usr/bin/python3 bench/bench_run.py --ociruntime runc   # self-test against runc
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "bundles" / "build-busybox.sh"
DEFAULT_PNG = REPO / "bench" / "out" / "bench.png"
README_PNG = REPO / "docs" / "bench.png"
UNIFIED = "/sys/fs/cgroup/unified"
GNU_TIME = "/usr/bin/time"
CRUN_WRAPPER = [
    "unshare",
    "-m",
    "sh",
    "-c",
    f'umount {UNIFIED} 2>/dev/null; exec "$@"',
    "crun-wrap",
]
SLEEP_ARGS = ["sleep", "1000000"]
RUNTIME_NAMES = ("ociruntime", "runc", "crun")


@dataclass(frozen=True)
class Case:
    name: str
    label: str  # for the table and the chart; "{n}" is the parallel count
    unit: str  # "ms" or "MiB"
    target: float | None  # the most ociruntime/runc (median) may be; None: no target
    crun_wrapped: bool  # crun needs the hybrid-cgroup wrapper for it (else: probe without)
    wrapped_calls: int | None  # wrapper runs per sample, for the estimate; None: not estimable
    container: bool = False  # needs a running `sleep` container per runtime
    reduced: bool = False  # expensive: runs/5 iterations (at least 5)
    migrates: bool = False  # moves a process into a cgroup: idle --gap after each sample


CASES = {
    c.name: c
    for c in (
        Case("run", "run /bin/true", "ms", 1.0, True, 1, migrates=True),
        Case("lifecycle", "create+start+delete -f", "ms", 1.0, True, 3, migrates=True),
        Case("state", "state (running)", "ms", 2.0, False, 1, container=True),
        Case("exec", "exec /bin/true", "ms", None, False, 1, container=True, migrates=True),
        Case(
            "parallel", "{n}x run in parallel", "ms", None, True, None, reduced=True, migrates=True
        ),
        Case("features", "features", "ms", None, False, 1),
        Case("rss", "peak RSS, run", "MiB", 1.0, True, 0, reduced=True, migrates=True),
    )
}
# --mode (the older selector) in terms of --cases
MODES = {"run": ["run"], "lifecycle": ["lifecycle"], "both": ["run", "lifecycle"]}


class BenchError(Exception):
    pass


class NotAvailable(Exception):
    """The runtime lacks the command the case measures (crun 1.8: features)."""


class Runtime:
    """One runtime under test: a command prefix, a private state root, bundles."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        bundle: Path,
        sleep_bundle: Path,
        root: Path,
        log: Path,
        prefix=(),
    ):
        self.name = name
        self.argv = argv  # the runtime itself (for --version)
        self.prefix = list(prefix)  # e.g. the crun mount-namespace wrapper
        self.bundle = bundle
        self.sleep_bundle = sleep_bundle
        self.root = root
        self.log_path = log
        self.log = open(log, "ab")  # closed in cleanup()
        self.counter = 0
        self.wrap = True  # use self.prefix for the current case
        self.sleeper: str | None = None  # id of the running container, if any

    def cmd(self, *args: str, inner=()) -> list[str]:
        """The command line; ``inner`` goes between the wrapper and the runtime."""
        prefix = self.prefix if self.wrap else []
        return [*prefix, *inner, *self.argv, "--root", str(self.root), *args]

    def new_id(self, mode: str) -> str:
        self.counter += 1
        return f"bench-{self.name}-{mode}-{os.getpid()}-{self.counter}"

    def _mark(self) -> int:
        self.log.flush()
        return self.log.seek(0, os.SEEK_END)

    def _errors_since(self, offset: int) -> str:
        self.log.flush()
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace").strip()[-4000:] or "(empty)"

    def call(self, *args: str, inner=()) -> None:
        """Run one runtime command; stdout is discarded, stderr kept for errors.

        stderr goes to a regular file (not a pipe), which costs the same as
        /dev/null but lets a failure be reported with the runtime's message.
        """
        cmd = self.cmd(*args, inner=inner)
        offset = self._mark()
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log
        )
        if proc.returncode != 0:
            raise BenchError(
                f"{self.name}: `{shlex.join(cmd)}` exited with {proc.returncode}\n"
                f"--- {self.name} stderr ---\n{self._errors_since(offset)}"
            )

    def timed(self, *args: str) -> float:
        t0 = time.perf_counter()
        self.call(*args)
        return (time.perf_counter() - t0) * 1000.0

    def measure(self, case: str, parallel: int) -> float:
        """One sample of ``case``: milliseconds, or MiB for ``rss``."""
        bundle = str(self.bundle)
        if case == "run":
            return self.timed("run", "-b", bundle, self.new_id(case))
        if case == "lifecycle":
            cid = self.new_id(case)
            t0 = time.perf_counter()
            self.call("create", "-b", bundle, cid)
            self.call("start", cid)
            self.call("delete", "-f", cid)
            return (time.perf_counter() - t0) * 1000.0
        if case == "state":
            return self.timed("state", self.sleeper)
        if case == "exec":
            return self.timed("exec", self.sleeper, "/bin/true")
        if case == "features":
            return self.timed("features")
        if case == "parallel":
            return self.run_parallel(parallel)
        if case == "rss":
            return self.peak_rss() / 1024.0
        raise ValueError(case)

    def run_parallel(self, n: int) -> float:
        """Start n `run` at once; milliseconds until the last one has exited."""
        ids = [self.new_id("parallel") for _ in range(n)]
        offset = self._mark()
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(
                self.cmd("run", "-b", str(self.bundle), cid),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.log,
            )
            for cid in ids
        ]
        codes = [p.wait() for p in procs]
        elapsed = (time.perf_counter() - t0) * 1000.0
        failed = [(cid, rc) for cid, rc in zip(ids, codes, strict=True) if rc != 0]
        if failed:
            raise BenchError(
                f"{self.name}: {len(failed)} of {n} parallel runs failed "
                f"(first: {failed[0][0]} exited with {failed[0][1]})\n"
                f"--- {self.name} stderr ---\n{self._errors_since(offset)}"
            )
        return elapsed

    def peak_rss(self) -> int:
        """Peak RSS in KiB of the runtime during `run` of /bin/true.

        What is measured: GNU time forks the runtime, waits for it with
        wait4() and prints ru_maxrss. For a waited child the kernel reports
        the largest high-water RSS of that process (across its execs: the
        image before an exec counts too) and of all of its descendants it
        has waited for. So the number is the peak of the *largest single
        process* of the runtime's tree, not a sum over processes alive at the
        same time:

        * ociruntime: the Python runtime, and the container's init, which is
          a fork of it (same pages, copy-on-write) running the set-up in the
          container before it execs /bin/true;
        * runc: `runc run` (Go) and `runc init` (its re-exec, the nsexec C
          stages and then Go, also up to the exec of /bin/true);
        * crun: crun (C) and its fork that becomes the container's init.

        For all three the container side is included up to the exec, and the
        container's process itself is /bin/true from static busybox (about
        1.3 MiB), below any of the runtimes (crun: about 3 MiB), so it never
        decides the maximum. GNU time goes *inside* crun's wrapper, right before crun:
        unshare and sh (which exec into one another and then into crun in
        one process) are not counted, and neither is GNU time itself, whose
        own RSS is not in the rusage of its child.
        """
        out = self.root.parent / f"{self.name}.maxrss"
        self.call(
            "run",
            "-b",
            str(self.bundle),
            self.new_id("rss"),
            inner=(GNU_TIME, "-f", "%M", "-o", str(out)),
        )
        text = out.read_text().strip().splitlines()
        try:
            return int(text[-1])
        except (IndexError, ValueError):
            raise BenchError(f"{self.name}: unexpected {GNU_TIME} output {text!r}") from None

    def start_sleeper(self) -> None:
        cid = self.new_id("sleep")
        self.call("create", "-b", str(self.sleep_bundle), cid)
        self.sleeper = cid
        self.call("start", cid)

    def stop_sleeper(self) -> None:
        if self.sleeper is not None:
            wrap, self.wrap = self.wrap, True
            try:
                self.call("delete", "-f", self.sleeper)
            finally:
                self.wrap = wrap
                self.sleeper = None

    def cleanup(self) -> None:
        """Force-delete anything left in the state root (after an abort)."""
        self.wrap = True
        if self.root.is_dir():
            for name in sorted(os.listdir(self.root)):
                if (self.root / name).is_dir():
                    subprocess.run(
                        self.cmd("delete", "-f", name),
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
        self.log.close()


def stats(values: list[float], unit: str = "ms") -> dict:
    """Summary of samples already in ``unit``; keys end in _ms (or _mib)."""
    v = sorted(values)
    deciles = statistics.quantiles(v, n=10, method="inclusive") if len(v) > 1 else v * 9
    sfx = "_" + unit.lower()
    return {
        "n": len(v),
        "median" + sfx: statistics.median(v),
        "p10" + sfx: deciles[0],
        "p90" + sfx: deciles[8],
        "mean" + sfx: statistics.fmean(v),
        "min" + sfx: v[0],
        "max" + sfx: v[-1],
        "stdev" + sfx: statistics.stdev(v) if len(v) > 1 else 0.0,
        "samples" + sfx: [round(x, 4) for x in values],
    }


def version_of(argv: list[str]) -> str:
    try:
        out = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    return (out.stdout or out.stderr).strip() or "unknown"


def cgroup_layout() -> str:
    types = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            types[pre.split()[4]] = post.split()[0]
    if types.get("/sys/fs/cgroup") == "cgroup2":
        return "v2 (unified)"
    if types.get(UNIFIED) == "cgroup2":
        return "v1 hybrid (cgroup2 at /sys/fs/cgroup/unified)"
    return "v1"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Hardware", "cpu model", "Model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    info = {
        "nproc": len(os.sched_getaffinity(0)),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "kernel_version": platform.version(),
        "machine": platform.machine(),
        "cgroup_layout": cgroup_layout(),
        "cgroup_hybrid": os.path.ismount(UNIFIED),
        "python": platform.python_version(),
    }
    try:
        info["loadavg_at_start"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def machine_line(m: dict) -> str:
    return (
        f"{m['cpu_model']}, nproc {m['nproc']}, Linux {m['kernel']} {m['machine']}, "
        f"cgroup {m['cgroup_layout']}"
    )


def build_bundle(dest: Path, spec_cmd: list[str]) -> None:
    """Private busybox bundle running /bin/true without a terminal."""
    env = dict(os.environ, OCIRUNTIME=" ".join(spec_cmd), DEMO_ARGS='["/bin/true"]')
    proc = subprocess.run(
        ["sh", str(BUILD_SCRIPT), str(dest)], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise BenchError(
            f"building the bundle with {BUILD_SCRIPT} failed (exit {proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}"
        )
    config_path = dest / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    config_path.write_text(json.dumps(config, indent="\t") + "\n")


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


def crun_needs_old_version(src: Path) -> str | None:
    """crun 1.8 rejects ociVersion >= 1.2 ("unknown version specified").

    Returns a note if crun needs its own config (same config, older
    ociVersion, root pointing at the shared rootfs), else None.
    """
    version = json.loads((src / "config.json").read_text()).get("ociVersion", "")
    try:
        major, minor = (int(x) for x in version.split("-")[0].split(".")[:2])
    except ValueError:
        return None
    if (major, minor) <= (1, 1):
        return None
    return f"crun 1.8 rejects ociVersion {version}; crun's copy of the config says 1.1.0"


def measure_wrapper_overhead(runs: int) -> dict:
    """Cost of the crun wrapper itself: wrapper exec'ing /bin/true vs plain /bin/true."""
    plain, wrapped = [], []
    true = shutil.which("true") or "/bin/true"
    for _ in range(runs):
        for argv, out in (([true], plain), ([*CRUN_WRAPPER, true], wrapped)):
            t0 = time.perf_counter()
            rc = subprocess.run(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            ).returncode
            out.append((time.perf_counter() - t0) * 1000.0)
            if rc != 0:
                raise BenchError(f"`{shlex.join(argv)}` exited with {rc}")
    result = {"plain_true": stats(plain), "wrapper_true": stats(wrapped)}
    result["overhead_median_ms"] = (
        result["wrapper_true"]["median_ms"] - result["plain_true"]["median_ms"]
    )
    return result


def resolve_cmd(text: str, what: str) -> list[str]:
    argv = shlex.split(text)
    if not argv or shutil.which(argv[0]) is None:
        hint = ""
        if what == "--ociruntime":
            hint = ' (install it, or pass e.g. --ociruntime "python3 -m ociruntime" or --ociruntime runc)'
        raise BenchError(f"{what} command {text!r} not found on PATH{hint}")
    return argv


def parse_cases(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if names == ["all"]:
        return list(CASES)
    bad = [c for c in names if c not in CASES]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown case(s) {', '.join(bad) or '(none)'}; choose from {', '.join(CASES)} or all"
        )
    return list(dict.fromkeys(names))


# --- one case --------------------------------------------------------------


def probe(rt: Runtime, case: Case, parallel: int) -> None:
    """One unmeasured sample, choosing whether crun needs its wrapper here.

    Raises NotAvailable for `features` when the runtime lacks the command.
    """
    rt.wrap = True
    if rt.prefix and not case.crun_wrapped:
        rt.wrap = False
        try:
            rt.measure(case.name, parallel)
            return
        except BenchError:
            rt.wrap = True  # try again inside the wrapper
    try:
        rt.measure(case.name, parallel)
    except BenchError as e:
        if case.name == "features":
            raise NotAvailable(str(e).splitlines()[-1]) from None
        raise


def run_case(
    case: Case, runtimes: list[Runtime], runs: int, warmup: int, parallel: int, gap: float = 0.0
) -> dict:
    """Samples per runtime (None: n/a) and whether crun ran wrapped."""
    active: list[Runtime] = []
    unavailable: dict[str, str] = {}
    wrapped: dict[str, bool] = {}
    try:
        for rt in runtimes:
            if case.container:
                rt.wrap = True
                rt.start_sleeper()
            try:
                probe(rt, case, parallel)
            except NotAvailable as e:
                unavailable[rt.name] = e.args[0]
                continue
            active.append(rt)
            wrapped[rt.name] = bool(rt.prefix) and rt.wrap
        samples: dict[str, list[float]] = {rt.name: [] for rt in active}
        for i in range(warmup + runs):
            # Alternate within the iteration, rotating who goes first.
            k = i % len(active) if active else 0
            for rt in active[k:] + active[:k]:
                value = rt.measure(case.name, parallel)
                if i >= warmup:
                    samples[rt.name].append(value)
                if case.migrates and gap > 0:
                    time.sleep(gap)
    finally:
        for rt in runtimes:
            rt.stop_sleeper()
            rt.wrap = True
    return {
        "runs": runs,
        "warmup": warmup,
        "samples": samples,
        "unavailable": unavailable,
        "crun_wrapped": wrapped.get("crun"),
    }


# --- report ----------------------------------------------------------------


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.2f}" if unit == "MiB" or value < 100 else f"{value:.1f}"


def ratio_text(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def target_text(case: Case) -> str:
    if case.target is None:
        return "-"
    if case.unit == "MiB" and case.target == 1.0:
        return "<= runc"
    return f"<= {case.target:.1f}x runc"


def summarize(case: Case, result: dict, names: list[str], parallel: int) -> dict:
    key = "median_" + case.unit.lower()
    medians = {n: (result[n] or {}).get(key) for n in names}
    base = medians.get("ociruntime")
    ratios = {}
    for other in ("runc", "crun"):
        m = medians.get(other)
        ratios[other] = base / m if base is not None and m else None
    met = None
    if case.target is not None and ratios["runc"] is not None:
        met = ratios["runc"] <= case.target
    return {
        "case": case.name,
        "label": case.label.format(n=parallel),
        "unit": case.unit,
        "median": medians,
        "p10": {n: (result[n] or {}).get("p10_" + case.unit.lower()) for n in names},
        "p90": {n: (result[n] or {}).get("p90_" + case.unit.lower()) for n in names},
        "ratio_vs_runc": ratios["runc"],
        "ratio_vs_crun": ratios["crun"],
        "target": target_text(case),
        "target_ratio_vs_runc": case.target,
        "target_met": met,
    }


def print_details(case: Case, result: dict, names: list[str], label: str) -> None:
    u = case.unit
    print(f"\n{label}  ({result['runs']} runs + {result['warmup']} warmups, {u})")
    print(f"  {'runtime':<12}{'median':>10}{'p10':>10}{'p90':>10}{'mean':>10}")
    sfx = "_" + u.lower()
    for name in names:
        s = result[name]
        if s is None:
            why = result["unavailable"].get(name, "")
            print(f"  {name:<12}{'n/a':>10}   {why}")
            continue
        print(
            f"  {name:<12}{fmt(s['median' + sfx], u):>10}{fmt(s['p10' + sfx], u):>10}"
            f"{fmt(s['p90' + sfx], u):>10}{fmt(s['mean' + sfx], u):>10}"
        )


def print_summary(rows: list[dict], names: list[str]) -> None:
    head = ["case", "unit", *names, "vs runc", "vs crun", "target", ""]
    table = [head]
    for r in rows:
        met = "" if r["target_met"] is None else ("met" if r["target_met"] else "NOT met")
        table.append(
            [
                r["label"],
                r["unit"],
                *(fmt(r["median"][n], r["unit"]) for n in names),
                ratio_text(r["ratio_vs_runc"]),
                ratio_text(r["ratio_vs_crun"]) if "crun" in names else "-",
                r["target"],
                met,
            ]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    print("\nsummary (medians; ratios are ociruntime / other)")
    for j, row in enumerate(table):
        cells = [
            c.ljust(w) if i in (0, 1, len(head) - 2, len(head) - 1) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  " + "  ".join(cells).rstrip())
        if j == 0:
            print("  " + "  ".join("-" * w for w in widths))


def draw_chart(report: dict, path: Path) -> None:
    """Grouped bars per case (medians, whiskers p10..p90), ratios annotated."""
    try:
        import matplotlib
    except ImportError:
        raise BenchError(
            f"--png needs matplotlib ({sys.executable}): apt-get install python3-matplotlib"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["runtimes"])
    colors = {"ociruntime": "#3b75af", "runc": "#ef8636", "crun": "#519e3e"}
    rows = report["summary"]
    panels = [[r for r in rows if r["unit"] == "ms"], [r for r in rows if r["unit"] == "MiB"]]
    panels = [p for p in panels if p]
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(1.7 * len(rows) + 3, 5.2),
        gridspec_kw={"width_ratios": [max(len(p), 1.4) for p in panels]},
        squeeze=False,
    )
    width = 0.8 / len(names)
    for ax, panel in zip(axes[0], panels, strict=True):
        unit = panel[0]["unit"]
        values = [r["median"][n] for r in panel for n in names if r["median"][n]]
        log = unit == "ms" and values and max(values) / min(values) > 20
        if log:
            ax.set_yscale("log")
        for j, name in enumerate(names):
            xs, hs, lo, hi = [], [], [], []
            for i, r in enumerate(panel):
                x = i + (j - (len(names) - 1) / 2) * width
                m = r["median"][name]
                if m is None:
                    ax.text(
                        x,
                        0.02,
                        "n/a",
                        ha="center",
                        va="bottom",
                        fontsize=8,
                        transform=ax.get_xaxis_transform(),
                        color=colors.get(name),
                    )
                    continue
                xs.append(x)
                hs.append(m)
                lo.append(max(m - r["p10"][name], 0))
                hi.append(max(r["p90"][name] - m, 0))
            ax.bar(
                xs,
                hs,
                width,
                label=name,
                color=colors.get(name, None),
                yerr=[lo, hi],
                capsize=2,
                error_kw={"elinewidth": 0.8},
            )
        top = max(
            (r["p90"][n] or r["median"][n] for r in panel for n in names if r["median"][n]),
            default=1,
        )
        for i, r in enumerate(panel):
            lines = []
            if r["ratio_vs_runc"] is not None:
                lines.append(f"{r['ratio_vs_runc']:.2f}x runc")
            if r["ratio_vs_crun"] is not None:
                lines.append(f"{r['ratio_vs_crun']:.2f}x crun")
            if r["target_met"] is not None:
                lines.append(f"target {r['target']}: {'met' if r['target_met'] else 'not met'}")
            peak = max((r["p90"][n] or r["median"][n] for n in names if r["median"][n]), default=0)
            y = peak * 1.12 if log else peak + top * 0.03
            ax.text(i, y, "\n".join(lines), ha="center", va="bottom", fontsize=7.5)
        if log:
            ax.set_ylim(min(values) * 0.4, top * 6)
        else:
            ax.set_ylim(0, top * 1.3)
        ax.set_xticks(range(len(panel)))
        ax.set_xticklabels([r["label"] for r in panel], fontsize=8.5, rotation=12, ha="right")
        ax.set_ylabel(
            ("time, ms" + (" (log scale)" if log else ""))
            if unit == "ms"
            else "peak RSS, MiB (largest process)"
        )
        ax.grid(axis="y", alpha=0.3, which="both")
        ax.set_axisbelow(True)
    axes[0][0].legend(loc="upper left", fontsize=8)
    runs = report["runs"]
    fig.suptitle(
        f"ociruntime vs runc vs crun: medians of {runs} runs (whiskers p10-p90; "
        "ratios are ociruntime / other)",
        fontsize=10.5,
    )
    versions = "; ".join(v["version_line"] for v in report["runtimes"].values())
    fig.text(
        0.01,
        0.01,
        f"{machine_line(report['machine'])}\n{versions}\n{report['date']}",
        fontsize=7,
        va="bottom",
        color="#444",
    )
    fig.tight_layout(rect=(0, 0.09, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- main ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=50, help="measured iterations (default 50)")
    ap.add_argument("--warmup", type=int, default=5, help="unmeasured iterations (default 5)")
    ap.add_argument(
        "--gap",
        type=float,
        default=50.0,
        help="idle milliseconds after each sample of a case that moves a process into a"
        " cgroup (default 50: each pays its own RCU grace period; 0: back to back)",
    )
    ap.add_argument(
        "--cases",
        type=parse_cases,
        metavar="LIST",
        help=f"comma-separated cases (default: all): {','.join(CASES)}",
    )
    ap.add_argument(
        "--mode",
        choices=list(MODES),
        help="older selector: run, lifecycle or both (= --cases run,lifecycle)",
    )
    ap.add_argument(
        "--ociruntime",
        default="ociruntime",
        help='ociruntime command, shell-split (default: ociruntime on PATH; e.g. "python3 -m ociruntime")',
    )
    ap.add_argument("--runc", default="runc", help="runc command (default: runc)")
    ap.add_argument("--crun", default="crun", help="crun command (default: crun)")
    crun_group = ap.add_mutually_exclusive_group()
    crun_group.add_argument(
        "--with-crun",
        action="store_true",
        help="require crun (by default crun is measured when it is on PATH)",
    )
    crun_group.add_argument("--no-crun", action="store_true", help="do not measure crun")
    ap.add_argument(
        "--parallel",
        type=int,
        default=20,
        metavar="N",
        help="containers started at once in the parallel case (default 20)",
    )
    ap.add_argument(
        "--parallel-runs",
        type=int,
        metavar="N",
        help="iterations of the parallel and rss cases (default: runs/5, at least 5)",
    )
    ap.add_argument("--json", metavar="FILE", help="write everything as JSON to FILE")
    ap.add_argument(
        "--png",
        nargs="?",
        const=str(DEFAULT_PNG),
        metavar="FILE",
        help=f"draw a chart (matplotlib); FILE defaults to {DEFAULT_PNG.relative_to(REPO)}",
    )
    ap.add_argument(
        "--readme-png",
        action="store_true",
        help=f"also copy the chart to {README_PNG.relative_to(REPO)} (implies --png)",
    )
    ap.add_argument(
        "--spec-with",
        metavar="CMD",
        help="command whose `spec` writes the bundle config (default: the --ociruntime command)",
    )
    args = ap.parse_args(argv)

    if os.geteuid() != 0:
        print(
            "bench_run.py: must run as root (runtimes create namespaces and cgroups)",
            file=sys.stderr,
        )
        return 2
    if args.runs < 2:
        ap.error("--runs must be at least 2")
    if args.warmup < 0:
        ap.error("--warmup must not be negative")
    if args.gap < 0:
        ap.error("--gap must not be negative")
    if args.parallel < 1:
        ap.error("--parallel must be at least 1")
    if args.parallel_runs is not None and args.parallel_runs < 2:
        ap.error("--parallel-runs must be at least 2")
    if args.readme_png and not args.png:
        args.png = str(DEFAULT_PNG)
    cases = [CASES[c] for c in (args.cases or MODES.get(args.mode) or list(CASES))]
    reduced_runs = args.parallel_runs or max(5, args.runs // 5)
    reduced_warmup = min(args.warmup, 1)
    if any(c.name == "rss" for c in cases) and not os.access(GNU_TIME, os.X_OK):
        print(
            f"bench_run.py: the rss case needs {GNU_TIME} (apt-get install time)", file=sys.stderr
        )
        return 2

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="ociruntime-bench-"))
    runtimes: list[Runtime] = []
    try:
        oci = resolve_cmd(args.ociruntime, "--ociruntime")
        runc = resolve_cmd(args.runc, "--runc")
        spec_cmd = resolve_cmd(args.spec_with, "--spec-with") if args.spec_with else oci
        bundle = workdir / "bundle"
        build_bundle(bundle, spec_cmd)
        sleep_bundle = workdir / "bundle-sleep"
        derive_bundle(bundle, sleep_bundle, SLEEP_ARGS, None)

        notes: list[str] = []
        runtimes.append(
            Runtime(
                "ociruntime",
                oci,
                bundle,
                sleep_bundle,
                workdir / "root-ociruntime",
                workdir / "ociruntime.err",
            )
        )
        runtimes.append(
            Runtime("runc", runc, bundle, sleep_bundle, workdir / "root-runc", workdir / "runc.err")
        )
        wrapped = False
        crun_wanted = not args.no_crun
        if crun_wanted and not args.with_crun and shutil.which(shlex.split(args.crun)[0]) is None:
            notes.append(f"crun ({args.crun!r}) not found on PATH: not measured")
            crun_wanted = False
        if crun_wanted:
            crun = resolve_cmd(args.crun, "--crun")
            wrapped = os.path.ismount(UNIFIED)
            if wrapped:
                if shutil.which("unshare") is None:
                    raise BenchError("crun needs `unshare` (util-linux) on this cgroup hybrid host")
                notes.append(
                    f"crun's create/run/delete run inside a private mount namespace with {UNIFIED}"
                    " unmounted; state/exec/features only if they fail without it"
                )
            crun_bundle, crun_sleep = bundle, sleep_bundle
            note = crun_needs_old_version(bundle)
            if note:
                notes.append(note)
                crun_bundle, crun_sleep = workdir / "bundle-crun", workdir / "bundle-crun-sleep"
                derive_bundle(bundle, crun_bundle, None, "1.1.0")
                derive_bundle(bundle, crun_sleep, SLEEP_ARGS, "1.1.0")
            runtimes.append(
                Runtime(
                    "crun",
                    crun,
                    crun_bundle,
                    crun_sleep,
                    workdir / "root-crun",
                    workdir / "crun.err",
                    prefix=CRUN_WRAPPER if wrapped else (),
                )
            )
        for rt in runtimes:
            rt.root.mkdir()

        names = [rt.name for rt in runtimes]
        machine = machine_info()
        versions = {rt.name: version_of(rt.argv) for rt in runtimes}
        print(f"machine: {machine_line(machine)}")
        for name in names:
            print(f"{name}: {' | '.join(versions[name].splitlines())}")
        print(
            f"bench: cases {','.join(c.name for c in cases)}; {args.runs} runs + {args.warmup}"
            f" warmups per case ({reduced_runs} + {reduced_warmup} for parallel/rss);"
            f" {args.gap:g} ms idle after each cgroup-moving sample;"
            f" runtimes: {', '.join(names)}"
        )
        for note in notes:
            print(f"note: {note}")
        sys.stdout.flush()

        results: dict[str, dict] = {}
        rows: list[dict] = []
        for case in cases:
            runs, warmup = (
                (reduced_runs, reduced_warmup) if case.reduced else (args.runs, args.warmup)
            )
            t0 = time.monotonic()
            res = run_case(case, runtimes, runs, warmup, args.parallel, args.gap / 1000.0)
            res["seconds"] = round(time.monotonic() - t0, 2)
            res["unit"] = case.unit
            # results[case][runtime] = stats (None: n/a), as before; raw samples inside
            samples = res.pop("samples")
            for n in names:
                res[n] = stats(samples[n], case.unit) if n in samples else None
            results[case.name] = res
            label = case.label.format(n=args.parallel)
            print_details(case, res, names, label)
            rows.append(summarize(case, res, names, args.parallel))
            sys.stdout.flush()

        wrapper = None
        if wrapped and any(r.get("crun_wrapped") for r in results.values()):
            wrapper = measure_wrapper_overhead(args.runs)
            # Rough estimate of crun without the wrapper: each wrapped call pays it once.
            wrapper["crun_estimated_unwrapped_median_ms"] = {
                c.name: results[c.name]["crun"]["median_ms"]
                - c.wrapped_calls * wrapper["overhead_median_ms"]
                for c in cases
                if c.unit == "ms"
                and c.wrapped_calls is not None
                and results[c.name]["crun_wrapped"]
                and results[c.name]["crun"] is not None
            }

        print_summary(rows, names)
        if wrapper:
            print(
                f"\ncrun wrapper overhead (unshare -m + sh + umount, exec /bin/true vs /bin/true):"
                f" median {wrapper['overhead_median_ms']:.2f} ms"
                f" ({wrapper['wrapper_true']['median_ms']:.2f} vs"
                f" {wrapper['plain_true']['median_ms']:.2f}); it is included in crun's times"
                " of the cases that use it (lifecycle pays it 3x; not in peak RSS)"
            )
            for mode, est in wrapper["crun_estimated_unwrapped_median_ms"].items():
                print(f"  crun {mode} median without the wrapper, estimated: {est:.2f} ms")
            if any(c.name == "parallel" for c in cases):
                print("  (parallel: not estimated, the wrappers overlap)")
        unwrapped = [c for c, r in results.items() if r.get("crun_wrapped") is False]
        if unwrapped:
            print(f"  crun ran without the wrapper for: {', '.join(unwrapped)}")
        elapsed = time.monotonic() - started
        print(f"\ntotal time {elapsed:.1f} s")

        report = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": machine,
            "host": {  # the older key
                "kernel": machine["kernel"],
                "machine": machine["machine"],
                "cpus": machine["cpus"],
                "python": machine["python"],
                "cgroup_hybrid": machine["cgroup_hybrid"],
            },
            "runs": args.runs,
            "warmup": args.warmup,
            "gap_ms": args.gap,
            "reduced_runs": reduced_runs,
            "reduced_warmup": reduced_warmup,
            "parallel": args.parallel,
            "process_args": ["/bin/true"],
            "sleep_args": SLEEP_ARGS,
            "cases": {
                c.name: {
                    "label": c.label.format(n=args.parallel),
                    "unit": c.unit,
                    "target": target_text(c),
                    "target_ratio_vs_runc": c.target,
                }
                for c in cases
            },
            "runtimes": {
                rt.name: {
                    "argv": rt.argv,
                    "wrapper": rt.prefix,
                    "version": versions[rt.name],
                    "version_line": versions[rt.name].splitlines()[0],
                }
                for rt in runtimes
            },
            "notes": notes,
            "results": results,
            "summary": rows,
            "ratios_median": {
                r["case"]: {f"ociruntime/{other}": r[f"ratio_vs_{other}"] for other in names[1:]}
                for r in rows
            },
            "crun_wrapper_overhead": wrapper,
            "seconds": round(elapsed, 1),
        }
        if args.json:
            out = Path(args.json)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")
            print(f"wrote {out}")
        if args.png:
            png = Path(args.png)
            draw_chart(report, png)
            print(f"wrote {png}")
            if args.readme_png:
                README_PNG.parent.mkdir(parents=True, exist_ok=True)
                if png.resolve() != README_PNG.resolve():
                    shutil.copyfile(png, README_PNG)
                print(f"wrote {README_PNG}")
        return 0
    except BenchError as e:
        print(f"bench_run.py: error: {e}", file=sys.stderr)
        return 1
    finally:
        for rt in runtimes:
            rt.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
