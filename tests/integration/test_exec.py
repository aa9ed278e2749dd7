"""``ociruntime exec``: a new process inside a running container.

Each test starts a container whose init is ``sleep 1000`` and runs processes
in it the way containerd, podman and people do: plain argv with runc's
override flags, ``--process process.json``, detached with a pid file, with a
terminal over a console socket, and interactively in a real terminal (tmux).
What the exec'd process sees is compared with what the container's init
sees, read from the host through ``/proc/<init pid>``.

The detached init and detached exec'd processes inherit the caller's stdio,
so commands are run with stdio on temporary files (``oci.cli``), never on pipes
that a test would then wait on forever.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
import uuid

import pytest
from conftest import (
    OCI,
    alive,
    assert_clean_failure,
    assert_one_line_error,
    default_config,
    leftovers,
    ns_members,
    proc_status,
    read_record,
    sh,
    stop,
    wait_for,
)

CAP_NET_RAW = 13
INIT_ARGS = ["sleep", "1000"]


# ---- helpers ------------------------------------------------------------------


def with_marker(marker: str) -> list[str]:
    """Live processes whose command line contains ``marker``."""
    me = os.getpid()
    hits = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if marker.encode() in cmd and alive(int(name)):
            text = cmd.replace(b"\0", b" ").decode(errors="replace")
            hits.append(f"{name}: {text}")
    return hits


class Running:
    """A started container: ``.cid``, ``.bundle``, ``.pid`` (host pid of its init)."""

    def __init__(self, oci, bundle) -> None:
        self.oci = oci
        self.bundle = bundle
        self.cid = oci.new_id("exec")
        self.pid = oci.run_detached(bundle, self.cid)
        assert alive(self.pid)

    def run(self, argv: list[str], *flags: str, **kw) -> subprocess.CompletedProcess:
        """``exec [flags] ID argv...``"""
        return self.oci.cli("exec", *flags, self.cid, *argv, **kw)

    def out(self, argv: list[str], *flags: str, **kw) -> str:
        r = self.run(argv, *flags, **kw)
        assert r.returncode == 0, f"exec {argv}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r.stdout


@pytest.fixture
def running(oci, make_bundle):
    """running(process={...}, **config overrides) -> Running; the init is ``sleep 1000``."""

    def start(process: dict | None = None, **overrides) -> Running:
        b = make_bundle(list(INIT_ARGS), **overrides)
        if process:
            b.config["process"].update(process)
            b.save()
        return Running(oci, b)

    return start


def read_until(fd: int, pattern: bytes, timeout: float = 10.0) -> bytes:
    """Read a pty master until ``pattern`` (a regex) matches what arrived."""
    buf = b""
    end = time.monotonic() + timeout
    while not re.search(pattern, buf):
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {pattern!r} from the terminal; got {buf!r}")
        ready, _, _ = select.select([fd], [], [], min(left, 0.2))
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the slave side is closed
                chunk = b""
            if not chunk:
                raise AssertionError(f"terminal closed before {pattern!r}; got {buf!r}")
            buf += chunk
    return buf


def pty_closed(fd: int, timeout: float = 10.0) -> bool:
    """True once reading the master hits EOF/EIO (every slave fd closed)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                if not os.read(fd, 4096):
                    return True
            except OSError:
                return True
    return False


