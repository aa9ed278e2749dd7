"""Fuzzed configs through real containers (issue 18, item 6).

Each case (tests/fuzzconfig.py: mutations drawn from our schema, applied to
the default busybox config) goes through ``run`` or through ``create``,
``state`` and ``delete --force``, and must end in one of two ways: the
container ran (exit 0, nothing on stderr), or exactly one clean error line
(``ociruntime: ...``, no traceback, no "internal error", no ``[Errno``,
printable) and a non-zero exit; either way nothing is left behind (state
dir, mount, process, cgroup directory) and the log holds clean records.

``make test`` runs a bounded number of derandomized examples; ``make fuzz``
(FUZZ_EXAMPLES=N) runs N random ones, and saves each new problem it finds,
minimized, in tests/fuzz_corpus/; every file there is replayed here (and
through the config loader in tests/unit/test_fuzz_config.py).

A case that could touch the host (a hook, bind source, namespace path,
cgroup or network device that exists there, a root outside the bundle) is
checked by the loader only: see :func:`host_risk`.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import stat
import subprocess

import fuzzconfig as fz
import pytest
from conftest import ERROR_PREFIX, Bundle, leftovers

from ociruntime.errors import OCIError

EXAMPLES = fz.FUZZ or int(os.environ.get("FUZZ_RUN_EXAMPLES") or 200)
TIMEOUT = 30


def _str(v: object) -> str | None:
    return v if isinstance(v, str) and "\0" not in v else None


def _exists(p: object) -> bool:
    p = _str(p)
    return bool(p) and os.path.lexists(p)


def _items(v: object) -> list:
    return v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else []


def _get(d: object, *keys: str) -> object:
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def host_risk(cfg: object, bundle: str, cid: str) -> str | None:
    """Why running this config could reach the host beyond the container, or None."""
    if not isinstance(cfg, dict):
        return None
    root = _str(_get(cfg, "root", "path"))
    if root is not None:
        real = os.path.realpath(os.path.join(bundle, root))
        if os.path.exists(real) and not real.startswith(bundle + "/"):
            return f"root {root!r} outside the bundle"
    for hooks in _items(cfg.get("hooks")):
        for h in _items(hooks):
            p = _get(h, "path")
            if _exists(p) and p not in fz.SAFE_HOOKS:
                return f"hook {p!r}"
    linux = cfg.get("linux")
    for ns in _items(_get(linux, "namespaces")):
        if _exists(_get(ns, "path")):
            return "namespace path"
    nets = _get(linux, "netDevices")
    if isinstance(nets, dict) and set(nets) & set(os.listdir("/sys/class/net")):
        return "a host network device"
    if _exists(_get(linux, "seccomp", "listenerPath")):
        return "seccomp listener"
    for m in _items(cfg.get("mounts")):
        src = _get(m, "source")
        if not _exists(src) or os.path.realpath(src).startswith(bundle + "/"):
            continue
        opts = _get(m, "options")
        if _get(m, "type") == "bind" or (isinstance(opts, list) and {"bind", "rbind"} & set(opts)):
            return f"bind of {src!r}"
        if stat.S_ISBLK(os.stat(src).st_mode):
            return f"block device {src!r}"
    if any(os.path.isdir(d) for d in cgroup_dirs(cfg, cid)[0]):
        return "an existing cgroup"
    return None


def cgroup_dirs(cfg: object, cid: str) -> tuple[list[str], list[str]]:
    """(the container's cgroup directories, those of them and of their parents
    that do not exist yet) for this config; ([], []) if its cgroupsPath is refused."""
    from ociruntime import cgroups

    linux = _get(cfg, "linux")
    path = _str(_get(linux, "cgroupsPath"))
    try:
        m = cgroups.for_config({"cgroupsPath": path} if path else {}, cid)
    except (OCIError, ValueError):
        return [], []
    dirs = [d for d in m.dirs() if d]
    new = []
    for d in dirs:
        # the default /ociruntime is shared with every other container: only ours
        top = os.path.dirname(d) if not path else "/sys/fs/cgroup"
        p = d
        while p.startswith(top + "/") and not os.path.isdir(p):
            new.append(p)
            p = os.path.dirname(p)
    return dirs, new


def _cleanup(oci, b: Bundle, cid: str, cg_new: list[str]) -> None:
    """After a failed case: whatever it left, so that the next one starts clean."""
    oci.cli("delete", "--force", cid)
    with open("/proc/self/mountinfo") as f:
        mounts = [ln.split()[4] for ln in f if b.path in ln]
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", m], capture_output=True)
    for line in leftovers(oci, b, (cid,)):
        if line.startswith("process "):
            try:
                os.kill(int(line.split()[1].rstrip(":")), 9)
            except (ProcessLookupError, ValueError):
                pass
    for d in sorted(cg_new, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass


def _stderr_problem(text: str, rc: int, ran_own_process: bool) -> str | None:
    lines = text.splitlines()
    if rc == 0:
        return f"exit 0 with output on stderr: {text!r}" if text else None
    if not lines:
        # the process itself failed: killed (seccomp, a limit) or a mutated args
        return None if rc > 128 or ran_own_process else f"exit {rc} and nothing on stderr"
    if len(lines) > 1 or not text.endswith("\n"):
        return f"exit {rc} with {len(lines)} lines on stderr: {text[:600]!r}"
    line = lines[0]
    if not line.startswith(ERROR_PREFIX) or line == ERROR_PREFIX:
        return f"not an ociruntime error line: {line!r}"
    return fz.problem_in_line(line)


def _log_problem(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    errors = 0
    for raw in data.splitlines():
        try:
            rec = json.loads(raw)
        except ValueError:
            return f"log record not JSON: {raw[:300]!r}"
        msg = rec.get("msg", "")
        errors += rec.get("level") == "error"
        bad = fz.problem_in_line(msg) if rec.get("level") != "info" else None
        if bad:
            return f"log: {bad}"
    return f"{errors} error records in the log" if errors > 1 else None


def container_problem(oci, b: Bundle, ops: list, mode: str) -> tuple[str | None, str]:
    """Run one case: (what went wrong or None, "ok" or the error line)."""
    cfg, data = fz.build(ops)
    with open(os.path.join(b.path, "config.json"), "wb") as f:
        f.write(data)
    cid = oci.new_id("fz")
    risk = host_risk(cfg, b.path, cid)
    if risk is not None:
        return None, f"not run: {risk}"  # the loader's test covers it
    cg_dirs, cg_new = cgroup_dirs(cfg, cid)
    log = os.path.join(b.path, "log.json")
    g = ("--log", log, "--log-format", "json")
    own = _get(cfg, "process", "args") != ["true"]
    problem, outcome = None, "ok"
    try:
        if mode == "run":
            r = oci.cli("run", "-b", b.path, cid, global_args=g, timeout=TIMEOUT)
            problem = _stderr_problem(r.stderr, r.returncode, own)
            outcome = r.stderr.strip() or f"exit {r.returncode}" if r.returncode else "ok"
        else:
            r = oci.cli("create", "-b", b.path, cid, global_args=g, timeout=TIMEOUT)
            problem = _stderr_problem(r.stderr, r.returncode, False)
            outcome = r.stderr.strip() if r.returncode else "ok"
            if r.returncode == 0 and problem is None:
                s = oci.cli("state", cid, global_args=g, timeout=TIMEOUT)
                if s.returncode != 0 or json.loads(s.stdout).get("status") != "created":
                    problem = f"state after create: exit {s.returncode}: {s.stdout}{s.stderr}"
                d = oci.cli("delete", "--force", cid, global_args=g, timeout=TIMEOUT)
                if d.returncode != 0 or d.stderr:
                    problem = problem or f"delete --force: exit {d.returncode}: {d.stderr!r}"
    except subprocess.TimeoutExpired as e:
        problem = f"{mode} hung: {' '.join(map(str, e.cmd[-3:]))} still running after {TIMEOUT}s"
    if problem is None:
        problem = _log_problem(log)
    if problem is None:
        left = leftovers(oci, b, (cid,))
        # the container's own cgroup; the parents a cgroupsPath needed made
        # stay, as runc leaves them (the default /ociruntime: see cgroup_dirs)
        left += [f"cgroup {d}" for d in cg_new if d in cg_dirs and os.path.isdir(d)]
        if left:
            problem = "left behind: " + "; ".join(left)[:600]
    if problem is not None:
        _cleanup(oci, b, cid, cg_new)
    for d in sorted(cg_new, key=len, reverse=True):  # (empty ones only)
        try:
            os.rmdir(d)
        except OSError:
            pass
    oci.ids.discard(cid)
    return problem, outcome


@pytest.fixture(scope="session")
def small_rootfs(tmp_path_factory, busybox_rootfs) -> str:
    """busybox with a few applets: copied for each case (a case may write to
    its rootfs) in 7 ms, where the full one's 270 links take 100."""
    d = tmp_path_factory.mktemp("fuzz") / "rootfs"
    (d / "bin").mkdir(parents=True)
    shutil.copy2(os.path.join(busybox_rootfs, "bin", "busybox"), d / "bin" / "busybox")
    for applet in ("true", "false", "sh", "cat", "echo", "ls"):
        os.symlink("busybox", d / "bin" / applet)
    for sub in ("dev", "proc", "sys", "tmp", "root", "etc"):
        (d / sub).mkdir(exist_ok=True)
    for f in ("passwd", "group"):
        shutil.copy2(os.path.join(busybox_rootfs, "etc", f), d / "etc" / f)
    return str(d)


