"""Fault injection (issue 18, item 7): the runtime killed at every step.

``OCIRUNTIME_TEST_KILL_AT=STEP`` makes the runtime process SIGKILL itself as
it enters the first ``--trace`` span named STEP (ociruntime/trace.py).  For
create, run (detached and foreground), start, exec (detached and
foreground) and delete, every step the command's own trace names is tried:
the command dies there, and ``delete --force`` then leaves nothing: no
state directory, no cgroup, no mount, no process of the container's or of
the runtime's, nothing of an exec'd process in the container.

Also: the container's init killed while ``start`` waits on it, and two
commands racing on one id, where exactly one may win and the others fail
cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading

import pytest
from conftest import OCI, assert_one_line_error, leftovers, ns_members, sh, wait_for

SYNTHETIC = {
    "interpreter start-up (+-10 ms: /proc start time is in ticks)",
    "imports and argument parsing",
}


def cgroup_dirs(cid: str) -> list[str]:
    """Every directory a container with the default cgroupsPath could have."""
    out = [os.path.join("/sys/fs/cgroup", "ociruntime", cid)]
    for d in os.listdir("/sys/fs/cgroup"):
        out.append(os.path.join("/sys/fs/cgroup", d, "ociruntime", cid))
    return [d for d in out if os.path.isdir(os.path.dirname(d))]


def assert_nothing_left(oci, b, cid: str) -> None:
    wait_for(lambda: leftovers(oci, b, (cid,)) == [], f"nothing of {cid} left", timeout=10)
    left = [d for d in cgroup_dirs(cid) if os.path.exists(d)]
    assert left == [], f"cgroups left: {left}"


def steps(oci, tmp_path, *args: str, prepare=None) -> list[str]:
    """The names of the spans the runtime process itself traces for ``args``."""
    path = tmp_path / f"trace-{args[0]}.json"
    r = oci.cli(*args, global_args=("--trace", str(path)))
    assert r.returncode == 0, r.stderr
    events = [e for e in json.loads(path.read_text())["traceEvents"] if e.get("ph") == "X"]
    main = next(e["pid"] for e in events if e["name"] == "imports and argument parsing")
    return sorted({e["name"] for e in events if e["pid"] == main} - SYNTHETIC)


def killed_at(oci, step: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = dict(os.environ, OCIRUNTIME_TEST_KILL_AT=step)
    return oci.cli(*args, env=env, timeout=timeout)


# each scenario: (name, command args with {id} and {bundle}, the state to start from)
SCENARIOS = [
    ("create", ("create", "--bundle", "{bundle}", "{id}"), None),
    ("run-detached", ("run", "-d", "--bundle", "{bundle}", "{id}"), None),
    ("run", ("run", "--bundle", "{bundle}", "{id}"), None),
    ("start", ("start", "{id}"), "created"),
    ("exec-detached", ("exec", "-d", "{id}", "sleep", "100"), "running"),
    ("exec", ("exec", "{id}", "sh", "-c", "sleep 100"), "running"),
    ("delete", ("delete", "--force", "{id}"), "running"),
]


def prepare(oci, b, cid: str, state: str | None) -> None:
    if state == "created":
        oci.cli_ok("create", "--bundle", b.path, cid)
    elif state == "running":
        oci.cli_ok("run", "-d", "--bundle", b.path, cid)


def fill(args: tuple[str, ...], b, cid: str) -> list[str]:
    return [a.format(id=cid, bundle=b.path) for a in args]


@pytest.mark.parametrize("name,args,state", SCENARIOS, ids=[s[0] for s in SCENARIOS])
def test_killed_at_every_step_then_delete_force_leaves_nothing(
    oci, make_bundle, tmp_path, name, args, state
):
    b = make_bundle(sh("sleep 100"))
    if name in ("run", "exec"):  # foreground: a process that ends at once
        args = tuple(a if a != "sleep 100" else "true" for a in args)
        if name == "run":
            b = make_bundle(["true"])
    # the steps, from a run that is not killed
    cid = oci.new_id("steps")
    prepare(oci, b, cid, state)
    names = steps(oci, tmp_path, *fill(args, b, cid))
    oci.cli("delete", "--force", cid)
    assert names, "the command traced no step of its own"
    tried = []
    for step in names:
        cid = oci.new_id("kill")
        prepare(oci, b, cid, state)
        r = killed_at(oci, step, *fill(args, b, cid))
        assert r.returncode == -signal.SIGKILL, (step, r.returncode, r.stderr)
        d = oci.cli("delete", "--force", cid)
        assert d.returncode == 0, (step, d.stderr)
        assert_nothing_left(oci, b, cid)
        tried.append(step)
    assert tried == names
    print(f"\n{name}: killed at {len(tried)} steps")


def test_init_killed_while_start_waits(oci, make_bundle):
    """The init dies as start connects: start fails in one line, delete
    cleans up, nothing is left."""
    b = make_bundle(["true"])
    cid = oci.new_id("startkill")
    oci.cli_ok("create", "--bundle", b.path, cid)
    pid = oci.state(cid)["pid"]
    os.kill(pid, signal.SIGKILL)
    r = oci.cli("start", cid)
    assert_one_line_error(r)
    oci.cli_ok("delete", "--force", cid)
    assert_nothing_left(oci, b, cid)


@pytest.mark.parametrize("mode", ["exec", "exec -d"])
def test_a_set_up_that_cannot_report_its_forked_process_ends_it(oci, make_bundle, mode):
    """exec's set-up child forks the process into the container's pid
    namespace and reports READY with its pid.  When that report (and then
    the ERROR report) cannot be sent, the child must end the process it
    forked: that process holds the sync socket too and waits for EXEC, so
    the runtime, waiting for READY, never saw the socket close and hung
    (a rootless exec did, while _json failed to load at that point)."""
    b = make_bundle(["sleep", "100"])
    cid = oci.new_id("noreport")
    oci.run_detached(b, cid)
    init = oci.state(cid)["pid"]
    env = dict(os.environ, OCIRUNTIME_TEST_SEND_FAILS="ready,error")
    r = oci.cli("exec", *mode.split()[1:], cid, "sleep", "77", timeout=30, env=env)
    assert r.returncode != 0
    assert_one_line_error(r)
    assert "exited during set-up" in r.stderr
    # nothing of the exec is left in the container: its init alone
    wait_for(lambda: ns_members(init) == [init], "only the init in the pid namespace")
    assert oci.state(cid)["status"] == "running"
    oci.cli_ok("delete", "--force", cid)
    assert_nothing_left(oci, b, cid)


def test_the_init_dies_with_a_runtime_killed_during_set_up(oci, make_bundle, tmp_path):
    """The runtime killed while the init is busy (in a createContainer hook,
    not reading the sync socket): the init dies at once (PDEATHSIG, set in
    the new process: first_child.fork_real_init), not only at its next read,
    and delete --force leaves nothing."""
    marker = tmp_path / "hook-started"
    b = make_bundle(["true"])
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"touch {marker}; sleep 60"]}
    b.config["hooks"] = {"createContainer": [hook]}
    b.save()
    cid = oci.new_id("pdeath")
    cmd = [*OCI, "--root", oci.root, "create", "--bundle", b.path, cid]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        wait_for(marker.exists, "the createContainer hook", timeout=20)
        with open(os.path.join(oci.root, cid, "init.pid")) as f:
            pid = int(f.read().split()[0])
        assert not _zombie(pid), "the init is alive while its hook runs"
        p.kill()
        p.wait(timeout=10)
        wait_for(lambda: _zombie(pid), "the init killed with the runtime", timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    oci.cli_ok("delete", "--force", cid)
    assert_nothing_left(oci, b, cid)


def race(*cmds: list[str]) -> list[subprocess.CompletedProcess]:
    """Run the commands at once (threads started together); their results."""
    out: list = [None] * len(cmds)
    go = threading.Barrier(len(cmds))

    def one(i: int) -> None:
        # stdio on files: a container that outlives the call keeps what it is given
        with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
            go.wait()
            r = subprocess.run(cmds[i], stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, timeout=60)
            fo.seek(0)
            fe.seek(0)
            out[i] = subprocess.CompletedProcess(
                cmds[i], r.returncode, fo.read().decode(), fe.read().decode()
            )

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(cmds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def clean_failure(r: subprocess.CompletedProcess) -> None:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr


@pytest.mark.parametrize("trial", range(5))
def test_create_create_race_one_wins(oci, make_bundle, trial):
    b = make_bundle(["sleep", "100"])
    cid = oci.new_id("race")
    cmd = [*OCI, "--root", oci.root, "create", "--bundle", b.path, cid]
    rs = race(cmd, cmd, cmd)
    won = [r for r in rs if r.returncode == 0]
    assert len(won) == 1, [(r.returncode, r.stderr) for r in rs]
    for r in rs:
        if r.returncode:
            clean_failure(r)
            assert "exists" in r.stderr, r.stderr
    assert oci.state(cid)["status"] == "created"
    oci.cli_ok("delete", "--force", cid)
    assert_nothing_left(oci, b, cid)


def test_create_racing_delete_force_fails_cleanly_or_not_at_all(oci, make_bundle):
    """delete --force used to take a create's fresh state directory between
    its mkdir and its flock (a crashed create's, it thought): create then
    failed with a raw [Errno].  Now either may win; nothing fails untidily
    and nothing is left."""
    b = make_bundle(["sleep", "100"])
    for _ in range(10):
        cid = oci.new_id("cd")
        rs = race(
            [*OCI, "--root", oci.root, "create", "--bundle", b.path, cid],
            [*OCI, "--root", oci.root, "delete", "--force", cid],
        )
        for r in rs:
            if r.returncode:
                clean_failure(r)
        oci.cli("delete", "--force", cid)
        assert_nothing_left(oci, b, cid)


@pytest.mark.parametrize("pair", ["delete-start", "kill-delete", "exec-delete"])
def test_racing_commands_on_one_id_fail_cleanly(oci, make_bundle, pair):
    b = make_bundle(["sleep", "100"])
    for _ in range(5):
        cid = oci.new_id("race")
        if pair == "delete-start":
            oci.cli_ok("create", "--bundle", b.path, cid)
            first = ["delete", "--force", cid]
            second = ["start", cid]
        else:
            oci.cli_ok("run", "-d", "--bundle", b.path, cid)
            first = ["kill", cid, "KILL"] if pair == "kill-delete" else ["delete", "--force", cid]
            second = ["delete", "--force", cid] if pair == "kill-delete" else ["exec", cid, "true"]
        rs = race([*OCI, "--root", oci.root, *first], [*OCI, "--root", oci.root, *second])
        for r in rs:
            if r.returncode:
                clean_failure(r)
        oci.cli("delete", "--force", cid)
        assert_nothing_left(oci, b, cid)


# ---- state lost under running containers (issue 18, item 5) ----------------------------------


@pytest.mark.parametrize("damage", ["wiped", "a file", "a symlink"])
def test_delete_force_of_an_id_without_state_removes_its_cgroup(oci, make_bundle, damage, tmp_path):
    """A wiped --root, or the state directory replaced by a file or a symlink
    (never followed): delete --force ID finds the cgroup at the default path,
    kills what runs there, removes it and the damage, and says so (a
    warning, exit 0)."""
    b = make_bundle(["sleep", "100"])
    cid = oci.new_id("lost")
    pid = oci.run_detached(b, cid)
    import shutil

    d = os.path.join(oci.root, cid)
    shutil.rmtree(d)
    decoy = tmp_path / "decoy"
    decoy.mkdir()
    (decoy / "keep").write_text("")
    if damage == "a file":
        with open(d, "w") as f:
            f.write("junk")
    elif damage == "a symlink":
        os.symlink(decoy, d)
    r = oci.cli("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert "has no state" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    wait_for(lambda: not os.path.exists(f"/proc/{pid}/stat") or _zombie(pid), "the init killed")
    assert_nothing_left(oci, b, cid)
    assert os.listdir(decoy) == ["keep"]


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_create_refuses_a_cgroup_that_holds_processes(oci, make_bundle):
    """A new create of that id would join the orphan's cgroup: refused, the
    orphan and its cgroup left as they were."""
    b = make_bundle(["sleep", "100"])
    cid = oci.new_id("orphan")
    pid = oci.run_detached(b, cid)
    import shutil

    shutil.rmtree(os.path.join(oci.root, cid))
    r = oci.cli("create", "--bundle", b.path, cid)
    assert_one_line_error(r, "not empty")
    assert not _zombie(pid), "the orphan was killed"
    assert any(os.path.isdir(d) for d in cgroup_dirs(cid)), "the orphan's cgroup was removed"
    oci.cli_ok("delete", "--force", cid)
    assert_nothing_left(oci, b, cid)


def test_ps_of_a_stopped_container_lists_what_its_cgroup_holds(oci, make_bundle):
    """The init exited, what it started did not: ps shows those (it printed [])."""
    b = make_bundle(sh("(sleep 100 &) ; (sleep 100 &) ; exit 0"))
    b.config["linux"]["namespaces"] = [
        ns for ns in b.config["linux"]["namespaces"] if ns["type"] != "pid"
    ]
    b.save()
    cid = oci.new_id("left")
    oci.cli_ok("run", "-d", "--bundle", b.path, cid)
    oci.wait_status(cid, "stopped")
    pids = wait_for(
        lambda: (
            (p := json.loads(oci.ok("ps", "--format", "json", cid).stdout)) and len(p) == 2 and p
        ),
        "two sleeps in the cgroup",
    )
    assert all(not _zombie(p) for p in pids)
    oci.cli_ok("delete", "--force", cid)
    assert_nothing_left(oci, b, cid)


# ---- load (issue 18, item 8) ------------------------------------------------------------------

LOAD_WORKERS = 8
LOAD_EACH = 12  # lifecycles per worker: about 20 s on two cores; make bench runs the long case


def test_parallel_lifecycles_fail_none_and_leave_nothing(oci, make_bundle):
    """8 loops of create, start, wait (polling state, as engines do), delete
    at once, each on its own id: every command succeeds and, after all of
    them, nothing is left (state, cgroups, mounts, processes).  Throughput
    against runc's is make bench's load case, not a test."""
    b = make_bundle(["true"])
    failures: list[str] = []
    ids: list[str] = []

    def loop() -> None:
        for _ in range(LOAD_EACH):
            cid = oci.new_id("load")
            ids.append(cid)
            for args in (("create", "--bundle", b.path, cid), ("start", cid)):
                r = oci.cli(*args)
                if r.returncode != 0:
                    failures.append(f"{args[0]} {cid}: {r.stderr.strip()}")
            try:
                oci.wait_status(cid, "stopped", timeout=30)
            except AssertionError as e:
                failures.append(f"wait {cid}: {e}")
            r = oci.cli("delete", cid)
            if r.returncode != 0:
                failures.append(f"delete {cid}: {r.stderr.strip()}")

    threads = [threading.Thread(target=loop) for _ in range(LOAD_WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert failures == []
    assert len(ids) == LOAD_WORKERS * LOAD_EACH
    assert os.listdir(oci.root) == []
    for cid in ids:
        assert_nothing_left(oci, b, cid)
