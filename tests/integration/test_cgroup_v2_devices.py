"""cgroup v2 device filter (ociruntime.cgroups.ebpf) against a real kernel.

Needs root and a pure cgroup v2 /sys/fs/cgroup; on other hosts run it in
the cgroup v2 guest:

    /work/shared/tools/vm-run -- /usr/bin/python3 -m pytest -q tests/integration/test_cgroup_v2_devices.py

Each test makes /sys/fs/cgroup/ociruntime-test-<uuid>, attaches filters to
it, and moves a forked prober child in; the child opens device nodes on
request and reports ok or the errno name.
"""

from __future__ import annotations

import errno
import os
import stat
import time
import uuid

import pytest

from ociruntime.cgroups import ebpf
from ociruntime.cgroups.controllers.devices import DEFAULT_ALLOW
from ociruntime.errors import OCIError
from ociruntime.linux import syscalls as sc
from ociruntime.linux.syscalls import statfs_type

CGROUP2_SUPER_MAGIC = 0x63677270
ROOT = "/sys/fs/cgroup"


def _magic() -> int | None:
    try:
        return statfs_type(ROOT)
    except OSError:
        return None


_M = _magic()
pytestmark = pytest.mark.skipif(
    _M != CGROUP2_SUPER_MAGIC,
    reason=f"{ROOT} is not a pure cgroup v2 hierarchy (statfs magic "
    f"{'unavailable' if _M is None else hex(_M)}, want {CGROUP2_SUPER_MAGIC:#x}); "
    "run under /work/shared/tools/vm-run",
)

ALLOW_ALL = [{"allow": True, "type": "a", "access": "rwm"}]
DENY_NULL = ALLOW_ALL + [{"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]


@pytest.fixture
def cgroup():
    path = f"{ROOT}/ociruntime-test-{uuid.uuid4().hex[:12]}"
    os.mkdir(path)
    yield path
    # move whatever is left out, then remove the directory
    with open(f"{path}/cgroup.procs") as f:
        pids = f.read().split()
    for pid in pids:
        try:
            with open(f"{ROOT}/cgroup.procs", "w") as f:
                f.write(pid)
        except OSError:
            pass
    for _ in range(100):
        try:
            os.rmdir(path)
            break
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            time.sleep(0.05)
    else:
        os.rmdir(path)


class Prober:
    """A forked child, moved into the cgroup, that opens paths on request."""

    def __init__(self, cgroup: str) -> None:
        req_r, self._req = os.pipe()
        self._resp, resp_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: only os calls, always os._exit
            code = 0
            try:
                os.close(self._req)
                os.close(self._resp)
                with os.fdopen(req_r) as req, os.fdopen(resp_w, "w", buffering=1) as resp:
                    for line in req:
                        op, path = line.rstrip("\n").split(" ", 1)
                        resp.write(self._do(op, path) + "\n")
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(req_r)
        os.close(resp_w)
        self._out = os.fdopen(self._resp)
        with open(f"{cgroup}/cgroup.procs", "w") as f:
            f.write(str(self.pid))

    @staticmethod
    def _do(op: str, path: str) -> str:
        try:
            if op == "read":
                os.close(os.open(path, os.O_RDONLY))
            elif op == "write":
                os.close(os.open(path, os.O_WRONLY))
            elif op == "tmpfs":  # a private tmpfs without nodev, in a mount ns of its own
                sc.unshare(sc.CLONE_NEWNS)
                sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
                sc.mount("tmpfs", path, "tmpfs", 0, "mode=700")
            elif op == "mknod":
                kind, rest = path.split(" ", 1)
                major, minor, target = rest.split(" ", 2)
                mode = (stat.S_IFCHR if kind == "c" else stat.S_IFBLK) | 0o600
                os.mknod(target, mode, os.makedev(int(major), int(minor)))
            return "ok"
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno))

    def __call__(self, op: str, path: str) -> str:
        os.write(self._req, f"{op} {path}\n".encode())
        return self._out.readline().strip()

    def close(self) -> None:
        os.close(self._req)
        self._out.close()
        _, status = os.waitpid(self.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0


def attached(cgroup: str) -> list[int]:
    fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return ebpf.query(fd)[1]
    finally:
        os.close(fd)


def test_deny_null_then_replace_with_allow_all(cgroup):
    ebpf.set_device_filter(cgroup, DENY_NULL)
    assert len(attached(cgroup)) == 1
    probe = Prober(cgroup)
    try:
        assert probe("read", "/dev/null") == "EPERM"
        assert probe("write", "/dev/null") == "EPERM"
        assert probe("read", "/dev/zero") == "ok"
        first = attached(cgroup)

        ebpf.set_device_filter(cgroup, ALLOW_ALL)  # update: replaces the old program
        now = attached(cgroup)
        assert len(now) == 1 and now != first
        assert probe("read", "/dev/null") == "ok"
        assert probe("read", "/dev/zero") == "ok"

        ebpf.set_device_filter(cgroup, DENY_NULL)  # and back
        assert len(attached(cgroup)) == 1
        assert probe("read", "/dev/null") == "EPERM"
    finally:
        probe.close()


def test_runc_defaults(cgroup, tmp_path):
    ebpf.set_device_filter(cgroup, [{"allow": False, "access": "rwm"}] + DEFAULT_ALLOW)
    probe = Prober(cgroup)
    try:
        assert probe("read", "/dev/null") == "ok"
        assert probe("write", "/dev/zero") == "ok"
        assert probe("read", "/dev/urandom") == "ok"
        if os.path.exists("/dev/mem"):
            assert probe("read", "/dev/mem") == "EPERM"
        # mknod of any char or block node is allowed, opening one is not
        assert probe("tmpfs", str(tmp_path)) == "ok"
        assert probe("mknod", f"c 1 1 {tmp_path}/mem") == "ok"
        assert probe("mknod", f"b 7 0 {tmp_path}/loop0") == "ok"
        assert probe("read", f"{tmp_path}/mem") == "EPERM"
        assert probe("read", f"{tmp_path}/loop0") == "EPERM"
    finally:
        probe.close()


def test_empty_rules_deny_everything(cgroup):
    ebpf.set_device_filter(cgroup, [])
    probe = Prober(cgroup)
    try:
        assert probe("read", "/dev/null") == "EPERM"
        assert probe("read", "/dev/zero") == "EPERM"
        assert probe("read", "/etc/hostname") in ("ok", "ENOENT")  # files are not devices
    finally:
        probe.close()


def test_load_error_names_cgroup_and_has_verifier_log(cgroup):
    bad = ebpf.insn(ebpf.EXIT)  # r0 never set
    with pytest.raises(OCIError) as e:
        ebpf.load(bad, cgroup)
    msg = str(e.value)
    assert f"loading the cgroup device filter for {cgroup}: " in msg
    assert "verifier:" in msg and "R0" in msg and "\n" not in msg


def test_missing_cgroup(cgroup):
    with pytest.raises(OCIError, match=f"{cgroup}/nope"):
        ebpf.set_device_filter(f"{cgroup}/nope", ALLOW_ALL)
