"""podman 4 (through conmon) with ociruntime as its OCI runtime.

Each test names its containers uniquely and removes them; the session
fixture (conftest.py) owns the image and the private storage.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess

import pytest

from .conftest import CONTAINERS_CONF, TIMEOUT, describe, pid_alive, unique, wait_for


@pytest.fixture
def names(podman):
    """unique container names, force-removed after the test."""
    made: list[str] = []

    def new(prefix: str = "pm") -> str:
        made.append(unique(prefix))
        return made[-1]

    yield new
    if made:
        podman("rm", "--force", "--time", "0", "--ignore", *made)


def detached(podman, name: str, *args: str, cmd: str = "sleep 1000") -> int:
    """``podman run -d`` a shell command; returns the container's host pid."""
    podman.ok(
        "run", "-d", "--network", "none", "--name", name, *args, podman.image, "sh", "-c", cmd
    )
    pid = int(podman.inspect(name, "{{.State.Pid}}"))
    assert pid > 0 and pid_alive(pid)
    return pid


def test_docs_show_the_tested_containers_conf():
    """docs/integrations.md shows the containers.conf these tests run."""
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "integrations.md")
    with open(doc) as f:
        blocks = re.findall(r"^```toml\n(.*?)^```", f.read(), re.M | re.S)
    assert CONTAINERS_CONF.format(runtime="/usr/local/bin/ociruntime") in blocks


def test_uses_ociruntime(podman, names):
    name = names()
    podman.ok("create", "--network", "none", "--name", name, podman.image, "true")
    assert podman.inspect(name, "{{.OCIRuntime}}") == "ociruntime"


def test_run_rm_echo(podman, names):
    name = names()
    r = podman.run("--rm", "--name", name, podman.image, "echo", "hello", "world")
    assert r.returncode == 0, describe(r)
    assert r.stdout == "hello world\n"
    assert name not in podman.ok("ps", "-a", "--format", "{{.Names}}").stdout.split()


@pytest.mark.parametrize("code", [0, 1, 42, 255])
def test_exit_status(podman, code):
    r = podman.run("--rm", podman.image, "sh", "-c", f"exit {code}")
    assert r.returncode == code, describe(r)


def test_missing_executable_is_127(podman):
    """podman maps the runtime's "executable file not found" to 127, as with runc."""
    r = podman.run("--rm", podman.image, "no-such-command")
    assert r.returncode == 127, describe(r)
    assert "executable file not found in $PATH" in r.stderr


def test_failed_create_cleans_up_quietly(podman):
    """After a failed create podman runs ``delete --force ID`` for an id the
    runtime never recorded.  runc exits 0 for an unknown id when forced (it
    only reports "does not exist" without --force), so podman prints nothing
    more than the create error; a non-zero exit makes podman log
    'Removing container ... from runtime after creation failed'."""
    r = podman.run("--rm", podman.image, "no-such-command")
    assert r.returncode == 127, describe(r)
    assert "Removing container" not in r.stderr, describe(r)
    assert "does not exist" not in r.stderr, describe(r)


def test_not_executable_is_126(podman):
    r = podman.run("--rm", podman.image, "/etc/passwd")
    assert r.returncode == 126, describe(r)
    assert "permission denied" in r.stderr


