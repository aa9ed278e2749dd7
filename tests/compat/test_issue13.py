"""Each item of issue 13 ("behave like runc where callers depend on it") as
a differential case: the same bundle and calls through ociruntime and runc.

Items covered elsewhere in this directory:

* 1 (the init never dies after create said yes), 15 (seccomp: ENOSYS,
  listenerPath): test_seccomp.py;
* 2 (podman --privileged): test_configs.py::test_captured[podman-privileged];
* 17: also test_configs.py::test_captured[podman-userns-auto].

Where ociruntime differs from runc on purpose, the case is in
test_differences.py.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from . import corpus
from .harness import cgroup_dirs

LOOP = "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done"


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


@pytest.fixture
def config(runc_spec):
    """make(args) -> ``runc spec`` without a terminal, running ``args``."""
    return lambda args: corpus.no_terminal(runc_spec, args)


def running(s, name: str = "c") -> None:
    """``run -d``, then wait for the loop's "ready"."""
    s.run_detached(name)
    s.wait_output(name, "ready")


# --- 3: cwd entered before the user switch -------------------------------------------


def test_3_cwd_only_root_can_enter(both, config):
    """uid 42 with cwd /root (0700, root's): entered before the user switch,
    for create and for exec."""
    c = config(sh("pwd; id -u; " + LOOP))
    c["process"]["user"] = {"uid": 42, "gid": 42}
    c["process"]["cwd"] = "/root"

    def scenario(s):
        running(s)
        s.exec("c", "pwd", flags=("--cwd", "/root", "-u", "42:42"))
        s.delete("c", "--force")
        s.output()

    prepare = lambda rootfs: os.chmod(os.path.join(rootfs, "root"), 0o700)  # noqa: E731
    cmp = both(c, scenario, prepare=prepare)
    cmp.assert_same()
    cmp.assert_ok("run -d c", "exec --cwd /root -u 42:42 c pwd")


# --- 4: kill ID 0 ----------------------------------------------------------------------


def test_4_kill_signal_0(both, config):
    """Signal 0: the existence check, exit 0 while the process exists."""

    def scenario(s):
        running(s)
        s.kill("c", "0")
        s.state()
        s.delete("c", "--force")

    both(config(sh(LOOP)), scenario).assert_same()


# --- 5: spec writes runc's template --------------------------------------------------------


def without_deliberate(spec: dict) -> dict:
    """The template less what differs on purpose (test_differences.py::test_spec_template)."""
    spec = json.loads(json.dumps(spec))
    for key in ("ociVersion", "hostname"):
        spec.pop(key, None)
    for kind in ("ambient", "inheritable"):
        spec["process"].get("capabilities", {}).pop(kind, None)
    masked = spec["linux"].get("maskedPaths", [])
    spec["linux"]["maskedPaths"] = [p for p in masked if p != "/sys/devices/virtual/powercap"]
    return spec


@pytest.mark.parametrize("rootless", [False, True], ids=["root", "rootless"])
def test_5_spec_is_runc_template(specs, rootless):
    """``spec`` writes runc's template (a terminal, runc's namespaces and
    mounts), but for what test_differences.py::test_spec_template lists."""
    ours, runc = specs(rootless)
    assert without_deliberate(ours) == without_deliberate(runc)


# --- 6: a frozen cgroup ---------------------------------------------------------------


def test_6_cgroup_frozen_already(both, config):
    """create into a cgroup whose freezer is FROZEN: refused, not hung."""
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
            # (that the cgroup is kept: test_differences.py)
        finally:
            if os.path.isdir(path):
                with open(os.path.join(path, "freezer.state"), "w") as f:
                    f.write("THAWED")
            s.raw("delete", "--force", s.cid())
            for d in cgroup_dirs(s.cgroups[-1]):
                os.rmdir(d)

    both(config(["true"]), scenario).assert_same()


# --- 7: update -------------------------------------------------------------------------

CGROUP_VALUES = (
    "for f in memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes"
    " cpu/cpu.shares cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us; do"
    ' [ -e /sys/fs/cgroup/$f ] && echo "$f $(cat /sys/fs/cgroup/$f)"; done; true'
)


