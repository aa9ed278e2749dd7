"""Process security and the known container escapes.

Part one checks that what the config asks for is what the container's
process really gets, as the kernel reports it (``/proc/self/status``,
``uname``, ``ionice``...): capabilities, no_new_privs, seccomp, sysctls,
personality, scheduler, I/O priority, oom_score_adj; and that what cannot
be honoured (a malformed seccomp rule, an LSM the host lacks, a sysctl
that would change the host) is a one-line error that leaves nothing behind;
an unknown capability is a warning, as the runtime spec asks.

Part two replays the published runc/crun escapes against ociruntime, each
as an attempt that must fail: CVE-2019-5736 (overwriting the runtime's
binary through /proc/self/exe), CVE-2016-9962 (ptrace of the init before
exec), CVE-2021-30465 (a symlinked mount destination), CVE-2024-21626
(leaked fds and cwd), CVE-2019-16884/CVE-2023-28642 (a symlinked /proc
redirecting procfs writes), CVE-2025-31133 (masking with a fake /dev/null),
and CPython's ignored signals leaking into the container.  THREAT_MODEL.md
at the repository root says where in the code each one is closed.

Containers that outlive the CLI call (``run -d``, ``create``) get their
stdio on files: a process holding a pipe would otherwise keep the test
waiting for EOF.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading

import pytest
from conftest import OCI, assert_one_line_error, leftovers, sh, status_fields, wait_for

# linux/capability.h: the numbers the kernel's masks are made of
CAP_NUMBERS = {
    "CAP_CHOWN": 0,
    "CAP_DAC_OVERRIDE": 1,
    "CAP_FOWNER": 3,
    "CAP_KILL": 5,
    "CAP_SETGID": 6,
    "CAP_SETUID": 7,
    "CAP_LINUX_IMMUTABLE": 9,
    "CAP_NET_BIND_SERVICE": 10,
    "CAP_NET_RAW": 13,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_ADMIN": 21,
    "CAP_AUDIT_WRITE": 29,
}
DEFAULT_CAPS = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
CAP_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
MKDIR = ["mkdir", "mkdirat"]  # busybox may use either
FAILED_OPEN = ("EPERM", "ETXTBSY", "EACCES", "EROFS")


def capmask(*names: str) -> int:
    m = 0
    for n in names:
        m |= 1 << CAP_NUMBERS[n]
    return m


def own_caps() -> dict[str, int]:
    with open("/proc/self/status") as f:
        st = status_fields(f.read())
    return {k: int(st[k], 16) for k in CAP_FIELDS}


def run_out(oci, b, **kw) -> str:
    """Run the bundle in the foreground, stdio on files (``oci.cli``); its stdout."""
    return oci.cli_ok("run", "--bundle", b.path, oci.new_id(), **kw).stdout


def set_caps(b, **sets: list[str]) -> None:
    b.config["process"]["capabilities"] = {k: list(v) for k, v in sets.items()}
    b.save()


def caps_inside(oci, b) -> dict[str, int]:
    b.config["process"]["args"] = ["cat", "/proc/self/status"]
    b.save()
    st = status_fields(run_out(oci, b))
    return {k: int(st[k], 16) for k in CAP_FIELDS}


def hexcaps(d: dict[str, int]) -> dict[str, str]:
    return {k: f"{v:016x}" for k, v in d.items()}


# ---- 1. capabilities ------------------------------------------------------------------


def test_default_capabilities_exactly(oci, make_bundle):
    b = make_bundle()
    three = capmask(*DEFAULT_CAPS)
    assert three == 0x20000420  # bits 5, 10, 29
    want = {"CapBnd": three, "CapEff": three, "CapPrm": three, "CapInh": 0, "CapAmb": 0}
    assert hexcaps(caps_inside(oci, b)) == hexcaps(want)


def test_all_five_sets_for_root(oci, make_bundle):
    # For uid 0 the kernel gives an exec'd program permitted = bounding | inheritable
    # (| ambient) and effective = permitted (capabilities(7), "root"): a config where
    # effective = permitted = bounding is one the kernel can report back unchanged.
    full = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_AUDIT_WRITE"]
    inh = ["CAP_CHOWN", "CAP_NET_RAW"]
    amb = ["CAP_NET_RAW"]  # ambient must be in permitted and inheritable too
    b = make_bundle()
    set_caps(b, bounding=full, effective=full, permitted=full, inheritable=inh, ambient=amb)
    want = {
        "CapBnd": capmask(*full),
        "CapEff": capmask(*full),
        "CapPrm": capmask(*full),
        "CapInh": capmask(*inh),
        "CapAmb": capmask(*amb),
    }
    assert hexcaps(caps_inside(oci, b)) == hexcaps(want)


def test_non_root_user_keeps_ambient_capabilities(oci, make_bundle):
    # a non-root program without file capabilities keeps exactly its ambient set:
    # permitted = effective = ambient after execve
    bnd = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_AUDIT_WRITE"]
    keep = ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]
    b = make_bundle()
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    set_caps(b, bounding=bnd, effective=keep, permitted=keep, inheritable=keep, ambient=keep)
    want = {
        "CapBnd": capmask(*bnd),
        "CapEff": capmask(*keep),
        "CapPrm": capmask(*keep),
        "CapInh": capmask(*keep),
        "CapAmb": capmask(*keep),
    }
    assert hexcaps(caps_inside(oci, b)) == hexcaps(want)


def test_non_root_user_without_ambient_has_no_capabilities(oci, make_bundle):
    # nothing is filled in behind the config's back (CVE-2022-29162): without
    # inheritable/ambient a uid-1000 program ends up with an empty permitted set
    bnd = ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
    b = make_bundle()
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    set_caps(b, bounding=bnd, effective=bnd, permitted=bnd)
    want = {"CapBnd": capmask(*bnd), "CapEff": 0, "CapPrm": 0, "CapInh": 0, "CapAmb": 0}
    assert hexcaps(caps_inside(oci, b)) == hexcaps(want)


def test_no_capabilities_key_means_no_capabilities(oci, make_bundle):
    """A process with no capabilities object gets none, every set empty, as
    with runc and crun; not the runtime's own full set (CAP_SYS_MODULE,
    CAP_SYS_ADMIN, ...: a way out of the container)."""
    b = make_bundle()
    del b.config["process"]["capabilities"]
    b.save()
    want = dict.fromkeys(("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"), 0)
    assert hexcaps(caps_inside(oci, b)) == hexcaps(want)


def test_unknown_capability_is_a_warning(oci, make_bundle, tmp_path):
    """runtime-spec 1.2: a runtime SHOULD NOT fail on an unknown capability;
    runc and crun run the container.  So do we, without it, and say so once:
    on stderr, or in --log (not as an error record) when there is one."""
    b = make_bundle(["cat", "/proc/self/status"])
    set_caps(
        b,
        bounding=["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_MAKE_COFFEE"],
        effective=["CAP_KILL", "CAP_MAKE_COFFEE"],
        permitted=["CAP_KILL"],
    )
    cid = oci.new_id()
    r = oci.cli("run", "--bundle", b.path, cid)
    assert r.returncode == 0, r.stderr
    st = status_fields(r.stdout)
    assert int(st["CapBnd"], 16) == capmask("CAP_KILL", "CAP_AUDIT_WRITE")
    assert int(st["CapEff"], 16) == int(st["CapPrm"], 16) == capmask("CAP_KILL")
    assert r.stderr == (
        'ociruntime: warning: unknown capability "CAP_MAKE_COFFEE" ignored '
        "(config.json: /process/capabilities/bounding/2)\n"
    )
    assert leftovers(oci, b, (cid,)) == []
    # with --log the warning is a record there (not an error), stderr stays quiet
    log = tmp_path / "log.json"
    r = oci.cli("--log", str(log), "--log-format", "json", "run", "--bundle", b.path, cid)
    assert (r.returncode, r.stderr) == (0, "")
    recs = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(x["level"], "CAP_MAKE_COFFEE" in x["msg"]) for x in recs] == [("warning", True)]


# ---- 2. no_new_privs ----------------------------------------------------------------


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(oci, make_bundle, nnp):
    b = make_bundle(["cat", "/proc/self/status"])
    b.config["process"]["noNewPrivileges"] = nnp
    b.save()
    assert status_fields(run_out(oci, b))["NoNewPrivs"] == ("1" if nnp else "0")


# ---- 3. seccomp -------------------------------------------------------------------------


def set_seccomp(b, rules: list[dict], default: str = "SCMP_ACT_ALLOW", **extra) -> None:
    b.config["linux"]["seccomp"] = {"defaultAction": default, "syscalls": rules, **extra}
    b.save()


def try_mkdir() -> list[str]:
    """sh that prints MKDIR-OK or mkdir's error (on stdout, with the exit status)."""
    return sh("mkdir /made-by-test 2>&1 && echo MKDIR-OK; echo rc=$?")