@pytest.fixture
def console_socket():
    """A listening AF_UNIX socket at a short path (sun_path is 108 bytes)."""
    d = tempfile.mkdtemp(prefix="ocics-", dir="/tmp")
    path = os.path.join(d, "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    opened: list = []
    yield path, listener, opened
    for x in opened:
        try:
            x.close() if hasattr(x, "close") else os.close(x)
        except OSError:
            pass
    listener.close()
    shutil.rmtree(d, ignore_errors=True)


def receive_master(listener, opened: list, wait: bool = True) -> tuple[bytes, int]:
    """Accept one connection and take exactly one fd from it: (data, fd)."""
    listener.settimeout(10 if wait else 0)
    conn, _ = listener.accept()
    opened.append(conn)
    flags = 0 if wait else socket.MSG_DONTWAIT
    conn.settimeout(10)
    data, fds, msg_flags, _ = socket.recv_fds(conn, 4096, 8, flags)
    opened.extend(fds)
    assert not msg_flags & socket.MSG_CTRUNC, "control data truncated"
    assert len(fds) == 1, f"expected exactly one fd, got {fds}"
    return data, fds[0]


def set_winsize(master: int, rows: int, cols: int) -> None:
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


# ---- output, status, signals -------------------------------------------------------


def test_exec_output_and_exit_status(running):
    c = running()
    r = c.run(sh("echo hi; exit 3"))
    assert (r.returncode, r.stdout) == (3, "hi\n"), r.stderr
    assert c.out(["true"]) == ""


def test_exec_stderr_and_stdin_reach_the_caller(running):
    c = running()
    r = c.run(sh("cat; echo oops >&2"), input=b"from stdin\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, "from stdin\n", "oops\n")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGUSR1])
def test_exec_killed_by_a_signal_exits_128_plus_n(running, sig):
    c = running()
    r = c.run(sh(f"kill -{int(sig)} $$"))
    assert r.returncode == 128 + sig, r.stderr


def test_foreground_exec_forwards_sigterm(running, oci):
    c = running()
    script = 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done'
    p = oci.popen("exec", c.cid, *sh(script), stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=10) == 42
    finally:
        stop(p)
        p.stdout.close()
    assert ns_members(c.pid) == [c.pid]


# ---- the container's namespaces, hostname, mounts --------------------------------------


def test_exec_sees_the_containers_hostname(running):
    name = f"exec-{uuid.uuid4().hex[:8]}"
    c = running(hostname=name)
    assert c.out(["hostname"]).strip() == name
    assert c.out(["cat", "/proc/sys/kernel/hostname"]).strip() == name


def test_exec_sees_the_containers_mounts(running):
    c = running()
    out = c.out(sh("cat /proc/self/mounts; echo ====; cat /proc/1/mounts"))
    mine, init = out.split("====\n")
    assert mine == init
    with open(f"/proc/{c.pid}/mounts") as f:
        assert mine == f.read()
    with open("/proc/self/mounts") as f:
        assert mine != f.read()
    assert c.bundle.rootfs not in mine


def test_exec_into_a_no_pivot_container_lands_in_its_rootfs(oci, make_bundle):
    """With --no-pivot the rootfs is moved over / of the mount namespace; joining
    that namespace must still put the process at the rootfs (setns looks down)."""
    b = make_bundle(list(INIT_ARGS))
    cid = oci.new_id("nopivot")
    oci.run_detached(b, cid, "--no-pivot")
    out = oci.cli("exec", cid, *sh("pwd; ls /bin/busybox; cat /etc/group"))
    assert out.returncode == 0, out.stderr
    assert out.stdout == "/\n/bin/busybox\nroot:x:0:\nnobody:x:65534:\n"


@pytest.mark.parametrize("kind", ["net", "pid", "mnt", "uts", "ipc", "cgroup"])
def test_exec_joins_every_namespace_of_the_init(running, kind):
    c = running()
    out = c.out(sh(f"readlink /proc/self/ns/{kind}; readlink /proc/1/ns/{kind}"))
    mine, init = out.split()
    assert mine == init
    assert mine == os.readlink(f"/proc/{c.pid}/ns/{kind}")
    assert mine != os.readlink(f"/proc/self/ns/{kind}"), "the container should have its own"


def test_exec_is_in_the_containers_pid_namespace(running):
    c = running()
    out = c.out(sh("tr '\\0' ' ' </proc/1/cmdline; echo; echo $$"))
    cmdline, pid = out.splitlines()
    assert cmdline.split() == INIT_ARGS
    assert int(pid) != 1
    # everything in the container: the init and this exec'd process's sh
    ps = c.out(["ps", "-o", "pid,args"])
    assert re.search(r"^\s*1\s+sleep 1000$", ps, re.M), ps


def test_exec_shares_ipc_with_the_init(running):
    c = running()
    c.out(sh("echo kept >/dev/shm/probe"))
    assert c.out(["cat", "/dev/shm/probe"]) == "kept\n"
    with open(f"/proc/{c.pid}/root/dev/shm/probe") as f:
        assert f.read() == "kept\n"


# ---- runc's override flags -----------------------------------------------------------------


def test_exec_env_is_the_containers_plus_overrides(running):
    c = running(
        process={
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FOO=container", "KEEP=yes"],
        }
    )
    env = c.out(["env"], "-e", "FOO=override", "-e", "NEW=1").splitlines()
    assert "KEEP=yes" in env
    assert "NEW=1" in env
    assert [e for e in env if e.startswith("FOO=")] == ["FOO=override"]
    assert "PATH=/usr/sbin:/usr/bin:/sbin:/bin" in env
    # without flags: exactly the container's environment (plus HOME)
    plain = c.out(["env"]).splitlines()
    assert "FOO=container" in plain and not any(e.startswith("NEW=") for e in plain)


def test_exec_cwd(running):
    c = running()
    assert c.out(["pwd"], "--cwd", "/tmp") == "/tmp\n"
    assert c.out(["pwd"]) == "/\n"


def test_exec_missing_cwd_is_a_setup_failure(running):
    c = running()
    r = c.run(["pwd"], "--cwd", "/does/not/exist")
    assert_one_line_error(r, "/does/not/exist", code=255)
    assert ns_members(c.pid) == [c.pid]


def test_exec_user_and_additional_gids(running):
    c = running()
    assert c.out(["id"], "-u", "65534:65534").strip() == "uid=65534(nobody) gid=65534(nobody)"
    out = c.out(["id"], "-u", "65534:65534", "-g", "10").strip()
    assert out == "uid=65534(nobody) gid=65534(nobody) groups=10", out
    assert c.out(["id", "-G"], "-g", "10").split() == ["0", "10"]


@pytest.mark.parametrize(
    "flags, want",
    [
        ((), "uid=0(root) gid=10 groups=20"),
        (("-u", "65534"), "uid=65534(nobody) gid=10 groups=20"),
        (("-u", "65534:65534"), "uid=65534(nobody) gid=65534(nobody) groups=20"),
        (("-g", "30"), "uid=0(root) gid=10 groups=20,30"),
        (("-u", "65534", "-g", "30"), "uid=65534(nobody) gid=10 groups=20,30"),
    ],
    ids=["none", "uid", "uid-gid", "add-gid", "uid-add-gid"],
)
def test_exec_user_flags_change_only_what_they_name(running, flags, want):
    """runc 1.1: -u sets the uid (and the gid when given), keeping the container's
    gid and additionalGids; -g appends to additionalGids."""
    c = running(process={"user": {"uid": 0, "gid": 10, "additionalGids": [20]}})
    assert c.out(["id"], *flags).strip() == want


def test_exec_gets_the_containers_oom_score_adj(running):
    """runc writes the container's oomScoreAdj for exec'd processes too."""
    c = running(process={"oomScoreAdj": 123})
    with open(f"/proc/{c.pid}/oom_score_adj") as f:
        assert f.read().strip() == "123"
    assert c.out(["cat", "/proc/self/oom_score_adj"]).strip() == "123"


def cap_eff(text: str) -> int:
    m = re.search(r"^CapEff:\s*([0-9a-f]+)$", text, re.M)
    assert m, text
    return int(m.group(1), 16)


def test_exec_cap_adds_a_capability(running):
    c = running()
    before = cap_eff(c.out(["cat", "/proc/self/status"]))
    assert not before & (1 << CAP_NET_RAW)
    after = cap_eff(c.out(["cat", "/proc/self/status"], "--cap", "CAP_NET_RAW"))
    assert after == before | (1 << CAP_NET_RAW)


def test_exec_unknown_cap_is_a_warning(running):
    """As for create (runtime-spec 1.2: SHOULD NOT fail), and as runc's exec --cap."""
    c = running()
    before = cap_eff(c.out(["cat", "/proc/self/status"]))
    r = c.run(["cat", "/proc/self/status"], "--cap", "CAP_NOT_A_THING")
    assert r.returncode == 0, r.stderr
    assert cap_eff(r.stdout) == before
    assert r.stderr.startswith("ociruntime: warning: ") and "CAP_NOT_A_THING" in r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr


def test_exec_no_new_privs(running):
    c = running(process={"noNewPrivileges": False})
    assert proc_status(c.pid)["NoNewPrivs"] == "0"
    plain = c.out(["grep", "NoNewPrivs", "/proc/self/status"]).split()
    assert plain == ["NoNewPrivs:", "0"]
    nnp = c.out(["grep", "NoNewPrivs", "/proc/self/status"], "--no-new-privs").split()
    assert nnp == ["NoNewPrivs:", "1"]


# ---- seccomp ---------------------------------------------------------------------------------


@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_the_containers_seccomp_profile_applies_to_exec(running, nnp):
    seccomp = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        ],
    }
    linux = default_config()["linux"]
    linux["seccomp"] = seccomp
    c = running(process={"noNewPrivileges": nnp}, linux=linux)
    r = c.run(["mkdir", "/x"])
    assert r.returncode != 0
    assert "Operation not permitted" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(c.bundle.rootfs, "x"))
    # everything else still works
    c.out(["touch", "/y"])
    assert os.path.exists(os.path.join(c.bundle.rootfs, "y"))
    assert proc_status(c.pid)["Seccomp"] == "2"


