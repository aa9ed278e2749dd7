"""seccomp profiles as real callers send them, and what the runtime itself
needs to get past them (issue 13, items 1 and 15).

A profile that denies what the runtime calls after loading it (close_range,
getcwd: older Docker-style allowlists do) must not kill the container after
``create`` said yes: everything that can fail happens before READY, and the
filter is loaded where the kernel's rules put it (before the capabilities go
without no_new_privs, last before execve with it).  A deny-by-default
profile answers syscalls newer than every one it names with ENOSYS (runc's
stub), which is what libc checks before falling back (glibc from clone3 to
clone).  exec connects to the seccomp agent like create.
"""

from __future__ import annotations

import errno
import os
import shutil

import pytest
from conftest import sh
from seccomp_profiles import PODMAN_PROFILE, oci_profile
from test_security import Agent, run_out, set_seccomp


def with_profile(b, prof: dict, nnp: bool):
    b.config["linux"]["seccomp"] = prof
    b.config["process"]["noNewPrivileges"] = nnp
    b.save()
    return b


needs_podman_profile = pytest.mark.skipif(
    not os.path.exists(PODMAN_PROFILE), reason=f"{PODMAN_PROFILE} (containers-common) is missing"
)


@needs_podman_profile
@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_older_allowlist_without_close_range_and_clone3_runs(oci, make_bundle, nnp):
    """An EPERM-by-default allowlist from before close_range and clone3: create
    and start succeed and so does the process (the init used to die after
    both had said yes, on close_range)."""
    prof = oci_profile(
        PODMAN_PROFILE, drop=("close_range", "clone3"), default=("SCMP_ACT_ERRNO", errno.EPERM)
    )
    b = with_profile(make_bundle(sh("echo started; cat /proc/self/status")), prof, nnp)
    cid = oci.new_id("old")
    oci.cli_ok("create", "--bundle", b.path, cid)
    oci.cli_ok("start", cid)
    oci.wait_status(cid, "stopped")
    st = oci.state(cid)
    assert st["status"] == "stopped"
    out = run_out(oci, b)
    assert out.startswith("started"), out
    assert "Seccomp:\t2" in out, out


@needs_podman_profile
@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_podman_default_profile_runs_and_exec_works(oci, make_bundle, nnp):
    prof = oci_profile(PODMAN_PROFILE)
    b = with_profile(make_bundle(["sleep", "30"]), prof, nnp)
    cid = oci.new_id("pod")
    oci.run_detached(b, cid)
    try:
        r = oci.cli_ok("exec", cid, "sh", "-c", "echo in-exec; grep Seccomp: /proc/self/status")
        assert r.stdout.split() == ["in-exec", "Seccomp:", "2"], r.stdout
    finally:
        oci.cli("delete", "--force", cid)


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
@pytest.mark.parametrize("denied", ["getcwd", "close_range", "fcntl"])
def test_profile_denying_what_the_runtime_calls_late_still_runs(oci, make_bundle, nnp, denied):
    """crun runs these; the runtime calls none of them once the filter is in."""
    b = make_bundle(sh("echo ran-fine"))
    set_seccomp(b, [{"names": [denied], "action": "SCMP_ACT_ERRNO"}])
    b.config["process"]["noNewPrivileges"] = nnp
    b.save()
    assert run_out(oci, b).strip() == "ran-fine"


