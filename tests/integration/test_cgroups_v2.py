"""Cgroups on a pure cgroup v2 host: the core checks of test_cgroups.py.

Skipped unless /sys/fs/cgroup is a cgroup2 mount.  On a v1 or hybrid host it
runs in the QEMU guest (test_cgroups_v2_vm.py does that from the host):

    ../shared/tools/vm-run -- /usr/bin/python3 -m pytest -q -p no:cacheprovider \\
        tests/integration/test_cgroups_v2.py

Everything is 20-40x slower in the guest, so one container (module scope)
carries most checks, in file order: its files, the cgroup namespace, the
device filter, an OOM kill, freeze, update, and finally delete.  Only the
pids test needs a container of its own (it runs in the foreground).
"""

from __future__ import annotations

import json
import os

import pytest
from conftest import Bundle, Runtime, leftovers, new_bundle, read_record

ROOT = "/sys/fs/cgroup"
MiB = 1 << 20
SLOW = 120  # the CLI's timeout: the guest is 20-40x slower


def _fstype(mountpoint: str) -> str | None:
    """The filesystem type of the last mount at ``mountpoint`` (mountinfo order)."""
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if pre.split()[4] == mountpoint:
                found = post.split()[0]
    return found


_FS = _fstype(ROOT)
pytestmark = pytest.mark.skipif(
    _FS != "cgroup2",
    reason=f"{ROOT} is {_FS or 'not mounted'}, not a pure cgroup v2 hierarchy; "
    "test_cgroups_v2_vm.py runs this file in a cgroup v2 guest",
)


def rd(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def kv(path: str) -> dict[str, str]:
    return dict(line.split(None, 1) for line in rd(path).splitlines())


def make_bundle(base, rootfs: str, name: str, args: list[str], resources: dict) -> Bundle:
    b = new_bundle(base / name, rootfs, args)
    b.config["linux"].setdefault("resources", {}).update(resources)
    return b.save()


# ---- the shared container ------------------------------------------------------------

DEVICE_RULES = [
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "r"},
]
RESOURCES = {
    "memory": {"limit": 64 * MiB, "swap": 96 * MiB, "reservation": 16 * MiB},
    "pids": {"limit": 40},
    "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
    "devices": DEVICE_RULES,
}


class Box:
    """The module's container: runtime, bundle, id, cgroup directory."""

    rt: Runtime
    bundle: Bundle
    id: str
    path: str


@pytest.fixture(scope="module")
def box(tmp_path_factory, busybox_rootfs):
    base = tmp_path_factory.mktemp("cgv2")
    state = base / "state"
    state.mkdir()
    b = Box()
    b.rt = Runtime(str(state), cli_timeout=SLOW)
    b.bundle = make_bundle(base, busybox_rootfs, "bundle", ["sleep", "600"], RESOURCES)
    b.bundle.add_caps("CAP_MKNOD")
    b.id = b.rt.new_id("v2")
    b.rt.cli_ok("run", "-d", "--bundle", b.bundle.path, b.id)
    rec = read_record(b.rt.root, b.id)["cgroup"]
    assert rec["layout"] == "v2"
    b.path = rec["path"]
    yield b
    b.rt.cleanup()


def test_files(box):
    p = box.path
    assert p == f"{ROOT}/ociruntime/{box.id}"
    assert rd(f"{p}/memory.max") == str(64 * MiB)
    # the spec's swap is memory+swap: 96 MiB - 64 MiB of swap alone
    assert rd(f"{p}/memory.swap.max") == str(32 * MiB)
    assert rd(f"{p}/memory.low") == str(16 * MiB)
    assert rd(f"{p}/pids.max") == "40"
    assert rd(f"{p}/cpu.weight") == "39"  # 1 + (1024 - 2) * 9999 / 262142
    assert rd(f"{p}/cpu.max") == "50000 100000"
    pid = box.rt.state(box.id)["pid"]
    assert str(pid) in rd(f"{p}/cgroup.procs").split()


