"""The -ENOSYS stub put in front of libseccomp's filter (linux/seccomp.py),
run through a small classic-BPF interpreter: what the kernel would answer
for a syscall on an architecture."""

from __future__ import annotations

import errno
import struct

from ociruntime.linux import seccomp

X86_64 = 0xC000003E
I386 = 0x40000003
AARCH64 = 0xC00000B7
ALLOW = 0x7FFF0000
ENOSYS = 0x00050000 | errno.ENOSYS


def run(program: bytes, arch: int, nr: int) -> int:
    """Execute ``program`` on seccomp_data {nr, arch}; its return value."""
    insns = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    data = struct.pack("=iI", nr, arch) + bytes(56)
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
        elif code == 0x06:  # ret k
            return k
        elif code == 0x05:  # ja k
            pc += k
        elif code in (0x15, 0x25, 0x45):  # jeq, jgt, jset
            hit = {0x15: acc == k, 0x25: acc > k, 0x45: bool(acc & k)}[code]
            pc += jt if hit else jf
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        pc += 1


def program(last: list[tuple[int, int]]) -> bytes:
    return seccomp.enosys_stub(last) + struct.pack("=HBBI", 0x06, 0, 0, ALLOW)


def test_newer_syscalls_get_enosys_older_ones_reach_the_filter():
    p = program([(X86_64, 334)])
    assert run(p, X86_64, 435) == ENOSYS  # clone3
    assert run(p, X86_64, 335) == ENOSYS
    assert run(p, X86_64, 334) == ALLOW
    assert run(p, X86_64, 0) == ALLOW


def test_x32_syscalls_and_other_architectures_are_the_filters():
    p = program([(X86_64, 334)])
    assert run(p, X86_64, 0x40000000 | 500) == ALLOW
    assert run(p, AARCH64, 500) == ALLOW


def test_each_architecture_has_its_own_last_syscall():
    p = program([(X86_64, 334), (I386, 400), (AARCH64, 100)])
    assert run(p, X86_64, 400) == ENOSYS
    assert run(p, I386, 400) == ALLOW
    assert run(p, I386, 401) == ENOSYS
    assert run(p, AARCH64, 101) == ENOSYS
    assert run(p, AARCH64, 100) == ALLOW


def test_no_table_no_stub():
    assert seccomp.enosys_stub([]) == b""