def test_7_update(both, config):
    """--memory -1 with a swap limit set, runc's --cpu-share spelling, quota
    and period from any previous pair: the values read back alike."""

    def scenario(s):
        running(s)
        cid = s.cid()
        s.call("update memory+swap", "update", "--memory", "100M", "--memory-swap", "200M", cid)
        s.call("update memory -1", "update", "--memory", "-1", cid)
        s.call("update --cpu-share", "update", "--cpu-share", "512", cid)
        s.call(
            "update period+quota", "update", "--cpu-period", "50000", "--cpu-quota", "20000", cid
        )
        s.call("update smaller pair", "update", "--cpu-period", "10000", "--cpu-quota", "5000", cid)
        s.call(
            "update larger pair", "update", "--cpu-period", "900000", "--cpu-quota", "800000", cid
        )
        s.exec("c", "sh", "-c", CGROUP_VALUES)
        s.delete("c", "--force")

    both(config(sh(LOOP)), scenario).assert_same()


# --- 8: exec set-up errors exit 255 ---------------------------------------------------


def test_8_exec_setup_errors(both, config):
    """exec's own failures exit 255, as runc's do.  A --pid-file in a
    missing directory: ours names the directory that is missing; runc's
    "no such file or directory" is what podman takes for a missing command
    (127), so that step compares exit codes only."""

    def scenario(s):
        running(s)
        s.exec("c", "true", flags=("--pid-file", "/no/such/dir/pid"))
        s.exec("c", "true", flags=("-u", "nosuchuser"))
        s.exec("c", "true", flags=("--cap", "CAP_NOPE"))
        s.delete("c", "--force")

    cmp = both(config(sh(LOOP)), scenario)
    ours, runc = cmp.step("exec --pid-file /no/such/dir/pid c true")
    assert ours.rc == runc.rc == 255
    ours.err = runc.err = ""
    cmp.assert_same()


# --- 9: unknown capabilities ------------------------------------------------------------


def test_9_unknown_capability(both, config):
    """An unknown capability name: a warning, the container runs."""
    c = config(sh("grep CapBnd /proc/self/status"))
    for kind in ("bounding", "effective", "permitted"):
        c["process"]["capabilities"][kind].append("CAP_NO_SUCH_THING")
    both(c, lambda s: s.run()).assert_same(corpus.DELIBERATE)


# --- 10: devices anywhere ---------------------------------------------------------------


