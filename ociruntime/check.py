"""``ociruntime check``: what this host gives the runtime, and what is missing.

Each check probes the kernel the way the runtime uses it (a syscall with
arguments it rejects cheaply, a file in /proc), so "ok" means the code path
will work, not that a config option is set.  A missing *required* feature
makes the command exit 1 with a hint at the fix.
"""

from __future__ import annotations

import errno

from . import oslite as os


class Result:
    __slots__ = ("name", "ok", "detail", "required", "fix")

    def __init__(self, name: str, ok: bool, detail: str, required: bool, fix: str = "") -> None:
        self.name, self.ok, self.detail, self.required, self.fix = name, ok, detail, required, fix

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "ok": self.ok,
            "detail": self.detail,
            "required": self.required,
            "fix": self.fix,
        }


def _syscall_present(fn) -> tuple[bool, str]:
    """Call with arguments the kernel rejects: ENOSYS means absent, anything else present."""
    try:
        fn()
    except OSError as e:
        if e.errno == errno.ENOSYS:
            return False, "not implemented by this kernel"
        return True, "available"
    return True, "available"


def checks() -> list[Result]:
    from . import cgroups
    from .linux import security
    from .linux import syscalls as sc

    out: list[Result] = []
    kernel = os.uname().release
    for ns, name in (
        ("pid", "pid"),
        ("mnt", "mount"),
        ("uts", "uts"),
        ("ipc", "ipc"),
        ("net", "network"),
        ("cgroup", "cgroup"),
        ("user", "user"),
        ("time", "time"),
    ):
        ok = os.path.exists(f"/proc/self/ns/{ns}")
        out.append(
            Result(
                f"namespace: {name}",
                ok,
                "available" if ok else "missing",
                name in ("pid", "mount", "uts", "ipc", "network"),
                f"a kernel with CONFIG_{ns.upper()}_NS",
            )
        )
    try:
        n = int(open("/proc/sys/user/max_user_namespaces").read())
        out.append(
            Result(
                "user namespaces enabled",
                n > 0,
                f"max_user_namespaces={n}",
                False,
                "sysctl user.max_user_namespaces=15000",
            )
        )
    except OSError:
        pass
    ok, d = _syscall_present(lambda: sc.openat2(-1, "", 0, 0))
    out.append(
        Result("openat2 (mount targets confined to the rootfs)", ok, d, True, "Linux 5.6 or later")
    )
    ok, d = _syscall_present(lambda: sc.open_tree(-1, "", 0))
    out.append(
        Result("open_tree / move_mount (fd-based bind mounts)", ok, d, True, "Linux 5.2 or later")
    )
    ok, d = _syscall_present(lambda: sc.mount_setattr(-1, "", 0))
    out.append(
        Result(
            "mount_setattr (read-only binds, idmapped mounts)", ok, d, True, "Linux 5.12 or later"
        )
    )
    ok, d = _syscall_present(lambda: sc.fsopen("no-such-fs"))
    out.append(
        Result(
            "fsopen / fsmount (private procfs for sysctl and labels)",
            ok,
            d,
            True,
            "Linux 5.2 or later",
        )
    )
    ok, d = _syscall_present(lambda: sc.close_range(0xFFFFFFFF, 0, 0))
    out.append(
        Result("close_range (no fd reaches the container)", ok, d, True, "Linux 5.11 or later")
    )
    try:
        os.close(os.pidfd_open(os.getpid()))
        out.append(Result("pidfd (signals that cannot hit a reused pid)", True, "available", True))
    except OSError as e:
        out.append(
            Result(
                "pidfd (signals that cannot hit a reused pid)",
                False,
                e.strerror,
                True,
                "Linux 5.3 or later",
            )
        )
    layout = cgroups.layout()
    ctls = []
    if layout == "v2":
        ctls = open("/sys/fs/cgroup/cgroup.controllers").read().split()
    else:
        from .cgroups.v1 import hierarchies

        ctls = sorted(hierarchies())
        if layout == "hybrid":
            ctls += [
                f"{c} (unified)"
                for c in open("/sys/fs/cgroup/unified/cgroup.controllers").read().split()
            ]
    out.append(Result("cgroup layout", True, layout, True))
    out.append(
        Result("cgroup controllers", bool(ctls), " ".join(ctls) or "none", True, "mount cgroupfs")
    )
    missing = [
        c
        for c in ("memory", "cpu", "pids", "freezer")
        if not any(x.split(" ")[0] == c for x in ctls)
    ]
    out.append(
        Result(
            "cgroup: memory, cpu, pids, freezer",
            not missing,
            "all present" if not missing else "missing " + " ".join(missing),
            False,
            "enable the controllers (cgroup.subtree_control on v2)",
        )
    )
    from .cgroups.systemd import probe

    ok, detail, fix = probe()
    out.append(Result("systemd cgroup driver (--systemd-cgroup)", ok, detail, False, fix))
    seccomp_kernel = "Seccomp:" in open("/proc/self/status").read()
    out.append(
        Result(
            "seccomp (kernel)",
            seccomp_kernel,
            "available" if seccomp_kernel else "missing",
            False,
            "a kernel with CONFIG_SECCOMP_FILTER",
        )
    )
    try:
        from .linux import seccomp

        out.append(Result("libseccomp", True, seccomp.version(), False))
    except Exception as e:  # noqa: BLE001 - reported, not raised
        out.append(Result("libseccomp", False, str(e), False, "apt-get install libseccomp2"))
    out.append(
        Result(
            "AppArmor",
            security.apparmor_enabled(),
            "enabled" if security.apparmor_enabled() else "not enabled (profiles are refused)",
            False,
        )
    )
    out.append(
        Result(
            "SELinux",
            security.selinux_enabled(),
            "enabled" if security.selinux_enabled() else "not enabled (labels are refused)",
            False,
        )
    )
    from .linux.exe import exe_is_immutable, private_dir

    exe = os.readlink("/proc/self/exe")
    mine = private_dir() is not None
    immutable = exe_is_immutable()
    out.append(
        Result(
            "runtime interpreter protected (CVE-2019-5736)",
            mine and immutable,
            (f"{exe}: {'immutable' if immutable else 'NOT immutable (chattr +i failed)'}")
            if mine
            else f"{exe} is not the private copy (a development run?)",
            False,
            "make install (runs an immutable private copy)",
        )
    )
    out.append(criu_result(kernel))
    out.append(Result("kernel", True, kernel, False))
    out.append(
        Result(
            "running as root",
            os.geteuid() == 0,
            f"euid {os.geteuid()}",
            True,
            "run as root (rootless mode is not supported yet)",
        )
    )
    return out


