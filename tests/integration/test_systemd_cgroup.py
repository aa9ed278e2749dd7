"""The systemd cgroup driver (``--systemd-cgroup``) on a systemd host.

Skipped unless systemd is PID 1 and /sys/fs/cgroup is pure cgroup v2: on
this project's hosts it runs in the systemd QEMU guest, booted once by
test_systemd_vm.py:

    ../shared/tools/vm-run --systemd -- /usr/bin/python3 -m pytest -q \\
        tests/integration/test_systemd_cgroup.py

Everything is 20-40x slower in the guest, so one container (module scope)
carries the resource checks, in file order: each property in ``systemctl
show`` and in the scope's cgroup files, the same properties as runc sets
for the same bundle, exec, pause, update, ps/kill --all/events, and delete
last.  Ids are unique per run: the file passes when run twice in one boot.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import uuid

import pytest
from conftest import (
    OCI,
    Bundle,
    Runtime,
    assert_one_line_error,
    leftovers,
    new_bundle,
    read_record,
    wait_for,
)

ROOT = "/sys/fs/cgroup"
MiB = 1 << 20
SLOW = 120
SD = ("--systemd-cgroup",)


def _why_skip() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if not os.path.isdir("/run/systemd/system"):
        return "systemd is not running (test_systemd_vm.py runs this file in a systemd guest)"
    if not os.path.exists(ROOT + "/cgroup.controllers"):
        return "not a pure cgroup v2 host"
    return None


pytestmark = pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip()))


def rd(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def show(unit: str, *props: str) -> dict[str, str]:
    r = subprocess.run(
        ["systemctl", "show", unit, "-p", ",".join(props)],
        capture_output=True,
        text=True,
        timeout=SLOW,
    )
    out: dict[str, str] = {}
    for line in r.stdout.splitlines():  # a list property comes one line an entry
        k, sep, v = line.partition("=")
        if sep:
            out[k] = f"{out[k]}\n{v}" if k in out else v
    return out


def unit_gone(unit: str) -> bool:
    return show(unit, "LoadState")["LoadState"] == "not-found"


def loop_device() -> tuple[int, int]:
    """A block device the guest has (its root is not a block device): a loop one."""
    st = os.stat("/dev/loop0")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


LOOP = loop_device() if os.path.exists("/dev/loop0") else (7, 0)
RESOURCES = {
    "memory": {"limit": 64 * MiB, "swap": 96 * MiB, "reservation": 16 * MiB},
    "pids": {"limit": 40},
    "cpu": {"shares": 1024, "quota": 12345, "period": 100000, "cpus": "0", "mems": "0"},
    "blockIO": {
        "weight": 500,
        "throttleReadBpsDevice": [{"major": LOOP[0], "minor": LOOP[1], "rate": 1048576}],
    },
    "devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "r"},
    ],
    "unified": {"memory.high": str(48 * MiB)},
}


def bundle_at(base, rootfs, name, args, cgroups_path, resources=None, annotations=None) -> Bundle:
    b = new_bundle(base / name, rootfs, args)
    b.config["linux"]["cgroupsPath"] = cgroups_path
    if resources:
        b.config["linux"]["resources"] = resources
    if annotations:
        b.config["annotations"] = annotations
    return b.save()


def token() -> str:
    return uuid.uuid4().hex[:8]


class Box:
    rt: Runtime
    bundle: Bundle
    id: str
    unit: str
    path: str


@pytest.fixture(scope="module")
def box(tmp_path_factory, busybox_rootfs):
    base = tmp_path_factory.mktemp("sd")
    (base / "state").mkdir()
    b = Box()
    b.rt = Runtime(str(base / "state"), cli_timeout=SLOW)
    b.id = b.rt.new_id("sd")
    t = token()
    # a nested slice, as systemd expands it; it need not exist (systemd makes it, as for runc)
    b.bundle = bundle_at(
        base,
        busybox_rootfs,
        "bundle",
        ["sleep", "600"],
        f"oci{t}-sub.slice:ocitest:{b.id}",
        RESOURCES,
        {
            "org.systemd.property.TimeoutStopSec": "uint64 7",
            "org.systemd.property.CollectMode": "'inactive-or-failed'",
        },
    )
    b.bundle.add_caps("CAP_MKNOD")
    b.rt.cli_ok("run", "-d", "--bundle", b.bundle.path, b.id, global_args=SD)
    b.unit = f"ocitest-{b.id}.scope"
    b.path = f"{ROOT}/oci{t}.slice/oci{t}-sub.slice/{b.unit}"
    yield b
    b.rt.cleanup()
    subprocess.run(["systemctl", "stop", f"oci{t}.slice"], capture_output=True, timeout=SLOW)


def test_record_names_the_unit(box):
    rec = read_record(box.rt.root, box.id)["cgroup"]
    assert rec == {"layout": "v2", "path": box.path, "driver": "systemd", "unit": box.unit}


def test_the_scope(box):
    s = show(box.unit, "ActiveState", "Delegate", "Slice", "ControlGroup", "Description")
    assert s["ActiveState"] == "active"
    assert s["Delegate"] == "yes"
    assert s["Slice"] == box.path.split("/")[-2]
    assert s["ControlGroup"] == box.path[len(ROOT) :]
    assert s["Description"] == f"ociruntime container {box.id}"
    pid = box.rt.state(box.id)["pid"]
    assert str(pid) in rd(f"{box.path}/cgroup.procs").split()
    assert rd(f"/proc/{pid}/cgroup") == "0::" + box.path[len(ROOT) :]


def test_each_resource_in_systemctl_show_and_the_files(box):
    s = show(
        box.unit,
        "MemoryMax",
        "MemoryLow",
        "MemoryHigh",
        "MemorySwapMax",
        "TasksMax",
        "CPUWeight",
        "CPUQuotaPerSecUSec",
        "CPUQuotaPeriodUSec",
        "AllowedCPUs",
        "AllowedMemoryNodes",
        "IOWeight",
        "IOReadBandwidthMax",
        "DevicePolicy",
        "DeviceAllow",
    )
    assert s["MemoryMax"] == str(64 * MiB)
    assert s["MemoryLow"] == str(16 * MiB)
    assert s["MemoryHigh"] == str(48 * MiB)
    assert s["MemorySwapMax"] == str(32 * MiB)
    assert s["TasksMax"] == "40"
    assert s["CPUWeight"] == "39"
    assert s["CPUQuotaPerSecUSec"] == "130ms"  # 123.45 ms/s, rounded up as runc does
    assert s["CPUQuotaPeriodUSec"] == "100ms"
    assert s["AllowedCPUs"] == "0" and s["AllowedMemoryNodes"] == "0"
    assert s["IOWeight"] == str(1 + 490 * 9999 // 990)
    assert s["IOReadBandwidthMax"] == f"/dev/block/{LOOP[0]}:{LOOP[1]} 1048576"
    assert s["DevicePolicy"] == "strict"
    assert "char-* m" in s["DeviceAllow"] and "/dev/char/1:3 rwm" in s["DeviceAllow"]
    p = box.path
    assert rd(f"{p}/memory.max") == str(64 * MiB)
    assert rd(f"{p}/memory.low") == str(16 * MiB)
    assert rd(f"{p}/memory.high") == str(48 * MiB)
    assert rd(f"{p}/memory.swap.max") == str(32 * MiB)
    assert rd(f"{p}/pids.max") == "40"
    assert rd(f"{p}/cpu.weight") == "39"
    assert rd(f"{p}/cpu.max") == "12345 100000"  # the file has the exact quota
    assert rd(f"{p}/cpuset.cpus") == "0"
    assert f"{LOOP[0]}:{LOOP[1]} rbps=1048576" in rd(f"{p}/io.max")


def test_annotations_set_properties(box):
    s = show(box.unit, "TimeoutStopUSec", "CollectMode")
    assert s == {"TimeoutStopUSec": "7s", "CollectMode": "inactive-or-failed"}


def test_device_filter(box):
    """systemd's DeviceAllow and our own eBPF filter (the exact rules) both apply."""
    script = """
mknod /dev/lc c 10 237 && mknod /dev/km c 1 11 || exit 9
(exec 3</dev/lc) && echo lc-read-ok
(exec 3>/dev/lc) || echo lc-write-refused
(exec 3</dev/km) || echo km-refused
echo x > /dev/null && echo null-ok
"""
    r = box.rt.cli("exec", box.id, "sh", "-c", script)
    assert r.stdout.split() == ["lc-read-ok", "lc-write-refused", "km-refused", "null-ok"], r


