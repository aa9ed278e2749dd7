"""Unit tests for ociruntime.cgroups.ebpf.assemble, run through its emulator.

No kernel involved: every generated program is executed by ``ebpf.emulate``
on a grid of requests and compared with ``reference`` below, an independent
statement of the cgroup v1 semantics (the last matching rule decides; no
match denies).
"""

from __future__ import annotations

import itertools
import random
import sys

import pytest

from ociruntime.cgroups import ebpf
from ociruntime.cgroups.controllers.devices import DEFAULT_ALLOW
from ociruntime.errors import OCIError

CHAR, BLOCK = ebpf.DEV_CHAR, ebpf.DEV_BLOCK
M, R, W = ebpf.ACC_MKNOD, ebpf.ACC_READ, ebpf.ACC_WRITE
BITS = {"r": R, "w": W, "m": M}


def reference(rules: list[dict], dev_type: int, major: int, minor: int, access: int) -> bool:
    verdict = False
    for rule in rules:
        t = rule.get("type") or "a"
        if t != "a" and {"c": CHAR, "u": CHAR, "b": BLOCK}[t] != dev_type:
            continue
        if rule.get("major") not in (None, -1) and rule["major"] != major:
            continue
        if rule.get("minor") not in (None, -1) and rule["minor"] != minor:
            continue
        allowed = sum(BITS[c] for c in set(rule.get("access") or "rwm"))
        if access & ~allowed:
            continue
        verdict = bool(rule["allow"])
    return verdict


def allowed(rules: list[dict], dev_type: int, major: int, minor: int, access: str | int) -> bool:
    if isinstance(access, str):
        access = sum(BITS[c] for c in access)
    prog = ebpf.assemble(rules)
    return ebpf.emulate(prog, dev_type, major, minor, access) == 1