@pytest.fixture
def fuzz_bundle(tmp_path, small_rootfs):
    """fuzz_bundle() -> a fresh bundle with its own copy of the rootfs."""
    n = [0]

    def make() -> Bundle:
        n[0] += 1
        d = tmp_path / f"fz{n[0]}"
        d.mkdir()
        subprocess.run(["cp", "-a", small_rootfs, str(d / "rootfs")], check=True)
        return Bundle(str(d), {})

    yield make
    # (never through a mount a failed case may have left)
    for d in tmp_path.glob("fz*"):
        with open("/proc/self/mountinfo") as f:
            if str(d) not in f.read():
                shutil.rmtree(d, ignore_errors=True)


def test_fuzzed_configs_run_or_fail_cleanly(oci, fuzz_bundle):
    from hypothesis import strategies as st

    outcomes: collections.Counter = collections.Counter()
    refusals: collections.Counter = collections.Counter()

    def check(ops: list, mode: str) -> str | None:
        b = fuzz_bundle()
        try:
            problem, outcome = container_problem(oci, b, ops, mode)
        finally:
            if not leftovers(oci, b):
                shutil.rmtree(b.path, ignore_errors=True)
        if outcome == "ok" or outcome.startswith("not run"):
            outcomes[outcome.split(":")[0]] += 1
        else:
            refusals[fz.signature(outcome.removeprefix(ERROR_PREFIX))[:70]] += 1
        return problem

    try:
        fz.explore(
            "containers",
            st.tuples(fz.cases(containers=True), st.sampled_from(["run", "run", "create"])),
            check,
            EXAMPLES,
        )
    finally:
        print(
            f"  {outcomes['ok']} ran, {sum(refusals.values())} refused,"
            f" {outcomes['not run']} only loaded (a host risk); the most frequent refusals:"
        )
        for why, n in refusals.most_common(12):
            print(f"  {n:5d}  {why}")