@pytest.mark.skipif(not shutil.which("runc"), reason="runc is not installed")
def test_same_properties_as_runc(box, tmp_path, busybox_rootfs):
    """The bundle through runc --systemd-cgroup: each property runc sets reads the same."""
    props = (
        "MemoryMax MemoryLow MemoryHigh MemorySwapMax TasksMax CPUWeight CPUQuotaPerSecUSec "
        "CPUQuotaPeriodUSec AllowedCPUs AllowedMemoryNodes Delegate DevicePolicy "
        "DefaultDependencies MemoryAccounting CPUAccounting IOAccounting TasksAccounting "
        "TimeoutStopUSec CollectMode"
    ).split()
    rid = "runc-" + token()
    b = bundle_at(
        tmp_path,
        busybox_rootfs,
        "rb",
        ["sleep", "600"],
        f"system.slice:ocitest:{rid}",
        RESOURCES,
        box.bundle.config["annotations"],
    )
    runc = ["runc", "--root", str(tmp_path / "runc"), "--systemd-cgroup"]
    with open(tmp_path / "runc.err", "w+") as err:
        # stdio on files: a detached container keeps what it is given (no pipe to wait on)
        r = subprocess.run(
            [*runc, "run", "-d", "-b", b.path, rid],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            timeout=SLOW,
        )
        err.seek(0)
        why = err.read()
    try:
        assert r.returncode == 0, why
        theirs = show(f"ocitest-{rid}.scope", *props)
        ours = show(box.unit, *props)
        assert ours == theirs
        rp = f"{ROOT}/system.slice/ocitest-{rid}.scope"
        for f in ("memory.max", "memory.low", "memory.high", "memory.swap.max", "pids.max"):
            assert rd(f"{box.path}/{f}") == rd(f"{rp}/{f}"), f
        for f in ("cpu.weight", "cpu.max", "cpuset.cpus", "io.max"):
            assert rd(f"{box.path}/{f}") == rd(f"{rp}/{f}"), f
    finally:
        subprocess.run([*runc, "delete", "-f", rid], capture_output=True, timeout=SLOW)
    assert unit_gone(f"ocitest-{rid}.scope")


