"""What the runtime hands an init forked at entry (prefork.py): the security
plan and the InitArgs as JSON, and back."""

from __future__ import annotations

import os

from ociruntime import jsonio
from ociruntime.handoff import InitArgs
from ociruntime.linux import security
from ociruntime.sync import Channel


def _plan() -> security.Plan:
    return security.plan(
        {
            "ociVersion": "1.2.0",
            "process": {
                "args": ["true"],
                "cwd": "/",
                "noNewPrivileges": True,
                "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"]},
                "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
            },
            "linux": {"sysctl": {"net.ipv4.ip_forward": "1"}, "namespaces": [{"type": "network"}]},
        }
    )


def test_plan_survives_json():
    p = _plan()
    q = security.Plan.from_wire(jsonio.loads(jsonio.dumps(p.to_wire())))
    assert q.caps == p.caps and q.caps["bounding"] == {0, 5}
    assert (q.nnp, q.sysctl, q.ioprio) == (p.nnp, p.sysctl, p.ioprio)
    assert q.seccomp is None


def test_a_seccomp_plan_travels_as_json():
    seccomp = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "listenerPath": "/run/agent.sock",
        "listenerMetadata": "meta",
        "syscalls": [
            {"names": ["read", "write", "no_such_call"], "action": "SCMP_ACT_ALLOW"},
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
            },
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
        ],
    }
    p = security.plan(
        {
            "ociVersion": "1.2.0",
            "process": {"args": ["true"], "cwd": "/"},
            "linux": {"seccomp": seccomp},
        }
    )
    q = security.Plan.from_wire(jsonio.loads(jsonio.dumps(p.to_wire())))
    for k in ("default", "archs", "flags", "rules", "notify", "listener_path", "listener_metadata"):
        assert getattr(q.seccomp, k) == getattr(p.seccomp, k), k
    assert q.seccomp.rules and all(
        isinstance(a, tuple) for _, _, args in q.seccomp.rules for a in args
    )
    assert q.seccomp.notify and q.seccomp.listener_path == "/run/agent.sock"


def test_init_args_survive_json_and_make_the_exec_socket(tmp_path):
    a = InitArgs(
        {"process": {"args": ["true"]}},
        "/b",
        "/b/rootfs",
        None,
        None,
        _plan(),
        True,
        2,
        False,
        keyring="k",
    )
    a.fork_init = True
    wire = jsonio.loads(jsonio.dumps(a.to_wire(str(tmp_path))))
    r, w = os.pipe()
    b = InitArgs.from_wire(wire, Channel(r))
    try:
        assert (b.bundle, b.rootfs, b.no_pivot, b.preserve_fds, b.keyring, b.fork_init) == (
            "/b",
            "/b/rootfs",
            True,
            2,
            "k",
            True,
        )
        assert b.sec.caps == a.sec.caps
        assert (tmp_path / "exec.sock").is_socket()
        assert oct((tmp_path / "exec.sock").stat().st_mode & 0o777) == "0o600"
    finally:
        b.exec_sock.close()
        b.sync.close()
