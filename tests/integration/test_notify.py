"""NOTIFY_SOCKET: systemd's readiness protocol carried through the container,
as runc and crun carry it (ociruntime/notify.py).

The host's socket here is a datagram socket the test binds, read by a thread
that plays systemd: it keeps every message and closes the fd a BARRIER=1
carries, which is how systemd answers the barrier.  The container sends with
the static ``sdnotify`` probe (busybox has no systemd-notify).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from conftest import OCI, assert_clean_failure, assert_one_line_error, leftovers, sh, wait_for
from fake_systemd import FakeSystemd, ready_messages


@pytest.fixture
def systemd(tmp_path):
    s = FakeSystemd(str(tmp_path / "notify"))
    yield s
    s.close()


@pytest.fixture
def notify_bundle(make_bundle, probe):
    """make(script) -> a bundle whose shell ``script`` can call /sdnotify."""

    def make(script: str, **kw):
        b = make_bundle(sh(script), **kw)
        shutil.copy(probe("sdnotify"), os.path.join(b.rootfs, "sdnotify"))
        return b

    return make


def call(oci, systemd, *args: str, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, NOTIFY_SOCKET=systemd.env_value)
    return oci.cli(*args, env=env, **kw)


def test_run_detached_returns_once_the_container_is_ready(oci, notify_bundle, systemd):
    """run -d waits for the container's READY=1 (sent after a pause, so a
    runtime that did not wait would return with nothing sent yet), forwards
    that line alone, then MAINPID (the init's host pid) and a barrier."""
    b = notify_bundle(
        'echo "$NOTIFY_SOCKET" > /tmp/var; sleep 0.3; /sdnotify "READY=1\nSTATUS=up"; sleep 60'
    )
    cid = oci.new_id("nfy")
    r = call(oci, systemd, "run", "-d", "-b", b.path, cid)
    assert r.returncode == 0, r.stderr
    pid = oci.state(cid)["pid"]
    assert systemd.got == ready_messages(pid)  # all of it before run -d returned
    with open(os.path.join(b.rootfs, "tmp", "var")) as f:
        assert f.read() == "/run/notify/notify.sock\n"
    with open(f"/proc/{pid}/mountinfo") as f:
        line = next(x for x in f if x.split()[4] == "/run/notify")
    assert set(line.split()[5].split(",")) >= {"ro", "nosuid", "nodev", "noexec"}, line
    # the bundle's config.json is the caller's, untouched
    with open(os.path.join(b.path, "config.json")) as f:
        assert "/run/notify" not in f.read()
    oci.cli_ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_start_waits_for_ready_without_holding_the_container(oci, notify_bundle, systemd):
    """start binds the socket, lets the process run and waits for READY; the
    container is not locked meanwhile (pause and resume work).  The process runs as a
    user other than root: the socket is open to all."""
    b = notify_bundle("while [ ! -e /tmp/go ]; do sleep 0.05; done; /sdnotify READY=1; sleep 60")
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b.save()
    cid = oci.new_id("nfy")
    assert call(oci, systemd, "create", "-b", b.path, cid).returncode == 0
    env = dict(os.environ, NOTIFY_SOCKET=systemd.env_value)
    p = subprocess.Popen(
        [*OCI, "--root", oci.root, "start", cid],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: oci.state(cid)["status"] == "running", "the container running")
        # pause and resume take the container's lock, which start must have let go
        oci.cli_ok("pause", cid, timeout=10)
        oci.cli_ok("resume", cid, timeout=10)
        assert p.poll() is None and systemd.got == []  # start still waits
        open(os.path.join(b.rootfs, "tmp", "go"), "w").close()
        assert p.wait(timeout=20) == 0, p.stderr.read()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert systemd.got == ready_messages(oci.state(cid)["pid"])
    oci.cli_ok("delete", "--force", cid)


def test_an_init_that_ends_before_ready_ends_the_wait(oci, notify_bundle, systemd):
    """No READY and the init exits: run -d returns 0 and nothing is forwarded
    (runc 1.1 waits for good there: its init is its own unreaped child)."""
    b = notify_bundle("sleep 0.2; exit 3")
    cid = oci.new_id("nfy")
    r = call(oci, systemd, "run", "-d", "-b", b.path, cid, timeout=20)
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: oci.state(cid)["status"] == "stopped", "stopped")
    assert systemd.got == []
    oci.cli_ok("delete", cid)


def test_foreground_run_forwards_while_it_waits(oci, notify_bundle, systemd):
    b = notify_bundle("/sdnotify READY=1 && sleep 0.3 && echo done")
    cid = oci.new_id("nfy")
    r = call(oci, systemd, "run", "-b", b.path, cid, timeout=20)
    assert (r.returncode, r.stdout) == (0, "done\n"), r.stderr
    (ready, _), (mainpid, _), barrier = systemd.got
    assert (ready, barrier) == (b"READY=1\n", (b"BARRIER=1", 1))
    assert mainpid.startswith(b"MAINPID=") and int(mainpid[8:]) > 1
    assert leftovers(oci, b, (cid,)) == []