def test_exec_joins_the_scope(box):
    r = box.rt.cli_ok("exec", box.id, "cat", "/proc/self/cgroup")
    assert r.stdout.split() == ["0::/"]
    box.rt.cli_ok("exec", "-d", box.id, "sleep", "30")
    pids = json.loads(box.rt.cli_ok("ps", "-f", "json", box.id).stdout)
    assert len(pids) == 2 and all(str(p) in rd(f"{box.path}/cgroup.procs").split() for p in pids)


def test_pause_resume(box):
    box.rt.cli_ok("pause", box.id)
    assert rd(f"{box.path}/cgroup.freeze") == "1"
    assert box.rt.state(box.id)["status"] == "paused"
    box.rt.cli_ok("resume", box.id)
    assert rd(f"{box.path}/cgroup.freeze") == "0"
    assert box.rt.state(box.id)["status"] == "running"


def test_update(box):
    box.rt.cli_ok(
        "update",
        "--memory",
        "100m",
        "--memory-swap",
        "150m",
        "--pids-limit",
        "60",
        "--cpu-share",
        "512",
        box.id,
    )
    s = show(box.unit, "MemoryMax", "MemorySwapMax", "TasksMax", "CPUWeight")
    assert s == {
        "MemoryMax": str(100 * MiB),
        "MemorySwapMax": str(50 * MiB),
        "TasksMax": "60",
        "CPUWeight": "20",
    }
    assert rd(f"{box.path}/memory.swap.max") == str(50 * MiB)
    assert rd(f"{box.path}/memory.max") == str(100 * MiB)
    assert rd(f"{box.path}/pids.max") == "60"
    assert rd(f"{box.path}/cpu.weight") == "20"


def test_events_stats(box):
    line = box.rt.cli_ok("events", "--stats", box.id).stdout
    data = json.loads(line)["data"]
    assert data["pids"]["current"] >= 1 and data["memory"]["usage"]["limit"] == 100 * MiB


