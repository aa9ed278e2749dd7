#!/usr/bin/python3
"""Memory floor: the smallest memory limit under which ``run`` of /bin/true works.

The runtime's own set-up inside the container (before the exec of the
container's process) is billed to the container's memory cgroup from the
moment it joins it, so a small ``--memory`` can kill the container before
it starts (crun's README shows runc failing at 4M and crun working at 512k).

For each runtime (ociruntime and runc by default) a binary search between
``--low`` and ``--high`` (1 MiB and 64 MiB) over the limit, with swap equal
to the limit (memory+swap == memory: no swap) on the same busybox bundle.
A limit counts as enough only if ``--repeat`` runs in a row (default 3)
exit 0; each run has its own id and each runtime a private ``--root``.

    /usr/bin/python3 bench/memory_floor.py [--json bench/out/memory_floor.json]
    /usr/bin/python3 bench/memory_floor.py --ociruntime "python3 -m ociruntime" --step 16

Run as root.  Prints both floors and their ratio (ociruntime / runc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = REPO / "bundles" / "build-busybox.sh"
KiB = 1024
MiB = 1024 * KiB


def layout() -> str:
    with open("/proc/self/mountinfo") as f:
        types = {}
        for line in f:
            pre, _, post = line.partition(" - ")
            types[pre.split()[4]] = post.split()[0]
    if types.get("/sys/fs/cgroup") == "cgroup2":
        return "v2"
    return "hybrid" if types.get("/sys/fs/cgroup/unified") == "cgroup2" else "v1"


def version_of(argv: list[str]) -> str:
    try:
        out = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        return f"unknown ({e})"
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


class Runtime:
    def __init__(self, name: str, argv: list[str], work: Path) -> None:
        self.name = name
        self.argv = argv
        self.root = work / f"root-{name}"
        self.root.mkdir()
        self.n = 0
        self.last_error = ""

    def run(self, bundle: Path, timeout: float) -> bool:
        self.n += 1
        cid = f"memfloor-{self.name}-{os.getpid()}-{self.n}"
        cmd = [*self.argv, "--root", str(self.root), "run", "--bundle", str(bundle), cid]
        with tempfile.TemporaryFile() as err:
            try:
                p = subprocess.run(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    timeout=timeout,
                )
                code = p.returncode
            except subprocess.TimeoutExpired:
                code = -1
            err.seek(0)
            text = err.read().decode(errors="replace").strip()
        if code != 0:
            self.last_error = (text.splitlines() or [f"exit {code}"])[-1][:300]
        # a run that failed half-way may leave state (and a cgroup) behind
        subprocess.run(
            [*self.argv, "--root", str(self.root), "delete", "--force", cid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return code == 0


def write_limit(bundle: Path, base: dict, limit: int) -> None:
    cfg = json.loads(json.dumps(base))
    res = cfg.setdefault("linux", {}).setdefault("resources", {})
    res["memory"] = {"limit": limit, "swap": limit}
    (bundle / "config.json").write_text(json.dumps(cfg, indent="\t") + "\n")


def enough(
    rt: Runtime, bundle: Path, base: dict, limit: int, repeat: int, timeout: float, log: list
) -> bool:
    write_limit(bundle, base, limit)
    t0 = time.perf_counter()
    good = all(rt.run(bundle, timeout) for _ in range(repeat))
    log.append(
        {
            "limit_bytes": limit,
            "ok": good,
            "seconds": round(time.perf_counter() - t0, 3),
            **({} if good else {"error": rt.last_error}),
        }
    )
    print(
        f"  {rt.name:>10}  {limit / MiB:8.3f} MiB  {'ok' if good else 'FAIL: ' + rt.last_error}",
        flush=True,
    )
    return good


def floor(
    rt: Runtime,
    bundle: Path,
    base: dict,
    low: int,
    high: int,
    step: int,
    repeat: int,
    timeout: float,
) -> dict:
    """Binary search for the smallest limit (a multiple of ``step``) that is enough."""
    probes: list[dict] = []
    if not enough(rt, bundle, base, high, repeat, timeout, probes):
        return {"floor_bytes": None, "note": f"fails even at {high} bytes", "probes": probes}
    if enough(rt, bundle, base, low, repeat, timeout, probes):
        return {"floor_bytes": low, "note": "works at the lower bound", "probes": probes}
    bad, good = low, high  # invariant: bad is not enough, good is
    while good - bad > step:
        mid = (bad + good) // 2 // step * step
        if mid <= bad:
            mid = bad + step
        if enough(rt, bundle, base, mid, repeat, timeout, probes):
            good = mid
        else:
            bad = mid
    return {"floor_bytes": good, "last_failing_bytes": bad, "probes": probes}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ociruntime", default="ociruntime", help="command (word-split)")
    ap.add_argument("--runc", default="runc", help="command (word-split); '' to skip")
    ap.add_argument("--low", type=float, default=1.0, help="MiB (default 1)")
    ap.add_argument("--high", type=float, default=64.0, help="MiB (default 64)")
    ap.add_argument("--step", type=int, default=64, help="resolution in KiB (default 64)")
    ap.add_argument("--repeat", type=int, default=3, help="runs that must all succeed")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per run")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("memory_floor.py: run as root", file=sys.stderr)
        return 2
    runtimes = [("ociruntime", shlex.split(a.ociruntime))]
    if a.runc:
        runtimes.append(("runc", shlex.split(a.runc)))
    for name, argv in runtimes:
        if not shutil.which(argv[0]):
            print(f"memory_floor.py: {name}: {argv[0]} not found", file=sys.stderr)
            return 2
    low, high, step = int(a.low * MiB), int(a.high * MiB), a.step * KiB

    with tempfile.TemporaryDirectory(prefix="memfloor-") as tmp:
        work = Path(tmp)
        bundle = work / "bundle"
        env = dict(os.environ, OCIRUNTIME=shlex.join(runtimes[0][1]), DEMO_ARGS='["/bin/true"]')
        p = subprocess.run(
            ["sh", str(BUILD_SCRIPT), str(bundle)], env=env, capture_output=True, text=True
        )
        if p.returncode != 0:
            print(f"building the bundle failed:\n{p.stdout}{p.stderr}", file=sys.stderr)
            return 1
        base = json.loads((bundle / "config.json").read_text())
        base["process"]["args"] = ["/bin/true"]
        base["process"]["terminal"] = False

        results = {}
        for name, argv in runtimes:
            print(f"{name}: {version_of(argv)}", flush=True)
            rt = Runtime(name, argv, work)
            results[name] = {
                "version": version_of(argv),
                **floor(rt, bundle, base, low, high, step, a.repeat, a.timeout),
            }

    out = {
        "what": "smallest linux.resources.memory.limit (swap = limit) for `run` of /bin/true",
        "host": {"kernel": platform.release(), "cgroup_layout": layout()},
        "search": {"low_bytes": low, "high_bytes": high, "step_bytes": step, "repeat": a.repeat},
        "runtimes": results,
    }
    print()
    for name, r in results.items():
        f = r["floor_bytes"]
        if f is None:
            shown = f"> {high / MiB:.3f} MiB (fails at the upper bound)"
        elif f == low:
            shown = f"<= {f / MiB:.3f} MiB (works at the lower bound; try a smaller --low)"
        else:
            shown = f"{f / MiB:.3f} MiB ({f // KiB} KiB)"
        print(f"{name:>10}: {shown}")
    o, r = (results.get(n, {}).get("floor_bytes") for n in ("ociruntime", "runc"))
    if o and r:
        # a floor found at the lower bound is only an upper bound on the real one
        bound = {(True, False): "<= ", (False, True): ">= ", (True, True): "~ "}.get(
            (o == low, r == low), ""
        )
        out["ratio_ociruntime_to_runc"] = round(o / r, 3)
        out["ratio_is_bound"] = bool(bound)
        print(f"     ratio: {bound}{o / r:.2f} (ociruntime / runc)")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f:
            json.dump(out, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
