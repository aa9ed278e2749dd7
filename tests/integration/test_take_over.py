"""The container's init takes the first child's address space over
(procattr.take_over: clone3 with CLONE_VM | CLONE_VFORK) instead of a copy
of it, and its first step ends the first child.

What must hold, since the two share one memory: the first child never runs
again (it is SIGKILLed, frozen in the kernel, before the init can do
anything that fails or exits); the init knows its own pid as the runtime
sees it; it is born in the cgroup2 directory; and the pipe that arms the
kill does not outlive the hand-over.  Each test forks a process P from the
test process that plays the first child; its child Q (CLONE_PARENT) is the
test process's, as the init is the runtime's.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import time
import uuid

import pytest

from ociruntime.linux import procattr
from ociruntime.linux import syscalls as sc

_KCMP = {"x86_64": 312, "aarch64": 272}.get(os.uname().machine)
_KCMP_VM = 1


def _fds() -> list[int]:
    return sorted(int(x) for x in os.listdir("/proc/self/fd"))


def _as_first_child(body) -> tuple[dict, int]:
    """Fork P, which runs ``body()`` and reports the dict it returns (in Q,
    or in P when there is no Q) through a pipe; the report, and P's wait
    status (Q's, when the report names its pid, in "status")."""
    r, w = os.pipe()
    p = os.fork()
    if p == 0:
        code = 0
        try:
            os.close(r)
            os.write(w, json.dumps(body()).encode())
        except BaseException as e:  # noqa: BLE001 - report it, never return to pytest
            os.write(w, json.dumps({"error": repr(e)}).encode())
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    _, status = os.waitpid(p, 0)
    report = json.loads(out or b"{}")
    if "pid" in report:
        _, qstatus = os.waitpid(report["pid"], 0)
        report["status"] = qstatus
    return report, status


def test_the_first_child_is_killed_and_the_init_goes_on():
    def body() -> dict:
        before = _fds()
        pid, born_in = procattr.take_over(None)
        return {
            "pid": pid,
            "getpid": os.getpid(),
            "ppid": os.getppid(),
            "born_in": born_in,
            "fds_before": before,
            "fds_after": _fds(),
        }

    got, p_status = _as_first_child(body)
    assert "error" not in got, got
    # P ends by SIGKILL, not by returning: had it resumed on the stack Q used, it
    # would have crashed or reported a second time (the pipe would hold two reports)
    assert os.WIFSIGNALED(p_status) and os.WTERMSIG(p_status) == signal.SIGKILL, p_status
    assert got["pid"] == got["getpid"], got  # the pid the runtime will follow
    assert got["ppid"] == os.getpid(), got  # CLONE_PARENT: ours, not P's
    assert got["status"] == 0, got
    assert got["born_in"] is False
    assert got["fds_after"] == got["fds_before"], got  # the armed pipe is closed


@pytest.mark.skipif(not os.path.exists("/proc/self/ns/time"), reason="no time namespaces")
def test_the_first_child_has_left_the_memory_when_take_over_returns():
    """take_over returns once P has left the memory, not just been sent
    SIGKILL: until then the kernel counts Q as sharing its memory and
    refuses setns into a time namespace (EUSERS), which exec does right
    after (namespaces.join).  A hundred rounds: without the wait, Q often
    runs on before P has gone."""

    def body() -> dict:
        pid, _ = procattr.take_over(None)
        fd = os.open("/proc/self/ns/time", os.O_RDONLY | os.O_CLOEXEC)
        try:
            sc.setns(fd, sc.CLONE_NEWTIME)
            joined = "ok"
        except OSError as e:
            joined = errno.errorcode.get(e.errno, str(e.errno))
        finally:
            os.close(fd)
        return {"pid": pid, "setns": joined}

    for _ in range(100):
        got, p_status = _as_first_child(body)
        assert "error" not in got, got
        assert got["setns"] == "ok", got  # not EUSERS: P no longer shares the memory
        assert os.WTERMSIG(p_status) == signal.SIGKILL, p_status
        assert got["status"] == 0, got


@pytest.mark.skipif(_KCMP is None, reason="kcmp's number is known here for x86_64 and aarch64")
def test_the_init_runs_in_the_first_childs_memory_while_it_is_frozen():
    """Below take_over: kcmp(2) says Q's memory is P's (not a copy), and P
    waits in the kernel (state D) until Q's write to the armed pipe."""
    libc = ctypes.CDLL(None, use_errno=True)

    def body() -> dict:
        me = os.getpid()
        r, w = os.pipe()
        sc.kill_on_input(r)
        pid = sc.clone_taking_over(sc.CLONE_PARENT)
        same = libc.syscall(_KCMP, me, os.getpid(), _KCMP_VM, 0, 0)
        for _ in range(1000):  # P may still be on its way into the wait
            with open(f"/proc/{me}/stat") as f:
                p_state = f.read().rpartition(")")[2].split()[0]
            if p_state == "D":
                break
            time.sleep(0.001)
        os.write(w, b"\0")
        os.close(r)
        os.close(w)
        return {"pid": pid, "same_vm": same, "p_state": p_state}

    got, p_status = _as_first_child(body)
    assert "error" not in got, got
    assert got["same_vm"] == 0, got  # 0: one mm
    assert got["p_state"] == "D", got  # held in the kernel (vfork), not running
    assert os.WIFSIGNALED(p_status) and os.WTERMSIG(p_status) == signal.SIGKILL, p_status
    assert got["status"] == 0, got


def _cgroup2_mount() -> str | None:
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    return None


@pytest.mark.skipif(_cgroup2_mount() is None, reason="no cgroup2 mount on this host")
def test_the_init_is_born_in_the_cgroup2_directory():
    mount = _cgroup2_mount()
    name = f"ociruntime-test-take-over-{uuid.uuid4().hex[:8]}"
    path = os.path.join(mount, name)
    os.mkdir(path)
    try:

        def body() -> dict:
            pid, born_in = procattr.take_over(path)
            with open("/proc/self/cgroup") as f:
                v2 = [line.strip() for line in f if line.startswith("0::")]
            return {"pid": pid, "born_in": born_in, "cgroup": v2}

        got, p_status = _as_first_child(body)
        assert "error" not in got, got
        assert got["born_in"] is True
        assert got["cgroup"] == [f"0::/{name}"], got
        assert os.WTERMSIG(p_status) == signal.SIGKILL, p_status
    finally:
        os.rmdir(path)


@pytest.mark.parametrize(
    "refused",
    [
        ("clone_taking_over", errno.ENOSYS),  # before 5.3: no clone3
        ("clone_taking_over", errno.E2BIG),  # before 5.7: no clone3 into a cgroup
        ("kill_on_input", errno.EPERM),  # a filter around the runtime refusing fcntl
    ],
)
def test_where_it_cannot_be_done_none_and_nothing_left(monkeypatch, refused):
    """The caller forks instead: take_over returns None in this process,
    unarmed (the pipe closed, so no write can kill it) and with no fd of
    its own left."""
    name, err = refused

    def refuse(*_args: object) -> int:
        raise OSError(err, f"{name}: {os.strerror(err)}")

    monkeypatch.setattr(sc, name, refuse)

    def body() -> dict:
        before = _fds()
        got = procattr.take_over(None)
        return {"got": got, "fds_before": before, "fds_after": _fds()}

    got, p_status = _as_first_child(body)  # P itself reports: no Q
    assert "error" not in got, got
    assert got["got"] is None, got
    assert got["fds_after"] == got["fds_before"], got
    assert p_status == 0, p_status
