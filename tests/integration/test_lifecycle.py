"""The container lifecycle through the CLI: create, start, state, kill, delete, run, list.

The container's init inherits the runtime's stdio (as with runc without a
terminal), so every command that leaves a container behind is run with its
stdio on files, never on pipes the test would wait on (see ``cli``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time

import pytest
from conftest import OCI, leftovers


def cli(
    oci, *args: str, input: str = "", timeout: float = 30, cwd=None
) -> subprocess.CompletedProcess:
    """Run the CLI with stdio on temporary files: a detached init cannot block us."""
    with (
        tempfile.TemporaryFile() as fin,
        tempfile.TemporaryFile() as fout,
        tempfile.TemporaryFile() as ferr,
    ):
        fin.write(input.encode())
        fin.seek(0)
        p = subprocess.run(
            [*OCI, "--root", oci.root, *args],
            stdin=fin,
            stdout=fout,
            stderr=ferr,
            timeout=timeout,
            cwd=cwd,
        )
        fout.seek(0)
        ferr.seek(0)
        return subprocess.CompletedProcess(
            p.args,
            p.returncode,
            fout.read().decode(errors="replace"),
            ferr.read().decode(errors="replace"),
        )


def ok(oci, *args: str, **kw) -> subprocess.CompletedProcess:
    r = cli(oci, *args, **kw)
    assert r.returncode == 0, f"{args}: exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r


def wait_for(pred, what: str, timeout: float = 10.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def status(oci, cid: str) -> str:
    return oci.state(cid)["status"]


def wait_status(oci, cid: str, want: str, timeout: float = 10.0) -> dict:
    return wait_for(
        lambda: (s := oci.state(cid))["status"] == want and s,
        f"{cid} to be {want}",
        timeout,
    )


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def alive(pid: int) -> bool:
    try:
        return proc_status(pid)["State"][0] not in "ZX"
    except FileNotFoundError:
        return False


def gone(oci, cid: str) -> bool:
    r = oci("state", cid)
    return r.returncode != 0 and f'container "{cid}" does not exist' in r.stderr


def looper(trap_exit: int | None = None) -> list[str]:
    """A long-running process; with ``trap_exit`` it exits with that code on TERM."""
    loop = "while :; do sleep 0.1; done"
    if trap_exit is None:
        return ["sh", "-c", loop]
    return ["sh", "-c", f'trap "exit {trap_exit}" TERM; {loop}']


# ---- create / start / state ------------------------------------------------


def test_create_start_kill_delete(oci, make_bundle, tmp_path):
    b = make_bundle(looper(trap_exit=3))
    cid = oci.new_id()
    pidfile = tmp_path / "piddir" / "init.pid"
    pidfile.parent.mkdir()
    ok(oci, "create", "--bundle", b.path, "--pid-file", str(pidfile), cid)

    st = oci.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid
    pid = st["pid"]
    assert isinstance(pid, int) and pid > 0
    assert alive(pid)
    # the pid file holds exactly the host pid, written atomically (no temp file left)
    assert pidfile.read_text() == str(pid)
    assert os.listdir(pidfile.parent) == ["init.pid"]

    ok(oci, "start", cid)
    st = wait_status(oci, cid, "running")
    assert st["pid"] == pid

    ok(oci, "kill", cid)  # TERM by default: the trap makes the process exit
    st = wait_status(oci, cid, "stopped")
    assert st["pid"] == 0
    assert not alive(pid)

    ok(oci, "delete", cid)
    assert gone(oci, cid)
    assert leftovers(oci, b, (cid,)) == []


@pytest.mark.parametrize("sig", ["9", "KILL", "SIGKILL"])
def test_kill_signal_forms(oci, make_bundle, sig):
    b = make_bundle(looper())  # no handlers: only SIGKILL can end a pid-namespace init
    cid = oci.new_id()
    ok(oci, "create", "--bundle", b.path, cid)
    ok(oci, "start", cid)
    wait_status(oci, cid, "running")
    ok(oci, "kill", cid, sig)
    wait_status(oci, cid, "stopped")
    ok(oci, "delete", cid)
    assert leftovers(oci, b, (cid,)) == []


@pytest.mark.parametrize("sig", ["TERM", "15", "SIGTERM"])
def test_kill_term_forms_reach_a_trap(oci, make_bundle, tmp_path, sig):
    out = tmp_path / "shared"
    out.mkdir()
    b = make_bundle(
        ["sh", "-c", 'trap "echo got >/shared/term; exit 3" TERM; while :; do sleep 0.1; done']
    )
    b.config["mounts"].append(
        {"destination": "/shared", "type": "bind", "source": str(out), "options": ["rbind"]}
    )
    b.save()
    cid = oci.new_id()
    ok(oci, "create", "--bundle", b.path, cid)
    ok(oci, "start", cid)
    wait_status(oci, cid, "running")
    ok(oci, "kill", cid, sig)
    wait_status(oci, cid, "stopped")
    assert (out / "term").read_text() == "got\n"
    ok(oci, "delete", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_created_init_is_blocked_until_start(oci, make_bundle):
    b = make_bundle(["touch", "/tmp/ran"])
    marker = os.path.join(b.rootfs, "tmp", "ran")
    cid = oci.new_id()
    ok(oci, "create", "--bundle", b.path, cid)
    time.sleep(0.2)  # give a wrongly unblocked process the time to run
    assert not os.path.exists(marker), "the user process ran before start"
    assert status(oci, cid) == "created"
    ok(oci, "start", cid)
    wait_for(lambda: os.path.exists(marker), "the process to run after start")
    wait_status(oci, cid, "stopped")
    ok(oci, "delete", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_init_is_reparented_after_create(oci, make_bundle, tmp_path):
    b = make_bundle(looper())
    cid = oci.new_id()
    pidfile = tmp_path / "pid"
    p = subprocess.Popen(
        [*OCI, "--root", oci.root, "create", "--bundle", b.path, "--pid-file", str(pidfile), cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert p.wait(timeout=30) == 0  # create returns: the runtime process has exited
    init = int(pidfile.read_text())
    assert alive(init)
    ppid = int(proc_status(init)["PPid"])
    assert ppid != p.pid
    assert ppid != os.getpid()
    assert status(oci, cid) == "created"
    ok(oci, "delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_state_stopped_after_process_exits(oci, make_bundle):
    b = make_bundle(["true"])
    cid = oci.new_id()
    ok(oci, "create", "--bundle", b.path, cid)
    pid = oci.state(cid)["pid"]
    ok(oci, "start", cid)
    st = wait_status(oci, cid, "stopped")
    assert st["pid"] == 0
    assert st["id"] == cid
    assert not alive(pid)
    # delete from stopped needs no --force
    ok(oci, "delete", cid)
    assert gone(oci, cid)
    assert leftovers(oci, b, (cid,)) == []


# ---- delete --------------------------------------------------------------


def test_delete_force_created(oci, make_bundle):
    b = make_bundle(looper())
    cid = oci.new_id()
    ok(oci, "create", "--bundle", b.path, cid)
    pid = oci.state(cid)["pid"]
    ok(oci, "delete", "--force", cid)
    assert gone(oci, cid)
    assert not alive(pid)
    assert leftovers(oci, b, (cid,)) == []


def test_delete_force_running(oci, make_bundle):
    b = make_bundle(looper())
    cid = oci.new_id()
    ok(oci, "create", "--bundle", b.path, cid)
    ok(oci, "start", cid)
    pid = wait_status(oci, cid, "running")["pid"]
    ok(oci, "delete", "--force", cid)
    assert gone(oci, cid)
    assert not alive(pid)
    assert leftovers(oci, b, (cid,)) == []


def test_delete_force_short_flag(oci, make_bundle):
    b = make_bundle(looper())
    cid = oci.new_id()
    ok(oci, "run", "-d", "--bundle", b.path, cid)
    ok(oci, "delete", "-f", cid)
    assert gone(oci, cid)
    assert leftovers(oci, b, (cid,)) == []


# ---- run -------------------------------------------------------------------


def test_run_propagates_exit_status(oci, make_bundle):
    b = make_bundle(["sh", "-c", "exit 7"])
    cid = oci.new_id()
    r = cli(oci, "run", "--bundle", b.path, cid)
    assert r.returncode == 7, r.stderr
    assert r.stderr == ""
    # run without --keep deletes the container once it exits
    assert gone(oci, cid)
    assert leftovers(oci, b, (cid,)) == []


def test_run_exit_zero(oci, make_bundle):
    b = make_bundle(["true"])
    cid = oci.new_id()
    r = cli(oci, "run", "--bundle", b.path, cid)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert leftovers(oci, b, (cid,)) == []


def test_run_killed_by_signal_exits_128_plus_n(oci, make_bundle):
    b = make_bundle(["sh", "-c", "sleep 100"])
    cid = oci.new_id()
    p = subprocess.Popen(
        [*OCI, "--root", oci.root, "run", "--bundle", b.path, cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: oci("state", cid).returncode == 0 and status(oci, cid) == "running",
            "the foreground container to run",
        )
        oci.ok("kill", cid, "KILL")
        assert p.wait(timeout=20) == 128 + signal.SIGKILL
        assert p.stderr.read() == b""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()
    assert gone(oci, cid)
    assert leftovers(oci, b, (cid,)) == []


def test_run_forwards_sigterm_to_the_container(oci, make_bundle):
    b = make_bundle(looper(trap_exit=5))
    cid = oci.new_id()
    p = subprocess.Popen(
        [*OCI, "--root", oci.root, "run", "--bundle", b.path, cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        st = wait_for(
            lambda: oci("state", cid).returncode == 0 and oci.state(cid),
            "the foreground container to exist",
        )
        pid = st["pid"]
        # the init has exec'd the shell once its command line is the user's
        wait_for(
            lambda: b"trap" in open(f"/proc/{pid}/cmdline", "rb").read(),
            "the container process to exec",
        )
        time.sleep(0.1)  # the runtime installs its handlers right after create returns
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 5
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert gone(oci, cid)
    assert leftovers(oci, b, (cid,)) == []


def test_run_forwards_a_signal_that_arrives_right_after_create(oci, make_bundle):
    """runc handles signals from before the container starts: none may kill ``run`` itself.

    Without a pid namespace the container's process dies of a forwarded TERM
    (no pid-1 protection), so a forwarded signal shows as 128+15.  A signal
    that killed ``run`` instead shows as -15 and orphans the container.
    """
    b = make_bundle(["sleep", "100"])
    b.config["linux"]["namespaces"] = [
        ns for ns in b.config["linux"]["namespaces"] if ns["type"] != "pid"
    ]
    b.save()
    for _ in range(10):  # the window is narrow: try a few times
        cid = oci.new_id()
        state_json = os.path.join(oci.root, cid, "state.json")
        p = subprocess.Popen(
            [*OCI, "--root", oci.root, "run", "--bundle", b.path, cid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(state_json) and p.poll() is None:
                assert time.monotonic() < deadline, "the container never got a state"
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=20) == 128 + signal.SIGTERM
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        wait_for(lambda c=cid: leftovers(oci, b, (c,)) == [], "no leftovers", timeout=5)


def test_run_exits_137_when_deleted_underneath(oci, make_bundle):
    """``delete --force`` of a foreground container: run reports the SIGKILL, as runc does."""
    b = make_bundle(["sleep", "100"])
    cid = oci.new_id()
    p = subprocess.Popen(
        [*OCI, "--root", oci.root, "run", "--bundle", b.path, cid],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: oci("state", cid).returncode == 0 and status(oci, cid) == "running",
            "the foreground container to run",
        )
        oci.ok("delete", "--force", cid)
        assert p.wait(timeout=20) == 128 + signal.SIGKILL
        assert p.stderr.read() == b""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()
    assert leftovers(oci, b, (cid,)) == []


def test_run_detached_leaves_it_running(oci, make_bundle, tmp_path):
    b = make_bundle(looper())
    cid = oci.new_id()
    pidfile = tmp_path / "run.pid"
    t0 = time.monotonic()
    ok(oci, "run", "--detach", "--bundle", b.path, "--pid-file", str(pidfile), cid)
    assert time.monotonic() - t0 < 10
    st = oci.state(cid)
    assert st["status"] == "running"
    assert st["pid"] == int(pidfile.read_text())
    assert alive(st["pid"])
    ok(oci, "kill", cid, "KILL")
    wait_status(oci, cid, "stopped")
    ok(oci, "delete", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_run_keep_keeps_the_stopped_container(oci, make_bundle):
    b = make_bundle(["sh", "-c", "exit 4"])
    cid = oci.new_id()
    r = cli(oci, "run", "--keep", "--bundle", b.path, cid)
    assert r.returncode == 4, r.stderr
    st = oci.state(cid)
    assert st["status"] == "stopped"
    ok(oci, "delete", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_run_stdout_and_stderr_reach_the_caller(oci, make_bundle):
    b = make_bundle(["sh", "-c", "echo to-out; echo to-err >&2"])
    cid = oci.new_id()
    r = oci("run", "--bundle", b.path, cid)  # plain pipes: run returns when the container exits
    assert r.returncode == 0, r.stderr
    assert r.stdout == "to-out\n"
    assert r.stderr == "to-err\n"


def test_run_stdin_reaches_the_container(oci, make_bundle):
    b = make_bundle(["cat"])
    cid = oci.new_id()
    r = oci("run", "--bundle", b.path, cid, input="hello")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hello", "")
    assert leftovers(oci, b, (cid,)) == []


def test_run_passes_the_callers_fds_through(oci, make_bundle):
    """fds 0-2 are the caller's own pipes (no copying in between), and nothing else leaks."""
    b = make_bundle(["cat"])
    cid = oci.new_id()
    p = subprocess.Popen(
        [*OCI, "--root", oci.root, "run", "--bundle", b.path, cid],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        inodes = [os.fstat(f.fileno()).st_ino for f in (p.stdin, p.stdout, p.stderr)]
        pid = wait_for(
            lambda: oci("state", cid).returncode == 0 and oci.state(cid)["pid"],
            "the foreground container to exist",
        )
        wait_for(
            lambda: open(f"/proc/{pid}/cmdline", "rb").read() == b"cat\0",
            "the container process to exec",
        )
        # inspected from the host: the same pipe inodes are visible here
        fds = sorted(os.listdir(f"/proc/{pid}/fd"), key=int)
        links = [os.readlink(f"/proc/{pid}/fd/{n}") for n in (0, 1, 2)]
        out, err = p.communicate(b"bye", timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert (p.returncode, out, err) == (0, b"bye", b"")
    assert links == [f"pipe:[{ino}]" for ino in inodes]
    assert fds == ["0", "1", "2"]


# ---- list ------------------------------------------------------------------


def test_list_formats(oci, make_bundle):
    b1 = make_bundle(looper())
    b2 = make_bundle(looper())
    c1, c2 = oci.new_id("la"), oci.new_id("lb")
    ok(oci, "create", "--bundle", b1.path, c1)
    ok(oci, "run", "-d", "--bundle", b2.path, c2)
    pid1, pid2 = oci.state(c1)["pid"], oci.state(c2)["pid"]

    table = oci.ok("list").stdout.splitlines()
    assert table[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert set(rows) == {c1, c2}
    assert rows[c1][1:4] == [str(pid1), "created", b1.path]
    assert rows[c2][1:4] == [str(pid2), "running", b2.path]

    data = json.loads(oci.ok("list", "--format", "json").stdout)
    assert isinstance(data, list)
    by_id = {s["id"]: s for s in data}
    assert set(by_id) == {c1, c2}
    assert (by_id[c1]["status"], by_id[c1]["pid"], by_id[c1]["bundle"]) == (
        "created",
        pid1,
        b1.path,
    )
    assert (by_id[c2]["status"], by_id[c2]["pid"], by_id[c2]["bundle"]) == (
        "running",
        pid2,
        b2.path,
    )
    assert json.loads(oci.ok("list", "-f", "json").stdout) == data

    assert sorted(oci.ok("list", "-q").stdout.split()) == sorted([c1, c2])
    assert sorted(oci.ok("list", "--quiet").stdout.split()) == sorted([c1, c2])

    ok(oci, "delete", "--force", c1)
    ok(oci, "delete", "--force", c2)
    assert oci.ok("list", "-q").stdout == ""
    assert json.loads(oci.ok("list", "-f", "json").stdout) in ([], None)
    assert leftovers(oci, b1, (c1,)) == []
    assert leftovers(oci, b2, (c2,)) == []


def test_list_shows_stopped(oci, make_bundle):
    b = make_bundle(["true"])
    cid = oci.new_id()
    ok(oci, "create", "--bundle", b.path, cid)
    ok(oci, "start", cid)
    wait_status(oci, cid, "stopped")
    data = json.loads(oci.ok("list", "-f", "json").stdout)
    assert [(s["id"], s["status"], s["pid"]) for s in data] == [(cid, "stopped", 0)]
    ok(oci, "delete", cid)
