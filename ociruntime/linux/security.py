"""Process security settings: checked in the runtime, applied in the init.

:func:`plan` runs in the runtime before any process exists, so every bad
value (an unknown capability, a malformed seccomp rule, a sysctl outside the
container's namespaces, an LSM the host lacks) is a one-line error with
nothing to clean up.  The init then applies the plan in the order the kernel
needs; see ``init.finish_process``.

Writes to procfs (sysctls, LSM exec labels) go through a private procfs
instance made with fsopen/fsmount and never attached anywhere, so nothing
in the rootfs (a symlinked or over-mounted /proc) can redirect them
(CVE-2019-16884, CVE-2023-28642, CVE-2025-52881).
"""

from __future__ import annotations

from .. import oslite as os
from ..errors import SpecError
from . import capabilities

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds
if TYPE_CHECKING:
    from . import seccomp

PROC_SUPER_MAGIC = 0x9FA0
IPC_SYSCTLS = {
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
}
UTS_SYSCTLS = {"kernel.domainname", "kernel.hostname"}
PERSONALITY = {"LINUX": 0x0000, "LINUX32": 0x0008}
SCHED_POLICIES = {
    "SCHED_OTHER": 0,
    "SCHED_FIFO": 1,
    "SCHED_RR": 2,
    "SCHED_BATCH": 3,
    "SCHED_ISO": 4,
    "SCHED_IDLE": 5,
    "SCHED_DEADLINE": 6,
}
SCHED_FLAGS = {
    "SCHED_FLAG_RESET_ON_FORK": 0x01,
    "SCHED_FLAG_RECLAIM": 0x02,
    "SCHED_FLAG_DL_OVERRUN": 0x04,
    "SCHED_FLAG_KEEP_POLICY": 0x08,
    "SCHED_FLAG_KEEP_PARAMS": 0x10,
    "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
    "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40,
}
IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
_NR_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}
_NR_IOPRIO_SET = {"x86_64": 251, "aarch64": 30}