# ---- --process process.json --------------------------------------------------------------------


def containerd_process(args: list[str]) -> dict:
    """A process object as containerd's shim writes process.json for runc exec."""
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID"]
    return {
        "terminal": False,
        "user": {"uid": 65534, "gid": 65534, "additionalGids": [10]},
        "args": args,
        "env": [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME=ctr",
            "FROM_JSON=1",
        ],
        "cwd": "/tmp",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 77, "soft": 77}],
        "noNewPrivileges": True,
    }


def test_exec_process_json(running, tmp_path):
    c = running(process={"noNewPrivileges": False})
    script = (
        "id; pwd; ulimit -n; echo $FROM_JSON; grep -E '^(Cap...|NoNewPrivs):' /proc/self/status"
    )
    path = tmp_path / "process.json"
    path.write_text(json.dumps(containerd_process(sh(script))))
    r = c.oci.cli("exec", "--process", str(path), c.cid)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "uid=65534(nobody) gid=65534(nobody) groups=10"
    assert lines[1:4] == ["/tmp", "77", "1"]
    # the bounding set is the file's; a non-root user keeps no effective
    # capabilities across execve without ambient ones (as with runc)
    bnd = re.search(r"^CapBnd:\s*([0-9a-f]+)$", r.stdout, re.M)
    assert int(bnd.group(1), 16) == (1 << 0) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << CAP_NET_RAW)
    assert cap_eff(r.stdout) == 0
    assert re.search(r"^NoNewPrivs:\s*1$", r.stdout, re.M)


def test_exec_process_json_takes_runcs_defaults_from_the_container(running, tmp_path):
    """A process.json without capabilities gets the container's (runc's
    fallback, not the runtime's full set: nothing beyond the container's
    bounding set), the container's rlimits when it has none; its own
    noNewPrivileges (absent: off), as runc's.  With a capabilities object
    of its own, even an empty one, that one."""
    caps = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    c = running(
        process={
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 55, "soft": 55}],
            "noNewPrivileges": True,
        }
    )
    script = "ulimit -n; grep -E '^(CapBnd|CapEff|NoNewPrivs):' /proc/self/status"
    proc = {"args": sh(script), "cwd": "/", "user": {"uid": 0, "gid": 0}}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(proc))
    r = c.oci.cli("exec", "-p", str(path), c.cid)
    assert r.returncode == 0, r.stderr
    mask = (1 << 5) | (1 << 10)  # CAP_KILL, CAP_NET_BIND_SERVICE
    assert r.stdout.splitlines()[0] == "55"
    assert int(re.search(r"^CapBnd:\s*([0-9a-f]+)$", r.stdout, re.M).group(1), 16) == mask
    assert cap_eff(r.stdout) == mask
    assert re.search(r"^NoNewPrivs:\s*0$", r.stdout, re.M)
    proc["capabilities"] = {}
    proc["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 66, "soft": 66}]
    path.write_text(json.dumps(proc))
    r = c.oci.cli("exec", "-p", str(path), c.cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "66"
    assert int(re.search(r"^CapBnd:\s*([0-9a-f]+)$", r.stdout, re.M).group(1), 16) == 0


def test_exec_process_json_exit_status_and_detach(running, tmp_path):
    c = running()
    path = tmp_path / "p.json"
    proc = containerd_process(sh("exit 9"))
    path.write_text(json.dumps(proc))
    assert c.oci.cli("exec", "-p", str(path), c.cid).returncode == 9
    proc["args"] = ["sleep", "7"]
    path.write_text(json.dumps(proc))
    pidfile = tmp_path / "exec.pid"
    c.oci.cli_ok("exec", "-d", "--pid-file", str(pidfile), "-p", str(path), c.cid)
    pid = int(pidfile.read_text())
    assert alive(pid) and proc_status(pid)["Uid"].split()[0] == "65534"
    os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    "content, needle",
    [
        ("{not json", "process.json"),
        ('{"args": "sh", "cwd": "/"}', "/args"),
        ('{"args": ["sh"], "cwd": "/", "user": {"uid": "root"}}', "/user/uid"),
        ("[]", "process.json"),
        ('{"cwd": "/"}', "args"),
    ],
    ids=["invalid-json", "args-not-array", "uid-not-number", "not-an-object", "no-args"],
)
def test_exec_bad_process_json(running, tmp_path, content, needle):
    c = running()
    path = tmp_path / "process.json"
    path.write_text(content)
    r = c.oci.cli("exec", "--process", str(path), c.cid)
    assert_one_line_error(r, needle, code=255)
    assert ns_members(c.pid) == [c.pid]


def test_exec_missing_process_json(running, tmp_path):
    c = running()
    r = c.oci.cli("exec", "--process", str(tmp_path / "nope.json"), c.cid)
    assert_one_line_error(r, "nope.json", code=255)


# ---- detached ---------------------------------------------------------------------------------------


def test_exec_detached_with_pid_file(running, tmp_path):
    c = running()
    pidfile = tmp_path / "exec.pid"
    c.oci.cli_ok("exec", "-d", "--pid-file", str(pidfile), c.cid, "sleep", "5")
    text = pidfile.read_text()
    assert re.fullmatch(r"[1-9][0-9]*", text), repr(text)
    pid = int(text)
    try:
        assert alive(pid), "exec -d must return while the process runs"
        # exec -d returns once the process has been told to go, which can be
        # before its execve is through: the kernel lays out the new argv last
        # (cmdline reads empty until then), so wait for it, as CI once had to
        wait_for(lambda: _cmdline(pid) == b"sleep\x005\x00", "the exec'd argv", timeout=4)
        assert os.stat(f"/proc/{pid}/ns/pid").st_ino == os.stat(f"/proc/{c.pid}/ns/pid").st_ino
        assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink(f"/proc/{c.pid}/ns/mnt")
        assert pid in ns_members(c.pid)
    finally:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), "the detached process to die")


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read()