@pytest.mark.parametrize(
    "path", fz.corpus_files(), ids=[os.path.basename(p)[:-5] for p in fz.corpus_files()]
)
def test_corpus(oci, fuzz_bundle, path):
    """Every case the fuzzer found (and a few written by hand), as a regression test."""
    entry = fz.load_case(path)
    b = fuzz_bundle()
    mode = entry.get("mode") if entry.get("mode") in ("run", "create") else "run"
    problem, outcome = container_problem(oci, b, entry["ops"], mode)
    assert problem is None, f"{path}: {problem}"
    fz.check_expectation(entry, "run", outcome)


# ---- against runc ------------------------------------------------------------------------

RUNC_EXAMPLES = int(os.environ.get("FUZZ_RUNC") or 0)
PR_SET_CHILD_SUBREAPER = 36


def _reap() -> None:
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def runc_outcome(b: Bundle, rootdir: str, cid: str) -> str:
    """ "ok", or runc's error (its last logrus msg): ``runc run`` in a
    throwaway mount namespace (without one of its own, runc 1.1 would leave
    the config's mounts in ours); what it leaves is removed."""
    runc = shutil.which("runc")
    try:
        r = subprocess.run(
            ["unshare", "--mount", "--propagation", "private"]
            + [runc, "--root", rootdir, "run", "-b", b.path, cid],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        out = (
            "ok"
            if r.returncode == 0
            else (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
        )
    except subprocess.TimeoutExpired:
        out = "hung"
    subprocess.run([runc, "--root", rootdir, "delete", "--force", cid], capture_output=True)
    _reap()
    for mp in ("/sys/fs/cgroup/" + c for c in os.listdir("/sys/fs/cgroup")):
        for d in (os.path.join(mp, cid), os.path.join(mp, "unified", cid)):
            try:
                os.rmdir(d)
            except OSError:
                pass
    if 'msg="' in out:
        out = out.split('msg="', 1)[1].rstrip('"')
    return out


@pytest.mark.skipif(not RUNC_EXAMPLES, reason="FUZZ_RUNC=N: N fuzzed configs through runc too")
@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
def test_fuzzed_configs_against_runc(oci, fuzz_bundle, tmp_path):
    """A survey, not a check: each case through ``run`` of ours and of runc;
    where one runs it and the other refuses, the case, both outcomes and
    how often its kind came up are printed (and written to FUZZ_RUNC_REPORT
    if set).  What it finds is listed in tests/compat/test_differences.py
    (a deliberate difference) or fixed (a bug, with a corpus case)."""
    from hypothesis import HealthCheck, Phase, given, settings

    from ociruntime.linux import syscalls as sc

    runc_root = str(tmp_path / "runc-root")
    kinds: dict[str, list] = {}
    count = collections.Counter()
    # runc's init, orphaned when runc gives up, would wait as a zombie for the
    # host's pid 1 (which reaps lazily here), keeping its cgroup: ours to reap
    sc.prctl(PR_SET_CHILD_SUBREAPER, 1)

    @settings(
        max_examples=RUNC_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(fz.cases(containers=True))
    def one(ops: list) -> None:
        b = fuzz_bundle()
        problem, ours = container_problem(oci, b, ops, "run")
        count["cases"] += 1
        if ours.startswith("not run"):
            count["not run"] += 1
            return
        rb = fuzz_bundle()
        with open(os.path.join(rb.path, "config.json"), "wb") as f:
            f.write(fz.build(ops)[1])
        theirs = runc_outcome(rb, runc_root, "fzr-" + os.path.basename(rb.path))
        _reap()
        count[
            "both ran"
            if ours == theirs == "ok"
            else "both refused"
            if "ok" not in (ours, theirs)
            else "differ"
        ] += 1
        if problem is not None:
            count["problems"] += 1
        if (ours == "ok") == (theirs == "ok"):
            return
        key = (
            ("ours ran" if ours == "ok" else "runc ran")
            + ": "
            + fz.signature(theirs if ours == "ok" else ours.removeprefix(ERROR_PREFIX))[:90]
        )
        kinds.setdefault(key, [0, ops, ours, theirs])[0] += 1

    try:
        one()
    finally:
        sc.prctl(PR_SET_CHILD_SUBREAPER, 0)
        _reap()
    lines = [f"fuzz against runc: {dict(count)}"]
    for key, (n, ops, ours, theirs) in sorted(kinds.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"{n:4d}x {key}\n      ours: {ours[:200]}\n      runc: {theirs[:200]}")
        lines.append(f"      case: {json.dumps([fz.to_json(op) for op in ops])[:600]}")
    print("\n" + "\n".join(lines))
    if os.environ.get("FUZZ_RUNC_REPORT"):
        with open(os.environ["FUZZ_RUNC_REPORT"], "w") as f:
            f.write("\n".join(lines) + "\n")
