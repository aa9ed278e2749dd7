"""The container process: args, env, cwd, user, umask, rlimits, oom_score_adj,
signal dispositions, the fd table (--preserve-fds) and stdio.

Most checks run the thing under test as the container's own process (pid 1,
exec'd by the runtime), so nothing a shell does in between can hide a
difference.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import time

import pytest
from conftest import OCI, assert_clean_failure, assert_one_line_error, leftovers, sh, status_fields

# ---- args --------------------------------------------------------------------------------


def test_args_passed_verbatim(oci, make_bundle):
    b = make_bundle(
        ["sh", "-c", 'for a in "$@"; do echo "[$a]"; done', "argv0", "a b", "", "*", "$HOME", "-n"]
    )
    assert oci.run_out(b).splitlines() == ["[a b]", "[]", "[*]", "[$HOME]", "[-n]"]


def test_argv0_is_kept(oci, make_bundle):
    # busybox picks the applet from argv[0]: /bin/echo (a link to busybox)
    # echoing proves argv[0] arrived as given
    b = make_bundle(["/bin/echo", "abs-path"])
    assert oci.run_out(b) == "abs-path\n"
    b = make_bundle(["/bin/busybox", "echo", "via-busybox"])
    assert oci.run_out(b) == "via-busybox\n"


def test_args_resolved_through_path(oci, make_bundle):
    # the container's PATH (not the runtime's) finds args[0]
    b = make_bundle(["echo", "from-opt"])
    os.makedirs(os.path.join(b.rootfs, "opt", "bin"))
    os.symlink("/bin/busybox", os.path.join(b.rootfs, "opt", "bin", "echo"))
    b.config["process"]["env"] = ["PATH=/opt/bin"]
    b.save()
    assert oci.run_out(b) == "from-opt\n"


def test_missing_executable_fails_cleanly(oci, make_bundle):
    b = make_bundle(["no-such-binary"])
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, "no-such-binary")


def test_exit_status_passes_through(oci, make_bundle):
    b = make_bundle(sh("exit 7"))
    cid, r = oci.run_bundle(b)
    assert r.returncode == 7, r.stderr


# ---- env ----------------------------------------------------------------------------------


def read_environ(oci, b) -> list[str]:
    b.config["process"]["args"] = ["cat", "/proc/self/environ"]
    b.save()
    out = oci.ok("run", "-b", b.path, oci.new_id()).stdout
    return [e for e in out.split("\0") if e]


def test_env_exactly_config_plus_home(oci, make_bundle):
    b = make_bundle()
    env = ["PATH=/usr/bin:/bin", "FOO=bar", "EMPTY=", "WITH_EQ=a=b=c", "SPACES=x y  z"]
    b.config["process"]["env"] = env
    got = read_environ(oci, b)
    assert sorted(got) == sorted(env + ["HOME=/root"])


def test_env_home_from_config_wins(oci, make_bundle):
    b = make_bundle()
    b.config["process"]["env"] = ["PATH=/bin", "HOME=/custom"]
    assert sorted(read_environ(oci, b)) == ["HOME=/custom", "PATH=/bin"]


def test_env_home_of_user_without_passwd_entry(oci, make_bundle):
    b = make_bundle()
    b.config["process"]["env"] = ["PATH=/bin"]
    b.config["process"]["user"] = {"uid": 4242, "gid": 4242}
    assert sorted(read_environ(oci, b)) == ["HOME=/", "PATH=/bin"]


def test_env_home_from_passwd_for_nobody(oci, make_bundle):
    b = make_bundle()
    b.config["process"]["env"] = ["PATH=/bin"]
    b.config["process"]["user"] = {"uid": 65534, "gid": 65534}
    assert sorted(read_environ(oci, b)) == ["HOME=/nonexistent", "PATH=/bin"]


def test_env_not_inherited_from_runtime(oci, make_bundle):
    b = make_bundle()
    b.config["process"]["env"] = ["PATH=/bin"]
    b.config["process"]["args"] = ["cat", "/proc/self/environ"]
    b.save()
    leak = dict(os.environ, OCIRT_LEAK_CHECK="leaked")
    got = oci.ok("run", "-b", b.path, oci.new_id(), env=leak).stdout
    assert "OCIRT_LEAK_CHECK" not in got
    assert sorted(e for e in got.split("\0") if e) == ["HOME=/root", "PATH=/bin"]


def test_no_env_at_all(oci, make_bundle):
    b = make_bundle(["/bin/cat", "/proc/self/environ"])
    b.config["process"].pop("env", None)
    b.save()
    got = [e for e in oci.run_out(b).split("\0") if e]
    assert got == ["HOME=/root"]


# ---- cwd ------------------------------------------------------------------------------------


def test_cwd_existing(oci, make_bundle):
    b = make_bundle(["pwd"])
    b.config["process"]["cwd"] = "/tmp"
    b.save()
    assert oci.run_out(b) == "/tmp\n"


def test_cwd_missing_is_created(oci, make_bundle):
    b = make_bundle(sh("pwd; touch here"))
    b.config["process"]["cwd"] = "/work/deep/dir"
    b.save()
    assert oci.run_out(b) == "/work/deep/dir\n"
    assert os.path.isfile(os.path.join(b.rootfs, "work", "deep", "dir", "here"))


def test_cwd_missing_from_config_fails_cleanly(oci, make_bundle):
    # process.cwd is REQUIRED by the spec (runc: "Cwd property must not be empty")
    b = make_bundle(["pwd"])
    b.config["process"].pop("cwd", None)
    b.save()
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, "cwd")


def test_relative_cwd_fails_cleanly(oci, make_bundle):
    b = make_bundle(["pwd"])
    b.config["process"]["cwd"] = "tmp"
    b.save()
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, "/process/cwd")


def test_cwd_through_symlink_stays_inside(oci, make_bundle, tmp_path):
    hostdir = tmp_path / "hostcwd"
    hostdir.mkdir()
    b = make_bundle(sh("pwd -P; touch made-here"))
    os.symlink(str(hostdir), os.path.join(b.rootfs, "escape"))
    os.makedirs(os.path.join(b.rootfs, str(hostdir).lstrip("/")))
    b.config["process"]["cwd"] = "/escape"
    b.save()
    cid, r = oci.run_bundle(b)
    assert os.listdir(hostdir) == [], "the process ran in the host's directory"
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(hostdir)
    assert os.path.exists(os.path.join(b.rootfs, str(hostdir).lstrip("/"), "made-here"))


def test_cwd_only_root_can_enter_works_for_a_user(oci, make_bundle):
    """runc's order: cwd is entered as root, before the user switch, so uid 42
    keeps /root (0700 root) as its cwd, and a shell there works."""
    b = make_bundle(sh("pwd; id -u"))
    os.chmod(os.path.join(b.rootfs, "root"), 0o700)
    b.config["process"]["cwd"] = "/root"
    b.config["process"]["user"] = {"uid": 42, "gid": 42}
    b.save()
    assert oci.run_out(b).split() == ["/root", "42"]


def test_terminal_belongs_to_the_user(oci, make_bundle):
    """The pty is the process's: owner its uid, group devpts' tty (gid=5 in
    the default spec), as runc hands it over."""
    b = make_bundle(sh("stat -L -c %u:%g /proc/self/fd/0"))
    b.config["process"]["terminal"] = True
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    b.save()
    r = oci.ok("run", "--bundle", b.path, oci.new_id("tty"))
    assert r.stdout.strip() == "1000:5", r.stdout


# ---- user ------------------------------------------------------------------------------------


def test_user_uid_gid_additional_gids(oci, make_bundle):
    b = make_bundle(sh("id -u; id -g; id -G; grep -E '^(Uid|Gid|Groups):' /proc/self/status"))
    b.config["process"]["user"] = {"uid": 65534, "gid": 65534, "additionalGids": [5, 100, 4000]}
    b.save()
    out = oci.run_out(b).splitlines()
    assert out[0] == "65534"
    assert out[1] == "65534"
    assert sorted(out[2].split(), key=int) == ["5", "100", "4000", "65534"]
    st = status_fields("\n".join(out[3:]))
    assert st["Uid"].split() == ["65534"] * 4, st
    assert st["Gid"].split() == ["65534"] * 4, st
    assert sorted(st["Groups"].split(), key=int) == ["5", "100", "4000"], st


def test_user_without_additional_gids_has_no_groups(oci, make_bundle):
    b = make_bundle(["grep", "-E", "^(Uid|Gid|Groups):", "/proc/self/status"])
    b.config["process"]["user"] = {"uid": 1000, "gid": 2000}
    b.save()
    st = status_fields(oci.run_out(b))
    assert st["Uid"].split() == ["1000"] * 4
    assert st["Gid"].split() == ["2000"] * 4
    assert st["Groups"] == "", "the runtime's own groups leaked in"


def test_root_user_has_no_extra_groups(oci, make_bundle):
    b = make_bundle(["grep", "-E", "^(Uid|Gid|Groups):", "/proc/self/status"])
    st = status_fields(oci.run_out(b))
    assert st["Uid"].split() == ["0"] * 4
    assert st["Groups"] == ""


def test_non_root_user_cannot_write_root_files(oci, make_bundle):
    b = make_bundle(sh("if touch /etc/owned 2>/dev/null; then echo WROTE; fi; echo done"))
    b.config["process"]["user"] = {"uid": 65534, "gid": 65534}
    b.save()
    assert oci.run_out(b) == "done\n"


# ---- umask ----------------------------------------------------------------------------------


def test_umask_from_config(oci, make_bundle):
    b = make_bundle(sh("umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d"))
    b.config["process"]["user"] = {"uid": 0, "gid": 0, "umask": 0o027}
    b.save()
    assert oci.run_out(b).split() == ["0027", "640", "750"]


def test_umask_default(oci, make_bundle):
    b = make_bundle(sh("umask"))
    assert oci.run_out(b) == "0022\n"


def test_umask_zero(oci, make_bundle):
    b = make_bundle(sh("umask"))
    b.config["process"]["user"] = {"uid": 0, "gid": 0, "umask": 0}
    b.save()
    assert oci.run_out(b) == "0000\n"


# ---- rlimits --------------------------------------------------------------------------------------


def host_hard_nofile() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def test_rlimit_nofile(oci, make_bundle):
    hard = min(host_hard_nofile(), 4096)
    soft = hard // 2
    b = make_bundle(sh("ulimit -n; ulimit -Hn; grep 'Max open files' /proc/self/limits"))
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}]
    b.save()
    out = oci.run_out(b).splitlines()
    assert out[0] == str(soft)
    assert out[1] == str(hard)
    assert out[2].split()[3:5] == [str(soft), str(hard)], out[2]


def test_several_rlimits(oci, make_bundle):
    b = make_bundle(["cat", "/proc/self/limits"])
    b.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600},
        {"type": "RLIMIT_MSGQUEUE", "soft": 8192, "hard": 8192},
    ]
    b.save()
    limits = {}
    for line in oci.run_out(b).splitlines()[1:]:
        name = line[:26].strip()
        limits[name] = line[26:].split()[:2]
    assert limits["Max open files"] == ["100", "200"]
    assert limits["Max core file size"] == ["0", "0"]
    assert limits["Max processes"] == ["500", "600"]
    assert limits["Max msgqueue size"] == ["8192", "8192"]


def test_rlimit_locks_as_runc_knows_it(oci, make_bundle):
    """RLIMIT_LOCKS, which runc sets and Python's resource module has no name
    for (the init goes through prlimit(2): linux/syscalls.RLIMITS)."""
    b = make_bundle(["grep", "Max file locks", "/proc/self/limits"])
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_LOCKS", "soft": 100, "hard": 200}]
    b.save()
    assert oci.run_out(b).split()[3:5] == ["100", "200"]


def test_rlimit_of_2_63_and_more_as_runc_sets_it(oci, make_bundle):
    """A limit is a uint64: 2^63 and above reach the kernel as they are, as
    from runc (2^64-1 is RLIM_INFINITY), where Python's setrlimit took a
    signed long long and failed with "internal error in init: OverflowError".
    RLIMIT_NOFILE above fs.nr_open is the kernel's EPERM, as in runc."""
    b = make_bundle(["cat", "/proc/self/limits"])
    b.config["process"]["rlimits"] = [  # (the host's hard limits of these are infinite)
        {"type": "RLIMIT_CORE", "soft": 2**63, "hard": 2**64 - 1},
        {"type": "RLIMIT_DATA", "soft": 2**64 - 2, "hard": 2**64 - 2},
    ]
    b.save()
    lines = oci.run_out(b).splitlines()
    core = next(x for x in lines if x.startswith("Max core file size"))
    data = next(x for x in lines if x.startswith("Max data size"))
    assert core.split()[4:6] == [str(2**63), "unlimited"]
    assert data.split()[3:5] == [str(2**64 - 2)] * 2
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 2**63, "hard": 2**63}]
    b.save()
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, "/process/rlimits/0", "operation not permitted")