def test_kill_all_and_delete(box):
    init = box.rt.state(box.id)["pid"]
    box.rt.cli_ok("kill", "--all", box.id, "KILL")
    wait_for(lambda: box.rt.state(box.id)["status"] == "stopped", "the container to stop", SLOW)
    box.rt.cli_ok("delete", box.id)
    assert unit_gone(box.unit)
    assert not os.path.exists(box.path)
    assert leftovers(box.rt, box.bundle, (box.id,)) == []
    assert not os.path.exists(f"/proc/{init}/cgroup") or "ocitest" not in rd(f"/proc/{init}/cgroup")


# ---- the lifecycle without resources; the default path -------------------------------------


def test_default_path_and_run_foreground(tmp_path, busybox_rootfs):
    rt = Runtime(str(tmp_path / "state"), cli_timeout=SLOW)
    (tmp_path / "state").mkdir()
    b = bundle_at(tmp_path, busybox_rootfs, "b", ["cat", "/proc/self/cgroup"], "")
    cid = rt.new_id("fg")
    r = rt.cli("run", "-b", b.path, cid, global_args=SD)
    assert r.returncode == 0 and r.stdout.split() == ["0::/"], r
    assert unit_gone(f"ociruntime-{cid}.scope")
    assert not os.path.exists(f"{ROOT}/system.slice/ociruntime-{cid}.scope")
    assert leftovers(rt, b, (cid,)) == []


def test_delete_force_running(tmp_path, busybox_rootfs):
    rt = Runtime(str(tmp_path / "state"), cli_timeout=SLOW)
    (tmp_path / "state").mkdir()
    cid = rt.new_id("df")
    b = bundle_at(tmp_path, busybox_rootfs, "b", ["sleep", "600"], f":ocitest:{cid}")
    rt.cli_ok("create", "-b", b.path, cid, global_args=SD)
    assert show(f"ocitest-{cid}.scope", "ActiveState")["ActiveState"] == "active"
    rt.cli_ok("delete", "--force", cid)
    assert unit_gone(f"ocitest-{cid}.scope")
    assert leftovers(rt, b, (cid,)) == []


# ---- failures: one line naming the unit, nothing left -----------------------------------------


@pytest.fixture
def fail_env(tmp_path, busybox_rootfs):
    """(runtime, bundle maker): each bundle gets its own unit name."""
    (tmp_path / "state").mkdir()
    rt = Runtime(str(tmp_path / "state"), cli_timeout=SLOW)

    def make(cgroups_path: str | None = None, annotations: dict | None = None):
        cid = rt.new_id("f")
        path = cgroups_path if cgroups_path is not None else f"system.slice:ocitest:{cid}"
        b = bundle_at(tmp_path, busybox_rootfs, cid, ["sleep", "600"], path, None, annotations)
        return cid, b

    yield rt, make
    rt.cleanup()


def assert_failed_clean(rt, b, cid, r, unit, *needles) -> str:
    line = assert_one_line_error(r, f"systemd unit {unit}", *needles)
    assert unit_gone(unit), unit
    assert leftovers(rt, b, (cid,)) == []
    return line


def test_unit_already_exists(fail_env):
    rt, make = fail_env
    cid, b = make()
    rt.cli_ok("run", "-d", "-b", b.path, cid, global_args=SD)
    other = rt.new_id("f")
    r = rt.cli("run", "-d", "-b", b.path, other, global_args=SD)
    # its cgroup holds the first init: refused before the unit is started, as
    # any create into a used cgroup is (a unit without processes: "already exists")
    assert_one_line_error(r, f"systemd unit ocitest-{cid}.scope", "not empty")
    assert leftovers(rt, b, (other,)) == [f"state dir {cid}"]
    # the first container's unit is untouched
    assert show(f"ocitest-{cid}.scope", "ActiveState")["ActiveState"] == "active"
    assert rt.state(cid)["status"] == "running"


FAILING = "/run/systemd/system/ocitest-fail.service"