def table(results: list[Result]) -> str:
    w = max(len(r.name) for r in results)
    lines = [f"{'check':<{w}}  status   detail"]
    for r in results:
        status = "ok" if r.ok else ("MISSING" if r.required else "no")
        line = f"{r.name:<{w}}  {status:<7}  {r.detail}"
        if not r.ok and r.fix:
            line += f"  (fix: {r.fix})"
        lines.append(line)
    return "\n".join(lines)


def criu_result(kernel: str) -> Result:
    """Whether checkpoint and restore can work here: criu installed, and its
    own check of this kernel passing (the reason it gives when not)."""
    from . import criu
    from .errors import OCIError

    name = "criu (checkpoint/restore)"
    try:
        exe = criu.binary()
        v = criu.version(exe)
        ok, why = criu.host_check(exe)
    except OCIError as e:
        return Result(name, False, e.text, False, criu.INSTALL)
    ver = f"criu {v // 10000}.{v // 100 % 100}.{v % 100}"
    if ok:
        return Result(name, True, f"{ver} works with this kernel ({kernel})", False)
    return Result(
        name,
        False,
        f"{ver} cannot work with this kernel ({kernel}): {why}",
        False,
        "a kernel CRIU supports (Debian 12's 6.1 does) or a newer criu; docs/checkpoint.md",
    )
