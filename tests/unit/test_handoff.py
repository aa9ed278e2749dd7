"""What the runtime hands an init forked at entry (prefork.py): the security
plan and the InitArgs as JSON, and back."""

from __future__ import annotations

import os

import pytest

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


def test_a_seccomp_plan_does_not_travel():
    p = _plan()
    p.seccomp = object()
    with pytest.raises(ValueError, match="seccomp"):
        p.to_wire()


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
    b = InitArgs.from_wire(wire, Channel(r, w))
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