def test_rlimit_nofile_soft_0_is_set_last(oci, make_bundle):
    """The init opens fds until execve (start's connection, hooks' pipes): a
    soft RLIMIT_NOFILE of 0 made it fail after create had said yes (found by
    the fuzzer).  The soft limit is now set right before execve, and a hard
    limit too low for the init is refused before anything runs."""
    b = make_bundle(["sleep", "60"])
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 0, "hard": 1024}]
    b.save()
    cid = oci.new_id()
    r = oci.cli("create", "-b", b.path, cid)
    assert (r.returncode, r.stderr) == (0, "")
    assert oci.state(cid)["status"] == "created"
    oci.cli_ok("start", cid)
    pid = oci.wait_status(cid, "running")["pid"]
    with open(f"/proc/{pid}/limits") as f:
        files = next(x for x in f if x.startswith("Max open files"))
    assert files.split()[3:5] == ["0", "1024"]
    oci.cli_ok("delete", "--force", cid)
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 0, "hard": 15}]
    b.save()
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, "/process/rlimits/0", "hard limit of 15")


def test_rlimit_soft_above_hard_fails_cleanly(oci, make_bundle):
    b = make_bundle()
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 300, "hard": 200}]
    b.save()
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, "/process/rlimits/0")


def test_rlimit_above_host_hard_limit_fails_cleanly(oci, make_bundle):
    # root without CAP_SYS_RESOURCE cannot raise a hard limit
    with open("/proc/self/status") as f:
        caps = int(status_fields(f.read())["CapEff"], 16)
    if caps & (1 << 24):
        pytest.skip("CAP_SYS_RESOURCE is held here: any hard limit can be raised")
    too_high = host_hard_nofile() + 1
    b = make_bundle()
    b.config["process"]["rlimits"] = [
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NOFILE", "soft": too_high, "hard": too_high},
    ]
    b.save()
    cid, r = oci.run_bundle(b)
    err = assert_one_line_error(r, "/process/rlimits/1", "RLIMIT_NOFILE")
    assert "/process/rlimits/0" not in err
    assert leftovers(oci, b, (cid,)) == []