def test_exec_joins_the_containers_cgroup(running, tmp_path):
    c = running()
    pidfile = tmp_path / "exec.pid"
    c.oci.cli_ok("exec", "-d", "--pid-file", str(pidfile), c.cid, "sleep", "5")
    pid = int(pidfile.read_text())
    try:
        with open(f"/proc/{pid}/cgroup") as mine, open(f"/proc/{c.pid}/cgroup") as init:
            of_init = init.read()
            assert mine.read() == of_init
        with open("/proc/self/cgroup") as host:
            assert of_init != host.read(), "the container should have a cgroup of its own"
        # and inside, through the cgroup namespace, both are at its root
        out = c.out(sh("cat /proc/self/cgroup; echo ====; cat /proc/1/cgroup"))
        inside, of_init = out.split("====\n")
        assert inside == of_init
    finally:
        os.kill(pid, signal.SIGKILL)


def test_exec_detached_relative_pid_file(running, tmp_path):
    c = running()
    c.oci.cli_ok("exec", "-d", "--pid-file", "rel.pid", c.cid, "sleep", "5", cwd=tmp_path)
    pid = int((tmp_path / "rel.pid").read_text())
    assert alive(pid)
    os.kill(pid, signal.SIGKILL)


def test_detached_exec_outlives_the_runtime_and_exits_with_the_container(oci, running, tmp_path):
    c = running()
    pidfile = tmp_path / "exec.pid"
    oci.cli_ok("exec", "-d", "--pid-file", str(pidfile), c.cid, "sleep", "300")
    pid = int(pidfile.read_text())
    assert alive(pid)
    oci.cli_ok("delete", "--force", c.cid)
    # the init was pid 1 of the namespace: the kernel kills the rest
    wait_for(lambda: not alive(pid), "the exec'd process to die with the container")


# ---- failures -------------------------------------------------------------------------------------------


