"""cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program per cgroup.

cgroup v2 has no devices.allow/deny files; the kernel instead runs every eBPF
program attached to the cgroup (type BPF_CGROUP_DEVICE) on each open or
mknod of a device node and allows the access only when all return 1.

``assemble(rules)`` turns the runtime-spec rule list into bytecode (a pure
function); ``set_device_filter`` loads it with bpf(2) and attaches it to the
cgroup, replacing the filter attached before (``update``).  ``emulate`` runs
bytecode for the instruction subset ``assemble`` emits, so tests can check
programs without a kernel.

Semantics (as cgroup v1's devices controller and runc): the last rule that
matches the request decides; when no rule matches, the access is denied.  A
rule matches when its type is "a" or the device's type, its major and minor
are wildcards (None or -1) or equal the device's, and the requested access
is a subset of the rule's (``request & ~rule == 0``).

Program shape: load the fields of ``struct bpf_cgroup_dev_ctx`` that some
rule needs into r2 (type), r3 (access), r4 (major), r5 (minor); then one block
per rule, last rule first, each a few compare-and-skip instructions ending in
``r0 = verdict; exit``; a block that matches everything ends the program (the
rules before it are unreachable); otherwise it ends with ``r0 = 0; exit``.
Every jump is forward and stays inside its block, so offsets stay tiny
however many rules there are.
"""

from __future__ import annotations

# _struct and linux/ffi.py (on _ctypes), not struct and ctypes: this runs in
# the runtime process of every create on a cgroup v2 host, where ``import
# ctypes`` alone cost ~3 ms (tests/unit/test_ebpf.py pins the imports)
import _struct as struct
import errno
import sys

from .. import oslite as os
from ..errors import OCIError
from ..linux import ffi

# struct bpf_cgroup_dev_ctx: u32 access_type (type | access << 16), u32 major, u32 minor
DEV_BLOCK = 1
DEV_CHAR = 2
ACC_MKNOD = 1
ACC_READ = 2
ACC_WRITE = 4
ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE
_ACCESS_BITS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}
_TYPES = {"a": None, "c": DEV_CHAR, "u": DEV_CHAR, "b": DEV_BLOCK}

# bpf(2) commands and constants (uapi/linux/bpf.h)
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_OVERRIDE = 1
BPF_F_ALLOW_MULTI = 2

PROG_NAME = b"ociruntime_dev"
LICENSE = b"Apache"

# opcodes of the instructions assemble() emits
LDXW = 0x61  # dst = *(u32 *)(src + off)
LDDW = 0x18  # dst = imm64 (two slots: low imm, then high imm)
AND32_K = 0x54  # dst = (u32)dst & imm
RSH32_K = 0x74  # dst = (u32)dst >> imm
MOV64_K = 0xB7  # dst = imm
JNE_K = 0x55  # if dst != imm: pc += off
JNE_X = 0x5D  # if dst != src: pc += off
JSET_K = 0x45  # if dst & imm: pc += off
EXIT = 0x95  # return r0

# registers
R0, R1, R2, R3, R4, R5 = range(6)
_CTX_FIELD = {R2: 0, R3: 0, R4: 4, R5: 8}

