#!/usr/bin/python3
"""``create --systemd-cgroup``: ociruntime's wall time against runc's, on a systemd host.

The systemd cgroup driver's create waits for D-Bus (StartTransientUnit and
its job), so it is measured where systemd runs: in the ``vm-run --systemd``
guest from this project's hosts (bench_run.py's harness runs on the host,
which has no systemd, and leaves that target to this script):

    ../shared/tools/vm-run --systemd -- /usr/bin/python3 bench/systemd_create.py \\
        --install /run/ociruntime-bench --runs 15

Each round times ``RUNTIME --systemd-cgroup create`` of one busybox bundle
(a fresh id, the default cgroupsPath: a scope in system.slice), then
deletes the container untimed; the runtimes alternate round by round.
Prints the median and the spread of each, and their ratio; ``--json FILE``
writes them.  Run as root.

``--install DIR`` first installs this checkout's launcher into DIR
(tools/write-launcher) and measures that one.  It matters in the guest:
the host's files reach it through 9p under an overlay, where the
interpreter copy's immutable flag cannot be read, so a launcher installed
on the host counts as writable there and its first child is executed anew
from a read-only clone (linux/exe.py): one more interpreter start per
create than on a host where ``make install`` made the copy immutable.  The
guest's /run (tmpfs) keeps the flag.  The script prints which case it
measured.

Beside them, the bare starts, alternating too: the launcher's interpreter
(``-IS -c pass``) and ``runc --version``.  The guest emulates its CPU, which
magnifies the interpreter's start far more than a Go binary's, so the
script prints the floor as bench_run.py does: runc's create with its two
starts (``runc``, ``runc init``) replaced by ociruntime's one interpreter
start (its first child and init are forked), the best ociruntime could
reach if its own work cost what runc's does.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


sys.path.insert(0, str(REPO))
from ociruntime.linux.exe import is_immutable  # noqa: E402


def make_bundle(d: Path) -> str:
    from ociruntime.config.default import default_config

    rootfs = d / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    bb = shutil.which("busybox") or "/bin/busybox"
    shutil.copy2(bb, rootfs / "bin" / "busybox")
    for sub in ("dev", "proc", "sys", "tmp", "etc", "root"):
        (rootfs / sub).mkdir(exist_ok=True)
    (rootfs / "bin" / "sleep").symlink_to("busybox")
    cfg = default_config()
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "60"]
    (d / "config.json").write_text(json.dumps(cfg))
    return str(d)


def once(cmd: list[str], root: str, bundle: str) -> float:
    cid = "bench-" + uuid.uuid4().hex[:10]
    # stderr on a file: the created container keeps the stdio it is given
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        r = subprocess.run(
            [*cmd, "--root", root, "--systemd-cgroup", "create", "-b", bundle, cid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            timeout=300,
        )
        took = time.monotonic() - t0
        err.seek(0)
        why = err.read().decode(errors="replace")
    subprocess.run(
        [*cmd, "--root", root, "--systemd-cgroup", "delete", "-f", cid],
        capture_output=True,
        timeout=300,
    )
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} create failed: {why}")
    return took


def interpreter_of(launcher: str) -> str | None:
    """The #! interpreter of an installed launcher script."""
    path = shutil.which(launcher)
    if not path:
        return None
    with open(path, "rb") as f:
        first = f.readline().decode(errors="replace")
    return first[2:].split()[0] if first.startswith("#!") else None


def install(target_dir: str) -> str:
    """This checkout's launcher, installed into ``target_dir``; its path."""
    launcher = os.path.join(target_dir, "ociruntime")
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "write-launcher"), launcher, target_dir + "/lib"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd="/",
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return launcher


def bare(argv: list[str]) -> float:
    t0 = time.monotonic()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    return time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ociruntime", default="ociruntime")
    ap.add_argument("--runc", default="runc")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--install", metavar="DIR", help="install this checkout's launcher in DIR")
    ap.add_argument("--json")
    o = ap.parse_args()
    if o.install:
        o.ociruntime = install(o.install)
    runtimes = {"ociruntime": shlex.split(o.ociruntime), "runc": shlex.split(o.runc)}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = make_bundle(Path(tmp) / "bundle")
        roots = {}
        for name in runtimes:
            roots[name] = f"{tmp}/root-{name}"
            Path(roots[name]).mkdir()
        times: dict[str, list[float]] = {n: [] for n in runtimes}
        interp = interpreter_of(runtimes["ociruntime"][0])
        fixed = is_immutable(interp) if interp else None
        print(
            f"ociruntime: {runtimes['ociruntime'][0]}, interpreter {interp}: "
            + (
                "immutable (the first child is forked at entry)"
                if fixed
                else "immutability unknown or unset: each create executes the first child anew"
                " from a read-only clone of the interpreter (linux/exe.py), one more start"
            )
        )
        starts = {
            "interpreter": [interp, "-IS", "-c", "pass"],
            "runc": [*runtimes["runc"], "--version"],
        }
        if not interp:
            del starts["interpreter"]
        start_times: dict[str, list[float]] = {n: [] for n in starts}
        for i in range(o.warmup + o.runs):
            for name, cmd in runtimes.items():
                t = once(cmd, roots[name], bundle)
                if i >= o.warmup:
                    times[name].append(t)
            for name, argv in starts.items():
                t = bare(argv)
                if i >= o.warmup:
                    start_times[name].append(t)
    out: dict = {"interpreter_immutable": fixed}
    for name, ts in times.items():
        out[name] = {
            "median_ms": round(statistics.median(ts) * 1000, 1),
            "min_ms": round(min(ts) * 1000, 1),
            "max_ms": round(max(ts) * 1000, 1),
            "runs": len(ts),
        }
        print(
            f"{name:<11} create --systemd-cgroup: median {out[name]['median_ms']} ms "
            f"(min {out[name]['min_ms']}, max {out[name]['max_ms']}, {len(ts)} runs)"
        )
    ratio = out["ociruntime"]["median_ms"] / out["runc"]["median_ms"]
    out["ratio"] = round(ratio, 2)
    print(f"ratio ociruntime / runc: {ratio:.2f}")
    if "interpreter" in start_times:
        py = statistics.median(start_times["interpreter"]) * 1000
        go = statistics.median(start_times["runc"]) * 1000
        floor = out["runc"]["median_ms"] - 2 * go + py
        out["starts_ms"] = {"interpreter": round(py, 1), "runc": round(go, 1)}
        out["floor_ms"], out["floor_ratio"] = (
            round(floor, 1),
            round(floor / out["runc"]["median_ms"], 2),
        )
        print(
            f"bare starts: the interpreter {py:.1f} ms, runc --version {go:.1f} ms; floor (runc's"
            f" create, its 2 starts replaced by 1 interpreter start) {floor:.1f} ms ="
            f" {out['floor_ratio']:.2f}x runc"
        )
    if o.json:
        Path(o.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