def test_cgroup_namespace(box):
    r = box.rt.cli_ok(
        "exec", box.id, "sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max"
    )
    assert r.stdout.split() == ["0::/", str(64 * MiB)]


def test_device_filter(box):
    script = """
mknod /dev/lc c 10 237 && mknod /dev/km c 1 11 || exit 9
(exec 3</dev/lc) && echo lc-read-ok
(exec 3>/dev/lc) || echo lc-write-refused
(exec 3</dev/km) || echo km-refused
echo zero=$(head -c1 /dev/zero | wc -c)
rm /dev/lc /dev/km
"""
    r = box.rt.cli_ok("exec", box.id, "sh", "-c", script)
    for want in ("lc-read-ok", "lc-write-refused", "km-refused", "zero=1"):
        assert want in r.stdout, r.stdout + r.stderr
    assert "can't open /dev/km: Operation not permitted" in r.stderr


def test_oom_kill_counted(box):
    before = int(kv(f"{box.path}/memory.events").get("oom_kill", "0"))
    # dd allocates its 128 MiB block and fills it: over memory.max, no swap device
    r = box.rt.cli_ok(
        "exec",
        box.id,
        "sh",
        "-c",
        "dd if=/dev/zero of=/dev/null bs=128M count=1; echo status=$?",
    )
    assert "status=137" in r.stdout, r.stdout + r.stderr
    assert int(kv(f"{box.path}/memory.events")["oom_kill"]) > before
    # only the hog died
    assert box.rt.state(box.id)["status"] == "running"


def test_pause_and_resume(box):
    box.rt.cli_ok("pause", box.id)
    assert rd(f"{box.path}/cgroup.freeze") == "1"
    assert kv(f"{box.path}/cgroup.events")["frozen"] == "1"
    assert box.rt.state(box.id)["status"] == "paused"
    box.rt.cli_ok("resume", box.id)
    assert rd(f"{box.path}/cgroup.freeze") == "0"
    assert kv(f"{box.path}/cgroup.events")["frozen"] == "0"
    assert box.rt.state(box.id)["status"] == "running"


def test_update(box):
    p = box.path
    box.rt.cli_ok(
        "update",
        "--memory",
        "128m",
        "--memory-swap",
        "128m",
        "--pids-limit",
        "50",
        "--cpu-shares",
        "512",
        box.id,
    )
    assert rd(f"{p}/memory.max") == str(128 * MiB)
    assert rd(f"{p}/memory.swap.max") == "0"
    assert rd(f"{p}/pids.max") == "50"
    assert rd(f"{p}/cpu.weight") == "20"  # 1 + 510 * 9999 / 262142
    res = {
        "memory": {"limit": 48 * MiB, "swap": 64 * MiB},
        "cpu": {"quota": 20000, "period": 50000},
        "pids": {"limit": 0},
    }
    box.rt.cli_ok("update", "-r", "-", box.id, input=json.dumps(res))
    assert rd(f"{p}/memory.max") == str(48 * MiB)
    assert rd(f"{p}/memory.swap.max") == str(16 * MiB)
    assert rd(f"{p}/cpu.max") == "20000 50000"
    assert rd(f"{p}/pids.max") == "max"