_LITTLE = sys.byteorder == "little"
_INSN = struct.Struct("=BBhi")  # struct bpf_insn: code, dst:4/src:4, off, imm


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One 8-byte struct bpf_insn (the register nibbles follow the bitfield order)."""
    regs = (src << 4 | dst) if _LITTLE else (dst << 4 | src)
    return _INSN.pack(code, regs, off, imm)


def decode(prog: bytes) -> list[tuple[int, int, int, int, int]]:
    """[(code, dst, src, off, imm)] of each 8-byte slot."""
    if len(prog) % 8:
        raise ValueError(f"program length {len(prog)} is not a multiple of 8")
    out = []
    for pos in range(0, len(prog), 8):
        code, regs, off, imm = _INSN.unpack_from(prog, pos)
        dst, src = (regs & 15, regs >> 4) if _LITTLE else (regs >> 4, regs & 15)
        out.append((code, dst, src, off, imm))
    return out


def _describe(rule: dict) -> str:
    t = rule.get("type") or "a"
    ma, mi = rule.get("major"), rule.get("minor")
    ma = "*" if ma is None or ma == -1 else ma
    mi = "*" if mi is None or mi == -1 else mi
    verb = "allow" if rule.get("allow") else "deny"
    return f"{verb} {t} {ma}:{mi} {rule.get('access') or 'rwm'}"


def _number(rule: dict, key: str) -> int | None:
    v = rule.get(key)
    if v is None or v == -1:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise OCIError(f"device rule ({_describe(rule)}): {key} {v!r} is not a device number")
    return v


def parse_rule(rule: dict) -> tuple[bool, int | None, int | None, int | None, int]:
    """(allow, type or None for any, major or None, minor or None, access bits).

    Absent or empty access means "rwm", as for devices.allow (devices.line).
    """
    t = rule.get("type") or "a"
    if t not in _TYPES:
        raise OCIError(f"device rule ({_describe(rule)}): unknown device type {t!r}")
    access = 0
    for ch in rule.get("access") or "rwm":
        if ch not in _ACCESS_BITS:
            raise OCIError(f"device rule ({_describe(rule)}): unknown access {ch!r} (want r, w, m)")
        access |= _ACCESS_BITS[ch]
    return (
        bool(rule.get("allow")),
        _TYPES[t],
        _number(rule, "major"),
        _number(rule, "minor"),
        access,
    )


def _block(
    allow: bool, dtype: int | None, major: int | None, minor: int | None, access: int
) -> tuple[list, set]:
    """One rule: [(code, dst, src, off or None = "to the next block", imm)], registers used."""
    out: list[tuple] = []
    used = set()
    if dtype is not None:
        out.append((JNE_K, R2, 0, None, dtype))
        used.add(R2)
    if access != ACC_ALL:
        # any requested bit the rule lacks -> no match
        out.append((JSET_K, R3, 0, None, ACC_ALL & ~access))
        used.add(R3)
    for reg, value in ((R4, major), (R5, minor)):
        if value is None:
            continue
        used.add(reg)
        if value < 0x80000000:
            out.append((JNE_K, reg, 0, None, value))
        else:  # imm is s32 sign-extended: compare with a 64-bit constant instead
            out.append((LDDW, R1, 0, 0, value))
            out.append((0, 0, 0, 0, 0))  # its second slot: the high 32 bits
            out.append((JNE_X, reg, R1, None, 0))
    out.append((MOV64_K, R0, 0, 0, 1 if allow else 0))
    out.append((EXIT, 0, 0, 0, 0))
    n = len(out)
    return [
        (c, d, s, n - i - 1 if o is None else o, imm) for i, (c, d, s, o, imm) in enumerate(out)
    ], used


def assemble(rules: list[dict]) -> bytes:
    """The eBPF bytecode of a BPF_PROG_TYPE_CGROUP_DEVICE program for ``rules``."""
    body: list[tuple] = []
    used: set[int] = set()
    complete = False
    for rule in reversed(rules):
        parsed = parse_rule(rule)
        block, regs = _block(*parsed)
        body += block
        used |= regs
        if not regs:  # matches every request: the earlier rules never get a say
            complete = True
            break
    if not complete:
        body += [(MOV64_K, R0, 0, 0, 0), (EXIT, 0, 0, 0, 0)]
    head: list[tuple] = []
    for reg in (R2, R3, R4, R5):
        if reg in used:
            head.append((LDXW, reg, R1, _CTX_FIELD[reg], 0))
    if R2 in used:
        head.append((AND32_K, R2, 0, 0, 0xFFFF))
    if R3 in used:
        head.append((RSH32_K, R3, 0, 0, 16))
    out = bytearray()
    for code, dst, src, off, imm in head + body:
        out += insn(code, dst, src, off, imm - (1 << 32) if imm >= 1 << 31 else imm)
    return bytes(out)


# -- a tiny emulator for what assemble() emits --------------------------------

_CTX = object()  # r1 at entry: the context pointer
_M64 = (1 << 64) - 1


def emulate(prog: bytes, dev_type: int, major: int, minor: int, access: int) -> int:
    """Run ``prog`` on one request; return r0 (1 allow, 0 deny).

    Checks what the verifier would: known opcodes only, no read of an unset
    register, context reads of u32 fields only, forward jumps inside the
    program, r0 in {0, 1} at exit.  Raises ValueError otherwise.
    """
    insns = decode(prog)
    ctx = {0: (access << 16 | dev_type) & 0xFFFFFFFF, 4: major & 0xFFFFFFFF, 8: minor & 0xFFFFFFFF}
    regs: list[object] = [None] * 11
    regs[R1] = _CTX
    pc = 0

    def get(r: int) -> int:
        v = regs[r]
        if v is None or v is _CTX:
            raise ValueError(f"insn {pc}: r{r} is {'the context' if v else 'not set'}")
        return v  # type: ignore[return-value]

    while True:
        if not 0 <= pc < len(insns):
            raise ValueError(f"pc {pc} is outside the program ({len(insns)} insns)")
        code, dst, src, off, imm = insns[pc]
        pc += 1
        if code == LDXW:
            if regs[src] is not _CTX or off not in ctx:
                raise ValueError(f"insn {pc - 1}: bad context load r{src}+{off}")
            regs[dst] = ctx[off]
        elif code == LDDW:
            if pc >= len(insns) or insns[pc][0] != 0:
                raise ValueError(f"insn {pc - 1}: LDDW without its second slot")
            regs[dst] = (imm & 0xFFFFFFFF) | (insns[pc][4] & 0xFFFFFFFF) << 32
            pc += 1
        elif code == AND32_K:
            regs[dst] = get(dst) & imm & 0xFFFFFFFF
        elif code == RSH32_K:
            regs[dst] = (get(dst) & 0xFFFFFFFF) >> (imm & 31)
        elif code == MOV64_K:
            regs[dst] = imm & _M64
        elif code in (JNE_K, JNE_X, JSET_K):
            a = get(dst)
            b = get(src) if code == JNE_X else imm & _M64
            taken = (a & b) != 0 if code == JSET_K else a != b
            if off < 0:
                raise ValueError(f"insn {pc - 1}: backward jump")
            if taken:
                pc += off
        elif code == EXIT:
            r0 = get(R0)
            if r0 not in (0, 1):
                raise ValueError(f"exit with r0 = {r0}")
            return r0
        else:
            raise ValueError(f"insn {pc - 1}: opcode {code:#x} is not emulated")


# -- the kernel side -----------------------------------------------------------

_NR_BPF = {
    "x86_64": 321,
    "aarch64": 280,
    "riscv64": 280,
    "loongarch64": 280,
    "ppc64le": 361,
    "ppc64": 361,
    "s390x": 351,
    "i686": 357,
    "armv7l": 386,
}
_syscall = None


def _bpf(cmd: int, attr: object) -> int:
    """bpf(2) on the attribute buffer ``attr`` (an :func:`ffi.buffer`)."""
    global _syscall
    nr = _NR_BPF.get(os.uname().machine)
    if nr is None:
        raise OSError(errno.ENOSYS, f"no bpf(2) syscall number for {os.uname().machine}")
    if _syscall is None:
        _syscall = ffi.function("syscall", ffi.c_long)
    ret = _syscall(ffi.c_long(nr), ffi.c_long(cmd), attr, ffi.c_long(len(attr)))
    if ret < 0:
        e = ffi.get_errno()
        raise OSError(e, os.strerror(e))
    return ret


def _addr(buf: object) -> int:
    return ffi.addressof(buf)


def load(prog: bytes, cgroup: str) -> int:
    """Load ``prog`` as a cgroup device program; its fd.

    On failure the load is retried with a verifier log, which goes into the
    error; EPERM is also retried once with RLIMIT_MEMLOCK raised (kernels
    before 5.11 charge BPF memory to it).
    """
    code = ffi.buffer(prog)
    lic = ffi.buffer(LICENSE + b"\0")

    def attempt(log: object | None) -> int:
        attr = ffi.buffer(128)
        struct.pack_into(
            "=IIQQIIQII16s",
            attr,
            0,
            BPF_PROG_TYPE_CGROUP_DEVICE,
            len(prog) // 8,
            _addr(code),
            _addr(lic),
            1 if log is not None else 0,
            len(log) if log is not None else 0,
            _addr(log) if log is not None else 0,
            0,
            0,
            PROG_NAME,
        )
        return _bpf(BPF_PROG_LOAD, attr)

    try:
        return attempt(None)
    except OSError as e:
        err = e
    if err.errno == errno.EPERM:  # maybe RLIMIT_MEMLOCK on an old kernel
        try:
            return _with_memlock(lambda: attempt(None))
        except OSError as e:
            err = e
    log = ffi.buffer(1 << 20)
    try:
        return attempt(log)  # a flaky first failure: take the fd
    except OSError as e:
        err = e
    text = bytes(log).partition(b"\0")[0].decode(errors="replace").strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    detail = f" (verifier: {' | '.join(lines[-30:])})" if lines else ""
    raise OCIError(
        f"loading the cgroup device filter for {cgroup}: {err.strerror}{detail}"
    ) from None


def _with_memlock(fn):
    import resource

    old = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    try:
        resource.setrlimit(
            resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        )
    except (OSError, ValueError):
        return fn()
    try:
        return fn()
    finally:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, old)


def query(cgroup_fd: int) -> tuple[int, list[int]]:
    """(attach flags, ids of the device programs attached directly to the cgroup)."""
    cap = 16
    while True:
        ids = ffi.buffer(4 * cap)
        attr = ffi.buffer(64)
        struct.pack_into("=IIIIQI", attr, 0, cgroup_fd, BPF_CGROUP_DEVICE, 0, 0, _addr(ids), cap)
        try:
            _bpf(BPF_PROG_QUERY, attr)
        except OSError as e:
            if e.errno == errno.ENOSPC and cap < 1 << 16:  # more programs than room
                cap *= 4
                continue
            raise
        flags = struct.unpack_from("=I", attr, 12)[0]
        count = struct.unpack_from("=I", attr, 24)[0]
        return flags, list(struct.unpack_from(f"={count}I", ids, 0))


def _attach_attr(cgroup_fd: int, prog_fd: int, flags: int) -> object:
    attr = ffi.buffer(64)
    struct.pack_into("=IIII", attr, 0, cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, flags)
    return attr


def _prog_fd(prog_id: int) -> int:
    attr = ffi.buffer(16)
    struct.pack_into("=I", attr, 0, prog_id)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr)


def set_device_filter(cgroup_dir: str, rules: list[dict]) -> None:
    """Install ``rules`` as the cgroup's device filter, replacing an earlier one.

    The new program is attached (BPF_F_ALLOW_MULTI) before the old ones are
    detached, so the cgroup is never without a filter.  "Old" means every
    device program attached directly to this cgroup before the call: the
    container's cgroup is ociruntime's, as in runc.  If an earlier program
    was attached without ALLOW_MULTI (by another tool), the new one is
    attached with the same flags, which makes the kernel swap it in place.
    """
    prog = assemble(rules)
    try:
        cg = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise OCIError(
            f"opening the cgroup {cgroup_dir} for its device filter: {e.strerror}"
        ) from None
    try:
        try:
            flags, old = query(cg)
        except OSError as e:
            raise OCIError(f"querying the device filters of {cgroup_dir}: {e.strerror}") from None
        multi = not old or bool(flags & BPF_F_ALLOW_MULTI)
        fd = load(prog, cgroup_dir)
        try:
            _bpf(BPF_PROG_ATTACH, _attach_attr(cg, fd, BPF_F_ALLOW_MULTI if multi else flags))
        except OSError as e:
            raise OCIError(
                f"attaching the cgroup device filter to {cgroup_dir}: {e.strerror}"
            ) from None
        finally:
            os.close(fd)
        if not multi:
            return  # replaced in place
        for prog_id in old:
            _detach(cg, prog_id, cgroup_dir)
    finally:
        os.close(cg)


def _detach(cg: int, prog_id: int, cgroup_dir: str) -> None:
    try:
        fd = _prog_fd(prog_id)
    except OSError as e:
        if e.errno == errno.ENOENT:  # gone meanwhile
            return
        raise OCIError(
            f"detaching the old device filter (program {prog_id}) from {cgroup_dir}: {e.strerror}"
        ) from None
    try:
        _bpf(BPF_PROG_DETACH, _attach_attr(cg, fd, 0))
    except OSError as e:
        if e.errno != errno.ENOENT:  # else detached meanwhile
            raise OCIError(
                f"detaching the old device filter (program {prog_id}) from {cgroup_dir}: {e.strerror}"
            ) from None
    finally:
        os.close(fd)