def test_detached_ps_stop_rm(podman, names):
    name = names()
    # the shell, pid 1, exits 0 on SIGTERM: stop must not need its SIGKILL
    pid = detached(podman, name, cmd="trap 'exit 0' TERM; while :; do sleep 0.1; done")
    ps = podman.ok("ps", "--format", "{{.Names}} {{.Status}}").stdout
    assert re.search(rf"^{name} Up\b", ps, re.M), ps
    assert podman.inspect(name, "{{.State.Status}}") == "running"

    r = podman.ok("stop", "--time", "20", name, timeout=TIMEOUT)
    assert podman.inspect(name, "{{.State.Status}}") == "exited"
    assert podman.inspect(name, "{{.State.ExitCode}}") == "0", r.stderr
    assert not pid_alive(pid)
    assert name not in podman.ok("ps", "--format", "{{.Names}}").stdout.split()
    assert name in podman.ok("ps", "-a", "--format", "{{.Names}}").stdout.split()

    podman.ok("rm", name)
    assert name not in podman.ok("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert podman("inspect", name).returncode != 0


def test_exec_output_and_status(podman, names):
    name = names()
    pid = detached(podman, name)
    r = podman("exec", name, "sh", "-c", "echo out; echo err >&2; exit 7")
    assert r.returncode == 7, describe(r)
    assert r.stdout == "out\n"
    assert "err" in r.stderr
    # same pid namespace as the container's init
    r = podman.ok("exec", name, "cat", "/proc/1/cmdline")
    with open(f"/proc/{pid}/cmdline") as f:
        assert r.stdout == f.read()
    # exec options reach the process
    r = podman.ok(
        "exec",
        "--user",
        "nobody",
        "--env",
        "X=y",
        "--workdir",
        "/tmp",
        name,
        "sh",
        "-c",
        "id -u; echo $X; pwd",
    )
    assert r.stdout.split() == ["65534", "y", "/tmp"]
    r = podman("exec", name, "no-such-command")
    assert r.returncode == 127, describe(r)
    # the container is still fine
    assert podman.inspect(name, "{{.State.Status}}") == "running"


# prints the tty, then its size once set (podman resizes it through conmon;
# busybox stty exits 0 even when it cannot read the size, so test the output)
TTY_SCRIPT = (
    "tty; for i in $(seq 100); do s=$(stty size 2>/dev/null);"
    ' case $s in [1-9]*) break;; esac; sleep 0.05; done; echo "size $s"; exit 3'
)


def test_run_tty(podman):
    """``run -t``: the pty comes through the console socket; podman's terminal size reaches it."""
    inner = shlex.join(
        podman.cmd(
            "run",
            "--network",
            "none",
            "-t",
            "--rm",
            podman.image,
            "sh",
            "-c",
            TTY_SCRIPT,
        )
    )
    # script gives podman a terminal (the test has none); the outer stty sets its size
    r = subprocess.run(
        ["script", "-qec", f"stty rows 33 cols 111; {inner}", "/dev/null"],
        env=podman.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    lines = r.stdout.replace("\r", "").split("\n")
    assert r.returncode == 3, describe(r)
    assert re.fullmatch(r"/dev/pts/\d+", lines[0]), describe(r)
    assert lines[1] == "size 33 111", describe(r)


def test_run_without_tty_has_no_terminal(podman):
    r = podman.run("--rm", podman.image, "sh", "-c", "tty; true")
    assert r.stdout.strip() == "not a tty", describe(r)


def test_bind_volume(podman, tmp_path):
    host = tmp_path / "vol"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    r = podman.run(
        "--rm",
        "-v",
        f"{host}:/data",
        podman.image,
        "sh",
        "-c",
        "cat /data/in.txt; echo from container > /data/out.txt",
    )
    assert r.returncode == 0, describe(r)
    assert r.stdout == "from host\n"
    assert (host / "out.txt").read_text() == "from container\n"
    r = podman.run(
        "--rm", "-v", f"{host}:/data:ro", podman.image, "sh", "-c", "echo x > /data/ro.txt"
    )
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr
    assert not (host / "ro.txt").exists()


def test_read_only_rootfs(podman):
    r = podman.run(
        "--rm",
        "--read-only",
        podman.image,
        "sh",
        "-c",
        "touch /x; echo rc=$?; touch /tmp/y && echo tmp-ok",
    )
    assert r.returncode == 0, describe(r)
    assert r.stdout.split() == ["rc=1", "tmp-ok"]
    assert "Read-only file system" in r.stderr
    r = podman.run("--rm", podman.image, "sh", "-c", "touch /x && echo rw-ok")
    assert r.stdout.strip() == "rw-ok", describe(r)


def test_privileged(podman):
    """podman --privileged lists every host device with its whole st_mode as
    fileMode (S_IFCHR|0600 = 8576), past the official schema's 512; runc
    takes it, and so do we (schemas/README.md).  The container sees the
    host's devices and has every capability."""
    r = podman.run(
        "--rm",
        "--privileged",
        podman.image,
        "sh",
        "-c",
        "stat -c %a /dev/null; ls /dev | grep -c .; grep CapEff /proc/self/status",
    )
    assert r.returncode == 0, describe(r)
    mode, ndev, capeff = r.stdout.split("\n")[:3]
    assert mode == "666"
    assert int(ndev) > 20, r.stdout  # the host's devices, not the default six
    assert int(capeff.split()[1], 16) >= 0x1FFFFFFFF, capeff


@pytest.mark.parametrize(
    "user,expected",
    [("nobody", "65534 65534"), ("1234:5678", "1234 5678"), ("0", "0 0")],
)
def test_user(podman, user, expected):
    r = podman.run("--rm", "--user", user, podman.image, "sh", "-c", 'echo "$(id -u) $(id -g)"')
    assert r.returncode == 0, describe(r)
    assert r.stdout.strip() == expected


def _caps(status: str) -> dict[str, int]:
    return {k: int(v, 16) for k, v in re.findall(r"^(Cap\w+):\s+([0-9a-f]+)$", status, re.M)}


def test_cap_drop(podman):
    r = podman.run("--rm", "--cap-drop", "all", podman.image, "cat", "/proc/self/status")
    assert r.returncode == 0, describe(r)
    caps = _caps(r.stdout)
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == 0, caps

    CAP_CHOWN = 0
    r = podman.run(
        "--rm",
        podman.image,
        "sh",
        "-c",
        "grep CapBnd /proc/self/status; chown nobody /tmp && echo chown-ok",
    )
    assert _caps(r.stdout)["CapBnd"] & (1 << CAP_CHOWN)
    assert "chown-ok" in r.stdout, describe(r)
    r = podman.run(
        "--rm",
        "--cap-drop",
        "CHOWN",
        podman.image,
        "sh",
        "-c",
        "grep CapBnd /proc/self/status; chown nobody /tmp",
    )
    assert not _caps(r.stdout)["CapBnd"] & (1 << CAP_CHOWN)
    assert r.returncode != 0
    assert "Operation not permitted" in r.stderr


def test_env_and_workdir(podman):
    r = podman.run(
        "--rm",
        "-e",
        "FOO=bar baz",
        "-e",
        "EMPTY=",
        "-w",
        "/tmp",
        podman.image,
        "sh",
        "-c",
        'echo "$FOO|$EMPTY|$(pwd)|$PATH"',
    )
    assert r.returncode == 0, describe(r)
    foo, empty, cwd, path = r.stdout.rstrip("\n").split("|")
    assert (foo, empty, cwd) == ("bar baz", "", "/tmp")
    assert "/bin" in path.split(":")


def _cgroup_v1(pid: int, controller: str) -> str:
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            if controller in ctrls.split(","):
                return os.path.join("/sys/fs/cgroup", controller, path.lstrip("/"))
    pytest.skip(f"no cgroup v1 {controller} controller (cgroup v2 host?)")


def _cgroup_file(pid: int, controller: str, v1: str, v2: str) -> str:
    """The limit file of the container's cgroup, v1 or unified."""
    with open(f"/proc/{pid}/cgroup") as f:
        text = f.read()
    if re.search(rf"^\d+:[\w,]*\b{controller}\b", text, re.M):
        with open(os.path.join(_cgroup_v1(pid, controller), v1)) as f:
            return f.read().strip()
    path = re.search(r"^0::(.*)$", text, re.M).group(1)
    with open(os.path.join("/sys/fs/cgroup", path.lstrip("/"), v2)) as f:
        return f.read().strip()


def test_memory_and_pids_limit_in_cgroup(podman, names):
    name = names()
    pid = detached(podman, name, "--memory", "64m", "--pids-limit", "77")
    assert _cgroup_file(pid, "memory", "memory.limit_in_bytes", "memory.max") == str(64 << 20)
    assert _cgroup_file(pid, "pids", "pids.max", "pids.max") == "77"
    # the same cgroup as podman reports
    cg = podman.inspect(name, "{{.State.CgroupPath}}")
    with open(f"/proc/{pid}/cgroup") as f:
        assert cg and cg in f.read()


def test_container_sees_its_own_cgroup(podman):
    """/sys/fs/cgroup inside shows the container's cgroup, not the host's root.

    On cgroup v1 podman asks for no cgroup namespace; runc then bind-mounts
    each controller's *container* cgroup on /sys/fs/cgroup/<controller>, so a
    process reads its own limit there (as JVMs and other self-sizing tools
    do), and the host's other cgroups stay out of sight.  With a cgroup
    namespace or on cgroup v2 the view is the same.
    """
    r = podman.run(
        "--rm",
        "--memory",
        "64m",
        podman.image,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max;"
        " ls /sys/fs/cgroup/memory/ /sys/fs/cgroup/ 2>/dev/null | grep -c libpod_parent",
    )
    assert r.stdout.split()[0] == str(64 << 20), describe(r)
    assert r.stdout.split()[1] == "0", "the host's cgroup tree is visible:\n" + describe(r)


def test_pids_limit_enforced(podman):
    """8 pids: the shell and 7 sleeps; the 8th fork fails (ash then exits 2)."""
    loop = "for i in $(seq 12); do sleep 5 & echo $i; done; echo all-started"
    r = podman.run("--rm", "--pids-limit", "8", podman.image, "sh", "-c", loop)
    assert r.returncode == 2, describe(r)
    assert r.stdout.split() == [str(i) for i in range(1, 8)], describe(r)
    assert "can't fork: Resource temporarily unavailable" in r.stderr


def _netdevs(text: str) -> set[str]:
    return {line.split(":")[0].strip() for line in text.splitlines()[2:] if ":" in line}


def test_network_none(podman):
    r = podman.run("--rm", "--network", "none", podman.image, "cat", "/proc/net/dev")
    assert r.returncode == 0, describe(r)
    assert _netdevs(r.stdout) == {"lo"}


def test_network_host(podman):
    # the host's network namespace itself (its device list may change meanwhile)
    r = podman.run("--rm", "--network", "host", podman.image, "readlink", "/proc/self/ns/net")
    assert r.returncode == 0, describe(r)
    assert r.stdout.strip() == os.readlink("/proc/self/ns/net")
    with open("/proc/net/dev") as f:
        before = _netdevs(f.read())
    r = podman.run("--rm", "--network", "host", podman.image, "cat", "/proc/net/dev")
    with open("/proc/net/dev") as f:
        after = _netdevs(f.read())
    assert r.returncode == 0, describe(r)
    # the host's interfaces, every one that was there before and after the run
    assert (before & after) <= _netdevs(r.stdout) <= (before | after), describe(r)


def test_hostname(podman):
    r = podman.run(
        "--rm",
        "--hostname",
        "e2e-host.example",
        podman.image,
        "sh",
        "-c",
        "hostname; cat /etc/hostname",
    )
    assert r.returncode == 0, describe(r)
    assert r.stdout.split() == ["e2e-host.example", "e2e-host.example"]


def test_pause_unpause(podman, names):
    name = names()
    pid = detached(
        podman, name, cmd="i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done"
    )
    podman.ok("pause", name)
    assert podman.inspect(name, "{{.State.Status}}") == "paused"
    assert podman.inspect(name, "{{.State.Paused}}") == "true"
    assert _cgroup_file(pid, "freezer", "freezer.state", "cgroup.freeze") in ("FROZEN", "1")
    frozen = podman.ok("ps", "-a", "--filter", f"name={name}", "--format", "{{.Status}}").stdout
    assert "Paused" in frozen, frozen
    podman.ok("unpause", name)
    assert podman.inspect(name, "{{.State.Status}}") == "running"
    assert podman.inspect(name, "{{.State.Paused}}") == "false"
    n1 = podman.ok("exec", name, "cat", "/tmp/n").stdout
    assert wait_for(lambda: podman.ok("exec", name, "cat", "/tmp/n").stdout != n1, timeout=10)


def test_kill_signal(podman, names):
    name = names()
    detached(
        podman,
        name,
        cmd="trap 'echo got-usr1' USR1; trap 'echo got-hup; exit 9' HUP; while :; do sleep 0.1; done",
    )
    podman.ok("kill", "--signal", "USR1", name)
    assert wait_for(lambda: "got-usr1" in podman.ok("logs", name).stdout, timeout=10), podman(
        "logs", name
    ).stdout
    assert podman.inspect(name, "{{.State.Status}}") == "running"
    podman.ok("kill", "--signal", "SIGHUP", name)
    assert wait_for(lambda: podman.inspect(name, "{{.State.Status}}") == "exited", timeout=10)
    assert podman.inspect(name, "{{.State.ExitCode}}") == "9"
    assert "got-hup" in podman.ok("logs", name).stdout


def test_kill_default_is_sigkill(podman, names):
    name = names()
    pid = detached(podman, name)
    podman.ok("kill", name)
    assert wait_for(lambda: podman.inspect(name, "{{.State.Status}}") == "exited", timeout=10)
    assert podman.inspect(name, "{{.State.ExitCode}}") == "137"
    assert not pid_alive(pid)


def test_rm_force_running(podman, names):
    name = names()
    # rm -f stops first (SIGTERM, SIGKILL after --time, default 10 s): the
    # shell exits on SIGTERM so that the test need not wait for the SIGKILL
    pid = detached(podman, name, cmd="trap 'exit 0' TERM; while :; do sleep 0.1; done")
    cid = podman.inspect(name, "{{.Id}}")
    podman.ok("rm", "--force", name)
    assert podman("inspect", name).returncode != 0
    assert wait_for(lambda: not pid_alive(pid), timeout=10)
    # nothing left in the runtime's state either
    # (conmon and podman call the runtime without --root: its default)
    r = subprocess.run(
        [podman.runtime, "state", cid], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert r.returncode != 0 and "does not exist" in (r.stderr + r.stdout), describe(r)


def test_top(podman, names):
    name = names()
    detached(podman, name, cmd="sleep 1000")
    r = podman.ok("top", name)
    header, *rows = r.stdout.splitlines()
    assert "PID" in header and "COMMAND" in header
    assert any("sleep 1000" in row for row in rows), r.stdout
    r = podman.ok("top", name, "pid", "args")
    assert any(row.split()[0] == "1" for row in r.stdout.splitlines()[1:]), r.stdout


def test_runtime_json_log_used(podman, names):
    """runtime_supports_json lists ociruntime: conmon passes --log-format=json --log."""
    name = names()
    conmon = _conmon_cmdline(detached(podman, name))
    assert os.path.basename(conmon[0]) == b"conmon"
    assert b"--log-format=json" in conmon, conmon
    assert podman.runtime.encode() in conmon


def _conmon_cmdline(pid: int) -> list[bytes]:
    with open(f"/proc/{pid}/status") as f:
        ppid = int(re.search(r"^PPid:\s+(\d+)", f.read(), re.M).group(1))
    with open(f"/proc/{ppid}/cmdline", "rb") as f:
        return f.read().split(b"\0")


def test_runtime_flag_without_containers_conf(podman, names, tmp_path):
    """``podman --runtime /path/to/ociruntime`` with no [engine] settings at all.

    It works, but the runtime is not in runtime_supports_json then, so
    conmon does not pass --log-format=json (the docs' reason for the entry).
    """
    plain = tmp_path / "containers.conf"
    plain.write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n')
    env = dict(podman.env, CONTAINERS_CONF=str(plain))
    name = names()
    cmd = [*podman.base, "--runtime", podman.runtime, "run", "-d", "--network", "none"]
    r = subprocess.run(
        [*cmd, "--name", name, podman.image, "sleep", "1000"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, describe(r)
    assert podman.inspect(name, "{{.OCIRuntime}}") == podman.runtime
    conmon = _conmon_cmdline(int(podman.inspect(name, "{{.State.Pid}}")))
    assert podman.runtime.encode() in conmon
    # (podman's built-in runtime_supports_json has these names, not ociruntime)
    builtin = ("crun", "runc", "kata", "runsc", "youki", "krun", "ocijail")
    if os.path.basename(podman.runtime) not in builtin:
        assert b"--log-format=json" not in conmon
