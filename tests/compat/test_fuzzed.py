"""Configs the fuzzer made (tests/fuzzconfig.py, issue 18), through
ociruntime and runc: those where ours failed with an internal error, or
where the two disagreed, now fixed to agree.  Where they still differ, on
purpose, the case is asserted here too, each with its reason; docs/compat.md
and README list them.

``FUZZ_RUNC=N`` (tests/integration/test_fuzz.py) surveys N more fuzzed
configs through both and prints where they disagree.
"""

from __future__ import annotations

import os

import pytest

from . import corpus

DEEP = "@@deep@@"


@pytest.fixture
def config(runc_spec):
    return lambda args: corpus.no_terminal(runc_spec, args)


def text(s, subs: dict[str, bytes]) -> None:
    """Write the side's config.json (``s.bundle()``) again with the quoted
    placeholders replaced by raw text: what json.dump cannot write."""
    path = os.path.join(s.bundle(), "config.json")
    with open(path, "rb") as f:
        data = f.read()
    for k, v in subs.items():
        data = data.replace(f'"{k}"'.encode(), v)
    with open(path, "wb") as f:
        f.write(data)


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


# (name, change to the config, raw text for its placeholders, process args, both run it)
AGREE = [
    # 10,000 levels in all (the config's object, linux, and 9,998 arrays): Go's limit
    ("nested-10000", lambda c: c["linux"].update(x=DEEP), {DEEP: deep(9998)}, None, True),
    ("nested-10001", lambda c: c["linux"].update(x=DEEP), {DEEP: deep(9999)}, None, False),
    # each byte that is not UTF-8, each lone surrogate: U+FFFD on both
    (
        "hostname-not-unicode",
        lambda c: c.update(hostname="@@h@@"),
        {"@@h@@": b'"a\xff\\ud800b\xed\xa0\x80"'},
        ["sh", "-c", "hostname | od -An -tx1"],
        True,
    ),
    (
        "rlimit-2-63",
        lambda c: c["process"].update(
            rlimits=[{"type": "RLIMIT_CORE", "soft": 2**63, "hard": 2**64 - 1}]
        ),
        {},
        ["grep", "core", "/proc/self/limits"],
        True,
    ),
    (
        "rlimit-nofile-2-63",
        lambda c: c["process"].update(
            rlimits=[{"type": "RLIMIT_NOFILE", "soft": 2**63, "hard": 2**63}]
        ),
        {},
        None,
        False,
    ),
    ("nan", lambda c: c["linux"].update(x="@@nan@@"), {"@@nan@@": b"[NaN]"}, None, False),
    (
        "intel-rdt-bandwidth",
        lambda c: c["linux"].update(intelRdt={"memBwSchema": "MB:0=100"}),
        {},
        None,
        False,
    ),
    ("no-args", lambda c: c["process"].pop("args"), {}, None, False),
]


@pytest.mark.parametrize(
    "change, subs, args, runs", [a[1:] for a in AGREE], ids=[a[0] for a in AGREE]
)
def test_both_alike(both, config, change, subs, args, runs):
    c = config(args or ["true"])
    change(c)

    def scenario(s):
        text(s, subs)
        s.run()

    cmp = both(c, scenario)
    cmp.assert_same(ok=("run c",) if runs else ())
    ours, runc = cmp.step("run c")
    assert (ours.rc == 0) == runs and (runc.rc == 0) == runs
    if not runs:
        assert ours.err.count("\n") == 1 and ours.err.startswith("ociruntime: config.json"), (
            ours.err
        )


# Deliberate differences: (name, change, which runs it, what our line names, why)
DIFFER = [
    (
        "hook-argv0-empty",
        lambda c: c.update(hooks={"createRuntime": [{"path": "/bin/true", "args": [""]}]}),
        "runc",
        "/hooks/createRuntime/0/args/0: expected a non-empty string",
        "posix_spawn (ours) cannot pass an empty argv[0]; refused before anything exists",
    ),
    (
        "hook-env-empty-name",
        lambda c: c.update(hooks={"createRuntime": [{"path": "/bin/true", "env": ["=x"]}]}),
        "runc",
        "/hooks/createRuntime/0/env/0: invalid environment variable: name cannot be empty",
        "runc's own words for the process's env, applied to hooks' env too",
    ),
    (
        "domainname-65",
        lambda c: c.update(domainname="d" * 65),
        "runc",
        "/domainname: longer than the kernel's 64 bytes",
        "runc 1.1 ignores domainname; we set it, and setdomainname(2) takes 64 bytes",
    ),
    (
        "device-minor-2-32",
        lambda c: c["linux"].update(
            devices=[{"type": "c", "path": "/dev/fz", "major": 1, "minor": 2**32 + 3}]
        ),
        "runc",
        "/linux/devices/0/minor: expected an integer between 0 and 4294967295",
        "runc casts it to 32 bits and makes another node (1:3) than the one asked for",
    ),
    (
        "personality-without-domain",
        lambda c: c["linux"].update(personality={"flags": []}),
        "runc",
        '/linux/personality: missing required field "domain"',
        "config-linux.md requires it; runc 1.1 ignores personality",
    ),
    (
        "io-priority-8",
        lambda c: c["process"].update(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 8}),
        "runc",
        "/process/ioPriority/priority: expected an integer between 0 and 7",
        "more would spill into the class bits; runc 1.1 ignores ioPriority",
    ),
    (
        "ociVersion-missing",
        lambda c: c.pop("ociVersion"),
        "runc",
        'config.json: missing required field "ociVersion"',
        "config.md: REQUIRED; runc 1.1 does not look at it",
    ),
    (
        "seccomp-without-defaultAction",
        lambda c: c["linux"].update(seccomp={}),
        "runc",
        '/linux/seccomp: missing required field "defaultAction"',
        "config-linux.md: REQUIRED; runc 1.1 loads no filter",
    ),
    (
        "nul-in-an-unknown-field",
        lambda c: c["linux"].update(x={"a\0b": 1}),
        "runc",
        "/linux/x/a\\u0000b: contains a NUL byte",
        "no string anywhere may hold a NUL (schemas/README.md); runc drops unknown fields",
    ),
    (
        "time-offsets-without-time-namespace",
        lambda c: c["linux"].update(timeOffsets={"monotonic": {"secs": 1}}),
        "runc",
        "/linux/timeOffsets: time offsets need a new time namespace",
        "a field of runtime-spec 1.2, which runc 1.1 ignores (as netDevices, mount idmaps,"
        " execCPUAffinity, scheduler, ioPriority, personality): here applied, so checked",
    ),
    (
        "rlimit-nofile-soft-0",
        lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 0, "hard": 1024}]),
        "ociruntime",
        "",
        "the soft limit is set right before execve; runc's init needs an fd after it",
    ),
]


@pytest.mark.parametrize(
    "change, runner, ours_says, why", [d[1:] for d in DIFFER], ids=[d[0] for d in DIFFER]
)
def test_one_runs_it(both, config, change, runner, ours_says, why):
    c = config(["true"])
    change(c)
    cmp = both(c, lambda s: s.run())
    ours, runc = cmp.step("run c")
    if runner == "runc":
        assert runc.rc == 0, f"{why}: {runc.err}"
        assert ours.rc == 1 and ours_says in ours.err and ours.err.count("\n") == 1, ours.err
    else:
        assert (ours.rc, ours.err) == (0, ""), why
        assert runc.rc == 1 and "too many open files" in runc.err, runc.err