MAJORS = (0, 1, 5, 8, 136, 254, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
MINORS = (0, 1, 3, 5, 200, 0xFFFFF, 0xFFFFFFFF)


def check_all(rules: list[dict], majors=MAJORS, minors=MINORS) -> int:
    prog = ebpf.assemble(rules)
    n = 0
    for t, ma, mi, acc in itertools.product((CHAR, BLOCK), majors, minors, range(1, 8)):
        want = reference(rules, t, ma, mi, acc)
        got = ebpf.emulate(prog, t, ma, mi, acc)
        assert got == int(want), f"{rules}: type {t} {ma}:{mi} access {acc}: got {got}, want {want}"
        n += 1
    return n


def rule(allow: bool, t: str = "a", major=None, minor=None, access: str = "rwm") -> dict:
    return {"allow": allow, "type": t, "major": major, "minor": minor, "access": access}


RUNC_DEFAULTS = [rule(False)] + DEFAULT_ALLOW

RULE_SETS = {
    "empty": [],
    "allow-all": [rule(True)],
    "deny-all": [rule(False)],
    "runc-defaults": RUNC_DEFAULTS,
    "later-overrides": [rule(True), rule(False, "c", 1, 3), rule(True, "c", 1, 3, "r")],
    "earlier-shadowed": [rule(False, "c", 1, 3), rule(True)],
    "wildcard-major": [rule(True, "c", None, 3)],
    "wildcard-minor-minus-one": [rule(True, "b", 8, -1, "rw")],
    "access-subsets": [
        rule(True, "c", 1, 3, "r"),
        rule(True, "c", 1, 5, "w"),
        rule(True, "c", 1, 7, "rw"),
    ],
    "deny-write-only": [rule(True), rule(False, "a", None, None, "w")],
    "block-vs-char": [rule(True, "b"), rule(False, "b", 8), rule(True, "c", 8, 0, "m")],
    "big-numbers": [
        rule(True, "c", 0x80000000, 0xFFFFFFFF),
        rule(True, "b", 0xFFFFFFFF, None, "m"),
    ],
    "absent-fields": [{"allow": True}, {"allow": False, "major": 1}],
    "type-u": [rule(False), rule(True, "u", 4, 1)],
    "empty-access-is-rwm": [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": ""}],
}


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_rule_sets_match_reference(name):
    assert check_all(RULE_SETS[name]) == 2 * len(MAJORS) * len(MINORS) * 7


def test_random_rule_sets_match_reference():
    rng = random.Random(1234)
    majors, minors = (1, 5, 8, 0x80000001), (0, 3, 7)
    for _ in range(250):
        rules = []
        for _ in range(rng.randint(0, 7)):
            r = {"allow": rng.random() < 0.5}
            if rng.random() < 0.8:
                r["type"] = rng.choice("acb")
            r["major"] = rng.choice([None, -1, *majors])
            r["minor"] = rng.choice([None, -1, *minors])
            r["access"] = "".join(c for c in "rwm" if rng.random() < 0.6) or rng.choice("rwm")
            rules.append(r)
        check_all(rules, majors + (2,), minors + (9,))


def test_runc_defaults():
    d = RUNC_DEFAULTS
    assert allowed(d, CHAR, 1, 3, "rw")  # /dev/null
    assert allowed(d, CHAR, 1, 9, "r")  # /dev/urandom
    assert allowed(d, CHAR, 5, 2, "rw")  # /dev/ptmx
    assert allowed(d, CHAR, 136, 7, "rw")  # /dev/pts/7
    assert allowed(d, CHAR, 10, 200, "rw")  # /dev/net/tun
    assert not allowed(d, CHAR, 1, 1, "r")  # /dev/mem
    assert not allowed(d, CHAR, 10, 229, "rw")  # /dev/fuse
    assert not allowed(d, BLOCK, 8, 0, "r")  # /dev/sda
    assert allowed(d, CHAR, 250, 1, "m")  # mknod of anything
    assert allowed(d, BLOCK, 8, 0, "m")
    assert not allowed(d, BLOCK, 8, 0, "mr")


def test_allow_all_is_two_instructions():
    prog = ebpf.assemble([rule(True)])
    assert ebpf.decode(prog) == [(ebpf.MOV64_K, 0, 0, 0, 1), (ebpf.EXIT, 0, 0, 0, 0)]
    assert allowed([rule(True)], BLOCK, 253, 0, "rwm")


def test_empty_list_denies_everything():
    prog = ebpf.assemble([])
    assert ebpf.decode(prog) == [(ebpf.MOV64_K, 0, 0, 0, 0), (ebpf.EXIT, 0, 0, 0, 0)]
    for t, acc in itertools.product((CHAR, BLOCK), range(1, 8)):
        assert ebpf.emulate(prog, t, 1, 3, acc) == 0


def test_later_rule_overrides_earlier():
    rules = [rule(True, "c", 1, 3), rule(False, "c", 1, 3, "w")]
    assert allowed(rules, CHAR, 1, 3, "r")
    assert not allowed(rules, CHAR, 1, 3, "w")
    # read+write is not a subset of the deny rule's "w": the earlier allow decides
    assert allowed(rules, CHAR, 1, 3, "rw")
    assert allowed(rules[::-1], CHAR, 1, 3, "w")  # the other way round, the allow wins


def test_access_subset():
    rules = [rule(True, "c", 1, 3, "rw")]
    assert allowed(rules, CHAR, 1, 3, "r")
    assert allowed(rules, CHAR, 1, 3, "w")
    assert allowed(rules, CHAR, 1, 3, "rw")
    assert not allowed(rules, CHAR, 1, 3, "m")
    assert not allowed(rules, CHAR, 1, 3, "rm")


def test_block_vs_char():
    rules = [rule(True, "b", 8, 0)]
    assert allowed(rules, BLOCK, 8, 0, "r")
    assert not allowed(rules, CHAR, 8, 0, "r")
    rules = [rule(True, "a", 8, 0)]
    assert allowed(rules, BLOCK, 8, 0, "r") and allowed(rules, CHAR, 8, 0, "r")


def test_wildcards():
    rules = [rule(True, "c", 136, None), rule(True, "c", -1, 42, "r")]
    assert allowed(rules, CHAR, 136, 0, "rw") and allowed(rules, CHAR, 136, 99999, "rwm")
    assert allowed(rules, CHAR, 7, 42, "r") and not allowed(rules, CHAR, 7, 42, "w")
    assert not allowed(rules, CHAR, 137, 0, "r")


def test_unconditional_rule_cuts_off_earlier_rules():
    # everything before an unconditional rule is unreachable and not emitted
    prog = ebpf.assemble(
        [rule(True, "c", 1, 3), rule(True, "c", 1, 5), rule(False), rule(True, "c", 1, 9)]
    )
    codes = [i[0] for i in ebpf.decode(prog)]
    assert codes.count(ebpf.EXIT) == 2
    assert not allowed([rule(True, "c", 1, 3), rule(False)], CHAR, 1, 3, "r")


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_encoding_sanity(name):
    prog = ebpf.assemble(RULE_SETS[name])
    assert isinstance(prog, bytes) and len(prog) % 8 == 0 and prog
    insns = ebpf.decode(prog)
    assert insns[-1][0] == ebpf.EXIT
    second_slots = {i + 1 for i, x in enumerate(insns) if x[0] == ebpf.LDDW}
    for i, (code, dst, src, off, imm) in enumerate(insns):
        assert 0 <= dst <= 10 and 0 <= src <= 10
        assert -(1 << 31) <= imm < 1 << 31 and -(1 << 15) <= off < 1 << 15
        if code in (ebpf.JNE_K, ebpf.JNE_X, ebpf.JSET_K):
            target = i + 1 + off
            assert off >= 0 and target < len(insns), f"insn {i}: jump to {target}"
            assert target not in second_slots
        if code == ebpf.LDDW:
            assert insns[i + 1][0] == 0 and insns[i + 1][1:4] == (0, 0, 0)
        if code == ebpf.LDXW:
            assert src == 1 and off in (0, 4, 8)
        if code == ebpf.EXIT and i > 0:
            assert insns[i - 1][:2] == (ebpf.MOV64_K, 0) and insns[i - 1][4] in (0, 1)


def test_many_rules_keep_offsets_small():
    rules = [rule(i % 2 == 0, "c", i, i, "rw") for i in range(5000)]
    prog = ebpf.assemble(rules)
    assert max(abs(off) for _, _, _, off, _ in ebpf.decode(prog)) < 16
    assert allowed(rules, CHAR, 4998, 4998, "r") and not allowed(rules, CHAR, 4999, 4999, "r")


def test_instruction_bytes():
    b = ebpf.insn(ebpf.JNE_K, 2, 0, 3, 2)
    assert len(b) == 8
    if sys.byteorder == "little":
        assert b == bytes([0x55, 0x02, 3, 0, 2, 0, 0, 0])
        assert ebpf.insn(ebpf.JNE_X, 4, 1, 2, 0)[1] == 0x14  # src in the high nibble
    assert ebpf.decode(ebpf.insn(ebpf.LDXW, 5, 1, 8, 0)) == [(ebpf.LDXW, 5, 1, 8, 0)]


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"allow": True, "type": "x"}, "unknown device type"),
        ({"allow": True, "access": "rx"}, "unknown access"),
        ({"allow": True, "major": "1"}, "not a device number"),
        ({"allow": True, "minor": -2}, "not a device number"),
        ({"allow": True, "major": True}, "not a device number"),
        ({"allow": True, "major": 1 << 32}, "not a device number"),
    ],
)
def test_invalid_rules(bad, words):
    with pytest.raises(OCIError, match=words):
        ebpf.assemble([rule(True), bad])


