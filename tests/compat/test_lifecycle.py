"""The lifecycle through both runtimes: exit codes, output, state, errors."""

from __future__ import annotations

import json

import pytest

from . import corpus

LOOP = "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


@pytest.fixture
def config(runc_spec):
    """make(args) -> ``runc spec`` without a terminal, running ``args``."""
    return lambda args: corpus.no_terminal(runc_spec, args)


def test_run_exit_code_and_output(both, config):
    codes = (0, 1, 42, 255)
    configs = {f"c{n}": config(sh(f"echo out; echo err >&2; exit {n}")) for n in codes}

    def scenario(s):
        for n in codes:
            s.run(f"c{n}")

    both(configs, scenario).assert_same()


@pytest.mark.parametrize(
    "args", [["no-such-command"], ["/etc/passwd"], ["/no/such/file"], ["/"]], ids=str
)
def test_run_what_cannot_be_executed(both, config, args):
    """Each fails before anything runs, with the phrase callers map to 127
    or 126 (podman: "executable file not found", "no such file or
    directory", "permission denied")."""
    both(config(args), lambda s: s.run()).assert_same()


def test_create_start_state_kill_delete(both, config):
    def scenario(s):
        s.create()
        s.state()
        s.start()
        s.wait_output("c", "ready")
        s.state()
        s.kill("c", "TERM")
        s.wait("c", "stopped")
        s.output()
        s.delete()
        s.state()

    both(config(sh(LOOP)), scenario).assert_same()


def test_run_detached_pause_resume_ps(both, config):
    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        s.state()
        init = s.pid("c")
        s.call("ps -f json", "ps", "-f", "json", s.cid(), parse=lambda o: init in json.loads(o))
        s.call("pause", "pause", s.cid())
        s.state()
        s.call("resume", "resume", s.cid())
        s.state()
        s.delete("c", "--force")
        s.state()

    both(config(sh(LOOP)), scenario).assert_same()


def test_exec(both, config):
    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        s.exec("c", "sh", "-c", "echo $X; echo err >&2; exit 4", flags=("-e", "X=y"))
        s.exec("c", "pwd", flags=("--cwd", "/tmp"))
        s.exec("c", "id", flags=("-u", "1000:1000"))
        s.exec("c", "cat", "/proc/1/cmdline")
        s.exec("c", "sh", "-c", "exec sleep 0.2", flags=("-d",))
        s.exec("c", "/etc/passwd")
        s.exec("c", "/no/such/file")
        s.exec("c", "true", flags=("--cwd", "/no/such/dir"))
        s.kill("c", "KILL")
        s.wait("c", "stopped")
        s.exec("c", "true")

    both(config(sh(LOOP)), scenario).assert_same()


def test_exec_missing_executable(both, config):
    """exec of a command not in $PATH: both fail with the phrase callers
    match ("executable file not found") and exit 255."""

    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        s.exec("c", "no-such-command")

    both(config(sh(LOOP)), scenario).assert_same()


TRAPS = (
    "n=0; for sig in HUP USR1 USR2; do trap 'n=$((n+1)); echo $n got '$sig $sig; done;"
    " trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"
)


def test_kill_signal_forms(both, config):
    """Names with and without SIG, numbers, any case: CRI-O sends "KILL",
    runtime-tools "TERM", containerd and podman numbers."""
    signals = [("HUP", "HUP"), ("SIGUSR1", "USR1"), ("12", "USR2"), ("usr1", "USR1")]
    signals += [("sigusr2", "USR2"), ("SigHup", "HUP")]

    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        for n, (signal, name) in enumerate(signals, 1):
            s.kill("c", signal)
            s.wait_output("c", f"{n} got {name}", timeout=3)
        s.kill("c")  # TERM, the default
        s.wait("c", "stopped")
        s.output()

    both(config(sh(TRAPS)), scenario).assert_same()


def test_kill_bad_signal(both, config):
    """(an empty signal argument: test_differences.py)"""

    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        for signal in ("NOPE", "SIGNOPE", "99", "-1", "65", "SIG"):
            s.kill("c", signal)
        s.state()

    both(config(sh(LOOP)), scenario).assert_same()


