"""Tests for schemas/*.json and ociruntime.config.validate.

Every corpus entry is checked three ways, which must agree on valid/invalid:

  (a) our schema (schemas/*.json) through jsonschema,
  (b) the official runtime-spec schema through jsonschema,
  (c) our validator (ociruntime.config.validate),

and for invalid entries (c) must name the exact pointer and message.

Known, documented differences are declared per entry (``official=`` /
``ours_schema=`` plus ``why=``); everything else must agree.  The official
schema installed on Debian 12 (golang-github-opencontainers-specs-dev
1.0.2.118) predates runtime-spec v1.2, so it does not know about fields added
since (scheduler, ioPriority, execCPUAffinity, timeOffsets, netDevices, the
time namespace, the loong64 seccomp arch); it allows unknown fields, so it
accepts bad values there.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ociruntime.config import genschema, schema_data
from ociruntime.config.validate import (
    Validator,
    validate_config,
    validate_process,
    validate_resources,
    validate_state,
)
from ociruntime.errors import SpecError

REPO = Path(__file__).resolve().parents[2]
OUR_SCHEMAS = REPO / "schemas"
OFFICIAL_DIR = Path("/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema")

UINT32 = "expected an integer between 0 and 4294967295"
UINT64 = "expected an integer between 0 and 18446744073709551615"
INT64 = "expected an integer between -9223372036854775808 and 9223372036854775807"
INT32 = "expected an integer between -2147483648 and 2147483647"
SEMVER = 'expected a semantic version such as "1.2.0"'

# Reasons for documented differences, referenced by the corpus entries.
PRE_V12 = "the installed official schema predates runtime-spec v1.2 and ignores this field"
NOT_SEMVER = "official schema accepts any string as ociVersion; ours requires SemVer"
MAJOR_1 = "this runtime implements 1.x only: validate_config rejects other majors in code"
ARGS_EMPTY = "config.md requires at least one args entry; the official schema does not check"
NO_DOMAIN = "config-linux.md requires personality.domain; the official schema does not check"
FLOAT_INT = "draft 2020-12 counts 1.0 as an integer; our validator (like Go and draft-04) does not"
DOLLAR = "jsonschema's re lets $ match before a trailing newline; ours anchors at the end"
OTHER_OS = (
    "we validate the linux platform only; the official schema also checks windows, solaris, vm, zos"
)
EMPTY_KEY = "official mapStringString only checks keys matching .{1,}; ours checks all keys"
R_PROPAGATION = "containerd's CRI writes rslave/rshared and runc accepts them; the spec lists only the bare forms"
FILE_MODE = (
    "podman --privileged sends each host device's whole st_mode (S_IFCHR|0600 = 8576) and runc "
    "accepts any uint32; the official schema caps fileMode at 512; the permission bits are used"
)

# ---------------------------------------------------------------------------
# corpus
# ---------------------------------------------------------------------------

_DELETE = object()


@dataclass
class Case:
    name: str
    doc: object
    valid: bool  # the verdict of our validator (c)
    pointer: str | None = None  # (c)'s pointer, for invalid entries
    msg: str | None = None  # (c)'s message, for invalid entries
    official: bool | None = None  # (b)'s verdict when it differs from `valid`
    ours_schema: bool | None = None  # (a)'s verdict when it differs from `valid`
    why: str = ""
    marks: list = field(default_factory=list)

    def param(self):
        return pytest.param(self, id=self.name, marks=self.marks)


def mutate(base: object, ptr: str, value: object = _DELETE) -> object:
    """A deep copy of ``base`` with the value at JSON pointer ``ptr`` set or deleted."""
    doc = copy.deepcopy(base)
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]
    parent = doc
    for p in parts[:-1]:
        parent = parent[int(p)] if isinstance(parent, list) else parent[p]
    last = parts[-1]
    if isinstance(parent, list):
        if value is _DELETE:
            del parent[int(last)]
        elif last == "-":
            parent.append(value)
        else:
            parent[int(last)] = value
    elif value is _DELETE:
        del parent[last]
    else:
        parent[last] = value
    return doc


def merge(base: dict, **changes: object) -> dict:
    doc = copy.deepcopy(base)
    doc.update(changes)
    return doc


CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
]
ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"]
MASKED = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/fs/selinux",
    "/sys/dev/block",
]
READONLY = [
    "/proc/asound",
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
]
ALLOWED_SYSCALLS = [
    "accept",
    "accept4",
    "access",
    "arch_prctl",
    "bind",
    "brk",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "clock_gettime",
    "clock_nanosleep",
    "close",
    "connect",
    "dup",
    "dup2",
    "dup3",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fchdir",
    "fchmod",
    "fchown",
    "fcntl",
    "fstat",
    "fstatfs",
    "futex",
    "getcwd",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getpid",
    "getppid",
    "getrandom",
    "getuid",
    "ioctl",
    "kill",
    "lseek",
    "madvise",
    "mkdirat",
    "mmap",
    "mprotect",
    "munmap",
    "nanosleep",
    "newfstatat",
    "openat",
    "openat2",
    "pipe2",
    "poll",
    "prctl",
    "pread64",
    "prlimit64",
    "pwrite64",
    "read",
    "readlinkat",
    "recvfrom",
    "recvmsg",
    "rename",
    "renameat2",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "sendmsg",
    "sendto",
    "set_robust_list",
    "set_tid_address",
    "setgid",
    "setgroups",
    "setsockopt",
    "setuid",
    "socket",
    "statx",
    "sysinfo",
    "tgkill",
    "umask",
    "uname",
    "unlinkat",
    "wait4",
    "write",
    "writev",
]

# What podman 4.x writes (trimmed): absolute rootfs, systemd cgroupsPath,
# joined netns, a long seccomp profile, an OCI hook from hooks.d.
PODMAN = {
    "ociVersion": "1.0.2-dev",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0, "umask": 18, "additionalGids": [0, 1, 2, 3, 4, 6, 10]},
        "args": ["/bin/sh", "-c", "echo hello"],
        "env": [*ENV, "container=podman", "HOSTNAME=5d4c0b6ef6b1"],
        "cwd": "/",
        "capabilities": {"bounding": CAPS, "effective": CAPS, "permitted": CAPS},
        "rlimits": [
            {"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576},
            {"type": "RLIMIT_NPROC", "hard": 4194304, "soft": 4194304},
        ],
        "oomScoreAdj": 0,
        "apparmorProfile": "containers-default-0.50.1",
    },
    "root": {"path": "/var/lib/containers/storage/overlay/3f1e0a9c/merged"},
    "hostname": "5d4c0b6ef6b1",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/etc/hosts", "type": "bind", "source": "/run/containers/storage/overlay-containers/5d4c/userdata/hosts", "options": ["bind", "rprivate"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "hooks": {
        "createRuntime": [
            {"path": "/usr/bin/nvidia-container-runtime-hook", "args": ["nvidia-container-runtime-hook", "prestart"], "env": ["PATH=/usr/bin"], "timeout": 30}
        ],
    },
    "annotations": {
        "io.container.manager": "libpod",
        "io.podman.annotations.autoremove": "FALSE",
        "org.opencontainers.image.stopSignal": "15",
    },
    "linux": {
        "sysctl": {"net.ipv4.ping_group_range": "0 0"},
        "resources": {
            "devices": [{"allow": False, "access": "rwm"}],
            "pids": {"limit": 2048},
        },
        "cgroupsPath": "machine.slice:libpod:5d4c0b6ef6b1",
        "namespaces": [
            {"type": "pid"},
            {"type": "network", "path": "/run/netns/netns-0d5a2c9e"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
            {"type": "cgroup"},
        ],
        "seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["bdflush", "io_pgetevents", "kexec_file_load", "kexec_load", "migrate_pages"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ALLOWED_SYSCALLS, "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            ],
        },
        "maskedPaths": MASKED,
        "readonlyPaths": READONLY,
    },
}  # fmt: skip

# What containerd's CRI plugin writes for a pod sandbox / container (trimmed).
CONTAINERD = {
    "ociVersion": "1.1.0",
    "process": {
        "user": {"uid": 65535, "gid": 65535, "additionalGids": [65535]},
        "args": ["/pause"],
        "env": ENV[:1],
        "cwd": "/",
        "capabilities": {"bounding": CAPS[:5], "effective": CAPS[:5], "permitted": CAPS[:5]},
        "noNewPrivileges": True,
        "oomScoreAdj": -998,
    },
    "root": {"path": "rootfs", "readonly": True},
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "bind", "source": "/run/containerd/io.containerd.grpc.v1.cri/sandboxes/9a1b/shm", "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]},
        {"destination": "/etc/resolv.conf", "type": "bind", "source": "/var/lib/containerd/sandboxes/9a1b/resolv.conf", "options": ["rbind", "ro"]},
    ],
    "annotations": {
        "io.kubernetes.cri.container-type": "sandbox",
        "io.kubernetes.cri.sandbox-id": "9a1b2c3d",
        "io.kubernetes.cri.sandbox-name": "coredns-5d78c9869d-abcde",
        "io.kubernetes.cri.sandbox-namespace": "kube-system",
    },
    "linux": {
        "resources": {
            "devices": [{"allow": False, "access": "rwm"}],
            "cpu": {"shares": 2, "quota": 50000, "period": 100000},
            "memory": {"limit": 178257920, "swap": 178257920},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}, {"pageSize": "1GB", "limit": 0}],
            "unified": {"memory.oom.group": "1"},
        },
        "cgroupsPath": "kubepods-burstable-pod1a2b.slice:cri-containerd:9a1b2c3d",
        "namespaces": [
            {"type": "pid"},
            {"type": "ipc", "path": "/proc/4242/ns/ipc"},
            {"type": "uts", "path": "/proc/4242/ns/uts"},
            {"type": "mount"},
            {"type": "network", "path": "/var/run/netns/cni-8c7d6e5f"},
        ],
        "maskedPaths": MASKED,
        "readonlyPaths": READONLY,
        "seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
            "syscalls": [{"names": ALLOWED_SYSCALLS[:40], "action": "SCMP_ACT_ALLOW"}],
        },
        "sysctl": {"net.ipv4.ip_unprivileged_port_start": "0"},
    },
}  # fmt: skip

# Every field the installed official schema knows, plus the v1.2 fields it
# ignores (scheduler, ioPriority, execCPUAffinity, timeOffsets, netDevices).
FULL = {
    "ociVersion": "1.2.0",
    "process": {
        "terminal": True,
        "consoleSize": {"height": 25, "width": 80},
        "user": {"uid": 1, "gid": 1, "umask": 63, "additionalGids": [5, 6], "username": "daemon"},
        "args": ["sh"],
        "commandLine": "sh -l",
        "env": ENV,
        "cwd": "/",
        "capabilities": {
            "bounding": CAPS,
            "effective": CAPS,
            "inheritable": [],
            "permitted": CAPS,
            "ambient": ["CAP_NET_BIND_SERVICE"],
        },
        "rlimits": [
            {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
            {"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 1024},
        ],
        "apparmorProfile": "acme_secure_profile",
        "selinuxLabel": "system_u:system_r:svirt_lxc_net_t:s0:c124,c675",
        "noNewPrivileges": True,
        "oomScoreAdj": 100,
        "scheduler": {
            "policy": "SCHED_DEADLINE",
            "nice": -5,
            "priority": 0,
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM"],
            "runtime": 10000000,
            "deadline": 20000000,
            "period": 20000000,
        },
        "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
        "execCPUAffinity": {"initial": "0", "final": "0-3,7"},
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "slartibartfast",
    "domainname": "example.com",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "idmap"],
         "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
         "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]},
    ],
    "hooks": {
        "prestart": [{"path": "/usr/bin/fix-mounts", "args": ["fix-mounts", "arg1"], "env": ["key1=value1"]}],
        "createRuntime": [{"path": "/usr/bin/setup-network"}],
        "createContainer": [{"path": "/usr/bin/mount-hook", "args": ["-mount"]}],
        "startContainer": [{"path": "/usr/bin/refresh-ldcache"}],
        "poststart": [{"path": "/usr/bin/notify-start", "timeout": 5}],
        "poststop": [{"path": "/usr/sbin/cleanup.sh", "args": ["cleanup.sh", "-f"]}],
    },
    "annotations": {"com.example.key1": "value1", "com.example.key2": "value2"},
    "linux": {
        "namespaces": [
            {"type": "pid"},
            {"type": "network"},
            {"type": "ipc"},
            {"type": "uts"},
            {"type": "mount"},
            {"type": "user"},
            {"type": "cgroup"},
        ],
        "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000}],
        "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 32000}],
        "timeOffsets": {"boottime": {"secs": 604800, "nanosecs": 0}, "monotonic": {"secs": -172800}},
        "devices": [
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
            {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0, "fileMode": 432},
        ],
        "netDevices": {"eth1": {"name": "eth0"}, "ens4": {}},
        "cgroupsPath": "/myRuntime/myContainer",
        "resources": {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"},
            ],
            "memory": {
                "limit": 536870912,
                "reservation": 536870912,
                "swap": -1,
                "kernel": -1,
                "kernelTCP": -1,
                "swappiness": 0,
                "disableOOMKiller": False,
                "useHierarchy": False,
                "checkBeforeUpdate": True,
            },
            "cpu": {
                "shares": 1024,
                "quota": -1,
                "burst": 1000,
                "period": 100000,
                "realtimeRuntime": 950000,
                "realtimePeriod": 1000000,
                "cpus": "2-3",
                "mems": "0-7",
                "idle": 1,
            },
            "blockIO": {
                "weight": 10,
                "leafWeight": 10,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}, {"major": 8, "minor": 16}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 60}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}],
            },
            "hugepageLimits": [{"pageSize": "2MB", "limit": 9223372036854772000}, {"pageSize": "64KB", "limit": 1000000}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
            "pids": {"limit": -1},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "mlx4_0": {}},
            "unified": {"memory.high": "max", "io.max": "8:0 rbps=1048576"},
        },
        "intelRdt": {
            "closID": "guaranteed_group",
            "l3CacheSchema": "L3:0=7f0;1=1f",
            "memBwSchema": "MB:0=20;1=70",
            "enableCMT": True,
            "enableMBM": True,
        },
        "sysctl": {"net.ipv4.ip_forward": "1", "net.core.somaxconn": "256"},
        "seccomp": {
            "defaultAction": "SCMP_ACT_KILL_PROCESS",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_RISCV64"],
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "listenerPath": "/run/seccomp-agent.sock",
            "listenerMetadata": "some-metadata",
            "syscalls": [
                {"names": ["getcwd", "chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"},
                {"names": ["ptrace"], "action": "SCMP_ACT_LOG"},
                {"names": ["kill"], "action": "SCMP_ACT_KILL_THREAD"},
                {"names": ["uname"], "action": "SCMP_ACT_TRACE"},
                {"names": ["reboot"], "action": "SCMP_ACT_TRAP"},
                {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_NE"}, {"index": 1, "value": 2, "valueTwo": 3, "op": "SCMP_CMP_GE"}]},
            ],
        },
        "rootfsPropagation": "slave",
        "maskedPaths": MASKED,
        "readonlyPaths": READONLY,
        "mountLabel": "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811",
        "personality": {"domain": "LINUX32", "flags": []},
    },
}  # fmt: skip


def _runc_spec(rootless: bool) -> dict | None:
    runc = shutil.which("runc")
    if runc is None:
        return None
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [runc, "spec"] + (["--rootless"] if rootless else [])
        if subprocess.run(cmd, cwd=tmp, capture_output=True).returncode != 0:
            return None
        with open(os.path.join(tmp, "config.json")) as f:
            return json.load(f)


def _our_default(rootless: bool) -> dict | None:
    try:
        from ociruntime.config.default import default_config
    except ImportError:
        return None
    return default_config(rootless)


RUNC = _runc_spec(False)
RUNC_ROOTLESS = _runc_spec(True)
NO_RUNC = pytest.mark.skipif(RUNC is None, reason="runc is not installed")


def good(name, doc, official=None, why="", ours_schema=None, marks=()):
    return Case(
        name, doc, True, official=official, ours_schema=ours_schema, why=why, marks=list(marks)
    )


def bad(name, doc, pointer, msg, official=None, why="", ours_schema=None, marks=()):
    return Case(name, doc, False, pointer, msg, official, ours_schema, why, list(marks))


def bad_at(name, base, ptr, value, msg, at=None, **kw):
    """``base`` with ``ptr`` set to ``value`` (or deleted); error expected at ``at or ptr``."""
    return bad(name, mutate(base, ptr, value), ptr if at is None else at, msg, **kw)


P, C, F = PODMAN, CONTAINERD, FULL
NS_ENUM = 'expected one of "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"'
ACTIONS = (
    'expected one of "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", '
    '"SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", '
    '"SCMP_ACT_NOTIFY"'
)
OPS = (
    'expected one of "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", '
    '"SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"'
)

CONFIG_CASES = [
    # --- valid documents ----------------------------------------------------
    good("runc-spec", RUNC, marks=[NO_RUNC]),
    good("runc-spec-rootless", RUNC_ROOTLESS, marks=[NO_RUNC]),
    good("ociruntime-default", _our_default(False)),
    good("ociruntime-default-rootless", _our_default(True)),
    good("podman", P),
    good("containerd", C),
    good("full", F),
    good("minimal", {"ociVersion": "1.2.0"}),
    good("minimal-process", {"ociVersion": "1.0.0", "process": {"cwd": "/"}}),
    good("prerelease-version", merge(P, ociVersion="1.0.0-rc.92")),
    good("build-metadata-version", merge(P, ociVersion="1.2.0+dev.1")),
    good("no-args", mutate(P, "/process/args")),
    good("no-process", mutate(P, "/process")),
    good("no-root", mutate(P, "/root")),
    good("unknown-top-level-field", merge(P, x_vendor={"anything": [1, 2]})),
    good("unknown-nested-fields", mutate(mutate(F, "/process/foo", 1), "/linux/resources/cpu/bar", "x")),
    good("windows-section", merge(P, windows={"layerFolders": ["C:\\layers\\base"]})),
    good("bad-windows-section-ignored", merge(P, windows={"layerFolders": []}), official=False, why=OTHER_OS),
    good("uid-max", mutate(P, "/process/user/uid", 4294967295)),
    good("rlimit-uint64-max", mutate(P, "/process/rlimits/0/hard", 18446744073709551615)),
    good("memory-limit-minus-one", mutate(C, "/linux/resources/memory/limit", -1)),
    good("empty-arrays", mutate(mutate(P, "/mounts", []), "/linux/namespaces", [])),
    good("empty-annotation-value", mutate(P, "/annotations/x", "")),
    good("namespace-with-path", mutate(F, "/linux/namespaces/-", {"type": "cgroup", "path": "/proc/1/ns/cgroup"})),
    good("time-namespace", mutate(F, "/linux/namespaces/-", {"type": "time"}), official=False, why=PRE_V12),
    good("loongarch64", mutate(P, "/linux/seccomp/architectures/-", "SCMP_ARCH_LOONGARCH64"), official=False, why=PRE_V12),
    good("all-rootfs-propagations", mutate(F, "/linux/rootfsPropagation", "unbindable")),
    good("hook-timeout-1", mutate(P, "/hooks/createRuntime/0/timeout", 1)),
    good("device-filemode-512", mutate(F, "/linux/devices/0/fileMode", 512)),
    good("device-filemode-st-mode", mutate(F, "/linux/devices/0/fileMode", 0o20600), official=False, why=FILE_MODE),
    # --- ociVersion -----------------------------------------------------------
    bad("no-ociVersion", mutate(P, "/ociVersion"), "", 'missing required field "ociVersion"'),
    bad_at("ociVersion-int", P, "/ociVersion", 1, SEMVER),
    bad_at("ociVersion-null", P, "/ociVersion", None, SEMVER),
    bad_at("ociVersion-garbage", P, "/ociVersion", "abc", SEMVER, official=True, why=NOT_SEMVER),
    bad_at("ociVersion-empty", P, "/ociVersion", "", SEMVER, official=True, why=NOT_SEMVER),
    bad_at("ociVersion-two-parts", P, "/ociVersion", "1.2", SEMVER, official=True, why=NOT_SEMVER),
    bad_at("ociVersion-v-prefix", P, "/ociVersion", "v1.2.0", SEMVER, official=True, why=NOT_SEMVER),
    bad_at("ociVersion-major-2", P, "/ociVersion", "2.0.0", 'expected version 1.x.y, got "2.0.0"',
           official=True, ours_schema=True, why=MAJOR_1),
    bad_at("ociVersion-major-0", P, "/ociVersion", "0.5.0-dev", 'expected version 1.x.y, got "0.5.0-dev"',
           official=True, ours_schema=True, why=MAJOR_1),
    bad_at("ociVersion-trailing-newline", P, "/ociVersion", "1.2.0\n", SEMVER,
           official=True, ours_schema=True, why=DOLLAR),
    # --- document shape -------------------------------------------------------
    bad("not-an-object-list", [P], "", "expected an object"),
    bad("not-an-object-string", "config", "", "expected an object"),
    bad("not-an-object-null", None, "", "expected an object"),
    bad_at("hostname-int", P, "/hostname", 1, "expected a string"),
    bad_at("hostname-null", P, "/hostname", None, "expected a string"),
    bad_at("domainname-bool", F, "/domainname", False, "expected a string"),
    bad_at("annotations-list", P, "/annotations", ["a=b"], "expected an object"),
    bad_at("annotation-int", P, "/annotations/org.opencontainers.image.stopSignal", 15, "expected a string"),
    bad_at("annotation-empty-key", P, "/annotations/", 1, "expected a string", official=True, why=EMPTY_KEY),
    bad_at("annotation-key-escaping", P, "/annotations/a~1b~0c", None, "expected a string"),
    # --- process ----------------------------------------------------------------
    bad_at("process-list", P, "/process", [], "expected an object"),
    bad_at("process-no-cwd", P, "/process/cwd", _DELETE, 'missing required field "cwd"', at="/process"),
    bad_at("cwd-int", P, "/process/cwd", 5, "expected a string"),
    bad_at("args-empty", P, "/process/args", [], "expected a non-empty array", official=True, why=ARGS_EMPTY),
    bad_at("args-string", P, "/process/args", "sh", "expected a non-empty array"),
    bad_at("args-null", P, "/process/args", None, "expected a non-empty array"),
    bad_at("args-item-int", P, "/process/args/1", 1, "expected a string"),
    bad_at("env-string", P, "/process/env", "PATH=/bin", "expected an array"),
    bad_at("env-item-null", P, "/process/env/0", None, "expected a string"),
    bad_at("terminal-string", P, "/process/terminal", "yes", "expected a boolean"),
    bad_at("terminal-int", P, "/process/terminal", 1, "expected a boolean"),
    bad_at("user-string", P, "/process/user", "root", "expected an object"),
    bad_at("uid-negative", P, "/process/user/uid", -1, UINT32),
    bad_at("uid-string", P, "/process/user/uid", "0", UINT32),
    bad_at("uid-too-big", P, "/process/user/uid", 4294967296, UINT32),
    bad_at("uid-bool", P, "/process/user/uid", True, UINT32),
    bad_at("uid-fraction", P, "/process/user/uid", 1.5, UINT32),
    bad_at("uid-float-integral", P, "/process/user/uid", 0.0, UINT32, ours_schema=True, why=FLOAT_INT),
    bad_at("gid-negative", P, "/process/user/gid", -5, UINT32),
    bad_at("umask-negative", P, "/process/user/umask", -1, UINT32),
    bad_at("additionalGids-string-item", P, "/process/user/additionalGids/2", "2", UINT32),
    bad_at("additionalGids-int", P, "/process/user/additionalGids", 5, "expected an array"),
    bad_at("username-int", F, "/process/user/username", 1, "expected a string"),
    bad_at("capabilities-list", P, "/process/capabilities", CAPS, "expected an object"),
    bad_at("capabilities-bounding-string", P, "/process/capabilities/bounding", "CAP_KILL", "expected an array"),
    bad_at("capabilities-ambient-item", F, "/process/capabilities/ambient/0", 12, "expected a string"),
    bad_at("rlimits-object", P, "/process/rlimits", {"RLIMIT_NOFILE": 1}, "expected an array"),
    bad_at("rlimit-no-hard", P, "/process/rlimits/0/hard", _DELETE, 'missing required field "hard"', at="/process/rlimits/0"),
    bad_at("rlimit-no-type", P, "/process/rlimits/1/type", _DELETE, 'missing required field "type"', at="/process/rlimits/1"),
    bad_at("rlimit-lowercase", P, "/process/rlimits/0/type", "nofile", 'expected an rlimit name such as "RLIMIT_NOFILE"'),
    bad_at("rlimit-trailing-newline", P, "/process/rlimits/0/type", "RLIMIT_NOFILE\n",
           'expected an rlimit name such as "RLIMIT_NOFILE"', official=True, ours_schema=True, why=DOLLAR),
    bad_at("rlimit-type-int", P, "/process/rlimits/0/type", 7, 'expected an rlimit name such as "RLIMIT_NOFILE"'),
    bad_at("rlimit-soft-negative", P, "/process/rlimits/0/soft", -1, UINT64),
    bad_at("rlimit-hard-string", P, "/process/rlimits/1/hard", "unlimited", UINT64),
    bad_at("noNewPrivileges-int", P, "/process/noNewPrivileges", 1, "expected a boolean"),
    bad_at("oomScoreAdj-string", P, "/process/oomScoreAdj", "0", "expected an integer"),
    bad_at("oomScoreAdj-fraction", P, "/process/oomScoreAdj", 0.5, "expected an integer"),
    bad_at("apparmorProfile-int", P, "/process/apparmorProfile", 1, "expected a string"),
    bad_at("selinuxLabel-list", F, "/process/selinuxLabel", [], "expected a string"),
    bad_at("consoleSize-no-width", F, "/process/consoleSize/width", _DELETE, 'missing required field "width"', at="/process/consoleSize"),
    bad_at("consoleSize-negative", F, "/process/consoleSize/height", -1, UINT64),
    bad_at("commandLine-list", F, "/process/commandLine", ["sh"], "expected a string"),
    # v1.2 process fields the installed official schema does not know
    bad_at("scheduler-no-policy", F, "/process/scheduler/policy", _DELETE, 'missing required field "policy"',
           at="/process/scheduler", official=True, why=PRE_V12),
    bad_at("scheduler-bad-policy", F, "/process/scheduler/policy", "fifo",
           'expected one of "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"',
           official=True, why=PRE_V12),
    bad_at("scheduler-bad-flag", F, "/process/scheduler/flags/1", "RESET_ON_FORK",
           'expected one of "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN", '
           '"SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN", "SCHED_FLAG_UTIL_CLAMP_MAX"',
           official=True, why=PRE_V12),
    bad_at("scheduler-nice-string", F, "/process/scheduler/nice", "-5", INT32, official=True, why=PRE_V12),
    bad_at("scheduler-runtime-negative", F, "/process/scheduler/runtime", -1, UINT64, official=True, why=PRE_V12),
    bad_at("ioPriority-bad-class", F, "/process/ioPriority/class", "best-effort",
           'expected one of "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"', official=True, why=PRE_V12),
    bad_at("ioPriority-no-class", F, "/process/ioPriority/class", _DELETE, 'missing required field "class"',
           at="/process/ioPriority", official=True, why=PRE_V12),
    bad_at("ioPriority-priority-too-big", F, "/process/ioPriority/priority", 2**31, INT32, official=True, why=PRE_V12),
    bad_at("execCPUAffinity-letters", F, "/process/execCPUAffinity/initial", "a-b",
           'expected a CPU list such as "0-3,7"', official=True, why=PRE_V12),
    # --- root, mounts, hooks -------------------------------------------------------
    bad_at("root-string", P, "/root", "rootfs", "expected an object"),
    bad_at("root-no-path", C, "/root/path", _DELETE, 'missing required field "path"', at="/root"),
    bad_at("root-path-null", C, "/root/path", None, "expected a string"),
    bad_at("root-readonly-string", C, "/root/readonly", "true", "expected a boolean"),
    bad_at("mounts-object", P, "/mounts", {"/proc": {}}, "expected an array"),
    bad_at("mount-not-object", P, "/mounts/2", "/sys", "expected an object"),
    bad_at("mount-no-destination", P, "/mounts/1/destination", _DELETE, 'missing required field "destination"', at="/mounts/1"),
    bad_at("mount-destination-int", P, "/mounts/0/destination", 0, "expected a string"),
    bad_at("mount-options-string", P, "/mounts/0/options", "ro,nosuid", "expected an array"),
    bad_at("mount-option-int", P, "/mounts/0/options/1", 1, "expected a string"),
    bad_at("mount-type-null", P, "/mounts/0/type", None, "expected a string"),
    bad_at("mount-source-list", P, "/mounts/0/source", ["proc"], "expected a string"),
    bad_at("mount-idmap-no-size", F, "/mounts/1/uidMappings/0/size", _DELETE, 'missing required field "size"', at="/mounts/1/uidMappings/0"),
    bad_at("mount-idmap-negative", F, "/mounts/1/gidMappings/0/hostID", -1, UINT32),
    bad_at("hooks-list", P, "/hooks", [], "expected an object"),
    bad_at("hooks-poststart-object", F, "/hooks/poststart", {"path": "/bin/true"}, "expected an array"),
    bad_at("hook-no-path", F, "/hooks/prestart/0/path", _DELETE, 'missing required field "path"', at="/hooks/prestart/0"),
    bad_at("hook-timeout-zero", F, "/hooks/poststart/0/timeout", 0, "expected an integer >= 1"),
    bad_at("hook-timeout-string", F, "/hooks/poststart/0/timeout", "5s", "expected an integer >= 1"),
    bad_at("hook-args-string", F, "/hooks/poststop/0/args", "cleanup.sh -f", "expected an array"),
    bad_at("hook-env-item", F, "/hooks/prestart/0/env/0", {"key1": "value1"}, "expected a string"),
    # --- linux ----------------------------------------------------------------------
    bad_at("linux-string", P, "/linux", "yes", "expected an object"),
    bad_at("namespaces-string", P, "/linux/namespaces", "pid", "expected an array"),
    bad_at("namespace-string", P, "/linux/namespaces/0", "pid", "expected an object"),
    bad_at("namespace-bad-type", P, "/linux/namespaces/2/type", "net", NS_ENUM),
    bad_at("namespace-type-int", P, "/linux/namespaces/2/type", 1, NS_ENUM),
    bad_at("namespace-no-type", P, "/linux/namespaces/1/type", _DELETE, 'missing required field "type"', at="/linux/namespaces/1"),
    bad_at("namespace-path-int", P, "/linux/namespaces/1/path", 4242, "expected a string"),
    bad_at("uidMappings-object", F, "/linux/uidMappings", {"containerID": 0}, "expected an array"),
    bad_at("uidMapping-no-size", F, "/linux/uidMappings/0/size", _DELETE, 'missing required field "size"', at="/linux/uidMappings/0"),
    bad_at("gidMapping-hostID-negative", F, "/linux/gidMappings/0/hostID", -1000, UINT32),
    bad_at("device-bad-type", F, "/linux/devices/0/type", "x", 'expected one of "c", "b", "u", "p"'),
    bad_at("device-no-path", F, "/linux/devices/1/path", _DELETE, 'missing required field "path"', at="/linux/devices/1"),
    bad_at("device-no-type", F, "/linux/devices/1/type", _DELETE, 'missing required field "type"', at="/linux/devices/1"),
    bad_at("device-filemode-negative", F, "/linux/devices/0/fileMode", -1, UINT32),
    bad_at("device-filemode-too-big", F, "/linux/devices/0/fileMode", 2**32, UINT32),
    bad_at("device-major-string", F, "/linux/devices/0/major", "10", INT64),
    bad_at("device-uid-negative", F, "/linux/devices/0/uid", -1, UINT32),
    bad_at("cgroupsPath-int", P, "/linux/cgroupsPath", 1, "expected a string"),
    good("rootfsPropagation-rslave", mutate(F, "/linux/rootfsPropagation", "rslave"), official=False,
         why=R_PROPAGATION),
    bad_at("rootfsPropagation-bogus", F, "/linux/rootfsPropagation", "recursive",
           'expected one of "private", "shared", "slave", "unbindable", "rprivate", "rshared", "rslave", '
           '"runbindable"'),
    bad_at("sysctl-int-value", P, "/linux/sysctl/net.ipv4.ip_forward", 1, "expected a string"),
    bad_at("sysctl-list", P, "/linux/sysctl", ["net.ipv4.ip_forward=1"], "expected an object"),
    bad_at("maskedPaths-string", P, "/linux/maskedPaths", "/proc/kcore", "expected an array"),
    bad_at("readonlyPaths-item-int", P, "/linux/readonlyPaths/3", 3, "expected a string"),
    bad_at("mountLabel-int", F, "/linux/mountLabel", 1, "expected a string"),
    bad_at("intelRdt-memBwSchema", F, "/linux/intelRdt/memBwSchema", "L3:0=ff", 'expected a string starting with "MB:"'),
    bad_at("intelRdt-enableCMT-string", F, "/linux/intelRdt/enableCMT", "true", "expected a boolean"),
    bad_at("personality-bad-domain", F, "/linux/personality/domain", "LINUX64", 'expected one of "LINUX", "LINUX32"'),
    bad_at("personality-flags-string", F, "/linux/personality/flags", "", "expected an array"),
    bad_at("personality-no-domain", F, "/linux/personality/domain", _DELETE, 'missing required field "domain"',
           at="/linux/personality", official=True, why=NO_DOMAIN),
    bad_at("timeOffsets-secs-string", F, "/linux/timeOffsets/boottime/secs", "1", INT64, official=True, why=PRE_V12),
    bad_at("timeOffsets-nanosecs-negative", F, "/linux/timeOffsets/monotonic/nanosecs", -1, UINT32, official=True, why=PRE_V12),
    bad_at("timeOffsets-list", F, "/linux/timeOffsets", [], "expected an object", official=True, why=PRE_V12),
    bad_at("netDevice-name-int", F, "/linux/netDevices/eth1/name", 1, "expected a string", official=True, why=PRE_V12),
    bad_at("netDevice-string", F, "/linux/netDevices/ens4", "eth0", "expected an object", official=True, why=PRE_V12),
    # --- linux.resources -----------------------------------------------------------
    bad_at("resources-list", P, "/linux/resources", [], "expected an object"),
    bad_at("pids-no-limit", P, "/linux/resources/pids/limit", _DELETE, 'missing required field "limit"', at="/linux/resources/pids"),
    bad_at("pids-limit-string", P, "/linux/resources/pids/limit", "max", INT64),
    bad_at("pids-limit-too-big", P, "/linux/resources/pids/limit", 2**63, INT64),
    bad_at("memory-limit-string", C, "/linux/resources/memory/limit", "170m", INT64),
    bad_at("memory-swappiness-negative", F, "/linux/resources/memory/swappiness", -1, UINT64),
    bad_at("memory-disableOOMKiller-int", F, "/linux/resources/memory/disableOOMKiller", 0, "expected a boolean"),
    bad_at("memory-checkBeforeUpdate-string", F, "/linux/resources/memory/checkBeforeUpdate", "yes", "expected a boolean"),
    bad_at("cpu-shares-negative", C, "/linux/resources/cpu/shares", -2, UINT64),
    bad_at("cpu-quota-fraction", C, "/linux/resources/cpu/quota", 0.5, INT64),
    bad_at("cpu-cpus-int", F, "/linux/resources/cpu/cpus", 2, "expected a string"),
    bad_at("cpu-idle-string", F, "/linux/resources/cpu/idle", "1", INT64),
    bad_at("blkio-weight-too-big", F, "/linux/resources/blockIO/weight", 70000, "expected an integer between 0 and 65535"),
    bad_at("blkio-weightDevice-no-minor", F, "/linux/resources/blockIO/weightDevice/1/minor", _DELETE,
           'missing required field "minor"', at="/linux/resources/blockIO/weightDevice/1"),
    bad_at("blkio-throttle-rate-negative", F, "/linux/resources/blockIO/throttleReadBpsDevice/0/rate", -1, UINT64),
    bad_at("blkio-throttle-no-major", F, "/linux/resources/blockIO/throttleWriteIOPSDevice/0/major", _DELETE,
           'missing required field "major"', at="/linux/resources/blockIO/throttleWriteIOPSDevice/0"),
    bad_at("hugepage-bad-size", C, "/linux/resources/hugepageLimits/0/pageSize", "2M", 'expected a page size such as "2MB"'),
    bad_at("hugepage-no-limit", C, "/linux/resources/hugepageLimits/1/limit", _DELETE,
           'missing required field "limit"', at="/linux/resources/hugepageLimits/1"),
    bad_at("network-classID-negative", F, "/linux/resources/network/classID", -1, UINT32),
    bad_at("network-priority-missing", F, "/linux/resources/network/priorities/0/priority", _DELETE,
           'missing required field "priority"', at="/linux/resources/network/priorities/0"),
    bad_at("devcgroup-no-allow", P, "/linux/resources/devices/0/allow", _DELETE,
           'missing required field "allow"', at="/linux/resources/devices/0"),
    bad_at("devcgroup-allow-string", P, "/linux/resources/devices/0/allow", "false", "expected a boolean"),
    bad_at("devcgroup-major-string", F, "/linux/resources/devices/1/major", "10", INT64),
    bad_at("rdma-negative", F, "/linux/resources/rdma/mlx5_1/hcaHandles", -1, UINT32),
    bad_at("rdma-entry-int", F, "/linux/resources/rdma/mlx4_0", 3, "expected an object"),
    bad_at("unified-int-value", C, "/linux/resources/unified/memory.oom.group", 1, "expected a string"),
    # --- linux.seccomp ----------------------------------------------------------------
    bad_at("seccomp-list", P, "/linux/seccomp", [], "expected an object"),
    bad_at("seccomp-no-defaultAction", P, "/linux/seccomp/defaultAction", _DELETE,
           'missing required field "defaultAction"', at="/linux/seccomp"),
    bad_at("seccomp-bad-defaultAction", P, "/linux/seccomp/defaultAction", "SCMP_ACT_DENY", ACTIONS),
    bad_at("seccomp-defaultErrnoRet-negative", P, "/linux/seccomp/defaultErrnoRet", -38, UINT32),
    bad_at("seccomp-bad-arch", P, "/linux/seccomp/architectures/0", "x86_64",
           'expected one of "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", '
           '"SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", '
           '"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", '
           '"SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", '
           '"SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64"'),
    bad_at("seccomp-bad-flag", C, "/linux/seccomp/flags/0", "TSYNC",
           'expected one of "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", '
           '"SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"'),
    bad_at("seccomp-listenerPath-int", F, "/linux/seccomp/listenerPath", 1, "expected a string"),
    bad_at("seccomp-syscalls-object", P, "/linux/seccomp/syscalls", {}, "expected an array"),
    bad_at("syscall-empty-names", P, "/linux/seccomp/syscalls/2/names", [], "expected a non-empty array"),
    bad_at("syscall-names-string", P, "/linux/seccomp/syscalls/2/names", "personality", "expected a non-empty array"),
    bad_at("syscall-name-int", P, "/linux/seccomp/syscalls/1/names/40", 59, "expected a string"),
    bad_at("syscall-no-action", P, "/linux/seccomp/syscalls/0/action", _DELETE,
           'missing required field "action"', at="/linux/seccomp/syscalls/0"),
    bad_at("syscall-no-names", P, "/linux/seccomp/syscalls/0/names", _DELETE,
           'missing required field "names"', at="/linux/seccomp/syscalls/0"),
    bad_at("syscall-bad-action", P, "/linux/seccomp/syscalls/1/action", "allow", ACTIONS),
    bad_at("syscall-errnoRet-string", P, "/linux/seccomp/syscalls/0/errnoRet", "EPERM", UINT32),
    bad_at("syscall-arg-bad-op", P, "/linux/seccomp/syscalls/2/args/0/op", "==", OPS),
    bad_at("syscall-arg-no-value", P, "/linux/seccomp/syscalls/3/args/0/value", _DELETE,
           'missing required field "value"', at="/linux/seccomp/syscalls/3/args/0"),
    bad_at("syscall-arg-no-op", P, "/linux/seccomp/syscalls/3/args/0/op", _DELETE,
           'missing required field "op"', at="/linux/seccomp/syscalls/3/args/0"),
    bad_at("syscall-arg-value-negative", P, "/linux/seccomp/syscalls/2/args/0/value", -1, UINT64),
    bad_at("syscall-arg-index-string", P, "/linux/seccomp/syscalls/2/args/0/index", "0", UINT32),
]  # fmt: skip

if RUNC is not None:
    CONFIG_CASES += [
        bad_at("runc-args-empty", RUNC, "/process/args", [], "expected a non-empty array", official=True, why=ARGS_EMPTY),
        bad_at("runc-bad-namespace", RUNC, "/linux/namespaces/0/type", "foo", NS_ENUM),
        bad_at("runc-mount-no-destination", RUNC, "/mounts/0/destination", _DELETE,
               'missing required field "destination"', at="/mounts/0"),
        bad_at("runc-rlimit-negative", RUNC, "/process/rlimits/0/soft", -1, UINT64),
        bad_at("runc-uid-string", RUNC, "/process/user/uid", "root", UINT32),
        bad("runc-no-ociVersion", mutate(RUNC, "/ociVersion"), "", 'missing required field "ociVersion"'),
    ]  # fmt: skip
if RUNC_ROOTLESS is not None:
    CONFIG_CASES += [
        bad_at("runc-rootless-mapping-no-size", RUNC_ROOTLESS, "/linux/uidMappings/0/size", _DELETE,
               'missing required field "size"', at="/linux/uidMappings/0"),
    ]  # fmt: skip
CONFIG_CASES = [c for c in CONFIG_CASES if c.doc is not None or not c.valid or c.marks]

STATE = {
    "ociVersion": "1.2.0",
    "id": "demo",
    "status": "running",
    "pid": 4422,
    "bundle": "/containers/redis",
    "annotations": {"myKey": "myValue"},
}
PAUSED = "runtime-spec has no 'paused' status; runc (and we) report it for frozen containers"
EMPTY_ID = "official schema accepts an empty id; ours requires a non-empty one"
STATE_CASES = [
    good("created", merge(STATE, status="created")),
    good("running", STATE),
    good("stopped-no-pid", mutate(merge(STATE, status="stopped"), "/pid")),
    good("stopped-pid-0", merge(STATE, status="stopped", pid=0)),
    good("creating", merge(STATE, status="creating")),
    good("paused", merge(STATE, status="paused"), official=False, why=PAUSED),
    good("no-annotations", mutate(STATE, "/annotations")),
    good("runc-extra-fields", merge(STATE, rootfs="/containers/redis/rootfs", created="2024-01-01T00:00:00Z", owner="")),
    bad("no-ociVersion", mutate(STATE, "/ociVersion"), "", 'missing required field "ociVersion"'),
    bad("no-id", mutate(STATE, "/id"), "", 'missing required field "id"'),
    bad("no-status", mutate(STATE, "/status"), "", 'missing required field "status"'),
    bad("no-bundle", mutate(STATE, "/bundle"), "", 'missing required field "bundle"'),
    bad_at("bad-status", STATE, "/status", "exited",
           'expected one of "creating", "created", "running", "paused", "stopped"'),
    bad_at("status-int", STATE, "/status", 1,
           'expected one of "creating", "created", "running", "paused", "stopped"'),
    bad_at("pid-negative", STATE, "/pid", -1, "expected an integer >= 0"),
    bad_at("pid-string", STATE, "/pid", "4422", "expected an integer >= 0"),
    bad_at("id-int", STATE, "/id", 7, "expected a non-empty string"),
    bad_at("id-empty", STATE, "/id", "", "expected a non-empty string", official=True, why=EMPTY_ID),
    bad_at("bundle-null", STATE, "/bundle", None, "expected a string"),
    bad_at("annotation-int", STATE, "/annotations/myKey", 1, "expected a string"),
    bad_at("ociVersion-garbage", STATE, "/ociVersion", "latest", SEMVER, official=True, why=NOT_SEMVER),
    bad("not-an-object", [STATE], "", "expected an object"),
]  # fmt: skip


# ---------------------------------------------------------------------------
# jsonschema validators for (a) and (b)
# ---------------------------------------------------------------------------


def _our_schema(file: str) -> dict:
    with open(OUR_SCHEMAS / file) as f:
        return json.load(f)


def _official_validator(file: str):
    jsonschema = pytest.importorskip("jsonschema")
    if not (OFFICIAL_DIR / file).is_file():
        pytest.skip(
            f"official runtime-spec schema not found in {OFFICIAL_DIR} "
            "(install golang-github-opencontainers-specs-dev)"
        )
    docs = {p.name: json.loads(p.read_text()) for p in OFFICIAL_DIR.glob("*.json")}
    root = docs[file]
    cls = jsonschema.validators.validator_for(root)
    try:
        from referencing import Registry
        from referencing.jsonschema import DRAFT4
    except ImportError:  # jsonschema < 4.18: RefResolver with a pre-filled store
        base = OFFICIAL_DIR.as_uri() + "/"
        store = {base + name: doc for name, doc in docs.items()}
        resolver = jsonschema.RefResolver(base_uri=base + file, referrer=root, store=store)
        return cls(root, resolver=resolver)
    # The files $ref each other by bare name ("defs.json#/..."): register them so.
    registry = Registry().with_resources(
        (name, DRAFT4.create_resource(doc)) for name, doc in docs.items()
    )
    return cls(root, registry=registry)


@pytest.fixture(scope="module")
def ours_config():
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(_our_schema("config-schema.json"))


@pytest.fixture(scope="module")
def ours_state():
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(_our_schema("state-schema.json"))


@pytest.fixture(scope="module")
def official_config():
    return _official_validator("config-schema.json")


@pytest.fixture(scope="module")
def official_state():
    return _official_validator("state-schema.json")


def _verdict(validator, doc) -> tuple[bool, str]:
    errors = list(validator.iter_errors(doc))
    detail = "; ".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:3])
    return not errors, detail


def _check_ours(case: Case, fn) -> None:
    if case.valid:
        fn(case.doc)
        return
    with pytest.raises(SpecError) as info:
        fn(case.doc)
    assert (info.value.pointer, info.value.msg) == (case.pointer, case.msg)


def _check_agreement(case: Case, validator, override: bool | None) -> None:
    expected = case.valid if override is None else override
    if override is not None:
        assert override != case.valid and case.why, "a documented difference needs a reason"
    ok, detail = _verdict(validator, case.doc)
    assert ok == expected, f"expected {'valid' if expected else 'invalid'}: {detail}"


# ---------------------------------------------------------------------------
# config corpus: (c), (a) == (c), (b) == (c)
# ---------------------------------------------------------------------------

CONFIG_PARAMS = [c.param() for c in CONFIG_CASES]
STATE_PARAMS = [c.param() for c in STATE_CASES]


@pytest.mark.parametrize("case", CONFIG_PARAMS)
def test_config_ours(case):
    _check_ours(case, validate_config)


@pytest.mark.parametrize("case", CONFIG_PARAMS)
def test_config_our_schema_agrees(case, ours_config):
    _check_agreement(case, ours_config, case.ours_schema)


@pytest.mark.parametrize("case", CONFIG_PARAMS)
def test_config_official_schema_agrees(case, official_config):
    _check_agreement(case, official_config, case.official)


@pytest.mark.parametrize("case", STATE_PARAMS)
def test_state_ours(case):
    _check_ours(case, validate_state)


@pytest.mark.parametrize("case", STATE_PARAMS)
def test_state_our_schema_agrees(case, ours_state):
    _check_agreement(case, ours_state, case.ours_schema)


@pytest.mark.parametrize("case", STATE_PARAMS)
def test_state_official_schema_agrees(case, official_state):
    _check_agreement(case, official_state, case.official)


def test_corpus_is_substantial():
    valid = [c for c in CONFIG_CASES if c.valid]
    invalid = [c for c in CONFIG_CASES if not c.valid]
    assert len(valid) >= 20 and len(invalid) >= 150
    names = [c.name for c in CONFIG_CASES]
    assert len(names) == len(set(names))


def test_documented_differences_are_few():
    """The official schema disagrees only for the reasons listed up top."""
    reasons = {c.why for c in CONFIG_CASES + STATE_CASES if c.why}
    assert reasons <= {
        OTHER_OS,
        DOLLAR,
        PRE_V12,
        NOT_SEMVER,
        MAJOR_1,
        ARGS_EMPTY,
        NO_DOMAIN,
        FLOAT_INT,
        EMPTY_KEY,
        R_PROPAGATION,
        FILE_MODE,
        PAUSED,
        EMPTY_ID,
    }


# ---------------------------------------------------------------------------
# error reporting details
# ---------------------------------------------------------------------------


def test_error_text_as_the_cli_prints_it():
    with pytest.raises(SpecError) as info:
        validate_config(mutate(P, "/process/args", []))
    assert str(info.value) == "config.json: /process/args: expected a non-empty array"
    assert info.value.where == "config.json: /process/args"
    assert info.value.exit_code == 1


def test_error_at_document_root_has_no_pointer():
    with pytest.raises(SpecError) as info:
        validate_config({})
    assert str(info.value) == 'config.json: missing required field "ociVersion"'
    assert info.value.pointer == ""


def test_file_name_is_reported():
    with pytest.raises(SpecError) as info:
        validate_config(mutate(P, "/hostname", 1), file="/bundles/x/config.json")
    assert str(info.value) == "/bundles/x/config.json: /hostname: expected a string"


def test_first_error_wins():
    # Required fields before field values; fields in document order.
    doc = mutate(mutate(P, "/process/cwd"), "/process/args", [])
    with pytest.raises(SpecError, match='missing required field "cwd"'):
        validate_config(doc)
    doc = {"ociVersion": "1.2.0", "hostname": 1, "domainname": 2}
    with pytest.raises(SpecError) as info:
        validate_config(doc)
    assert info.value.pointer == "/hostname"
    doc = {"ociVersion": "1.2.0", "domainname": 2, "hostname": 1}
    with pytest.raises(SpecError) as info:
        validate_config(doc)
    assert info.value.pointer == "/domainname"


def test_pointer_escapes_slash_and_tilde():
    doc = mutate(P, "/annotations/a~1b~0c", 1)
    assert "a/b~c" in doc["annotations"]
    with pytest.raises(SpecError) as info:
        validate_config(doc)
    assert info.value.pointer == "/annotations/a~1b~0c"


def test_validation_does_not_modify_the_document():
    doc = copy.deepcopy(F)
    validate_config(doc)
    assert doc == F


# ---------------------------------------------------------------------------
# NUL bytes: C strings end there, so none may reach a system call
# ---------------------------------------------------------------------------

NUL_VALUES = [
    "/process/args/0", "/process/env/0", "/process/cwd", "/process/apparmorProfile",
    "/root/path", "/hostname", "/mounts/0/destination", "/mounts/0/source",
    "/hooks/prestart/0/path", "/hooks/prestart/0/args/0", "/hooks/prestart/0/env/0",
    "/linux/namespaces/0/path", "/linux/devices/0/path", "/linux/cgroupsPath",
    "/linux/resources/unified/memory.high", "/linux/sysctl/net.ipv4.ip_forward",
    "/linux/seccomp/listenerPath", "/linux/seccomp/syscalls/0/names/0",
    "/linux/maskedPaths/0", "/linux/readonlyPaths/0", "/linux/mountLabel",
]  # fmt: skip


@pytest.mark.parametrize("ptr", NUL_VALUES)
def test_nul_byte_in_a_string_is_refused(ptr):
    """A NUL cut a path short at the kernel, or made Python raise half-way
    through a create (a cgroupsPath left a state dir nothing could delete)."""
    doc = copy.deepcopy(F)
    parent = doc
    parts = ptr.split("/")[1:]
    for p in parts[:-1]:
        parent = parent[int(p)] if isinstance(parent, list) else parent[p]
    last = int(parts[-1]) if isinstance(parent, list) else parts[-1]
    parent[last] = (parent[last] if isinstance(parent, list) or last in parent else "/x") + "\0y"
    with pytest.raises(SpecError) as info:
        validate_config(doc)
    assert (info.value.pointer, info.value.msg) == (ptr, "contains a NUL byte (\\u0000)")


@pytest.mark.parametrize("map_ptr", ["/linux/sysctl", "/linux/resources/unified", "/annotations"])
def test_nul_byte_in_a_key_is_refused_and_printable(map_ptr):
    doc = mutate(F, map_ptr + "/net.a\0b", "1")
    with pytest.raises(SpecError) as info:
        validate_config(doc)
    assert info.value.pointer == map_ptr + "/net.a\\u0000b"  # no raw NUL on stderr


def test_nul_byte_in_process_json_and_resources():
    with pytest.raises(SpecError) as info:
        validate_process({"cwd": "/", "args": ["sh"], "env": ["A=\0"]}, "process.json")
    assert str(info.value) == "process.json: /env/0: contains a NUL byte (\\u0000)"
    with pytest.raises(SpecError) as info:
        validate_resources({"unified": {"memory.high": "1\0"}})
    assert str(info.value) == "resources: /unified/memory.high: contains a NUL byte (\\u0000)"


# ---------------------------------------------------------------------------
# validate_process (exec --process)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("process", [P["process"], C["process"], F["process"], {"cwd": "/"}])
def test_process_valid(process):
    validate_process(copy.deepcopy(process), "process.json")


@pytest.mark.parametrize(
    "process, pointer, msg",
    [
        ({"args": ["sh"]}, "", 'missing required field "cwd"'),
        ({"cwd": "/", "args": []}, "/args", "expected a non-empty array"),
        ({"cwd": "/", "user": {"uid": -1}}, "/user/uid", UINT32),
        ({"cwd": "/", "rlimits": [{"type": "RLIMIT_X", "soft": 1}]}, "/rlimits/0", 'missing required field "hard"'),
        ({"cwd": "/", "capabilities": {"bounding": "CAP_KILL"}}, "/capabilities/bounding", "expected an array"),
        ([], "", "expected an object"),
    ],
)  # fmt: skip
def test_process_invalid(process, pointer, msg):
    with pytest.raises(SpecError) as info:
        validate_process(process, "process.json")
    assert (info.value.pointer, info.value.msg) == (pointer, msg)
    assert str(info.value).startswith("process.json")


def test_process_uses_the_config_process_definition(ours_config):
    # validate_process must accept exactly what /process accepts in a config.
    for case in CONFIG_CASES:
        doc = case.doc
        if not isinstance(doc, dict) or not isinstance(doc.get("process"), dict):
            continue
        try:
            validate_config(doc)
            config_ok = True
        except SpecError as e:
            config_ok = not e.pointer.startswith("/process")
        try:
            validate_process(doc["process"], "process.json")
            process_ok = True
        except SpecError:
            process_ok = False
        assert config_ok == process_ok, case.name


def test_state_error_names_state_json():
    with pytest.raises(SpecError) as info:
        validate_state(merge(STATE, status="exited"))
    assert str(info.value).startswith("state.json: /status: expected one of")


# ---------------------------------------------------------------------------
# the schemas themselves and their generated copy
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("file", ["config-schema.json", "state-schema.json"])
def test_schema_is_valid_draft_2020_12(file):
    jsonschema = pytest.importorskip("jsonschema")
    schema = _our_schema(file)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("file", ["config-schema.json", "state-schema.json"])
def test_schema_refs_are_local_and_resolve(file):
    schema = _our_schema(file)
    v = Validator(schema)

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                assert ref.startswith("#/$defs/"), ref
                v.resolve(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)


def test_schemas_use_only_supported_keywords():
    for name, schema in genschema.load_schemas().items():
        genschema.check_keywords(schema, name)


def test_schema_data_is_up_to_date():
    fresh = genschema.load_schemas()
    stale = "ociruntime/config/schema_data.py is out of date: run python3 -m ociruntime.config.genschema"
    assert schema_data.CONFIG_SCHEMA == fresh["CONFIG_SCHEMA"], stale
    assert schema_data.STATE_SCHEMA == fresh["STATE_SCHEMA"], stale
    assert Path(schema_data.__file__).read_text() == genschema.render(fresh), stale


def test_genschema_rejects_unsupported_keywords():
    with pytest.raises(ValueError, match="not supported"):
        genschema.check_keywords({"type": "object", "properties": {"a": {"format": "uri"}}})
    with pytest.raises(ValueError, match="local"):
        genschema.check_keywords({"$ref": "defs.json#/definitions/uint32"})


def test_genschema_check_mode(tmp_path):
    out = tmp_path / "schema_data.py"
    assert genschema.main(["--output", str(out), "--check"]) == 1
    assert genschema.main(["--output", str(out)]) == 0
    assert genschema.main(["--output", str(out), "--check"]) == 0


def test_validator_does_not_import_jsonschema():
    code = (
        "import json, sys\n"
        "from ociruntime.config.validate import validate_config\n"
        f"validate_config(json.loads({json.dumps(json.dumps(P))!s}))\n"
        "assert 'jsonschema' not in sys.modules, 'jsonschema was imported'\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


# ---------------------------------------------------------------------------
# the interpreter on keywords the runtime-spec schemas happen not to exercise
# ---------------------------------------------------------------------------

INTERPRETER_CASES = [
    # (schema, instance, None if valid else (pointer, msg))
    ({"type": "object", "additionalProperties": False, "properties": {"a": {}}}, {"a": 1}, None),
    ({"type": "object", "additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "foo": 2},
     ("/foo", 'unknown field "foo"')),
    ({"type": "object", "patternProperties": {"^x-": {"type": "integer"}}}, {"x-a": 1, "y": "s"}, None),
    ({"type": "object", "patternProperties": {"^x-": {"type": "integer"}}}, {"x-a": "1"}, ("/x-a", "expected an integer")),
    ({"type": "object", "patternProperties": {"^x-": {}}, "additionalProperties": {"type": "string"}}, {"x-a": 1, "b": 2},
     ("/b", "expected a string")),
    ({"type": "array", "maxItems": 2}, [1, 2, 3], ("", "expected an array of at most 2 items")),
    ({"type": "array", "minItems": 2, "maxItems": 3}, [1], ("", "expected an array of 2 to 3 items")),
    ({"type": "array", "minItems": 2}, [1], ("", "expected an array of at least 2 items")),
    ({"type": "array", "uniqueItems": True}, [1, 2, 1], ("/2", "duplicate of item 0")),
    ({"type": "array", "uniqueItems": True}, [1, True, "1", [1], {"a": 1}], None),
    ({"type": "string", "minLength": 2}, "a", ("", "expected a string of at least 2 characters")),
    ({"type": "string", "maxLength": 2}, "abc", ("", "expected a string of 0 to 2 characters")),
    ({"type": "string", "pattern": "^a+$"}, "b", ("", "expected a string matching ^a+$")),
    ({"type": "string", "pattern": "a\\$"}, "xa$", None),
    ({"type": "string", "pattern": "b"}, "abc", None),
    ({"type": "integer", "minimum": 1}, 0, ("", "expected an integer >= 1")),
    ({"type": "integer", "maximum": 9}, 10, ("", "expected an integer <= 9")),
    ({"type": "number", "minimum": 0.5}, 0.25, ("", "expected a number >= 0.5")),
    ({"type": "number"}, 1.5, None),
    ({"type": "number"}, True, ("", "expected a number")),
    ({"type": ["string", "null"]}, None, None),
    ({"type": ["string", "null"]}, 1, ("", "expected a string or null")),
    ({"const": "x"}, "y", ("", 'expected "x"')),
    ({"const": 1}, True, ("", "expected 1")),
    ({"enum": [1, "a", None]}, None, None),
    ({"enum": [1, "a"]}, True, ("", 'expected one of 1, "a"')),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 1, None),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, [], ("", "expected a string or an integer")),
    ({"anyOf": [{"type": "string"}, {"type": "object", "required": ["a"]}]}, {}, ("", 'missing required field "a"')),
    ({"anyOf": [{"type": "string"}, {"type": "object", "properties": {"a": {"type": "integer"}}}]}, {"a": "x"},
     ("/a", "expected an integer")),
    ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, -1, None),
    ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 1, ("", "expected exactly one of the alternatives to match")),
    ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, None, ("", "expected an integer or a string")),
    ({"allOf": [{"type": "integer"}, {"minimum": 3}]}, 2, ("", "expected a number >= 3")),
    ({"type": "object", "properties": {"a": {}}}, {"a": None}, None),
    ({"$defs": {"n": {"type": "integer"}}, "type": "array", "items": {"$ref": "#/$defs/n"}}, [1, "2"],
     ("/1", "expected an integer")),
    ({"type": "object", "required": ["a", "b"]}, {"b": 1}, ("", 'missing required field "a"')),
]  # fmt: skip


@pytest.mark.parametrize("schema, instance, error", INTERPRETER_CASES)
def test_interpreter(schema, instance, error):
    try:
        Validator(schema).validate(instance, "t.json")
        got = None
    except SpecError as e:
        got = (e.pointer, e.msg)
    assert got == error
    jsonschema = pytest.importorskip("jsonschema")
    assert jsonschema.Draft202012Validator(schema).is_valid(instance) == (error is None)