def _ptr_key(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


class Plan:
    """Everything the init applies for process security, already checked."""

    def __init__(self) -> None:
        self.caps: dict[str, set[int]] | None = None
        self.nnp = False
        self.seccomp: seccomp.Profile | None = None
        self.sysctl: list[tuple[str, str]] = []
        self.apparmor = ""
        self.selinux = ""
        self.personality: int | None = None
        self.scheduler: dict | None = None
        self.ioprio: int | None = None

    def to_wire(self) -> dict:
        """As JSON, for an init forked before the plan was made."""
        return {
            "seccomp": None if self.seccomp is None else self.seccomp.to_wire(),
            "caps": None if self.caps is None else {k: sorted(v) for k, v in self.caps.items()},
            "nnp": self.nnp,
            "sysctl": self.sysctl,
            "apparmor": self.apparmor,
            "selinux": self.selinux,
            "personality": self.personality,
            "scheduler": self.scheduler,
            "ioprio": self.ioprio,
        }

    @classmethod
    def from_wire(cls, d: dict) -> Plan:
        p = cls()
        p.caps = None if d["caps"] is None else {k: set(v) for k, v in d["caps"].items()}
        p.nnp = d["nnp"]
        p.sysctl = [(k, v) for k, v in d["sysctl"]]
        p.apparmor, p.selinux = d["apparmor"], d["selinux"]
        p.personality, p.scheduler, p.ioprio = d["personality"], d["scheduler"], d["ioprio"]
        if d["seccomp"] is not None:
            # here, before pivot_root: the module and libseccomp are out of reach after it
            from . import seccomp

            seccomp.lib()
            p.seccomp = seccomp.Profile.from_wire(d["seccomp"])
        return p


def _is_host_ns(path: str, kind: str) -> bool:
    """A namespace joined by path may still be the host's own (runc refuses those too)."""
    name = {"network": "net", "ipc": "ipc", "uts": "uts"}[kind]
    try:
        return os.stat(path).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino
    except OSError:
        return False


def apparmor_enabled() -> bool:
    try:
        return os.read_file("/sys/module/apparmor/parameters/enabled").strip() == b"Y"
    except OSError:
        return False


def selinux_enabled() -> bool:
    return os.path.exists("/sys/fs/selinux/enforce")


def plan(config: dict) -> Plan:
    p = Plan()
    proc = config.get("process") or {}  # none: no capabilities; start refuses it
    linux = config.get("linux") or {}
    nss = {ns["type"]: ns.get("path") for ns in linux.get("namespaces") or []}
    # no capabilities object: none at all, every set empty, as runc and crun
    # (not the runtime's own: root's full set, CAP_SYS_MODULE among them)
    p.caps = capabilities.parse(proc.get("capabilities") or {})
    p.nnp = bool(proc.get("noNewPrivileges"))
    if linux.get("seccomp"):
        # imported only when needed (it loads the FFI and libseccomp), and here, before
        # a late fork: the init finds it in sys.modules after pivot_root (an init forked
        # early imports it when it gets the plan: Plan.from_wire)
        from . import seccomp

        p.seccomp = seccomp.compile_profile(linux["seccomp"])
    for key, value in (linux.get("sysctl") or {}).items():
        ptr = "/linux/sysctl/" + _ptr_key(key)
        if key in IPC_SYSCTLS or key.startswith("fs.mqueue."):
            owner = "ipc"
        elif key in UTS_SYSCTLS:
            owner = "uts"
        elif key.startswith("net."):
            owner = "network"
        else:
            raise SpecError(ptr, f'sysctl "{key}" is not namespaced: it would change the host')
        if owner not in nss or (nss[owner] and _is_host_ns(nss[owner], owner)):
            raise SpecError(
                ptr,
                f'sysctl "{key}" needs a {owner} namespace of the container, it shares the host one',
            )
        if "/" in key or ".." in key.split("."):
            raise SpecError(ptr, f'invalid sysctl name "{key}"')
        p.sysctl.append((key, str(value)))
    if proc.get("apparmorProfile"):
        if not apparmor_enabled():
            raise SpecError(
                "/process/apparmorProfile",
                "apparmor profile requested but AppArmor is not enabled on this host",
            )
        p.apparmor = proc["apparmorProfile"]
    if proc.get("selinuxLabel"):
        if not selinux_enabled():
            raise SpecError(
                "/process/selinuxLabel",
                "SELinux label requested but SELinux is not enabled on this host",
            )
        p.selinux = proc["selinuxLabel"]
    pers = linux.get("personality")
    if pers:
        if pers["domain"] not in PERSONALITY:
            raise SpecError("/linux/personality/domain", f'unknown personality "{pers["domain"]}"')
        p.personality = PERSONALITY[pers["domain"]]
    sched = proc.get("scheduler")
    if sched:
        if sched["policy"] not in SCHED_POLICIES:
            raise SpecError(
                "/process/scheduler/policy", f'unknown scheduler policy "{sched["policy"]}"'
            )
        for i, f in enumerate(sched.get("flags") or []):
            if f not in SCHED_FLAGS:
                raise SpecError(f"/process/scheduler/flags/{i}", f'unknown scheduler flag "{f}"')
        p.scheduler = sched
    io = proc.get("ioPriority")
    if io:
        if io["class"] not in IOPRIO_CLASSES:
            raise SpecError(
                "/process/ioPriority/class", f'unknown I/O priority class "{io["class"]}"'
            )
        prio = io.get("priority", 0)
        if not 0 <= prio <= 7:  # more would spill into the class bits
            raise SpecError("/process/ioPriority/priority", "expected an integer between 0 and 7")
        p.ioprio = (IOPRIO_CLASSES[io["class"]] << 13) | prio
    return p


# ---- applied in the init ------------------------------------------------------
def private_proc() -> int:
    """A procfs instance of the init's pid namespace that no path can reach."""
    from . import syscalls as sc

    fs = sc.fsopen("proc")
    try:
        sc.fsconfig_create(fs)
        fd = sc.fsmount(fs, sc.MOUNT_ATTR_NOEXEC | sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NODEV)
    finally:
        os.close(fs)
    if sc.fstatfs_type(fd) != PROC_SUPER_MAGIC:
        os.close(fd)
        raise OSError(0, "private procfs is not procfs")
    return fd


def write_proc(procfd: int, rel: str, value: str) -> None:
    from . import syscalls as sc

    resolve = (
        sc.RESOLVE_BENEATH | sc.RESOLVE_NO_SYMLINKS | sc.RESOLVE_NO_MAGICLINKS | sc.RESOLVE_NO_XDEV
    )
    fd = sc.openat2(procfd, rel, os.O_WRONLY, resolve, display="/proc/" + rel)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def apply_sysctl(p: Plan) -> None:
    if not p.sysctl:
        return
    fd = private_proc()
    try:
        for key, value in p.sysctl:
            try:
                write_proc(fd, "sys/" + key.replace(".", "/"), value)
            except OSError as e:
                raise SpecError(
                    "/linux/sysctl/" + _ptr_key(key), f"writing {value!r}: {e.strerror}"
                ) from None
    finally:
        os.close(fd)


def apply_lsm(p: Plan) -> None:
    """Exec labels take effect at execve; written through the private procfs."""
    if not (p.apparmor or p.selinux):
        return
    fd = private_proc()
    try:
        if p.apparmor:
            try:
                write_proc(fd, "thread-self/attr/apparmor/exec", "exec " + p.apparmor)
            except FileNotFoundError:
                write_proc(fd, "thread-self/attr/exec", "exec " + p.apparmor)
        if p.selinux:
            write_proc(fd, "thread-self/attr/exec", p.selinux)
    finally:
        os.close(fd)


def apply_sched(p: Plan) -> None:
    if p.personality is None and p.scheduler is None and p.ioprio is None:
        return
    import _struct as struct

    from . import ffi
    from . import syscalls as sc
    from .ffi import c_int, c_long, c_uint, c_ulong

    _personality = ffi.function("personality")

    machine = os.uname().machine
    if p.personality is not None:
        if _personality(c_ulong(p.personality)) == -1:
            raise SpecError("/linux/personality", "personality: " + os.strerror(ffi.get_errno()))
    if p.scheduler is not None:
        s = p.scheduler
        flags = 0
        for f in s.get("flags") or []:
            flags |= SCHED_FLAGS[f]
        # struct sched_attr, first version (56 bytes); writable: the kernel
        # writes its own size back when it refuses ours (E2BIG)
        buf = ffi.buffer(56)
        struct.pack_into(
            "=IIQiIQQQII",
            buf,
            0,
            56,
            SCHED_POLICIES[s["policy"]],
            flags,
            s.get("nice", 0),
            s.get("priority", 0) & 0xFFFFFFFF,  # a u32: a negative one, as Go casts it (EINVAL)
            s.get("runtime", 0),
            s.get("deadline", 0),
            s.get("period", 0),
            0,
            0,
        )
        r = sc.syscall(c_long(_NR_SCHED_SETATTR[machine]), c_int(0), buf, c_uint(0))
        if r < 0:
            raise SpecError("/process/scheduler", "sched_setattr: " + os.strerror(ffi.get_errno()))
    if p.ioprio is not None:
        r = sc.syscall(
            c_long(_NR_IOPRIO_SET[machine]),
            c_int(1),
            c_int(0),
            c_int(p.ioprio),
        )
        if r < 0:
            raise SpecError("/process/ioPriority", "ioprio_set: " + os.strerror(ffi.get_errno()))