def test_unknown_rlimit_type_fails_cleanly(oci, make_bundle):
    b = make_bundle()
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]
    b.save()
    cid, r = oci.run_bundle(b)
    assert_clean_failure(oci, b, cid, r, "RLIMIT_BOGUS")


# ---- oomScoreAdj -------------------------------------------------------------------------------------


def test_oom_score_adj(oci, make_bundle):
    b = make_bundle(["cat", "/proc/self/oom_score_adj"])
    b.config["process"]["oomScoreAdj"] = 500
    b.save()
    assert oci.run_out(b) == "500\n"


def test_oom_score_adj_max(oci, make_bundle):
    b = make_bundle(["cat", "/proc/self/oom_score_adj"])
    b.config["process"]["oomScoreAdj"] = 1000
    b.save()
    assert oci.run_out(b) == "1000\n"


def test_oom_score_adj_unset_inherits(oci, make_bundle):
    with open("/proc/self/oom_score_adj") as f:
        mine = f.read()
    b = make_bundle(["cat", "/proc/self/oom_score_adj"])
    b.config["process"].pop("oomScoreAdj", None)
    b.save()
    assert oci.run_out(b) == mine


def test_oom_score_adj_does_not_touch_runtime(oci, make_bundle):
    with open("/proc/self/oom_score_adj") as f:
        mine = f.read()
    b = make_bundle(["true"])
    b.config["process"]["oomScoreAdj"] = 700
    b.save()
    oci.run_out(b)
    with open("/proc/self/oom_score_adj") as f:
        assert f.read() == mine


