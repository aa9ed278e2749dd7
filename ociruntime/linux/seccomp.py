"""linux.seccomp through libseccomp (Debian's libseccomp2), on the minimal FFI.

:func:`compile_profile` checks and translates the config in the runtime,
before any process exists, so a bad profile is a clean one-line error; the
result is plain data (it travels to an init forked early as JSON:
:meth:`Profile.to_wire`).  :func:`load` builds the filter in the init and
loads it (the last step before exec when noNewPrivileges is set).  With
SCMP_ACT_NOTIFY the notify fd and the container's process state go to
``listenerPath`` over SCM_RIGHTS, as the runtime spec asks.
"""

from __future__ import annotations

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
# SECCOMP_FILTER_FLAG_* as seccomp(2) takes them
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32,
}
FLAG_NEW_LISTENER = 8
SCMP_FLTATR_CTL_NNP = 3
SCMP_ARCH_X32 = 0x4000003E  # libseccomp's token: x86_64's AUDIT_ARCH with x32's syscall bit
AUDIT_ARCH_X86_64 = 0xC000003E
_RET_ENOSYS = _ACT_ERRNO | errno.ENOSYS
# default actions that let unknown syscalls through: no -ENOSYS stub (runc's rule)
_PERMISSIVE = (SCMP_ACT_ALLOW, SCMP_ACT_LOG)
_NR_SCMP_ERROR = -1

_lib = None


class _Seccomp:
    """The libseccomp calls used here.  Pointers (the filter context) go as
    ``unsigned long`` and come back as ``long``: both 64 bits on LP64, the
    ABIs this runs on; the uint32 results (arch tokens) are masked."""

    def __init__(self, library) -> None:
        from . import ffi

        f = ffi.function
        self.init = f("seccomp_init", ffi.c_long, library)
        self.release = f("seccomp_release", ffi.c_int, library)
        self.arch_add = f("seccomp_arch_add", ffi.c_int, library)
        self.arch_resolve_name = f("seccomp_arch_resolve_name", ffi.c_int, library)
        self.syscall_resolve_name = f("seccomp_syscall_resolve_name", ffi.c_int, library)
        self.attr_set = f("seccomp_attr_set", ffi.c_int, library)
        self.rule_add_array = f("seccomp_rule_add_array", ffi.c_int, library)
        self.export_bpf = f("seccomp_export_bpf", ffi.c_int, library)
        self.arch_native = f("seccomp_arch_native", ffi.c_int, library)
        self.syscall_resolve_name_arch = f("seccomp_syscall_resolve_name_arch", ffi.c_int, library)
        self.version = f("seccomp_version", ffi.c_long, library)


def lib() -> _Seccomp:
    """libseccomp, loaded once (the init calls this before pivot_root)."""
    global _lib
    if _lib is None:
        from . import ffi

        try:
            library = ffi.Library("libseccomp.so.2")
        except OSError:
            raise SpecError(
                "/linux/seccomp", "libseccomp.so.2 is not installed (apt-get install libseccomp2)"
            ) from None
        _lib = _Seccomp(library)
    return _lib


def version() -> str:
    """libseccomp's version, "major.minor.micro" (``ociruntime check``):
    seccomp_version() returns a pointer to three unsigned ints."""
    import ctypes

    v = (ctypes.c_uint * 3).from_address(lib().version())
    return f"{v[0]}.{v[1]}.{v[2]}"


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

    _WIRE = (
        "default",
        "archs",
        "flags",
        "rules",
        "notify",
        "listener_path",
        "listener_metadata",
        "last",
    )

    def to_wire(self) -> dict:
        return {k: getattr(self, k) for k in self._WIRE}

    @classmethod
    def from_wire(cls, d: dict) -> Profile:
        p = cls()
        for k in cls._WIRE:
            setattr(p, k, d[k])
        p.rules = [(act, nr, [tuple(a) for a in args]) for act, nr, args in p.rules]
        p.last = [tuple(x) for x in p.last]
        return p

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
        # [(AUDIT_ARCH, the highest syscall number the profile names there)]: the
        # -ENOSYS stub's table, empty when the default action is permissive
        self.last: list[tuple[int, int]] = []


def compile_profile(sc: dict, pointer: str = "/linux/seccomp") -> Profile:
    lb = lib()
    p = Profile()
    p.default = _action(sc["defaultAction"], sc.get("defaultErrnoRet"), pointer + "/defaultAction")
    for i, a in enumerate(sc.get("architectures") or []):
        token = lb.arch_resolve_name(a.removeprefix("SCMP_ARCH_").lower().encode()) & 0xFFFFFFFF
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
            nr = lb.syscall_resolve_name(name.encode())
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
    if (
        p.default not in _PERMISSIVE
        and p.default & 0xFFFF0000 != _ACT_TRACE
        and p.default != _RET_ENOSYS
    ):
        p.last = last_syscalls(
            lb, p.archs, [n for r in sc.get("syscalls") or [] for n in r.get("names") or []]
        )
    return p