def test_emulator_refuses_what_the_verifier_would():
    i = ebpf.insn
    exit0 = i(ebpf.MOV64_K, 0, imm=0) + i(ebpf.EXIT)
    with pytest.raises(ValueError, match="not set"):
        ebpf.emulate(i(ebpf.EXIT), CHAR, 1, 3, R)
    with pytest.raises(ValueError, match="r0 = 2"):
        ebpf.emulate(i(ebpf.MOV64_K, 0, imm=2) + i(ebpf.EXIT), CHAR, 1, 3, R)
    with pytest.raises(ValueError, match="not emulated"):
        ebpf.emulate(i(0x07, 0, imm=1) + exit0, CHAR, 1, 3, R)
    with pytest.raises(ValueError, match="context load"):
        ebpf.emulate(i(ebpf.LDXW, 2, 1, 12) + exit0, CHAR, 1, 3, R)
    with pytest.raises(ValueError, match="backward"):
        ebpf.emulate(exit0[:8] + i(ebpf.JNE_K, 0, 0, -2, 5) + i(ebpf.EXIT), CHAR, 1, 3, R)
    with pytest.raises(ValueError, match="outside"):
        ebpf.emulate(i(ebpf.MOV64_K, 0, imm=0) + i(ebpf.JNE_K, 0, 0, 5, 1), CHAR, 1, 3, R)
    with pytest.raises(ValueError, match="multiple of 8"):
        ebpf.emulate(b"\x95\0\0\0", CHAR, 1, 3, R)


def test_the_device_filter_loads_without_ctypes_or_struct():
    """set_device_filter runs in the runtime process of every create on a
    cgroup v2 host: it calls bpf(2) through linux/ffi.py (on _ctypes) and
    packs with _struct, where ``import ctypes`` cost ~3 ms a create."""
    import os
    import subprocess

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import ociruntime.cgroups.ebpf as e\n"
        "e._bpf  # the syscall path's names resolve\n"
        "print(sorted(m for m in ('ctypes', 'struct') if m in sys.modules))\n"
    )
    r = subprocess.run(
        [sys.executable, "-IS", "-c", code, repo], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[]"], r.stdout