def enosys_profile(names: list[str], default: str = "SCMP_ACT_ERRNO", errno_ret=errno.EPERM):
    prof = {"defaultAction": default, "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    if errno_ret is not None:
        prof["defaultErrnoRet"] = errno_ret
    return prof


# an allowlist of old syscalls: what busybox sh and the probe need, nothing past 300
OLD_ALLOWLIST = [
    "read", "write", "open", "openat", "close", "stat", "fstat", "lstat", "newfstatat",
    "mmap", "munmap", "mprotect", "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
    "ioctl", "access", "execve", "exit", "exit_group", "arch_prctl", "set_tid_address",
    "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "uname", "fcntl",
    "dup2", "wait4", "clone", "fork", "vfork", "getcwd", "chdir", "writev", "readlink",
    "prlimit64", "set_robust_list", "futex", "poll", "lseek", "pipe", "pipe2", "dup",
    "getdents64", "sigaltstack", "getrandom", "setpgid", "getpgrp",
    # what the runtime calls after loading a filter without no_new_privs (runc too)
    "prctl", "capget", "capset", "setgroups", "setuid", "setgid", "setresuid", "setresgid",
    "umask", "sendmsg", "sendto", "recvfrom",
]  # fmt: skip


@pytest.mark.parametrize("nnp", [False, True], ids=["no-nnp", "nnp"])
def test_syscalls_newer_than_the_profile_get_enosys(oci, make_bundle, probe, nnp):
    """clone3 (435) is newer than every syscall the allowlist names, and so is
    a number no kernel has: ENOSYS, so libc falls back; an old syscall the
    list leaves out (mkdir, 83) keeps the default errno."""
    assert max(OLD_ALLOWLIST) and "clone3" not in OLD_ALLOWLIST
    b = make_bundle(["/sysprobe", "435", "1000", "83"])
    shutil.copy(probe("sysprobe"), os.path.join(b.rootfs, "sysprobe"))
    with_profile(b, enosys_profile(OLD_ALLOWLIST), nnp)
    assert run_out(oci, b).split("\n")[:3] == ["435 ENOSYS", "1000 ENOSYS", "83 EPERM"]


@pytest.mark.parametrize(
    "default,errno_ret,clone3",
    [
        ("SCMP_ACT_ALLOW", None, "EINVAL"),  # permissive: no stub, the kernel answers
        ("SCMP_ACT_ERRNO", errno.ENOSYS, "ENOSYS"),  # ENOSYS by default already
        ("SCMP_ACT_ERRNO", errno.EXDEV, "ENOSYS"),  # any other errno: the stub
    ],
)
def test_enosys_stub_only_for_profiles_that_deny_by_default(
    oci, make_bundle, probe, default, errno_ret, clone3
):
    b = make_bundle(["/sysprobe", "435", "83"])
    shutil.copy(probe("sysprobe"), os.path.join(b.rootfs, "sysprobe"))
    rules = [] if default == "SCMP_ACT_ALLOW" else OLD_ALLOWLIST
    prof = enosys_profile(rules, default, errno_ret)
    if default == "SCMP_ACT_ALLOW":
        prof["syscalls"] = [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]
    with_profile(b, prof, True)
    lines = run_out(oci, b).split("\n")
    assert lines[0] == f"435 {clone3}", lines
    if default != "SCMP_ACT_ALLOW":
        assert lines[1] == "83 " + {errno.ENOSYS: "ENOSYS", errno.EXDEV: "EXDEV"}[errno_ret]


@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_exec_sends_its_notify_fd_to_the_agent(oci, make_bundle, nnp):
    """create and every exec each have a filter of their own with a listener:
    the agent gets one per process, with the container's state."""
    agent = Agent(connections=2)
    try:
        b = make_bundle(["sleep", "30"])
        b.config["process"]["noNewPrivileges"] = nnp
        set_seccomp(
            b,
            [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
            listenerPath=agent.path,
            listenerMetadata="exec-metadata",
        )
        cid = oci.new_id("notify")
        oci.run_detached(b, cid)
        try:
            r = oci.cli("exec", cid, "sh", "-c", "mkdir /x 2>&1; echo done")
        finally:
            oci.cli("delete", "--force", cid)
    finally:
        agent.close()
    assert agent.error is None, repr(agent.error)
    assert r.returncode == 0, r.stderr
    assert os.strerror(errno.ENOSYS) in r.stdout, r.stdout  # the agent closed its fds
    assert agent.fd_kinds == ["anon_inode:seccomp notify"] * 2
    for msg in agent.messages:
        assert msg["metadata"] == "exec-metadata"
        assert msg["state"]["id"] == cid
        assert msg["pid"] > 0


def test_listener_path_without_a_notify_rule_is_not_used(oci, make_bundle):
    """Nothing would be sent: no connection, and a listenerPath nobody listens
    on is no error."""
    b = make_bundle(sh("echo ran"))
    set_seccomp(
        b,
        [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}],
        listenerPath="/nonexistent/agent.sock",
    )
    assert run_out(oci, b).strip() == "ran"