def test_exec_in_a_stopped_container(oci, make_bundle):
    b = make_bundle(["true"])
    cid = oci.new_id("exec")
    oci.cli_ok("run", "-d", "-b", b.path, cid)
    wait_for(lambda: oci.state(cid)["status"] == "stopped", "the container to stop")
    marker = f"mark-{uuid.uuid4().hex}"
    r = oci.cli("exec", cid, "sleep", "100", marker)
    assert_one_line_error(r, "cannot exec in a stopped container", code=255)
    assert with_marker(marker) == []
    oci.cli_ok("delete", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_exec_unknown_id(oci):
    cid = oci.new_id("nope")
    r = oci.cli("exec", cid, "true")
    assert_one_line_error(r, "does not exist", cid)
    assert r.returncode == 255, "runc exits 255 for every failed exec"
    assert os.listdir(oci.root) == []


@pytest.mark.parametrize(
    "argv, why",
    [
        (["no-such-binary"], 'exec: "no-such-binary": executable file not found in $PATH'),
        (["/no/such/binary"], "no such file or directory"),
        (["/etc"], "permission denied"),
        (["/etc/passwd"], "permission denied"),
    ],
    ids=["path-lookup", "absolute", "directory", "not-executable"],
)
def test_exec_missing_binary(running, argv, why):
    c = running()
    r = c.run(argv)
    assert_one_line_error(r, why, code=255)
    assert ns_members(c.pid) == [c.pid]
    assert c.oci.state(c.cid)["status"] == "running"


@pytest.mark.parametrize(
    "content, why",
    [
        (b"not a program\n", "exec format error"),
        (b"#!/no/such/interpreter\n", "no such file or directory"),
    ],
    ids=["bad-format", "missing-interpreter"],
)
def test_an_execve_the_kernel_refuses_names_the_program(running, content, why):
    """Found and executable, so every check before the fork passes; only
    execve itself fails, after the runtime let the process go.  The message
    names the program as runc's does (``exec /x: exec format error``) and
    the exit is the process's (1), as with runc."""
    c = running()
    prog = os.path.join(c.bundle.rootfs, "prog")
    with open(prog, "wb") as f:
        f.write(content)
    os.chmod(prog, 0o755)
    r = c.run(["/prog"])
    assert r.returncode == 1, r
    assert r.stderr == f"ociruntime: exec /prog: {why}\n"
    assert ns_members(c.pid) == [c.pid]


def test_a_cwd_the_container_lacks_is_blamed_on_where_it_came_from(running, tmp_path):
    """The set-up child checks the cwd with config.json's pointer; exec names
    the flag or the --process file that gave it instead, and config.json only
    when the cwd is the container's own (runc says config.json every time)."""
    c = running(process={"cwd": "/tmp/wd"})
    r = c.run(["pwd"], "--cwd", "/nowhere")
    assert_one_line_error(r, "--cwd: chdir /nowhere", code=255)
    pj = tmp_path / "p.json"
    pj.write_text(json.dumps({"args": ["pwd"], "cwd": "/nowhere"}))
    r = c.oci.cli("exec", "--process", str(pj), c.cid)
    assert_one_line_error(r, f"{pj}: /cwd: chdir /nowhere", code=255)
    assert c.out(["rmdir", "/tmp/wd"], "--cwd", "/") == ""
    r = c.run(["pwd"])
    assert_one_line_error(r, "config.json: /process/cwd: chdir /tmp/wd", code=255)
    assert ns_members(c.pid) == [c.pid]


def test_lsm_flags_and_unknown_caps_are_blamed_on_their_flags(running, tmp_path):
    """--apparmor and --process-label on a host without that LSM fail naming
    the flag (runc: "specified in config"); an unknown --cap runs with a
    warning that names --cap, not a config.json pointer the container's
    config does not have."""
    c = running()
    if not os.path.exists("/sys/kernel/security/apparmor"):
        r = c.run(["true"], "--apparmor", "p")
        assert_one_line_error(r, "--apparmor: ", code=255)
    if not os.path.exists("/sys/fs/selinux/enforce"):
        r = c.run(["true"], "--process-label", "l")
        assert_one_line_error(r, "--process-label: ", code=255)
    r = c.run(["sh", "-c", "echo ran"], "--cap", "CAP_NOPE")
    assert (r.returncode, r.stdout) == (0, "ran\n"), r.stderr
    assert r.stderr == 'ociruntime: warning: unknown capability "CAP_NOPE" ignored (--cap)\n'
    # the same from a --process file names the file, as its errors do
    pj = tmp_path / "p.json"
    pj.write_text(
        json.dumps({"args": ["true"], "cwd": "/", "capabilities": {"bounding": ["CAP_NOPE"]}})
    )
    r = c.oci.cli("exec", "--process", str(pj), c.cid)
    assert r.returncode == 0, r.stderr
    assert f'unknown capability "CAP_NOPE" ignored ({pj}: /capabilities/bounding/0)' in r.stderr


def test_exec_without_a_command(running):
    c = running()
    r = c.oci.cli("exec", c.cid)
    assert_one_line_error(r, code=255)


def test_failed_execs_leave_nothing_behind(running):
    c = running()
    marker = f"mark-{uuid.uuid4().hex}"
    for flags in ([], ["-d"], ["-u", "65534"], ["--cwd", "/nowhere"]):
        argv = ["/no/such/binary", marker] if "--cwd" not in flags else ["sleep", "100", marker]
        r = c.run(argv, *flags)
        assert r.returncode == 255, (flags, r)
    assert with_marker(marker) == []
    assert ns_members(c.pid) == [c.pid]
    c.oci.cli_ok("delete", "--force", c.cid)
    assert leftovers(c.oci, c.bundle, (c.cid,)) == []


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--pid-file", "{tmp}/missing/dir/p"], "--pid-file"),
        (["-d", "--pid-file", "{tmp}/missing/dir/p"], "--pid-file"),
        (["--pid-file", "{tmp}"], "is a directory"),
        (["--pid-file", "/proc/version"], "/proc/version"),
        (["--process", "{tmp}/missing.json"], "missing.json"),
        (["--process", "{tmp}"], "is a directory"),
        (["--tty", "--detach"], "console-socket"),
        (["--tty", "--console-socket", "{tmp}/none.sock"], "none.sock"),
        (["--console-socket", "{tmp}/none.sock"], "console-socket"),
        (["--cwd", "/nowhere"], "/nowhere"),
        (["--user", "abc"], "--user"),
        (["--user", "-5"], "--user"),
        (["--user", "99999999999"], "--user"),
        (["--user", "0:99999999999"], "--user"),
        (["--additional-gids", "abc"], "-gids"),
        (["--additional-gids", "99999999999"], "--additional-gids"),
        (["--apparmor", "unconfined"], "apparmor"),
        (["--process-label", "system_u:system_r:container_t:s0"], "SELinux"),
        (["--preserve-fds", "-1"], "--preserve-fds"),
        (["--preserve-fds", "99999999999999999999"], "--preserve-fds"),
        (["--preserve-fds", "x"], "--preserve-fds"),
        (["--cgroup", "../up"], "--cgroup"),
        (["--cgroup", "no-such-sub"], "--cgroup"),
        (["--no-such-flag"], "--no-such-flag"),
        (["--detach=maybe"], "--detach"),
    ],
)
def test_every_exec_flag_fails_with_255_and_one_line(running, tmp_path, flags, needle):
    """runc exits 255 when exec itself fails; so do we, for every flag's
    error path (usage errors included), with one clean line (no [Errno N], no
    traceback), having started nothing and written no pid file."""
    c = running()
    marker = f"mark-{uuid.uuid4().hex}"
    flags = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    r = c.run(["sleep", "100", marker], *flags)
    line = assert_one_line_error(r, needle, code=255)
    assert "[Errno" not in line and "internal error" not in line, line
    assert with_marker(marker) == []
    assert ns_members(c.pid) == [c.pid]
    assert not os.path.exists(tmp_path / "missing")
    assert c.oci.state(c.cid)["status"] == "running"


