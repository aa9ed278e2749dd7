#!/usr/bin/python3
"""Benchmark container start-up: ociruntime vs runc (and optionally crun).

Two cases, each on a private copy of the busybox bundle whose process is
``/bin/true`` (terminal false):

* ``run``       -- ``RUNTIME --root R run -b BUNDLE ID``
* ``lifecycle`` -- ``create -b BUNDLE ID && start ID && delete -f ID`` timed
                   as one unit (the method youki publishes; /bin/true exits
                   right after ``start``).

The runtimes are measured alternately within every iteration (and the order
is rotated each iteration) so that drift in machine load hits all of them
alike. Each runtime gets its own private ``--root`` state directory and every
container a unique id.

crun 1.8 refuses this kind of host's cgroup v1 "hybrid" layout (a cgroup2
mount at /sys/fs/cgroup/unified), so when that mount exists crun runs inside
``unshare -m sh -c 'umount /sys/fs/cgroup/unified; exec "$@"'``. The cost of
that wrapper alone is measured too and reported next to crun's numbers.

Run as root with the system interpreter::

    /usr/bin/python3 bench/bench_run.py --runs 50 --with-crun --json bench/out/run.json
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "bundles" / "build-busybox.sh"
UNIFIED = "/sys/fs/cgroup/unified"
CRUN_WRAPPER = [
    "unshare",
    "-m",
    "sh",
    "-c",
    f'umount {UNIFIED} 2>/dev/null; exec "$@"',
    "crun-wrap",
]
MODES = ("run", "lifecycle")


class BenchError(Exception):
    pass


class Runtime:
    """One runtime under test: a command prefix, a private state root, a bundle."""

    def __init__(self, name: str, argv: list[str], bundle: Path, root: Path, log: Path, prefix=()):
        self.name = name
        self.argv = argv  # the runtime itself (for --version)
        self.prefix = list(prefix)  # e.g. the crun mount-namespace wrapper
        self.bundle = bundle
        self.root = root
        self.log_path = log
        self.log = open(log, "ab")  # closed in cleanup()
        self.counter = 0

    def cmd(self, *args: str) -> list[str]:
        return [*self.prefix, *self.argv, "--root", str(self.root), *args]

    def new_id(self, mode: str) -> str:
        self.counter += 1
        return f"bench-{self.name}-{mode}-{os.getpid()}-{self.counter}"

    def call(self, *args: str) -> None:
        """Run one runtime command; stdout is discarded, stderr kept for errors.

        stderr goes to a regular file (not a pipe), which costs the same as
        /dev/null but lets a failure be reported with the runtime's message.
        """
        cmd = self.cmd(*args)
        self.log.flush()
        offset = self.log.seek(0, os.SEEK_END)
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log
        )
        if proc.returncode != 0:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                err = f.read().decode(errors="replace").strip()
            raise BenchError(
                f"{self.name}: `{shlex.join(cmd)}` exited with {proc.returncode}\n"
                f"--- {self.name} stderr ---\n{err or '(empty)'}"
            )

    def measure(self, mode: str) -> float:
        cid = self.new_id(mode)
        bundle = str(self.bundle)
        if mode == "run":
            t0 = time.perf_counter()
            self.call("run", "-b", bundle, cid)
            return time.perf_counter() - t0
        t0 = time.perf_counter()
        self.call("create", "-b", bundle, cid)
        self.call("start", cid)
        self.call("delete", "-f", cid)
        return time.perf_counter() - t0

    def cleanup(self) -> None:
        """Force-delete anything left in the state root (after an abort)."""
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


def stats(samples: list[float]) -> dict:
    ms = sorted(s * 1000.0 for s in samples)
    deciles = statistics.quantiles(ms, n=10, method="inclusive") if len(ms) > 1 else ms * 9
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p10_ms": deciles[0],
        "p90_ms": deciles[8],
        "mean_ms": statistics.fmean(ms),
        "min_ms": ms[0],
        "max_ms": ms[-1],
        "stdev_ms": statistics.stdev(ms) if len(ms) > 1 else 0.0,
    }


def version_of(argv: list[str]) -> str:
    try:
        out = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return f"unknown ({e})"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


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


def crun_bundle(src: Path, dest: Path) -> str | None:
    """crun 1.8 rejects ociVersion >= 1.2 ("unknown version specified").

    Returns a note if a crun-specific config had to be written (same config,
    older ociVersion, root pointing at the shared rootfs), else None.
    """
    config = json.loads((src / "config.json").read_text())
    version = config.get("ociVersion", "")
    try:
        major, minor = (int(x) for x in version.split("-")[0].split(".")[:2])
    except ValueError:
        return None
    if (major, minor) <= (1, 1):
        return None
    dest.mkdir()
    config["ociVersion"] = "1.1.0"
    config["root"]["path"] = str(src / config["root"]["path"])
    (dest / "config.json").write_text(json.dumps(config, indent="\t") + "\n")
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
            out.append(time.perf_counter() - t0)
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


def print_table(results: dict, names: list[str]) -> None:
    for mode, per_rt in results.items():
        label = "run /bin/true" if mode == "run" else "create+start+delete -f (/bin/true)"
        print(f"\n{label}")
        print(f"  {'runtime':<12}{'median':>10}{'p10':>10}{'p90':>10}{'mean':>10}   (ms)")
        for name in names:
            s = per_rt[name]
            print(
                f"  {name:<12}{s['median_ms']:>10.2f}{s['p10_ms']:>10.2f}"
                f"{s['p90_ms']:>10.2f}{s['mean_ms']:>10.2f}"
            )
        base = per_rt["ociruntime"]["median_ms"]
        for other in names[1:]:
            print(f"  ratio ociruntime/{other} (median): {base / per_rt[other]['median_ms']:.2f}x")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50, help="measured iterations (default 50)")
    ap.add_argument("--warmup", type=int, default=5, help="unmeasured iterations (default 5)")
    ap.add_argument(
        "--ociruntime",
        default="ociruntime",
        help='ociruntime command, shell-split (default: ociruntime on PATH; e.g. "python3 -m ociruntime")',
    )
    ap.add_argument("--runc", default="runc", help="runc command (default: runc)")
    ap.add_argument("--with-crun", action="store_true", help="also measure crun")
    ap.add_argument("--crun", default="crun", help="crun command (default: crun)")
    ap.add_argument(
        "--mode",
        choices=[*MODES, "both"],
        default="both",
        help="run, lifecycle (create+start+delete -f) or both (default)",
    )
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON to FILE")
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

    modes = list(MODES) if args.mode == "both" else [args.mode]
    workdir = Path(tempfile.mkdtemp(prefix="ociruntime-bench-"))
    runtimes: list[Runtime] = []
    try:
        oci = resolve_cmd(args.ociruntime, "--ociruntime")
        runc = resolve_cmd(args.runc, "--runc")
        spec_cmd = resolve_cmd(args.spec_with, "--spec-with") if args.spec_with else oci
        bundle = workdir / "bundle"
        build_bundle(bundle, spec_cmd)

        notes: list[str] = []
        runtimes.append(
            Runtime(
                "ociruntime", oci, bundle, workdir / "root-ociruntime", workdir / "ociruntime.err"
            )
        )
        runtimes.append(Runtime("runc", runc, bundle, workdir / "root-runc", workdir / "runc.err"))
        wrapped = False
        if args.with_crun:
            crun = resolve_cmd(args.crun, "--crun")
            wrapped = os.path.ismount(UNIFIED)
            if wrapped:
                if shutil.which("unshare") is None:
                    raise BenchError("crun needs `unshare` (util-linux) on this cgroup hybrid host")
                notes.append(f"crun runs inside a private mount namespace with {UNIFIED} unmounted")
            crun_dir = workdir / "bundle-crun"
            note = crun_bundle(bundle, crun_dir)
            if note:
                notes.append(note)
            runtimes.append(
                Runtime(
                    "crun",
                    crun,
                    crun_dir if note else bundle,
                    workdir / "root-crun",
                    workdir / "crun.err",
                    prefix=CRUN_WRAPPER if wrapped else (),
                )
            )
        for rt in runtimes:
            rt.root.mkdir()

        names = [rt.name for rt in runtimes]
        print(
            f"bench: {args.runs} runs + {args.warmup} warmups per case; runtimes: {', '.join(names)}"
        )
        for note in notes:
            print(f"note: {note}")

        results: dict[str, dict] = {}
        for mode in modes:
            samples: dict[str, list[float]] = {name: [] for name in names}
            for i in range(args.warmup + args.runs):
                # Alternate within the iteration, rotating who goes first.
                k = i % len(runtimes)
                for rt in runtimes[k:] + runtimes[:k]:
                    elapsed = rt.measure(mode)
                    if i >= args.warmup:
                        samples[rt.name].append(elapsed)
            results[mode] = {name: stats(s) for name, s in samples.items()}

        wrapper = measure_wrapper_overhead(args.runs) if wrapped else None
        if wrapper:
            # Rough estimate of crun without the wrapper: lifecycle pays it 3 times.
            calls = {"run": 1, "lifecycle": 3}
            wrapper["crun_estimated_unwrapped_median_ms"] = {
                mode: results[mode]["crun"]["median_ms"]
                - calls[mode] * wrapper["overhead_median_ms"]
                for mode in modes
            }
        print_table(results, names)
        if wrapper:
            print(
                f"\ncrun wrapper overhead (unshare -m + sh + umount, exec /bin/true vs /bin/true):"
                f" median {wrapper['overhead_median_ms']:.2f} ms"
                f" ({wrapper['wrapper_true']['median_ms']:.2f} vs {wrapper['plain_true']['median_ms']:.2f});"
                f" it is included in crun's numbers (lifecycle pays it 3x)"
            )
            for mode, est in wrapper["crun_estimated_unwrapped_median_ms"].items():
                print(f"  crun {mode} median without the wrapper, estimated: {est:.2f} ms")

        if args.json:
            report = {
                "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "host": {
                    "kernel": platform.release(),
                    "machine": platform.machine(),
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "cgroup_hybrid": os.path.ismount(UNIFIED),
                },
                "runs": args.runs,
                "warmup": args.warmup,
                "process_args": ["/bin/true"],
                "runtimes": {
                    rt.name: {"argv": rt.prefix + rt.argv, "version": version_of(rt.argv)}
                    for rt in runtimes
                },
                "notes": notes,
                "results": results,
                "ratios_median": {
                    mode: {
                        f"ociruntime/{other}": per_rt["ociruntime"]["median_ms"]
                        / per_rt[other]["median_ms"]
                        for other in names[1:]
                    }
                    for mode, per_rt in results.items()
                },
                "crun_wrapper_overhead": wrapper,
            }
            out = Path(args.json)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=2) + "\n")
            print(f"\nwrote {out}")
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
