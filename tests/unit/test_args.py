"""What the runtime hands a first child forked at entry
(process/first_child.py): the security plan and the InitArgs as JSON, and
back; every field of the one table (process/args.py FIELDS) survives."""

from __future__ import annotations

import os

from ociruntime import jsonio
from ociruntime.linux import security
from ociruntime.process.args import FIELDS, InitArgs
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


# a value unlike each default, for every field of the table
NOT_DEFAULT = {
    "config": {"process": {"args": ["true"]}, "linux": {"namespaces": [{"type": "pid"}]}},
    "bundle": "/b",
    "rootfs": "/b/rootfs",
    "no_pivot": True,
    "preserve_fds": 2,
    "preserve_gaps": [4],
    "debug": True,
    "keyring": "k",
    "join_pid": 4242,
    "fork_init": True,
    "hidden": True,
    "cgroup2": "/sys/fs/cgroup/unified/x",
    "cgroup_v1": ["/sys/fs/cgroup/memory/x", "/sys/fs/cgroup/pids/x"],
    "join_v1": True,
    "runtime_point_unasked": True,
    "state": {"id": "c", "status": "running", "pid": 4242},
}


def test_every_field_is_in_the_table_and_survives_json(tmp_path):
    assert set(NOT_DEFAULT) == set(FIELDS), "NOT_DEFAULT must name every field"
    for name, value in NOT_DEFAULT.items():
        assert value != FIELDS[name], name
    a = InitArgs(_plan(), **NOT_DEFAULT)
    wire = jsonio.loads(jsonio.dumps(a.to_wire(str(tmp_path))))
    r, w = os.pipe()
    b = InitArgs.from_wire(wire, Channel(r))
    try:
        for name, value in NOT_DEFAULT.items():
            assert getattr(b, name) == value, name
        assert b.sec.caps == a.sec.caps
        assert (tmp_path / "exec.sock").is_socket()
        assert oct((tmp_path / "exec.sock").stat().st_mode & 0o777) == "0o600"
    finally:
        b.exec_sock.close()
        b.sync.close()
        os.close(w)


def test_defaults_are_not_shared_between_objects():
    a, b = InitArgs(None), InitArgs(None)
    a.cgroup_v1.append("/x")
    a.state["id"] = "x"
    assert b.cgroup_v1 == [] and b.state == {}


def test_an_unknown_field_is_an_error():
    import pytest

    with pytest.raises(TypeError):
        InitArgs(None, no_such_field=1)