def test_exec_in_a_paused_container(running):
    c = running()
    c.oci.cli_ok("pause", c.cid)
    try:
        marker = f"mark-{uuid.uuid4().hex}"
        r = c.run(["sleep", "100", marker])
        assert_one_line_error(r, "paused", code=255)
        assert with_marker(marker) == []
    finally:
        c.oci.cli_ok("resume", c.cid)
    assert c.out(["echo", "back"]) == "back\n"


def test_exec_ignore_paused_runs_once_resumed(running, oci, tmp_path):
    c = running()
    oci.cli_ok("pause", c.cid)
    out = tmp_path / "out"
    with open(out, "wb") as f:
        p = oci.popen(
            "exec", "--ignore-paused", c.cid, "echo", "thawed", stdout=f, stderr=subprocess.STDOUT
        )
    try:
        time.sleep(0.5)
        assert p.poll() is None, f"exec into a frozen container returned: {out.read_text()}"
        oci.cli_ok("resume", c.cid)
        assert p.wait(timeout=10) == 0
        assert out.read_text() == "thawed\n"
    finally:
        if p.poll() is None:
            oci.cli("resume", c.cid)
            p.kill()
            p.wait()


# ---- terminals through a console socket -------------------------------------------------------------------


def test_exec_tty_detached_through_the_console_socket(running, console_socket, tmp_path):
    path, listener, opened = console_socket
    c = running()
    pidfile = tmp_path / "sh.pid"
    r = c.oci.cli(
        "exec", "-t", "-d", "--console-socket", path, "--pid-file", str(pidfile), c.cid, "sh"
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""
    data, master = receive_master(listener, opened)
    assert re.fullmatch(rb"/dev/pts/[0-9]+", data), data
    pid = int(pidfile.read_text())
    assert alive(pid)
    assert os.readlink(f"/proc/{pid}/fd/0").startswith("/dev/pts/")
    # forked by the runtime itself (a pty end crosses the fork), into the container's
    # cgroup2 directory; it joined the v1 hierarchies by itself
    with open(f"/proc/{pid}/cgroup") as mine, open(f"/proc/{c.pid}/cgroup") as init:
        assert mine.read() == init.read()

    os.write(master, b"echo $((6*7))\n")
    read_until(master, rb"\r\n42\r\n")

    set_winsize(master, 33, 77)
    os.write(master, b"stty size\n")
    read_until(master, rb"\r\n33 77\r\n")

    os.write(master, b"tty; readlink /proc/self/ns/pid\n")
    out = read_until(master, rb"pid:\[[0-9]+\]")
    assert data in out
    assert os.readlink(f"/proc/{c.pid}/ns/pid").encode() in out

    os.write(master, b"exit\n")
    assert pty_closed(master), "the pty stays open after exit"
    wait_for(lambda: not alive(pid), "the shell to exit")
    assert ns_members(c.pid) == [c.pid]


def test_exec_tty_console_size_from_process_json(running, console_socket, tmp_path):
    path, listener, opened = console_socket
    c = running()
    proc = containerd_process(["sh"])
    proc.update(terminal=True, consoleSize={"height": 21, "width": 61}, user={"uid": 0, "gid": 0})
    pfile = tmp_path / "process.json"
    pfile.write_text(json.dumps(proc))
    c.oci.cli_ok("exec", "-d", "--console-socket", path, "-p", str(pfile), c.cid)
    _, master = receive_master(listener, opened)
    os.write(master, b"stty size; exit\n")
    read_until(master, rb"\r\n21 61\r\n")


def test_create_with_a_console_socket(oci, make_bundle, console_socket):
    path, listener, opened = console_socket
    b = make_bundle(sh("tty; echo out-$((2+3)); exec sleep 1000"))
    b.config["process"]["terminal"] = True
    b.save()
    cid = oci.new_id("tty")
    r = oci.cli("create", "--console-socket", path, "-b", b.path, cid)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    # create has returned: the master must be waiting already, no blocking allowed
    data, master = receive_master(listener, opened, wait=False)
    assert re.fullmatch(rb"/dev/pts/[0-9]+", data), data
    assert oci.state(cid)["status"] == "created"
    oci.cli_ok("start", cid)
    out = read_until(master, rb"out-5\r\n")
    assert data + b"\r\n" in out  # tty names the pty that was sent
    pid = oci.state(cid)["pid"]
    assert os.readlink(f"/proc/{pid}/fd/1") == data.decode()
    oci.cli_ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


@pytest.mark.parametrize("pidns", ["new", "joined"])
def test_create_with_a_console_socket_without_a_mount_namespace(
    oci, make_bundle, console_socket, pidns
):
    """No devpts of the container's own: the pty is the host's, as exec makes
    in such a container.  create used to send no master, and the engine waited
    for it (issue 19: nothing silently skipped without a mount namespace).
    In another's pid namespace the process is forked last, and takes the
    terminal itself."""
    path, listener, opened = console_socket
    b = make_bundle(sh("echo out-$((2+3)); exec sleep 1000"))
    lx = b.config["linux"]
    lx["namespaces"] = [n for n in lx["namespaces"] if n["type"] != "mount"]
    others = []
    if pidns == "joined":
        others.append(oci.new_id("pidns"))
        other = oci.run_detached(make_bundle(["sleep", "60"]), others[0])
        lx["namespaces"] = [n for n in lx["namespaces"] if n["type"] != "pid"]
        lx["namespaces"].append({"type": "pid", "path": f"/proc/{other}/ns/pid"})
    for key in ("maskedPaths", "readonlyPaths"):
        lx.pop(key, None)
    b.config["mounts"] = []
    b.config["process"]["terminal"] = True
    b.save()
    cid = oci.new_id("tty")
    oci.cli_ok("create", "--console-socket", path, "-b", b.path, cid)
    data, master = receive_master(listener, opened, wait=False)
    assert re.fullmatch(rb"/dev/pts/[0-9]+", data), data
    oci.cli_ok("start", cid)
    read_until(master, rb"out-5\r\n")
    pid = oci.state(cid)["pid"]
    assert os.readlink(f"/proc/{pid}/fd/1") == data.decode()
    for c in (cid, *others):
        oci.cli_ok("delete", "--force", c)
    assert leftovers(oci, b, (cid,)) == []


def test_create_terminal_without_a_console_socket(oci, make_bundle):
    b = make_bundle(["sh"])
    b.config["process"]["terminal"] = True
    b.save()
    cid = oci.new_id("tty")
    r = oci.cli("create", "-b", b.path, cid)
    assert r.returncode != 0
    assert_clean_failure(oci, b, cid, r, "console-socket")


def test_exec_tty_detached_without_a_console_socket(running):
    c = running()
    marker = f"mark-{uuid.uuid4().hex}"
    r = c.run(["sleep", "100", marker], "-t", "-d")
    assert_one_line_error(r, "console-socket", code=255)
    assert with_marker(marker) == []
    assert ns_members(c.pid) == [c.pid]


def test_exec_console_socket_that_does_not_listen(running, tmp_path):
    c = running()
    r = c.run(["sh"], "-t", "-d", "--console-socket", str(tmp_path / "none.sock"))
    assert_one_line_error(r, "none.sock", code=255)
    assert ns_members(c.pid) == [c.pid]


# ---- a person's interactive terminal (tmux) -----------------------------------------------------------------


class Tmux:
    """One detached tmux session on a private server (its socket in a temp dir)."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="ocitmux-", dir="/tmp")
        self.server = os.path.join(self.dir, "sock")
        self.name = f"exec-{uuid.uuid4().hex[:10]}"
        self.env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}

    def tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["tmux", "-S", self.server, *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=self.env,
        )

    def start(self, command: str, cols: int, rows: int) -> None:
        r = self.tmux(
            "new-session", "-d", "-s", self.name, "-x", str(cols), "-y", str(rows), command
        )
        assert r.returncode == 0, r.stderr

    def send(self, line: str) -> None:
        assert self.tmux("send-keys", "-t", self.name, "-l", line).returncode == 0
        assert self.tmux("send-keys", "-t", self.name, "Enter").returncode == 0

    def screen(self) -> str:
        r = self.tmux("capture-pane", "-p", "-t", self.name)
        return r.stdout if r.returncode == 0 else f"(capture-pane failed: {r.stderr.strip()})"

    def wait(self, pattern: str, timeout: float = 15.0) -> re.Match:
        end = time.monotonic() + timeout
        while True:
            screen = self.screen()
            m = re.search(pattern, screen, re.M)
            if m:
                return m
            if time.monotonic() > end:
                raise AssertionError(f"no {pattern!r} on the screen after {timeout}s:\n{screen}")
            time.sleep(0.05)

    def kill(self) -> None:
        if os.path.exists(self.server):
            self.tmux("kill-session", "-t", self.name)
            self.tmux("kill-server")
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def tmux():
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    sessions: list[Tmux] = []

    def new() -> Tmux:
        t = Tmux()
        sessions.append(t)
        return t

    yield new
    for t in sessions:
        t.kill()


def test_interactive_run_in_a_terminal(oci, make_bundle, tmux):
    b = make_bundle(["sh"])
    b.config["process"]["terminal"] = True
    b.save()
    cid = oci.new_id("tty")
    t = tmux()
    cmd = shlex.join([*OCI, "--root", oci.root, "run", "-b", b.path, cid])
    t.start(f"{cmd}; echo EXIT=$?; sleep 60", cols=100, rows=30)
    t.wait(r"^/ #")
    t.send("stty size")
    t.wait(r"^30 100$")
    t.send("echo $((6*7)) $(hostname)")
    t.wait(r"^42 ociruntime$")
    t.send("exit 5")
    t.wait(r"EXIT=5$")
    t.kill()
    assert leftovers(oci, b, (cid,)) == []


def test_interactive_exec_into_a_running_container(running, tmux):
    c = running()
    t = tmux()
    cmd = shlex.join([*OCI, "--root", c.oci.root, "exec", "-t", c.cid, "/bin/sh"])
    t.start(f"{cmd}; echo EXIT=$?; sleep 60", cols=90, rows=25)
    t.wait(r"^/ #")
    t.send("stty size; tty")
    t.wait(r"^25 90$")
    t.wait(r"^/dev/pts/[0-9]+$")
    t.send("tr '\\0' ' ' </proc/1/cmdline; echo")
    t.wait(r"^sleep 1000 ?$")
    t.send("exit 7")
    t.wait(r"EXIT=7$")
    t.kill()
    assert ns_members(c.pid) == [c.pid]


def test_interactive_exec_follows_a_window_resize(running, tmux):
    c = running()
    t = tmux()
    cmd = shlex.join([*OCI, "--root", c.oci.root, "exec", "-t", c.cid, "/bin/sh"])
    t.start(f"{cmd}; echo EXIT=$?; sleep 60", cols=80, rows=24)
    t.wait(r"^/ #")
    assert t.tmux("resize-window", "-t", t.name, "-x", "70", "-y", "20").returncode == 0
    # SIGWINCH reaches the runtime asynchronously: ask until the new size shows
    end = time.monotonic() + 15
    while True:
        t.send("stty size")
        try:
            t.wait(r"^20 70$", timeout=1)
            break
        except AssertionError:
            if time.monotonic() > end:
                raise
    t.send("exit")
    t.wait(r"EXIT=0$")


def test_foreground_tty_relay_delivers_the_last_output(running):
    """exec -t in the foreground, on a terminal of ours: whatever the process
    writes just before it exits must reach our side.  The process answers one
    line of input and exits at once; if the runtime sees the exit before it
    has read the pty's last bytes, they are lost.  (A race: tried a few times.)"""
    c = running()
    for attempt in range(12):
        master, slave = os.openpty()
        p = c.oci.popen(
            "exec", "-t", c.cid, *sh("read x; echo got-$x"), stdin=slave, stdout=slave, stderr=slave
        )
        os.close(slave)
        try:
            # the relay runs once the runtime has put our terminal in raw mode
            wait_for(
                lambda m=master: not termios.tcgetattr(m)[3] & termios.ECHO,
                "raw mode on the caller's terminal",
            )
            time.sleep(0.25)  # let the relay go idle in select
            os.write(master, b"hi\r")
            out = b""
            while True:
                ready, _, _ = select.select([master], [], [], 10)
                if not ready:
                    break
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the runtime has exited
                    break
                if not chunk:
                    break
                out += chunk
            assert p.wait(timeout=10) == 0
            assert b"got-hi\r\n" in out, f"attempt {attempt}: the output was lost: {out!r}"
        finally:
            stop(p)
            os.close(master)


# ---- --preserve-fds ------------------------------------------------------------------------------------------------


def as_fd_3(argv: list[str], fd: int) -> list[str]:
    """argv run with ``fd`` as its fd 3 (dash cannot redirect fds above 9)."""
    move = (
        "import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3); fd != 3 and os.close(fd); "
        "os.execvp(sys.argv[2], sys.argv[2:])"
    )
    return [sys.executable, "-c", move, str(fd), *argv]


def test_exec_preserve_fds_passes_a_pipe_as_fd_3(running):
    c = running()
    r, w = os.pipe()
    try:
        argv = [*OCI, "--root", c.oci.root, "exec", "--preserve-fds", "1", c.cid]
        argv += sh("echo hi >&3; ls /proc/self/fd")
        p = subprocess.run(
            as_fd_3(argv, w), pass_fds=(w,), capture_output=True, text=True, timeout=30
        )
        os.close(w)
        w = -1
        assert p.returncode == 0, p.stderr
        with os.fdopen(r, "rb") as f:
            r = -1
            assert f.read() == b"hi\n"
        # 0-2, the preserved 3, and the fd ls opened for /proc/self/fd
        assert sorted(map(int, p.stdout.split())) == [0, 1, 2, 3, 4]
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)