def test_failed_job(fail_env):
    """The scope requires (and comes after) a service that fails: the job's result
    is "dependency" (runc: `got dependency`)."""
    rt, make = fail_env
    if not os.path.exists(FAILING):
        with open(FAILING, "w") as f:
            f.write("[Service]\nType=oneshot\nExecStart=/bin/false\n")
        subprocess.run(["systemctl", "daemon-reload"], check=True, timeout=SLOW)
    svc = "['ocitest-fail.service']"
    cid, b = make(
        annotations={"org.systemd.property.Requires": svc, "org.systemd.property.After": svc}
    )
    r = rt.cli("run", "-d", "-b", b.path, cid, global_args=SD)
    assert_failed_clean(rt, b, cid, r, f"ocitest-{cid}.scope", "'dependency'")
    subprocess.run(["systemctl", "reset-failed", "ocitest-fail.service"], timeout=SLOW)


def test_dbus_refused(fail_env, tmp_path):
    rt, make = fail_env
    cid, b = make()
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={tmp_path}/no-bus")
    r = rt.cli("run", "-d", "-b", b.path, cid, global_args=SD, env=env)
    assert_failed_clean(rt, b, cid, r, f"ocitest-{cid}.scope", "cannot reach systemd over D-Bus")
    assert "Errno" not in r.stderr


def test_dbus_timeout(fail_env, tmp_path):
    """A bus that accepts and never answers: the deadline ends it."""
    rt, make = fail_env
    cid, b = make()
    path = str(tmp_path / "mute-bus")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(4)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.5)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    env = dict(
        os.environ, DBUS_SYSTEM_BUS_ADDRESS=f"unix:path={path}", OCIRUNTIME_SYSTEMD_TIMEOUT="3"
    )
    try:
        r = rt.cli("run", "-d", "-b", b.path, cid, global_args=SD, env=env)
    finally:
        stop.set()
        th.join()
        for c in held:
            c.close()
        srv.close()
    assert_failed_clean(rt, b, cid, r, f"ocitest-{cid}.scope", "no answer within 3s")


def test_invalid_slice_name(fail_env):
    rt, make = fail_env
    cid, b = make("badslice:ocitest:x")
    r = rt.cli("run", "-d", "-b", b.path, cid, global_args=SD)
    assert_one_line_error(r, "invalid slice name: badslice")
    assert leftovers(rt, b, (cid,)) == []


def test_path_not_in_systemd_form(fail_env):
    rt, make = fail_env
    cid, b = make("/not/systemd")
    r = rt.cli("run", "-d", "-b", b.path, cid, global_args=SD)
    assert_one_line_error(r, 'expected cgroupsPath to be of format "slice:prefix:name"')
    assert leftovers(rt, b, (cid,)) == []


def test_create_killed_half_way_leaves_a_scope_delete_force_removes(fail_env):
    """A createRuntime hook (the unit exists by then) puts a process into the
    scope and SIGKILLs the create: the scope stays; delete --force ends it."""
    rt, make = fail_env
    cid, b = make()
    unit = f"ocitest-{cid}.scope"
    path = f"{ROOT}/system.slice/{unit}"
    b.config["hooks"] = {
        "createRuntime": [
            {
                "path": "/bin/sh",
                "args": [
                    "sh",
                    "-c",
                    f"setsid sleep 600 </dev/null >/dev/null 2>&1 & "
                    f"echo $! > {path}/cgroup.procs; kill -9 $PPID",
                ],
            }
        ]
    }
    b.save()
    r = rt.cli("create", "-b", b.path, cid, global_args=SD)
    assert r.returncode != 0
    assert show(unit, "ActiveState")["ActiveState"] == "active"
    assert os.path.isdir(path)
    rt.cli_ok("delete", "--force", cid)
    assert unit_gone(unit)
    assert not os.path.exists(path)
    assert leftovers(rt, b, (cid,)) == []


def test_features_and_check():
    r = subprocess.run([*OCI, "features"], capture_output=True, text=True, timeout=SLOW)
    assert json.loads(r.stdout)["linux"]["cgroup"]["systemd"] is True
    r = subprocess.run([*OCI, "check", "-f", "json"], capture_output=True, text=True, timeout=SLOW)
    rows = {x["name"]: x for x in json.loads(r.stdout)["checks"]}
    row = rows["systemd cgroup driver (--systemd-cgroup)"]
    assert row["ok"] is True and "reachable" in row["detail"], row