def test_10_devices_anywhere(both, config):
    c = config(sh("stat -c '%n %F %t,%T %a %u:%g' /mydev/null2 /dev/compat-zero"))
    c["linux"]["devices"] = [
        {"path": "/mydev/null2", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
        {"path": "/dev/compat-zero", "type": "c", "major": 1, "minor": 5, "fileMode": 8576},
    ]
    c["linux"]["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
    cmp = both(c, lambda s: s.run())
    cmp.assert_same()
    cmp.assert_ok("run c")


# --- 11: /proc or /sys not a plain directory ----------------------------------------------


@pytest.mark.parametrize("what", ["proc", "sys"])
def test_11_proc_or_sys_symlink(both, config, what):
    def prepare(rootfs: str) -> None:
        os.rmdir(os.path.join(rootfs, what))
        os.symlink("/tmp", os.path.join(rootfs, what))

    both(config(["true"]), lambda s: s.run(), prepare=prepare).assert_same()


# --- 12: a read-only /dev ----------------------------------------------------------------


def test_12_readonly_dev(both, config):
    """/dev read-only: devpts, shm, mqueue and the device nodes beneath it still work."""
    c = config(
        sh(
            "grep ' /dev' /proc/self/mounts | cut -d' ' -f2-4 | sort;"
            " echo x > /dev/null && echo null-ok; touch /dev/x || echo dev-ro;"
            " echo y > /dev/shm/y && echo shm-ok"
        )
    )
    for m in c["mounts"]:
        if m["destination"] == "/dev":
            m["options"].append("ro")
    c["mounts"].append(
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        }
    )
    both(c, lambda s: s.run()).assert_same(ok=("run c",))


# --- 13: --no-pivot ---------------------------------------------------------------------


def test_13_no_pivot(both, config):
    """--no-pivot: the same mounts (no host procfs or sysfs beneath), and a
    nested procfs in a new user and pid namespace refused alike."""
    c = config(
        sh(
            "cut -d' ' -f2-3 /proc/self/mounts | sort;"
            " unshare -Urpf --mount-proc true 2>/dev/null && echo nested-proc || echo no-nested-proc"
        )
    )
    c["linux"]["maskedPaths"] = []
    c["linux"]["readonlyPaths"] = []
    c["process"]["capabilities"] = {
        k: ["CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID"]
        for k in ("bounding", "effective", "permitted")
    }
    both(c, lambda s: s.run("c", "--no-pivot")).assert_same(corpus.DELIBERATE, ok=("run c",))


# --- 14: the pty belongs to the process's user ----------------------------------------------


def test_14_terminal_owner(both, config):
    c = config(sh("stat -c '%u %g %a' $(tty)"))
    c["process"]["terminal"] = True
    c["process"]["user"] = {"uid": 1000, "gid": 1000}

    both(c, lambda s: s.run(tty=True)).assert_same(ok=("run c",))


def test_14_exec_terminal_owner(both, config):
    def scenario(s):
        running(s)
        s.exec(
            "c", "sh", "-c", "stat -c '%u %g %a' $(tty)", flags=("-t", "-u", "1000:1000"), tty=True
        )
        s.delete("c", "--force")

    both(config(sh(LOOP)), scenario).assert_same()


# --- 16: --debug and --log ------------------------------------------------------------------


def log_levels(side, path: str) -> str:
    """The levels of the records in a json log: what a caller can rely on."""
    try:
        with open(path) as f:
            return " ".join(sorted({json.loads(line)["level"] for line in f if line.strip()}))
    except FileNotFoundError:
        return "(no log file)"


def test_16_debug_log(both, config):
    """--log FILE exists after a command that did not fail; --debug writes
    debug records to it."""

    def scenario(s):
        quiet, debug = os.path.join(s.dir, "quiet.json"), os.path.join(s.dir, "debug.json")
        s.run("c", global_args=("--log", quiet, "--log-format", "json"))
        s.note("quiet log", log_levels(s, quiet))
        s.run("d", bundle="c", global_args=("--debug", "--log", debug, "--log-format", "json"))
        s.note("debug log", log_levels(s, debug))

    both(config(["true"]), scenario).assert_same()


# --- 17: user namespaces: bind sources opened by the runtime ---------------------------------


def test_17_user_namespace(both):
    """podman --userns=auto's config on a hybrid host: the cgroup mount
    (name=systemd included) alike, and a bind source below a directory only
    host root may enter mounts (the runtime opens it before the container
    enters its user namespace)."""
    c = corpus.captured(
        "podman-userns-auto", sh("cat /data/file; cut -d' ' -f2-3 /proc/self/mounts | sort")
    )
    c["mounts"].append(
        {"destination": "/data", "type": "bind", "source": "{private}", "options": ["rbind"]}
    )

    def scenario(s):
        private = os.path.join(s.dir, "private")
        os.makedirs(os.path.join(private, "data"))
        os.chmod(private, 0o700)
        with open(os.path.join(private, "data", "file"), "w") as f:
            f.write("readable\n")
        for m in s.configs["c"]["mounts"]:
            if m["source"] == "{private}":
                m["source"] = os.path.join(private, "data")
        s.run()

    cmp = both(c, scenario)
    cmp.assert_same(corpus.DELIBERATE)
    cmp.assert_ok("run c")


# --- 18: --preserve-fds with gaps ----------------------------------------------------------


def test_18_preserve_fds(both, config):
    """--preserve-fds 1 with fd 3 open: the process has it (with a gap:
    test_differences.py)."""
    c = config(sh("ls /proc/self/fd | sort -n | tr '\\n' ' '"))
    both(c, lambda s: s.run("c", "--preserve-fds", "1", fds=1)).assert_same(ok=("run c",))


# --- 19: output tools match byte for byte ----------------------------------------------------


def version_shape(text: str) -> list[str]:
    """The first three lines of --version with the values taken out (runc's
    go: and libseccomp: lines that follow are its build's)."""
    return [
        "NAME version" if " version " in line else line.split(":")[0]
        for line in text.splitlines()[:3]
    ]


def test_19_version(both, config):
    both(
        config(["true"]), lambda s: s.call("--version", "--version", parse=version_shape)
    ).assert_same()


def test_19_list_and_events(both, config):
    """``list -f json``: runc's keys in runc's order; ``events --stats``: one
    compact JSON object with the same top-level keys (the keys of its data:
    test_differences.py; an empty list: test_differences.py)."""

    def keys(text: str):
        return [list(e) for e in json.loads(text)]

    def stats(text: str):
        return (text.count("\n"), ": " in text or ", " in text, list(json.loads(text)))

    def scenario(s):
        running(s)
        s.call("list -f json", "list", "-f", "json", parse=keys)
        s.call("events --stats", "events", "--stats", s.cid(), parse=stats)
        s.delete("c", "--force")

    both(config(sh(LOOP)), scenario).assert_same()


# --- 20: EACCES on a namespace path ----------------------------------------------------------


def test_20_namespace_path_permission_denied(both, config, tmp_path):
    """A namespace path the caller cannot read (root without
    CAP_DAC_OVERRIDE): the error says "permission denied"."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    wrap = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all")
    c = config(["true"])

    def scenario(s):
        private = os.path.join(s.dir, "private")
        os.mkdir(private, 0o700)
        ns = os.path.join(private, "net")
        open(ns, "w").close()
        os.chown(private, 65534, 65534)
        os.chown(ns, 65534, 65534)
        s.configs = {
            "c": dict(
                c,
                linux=dict(
                    c["linux"],
                    namespaces=[
                        n if n["type"] != "network" else {"type": "network", "path": ns}
                        for n in c["linux"]["namespaces"]
                    ],
                ),
            )
        }
        s.create("c", wrap=wrap)

    both(c, scenario).assert_same()


# --- 21: v1 ps and kill --all in sub-cgroups --------------------------------------------------


def test_21_ps_and_kill_all_in_sub_cgroups(both, config):
    """A process the container moved into a cgroup below its own: ps lists
    it, kill --all reaches it."""

    def scenario(s):
        running(s)
        pidfile = os.path.join(s.dir, "sleep.pid")
        s.exec("c", "sleep", "1000", flags=("-d", "--pid-file", pidfile))
        with open(pidfile) as f:
            pid = f.read().strip()
        subs = []
        for d in cgroup_dirs(s.cgroups[-1]):
            sub = os.path.join(d, "sub")
            os.mkdir(sub)
            subs.append(sub)
            for name in ("cpuset.cpus", "cpuset.mems"):  # empty in a new cpuset cgroup
                if os.path.exists(os.path.join(d, name)):
                    with open(os.path.join(d, name)) as f, open(os.path.join(sub, name), "w") as g:
                        g.write(f.read())
            with open(os.path.join(sub, "cgroup.procs"), "w") as f:
                f.write(pid)
        try:
            s.call(
                "ps -f json", "ps", "-f", "json", s.cid(), parse=lambda o: int(pid) in json.loads(o)
            )
            s.kill("c", "KILL", flags=("--all",))
            s.wait("c", "stopped")
            s.note(
                "sleep killed",
                str(
                    not os.path.exists(f"/proc/{pid}/cmdline")
                    or not open(f"/proc/{pid}/cmdline").read()
                ),
            )
        finally:
            s.raw("kill", "--all", s.cid(), "KILL")
            for sub in subs:
                for _ in range(100):
                    try:
                        os.rmdir(sub)
                        break
                    except OSError:
                        import time

                        time.sleep(0.05)
        s.delete("c", "--force")

    both(config(sh(LOOP)), scenario).assert_same()