def test_foreground_run_finishes_forwarding_before_it_exits(oci, notify_bundle, tmp_path):
    """A container that says READY and exits at once: run still passes READY
    on whole and waits for systemd's answer to the barrier (here given late)
    before it exits, instead of dying with the forwarding thread half-way."""
    s = FakeSystemd(str(tmp_path / "late"), answer_after=0.5)
    try:
        b = notify_bundle("/sdnotify READY=1")
        cid = oci.new_id("nfy")
        r = call(oci, s, "run", "-b", b.path, cid, timeout=20)
        returned = time.monotonic()
        assert r.returncode == 0, r.stderr
        assert [m for m, _ in s.got] == [b"READY=1\n", s.got[1][0], b"BARRIER=1"]
        assert s.answered is not None and s.answered <= returned
        assert leftovers(oci, b, (cid,)) == []
    finally:
        s.close()


def test_abstract_host_socket(oci, notify_bundle, tmp_path):
    """sd_notify(3): NOTIFY_SOCKET=@NAME is an abstract socket."""
    s = FakeSystemd(b"\0ociruntime-test-" + os.urandom(6).hex().encode())
    try:
        b = notify_bundle("/sdnotify READY=1; sleep 60")
        cid = oci.new_id("nfy")
        r = call(oci, s, "run", "-d", "-b", b.path, cid)
        assert r.returncode == 0, r.stderr
        assert s.got == ready_messages(oci.state(cid)["pid"])
        oci.cli_ok("delete", "--force", cid)
    finally:
        s.close()


def test_start_of_a_container_created_without_it_fails(oci, notify_bundle, systemd):
    """The container has no socket to notify through: start says so (runc fails
    to bind there) and leaves it created, rather than have the caller's unit wait
    for a READY that cannot come."""
    b = notify_bundle("/sdnotify READY=1; sleep 60")
    cid = oci.new_id("nfy")
    oci.cli_ok("create", "-b", b.path, cid)
    r = call(oci, systemd, "start", cid)
    assert_one_line_error(r, "NOTIFY_SOCKET", cid, code=1)
    assert oci.state(cid)["status"] == "created"
    oci.cli_ok("delete", "--force", cid)


BAD = [
    ("/nonexistent/notify", "no such file or directory"),
    ("relative/notify", "not an absolute path or an @abstract name"),
    ("/etc/hostname", "not a socket"),
]


@pytest.mark.parametrize("value, why", BAD, ids=["missing", "relative", "a file"])
def test_a_notify_socket_nothing_could_reach_is_refused_first(oci, notify_bundle, value, why):
    """A NOTIFY_SOCKET no READY could reach is refused before anything is
    made (run) or runs (start: the container stays created), in one line:
    not a container that runs and a unit that waits for good."""
    b = notify_bundle("/sdnotify READY=1; sleep 60")
    env = dict(os.environ, NOTIFY_SOCKET=value)
    cid = oci.new_id("nfy")
    r = oci.cli("run", "-d", "-b", b.path, cid, env=env, timeout=20)
    assert_clean_failure(oci, b, cid, r, f"NOTIFY_SOCKET {value}: {why}", code=1)
    oci.cli_ok("create", "-b", b.path, cid)
    r = oci.cli("start", cid, env=env, timeout=20)
    assert_one_line_error(r, f"NOTIFY_SOCKET {value}: {why}", code=1)
    assert oci.state(cid)["status"] == "created"
    oci.cli_ok("delete", "--force", cid)


def test_without_notify_socket_nothing_is_added(oci, notify_bundle):
    b = notify_bundle('echo "[$NOTIFY_SOCKET]"; ls -d /run/notify; echo done')
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    cid = oci.new_id("nfy")
    r = oci.cli("run", "-b", b.path, cid, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[]\ndone\n", r.stdout
    assert "ls: /run/notify: No such file or directory" in r.stderr, r.stderr


def _systemd_pid1() -> bool:
    return os.path.isdir("/run/systemd/system")


@pytest.mark.skipif(
    not _systemd_pid1(),
    reason="systemd is not running (test_systemd_vm.py runs this test in a systemd guest)",
)
def test_a_systemd_unit_of_type_notify(oci, notify_bundle):
    """systemd itself at the other end: a Type=notify service running
    ``run -d`` stays activating until the container says READY=1, then is
    active with the container's init as its main process (systemd takes
    MAINPID from the runtime, which it knows as the service's main pid)."""
    b = notify_bundle("while [ ! -e /tmp/go ]; do sleep 0.05; done; /sdnotify READY=1; sleep 1000")
    cid = oci.new_id("nfy")
    unit = f"ociruntime-{cid}.service"

    def show(*props: str) -> dict[str, str]:
        r = subprocess.run(
            ["systemctl", "show", unit, "-p", ",".join(props)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        return dict(x.split("=", 1) for x in r.stdout.splitlines() if "=" in x)

    cmd = [*OCI, "--root", oci.root, "run", "-d", "-b", b.path, cid]
    subprocess.run(
        ["systemd-run", "--unit", unit, "-p", "Type=notify", "--no-block", *cmd],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        wait_for(lambda: oci.cli("state", cid).returncode == 0, "the container", timeout=120)
        assert show("ActiveState")["ActiveState"] == "activating"
        open(os.path.join(b.rootfs, "tmp", "go"), "w").close()
        wait_for(lambda: show("ActiveState")["ActiveState"] == "active", "active", timeout=120)
        assert show("MainPID")["MainPID"] == str(oci.state(cid)["pid"])
    finally:
        subprocess.run(["systemctl", "stop", unit], capture_output=True, timeout=120)
        subprocess.run(["systemctl", "reset-failed", unit], capture_output=True, timeout=120)
        oci.cli("delete", "--force", cid, timeout=120)
    assert leftovers(oci, b, (cid,)) == []