def test_update_as_runc(box):
    """runc's forms: a quota or a period alone keeps the other (cpu.max holds
    both), --cpu-share, and --memory -1 lifting the swap limit too."""
    p = box.path
    box.rt.cli_ok("update", "--cpu-quota", "30000", box.id)
    assert rd(f"{p}/cpu.max") == "30000 50000"
    box.rt.cli_ok("update", "--cpu-period", "100000", box.id)
    assert rd(f"{p}/cpu.max") == "30000 100000"
    box.rt.cli_ok("update", "--cpu-share", "1024", box.id)
    assert rd(f"{p}/cpu.weight") == "39"
    box.rt.cli_ok("update", "--memory", "-1", box.id)
    assert (rd(f"{p}/memory.max"), rd(f"{p}/memory.swap.max")) == ("max", "max")
    box.rt.cli_ok("update", "--memory", "32m", "--memory-swap", "48m", box.id)
    assert (rd(f"{p}/memory.max"), rd(f"{p}/memory.swap.max")) == (str(32 * MiB), str(16 * MiB))
    # a new limit alone: the recorded memory+swap stays what it was
    box.rt.cli_ok("update", "--memory", "40m", box.id)
    assert (rd(f"{p}/memory.max"), rd(f"{p}/memory.swap.max")) == (str(40 * MiB), str(8 * MiB))


def test_delete_leaves_nothing(box):
    assert os.path.isdir(box.path)
    box.rt.cli_ok("delete", "--force", box.id)
    assert not os.path.exists(box.path)
    assert leftovers(box.rt, box.bundle, (box.id,)) == []


# ---- a container of its own ----------------------------------------------------------


def test_pids_limit_stops_fork(tmp_path, busybox_rootfs):
    state = tmp_path / "state"
    state.mkdir()
    rt = Runtime(str(state), cli_timeout=SLOW)
    script = "for i in $(seq 10); do sleep 2 & done; echo loop-done"
    b = make_bundle(tmp_path, busybox_rootfs, "pids", ["sh", "-c", script], {"pids": {"limit": 5}})
    cid = rt.new_id("pids")
    try:
        r = rt.cli("run", "--bundle", b.path, cid)
        assert "can't fork" in r.stderr, r.stdout + r.stderr
        assert not os.path.exists(f"{ROOT}/ociruntime/{cid}")
        assert leftovers(rt, b, (cid,)) == []
    finally:
        rt.cleanup()


def test_a_frozen_cgroup_is_refused(tmp_path, busybox_rootfs):
    """An init born into a frozen cgroup would stop dead and run -d would wait
    for it forever: refused at once, as runc does."""
    state = tmp_path / "state"
    state.mkdir()
    rt = Runtime(str(state), cli_timeout=SLOW)
    rel = f"/ociruntime-frozen-{os.getpid()}"
    d = ROOT + rel
    os.mkdir(d)
    try:
        with open(d + "/cgroup.freeze", "w") as f:
            f.write("1")
        b = make_bundle(tmp_path, busybox_rootfs, "frz", ["sleep", "30"], {})
        b.config["linux"]["cgroupsPath"] = rel
        b.save()
        cid = rt.new_id("frz")
        r = rt.cli("run", "-d", "--bundle", b.path, cid)
        assert r.returncode != 0 and "frozen" in r.stderr, r.stderr
        assert leftovers(rt, b, (cid,)) == []
    finally:
        rt.cleanup()
        if os.path.isdir(d):
            os.rmdir(d)


def test_delete_removes_the_parent_create_made(tmp_path, busybox_rootfs):
    """A cgroupsPath two levels down made its parent too: delete removes it
    once empty (the spec: what create made; runc leaves it)."""
    state = tmp_path / "state"
    state.mkdir()
    rt = Runtime(str(state), cli_timeout=SLOW)
    top = f"/ociruntime-parent-{os.getpid()}"
    b = make_bundle(tmp_path, busybox_rootfs, "par", ["true"], {})
    b.config["linux"]["cgroupsPath"] = top + "/leaf"
    b.save()
    cid = rt.new_id("par")
    try:
        rt.cli_ok("create", "--bundle", b.path, cid)
        assert read_record(rt.root, cid)["cgroup"]["parents"] == [ROOT + top]
        rt.cli_ok("delete", "--force", cid)
        assert not os.path.exists(ROOT + top)
        assert leftovers(rt, b, (cid,)) == []
    finally:
        rt.cleanup()
        if os.path.isdir(ROOT + top):
            os.rmdir(ROOT + top)
