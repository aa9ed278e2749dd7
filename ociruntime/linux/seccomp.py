"""linux.seccomp through libseccomp (Debian's libseccomp2) with ctypes.

:func:`compile_profile` checks and translates the config in the runtime,
before any process exists, so a bad profile is a clean one-line error;
:func:`load` builds the filter in the init and loads it (the last step before
exec when noNewPrivileges is set).  With SCMP_ACT_NOTIFY the notify fd and
the container's process state go to ``listenerPath`` over SCM_RIGHTS, as the
runtime spec asks.
"""

from __future__ import annotations

import ctypes
import errno

from ..errors import SpecError

SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_NOTIFY = 0x7FC00000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000
_ACT_ERRNO = 0x00050000
_ACT_TRACE = 0x7FF00000

ACTIONS = {
    "SCMP_ACT_KILL": SCMP_ACT_KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": SCMP_ACT_KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": SCMP_ACT_KILL_PROCESS,
    "SCMP_ACT_TRAP": SCMP_ACT_TRAP,
    "SCMP_ACT_ERRNO": _ACT_ERRNO,
    "SCMP_ACT_TRACE": _ACT_TRACE,
    "SCMP_ACT_ALLOW": SCMP_ACT_ALLOW,
    "SCMP_ACT_LOG": SCMP_ACT_LOG,
    "SCMP_ACT_NOTIFY": SCMP_ACT_NOTIFY,
}
OPS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
# SECCOMP_FILTER_FLAG_* -> libseccomp filter attribute
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 4,  # SCMP_FLTATR_CTL_TSYNC
    "SECCOMP_FILTER_FLAG_LOG": 6,  # SCMP_FLTATR_CTL_LOG
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 7,  # SCMP_FLTATR_CTL_SSB
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 12,  # SCMP_FLTATR_CTL_WAITKILL (libseccomp >= 2.6)
}
SCMP_FLTATR_CTL_NNP = 3
_NR_SCMP_ERROR = -1

_lib = None


def lib() -> ctypes.CDLL:
    global _lib
    if _lib is None:
        try:
            _lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError:
            raise SpecError(
                "/linux/seccomp", "libseccomp.so.2 is not installed (apt-get install libseccomp2)"
            ) from None
        _lib.seccomp_init.restype = ctypes.c_void_p
        _lib.seccomp_init.argtypes = [ctypes.c_uint32]
        _lib.seccomp_release.argtypes = [ctypes.c_void_p]
        _lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        _lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        _lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        _lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        _lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        _lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_void_p,
        ]
        _lib.seccomp_load.argtypes = [ctypes.c_void_p]
        _lib.seccomp_notify_fd.argtypes = [ctypes.c_void_p]
    return _lib


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _action(name: str, errno_ret: int | None, pointer: str) -> int:
    if name not in ACTIONS:
        raise SpecError(pointer, f'unknown seccomp action "{name}"')
    act = ACTIONS[name]
    if act in (_ACT_ERRNO, _ACT_TRACE):
        ret = errno.EPERM if errno_ret is None else errno_ret
        if not 0 <= ret <= 0xFFFF:
            raise SpecError(pointer, f"errno {ret} out of range")
        act |= ret
    return act


class Profile:
    """A translated profile: plain data, built in the runtime, loaded in the init."""

    def __init__(self) -> None:
        self.default = SCMP_ACT_KILL_THREAD
        self.archs: list[int] = []
        self.flags: list[int] = []
        self.rules: list[
            tuple[int, int, list[tuple[int, int, int, int]]]
        ] = []  # (action, nr, args)
        self.notify = False
        self.listener_path = ""
        self.listener_metadata = ""
        self.skipped: list[str] = []


def compile_profile(sc: dict, pointer: str = "/linux/seccomp") -> Profile:
    lb = lib()
    p = Profile()
    p.default = _action(sc["defaultAction"], sc.get("defaultErrnoRet"), pointer + "/defaultAction")
    for i, a in enumerate(sc.get("architectures") or []):
        token = lb.seccomp_arch_resolve_name(a.removeprefix("SCMP_ARCH_").lower().encode())
        if token == 0:
            raise SpecError(f"{pointer}/architectures/{i}", f'unknown architecture "{a}"')
        p.archs.append(token)
    for i, f in enumerate(sc.get("flags") or []):
        if f not in FLAGS:
            raise SpecError(f"{pointer}/flags/{i}", f'unknown seccomp flag "{f}"')
        p.flags.append(FLAGS[f])
    for i, rule in enumerate(sc.get("syscalls") or []):
        rp = f"{pointer}/syscalls/{i}"
        act = _action(rule["action"], rule.get("errnoRet"), rp + "/action")
        if act == SCMP_ACT_NOTIFY:
            p.notify = True
        args = []
        for j, a in enumerate(rule.get("args") or []):
            if a["op"] not in OPS:
                raise SpecError(f"{rp}/args/{j}/op", f'unknown seccomp operator "{a["op"]}"')
            if not 0 <= a["index"] <= 5:
                raise SpecError(f"{rp}/args/{j}/index", "expected an argument index from 0 to 5")
            args.append((a["index"], OPS[a["op"]], a.get("value", 0), a.get("valueTwo", 0)))
        for name in rule.get("names") or []:
            nr = lb.seccomp_syscall_resolve_name(name.encode())
            if nr == _NR_SCMP_ERROR:
                p.skipped.append(name)  # unknown to libseccomp: skipped, as runc does
                continue
            if act == p.default:
                continue  # libseccomp refuses rules that repeat the default
            p.rules.append((act, nr, args))
    if p.notify:
        if not sc.get("listenerPath"):
            raise SpecError(pointer + "/listenerPath", "SCMP_ACT_NOTIFY needs a listenerPath")
    p.listener_path = sc.get("listenerPath") or ""
    p.listener_metadata = sc.get("listenerMetadata") or ""
    if p.default == SCMP_ACT_NOTIFY:
        raise SpecError(pointer + "/defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    return p


def load(p: Profile) -> int:
    """Build and load the filter; returns the notify fd (or -1)."""
    lb = lib()
    ctx = lb.seccomp_init(p.default)
    if not ctx:
        raise OSError(errno.EINVAL, "seccomp_init: invalid default action")
    try:
        _ok(lb.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set(NNP)")
        for f in p.flags:
            _ok(lb.seccomp_attr_set(ctx, f, 1), "seccomp_attr_set(flag)")
        for a in p.archs:
            r = lb.seccomp_arch_add(ctx, a)
            if r not in (0, -errno.EEXIST):
                _ok(r, "seccomp_arch_add")
        for act, nr, args in p.rules:
            idx = [a[0] for a in args]
            groups = [args] if len(set(idx)) == len(idx) else [[a] for a in args]
            for g in groups:
                arr = (_ArgCmp * max(len(g), 1))(*[_ArgCmp(*a) for a in g])
                _ok(
                    lb.seccomp_rule_add_array(ctx, act, nr, len(g), arr),
                    f"seccomp rule for syscall {nr}",
                )
        _ok(lb.seccomp_load(ctx), "seccomp_load")
        if p.notify:
            fd = lb.seccomp_notify_fd(ctx)
            _ok(fd, "seccomp_notify_fd")
            return fd
        return -1
    finally:
        lb.seccomp_release(ctx)


def _ok(ret: int, what: str) -> None:
    if ret < 0:
        raise OSError(-ret, f"{what}: {errno.errorcode.get(-ret, -ret)}")
