#!/usr/bin/python3
"""Where a command's time goes, by function: py-spy over many short runs.

One ``state`` or ``start`` lives for about 6 ms, too short for a profile of
its own, so this runs each command ``--runs`` times under ``py-spy record``
(sampling at ``--rate`` Hz, raw folded stacks), adds the samples up and
prints, per command:

* the share of samples by phase: interpreter start-up (CPython's own frozen
  code: getpath, encodings, zipimport, before our launcher runs), imports
  (any stack inside importlib), and the rest, which is our code running;
* the functions with the most samples on the stack (inclusive) and at the
  top of it (self), with an estimate in ms per call (samples / rate / runs).

Time in C (the kernel's exec, page faults, the interpreter's C start-up)
has no Python frame and is sampled only as far as py-spy sees a Python
stack; ``python -X importtime`` and ``--trace`` complement it.

    /usr/bin/python3 bench/profile.py [--runs 30] [--rate 20000]
        [--commands create,start,state,delete] [--children]

Needs py-spy (``make deps`` installs it) and root; uses a private --root.
"""

from __future__ import annotations

import argparse
import collections
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

COMMANDS = ("create", "start", "state", "kill", "delete", "run", "exec")


def phase(stack: list[str]) -> str:
    if not any("(ociruntime" in f or "/ociruntime/" in f for f in stack):
        return "interpreter start-up"
    if any(f.startswith(("_find_and_load", "_load_unlocked")) for f in stack):
        return "imports"
    return "our code"


def short(frame: str) -> str:
    """'func (/long/path/ociruntime/x.py:12)' -> 'func (ociruntime/x.py)'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    if "/ociruntime/" in path:
        path = "ociruntime/" + path.split("/ociruntime/", 1)[1]
    else:
        path = os.path.basename(path)
    return f"{name} ({path})"


class Profile:
    def __init__(self) -> None:
        self.total = 0
        self.phases: collections.Counter = collections.Counter()
        self.inclusive: collections.Counter = collections.Counter()
        self.self_: collections.Counter = collections.Counter()

    def add_raw(self, text: str) -> None:
        for line in text.splitlines():
            stack_text, _, count = line.rpartition(" ")
            if not stack_text or not count.isdigit():
                continue
            n = int(count)
            stack = [f for f in stack_text.split(";") if f]
            if stack and stack[0].startswith("process "):
                stack = stack[1:]  # --children: "process 123:..." as the root frame
            if not stack:
                continue
            self.total += n
            self.phases[phase(stack)] += n
            for f in {short(f) for f in stack}:
                self.inclusive[f] += n
            self.self_[short(stack[-1])] += n


class _Missed(Exception):
    pass


class Runner:
    def __init__(self, oci: list[str], pyspy: str, rate: int, children: bool) -> None:
        self.oci = oci
        self.pyspy = pyspy
        self.rate = rate
        self.children = children
        self.tmp = Path(tempfile.mkdtemp(prefix="ociruntime-profile-"))
        self.root = self.tmp / "state"
        self.bundle = self.tmp / "bundle"
        self.sleeper = self.tmp / "sleeper"
        # a private busybox bundle, as the bench makes it (bench_run.py)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_run import build_bundle, derive_bundle

        build_bundle(self.bundle, oci)
        derive_bundle(self.bundle, self.sleeper, ["sleep", "60"], None)

    def cli(self, *args: str) -> None:
        # output to a file, not a pipe: a created container's init keeps it open
        with open(self.tmp / "cli.err", "wb") as err:
            r = subprocess.run(
                [*self.oci, "--root", str(self.root), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=60,
            )
        if r.returncode != 0:
            raise SystemExit(f"profile.py: {' '.join(args)}: {(self.tmp / 'cli.err').read_text()}")

    def sampled(self, *args: str) -> str:
        out = self.tmp / "raw.txt"
        cmd = [self.pyspy, "record", "--rate", str(self.rate), "--format", "raw", "-o", str(out)]
        cmd += ["--nonblocking", "--subprocesses"] if self.children else ["--nonblocking"]
        with open(self.tmp / "py-spy.err", "wb") as err:
            r = subprocess.run(
                [*cmd, "--", *self.oci, "--root", str(self.root), *args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                timeout=120,
            )
        if r.returncode != 0 or not out.exists():
            raise _Missed((self.tmp / "py-spy.err").read_text().strip().splitlines()[0])
        text = out.read_text()
        out.unlink()
        return text

    def one(self, command: str) -> str:
        """One sampled call; py-spy now and then loses a race with the exec of the
        process it spawned ("Failed to get process executable name"): again."""
        for attempt in range(5):
            try:
                return self._one(command)
            except _Missed as e:
                if attempt == 4:
                    raise SystemExit(
                        f"profile.py: py-spy failed 5 times on {command}: {e}"
                    ) from None
        return ""

    def _one(self, command: str) -> str:
        """Sample one call of ``command``, with whatever it needs around it."""
        cid = "prof-" + uuid.uuid4().hex[:10]
        sleeper = str(self.sleeper)
        try:
            if command == "run":
                return self.sampled("run", "-b", str(self.bundle), cid)
            if command == "create":
                return self.sampled("create", "-b", sleeper, cid)
            self.cli("create", "-b", sleeper, cid)
            if command == "start":
                return self.sampled("start", cid)
            self.cli("start", cid)
            if command == "state":
                return self.sampled("state", cid)
            if command == "kill":
                return self.sampled("kill", cid, "KILL")
            if command == "exec":
                return self.sampled("exec", cid, "true")
            return self.sampled("delete", "--force", cid)
        finally:
            subprocess.run(
                [*self.oci, "--root", str(self.root), "delete", "--force", cid],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
            )

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def report(command: str, p: Profile, runs: int, rate: int, top: int) -> None:
    ms = 1000.0 / rate / runs
    print(
        f"\n== {command}: {p.total} samples over {runs} runs (~{p.total * ms:.2f} ms a call seen)"
    )
    for name in ("interpreter start-up", "imports", "our code"):
        n = p.phases.get(name, 0)
        share = 100.0 * n / p.total if p.total else 0.0
        print(f"  {name:22s} {share:5.1f}%  ~{n * ms:.2f} ms")
    print(f"  top {top} inclusive (ms a call):")
    for f, n in p.inclusive.most_common(top):
        print(f"    {n * ms:6.2f}  {f}")
    print(f"  top {top} self (ms a call):")
    for f, n in p.self_.most_common(top):
        print(f"    {n * ms:6.2f}  {f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rate", type=int, default=20000, help="samples a second (default 20000)")
    ap.add_argument("--commands", default="create,start,state,delete")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--children", action="store_true", help="sample the forked children too")
    ap.add_argument("--ociruntime", default="ociruntime")
    o = ap.parse_args(argv)
    commands = [c for c in o.commands.split(",") if c]
    bad = [c for c in commands if c not in COMMANDS]
    if bad:
        ap.error(f"unknown command(s) {', '.join(bad)}: choose from {', '.join(COMMANDS)}")
    if os.geteuid() != 0:
        print("profile.py: run as root", file=sys.stderr)
        return 2
    pyspy = shutil.which("py-spy")
    if pyspy is None:
        print("profile.py: py-spy is not installed (make deps)", file=sys.stderr)
        return 2
    r = Runner(shlex.split(o.ociruntime), pyspy, o.rate, o.children)
    try:
        for command in commands:
            p = Profile()
            for _ in range(o.runs):
                p.add_raw(r.one(command))
            report(command, p, o.runs, o.rate, o.top)
    finally:
        r.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