def test_exec_does_not_pass_fds_without_preserve(running):
    c = running()
    r, w = os.pipe()
    try:
        argv = [*OCI, "--root", c.oci.root, "exec", c.cid, *sh("echo hi >&3")]
        p = subprocess.run(
            as_fd_3(argv, w), pass_fds=(w,), capture_output=True, text=True, timeout=30
        )
        assert p.returncode != 0
        assert "Bad file descriptor" in p.stderr, p.stderr
    finally:
        os.close(r)
        os.close(w)


def test_exec_into_a_sub_cgroup(oci, make_bundle):
    """runc's --cgroup: join a sub-cgroup of the container's (CTL:PATH or PATH)."""
    b = make_bundle(["sleep", "100"])
    cid = oci.new_id()
    oci.run_detached(b, cid)
    cg = read_record(oci.root, cid)["cgroup"]
    mem = cg["path"] if cg["layout"] == "v2" else cg["paths"]["memory"]
    os.mkdir(os.path.join(mem, "sub"))
    spec = "sub" if cg["layout"] == "v2" else "memory:sub"
    r = oci.ok("exec", "--cgroup", spec, cid, "cat", "/proc/self/cgroup")
    line = next(x for x in r.stdout.splitlines() if (":memory:" in x or x.startswith("0::")))
    assert line.endswith(":/sub"), r.stdout
    r = oci.cli("exec", "--cgroup", "nope", cid, "true")
    assert r.returncode == 255 and "--cgroup" in r.stderr and "does not exist" in r.stderr
    oci.ok("delete", "--force", cid)
    assert not os.path.exists(mem)


# ---- cwd and terminal ownership as runc orders them --------------------------------------------------


def test_exec_cwd_only_root_can_enter_works_for_a_user(oci, make_bundle):
    b = make_bundle(["sleep", "30"])
    os.chmod(os.path.join(b.rootfs, "root"), 0o700)
    cid = oci.new_id("cwd")
    oci.run_detached(b, cid)
    try:
        r = oci.cli_ok("exec", "--user", "42:42", "--cwd", "/root", cid, "sh", "-c", "pwd; id -u")
        assert r.stdout.split() == ["/root", "42"]
    finally:
        oci.cli("delete", "--force", cid)


def test_exec_terminal_belongs_to_the_user(oci, make_bundle):
    b = make_bundle(["sleep", "30"])
    cid = oci.new_id("tty")
    oci.run_detached(b, cid)
    try:
        r = oci.ok(
            "exec", "-t", "--user", "1000:1000", cid, "stat", "-L", "-c", "%u:%g", "/proc/self/fd/0"
        )
        assert r.stdout.strip() == "1000:5", r.stdout
    finally:
        oci.cli("delete", "--force", cid)