@functools.lru_cache(maxsize=1)
def native_syscall_names() -> tuple[str, ...]:
    """Every syscall name libseccomp knows for this architecture."""
    lib = ctypes.CDLL("libseccomp.so.2")
    libc = ctypes.CDLL(None)
    lib.seccomp_arch_native.restype = ctypes.c_uint32
    lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
    lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
    libc.free.argtypes = [ctypes.c_void_p]
    arch = lib.seccomp_arch_native()
    names = []
    for nr in range(1024):
        p = lib.seccomp_syscall_resolve_num_arch(arch, nr)
        if p:
            names.append(ctypes.string_at(p).decode())
            libc.free(p)
    return tuple(names)


@pytest.mark.parametrize("with_profile", [True, False])
def test_seccomp_mode_in_status(oci, make_bundle, with_profile):
    b = make_bundle(["cat", "/proc/self/status"])
    if with_profile:
        set_seccomp(b, [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}])
    assert status_fields(run_out(oci, b))["Seccomp"] == ("2" if with_profile else "0")


def test_seccomp_errno_eperm(oci, make_bundle):
    b = make_bundle(try_mkdir())
    set_seccomp(b, [{"names": MKDIR, "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM}])
    out = run_out(oci, b)
    assert "Operation not permitted" in out and "MKDIR-OK" not in out, out
    assert not os.path.exists(os.path.join(b.rootfs, "made-by-test"))


def test_seccomp_errno_defaults_to_eperm(oci, make_bundle):
    b = make_bundle(try_mkdir())
    set_seccomp(b, [{"names": MKDIR, "action": "SCMP_ACT_ERRNO"}])
    assert "Operation not permitted" in run_out(oci, b)


def test_seccomp_default_errno_ret(oci, make_bundle):
    # default-deny with an errno of our choosing (EXDEV: one mkdir never returns
    # by itself); every other syscall this architecture has is allowed
    allow = [n for n in native_syscall_names() if n not in MKDIR]
    assert "execve" in allow and len(allow) > 200
    b = make_bundle(sh("mkdir /made-by-test 2>&1; echo rc=$?; touch /touched && echo touched"))
    set_seccomp(
        b,
        [{"names": allow, "action": "SCMP_ACT_ALLOW"}],
        default="SCMP_ACT_ERRNO",
        defaultErrnoRet=errno.EXDEV,
    )
    out = run_out(oci, b)
    assert os.strerror(errno.EXDEV) in out, out  # "Invalid cross-device link"
    assert "rc=1" in out and "touched" in out, out


def test_seccomp_argument_condition(oci, make_bundle):
    # socket(2) is refused only when arg0 (the domain) == AF_INET: busybox nc cannot
    # open an IPv4 socket, while AF_INET6 (nc ::1) and AF_NETLINK (ip link) still work
    script = (
        "nc 127.0.0.1 9 </dev/null 2>&1; echo v4=$?; "
        "nc ::1 9 </dev/null 2>&1; echo v6=$?; "
        "ip link show lo >/dev/null 2>&1; echo netlink=$?"
    )
    rule = {
        "names": ["socket"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": errno.EPERM,
        "args": [{"index": 0, "value": socket.AF_INET, "op": "SCMP_CMP_EQ"}],
    }
    plain = make_bundle(sh(script))
    base = run_out(oci, plain)
    assert "Operation not permitted" not in base, base  # without the rule: just refused

    b = make_bundle(sh(script))
    set_seccomp(b, [rule])
    out = run_out(oci, b)
    lines = out.splitlines()
    v4 = lines[: lines.index("v4=1")]
    assert any("socket: Operation not permitted" in line for line in v4), out
    v6 = lines[lines.index("v4=1") + 1 : lines.index("v6=1")]
    assert v6 and all("Operation not permitted" not in line for line in v6), out
    assert any("refused" in line for line in v6), out  # an AF_INET6 socket was made
    assert "netlink=0" in lines, out


def test_seccomp_kill_process(oci, make_bundle):
    b = make_bundle(["mkdir", "/made-by-test"])
    set_seccomp(b, [{"names": MKDIR, "action": "SCMP_ACT_KILL_PROCESS"}])
    r = oci.cli("run", "--bundle", b.path, oci.new_id())
    assert r.returncode == 128 + signal.SIGSYS, (r.returncode, r.stderr)
    assert not os.path.exists(os.path.join(b.rootfs, "made-by-test"))


def test_seccomp_log_is_accepted_and_allows(oci, make_bundle):
    b = make_bundle(try_mkdir())
    set_seccomp(b, [{"names": MKDIR, "action": "SCMP_ACT_LOG"}], flags=["SECCOMP_FILTER_FLAG_LOG"])
    assert "MKDIR-OK" in run_out(oci, b)


def test_seccomp_trace_without_tracer_is_enosys(oci, make_bundle):
    # seccomp(2): with no tracer attached, SECCOMP_RET_TRACE fails the call with ENOSYS
    b = make_bundle(try_mkdir())
    set_seccomp(b, [{"names": MKDIR, "action": "SCMP_ACT_TRACE"}])
    out = run_out(oci, b)
    assert os.strerror(errno.ENOSYS) in out and "MKDIR-OK" not in out, out


def test_seccomp_flag_log_accepted(oci, make_bundle):
    b = make_bundle(["cat", "/proc/self/status"])
    set_seccomp(
        b,
        [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}],
        flags=["SECCOMP_FILTER_FLAG_LOG"],
    )
    assert status_fields(run_out(oci, b))["Seccomp"] == "2"


def test_seccomp_unknown_syscall_is_skipped(oci, make_bundle):
    b = make_bundle(try_mkdir())
    names = ["no_such_syscall_for_ociruntime", *MKDIR]
    set_seccomp(b, [{"names": names, "action": "SCMP_ACT_ERRNO"}])
    out = run_out(oci, b)  # the container runs ...
    assert "Operation not permitted" in out, out  # ... and the known names still apply


@pytest.mark.parametrize(
    "rule, pointer",
    [
        (
            {"names": ["mkdir"], "action": "SCMP_ACT_MAKE_COFFEE"},
            "/linux/seccomp/syscalls/0/action",
        ),
        (
            {
                "names": ["mkdir"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_SORT_OF"}],
            },
            "/linux/seccomp/syscalls/0/args/0/op",
        ),
        (
            {
                "names": ["mkdir"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}],
            },
            "/linux/seccomp/syscalls/0/args/0/index",
        ),
    ],
    ids=["unknown-action", "bad-operator", "arg-index-6"],
)
def test_seccomp_bad_rule_is_a_clean_error(oci, make_bundle, rule, pointer):
    b = make_bundle()
    set_seccomp(b, [rule])
    oci.create_fails(b, pointer, code=1)


class Agent:
    """A seccomp agent on an AF_UNIX socket: takes ``connections`` messages
    (one per connection), closes the fds it got.

    Closing the notify fd makes every notified syscall fail with ENOSYS, so the
    container never waits on us.
    """

    def __init__(self, connections: int = 1) -> None:
        self.connections = connections
        self.messages: list[dict] = []
        # sun_path is short: not under pytest's long tmp_path
        self.dir = tempfile.mkdtemp(prefix="ocisec-", dir="/tmp")
        self.path = os.path.join(self.dir, "agent.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.data = b""
        self.fd_kinds: list[str] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        try:
            for _ in range(self.connections):
                conn, _ = self.sock.accept()
                self.data = b""
                with conn:
                    conn.settimeout(20)
                    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 16)
                    for fd in fds:
                        self.fd_kinds.append(os.readlink(f"/proc/self/fd/{fd}"))
                        os.close(fd)
                    while data:
                        self.data += data
                        data = conn.recv(1 << 16)
                self.messages.append(json.loads(self.data))
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    def close(self) -> None:
        self.thread.join(20)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_seccomp_notify_sends_fd_and_state_to_listener(oci, make_bundle, nnp):
    agent = Agent()
    try:
        b = make_bundle(try_mkdir())
        b.config["process"]["noNewPrivileges"] = nnp
        set_seccomp(
            b,
            [{"names": MKDIR, "action": "SCMP_ACT_NOTIFY"}],
            listenerPath=agent.path,
            listenerMetadata="agent-metadata-42",
        )
        cid = oci.new_id("notify")
        r = oci.cli("run", "--bundle", b.path, cid)
    finally:
        agent.close()
    assert agent.error is None, repr(agent.error)
    assert r.returncode == 0, r.stderr
    # the agent closed the notify fd: the notified mkdir failed instead of blocking
    assert os.strerror(errno.ENOSYS) in r.stdout and "MKDIR-OK" not in r.stdout, r.stdout
    assert agent.fd_kinds == ["anon_inode:seccomp notify"]
    msg = json.loads(agent.data)
    assert msg["ociVersion"]
    assert msg["fds"] == ["seccompFd"]
    assert msg["metadata"] == "agent-metadata-42"
    st = msg["state"]
    assert st.get("id") == cid, msg
    assert isinstance(msg["pid"], int) and msg["pid"] > 0, msg
    assert st.get("pid") == msg["pid"], msg
    assert st.get("bundle") == b.path, msg


# ---- 4. LSMs this host does not have ------------------------------------------------------


def lsm_enabled(name: str) -> bool:
    if name == "apparmor":
        try:
            with open("/sys/module/apparmor/parameters/enabled") as f:
                return f.read().strip() == "Y"
        except OSError:
            return False
    return os.path.exists("/sys/fs/selinux/enforce")


@pytest.mark.parametrize(
    "key, value, lsm",
    [
        ("apparmorProfile", "ociruntime-test-profile", "apparmor"),
        ("selinuxLabel", "system_u:system_r:container_t:s0:c1,c2", "selinux"),
    ],
)
def test_lsm_requested_on_host_without_it(oci, make_bundle, key, value, lsm):
    if lsm_enabled(lsm):
        pytest.skip(f"{lsm} is enabled on this host")
    b = make_bundle()
    b.config["process"][key] = value
    b.save()
    oci.create_fails(b, f"/process/{key}", code=1)


# ---- 5. sysctl ---------------------------------------------------------------------------


def read_host(path: str) -> str:
    with open(path) as f:
        return f.read()


def test_sysctl_net_in_new_network_namespace(oci, make_bundle):
    host = read_host("/proc/sys/net/ipv4/ip_forward")
    b = make_bundle(["cat", "/proc/sys/net/ipv4/ip_forward"])
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    b.save()
    assert run_out(oci, b).strip() == "1"
    assert read_host("/proc/sys/net/ipv4/ip_forward") == host


def test_sysctl_ipc_in_new_ipc_namespace(oci, make_bundle):
    host = read_host("/proc/sys/kernel/shmmax")
    value = "1073741824" if host.strip() != "1073741824" else "2147483648"
    b = make_bundle(["cat", "/proc/sys/kernel/shmmax"])
    b.config["linux"]["sysctl"] = {"kernel.shmmax": value}
    b.save()
    assert run_out(oci, b).strip() == value
    assert read_host("/proc/sys/kernel/shmmax") == host


def test_sysctl_not_namespaced_is_refused(oci, make_bundle):
    host = read_host("/proc/sys/kernel/pid_max")
    b = make_bundle()
    b.config["linux"]["sysctl"] = {"kernel.pid_max": "32768"}
    b.save()
    oci.create_fails(b, "/linux/sysctl/kernel.pid_max", code=1)
    assert read_host("/proc/sys/kernel/pid_max") == host


def test_sysctl_net_without_network_namespace_is_refused(oci, make_bundle):
    host = read_host("/proc/sys/net/ipv4/ip_forward")
    b = make_bundle()
    nss = b.config["linux"]["namespaces"]
    b.config["linux"]["namespaces"] = [ns for ns in nss if ns["type"] != "network"]
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    b.save()
    oci.create_fails(b, "/linux/sysctl/net.ipv4.ip_forward", code=1)
    assert read_host("/proc/sys/net/ipv4/ip_forward") == host


def test_sysctl_name_cannot_walk_out_of_its_namespace(oci, make_bundle):
    # a net.* name that tries to climb to a host-wide file through /proc/sys
    host = read_host("/proc/sys/kernel/core_pattern")
    b = make_bundle()
    b.config["linux"]["sysctl"] = {"net/../kernel/core_pattern": "|/bin/false"}
    b.save()
    oci.create_fails(b, "/linux/sysctl/", code=1)
    b.config["linux"]["sysctl"] = {"net.ipv4/../../kernel.core_pattern": "|/bin/false"}
    b.save()
    oci.create_fails(b, "/linux/sysctl/", code=1)
    assert read_host("/proc/sys/kernel/core_pattern") == host


# ---- 6. personality, scheduler, I/O priority, oom_score_adj ---------------------------------


def test_personality_linux32(oci, make_bundle):
    b = make_bundle(sh("uname -m; cat /proc/self/personality"))
    b.config["linux"]["personality"] = {"domain": "LINUX32"}
    b.save()
    machine, pers = run_out(oci, b).split()
    assert machine in ("i386", "i486", "i586", "i686", "armv7l", "armv8l"), machine
    assert int(pers, 16) & 0xFF == 0x0008  # PER_LINUX32
    assert os.uname().machine not in ("i686", "armv7l")  # i.e. it really changed


def stat_field(stat_line: str, n: int) -> str:
    """Field n (1-based, as in proc(5)) of /proc/PID/stat; comm may hold spaces."""
    rest = stat_line[stat_line.rindex(")") + 2 :].split()
    return rest[n - 3]


def test_scheduler_nice(oci, make_bundle):
    b = make_bundle(["cat", "/proc/self/stat"])
    b.config["process"]["scheduler"] = {"policy": "SCHED_OTHER", "nice": 5}
    b.save()
    line = run_out(oci, b)
    assert stat_field(line, 19) == "5", line  # nice
    assert stat_field(line, 41) == "0", line  # policy: SCHED_OTHER


def test_io_priority_idle(oci, make_bundle):
    b = make_bundle(sh("ionice -p $$"))
    b.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_IDLE", "priority": 0}
    b.save()
    assert run_out(oci, b).strip() == "idle"


def test_io_priority_best_effort_level(oci, make_bundle):
    b = make_bundle(sh("ionice -p $$"))
    b.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    b.save()
    assert run_out(oci, b).strip() == "best-effort: prio 6"


@pytest.mark.parametrize("prio", [8, 8192, -1])
def test_io_priority_out_of_range_is_refused(oci, make_bundle, prio):
    """8192 spilled into the class bits (best-effort became idle, silently)."""
    b = make_bundle()
    b.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": prio}
    b.save()
    oci.create_fails(b, "/process/ioPriority/priority: expected an integer between 0 and 7")


def test_scheduler_negative_priority_is_the_kernels_einval(oci, make_bundle):
    """A negative priority (int32 in the schema, a u32 in sched_attr) failed
    in the init with "internal error in init: error('argument out of
    range')" (found by the fuzzer); it reaches the kernel as Go casts it."""
    b = make_bundle()
    b.config["process"]["scheduler"] = {"policy": "SCHED_IDLE", "priority": -(2**31)}
    b.save()
    oci.create_fails(b, "/process/scheduler: sched_setattr: Invalid argument")


def test_oom_score_adj(oci, make_bundle):
    b = make_bundle(["cat", "/proc/self/oom_score_adj"])
    b.config["process"]["oomScoreAdj"] = 500
    b.save()
    assert run_out(oci, b).strip() == "500"


def host_can_lower_oom_score_adj() -> bool:
    """Lowering oom_score_adj needs CAP_SYS_RESOURCE, which some hosts' root lacks."""
    r = subprocess.run(
        ["/bin/sh", "-c", "echo -500 > /proc/self/oom_score_adj"], capture_output=True
    )
    return r.returncode == 0


def test_negative_oom_score_adj(oci, make_bundle):
    b = make_bundle(["cat", "/proc/self/oom_score_adj"])
    b.config["process"]["oomScoreAdj"] = -500
    b.save()
    if host_can_lower_oom_score_adj():
        assert run_out(oci, b).strip() == "-500"
    else:
        oci.create_fails(b, "/process/oomScoreAdj", code=1)


# ---- 6b. settings only a mount namespace can give ---------------------------------------------


def without_mount_namespace(b) -> None:
    """The bundle's config minus the mount namespace and everything that needs one."""
    lx = b.config["linux"]
    lx["namespaces"] = [n for n in lx["namespaces"] if n["type"] != "mount"]
    for key in ("maskedPaths", "readonlyPaths"):
        lx.pop(key, None)
    b.config["mounts"] = []
    b.config["root"]["readonly"] = False


@pytest.mark.parametrize("setting", ["/root/readonly", "/linux/maskedPaths"])
def test_no_mount_namespace_refuses_what_it_cannot_apply(oci, make_bundle, setting):
    """Without a mount namespace the init chroots, in the caller's: a read-only
    root and masked paths were dropped without a word, and the container
    wrote to a root it was told was read-only and read what it was told was
    masked.  Refused (runc refuses masked paths too)."""
    b = make_bundle(sh("echo x > /written; cat /etc/secret"))
    with open(os.path.join(b.rootfs, "etc", "secret"), "w") as f:
        f.write("secret\n")
    without_mount_namespace(b)
    if setting == "/root/readonly":
        b.config["root"]["readonly"] = True
    else:
        b.config["linux"]["maskedPaths"] = ["/etc/secret"]
    b.save()
    cid, r = oci.run_bundle(b)
    line = assert_one_line_error(r, f"config.json: {setting}: ", "mount namespace")
    assert "secret" not in r.stdout and "/linux/namespaces" in line
    assert not os.path.exists(os.path.join(b.rootfs, "written"))
    assert leftovers(oci, b, (cid,)) == []


def test_no_mount_namespace_still_runs_chrooted(oci, make_bundle):
    """Without those settings the config is fine: the process runs in the
    host's mount namespace, chrooted into the rootfs."""
    b = make_bundle(sh("echo x > /written; ls /bin/busybox"))
    without_mount_namespace(b)
    b.save()
    assert run_out(oci, b).split() == ["/bin/busybox"]
    assert os.path.exists(os.path.join(b.rootfs, "written"))


def host_mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path`` in the tests' (the host's) mount namespace."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == path or p.startswith(path + "/")]


def test_no_mount_namespace_mounts_under_the_rootfs_and_delete_removes_them(oci, make_bundle):
    """The spec: a namespace not listed is inherited and the mounts listed are
    mounted; so they are made under the rootfs in the caller's mount
    namespace (runc does the same; runtime-tools' linux_ns_itype).  runc
    leaves them there after delete; the spec says delete removes what create
    made, and we do."""
    b = make_bundle(
        sh("echo hi > /t/f; cat /t/f; test -c /dev/xnull && echo dev; head -1 /proc/1/status")
    )
    without_mount_namespace(b)
    b.config["mounts"] = [
        {"destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
        {"destination": "/proc", "type": "proc", "source": "proc"},
    ]
    b.config["linux"]["devices"] = [{"path": "/dev/xnull", "type": "c", "major": 1, "minor": 3}]
    b.save()
    rootfs = os.path.realpath(b.rootfs)
    # run: inside, the tmpfs and the device; after, nothing under the rootfs
    out = run_out(oci, b).split()
    assert out[:3] == ["hi", "dev", "Name:"], out
    assert host_mounts_under(rootfs) == []
    assert not os.path.exists(os.path.join(rootfs, "t", "f"))  # it was the tmpfs's
    # create: the host sees the mounts while the container exists; delete detaches them
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, cid)
    assert sorted(host_mounts_under(rootfs)) == [rootfs + "/proc", rootfs + "/t"]
    oci.ok("delete", "--force", cid)
    assert host_mounts_under(rootfs) == []
    assert leftovers(oci, b, (cid,)) == []


def test_no_mount_namespace_failed_create_leaves_no_mount(oci, make_bundle):
    """A mount that fails after others were made: the one-line error names it,
    and the mounts made before it are detached with the rest of the create."""
    b = make_bundle(["true"])
    without_mount_namespace(b)
    b.config["mounts"] = [
        {"destination": "/t", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/u", "type": "nosuchfs", "source": "x"},
    ]
    b.save()
    cid, r = oci.run_bundle(b)
    assert_one_line_error(r, "/mounts/1", "/u")
    assert host_mounts_under(os.path.realpath(b.rootfs)) == []
    assert leftovers(oci, b, (cid,)) == []


# ---- 7. known escapes ---------------------------------------------------------------------


def runtime_interpreter() -> str:
    """The interpreter the launcher runs (the runtime's /proc/self/exe)."""
    exe = shutil.which(OCI[0]) if len(OCI) == 1 else None
    if not exe:
        pytest.skip(f"OCIRUNTIME={' '.join(OCI)} is not the installed launcher")
    with open(exe, "rb") as f:
        first = f.readline()
    if not first.startswith(b"#!"):
        pytest.skip(f"{exe} is not a script launcher")
    return os.path.realpath(first[2:].split()[0].decode())


def lsattr_flags(path: str) -> str:
    r = subprocess.run(["lsattr", path], capture_output=True, text=True, check=True)
    return r.stdout.split()[0]


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def python_in_container(b, name: str, code: str) -> None:
    """``/name`` in the rootfs: a script run by ``#!/proc/self/exe``.

    When the runtime's init execve()s it, the kernel resolves the interpreter
    path in the init itself, whose /proc/self/exe is the runtime's interpreter:
    the container's process becomes that very file, as in CVE-2019-5736.  For
    it to start, the host's shared libraries and Python standard library are
    bind-mounted read-only at the same paths (the interpreter finds no
    python3._pth inside and falls back to its built-in prefix, /usr).
    """
    path = os.path.join(b.rootfs, name)
    with open(path, "w") as f:
        f.write("#!/proc/self/exe\n" + code)
    os.chmod(path, 0o755)
    for d in ("/lib", "/lib64", "/usr/lib", "/usr/lib64"):
        inside = b.rootfs + d
        if os.path.islink(d):  # merged /usr: lib -> usr/lib
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            os.symlink(os.readlink(d), inside)
        elif os.path.isdir(d):
            b.config["mounts"].append(
                {
                    "destination": d,
                    "type": "bind",
                    "source": d,
                    "options": ["rbind", "ro", "nosuid", "nodev"],
                }
            )
    b.config["process"]["args"] = ["/" + name]
    b.save()


def read_when(path: str, last: str, timeout: float = 15.0) -> str:
    """The file's text once its last line is ``last``."""

    def done():
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        return text if text.splitlines()[-1:] == [last] else None

    return wait_for(done, f"{last!r} in {path}", timeout)


def test_cve_2019_5736_runtime_interpreter_is_immutable(oci, make_bundle):
    interp = runtime_interpreter()
    assert "i" in lsattr_flags(interp), f"{interp} is not immutable: {lsattr_flags(interp)}"
    # and it really is the init's /proc/self/exe
    b = make_bundle(["sleep", "30"])
    cid = oci.new_id("exe")
    oci.cli_ok("create", "--bundle", b.path, cid)
    pid = json.loads(oci.cli_ok("state", cid).stdout)["pid"]
    assert os.stat(f"/proc/{pid}/exe").st_ino == os.stat(interp).st_ino
    oci.cli_ok("delete", "--force", cid)


# Runs inside the container under the runtime's interpreter.  Every attempt is
# recorded as "what: OPENED" or "what: ERRNO"; "ino" lets the host check that the
# file it attacked is the installed one (a concurrent `make install` swaps it).
OVERWRITE_EXE = r"""
import errno, os, sys
out = open("/tmp/result", "w", buffering=1)
def attempt(what, fn):
    try:
        os.close(fn())
        out.write(what + ": OPENED\n")
    except OSError as e:
        out.write(what + ": " + errno.errorcode.get(e.errno, str(e.errno)) + "\n")
try:
    out.write("ino: %d\n" % os.stat("/proc/self/exe").st_ino)
    attempt("open-rw", lambda: open("/proc/self/exe", "r+b").detach().detach().fileno())
    attempt("open-wronly", lambda: os.open("/proc/self/exe", os.O_WRONLY))
    # the runc exploit: keep an O_PATH fd, reopen it for writing through /proc
    fd = os.open("/proc/self/exe", os.O_PATH)
    attempt("reopen", lambda: os.open("/proc/self/fd/%d" % fd, os.O_WRONLY))
    os.set_inheritable(fd, True)
except BaseException as e:
    out.write("error: %r\n" % (e,))
    out.write("done\n")
    raise
out.close()
# ... and once no runtime process runs the file any more (the host says so by
# creating /tmp/go), try again from busybox, which does not hold it busy
script = (
    'while [ ! -e /tmp/go ]; do sleep 0.02; done; '
    '{ echo pwned >> /proc/$$/fd/$1; } 2>/tmp/sh.err && r=OPENED || r=$(cat /tmp/sh.err); '
    'echo "sh-reopen: $r" >> /tmp/result; echo done >> /tmp/result'
)
os.execv("/bin/sh", ["sh", "-c", script, "sh", str(fd)])
"""


def test_cve_2019_5736_container_cannot_overwrite_runtime_interpreter(oci, make_bundle):
    interp = runtime_interpreter()
    before, ino = sha256(interp), os.stat(interp).st_ino
    b = make_bundle()
    python_in_container(b, "overwrite-exe", OVERWRITE_EXE)
    cid = oci.new_id("exe")
    result = os.path.join(b.rootfs, "tmp", "result")
    try:
        oci.cli_ok("run", "--detach", "--bundle", b.path, cid)  # the runtime has exited
        open(os.path.join(b.rootfs, "tmp", "go"), "w").close()
        text = read_when(result, "done")
    finally:
        oci.cli("delete", "--force", cid)
    got = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    assert "error" not in got, text
    if int(got["ino"]) != ino or os.stat(interp).st_ino != ino:
        pytest.skip("the runtime was reinstalled while the test ran")
    for what in ("open-rw", "open-wronly", "reopen"):
        assert got[what] in FAILED_OPEN, f"{what}: {got[what]}\n{text}"
    sh_err = got["sh-reopen"]
    assert any(os.strerror(getattr(errno, e)) in sh_err for e in FAILED_OPEN), (
        f"busybox reopened the runtime's interpreter for writing: {sh_err}"
    )
    assert sha256(interp) == before
    assert "i" in lsattr_flags(interp)


# With CAP_LINUX_IMMUTABLE the container could clear the immutable flag through
# /proc/self/exe (FS_IOC_SETFLAGS needs only a read-only fd) and then overwrite
# the runtime's interpreter once no runtime process runs it.  The probe puts the
# flag back at once if it could clear it: it writes nothing to the file.
CLEAR_IMMUTABLE = r"""
import errno, fcntl, os, struct
FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IMMUTABLE_FL = 0x80086601, 0x40086602, 0x10
out = open("/tmp/result", "w", buffering=1)
try:
    fd = os.open("/proc/self/exe", os.O_RDONLY)
    flags = struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("i", 0)))[0]
    out.write("flags: %x\n" % flags)
    try:
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags & ~FS_IMMUTABLE_FL))
        out.write("clear: CLEARED\n")
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags))
    except OSError as e:
        out.write("clear: " + errno.errorcode.get(e.errno, str(e.errno)) + "\n")
except BaseException as e:
    out.write("error: %r\n" % (e,))
out.write("done\n")
"""


def test_cve_2019_5736_cap_linux_immutable_cannot_unlock_interpreter(oci, make_bundle):
    interp = runtime_interpreter()
    before = sha256(interp)
    b = make_bundle()
    b.add_caps("CAP_LINUX_IMMUTABLE")
    python_in_container(b, "clear-immutable", CLEAR_IMMUTABLE)
    try:
        oci.cli_ok("run", "--bundle", b.path, oci.new_id("exe"))
        text = read_when(os.path.join(b.rootfs, "tmp", "result"), "done")
    finally:
        if "i" not in lsattr_flags(interp):  # the probe died between clear and restore
            subprocess.run(["chattr", "+i", interp], check=False)
    got = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    assert "error" not in got, text
    assert got["clear"] != "CLEARED", (
        "a container with CAP_LINUX_IMMUTABLE cleared the immutable flag of the "
        f"runtime's interpreter {interp} through /proc/self/exe"
    )
    assert got["clear"] in FAILED_OPEN, text
    assert sha256(interp) == before


def _on_readonly_mount(path: str) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def test_cve_2019_5736_no_host_mount_and_cap_linux_immutable_runs_from_a_readonly_clone(
    oci, make_bundle
):
    # no mount of the runtime's directory in the host's namespace (nothing left behind),
    # yet a container that may hold CAP_LINUX_IMMUTABLE runs the runtime's interpreter
    # only through a read-only clone of that directory
    interp = runtime_interpreter()
    with open("/proc/self/mountinfo") as f:
        assert os.path.dirname(interp) not in f.read()
    plain = make_bundle(["sleep", "30"])
    capped = make_bundle(["sleep", "30"])
    capped.add_caps("CAP_LINUX_IMMUTABLE")
    ids = []
    try:
        for b, readonly in ((plain, False), (capped, True)):
            cid = oci.new_id("exe")
            ids.append(cid)
            oci.cli_ok("create", "--bundle", b.path, cid)
            pid = json.loads(oci.cli_ok("state", cid).stdout)["pid"]
            assert os.stat(f"/proc/{pid}/exe").st_ino == os.stat(interp).st_ino
            assert _on_readonly_mount(f"/proc/{pid}/exe") == readonly, (cid, readonly)
    finally:
        for cid in ids:
            oci.cli("delete", "--force", cid)
    with open("/proc/self/mountinfo") as f:
        assert os.path.dirname(interp) not in f.read()


def test_cve_2019_5736_an_install_elsewhere_keeps_the_readonly_clone(oci, make_bundle, tmp_path):
    """tools/write-launcher into another home (a second install, a packager's
    prefix): the runtime takes the interpreter's directory from its launcher,
    so a CAP_LINUX_IMMUTABLE container still runs from a read-only clone of
    that directory; no constant in the code can fall out of step with the
    installer and quietly turn it off."""
    from conftest import REPO

    home = tmp_path / "home"
    launcher = tmp_path / "ociruntime"
    subprocess.run(
        [
            "/usr/bin/python3",
            os.path.join(REPO, "tools", "write-launcher"),
            str(launcher),
            str(home),
        ],
        check=True,
        capture_output=True,
        cwd="/",
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    interp = str(home / "bin" / "python3")
    root = tmp_path / "other-state"
    root.mkdir()
    b = make_bundle(["sleep", "30"])
    b.add_caps("CAP_LINUX_IMMUTABLE")
    cid = oci.new_id("home")
    try:
        # stdio not on pipes: the init keeps what it is given (a pipe would never see EOF)
        with tempfile.TemporaryFile() as err:
            r = subprocess.run(
                [str(launcher), "--root", str(root), "create", "--bundle", b.path, cid],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            err.seek(0)
            assert r.returncode == 0, err.read().decode()
        pid = json.loads(
            subprocess.run(
                [str(launcher), "--root", str(root), "state", cid], capture_output=True, text=True
            ).stdout
        )["pid"]
        assert os.stat(f"/proc/{pid}/exe").st_ino == os.stat(interp).st_ino
        assert _on_readonly_mount(f"/proc/{pid}/exe")
    finally:
        subprocess.run([str(launcher), "--root", str(root), "delete", "--force", cid])
        subprocess.run(["chattr", "-R", "-i", str(home)], check=False)


def test_cve_2019_5736_exec_with_cap_linux_immutable_cannot_unlock_interpreter(oci, make_bundle):
    # exec --cap CAP_LINUX_IMMUTABLE of the #!/proc/self/exe probe into a container
    # that does not have the capability itself
    interp = runtime_interpreter()
    before = sha256(interp)
    b = make_bundle()
    python_in_container(b, "clear-immutable", CLEAR_IMMUTABLE)
    b.config["process"]["args"] = ["sleep", "30"]
    b.save()
    cid = oci.new_id("exe")
    try:
        oci.cli_ok("run", "--detach", "--bundle", b.path, cid)
        oci.cli_ok("exec", "--cap", "CAP_LINUX_IMMUTABLE", cid, "/clear-immutable")
        text = read_when(os.path.join(b.rootfs, "tmp", "result"), "done")
    finally:
        oci.cli("delete", "--force", cid)
        if "i" not in lsattr_flags(interp):  # the probe died between clear and restore
            subprocess.run(["chattr", "+i", interp], check=False)
    got = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    assert "error" not in got, text
    assert got["clear"] in FAILED_OPEN, text
    assert sha256(interp) == before


PTRACE_PROBE = r"""
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
class Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [("e", ctypes.c_uint32), ("p", ctypes.c_uint32), ("i", ctypes.c_uint32)]
hdr, data = Header(0x20080522, 0), (Data * 2)()
assert libc.capget(ctypes.byref(hdr), data) == 0
data[0].e &= ~(1 << 19)  # CAP_SYS_PTRACE
data[0].p &= ~(1 << 19)
assert libc.capset(ctypes.byref(hdr), data) == 0
PTRACE_SEIZE = 0x4206
if libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), 0, 0) == 0:
    print("SEIZED")  # detached when we exit
else:
    print(errno.errorcode[ctypes.get_errno()])
"""


def ptrace_seize_as_plain_root(pid: int) -> str:
    """PTRACE_SEIZE from a root process without CAP_SYS_PTRACE.

    Same uid and a superset of the target's capabilities, so the only thing
    that can refuse it is the target being non-dumpable.
    """
    r = subprocess.run(
        [sys.executable, "-c", PTRACE_PROBE, str(pid)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_init_is_not_dumpable_until_exec(oci, make_bundle):
    # CVE-2016-9962: the init holds host resources until execve; nothing may ptrace it
    b = make_bundle(["sleep", "30"])
    cid = oci.new_id("dump")
    oci.cli_ok("create", "--bundle", b.path, cid)
    try:
        pid = json.loads(oci.cli_ok("state", cid).stdout)["pid"]
        created_exe = os.readlink(f"/proc/{pid}/exe")
        assert ptrace_seize_as_plain_root(pid) == "EPERM"
        oci.cli_ok("start", cid)
        wait_for(lambda: os.readlink(f"/proc/{pid}/exe") != created_exe, "the exec")
        # the probe itself works: the exec'd program is dumpable again
        assert ptrace_seize_as_plain_root(pid) == "SEIZED"
    finally:
        oci.cli("delete", "--force", cid)


@pytest.mark.parametrize("link", ["absolute", "relative"])
@pytest.mark.parametrize("kind", ["bind", "tmpfs"])
def test_cve_2021_30465_symlinked_mount_destination_stays_in_rootfs(
    oci, make_bundle, tmp_path, link, kind
):
    host = tmp_path / "host-dir"
    host.mkdir()
    (host / "host-file").write_text("host\n")
    vol = tmp_path / "volume"
    vol.mkdir()
    (vol / "marker").write_text("from the volume\n")
    target = str(host / "new")  # missing on the host: an escape would mkdir it there
    b = make_bundle(sh("cat /evil/marker 2>/dev/null; touch /evil/written && echo wrote; ls /evil"))
    dest = target if link == "absolute" else "../" * 12 + target.lstrip("/")
    os.symlink(dest, os.path.join(b.rootfs, "evil"))
    if kind == "bind":
        m = {"destination": "/evil", "type": "bind", "source": str(vol), "options": ["rbind"]}
    else:
        m = {"destination": "/evil", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}
    b.config["mounts"].append(m)
    b.save()
    out = run_out(oci, b)
    assert "wrote" in out
    assert "host-file" not in out
    if kind == "bind":
        assert "from the volume" in out
        assert (vol / "written").exists()  # the volume was mounted where the symlink led
    # the host is untouched; the mount point was made inside the rootfs
    assert sorted(os.listdir(host)) == ["host-file"]
    inside = b.rootfs + target
    assert os.path.isdir(inside)
    if kind == "tmpfs":
        assert os.listdir(inside) == []  # "written" went to the tmpfs


def test_cve_2024_21626_only_stdio_reaches_the_container(oci, make_bundle):
    b = make_bundle(sh("ls /proc/$$/fd; true"))  # `; true`: sh forks ls, $$ stays sh
    assert run_out(oci, b).split() == ["0", "1", "2"]


def test_cve_2024_21626_preserve_fds_adds_exactly_fd_3(oci, make_bundle, tmp_path):
    passed = tmp_path / "passed"
    passed.write_text("preserved\n")
    b = make_bundle(sh("ls /proc/$$/fd; cat <&3; true"))
    r = oci.cli_ok("run", "--preserve-fds", "1", "--bundle", b.path, oci.new_id(), fd3=str(passed))
    assert r.stdout.split() == ["0", "1", "2", "3", "preserved"]


def test_cve_2024_21626_exec_gets_only_stdio(oci, make_bundle):
    b = make_bundle(["sleep", "30"])
    cid = oci.new_id("fds")
    oci.cli_ok("run", "--detach", "--bundle", b.path, cid)
    try:
        r = oci.cli_ok("exec", cid, "sh", "-c", "ls /proc/$$/fd; true")
        assert r.stdout.split() == ["0", "1", "2"]
    finally:
        oci.cli("delete", "--force", cid)


# inside the root iff the cwd is the directory that `pwd -P` names from "/"
CWD_CHECK = 'p=$(pwd -P) && [ "$(stat -c %d:%i .)" = "$(stat -c %d:%i "$p")" ] && echo "inside $p"'


def test_cve_2024_21626_cwd_through_proc_self_fd(oci, make_bundle):
    for n in range(3, 10):
        b = make_bundle(sh(CWD_CHECK))
        b.config["process"]["cwd"] = f"/proc/self/fd/{n}"
        b.save()
        cid = oci.new_id("cwd")
        r = oci.cli("run", "--bundle", b.path, cid)
        if r.returncode == 0:
            assert r.stdout.startswith("inside /"), (n, r.stdout, r.stderr)
        else:
            # named as the config names it, whatever step refused it
            assert_one_line_error(r, "/process/cwd", f"/proc/self/fd/{n}")
            assert leftovers(oci, b, (cid,)) == []


def test_cve_2024_21626_exec_cwd_through_proc_self_fd(oci, make_bundle):
    b = make_bundle(["sleep", "30"])
    cid = oci.new_id("cwd")
    oci.cli_ok("run", "--detach", "--bundle", b.path, cid)
    try:
        for n in range(3, 10):
            r = oci.cli("exec", "--cwd", f"/proc/self/fd/{n}", cid, "sh", "-c", CWD_CHECK)
            if r.returncode == 0:
                assert r.stdout.startswith("inside /"), (n, r.stdout, r.stderr)
            else:
                assert_one_line_error(r, "cwd", f"/proc/self/fd/{n}")
        assert oci.state(cid)["status"] == "running"
    finally:
        oci.cli("delete", "--force", cid)


def test_cwd_symlink_climbing_out_stays_at_container_root(oci, make_bundle):
    b = make_bundle(sh(CWD_CHECK + "; ls"))
    os.symlink("../" * 16, os.path.join(b.rootfs, "up"))
    b.config["process"]["cwd"] = "/up"
    b.save()
    out = run_out(oci, b).split()
    assert out[:2] == ["inside", "/"], out
    assert sorted(out[2:]) == sorted(os.listdir(b.rootfs))


@pytest.mark.parametrize("target", ["host", "rootfs"])
def test_cve_2019_16884_sysctl_not_redirected_by_proc_symlink(oci, make_bundle, tmp_path, target):
    # rootfs/proc is a symlink to a directory holding a decoy sys/net/ipv4/ip_forward,
    # both at a host path and at the same path inside the rootfs
    fake = tmp_path / "fake-proc"
    host_decoy = fake / "sys" / "net" / "ipv4" / "ip_forward"
    host_decoy.parent.mkdir(parents=True)
    host_decoy.write_text("decoy on the host\n")
    b = make_bundle(["cat", "/proc/sys/net/ipv4/ip_forward"])
    in_root = b.rootfs + (str(fake) if target == "host" else "/fake-proc")
    root_decoy = os.path.join(in_root, "sys", "net", "ipv4", "ip_forward")
    os.makedirs(os.path.dirname(root_decoy))
    with open(root_decoy, "w") as f:
        f.write("decoy in the rootfs\n")
    os.rmdir(os.path.join(b.rootfs, "proc"))
    os.symlink(str(fake) if target == "host" else "fake-proc", os.path.join(b.rootfs, "proc"))
    b.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    b.save()
    host = read_host("/proc/sys/net/ipv4/ip_forward")
    cid = oci.new_id("proc")
    r = oci.cli("run", "--bundle", b.path, cid)
    if r.returncode == 0:
        assert r.stdout.strip() == "1"  # procfs landed inside, the sysctl went to our netns
    else:
        assert_one_line_error(r)  # refusing a symlinked /proc is fine too
        assert leftovers(oci, b, (cid,)) == []
    assert host_decoy.read_text() == "decoy on the host\n"
    with open(root_decoy) as f:
        assert f.read() == "decoy in the rootfs\n"
    assert read_host("/proc/sys/net/ipv4/ip_forward") == host


MASK_CHECK = "cat /etc/secret; echo pwned > /etc/secret; stat -c '%F %t:%T' /etc/secret; echo end"


@pytest.mark.parametrize("setup", ["symlink-no-dev-mount", "file-bind-dev", "symlink-bind-dev"])
def test_cve_2025_31133_masked_paths_use_the_real_dev_null(oci, make_bundle, tmp_path, setup):
    decoy = tmp_path / "decoy"
    decoy.write_text("decoy\n")
    b = make_bundle(sh(MASK_CHECK))
    with open(os.path.join(b.rootfs, "etc", "secret"), "w") as f:
        f.write("secret\n")
    b.config["linux"]["maskedPaths"].append("/etc/secret")
    b.config["mounts"] = [m for m in b.config["mounts"] if not m["destination"].startswith("/dev")]
    if setup == "symlink-no-dev-mount":
        null = os.path.join(b.rootfs, "dev", "null")
    else:
        devdir = tmp_path / "dev"
        devdir.mkdir()
        null = str(devdir / "null")
        b.config["mounts"].append(
            {"destination": "/dev", "type": "bind", "source": str(devdir), "options": ["rbind"]}
        )
    if setup == "file-bind-dev":
        with open(null, "w") as f:
            f.write("decoy\n")
        decoy = devdir / "null"
    else:
        os.symlink(str(decoy), null)
    b.save()
    out = run_out(oci, b).splitlines()
    assert out == ["character special file 1:3", "end"], out
    assert decoy.read_text() == "decoy\n"
    with open(os.path.join(b.rootfs, "etc", "secret")) as f:
        assert f.read() == "secret\n"


def test_python_ignored_signals_do_not_leak(oci, make_bundle):
    b = make_bundle(sh("grep -E '^Sig(Ign|Blk)' /proc/self/status; yes | head -n 1"))
    out = run_out(oci, b, timeout=15)  # with SIGPIPE ignored `yes` would never end
    st = status_fields(out)
    assert st["SigIgn"] == "0000000000000000", out
    assert st["SigBlk"] == "0000000000000000", out
    assert out.splitlines()[-1] == "y"


def test_signals_ignored_by_the_caller_do_not_leak(oci, make_bundle):
    # a caller started under nohup (SIGHUP ignored) or with SIGINT ignored
    def ignore():
        for s in (signal.SIGHUP, signal.SIGINT, signal.SIGPIPE, signal.SIGUSR1):
            signal.signal(s, signal.SIG_IGN)

    # grep itself is pid 1: busybox sh, as pid 1, would ignore SIGQUIT for what it execs
    b = make_bundle(["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"])
    st = status_fields(run_out(oci, b, preexec_fn=ignore))
    assert st["SigIgn"] == "0000000000000000"
    assert st["SigBlk"] == "0000000000000000"


def test_exec_process_signals_are_default(oci, make_bundle):
    b = make_bundle(["sleep", "30"])
    cid = oci.new_id("sig")
    oci.cli_ok("run", "--detach", "--bundle", b.path, cid)
    try:
        r = oci.cli_ok("exec", cid, "sh", "-c", "grep SigIgn /proc/self/status; yes | head -n 1")
        assert r.stdout.split() == ["SigIgn:", "0000000000000000", "y"]
    finally:
        oci.cli("delete", "--force", cid)


# ---- 8. denial of service from the image's files ----------------------------------------------


def replace_in_rootfs(b, rel: str, kind: str) -> None:
    """Make the rootfs's ``rel`` hostile.  The bundle's rootfs hard-links the
    session's busybox tree: unlink first, never write through the old name."""
    path = os.path.join(b.rootfs, rel)
    os.unlink(path)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 5))  # a /dev/zero of its own
    elif kind == "big":
        with open(path, "wb") as f:
            f.write(b"x:x:1:1::/x:/bin/sh\n" * ((17 << 20) // 20))  # 17 MiB of short lines
    elif kind == "no-newline":
        with open(path, "wb") as f:
            f.truncate(200 << 20)  # sparse: 200 MB of NULs, no newline
    else:
        os.symlink(kind, path)  # absolute: resolved inside the container, after pivot_root


def hostile_bundle(make_bundle, args):
    """No HOME in the env, so the init looks it up in /etc/passwd; a memory
    limit, so that a runtime reading without bound is stopped at 256 MiB."""
    b = make_bundle(args)
    b.config["process"]["env"] = ["PATH=/bin"]
    b.config["linux"].setdefault("resources", {})["memory"] = {"limit": 256 << 20}
    b.save()
    return b


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "device", "no-newline", "big"])
def test_hostile_etc_passwd_fails_create_in_one_line(oci, make_bundle, kind):
    """The image's /etc/passwd (read for $HOME) may be /dev/zero, a FIFO or one
    endless line: the init must not read it to its memory limit nor hang on
    it, and create fails at once naming the file."""
    b = hostile_bundle(make_bundle, ["true"])
    replace_in_rootfs(b, "etc/passwd", kind)
    cid = oci.new_id("pw")
    r = oci.cli("create", "--bundle", b.path, cid, timeout=30)
    want = {"no-newline": "token too long", "big": "larger than 16 MiB"}.get(
        kind, "not a regular file"
    )
    assert_one_line_error(r, "/etc/passwd", want)
    assert leftovers(oci, b, (cid,)) == []


def test_hostile_etc_passwd_does_not_hang_exec(oci, make_bundle):
    """A container's process can make its own /etc/passwd a FIFO: the engine's
    next exec must fail in one line, not block forever in open(2)."""
    b = hostile_bundle(make_bundle, ["sleep", "60"])
    cid = oci.new_id("pw")
    oci.run_detached(b, cid)
    oci.cli_ok("exec", cid, "sh", "-c", "rm /etc/passwd && mkfifo /etc/passwd")
    r = oci.cli("exec", cid, "true", timeout=30)
    assert_one_line_error(r, "/etc/passwd", "not a regular file", code=255)
    assert oci.state(cid)["status"] == "running"


def test_passwd_not_read_when_home_is_set(oci, make_bundle):
    """As runc: $HOME from the config wins, and then /etc/passwd is not opened."""
    b = hostile_bundle(make_bundle, sh("echo $HOME"))
    b.config["process"]["env"].append("HOME=/home/x")
    b.save()
    replace_in_rootfs(b, "etc/passwd", "fifo")
    assert run_out(oci, b, timeout=30).strip() == "/home/x"


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "device"])
def test_hostile_etc_group_is_never_read(oci, make_bundle, kind):
    """Users and groups are numeric in the config: the runtime never reads the
    image's /etc/group (the kernel's view is checked: busybox's id reads it)."""
    b = hostile_bundle(make_bundle, ["cat", "/proc/self/status"])
    b.config["process"]["user"] = {"uid": 65534, "gid": 65534, "additionalGids": [5]}
    b.save()
    replace_in_rootfs(b, "etc/group", kind)
    got = status_fields(run_out(oci, b, timeout=30))
    assert (got["Uid"].split()[0], got["Gid"].split()[0], got["Groups"]) == ("65534", "65534", "5")


# paths in the rootfs the runtime mounts on, creates, reads or enters; with
# the /dev tmpfs dropped for those under /dev, so that the rootfs's own /dev
# is the one the runtime works in
TOUCHED = [
    "proc",
    "sys",
    "sys/fs/cgroup",
    "dev",
    "dev/pts",
    "dev/shm",
    "dev/mqueue",
    "dev/null",
    "dev/ptmx",
    "dev/console",
    "etc/passwd",
    "work",
    "etc",
]


@pytest.mark.parametrize("target", ["absolute", "relative"])
@pytest.mark.parametrize("rel", TOUCHED)
def test_a_symlink_anywhere_the_runtime_looks_stays_in_the_rootfs(
    oci, make_bundle, tmp_path, rel, target
):
    """Issue 18 item 4: the image replaces a path the runtime touches with a
    symlink to a host directory (absolute, or climbing with ..).  The
    container runs, or create fails in one line; either way nothing on the
    host is created, written or mounted on, and the process never sees the
    host's files (the decoy passwd's home is not taken)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:root:/host-home:/bin/sh\n")
    (outside / "MARKER").write_text("")
    look = (
        "echo HOME=$HOME; ls -a /proc /sys /sys/fs/cgroup; "
        "find / -path /proc -prune -o -path /sys -prune -o -name MARKER -print"
    )
    b = make_bundle(sh(look))
    b.config["process"]["env"] = ["PATH=/bin"]
    b.config["process"]["terminal"] = False
    if rel.startswith("dev"):
        b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/dev"]
        if rel == "dev/console":
            b.config["process"]["terminal"] = True
    if rel == "work":
        b.config["process"]["cwd"] = "/work"
    b.save()
    path = os.path.join(b.rootfs, rel)
    if os.path.lexists(path):
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    dest = str(outside / "passwd") if rel == "etc/passwd" else str(outside)
    if target == "relative":
        dest = "../" * (rel.count("/") + 12) + dest.lstrip("/")
    os.symlink(dest, path)
    cid = oci.new_id("ln")
    if b.config["process"]["terminal"]:
        r = _run_with_console(oci, b, cid, tmp_path)
    else:
        r = oci.cli("run", "--bundle", b.path, cid, timeout=60)
    if r.returncode != 0:
        assert_one_line_error(r)
    else:
        assert "/host-home" not in r.stdout and "MARKER" not in r.stdout, r.stdout
    assert sorted(os.listdir(outside)) == ["MARKER", "passwd"]
    with open(outside / "passwd") as f:
        assert f.read() == "root:x:0:0:root:/host-home:/bin/sh\n"
    with open("/proc/self/mountinfo") as f:
        assert str(outside) not in f.read()
    oci.cli("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def _run_with_console(oci, b, cid: str, tmp_path) -> subprocess.CompletedProcess:
    """``run -d`` with a console socket that takes the pty master and drains it."""
    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen()
    got: list[int] = []

    def accept() -> None:
        srv.settimeout(60)
        try:
            c, _ = srv.accept()
        except OSError:
            return
        _, fds, _, _ = socket.recv_fds(c, 256, 1)
        got.extend(fds)
        c.close()

    t = threading.Thread(target=accept)
    t.start()
    try:
        r = oci.cli("run", "-d", "--console-socket", path, "--bundle", b.path, cid, timeout=60)
    finally:
        srv.close()
        t.join(60)
        for fd in got:
            os.close(fd)
    r.stdout = ""  # the process's output went to the pty
    return r