def last_syscalls(lb: _Seccomp, archs: list[int], names: list[str]) -> list[tuple[int, int]]:
    """For the native architecture and each one the profile lists (x32 aside,
    whose syscalls the stub leaves to the filter), the highest syscall
    number among ``names`` that libseccomp knows there."""
    out = []
    for arch in dict.fromkeys([lb.arch_native() & 0xFFFFFFFF, *archs]):
        if arch == SCMP_ARCH_X32:
            continue
        nrs = [lb.syscall_resolve_name_arch(arch, n.encode()) for n in names]
        top = max((nr for nr in nrs if nr >= 0), default=-1)
        if top >= 0:
            out.append((arch, top))
    return out


# classic BPF, as seccomp runs it: struct sock_filter {u16 code; u8 jt, jf; u32 k}
_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGT = 0x25
_JSET = 0x45
_JA = 0x05  # BPF_JMP | BPF_JA
_RET = 0x06  # BPF_RET | BPF_K


def _insn(code: int, k: int = 0, jt: int = 0, jf: int = 0) -> bytes:
    import _struct as struct

    return struct.pack("=HBBI", code, jt, jf, k)


def enosys_stub(last: list[tuple[int, int]]) -> bytes:
    """The instructions that go in front of the filter: on each architecture
    of ``last``, a syscall above its highest named number returns -ENOSYS;
    everything else falls through to the filter, which follows the stub.

        ld [4]                      ; seccomp_data.arch
        jeq ARCH_i, section_i       ; one per architecture
        ja filter
      section_i:
        ld [0]                      ; seccomp_data.nr
        (x86_64: jset 1<<30, filter ; x32 syscalls are the filter's)
        jgt LAST_i, enosys
        ja filter
      enosys:
        ret ERRNO(ENOSYS)
      filter:
    """
    if not last:
        return b""
    # lay the sections out first, then fill in the jumps (all forward and short)
    sections = []
    for arch, top in last:
        body = [("ld",)]
        if arch == AUDIT_ARCH_X86_64:
            body.append(("jset_filter",))
        body += [("jgt_enosys", top), ("ja_filter",)]
        sections.append((arch, body))
    head = 1 + len(last) + 1  # ld arch, one jeq each, ja filter
    starts, pos = [], head
    for _, body in sections:
        starts.append(pos)
        pos += len(body)
    enosys = pos
    filt = enosys + 1
    out = [_insn(_LD_ABS, 4)]
    for i, (arch, _) in enumerate(sections):
        here = 1 + i
        out.append(_insn(_JEQ, arch, jt=starts[i] - here - 1))
    out.append(_insn(_JA, filt - head))
    for i, (_, body) in enumerate(sections):
        for j, op in enumerate(body):
            here = starts[i] + j
            if op[0] == "ld":
                out.append(_insn(_LD_ABS, 0))
            elif op[0] == "jset_filter":
                out.append(_insn(_JSET, 1 << 30, jt=filt - here - 1))
            elif op[0] == "jgt_enosys":
                out.append(_insn(_JGT, op[1], jt=enosys - here - 1))
            else:
                out.append(_insn(_JA, filt - here - 1))
    out.append(_insn(_RET, _RET_ENOSYS))
    return b"".join(out)


def build(p: Profile) -> bytes:
    """The whole BPF program: libseccomp's filter for ``p``, exported, behind
    the -ENOSYS stub.  Every rule libseccomp refuses is an error here."""
    import _struct as struct

    from .ffi import c_int, c_uint, c_ulong

    lb = lib()
    ctx = lb.init(c_uint(p.default))
    if not ctx:
        raise OSError(errno.EINVAL, "seccomp_init: invalid default action")
    cx = c_ulong(ctx)
    try:
        _ok(lb.attr_set(cx, c_int(SCMP_FLTATR_CTL_NNP), c_uint(0)), "seccomp_attr_set(NNP)")
        for a in p.archs:
            r = lb.arch_add(cx, c_uint(a))
            if r not in (0, -errno.EEXIST):
                _ok(r, "seccomp_arch_add")
        for act, nr, args in p.rules:
            idx = [a[0] for a in args]
            groups = [args] if len(set(idx)) == len(idx) else [[a] for a in args]
            for g in groups:
                # struct scmp_arg_cmp: unsigned arg, enum op, uint64 datum_a, datum_b
                arr = b"".join(struct.pack("IiQQ", *a) for a in g) or bytes(24)
                _ok(
                    lb.rule_add_array(cx, c_uint(act), c_int(nr), c_uint(len(g)), arr),
                    f"seccomp rule for syscall {nr}",
                )
        from .. import oslite as os

        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            _ok(lb.export_bpf(cx, c_int(fd)), "seccomp_export_bpf")
            program = os.pread(fd, os.fstat(fd).st_size, 0)
        finally:
            os.close(fd)
    finally:
        lb.release(cx)
    return enosys_stub(p.last) + program


def install(p: Profile, program: bytes) -> int:
    """Load ``program`` (:func:`build`) for this process; returns the notify fd (or -1)."""
    from . import syscalls as sc

    flags = 0
    for f in p.flags:
        flags |= f
    if p.notify:
        # a listener needs TSYNC_ESRCH beside TSYNC; this process has one thread anyway
        flags = (flags & ~FLAGS["SECCOMP_FILTER_FLAG_TSYNC"]) | FLAG_NEW_LISTENER
    fd = sc.seccomp_set_filter(program, flags)
    return fd if p.notify else -1


def _ok(ret: int, what: str) -> None:
    if ret < 0:
        raise OSError(-ret, f"{what}: {errno.errorcode.get(-ret, -ret)}")