def test_kill_stopped_container(both, config):
    """A stopped container: "container not running" (the shim and podman
    match it)."""

    def scenario(s):
        s.run_detached()
        s.wait("c", "stopped")
        s.kill("c", "KILL")
        s.kill("c", "TERM")
        # (kill --all: test_differences.py)
        s.delete()

    both(config(["true"]), scenario).assert_same()


@pytest.mark.parametrize(
    "status,force",
    [("created", True), ("running", False), ("running", True), ("stopped", False)]
    + [("stopped", True)],
)
def test_delete(both, config, status, force):
    """(a created container without --force: test_differences.py)"""

    def scenario(s):
        if status == "created":
            s.create()
        else:
            s.run_detached()
            s.wait_output("c", "ready")
            if status == "stopped":
                s.kill("c", "KILL")
                s.wait("c", "stopped")
        s.delete("c", *(["--force"] if force else []))
        s.state()

    both(config(sh(LOOP)), scenario).assert_same()


def test_unknown_id(both, config):
    """Every command on an id nobody created: "does not exist", which
    containerd and podman take for "already gone"; delete --force exits 0."""

    def scenario(s):
        s.state("nope")
        s.start("nope")
        s.kill("nope", "KILL")
        s.delete("nope")
        s.delete("nope", "--force")
        s.exec("nope", "true")
        s.call("pause", "pause", s.cid("nope"))
        s.call("ps", "ps", s.cid("nope"))

    both(config(["true"]), scenario).assert_same()


def test_start_twice_and_create_twice(both, config):
    def scenario(s):
        s.create()
        s.create()  # the id is taken
        s.start()
        s.wait("c", "stopped")
        s.start()
        s.output()

    both(config(sh("echo hello")), scenario).assert_same()


def _env_without_equals(c):
    c["process"]["env"].append("NOEQUALS")


def _empty_args(c):
    c["process"]["args"] = []


def _relative_cwd(c):
    c["process"]["cwd"] = "tmp"


def _nul_in_env(c):
    c["process"]["env"].append("A=b\0c")


def _bad_rootfs(c):
    c["root"]["path"] = "/no/such/rootfs"


def _duplicate_namespace(c):
    c["linux"]["namespaces"].append({"type": "pid"})


BAD_CONFIGS = {
    "env-without-equals": _env_without_equals,
    "empty-args": _empty_args,
    "relative-cwd": _relative_cwd,
    "nul-in-env": _nul_in_env,
    "missing-rootfs": _bad_rootfs,
    "duplicate-namespace": _duplicate_namespace,
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config(both, config, name):
    """A config both refuse: create fails, nothing is left (the harness
    checks), and state does not know the id.  (An unknown namespace type:
    test_differences.py.)"""
    c = config(["true"])
    BAD_CONFIGS[name](c)

    def scenario(s):
        s.create()
        s.state()

    both(c, scenario).assert_same()


@pytest.mark.parametrize("whose", ["the runtime's", "another's"])
def test_socket_activation_by_listen_pid(both, config, whose):
    """LISTEN_FDS=1 with fd 3 open: passed on (and LISTEN_FDS=1, LISTEN_PID=1
    in the process) only when LISTEN_PID is the runtime's own pid; with
    another's (inherited: conmon has podman's) neither is (sd_listen_fds(3))."""
    pid = "$$" if whose == "the runtime's" else "1"
    wrap = ("sh", "-c", f'export LISTEN_FDS=1 LISTEN_PID={pid}; exec "$@"', "sh")
    c = config(sh('echo "[$LISTEN_FDS $LISTEN_PID]"; ls /proc/self/fd | tr "\\n" " "'))
    cmp = both(c, lambda s: s.run("c", fds=1, wrap=wrap))
    cmp.assert_same(ok=("run c",))
    ours, _ = cmp.step("run c")
    assert ours.out.startswith("[1 1]" if pid == "$$" else "[ ]"), ours.out