# ---- signals ---------------------------------------------------------------------------------------------


def hostile_signal_state() -> None:
    """In the runtime's process: ignore and block some signals, as a careless
    caller (nohup, a shell with traps) might; none of it may reach the container."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGTERM})


def test_signals_reset(oci, make_bundle):
    b = make_bundle(["grep", "-E", "^Sig(Ign|Blk|Cgt):", "/proc/self/status"])
    out = oci.ok("run", "-b", b.path, oci.new_id(), preexec_fn=hostile_signal_state).stdout
    st = status_fields(out)
    assert st["SigIgn"] == "0" * 16, st
    assert st["SigBlk"] == "0" * 16, st
    assert st["SigCgt"] == "0" * 16, st


def test_signals_reset_with_plain_caller(oci, make_bundle):
    # Python itself (the runtime) ignores SIGPIPE and SIGXFSZ
    b = make_bundle(["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"])
    st = status_fields(oci.run_out(b))
    assert st["SigIgn"] == "0" * 16, st
    assert st["SigBlk"] == "0" * 16, st


def test_sigpipe_kills_writer(oci, make_bundle):
    b = make_bundle(sh('(yes; echo "yes-exit=$?" >&2) | head -1'))
    start = time.monotonic()
    r = oci.ok("run", "-b", b.path, oci.new_id(), timeout=20, preexec_fn=hostile_signal_state)
    assert time.monotonic() - start < 15
    assert r.stdout == "y\n"
    assert "yes-exit=141" in r.stderr, r.stderr  # 128 + SIGPIPE


def test_sigxfsz_default(oci, make_bundle):
    # with SIGXFSZ at its default a write past RLIMIT_FSIZE kills the writer
    # (CPython, the runtime, ignores SIGXFSZ; the hostile caller ignores it too)
    b = make_bundle(
        sh('(ulimit -f 1; head -c 4096 /dev/zero > /tmp/big; echo "rc=$?" >&2) 2>&1; echo end')
    )
    out = oci.ok("run", "-b", b.path, oci.new_id(), preexec_fn=hostile_signal_state).stdout
    # killed by SIGXFSZ (128 + 25); had it been ignored, head would see EFBIG and exit 1
    assert out.endswith("rc=153\nend\n"), out


def test_kill_reaches_container_with_blocked_signals_in_runtime(oci, make_bundle):
    # SIGTERM blocked in the caller must not stay blocked in the container
    b = make_bundle(sh("trap 'echo got-term; exit 0' TERM; kill -TERM $$; sleep 5; echo no-term"))
    r = oci.ok("run", "-b", b.path, oci.new_id(), timeout=20, preexec_fn=hostile_signal_state)
    # blocked, SIGTERM would wait out the sleep and never reach the trap
    assert r.stdout == "got-term\n", r.stdout


# ---- file descriptors --------------------------------------------------------------------------------------


def test_only_stdio_fds(oci, make_bundle):
    # "; exit 0": a lone command would be exec'd by sh, and ls would list its own dir fd
    b = make_bundle(sh("ls /proc/$$/fd; exit 0"))
    assert oci.run_out(b).split() == ["0", "1", "2"]


def test_extra_fds_of_the_caller_do_not_leak(oci, make_bundle):
    r_fd, w_fd = os.pipe()
    try:
        b = make_bundle(sh("ls /proc/$$/fd; exit 0"))
        out = oci.ok("run", "-b", b.path, oci.new_id(), pass_fds=(r_fd, w_fd)).stdout
        assert out.split() == ["0", "1", "2"]
    finally:
        os.close(r_fd)
        os.close(w_fd)


def run_with_fd3(oci, b, *flags: str, extra: int = 0) -> tuple[subprocess.CompletedProcess, bytes]:
    """Run with a pipe's write end as fd 3 of the runtime (and ``extra`` more
    pipes as fds 4, 5, ...); returns the result and what the fd-3 pipe got."""
    pipes = [os.pipe() for _ in range(1 + extra)]
    writers = [w for _, w in pipes]

    def arrange() -> None:
        # via high numbers first: a source may sit on a target number
        high = [os.dup2(fd, 200 + i) for i, fd in enumerate(writers)]
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i)
            os.close(fd)

    try:
        cp = subprocess.run(
            [*OCI, "--root", oci.root, "run", *flags, "-b", b.path, oci.new_id()],
            capture_output=True,
            text=True,
            timeout=30,
            preexec_fn=arrange,
            pass_fds=tuple(range(3, 3 + len(writers))),
        )
        for w in writers:
            os.close(w)
        writers.clear()
        r0 = pipes[0][0]
        os.set_blocking(r0, False)
        try:
            got = os.read(r0, 4096)
        except BlockingIOError:
            got = b""
        return cp, got
    finally:
        for r, _ in pipes:
            os.close(r)
        for w in writers:
            os.close(w)


def test_preserve_fds_passes_fd_3(oci, make_bundle):
    b = make_bundle(sh("echo hi >&3; ls /proc/$$/fd; exit 0"))
    cp, got = run_with_fd3(oci, b, "--preserve-fds", "1")
    assert cp.returncode == 0, cp.stderr
    assert got == b"hi\n"
    assert cp.stdout.split() == ["0", "1", "2", "3"]


def test_preserve_fds_only_the_first_n(oci, make_bundle):
    b = make_bundle(sh("echo hi >&3; ls /proc/$$/fd; exit 0"))
    cp, got = run_with_fd3(oci, b, "--preserve-fds", "1", extra=2)
    assert cp.returncode == 0, cp.stderr
    assert got == b"hi\n"
    assert cp.stdout.split() == ["0", "1", "2", "3"]


@pytest.mark.parametrize("caps", ["default", "immutable"])
def test_preserve_fds_with_gaps_runs_with_the_open_ones(oci, make_bundle, tmp_path, caps):
    """--preserve-fds 3 with only fds 3 and 5 open: the container runs with
    those (crun's way; runc refuses), whether the first child is forked or
    executed from the read-only interpreter clone (CAP_LINUX_IMMUTABLE)."""
    b = make_bundle(sh("ls /proc/$$/fd; true"))
    if caps == "immutable":
        b.add_caps("CAP_LINUX_IMMUTABLE")
    f = tmp_path / "f"
    f.write_text("x")
    cmd = [*OCI, "--root", oci.root, "run", "--preserve-fds", "3", "-b", b.path, oci.new_id()]
    r = subprocess.run(
        ["/bin/sh", "-c", 'exec 3<"$0" 5<"$0" && exec "$@"', str(f), *cmd],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "1", "2", "3", "5"]


def test_no_fd_of_the_runtime_lands_in_a_preserved_gap(oci, make_bundle, tmp_path):
    """--preserve-fds 6 with only fds 3 and 8 open, for run (with and without
    a terminal) and exec: the runtime's own fds (the state lock, the sync
    socket, a console socket) would take the lowest free numbers, 4 to 7,
    which the container's process inherits when the runtime forks the first
    child itself: the runtime holds those gaps (runtime.reserve_preserved)
    and the container gets 3 and 8 only."""
    f = tmp_path / "f"
    f.write_text("x")
    opened = 'exec 3<"$0" 8<"$0" && exec "$@"'

    def fds(*args: str) -> list[str]:
        r = subprocess.run(
            ["/bin/sh", "-c", opened, str(f), *OCI, "--root", oci.root, *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout.split()

    want = ["0", "1", "2", "3", "8"]
    b = make_bundle(sh("ls /proc/$$/fd; true"))
    assert fds("run", "--preserve-fds", "6", "-b", b.path, oci.new_id()) == want
    # a terminal: the runtime forks the first child itself, after it opened the state lock
    b.config["process"]["terminal"] = True
    b.save()
    assert fds("run", "--preserve-fds", "6", "-b", b.path, oci.new_id()) == want
    cid = oci.new_id()
    oci.cli_ok("run", "-d", "-b", make_bundle(["sleep", "60"]).path, cid)
    try:
        got = fds("exec", "--preserve-fds", "6", cid, "sh", "-c", "ls /proc/$$/fd; true")
        assert got == want
    finally:
        oci.cli("delete", "--force", cid)


def test_without_preserve_fds_fd_3_is_closed(oci, make_bundle):
    b = make_bundle(sh("echo hi >&3 2>/dev/null; echo rc=$?; ls /proc/$$/fd; exit 0"))
    cp, got = run_with_fd3(oci, b)
    assert cp.returncode == 0, cp.stderr
    assert got == b""
    out = cp.stdout.split()
    assert out[0] != "rc=0", "fd 3 was writable"
    assert out[1:] == ["0", "1", "2"]


# ---- stdio ----------------------------------------------------------------------------------------------------


def test_stdin_stdout_stderr_pass_through(oci, make_bundle):
    b = make_bundle(sh("cat; echo to-stderr >&2; echo to-stdout"))
    r = oci.ok("run", "-b", b.path, oci.new_id(), input="line one\nline two\n")
    assert r.stdout == "line one\nline two\nto-stdout\n"
    assert r.stderr == "to-stderr\n"


def test_stdio_are_the_callers_files(oci, make_bundle, tmp_path):
    infile = tmp_path / "in"
    infile.write_text("from a file\n")
    b = make_bundle(sh("cat; readlink /proc/$$/fd/0"))
    with open(infile) as fin:
        cp = subprocess.run(
            [*OCI, "--root", oci.root, "run", "-b", b.path, oci.new_id()],
            stdin=fin,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert cp.returncode == 0, cp.stderr
    lines = cp.stdout.splitlines()
    assert lines[0] == "from a file"
    assert lines[1].endswith("/in"), lines


def test_large_output_not_truncated(oci, make_bundle):
    b = make_bundle(sh("head -c 1048576 /dev/zero | tr '\\0' 'a'"))
    out = oci.run_out(b)
    assert len(out) == 1048576 and set(out) == {"a"}


def test_stdin_eof_reaches_container(oci, make_bundle):
    b = make_bundle(sh("wc -l"))
    r = oci.ok("run", "-b", b.path, oci.new_id(), input="", timeout=20)
    assert r.stdout.strip() == "0"


@pytest.mark.parametrize("ours", [True, False], ids=["our-pid", "another-pid"])
def test_socket_activation_fds_pass_through(oci, make_bundle, ours):
    """LISTEN_FDS=N in the runtime's environment: fds 3..3+N-1 reach the container,
    which gets LISTEN_FDS=N and LISTEN_PID=1 (runc's behaviour).  Only with
    LISTEN_PID the runtime's own pid (sd_listen_fds(3), runc): with another's
    (podman's, which conmon inherits) the fd is not passed, nor the variables."""
    b = make_bundle(
        ["sh", "-c", 'echo "$LISTEN_FDS $LISTEN_PID"; ls /proc/$$/fd; echo via-fd3 >&3']
    )
    r, w = os.pipe()
    rd, wr = os.dup(r), os.dup(w)  # both above 3, so fd 3 can be the one passed
    os.close(r)
    os.close(w)
    saved = os.dup(3) if _fd_open(3) else None
    os.dup2(wr, 3)
    os.close(wr)
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID=str(os.getpid()))
    # as systemd sets it: the pid of the process it execs (sh's, which execs the runtime)
    pid = 'LISTEN_PID=$$; exec "$@"' if ours else 'exec "$@"'
    try:
        p = subprocess.run(
            ["sh", "-c", pid, "sh", *OCI, "--root", oci.root, "run", "-b", b.path, oci.new_id()],
            pass_fds=(3,),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        if saved is not None:
            os.dup2(saved, 3)
            os.close(saved)
        else:
            os.close(3)
    assert p.returncode == (0 if ours else 1), p.stderr
    lines = p.stdout.split("\n")
    if ours:
        assert lines[0] == "1 1"
        assert sorted(int(x) for x in lines[1:] if x.strip()) == [0, 1, 2, 3]
        assert os.read(rd, 100) == b"via-fd3\n"
    else:
        assert lines[0] == " "
        assert sorted(int(x) for x in lines[1:] if x.strip()) == [0, 1, 2]
        assert "Bad file descriptor" in p.stderr  # the echo to fd 3
    os.close(rd)


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def _keyring_lines(name: str) -> list[str]:
    with open("/proc/keys") as f:
        return [
            ln for ln in f if ln.split()[7:8] == ["keyring"] and ln.split()[8].rstrip(":") == name
        ]


@pytest.mark.skipif(
    not os.path.exists("/proc/keys"), reason="no /proc/keys: kernel without keyrings"
)
def test_session_keyring_per_container(oci, make_bundle):
    """Each container gets a session keyring of its own, named after its id
    (keyrings are not namespaced); --no-new-keyring keeps the caller's."""
    b = make_bundle(["sleep", "100"])
    cid = oci.new_id()
    oci.run_detached(b, cid)
    assert len(_keyring_lines(cid)) == 1
    oci.ok("delete", "--force", cid)
    other = oci.new_id()
    oci.run_detached(b, other, "--no-new-keyring")
    assert _keyring_lines(other) == []
    oci.ok("delete", "--force", other)
