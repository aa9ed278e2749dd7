"""Where ociruntime and runc differ, and the difference is asserted.

Deliberate differences (README "Differences from runc"): each test asserts
what each runtime does and says why ours differs: the runtime spec says
otherwise, runc 1.1 has a bug or a limitation, or issue 13 asks for it.

At the end, the bugs the differential tests found in ociruntime, fixed
since: each now behaves as runc does (masks with the container's own
/dev/null, read-only paths before masked ones, kill's empty signal, a
frozen cgroup the caller made kept, every events --stats key, a relative
exec --cwd refused).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time

import pytest
from seccomp_profiles import PODMAN_PROFILE, oci_profile

from . import corpus
from .harness import cgroup_dirs, mounts_under

LOOP = "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


@pytest.fixture
def config(runc_spec):
    return lambda args: corpus.no_terminal(runc_spec, args)


def views(cmp, label: str) -> tuple[tuple, tuple]:
    """(ociruntime's, runc's) view of step ``label``."""
    a, b = cmp.step(label)
    return a.view(), b.view()


def lines(step, prefix: str) -> list[str]:
    return [x for x in step.out.splitlines() if x.startswith(prefix)]


# --- deliberate ----------------------------------------------------------------------


def test_delete_of_a_created_container_needs_force(both, config):
    """The runtime spec (runtime.md, delete): "Attempting to delete a
    container that is not stopped MUST have no effect on the container and
    MUST generate an error."  A created container is not stopped: we refuse
    (as for a running one); runc 1.1 deletes it."""

    def scenario(s):
        s.create()
        s.delete()
        s.state()

    cmp = both(config(["true"]), scenario)
    ours, runc = cmp.step("delete c")
    assert ours.rc == 1 and runc.rc == 0
    ours, runc = cmp.step("state c")
    assert ours.rc == 0 and ours.state["status"] == "created"
    assert runc.rc == 1 and "does not exist" in runc.err


def test_mounts_without_a_mount_namespace_are_detached_at_delete(both, config):
    """No mount namespace in the config: the spec says it is inherited, and
    the mounts listed are mounted, so both runtimes make them (and the
    devices) under the rootfs in the caller's mount namespace, and the
    container sees the same.  runc 1.1 leaves them there after delete; the
    spec says delete removes what create made, and we detach them."""
    cfg = config(sh("echo hi > /t/f; cat /t/f; test -c /dev/xnull && echo dev"))
    lx = cfg["linux"]
    lx["namespaces"] = [n for n in lx["namespaces"] if n["type"] != "mount"]
    for key in ("maskedPaths", "readonlyPaths"):
        lx.pop(key, None)
    lx["devices"] = [{"path": "/dev/xnull", "type": "c", "major": 1, "minor": 3}]
    cfg["root"]["readonly"] = False
    cfg["mounts"] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},  # runc's init needs it
        {"destination": "/t", "type": "tmpfs", "source": "tmpfs"},
    ]
    left: dict[str, list[str]] = {}

    def scenario(s):
        s.run()
        left[s.name] = mounts_under(s.dir)
        for m in reversed(left[s.name]):  # runc's, so that the harness finds none
            subprocess.run(["umount", "-l", m], capture_output=True, timeout=30)

    cmp = both(cfg, scenario)
    assert views(cmp, "run c")[0] == views(cmp, "run c")[1]
    assert cmp.step("run c")[0].out.split() == ["hi", "dev"]
    assert left["ociruntime"] == []
    # runc's: the tmpfs and proc, and the rootfs bound onto itself
    assert {os.path.basename(m) for m in left["runc"]} == {"rootfs", "proc", "t"}


def test_create_without_a_process(both, config):
    """config.md: process is "REQUIRED when start is called"; runtime.md:
    start "MUST generate an error if process was not set".  We create the
    container and refuse its start, which leaves it stopped (nothing can
    run in it); runc 1.1 refuses the create."""
    c = config(["true"])
    del c["process"]

    def scenario(s):
        s.create()
        s.start()
        s.state()

    cmp = both(c, scenario)
    ours, runc = cmp.step("create c")
    assert ours.rc == 0 and runc.rc == 1
    ours, _ = cmp.step("start c")
    assert ours.rc == 1 and "/process: no process to start" in ours.err
    ours, _ = cmp.step("state c")
    assert ours.state["status"] == "stopped"


def test_kill_all_on_a_stopped_container_is_an_error(both, config):
    """The runtime spec (kill): signalling a container that is neither
    created nor running MUST generate an error; ``kill --all`` too, with the
    words of plain kill ("container not running", which containerd's shim
    maps to "process already finished").  runc 1.1 signals the (empty)
    cgroup and exits 0."""

    def scenario(s):
        s.run_detached()
        s.wait("c", "stopped")
        s.kill("c", "KILL")
        s.kill("c", "KILL", flags=("--all",))

    cmp = both(config(["true"]), scenario)
    assert views(cmp, "kill c KILL")[0] == views(cmp, "kill c KILL")[1]
    ours, runc = cmp.step("kill --all c KILL")
    assert (ours.rc, runc.rc) == (1, 0)
    assert "container not running" in ours.err


def test_exec_cwd_error_names_the_flag(both, config):
    """An ``exec --cwd`` the container lacks fails in both, exit 255; runc
    blames config.json ("chdir to cwd ... set in config.json failed"), which
    the user did not touch; we name the flag that gave the value."""

    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        s.exec("c", "true", flags=("--cwd", "/nowhere"))
        s.delete("c", "--force")

    cmp = both(config(sh(LOOP)), scenario)
    ours, runc = cmp.step("exec --cwd /nowhere c true")
    assert ours.rc == runc.rc == 255
    assert "config.json" in runc.err
    assert "ociruntime: --cwd: chdir /nowhere: " in ours.err and "config.json" not in ours.err


def test_notify_socket_through_create_and_start(both, config, probe, tmp_path):
    """NOTIFY_SOCKET set for create and start: the process sees the same
    variable and the same read-only /run/notify, start returns once the
    process sent READY=1, and both forward that line, then MAINPID (the
    init's host pid).  Ours then sends BARRIER=1 and waits for systemd to
    take it (runc 1.2 does; 1.1 does not, and may exit before systemd has
    looked up who sent the messages).  (runc 1.1's run -d waits for good when
    the init exits without READY; ours returns: test_notify.py.)"""
    from fake_systemd import FakeSystemd

    got = {}
    script = (
        'echo "$NOTIFY_SOCKET"; grep " /run/notify " /proc/self/mountinfo | cut -d" " -f5,6; '
        "sleep 0.2; /sdnotify READY=1; echo sent; sleep 60"
    )

    def scenario(s):
        host = FakeSystemd(str(tmp_path / f"notify-{s.name}"))
        env = ("env", f"NOTIFY_SOCKET={host.address}")
        try:
            s.create("c", wrap=env)
            s.call("start c", "start", s.cid("c"), wrap=env)
            # runc sends and exits: its datagrams may still be on their way to the thread
            deadline = time.monotonic() + 5
            while len(host.got) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            got[s.name] = (list(host.got), s.pid("c"))
            s.wait_output("c", "sent")
            s.output("c")
            s.delete("c", "--force")
        finally:
            host.close()

    cmp = both(config(sh(script)), scenario, files={"/sdnotify": probe("sdnotify")})
    cmp.assert_same()
    ours, runc = cmp.step("output of c")
    assert (
        ours.out == "/run/notify/notify.sock\n/run/notify ro,nosuid,nodev,noexec,relatime\nsent\n"
    )
    (o, opid), (r, rpid) = got["ociruntime"], got["runc"]
    assert r == [(b"READY=1\n", 0), (b"MAINPID=%d\n" % rpid, 0)]
    assert o == [(b"READY=1\n", 0), (b"MAINPID=%d\n" % opid, 0), (b"BARRIER=1", 1)]


def test_cgroup_tmpfs_is_read_only_as_configured(both, runc_spec):
    """A v1 (or hybrid) host: the cgroup mount's tmpfs at /sys/fs/cgroup is
    read-only when the mount says "ro" (runc spec's does); runc 1.1 makes
    only the hierarchies beneath it read-only, the tmpfs stays writable."""
    cmp = both(corpus.no_terminal(runc_spec), lambda s: s.run())
    ours, runc = cmp.step("run c")
    assert lines(ours, "mount: /sys/fs/cgroup tmpfs ") == [
        x.replace(" rw,", " ro,") for x in lines(runc, "mount: /sys/fs/cgroup tmpfs ")
    ]
    assert lines(ours, "mount: /sys/fs/cgroup tmpfs ro,")


def test_hybrid_cgroup_mount_includes_unified(both, runc_spec):
    """A hybrid host: the cgroup mount shows the container the layout the
    host has, the v1 hierarchies and the cgroup2 one at
    /sys/fs/cgroup/unified (the container's own cgroup there); runc 1.1
    leaves the cgroup2 hierarchy out."""
    if not os.path.isdir("/sys/fs/cgroup/unified"):
        pytest.skip("not a hybrid host")
    cmp = both(corpus.no_terminal(runc_spec), lambda s: s.run())
    ours, runc = cmp.step("run c")
    assert lines(ours, "mount: /sys/fs/cgroup/unified cgroup2 ")
    assert not lines(runc, "mount: /sys/fs/cgroup/unified ")


def test_state_json(both, config):
    """``state`` has the same keys, except that ours always has
    "annotations" (an empty object when the config has none; runc leaves
    the key out then), "ociVersion" is the spec version we implement (1.2.0;
    runc writes its own spec's, 1.0.2-dev) and "owner" names root (runc
    1.1 leaves it empty).  The spec makes annotations optional and says
    nothing of owner."""

    def scenario(s):
        s.create()
        s.state()

    cmp = both(config(["true"]), scenario)
    ours, runc = (s.state for s in cmp.step("state c"))
    assert ours["annotations"] == {} and "annotations" not in runc
    assert (ours["ociVersion"], ours["owner"]) == ("1.2.0", "root")
    assert set(ours) - {"annotations"} == set(runc)


def test_empty_list_json_is_an_empty_array(both, config):
    """``list -f json`` with no containers prints ``[]``: a JSON array, as
    with containers; runc prints Go's ``null``."""
    cmp = both(config(["true"]), lambda s: s.call("list", "list", "-f", "json"))
    ours, runc = cmp.step("list")
    assert (ours.out.strip(), runc.out.strip()) == ("[]", "null")


def test_terminal_without_a_controlling_terminal(both, runc_spec):
    """``run`` of a config with a terminal, from a caller that has none (a
    script, CI): we relay the pty as it is; runc 1.1 opens /dev/tty to make
    it raw and fails.  Nothing in the spec asks for the caller's terminal."""
    c = corpus.from_runc_spec(runc_spec, ["echo", "hello"])
    cmp = both(c, lambda s: s.run())
    ours, runc = cmp.step("run c")
    assert ours.rc == 0 and ours.out.replace("\r", "") == "hello\n"
    assert runc.rc != 0 and "/dev/tty" in runc.err


def test_unknown_syscall_number_gets_enosys(both, runc_spec, probe):
    """Under a deny-by-default profile, a syscall number that neither the
    kernel nor libseccomp knows gets ENOSYS (issue 13 item 15: libc falls
    back only on ENOSYS), as do syscalls newer than every one the profile
    names; runc 1.1's stub covers only numbers up to its libseccomp's newest
    and gives such a number the default EPERM."""
    c = corpus.no_terminal(runc_spec, ["/sysprobe", "1000", "435"])
    c["linux"]["seccomp"] = oci_profile(
        PODMAN_PROFILE, drop=("close_range", "clone3"), default=("SCMP_ACT_ERRNO", errno.EPERM)
    )
    cmp = both(c, lambda s: s.run(), files={"/sysprobe": probe("sysprobe")})
    ours, runc = cmp.step("run c")
    assert ours.out.splitlines()[0] == "1000 ENOSYS"
    assert runc.out.splitlines()[0] == "1000 EPERM"
    # (clone3 is older than syscalls the profile names: the default errno, alike)
    assert ours.out.splitlines()[1:] == runc.out.splitlines()[1:] == ["435 EPERM"]


def test_profile_denying_getcwd_without_no_new_privileges(both, runc_spec):
    """A profile that denies getcwd, without noNewPrivileges: the filter is
    loaded before the capabilities go, and nothing we call after it needs
    getcwd, so the container runs (crun runs it too: issue 13 item 1).  runc
    1.1 checks its working directory (CVE-2024-21626) with getcwd after
    loading the filter and fails create."""
    c = corpus.no_terminal(runc_spec, ["echo", "ran"])
    c["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }
    c["process"]["noNewPrivileges"] = False
    cmp = both(c, lambda s: s.run())
    ours, runc = cmp.step("run c")
    assert ours.rc == 0 and ours.out == "ran\n"
    assert runc.rc != 0 and "current working directory" in runc.err


def test_user_namespace_device_the_host_lacks(both):
    """linux.devices in a user namespace (where mknod is not allowed): we
    make the node for the init, as crun does, so a device the host has no
    node for works (issue 13 item 10); runc 1.1 bind-mounts the host's node
    at that path, which does not exist."""
    c = corpus.captured("podman-userns-auto", sh("stat -c '%F %t,%T' /dev/compat-null"))
    c["linux"]["devices"] = [
        {"path": "/dev/compat-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}
    ]
    cmp = both(c, lambda s: s.run())
    ours, runc = cmp.step("run c")
    assert ours.rc == 0 and ours.out == "character special file 1,3\n"
    assert runc.rc != 0


def test_user_namespace_mqueue_owner(both):
    """A user namespace: /dev/mqueue (the root of the IPC namespace's mqueue
    filesystem, which takes the ids of the process that made the namespace)
    belongs to the container's root, 0:0: we make the IPC namespace as that
    user.  Under runc 1.1 its group is the overflow gid (65534), one that
    the user namespace does not map."""
    c = corpus.captured("podman-userns-auto", sh("stat -c '%u:%g' /dev/mqueue"))
    cmp = both(c, lambda s: s.run())
    ours, runc = cmp.step("run c")
    assert (ours.out, runc.out) == ("0:0\n", "0:65534\n")


@pytest.mark.parametrize("rootless", [False, True], ids=["root", "rootless"])
def test_spec_template(specs, rootless):
    """``spec`` writes runc's template but for: "ociVersion", the spec
    version we implement (1.2.0); "hostname" ociruntime; no ambient (nor
    inheritable) capabilities, which let processes keep capabilities across
    an execve of an unprivileged binary (CVE-2022-29162); and
    /sys/devices/virtual/powercap masked too, as newer runc releases do (RAPL
    energy counters leak across containers)."""
    ours, runc = specs(rootless)
    assert (ours["ociVersion"], ours["hostname"]) == ("1.2.0", "ociruntime")
    assert (runc["ociVersion"], runc["hostname"]) == ("1.0.2-dev", "runc")
    assert "ambient" not in ours["process"]["capabilities"]
    assert runc["process"]["capabilities"]["ambient"] == [
        "CAP_AUDIT_WRITE",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
    ]
    assert "/sys/devices/virtual/powercap" in ours["linux"]["maskedPaths"]
    assert "/sys/devices/virtual/powercap" not in runc["linux"]["maskedPaths"]


def test_relative_hook_path(both, runc_spec):
    """A hook whose path is relative: refused before anything exists, as
    not absolute (config.md: "path ... MUST be absolute"); runc 1.1 sets the
    container up and fails when the hook is due, with "no such file or
    directory" (its path was looked up relative to runc's working directory).
    Both exit 1."""
    c = corpus.no_terminal(runc_spec, ["echo", "ran"])
    c["hooks"] = {"createRuntime": [{"path": "true"}]}
    cmp = both(c, lambda s: s.run())
    ours, runc = cmp.step("run c")
    assert ours.rc == runc.rc == 1
    assert "/hooks/createRuntime/0/path" in ours.err and "absolute" in ours.err
    assert "error running hook" in runc.err


def test_unknown_namespace_type(both, config):
    """An unknown namespace type: both refuse it, exit 1; ours names the
    pointer and the types there are.  runc 1.1 says 'namespace {"nope" ""}
    does not exist', the phrase containerd and podman take for "no such
    container" (we never use it for anything else)."""
    c = config(["true"])
    c["linux"]["namespaces"].append({"type": "nope"})
    cmp = both(c, lambda s: s.create())
    ours, runc = cmp.step("create c")
    assert ours.rc == runc.rc == 1
    assert "/linux/namespaces/5/type" in ours.err and "does not exist" not in ours.err
    assert "does not exist" in runc.err


def test_preserve_fds_with_a_gap(both, runc_spec):
    """--preserve-fds 2 with only fd 3 open: the process gets fd 3 and
    nothing at 4 (issue 13 item 18, as crun).  runc 1.1 hands over whatever
    it has open itself at fd 4: here one of its own, a directory of the
    host's (/sys/fs/cgroup), to the container."""
    c = corpus.no_terminal(
        runc_spec, sh("for f in 3 4; do echo $f $(readlink /proc/self/fd/$f); done")
    )
    cmp = both(c, lambda s: s.run("c", "--preserve-fds", "2", fds=1))
    ours, runc = cmp.step("run c")
    assert ours.rc == runc.rc == 0
    assert ours.out.splitlines() == ["3 /dev/null", "4"]
    assert runc.out.splitlines()[0] == "3 /dev/null"
    assert runc.out.splitlines()[1].startswith("4 /")


# --- bugs the differential tests found, now fixed ---------------------------------------


def test_masked_file_is_the_containers_dev_null(both, runc_spec):
    c = corpus.no_terminal(
        runc_spec,
        sh(
            '[ "$(stat -c %d:%i /proc/keys)" = "$(stat -c %d:%i /dev/null)" ]'
            " && echo same || echo other"
        ),
    )
    both(c, lambda s: s.run()).assert_same()


def test_masked_path_inside_a_read_only_path(both, runc_spec):
    c = corpus.no_terminal(runc_spec, sh("grep -c ' /etc/group ' /proc/self/mounts"))
    c["linux"]["readonlyPaths"].append("/etc")
    c["linux"]["maskedPaths"].append("/etc/group")
    both(c, lambda s: s.run()).assert_same()


def test_kill_with_an_empty_signal_is_term(both, config):
    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        s.kill("c", "")
        s.wait("c", "stopped", timeout=2)

    both(config(sh(LOOP)), scenario).assert_same()


def test_refused_create_keeps_the_callers_frozen_cgroup(both, config):
    freezer = "/sys/fs/cgroup/freezer"
    if not os.path.isdir(freezer):
        pytest.skip("no v1 freezer hierarchy")

    def scenario(s):
        s.bundle()
        path = os.path.join(freezer, s.cgroups[-1].strip("/"))
        os.makedirs(path)
        try:
            with open(os.path.join(path, "freezer.state"), "w") as f:
                f.write("FROZEN")
            s.create("c", timeout=20)
            s.note("frozen cgroup kept", str(os.path.isdir(path)))
        finally:
            if os.path.isdir(path):
                with open(os.path.join(path, "freezer.state"), "w") as f:
                    f.write("THAWED")
            s.raw("delete", "--force", s.cid())
            for d in cgroup_dirs(s.cgroups[-1]):
                os.rmdir(d)

    both(config(["true"]), scenario).assert_same()


def test_events_stats_keys(both, config):
    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        s.call(
            "events --stats",
            "events",
            "--stats",
            s.cid(),
            parse=lambda o: sorted(json.loads(o)["data"]),
        )
        s.delete("c", "--force")

    both(config(sh(LOOP)), scenario).assert_same()


def test_exec_relative_cwd(both, config):
    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        s.exec("c", "true", flags=("--cwd", "tmp"))
        s.delete("c", "--force")

    both(config(sh(LOOP)), scenario).assert_same()
