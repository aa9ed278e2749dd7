"""Cgroups on a cgroup v1 host (v1 controllers, optionally the hybrid cgroup2
mount at /sys/fs/cgroup/unified): the files a config.json sets, what the
limits do to the processes, and the commands that work through the cgroup
(pause, resume, update, ps, events, kill --all, delete).

The container's cgroup directories are read from the "cgroup" record of
``<root>/<id>/state.rec`` (a path per controller, plus "unified" on hybrid
hosts), never recomputed here.  Pure cgroup v2 has its own file,
test_cgroups_v2.py, run in a VM by test_cgroups_v2_vm.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid

import pytest
from conftest import alive, assert_one_line_error, leftovers, read_record, stop, wait_for

from ociruntime.cgroups import layout, own_cgroups
from ociruntime.cgroups.v1 import hierarchies

LAYOUT = layout()
pytestmark = pytest.mark.skipif(
    LAYOUT not in ("v1", "hybrid"),
    reason=f"needs a cgroup v1 or hybrid host; /sys/fs/cgroup here is {LAYOUT} "
    "(test_cgroups_v2.py covers pure cgroup v2)",
)
# the controllers' hierarchies and systemd's named one, which a container joins too
MOUNTS = hierarchies(named=True) if LAYOUT != "v2" else {}
UNIFIED = "/sys/fs/cgroup/unified"
MiB = 1 << 20


# ---- helpers ------------------------------------------------------------------


def rd(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def bundle(make_bundle, args, resources=None, caps=(), no_pidns=False, **linux):
    """A busybox bundle; ``resources`` merged over the default (devices deny-all)."""
    b = make_bundle(args)
    lin = b.config["linux"]
    lin.setdefault("resources", {}).update(resources or {})
    lin.update(linux)
    if no_pidns:
        lin["namespaces"] = [n for n in lin["namespaces"] if n["type"] != "pid"]
    b.add_caps(*caps)
    return b


def start(oci, b, prefix: str = "cg") -> str:
    cid = oci.new_id(prefix)
    oci.cli_ok("run", "-d", "--bundle", b.path, cid)
    return cid


def record(oci, cid: str) -> dict:
    return read_record(oci.root, cid)["cgroup"]


def dirs(rec: dict) -> list[str]:
    return sorted(set(rec["paths"].values()) | ({rec["unified"]} if rec.get("unified") else set()))


def default_dirs(cid: str) -> list[str]:
    """Where a container with no cgroupsPath would have its cgroup."""
    out = {mp + f"/ociruntime/{cid}" for mp in MOUNTS.values()}
    if LAYOUT == "hybrid":
        out.add(f"{UNIFIED}/ociruntime/{cid}")
    return sorted(out)


def assert_nothing_left(oci, b, cid: str, cg_dirs: list[str] | None = None) -> None:
    assert leftovers(oci, b, (cid,)) == []
    left = [d for d in (cg_dirs or default_dirs(cid)) if os.path.exists(d)]
    assert left == [], f"cgroup directories left: {left}"


def stats(oci, cid: str) -> dict:
    out = json.loads(oci.cli_ok("events", "--stats", cid).stdout)
    assert out["type"] == "stats" and out["id"] == cid
    return out["data"]


def cpu_total(oci, cid: str) -> int:
    return stats(oci, cid)["cpu"]["usage"]["total"]


def kill_cgroup(rec: dict) -> None:
    """Last-resort cleanup for a test that fails with processes still in the cgroup."""
    for d in dirs(rec):
        try:
            for p in rd(os.path.join(d, "cgroup.procs")).split():
                try:
                    os.kill(int(p), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        except OSError:
            pass


def has_memsw() -> bool:
    return os.path.exists(
        os.path.join(MOUNTS.get("memory", "/nonexistent"), "memory.memsw.limit_in_bytes")
    )


def probe_files(ctl: str) -> set[str]:
    """The files of a fresh child cgroup in a v1 hierarchy (some never show at the root)."""
    d = os.path.join(MOUNTS[ctl], f"ociruntime-probe-{uuid.uuid4().hex[:8]}")
    os.mkdir(d)
    try:
        return set(os.listdir(d))
    finally:
        os.rmdir(d)


SLEEP = ["sleep", "60"]


# ---- config.json -> files ------------------------------------------------------------


def test_memory_files(oci, make_bundle):
    mem = {
        "limit": 64 * MiB,
        "reservation": 32 * MiB,
        "swappiness": 10,
        "disableOOMKiller": True,
    }
    if has_memsw():
        mem["swap"] = 96 * MiB
    b = bundle(make_bundle, SLEEP, {"memory": mem})
    cid = start(oci, b)
    d = record(oci, cid)["paths"]["memory"]
    assert d.endswith(f"/ociruntime/{cid}")
    assert rd(f"{d}/memory.limit_in_bytes") == str(64 * MiB)
    assert rd(f"{d}/memory.soft_limit_in_bytes") == str(32 * MiB)
    assert rd(f"{d}/memory.swappiness") == "10"
    assert "oom_kill_disable 1" in rd(f"{d}/memory.oom_control").splitlines()
    if has_memsw():
        assert rd(f"{d}/memory.memsw.limit_in_bytes") == str(96 * MiB)
    # the init really is in it
    pid = oci.state(cid)["pid"]
    assert str(pid) in rd(f"{d}/cgroup.procs").split()


def test_cpu_files(oci, make_bundle):
    cpu = {"shares": 512, "quota": 50000, "period": 200000, "cpus": "0", "mems": "0"}
    cid = start(oci, bundle(make_bundle, SLEEP, {"cpu": cpu}))
    p = record(oci, cid)["paths"]
    assert rd(f"{p['cpu']}/cpu.shares") == "512"
    assert rd(f"{p['cpu']}/cpu.cfs_quota_us") == "50000"
    assert rd(f"{p['cpu']}/cpu.cfs_period_us") == "200000"
    assert rd(f"{p['cpuset']}/cpuset.cpus") == "0"
    assert rd(f"{p['cpuset']}/cpuset.mems") == "0"


def test_pids_file(oci, make_bundle):
    cid = start(oci, bundle(make_bundle, SLEEP, {"pids": {"limit": 20}}))
    assert rd(record(oci, cid)["paths"]["pids"] + "/pids.max") == "20"


def test_blkio_weight(oci, make_bundle):
    if "blkio" not in MOUNTS:
        pytest.skip("no blkio hierarchy mounted")
    files = probe_files("blkio")
    name = next((f for f in ("blkio.weight", "blkio.bfq.weight") if f in files), None)
    if name is None:
        pytest.skip("this kernel has neither blkio.weight (CFQ) nor blkio.bfq.weight (BFQ)")
    cid = start(oci, bundle(make_bundle, SLEEP, {"blockIO": {"weight": 300}}))
    assert rd(record(oci, cid)["paths"]["blkio"] + "/" + name) == "300"


def test_hugetlb(oci, make_bundle):
    if not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"):
        pytest.skip("no 2MB huge pages on this kernel")
    if "hugetlb" in MOUNTS:
        where, file = "v1", "hugetlb.2MB.limit_in_bytes"
    elif LAYOUT == "hybrid" and "hugetlb" in rd(f"{UNIFIED}/cgroup.controllers").split():
        where, file = "unified", "hugetlb.2MB.max"
    else:
        pytest.skip("hugetlb is neither a v1 hierarchy nor in the hybrid cgroup2 mount")
    limit = 4 * MiB
    cid = start(
        oci, bundle(make_bundle, SLEEP, {"hugepageLimits": [{"pageSize": "2MB", "limit": limit}]})
    )
    rec = record(oci, cid)
    d = rec["paths"]["hugetlb"] if where == "v1" else rec["unified"]
    assert rd(f"{d}/{file}") == str(limit)


def test_devices(oci, make_bundle):
    """devices.list holds the rules; what is not allowed cannot be opened.

    The container's root may mknod anything ("c *:* m" is a default rule), so
    nodes made inside show what the cgroup lets through: 10:237 is allowed
    for reading only, 1:11 not at all.  A deny rule for c 1:5 (/dev/zero) in
    the config is overridden by the default allow list that follows it, as in
    runc (its AllowedDevices are appended after the config's rules; the spec
    requires /dev/zero to be supplied)."""
    rules = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "r"},
        {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    ]
    script = """
mknod /dev/lc c 10 237 && mknod /dev/km c 1 11 || exit 9
(exec 3</dev/lc) && echo lc-read-ok
(exec 3>/dev/lc) || echo lc-write-refused
(exec 3</dev/km) || echo km-refused
echo zero=$(head -c1 /dev/zero | wc -c)
"""
    b = bundle(make_bundle, ["sh", "-c", script], {"devices": rules}, caps=("CAP_MKNOD",))
    cid = oci.new_id("dev")
    r = oci.cli_ok("run", "--keep", "--bundle", b.path, cid)
    try:
        listed = rd(record(oci, cid)["paths"]["devices"] + "/devices.list").splitlines()
    finally:
        oci.cli_ok("delete", cid)
    assert "a *:* rwm" not in listed
    for want in ("c 10:237 r", "c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm", "c *:* m"):
        assert want in listed, listed
    assert "c 1:11" not in "\n".join(listed)
    assert "lc-read-ok" in r.stdout
    assert "lc-write-refused" in r.stdout
    assert "km-refused" in r.stdout
    assert "can't create /dev/lc: Operation not permitted" in r.stderr
    assert "can't open /dev/km: Operation not permitted" in r.stderr
    assert "zero=1" in r.stdout


def test_linux_devices_are_not_allowed_implicitly(oci, make_bundle):
    """A node listed in linux.devices is created, but access to it is the
    device allowlist's business (runc: only linux.resources.devices and the
    default list are rules; runc 1.1.5 answers EPERM here)."""
    node = {"path": "/dev/lc", "type": "c", "major": 10, "minor": 237, "fileMode": 0o666}
    script = "ls -l /dev/lc; (exec 3</dev/lc) && echo open-ok || echo open-refused"
    b = bundle(make_bundle, ["sh", "-c", script], devices=[node])
    r = oci.cli_ok("run", "--bundle", b.path, oci.new_id("dev"))
    assert "10, 237" in r.stdout
    assert "open-refused" in r.stdout, r.stdout + r.stderr
    assert "Operation not permitted" in r.stderr


def test_unified_on_hybrid_goes_to_the_unified_dir(oci, make_bundle):
    if LAYOUT != "hybrid":
        pytest.skip("needs the hybrid layout (a cgroup2 mount at /sys/fs/cgroup/unified)")
    cid = start(oci, bundle(make_bundle, SLEEP, {"unified": {"cgroup.max.descendants": "7"}}))
    rec = record(oci, cid)
    assert rec["layout"] == "hybrid"
    assert rec["unified"] == f"{UNIFIED}/ociruntime/{cid}"
    assert rd(rec["unified"] + "/cgroup.max.descendants") == "7"
    assert str(oci.state(cid)["pid"]) in rd(rec["unified"] + "/cgroup.procs").split()


# ---- limits at work ------------------------------------------------------------------


def test_oom_kill_is_reported(oci, make_bundle, tmp_path):
    """A 64 MiB buffer under a 32 MiB limit without swap: the hog is OOM-killed,
    the memory cgroup counts it, and ``events`` streams {"type": "oom"}.

    The hog is one process (dd allocates its whole block and fills it from
    /dev/zero).  ``head -c 100m /dev/zero | tail`` (busybox tail buffers the
    one endless line) is OOM-killed too, but head keeps charging pipe buffers
    while the killed tail's memory is being freed, and the kernel's second
    OOM kill may then pick the container's init."""
    mem = {"limit": 32 * MiB}
    if has_memsw():
        mem["swap"] = 32 * MiB
    cid = start(oci, bundle(make_bundle, SLEEP, {"memory": mem}))
    d = record(oci, cid)["paths"]["memory"]
    out = tmp_path / "events.out"
    with open(out, "wb") as f:
        ev = oci.popen("events", "--interval", "100ms", cid, stdout=f, stderr=subprocess.STDOUT)
    try:

        def lines():
            return [json.loads(x) for x in out.read_text().splitlines() if x.strip()]

        wait_for(lambda: lines(), "the first events record")
        # dd allocates its whole block (64 MiB) and fills it from /dev/zero
        r = oci.cli_ok(
            "exec",
            cid,
            "sh",
            "-c",
            "dd if=/dev/zero of=/dev/null bs=64M count=1; echo status=$?",
        )
        assert "status=137" in r.stdout, r.stdout + r.stderr
        wait_for(lambda: any(x["type"] == "oom" for x in lines()), "an oom event", timeout=5)
        assert all(x["id"] == cid for x in lines())
        st = [x for x in lines() if x["type"] == "stats"][-1]["data"]
        assert st["memory"]["usage"]["limit"] == 32 * MiB
        assert st["memory"]["usage"]["max"] <= 32 * MiB
        # the cgroup's own counter, and only the hog died
        counters = dict(x.split() for x in rd(f"{d}/memory.oom_control").splitlines())
        assert int(counters["oom_kill"]) >= 1
        assert oci.state(cid)["status"] == "running"
        # the stream ends by itself once the container is gone
        oci.cli_ok("delete", "--force", cid)
        ev.wait(timeout=5)
    finally:
        stop(ev)
    assert not os.path.exists(d)


def test_pids_limit_stops_fork(oci, make_bundle):
    script = "for i in $(seq 10); do sleep 5 & done; echo loop-done"
    b = bundle(make_bundle, ["sh", "-c", script], {"pids": {"limit": 5}})
    cid = oci.new_id("pids")
    r = oci.cli("run", "--bundle", b.path, cid)
    assert "can't fork" in r.stderr, r.stdout + r.stderr
    # foreground run deletes the container: its cgroup too
    assert_nothing_left(oci, b, cid)


def test_pause_freezes_and_resume_thaws(oci, make_bundle):
    cid = start(oci, bundle(make_bundle, ["sh", "-c", "while :; do :; done"]))
    freezer = record(oci, cid)["paths"]["freezer"]
    u0 = cpu_total(oci, cid)
    time.sleep(0.3)
    u1 = cpu_total(oci, cid)
    assert u1 > u0

    oci.cli_ok("pause", cid)
    assert oci.state(cid)["status"] == "paused"
    assert rd(f"{freezer}/freezer.state") == "FROZEN"
    a = cpu_total(oci, cid)
    time.sleep(0.3)
    assert cpu_total(oci, cid) == a

    oci.cli_ok("resume", cid)
    assert oci.state(cid)["status"] == "running"
    assert rd(f"{freezer}/freezer.state") == "THAWED"
    c = cpu_total(oci, cid)
    time.sleep(0.3)
    assert cpu_total(oci, cid) > c


def test_a_frozen_cgroup_is_refused(oci, make_bundle):
    """A freezer cgroup that is FROZEN before the container exists: the init
    would stop dead on joining it, and run -d wait forever; refused at once,
    with runc's words, and nothing left."""
    rel = f"/ociruntime-test-frozen-{uuid.uuid4().hex[:8]}"
    d = MOUNTS["freezer"] + rel
    os.mkdir(d)
    try:
        with open(d + "/freezer.state", "w") as f:
            f.write("FROZEN")
        b = bundle(make_bundle, SLEEP, cgroupsPath=rel)
        cid = oci.new_id("frz")
        r = oci.cli("run", "-d", "--bundle", b.path, cid, timeout=30)
        assert_one_line_error(r, "container's cgroup unexpectedly frozen")
        assert leftovers(oci, b, (cid,)) == []
    finally:
        if os.path.isdir(d):
            with open(d + "/freezer.state", "w") as f:
                f.write("THAWED")
            os.rmdir(d)


def test_update_flags_and_resources_json(oci, make_bundle):
    cid = start(oci, bundle(make_bundle, SLEEP))
    p = record(oci, cid)["paths"]
    oci.cli_ok("update", "--memory", "64m", "--pids-limit", "50", "--cpu-shares", "512", cid)
    assert rd(f"{p['memory']}/memory.limit_in_bytes") == str(64 * MiB)
    assert rd(f"{p['pids']}/pids.max") == "50"
    assert rd(f"{p['cpu']}/cpu.shares") == "512"

    res = {
        "memory": {"limit": 128 * MiB},
        "cpu": {"quota": 20000, "period": 100000},
        "pids": {"limit": 30},
    }
    if has_memsw():
        res["memory"]["swap"] = 128 * MiB
    oci.cli_ok("update", "-r", "-", cid, input=json.dumps(res))
    assert rd(f"{p['memory']}/memory.limit_in_bytes") == str(128 * MiB)
    assert rd(f"{p['cpu']}/cpu.cfs_quota_us") == "20000"
    assert rd(f"{p['cpu']}/cpu.cfs_period_us") == "100000"
    assert rd(f"{p['pids']}/pids.max") == "30"
    if has_memsw():
        assert rd(f"{p['memory']}/memory.memsw.limit_in_bytes") == str(128 * MiB)
        # raising both: the new limit is above the current memsw, so the
        # kernel refuses it until memsw has been raised first
        up = {"memory": {"limit": 256 * MiB, "swap": 256 * MiB}}
        oci.cli_ok("update", "--resources", "-", cid, input=json.dumps(up))
        assert rd(f"{p['memory']}/memory.limit_in_bytes") == str(256 * MiB)
        assert rd(f"{p['memory']}/memory.memsw.limit_in_bytes") == str(256 * MiB)
    # the new values are remembered (merged into the recorded config)
    saved = read_record(oci.root, cid)["config"]["linux"]["resources"]
    assert saved["pids"]["limit"] == 30
    assert saved["cpu"] == {"shares": 512, "quota": 20000, "period": 100000}
    assert saved["devices"] == [{"allow": False, "access": "rwm"}]


UNLIMITED_V1 = 9223372036854771712  # what memory.limit_in_bytes reads after "-1"


@pytest.mark.parametrize("form", [("--memory", "-1"), ("--memory=-1",)], ids=["sep", "eq"])
def test_update_memory_minus_one_lifts_the_limit_and_swap(oci, make_bundle, form):
    """runc's `update --memory -1`: unlimited, the swap limit too (the kernel
    refuses a memory limit above memory+swap, so memsw goes first)."""
    mem = {"limit": 64 * MiB, "swap": 128 * MiB} if has_memsw() else {"limit": 64 * MiB}
    cid = start(oci, bundle(make_bundle, SLEEP, {"memory": mem}))
    p = record(oci, cid)["paths"]["memory"]
    oci.cli_ok("update", *form, cid)
    assert int(rd(f"{p}/memory.limit_in_bytes")) == UNLIMITED_V1
    if has_memsw():
        assert int(rd(f"{p}/memory.memsw.limit_in_bytes")) == UNLIMITED_V1
    saved = read_record(oci.root, cid)["config"]["linux"]["resources"]["memory"]
    assert saved["limit"] == -1 and saved.get("swap", -1) == -1
    # and back down to limits, which the kernel takes with memsw lowered last
    if has_memsw():
        oci.cli_ok("update", "--memory", "32m", "--memory-swap", "48m", cid)
        assert rd(f"{p}/memory.limit_in_bytes") == str(32 * MiB)
        assert rd(f"{p}/memory.memsw.limit_in_bytes") == str(48 * MiB)
        oci.cli_ok("update", "--memory-swap", "-1", cid)
        assert int(rd(f"{p}/memory.memsw.limit_in_bytes")) == UNLIMITED_V1
        assert rd(f"{p}/memory.limit_in_bytes") == str(32 * MiB)


@pytest.mark.parametrize("flag", ["--cpu-share", "--cpu-shares"])
def test_update_cpu_share_both_spellings(oci, make_bundle, flag):
    """runc's flag is --cpu-share; docker's (and ours) --cpu-shares."""
    cid = start(oci, bundle(make_bundle, SLEEP))
    oci.cli_ok("update", flag, "300", cid)
    assert rd(f"{record(oci, cid)['paths']['cpu']}/cpu.shares") == "300"


@pytest.fixture
def cpu_limited_parent(oci):
    """A cgroup in the cpu hierarchy limited to half a CPU (50000/100000 us),
    for a container's cgroupsPath below it; removed after the test (and
    after the test's containers)."""
    name = f"/ocitest-{uuid.uuid4().hex[:8]}"
    cpu = MOUNTS["cpu"] + name
    os.mkdir(cpu)
    with open(f"{cpu}/cpu.cfs_quota_us", "w") as f:
        f.write("50000")
    yield name
    oci.cleanup()
    for h in os.listdir("/sys/fs/cgroup"):  # every hierarchy, unified and named ones too
        for d in (f"/sys/fs/cgroup/{h}{name}/c", f"/sys/fs/cgroup/{h}{name}"):
            if os.path.isdir(d):
                os.rmdir(d)


def test_update_cfs_quota_and_period_from_any_previous_pair(oci, make_bundle, cpu_limited_parent):
    """The kernel checks a new period against the current quota and a new quota
    against the current period (the ratio must stay within the parent's), so
    period-first fails when the period shrinks and quota-first when the quota
    grows: whichever write it refuses is retried after the other, as runc does."""
    b = bundle(
        make_bundle,
        SLEEP,
        {"cpu": {"quota": 50000, "period": 100000}},
        cgroupsPath=cpu_limited_parent + "/c",
    )
    cid = start(oci, b)
    p = record(oci, cid)["paths"]["cpu"]
    assert p == MOUNTS["cpu"] + cpu_limited_parent + "/c"
    pairs = [(25000, 50000), (50000, 100000), (10000, 20000), (40000, 200000), (50000, 100000)]
    for quota, period in pairs:
        oci.cli_ok("update", "--cpu-period", str(period), "--cpu-quota", str(quota), cid)
        assert (rd(f"{p}/cpu.cfs_quota_us"), rd(f"{p}/cpu.cfs_period_us")) == (
            str(quota),
            str(period),
        )
    # a pair beyond the parent's ratio is still refused, with one clean line
    oci.fails("update", "--cpu-quota", "80000", cid, contains=("cpu.cfs_quota_us", "Invalid"))
    assert rd(f"{p}/cpu.cfs_quota_us") == "50000"
    oci.cli_ok("delete", "--force", cid)


def test_update_bad_input(oci, make_bundle):
    cid = start(oci, bundle(make_bundle, SLEEP))
    oci.fails("update", "-r", "-", cid, input="{not json", contains="invalid JSON")
    oci.fails("update", "--memory", "lots", cid, contains="invalid size")
    oci.fails("update", cid, contains="nothing to change")
    # what the kernel or the checks refuse names the flag or file that gave it
    # (runc says config.json, which update never reads)
    oci.fails(
        "update",
        "--memory",
        "32m",
        "--memory-swap",
        "16m",
        cid,
        contains="--memory-swap: memory+swap",
    )
    body = '{"memory": {"limit": 33554432, "swap": 16777216}}'
    oci.fails("update", "-r", "-", cid, input=body, contains="stdin: /memory/swap: memory+swap")
    # Intel RDT: runc's flags, refused as create refuses intelRdt (features says so)
    oci.fails("update", "--l3-cache-schema", "L3:0=f", cid, contains="--l3-cache-schema: Intel RDT")
    oci.fails("update", "--mem-bw-schema", "MB:0=50", cid, contains="--mem-bw-schema: Intel RDT")


def test_ps_json_lists_host_pids(oci, make_bundle, tmp_path):
    cid = start(oci, bundle(make_bundle, SLEEP))
    init = oci.state(cid)["pid"]
    pidfile = tmp_path / "exec.pid"
    oci.cli_ok("exec", "-d", "--pid-file", str(pidfile), cid, "sleep", "61")
    child = int(pidfile.read_text())
    pids = json.loads(oci.cli_ok("ps", "--format", "json", cid).stdout)
    assert isinstance(pids, list) and all(isinstance(p, int) for p in pids)
    assert init in pids and child in pids
    mem = record(oci, cid)["paths"]["memory"]
    mount = MOUNTS["memory"]
    for p in pids:
        with open(f"/proc/{p}/cgroup") as f:
            line = next(x for x in f.read().splitlines() if x.split(":")[1] == "memory")
        assert mount + line.split(":", 2)[2] == mem


def test_kill_all_kills_every_process(oci, make_bundle):
    # no pid namespace: killing the init alone would leave its child running
    # (sh execs its last command: the init becomes "sleep", its child the other)
    b = bundle(make_bundle, ["sh", "-c", "sleep 100 & sleep 100"], no_pidns=True)
    cid = start(oci, b)
    rec = record(oci, cid)
    try:
        wait_for(
            lambda: len(json.loads(oci.cli_ok("ps", "--format", "json", cid).stdout)) >= 2,
            "2 processes",
        )
        oci.cli_ok("kill", "--all", cid, "KILL")
        procs = rec["paths"]["pids"] + "/cgroup.procs"
        wait_for(lambda: rd(procs) == "", "an empty cgroup", timeout=5)
        oci.cli_ok("delete", cid)
    finally:
        kill_cgroup(rec)
    assert_nothing_left(oci, b, cid, dirs(rec))


def test_ps_and_kill_all_include_sub_cgroups(oci, make_bundle, tmp_path):
    """As on v2 and as runc's GetAllPids: a process in a sub-cgroup of the
    container's (exec --cgroup, or moved there) is one of its processes for
    ps and kill --all.  No pid namespace, so killing the init alone would
    leave it running."""
    b = bundle(make_bundle, ["sleep", "100"], no_pidns=True)
    cid = start(oci, b)
    rec = record(oci, cid)
    init = oci.state(cid)["pid"]
    subs = [os.path.join(d, "sub") for d in dirs(rec)]
    try:
        for d in subs:
            os.mkdir(d)
            for f in ("cpuset.cpus", "cpuset.mems"):  # a new cpuset is empty: fill it
                if os.path.exists(os.path.join(d, f)):
                    with open(os.path.join(d, f), "w") as out:
                        out.write(rd(os.path.join(os.path.dirname(d), f)))
        pidfile = tmp_path / "sub.pid"
        oci.cli_ok("exec", "-d", "--cgroup", "sub", "--pid-file", str(pidfile), cid, "sleep", "99")
        child = int(pidfile.read_text())
        assert str(child) in rd(rec["paths"]["pids"] + "/sub/cgroup.procs").split()
        assert sorted(json.loads(oci.cli_ok("ps", "--format", "json", cid).stdout)) == sorted(
            [init, child]
        )
        table = oci.cli_ok("ps", cid).stdout.splitlines()
        assert {line.split()[1] for line in table[1:]} == {str(init), str(child)}
        oci.cli_ok("kill", "--all", cid, "KILL")
        wait_for(lambda: not alive(child) and not alive(init), "both processes to die")
        oci.wait_status(cid, "stopped")
        oci.cli_ok("delete", cid)
    finally:
        kill_cgroup(rec)
        for d in subs:
            kill_cgroup({"paths": {"x": d}})
    assert_nothing_left(oci, b, cid, dirs(rec) + subs)


def test_delete_force_without_pid_namespace_kills_every_process(oci, make_bundle):
    # runc's destroy() SIGKILLs every process of the cgroup when the container
    # has no private pid namespace; otherwise the cgroup cannot be removed
    b = bundle(make_bundle, ["sh", "-c", "sleep 100 & sleep 100"], no_pidns=True)
    cid = start(oci, b)
    rec = record(oci, cid)
    try:
        wait_for(
            lambda: len(rd(rec["paths"]["pids"] + "/cgroup.procs").split()) >= 2, "2 processes"
        )
        r = oci.cli("delete", "--force", cid)
        assert r.returncode == 0, r.stderr
    finally:
        kill_cgroup(rec)
    assert_nothing_left(oci, b, cid, dirs(rec))


def test_delete_removes_every_cgroup_dir(oci, make_bundle):
    b = bundle(make_bundle, SLEEP)
    cid = start(oci, b)
    rec = record(oci, cid)
    assert sorted(rec["paths"]) == sorted(MOUNTS)
    ds = dirs(rec)
    assert ds == default_dirs(cid)
    assert all(os.path.isdir(d) for d in ds)
    oci.cli_ok("delete", "--force", cid)
    assert_nothing_left(oci, b, cid, ds)


# ---- where the cgroup is ---------------------------------------------------------------


def _rmdirs(paths) -> None:
    for d in paths:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass


def _in_cgroups(pid: int, rec: dict) -> None:
    """/proc/<pid>/cgroup agrees with the record, hierarchy by hierarchy."""
    with open(f"/proc/{pid}/cgroup") as f:
        _cgroup_file_agrees(f.read(), rec)


def _cgroup_file_agrees(text: str, rec: dict) -> None:
    seen = set()
    for line in text.splitlines():
        _, subs, path = line.split(":", 2)
        for s in subs.split(","):
            if s in rec["paths"]:
                assert rec["paths"][s] == MOUNTS[s] + path, (s, path)
                seen.add(s)
        if subs == "" and rec.get("unified"):
            assert rec["unified"] == UNIFIED + path
            seen.add("")
    assert seen == set(rec["paths"]) | ({""} if rec.get("unified") else set()), text


# a createRuntime hook (host namespaces) that copies /proc/<the init>/cgroup to a file
_HOOK = "import json,sys; p=json.load(sys.stdin)['pid']; open(sys.argv[1],'w').write(open(f'/proc/{p}/cgroup').read())"


def _cgroup_hook(b, out) -> None:
    b.config["hooks"] = {
        "createRuntime": [{"path": "/usr/bin/python3", "args": ["python3", "-c", _HOOK, str(out)]}]
    }
    b.save()


def test_the_init_is_in_every_cgroup_when_the_create_runtime_hooks_run(oci, make_bundle, tmp_path):
    # the init joins its v1 cgroups itself and is forked into the cgroup2 one
    # (cgroups.base.join_self); hooks such as a GPU's look it up by pid
    _the_hook_saw_every_cgroup(oci, bundle(make_bundle, SLEEP), tmp_path)


def _the_hook_saw_every_cgroup(oci, b, tmp_path) -> None:
    """Run ``b`` with the createRuntime hook above; the init was in every
    hierarchy by then, and still is; delete leaves nothing."""
    out = tmp_path / "cgroup"
    _cgroup_hook(b, out)
    cid = start(oci, b)
    rec = record(oci, cid)
    try:
        _cgroup_file_agrees(out.read_text(), rec)
        _in_cgroups(oci.state(cid)["pid"], rec)
    finally:
        oci.cli_ok("delete", "--force", cid)
    assert_nothing_left(oci, b, cid, dirs(rec))


def test_the_init_joins_its_cgroups_from_a_joined_mount_namespace(oci, make_bundle, tmp_path):
    # a mount namespace without the host's cgroupfs: the init reaches the
    # cgroup files through the host's root, opened before it joined
    holder = subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "umount -R /sys/fs/cgroup && echo ready && exec sleep 60",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "ready\n"
        b = bundle(make_bundle, SLEEP)
        nss = [n for n in b.config["linux"]["namespaces"] if n["type"] != "mount"]
        b.config["linux"]["namespaces"] = nss + [
            {"type": "mount", "path": f"/proc/{holder.pid}/ns/mnt"}
        ]
        _the_hook_saw_every_cgroup(oci, b, tmp_path)
    finally:
        holder.kill()
        holder.wait()


def test_a_user_namespace_init_is_moved_by_the_runtime(oci, make_bundle, tmp_path):
    # from inside a user namespace the host's cgroupfs is not writable: the
    # runtime writes the init's pid to cgroup.procs instead
    b = bundle(make_bundle, SLEEP)
    d = b.path  # searchable by the mapped root (pytest makes its temp dirs 0700)
    while d not in ("/", "/tmp"):
        os.chmod(d, os.stat(d).st_mode | 0o011)
        d = os.path.dirname(d)
    lin = b.config["linux"]
    lin["namespaces"].append({"type": "user"})
    lin["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    lin["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    _the_hook_saw_every_cgroup(oci, b, tmp_path)


def test_cgroups_path_absolute(oci, make_bundle):
    top = f"/ociruntime-test-{uuid.uuid4().hex[:8]}"
    b = bundle(make_bundle, SLEEP, cgroupsPath=f"{top}/c1")
    cid = start(oci, b)
    rec = record(oci, cid)
    try:
        for ctl, mp in MOUNTS.items():
            assert rec["paths"][ctl] == f"{mp}{top}/c1"
        if LAYOUT == "hybrid":
            assert rec["unified"] == f"{UNIFIED}{top}/c1"
        _in_cgroups(oci.state(cid)["pid"], rec)
        oci.cli_ok("delete", "--force", cid)
        assert_nothing_left(oci, b, cid, dirs(rec))
    finally:
        kill_cgroup(rec)
        _rmdirs(dirs(rec))
        _rmdirs({os.path.dirname(d) for d in dirs(rec)})


def test_cgroups_path_relative(oci, make_bundle):
    rel = f"ociruntime-test-{uuid.uuid4().hex[:8]}"
    b = bundle(make_bundle, SLEEP, cgroupsPath=rel)
    cid = start(oci, b)
    rec = record(oci, cid)
    own = own_cgroups()
    try:
        for ctl, mp in MOUNTS.items():
            assert rec["paths"][ctl] == os.path.normpath(f"{mp}{own.get(ctl, '/')}/{rel}")
        if LAYOUT == "hybrid":
            assert rec["unified"] == os.path.normpath(f"{UNIFIED}{own['']}/{rel}")
        _in_cgroups(oci.state(cid)["pid"], rec)
        oci.cli_ok("delete", "--force", cid)
        assert_nothing_left(oci, b, cid, dirs(rec))
    finally:
        kill_cgroup(rec)
        _rmdirs(dirs(rec))


def test_cgroup_namespace(oci, make_bundle):
    script = (
        "cat /proc/self/cgroup; echo ---; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
        "cat /sys/fs/cgroup/memory/cgroup.procs"
    )
    b = bundle(make_bundle, ["sh", "-c", script], {"memory": {"limit": 48 * MiB}})
    assert {"type": "cgroup"} in b.config["linux"]["namespaces"]
    r = oci.cli_ok("run", "--bundle", b.path, oci.new_id("ns"))
    cg, _, rest = r.stdout.partition("---\n")
    lines = cg.splitlines()
    assert lines, r.stdout
    for line in lines:
        assert line.split(":", 2)[2] == "/", line
    limit, *procs = rest.split()
    assert limit == str(48 * MiB)
    assert "1" in procs  # the container's own init, by its pid in the namespace


@pytest.mark.skipif("name=systemd" not in MOUNTS, reason="no name=systemd hierarchy here")
def test_named_systemd_hierarchy_is_the_containers_own(oci, make_bundle):
    """A v1 or hybrid systemd host: the container is in systemd's named
    hierarchy at its own path, as runc's cgroupfs driver puts it, not in the
    caller's cgroup there (where the caller's unit would count it as its own);
    without a cgroup namespace its cgroupfs binds that cgroup alone, not the
    whole hierarchy with every other process's pid in it."""
    script = (
        "grep :name=systemd: /proc/self/cgroup; echo ---; "
        "cat /sys/fs/cgroup/systemd/cgroup.procs; echo ---; ls /sys/fs/cgroup/systemd"
    )
    b = bundle(make_bundle, ["sh", "-c", script])
    b.config["linux"]["namespaces"] = [
        n for n in b.config["linux"]["namespaces"] if n["type"] != "cgroup"
    ]
    b.save()
    cid = oci.new_id("named")
    named = MOUNTS["name=systemd"] + f"/ociruntime/{cid}"
    r = oci.cli_ok("run", "--bundle", b.path, cid)
    line, procs, listing = r.stdout.split("---\n")
    assert line.strip().endswith(f":name=systemd:/ociruntime/{cid}"), r.stdout
    # its init and the cat
    assert sorted(procs.split(), key=int) == ["1", "3"], r.stdout
    assert "tasks" in listing.split() and "ociruntime" not in listing.split(), r.stdout
    assert_nothing_left(oci, b, cid)
    assert not os.path.exists(named)


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_delete_removes_the_parents_create_made(oci, make_bundle, relative):
    """The spec: delete removes what create made.  A cgroupsPath two levels
    down made its parent too (runc leaves it, and runtime-tools' relative
    cgroup tests leave testdir behind); delete removes it once empty.  One
    another container lives in is kept, and so is one the caller made."""
    top = f"cgp-{uuid.uuid4().hex[:8]}"
    path = lambda leaf: f"{top}/{leaf}" if relative else f"/{top}/{leaf}"  # noqa: E731
    a = bundle(make_bundle, SLEEP, cgroupsPath=path("a"))
    b = bundle(make_bundle, SLEEP, cgroupsPath=path("b"))
    ca, cb = start(oci, a), start(oci, b)
    parents = record(oci, ca).get("parents") or []
    assert parents and all(os.path.basename(p) == top for p in parents), parents
    assert not record(oci, cb).get("parents")  # a made them, b found them there
    try:
        oci.cli_ok("delete", "--force", ca)
        assert all(os.path.isdir(p) for p in parents)  # b is in them
    finally:
        oci.cli_ok("delete", "--force", cb)
    # b's delete leaves them (b did not make them); gone, a create that
    # makes them again records them, and its delete removes them
    for p in sorted(parents, key=len, reverse=True):
        os.rmdir(p)
    c = bundle(make_bundle, SLEEP, cgroupsPath=path("c"))
    cc = start(oci, c)
    made = record(oci, cc).get("parents")
    assert sorted(made) == sorted(parents)
    oci.cli_ok("delete", "--force", cc)
    assert_nothing_left(oci, c, cc, made)
    assert not any(os.path.exists(p) for p in made)


# ---- bad input ------------------------------------------------------------------------------


def test_network_class_id_without_net_cls(oci, make_bundle):
    if "net_cls" in MOUNTS:
        pytest.skip("this host mounts net_cls")
    b = bundle(make_bundle, SLEEP, {"network": {"classID": 1048577}})
    cid = oci.new_id("bad")
    oci.fails("run", "-d", "--bundle", b.path, cid, contains="net_cls")
    assert_nothing_left(oci, b, cid)


def test_bad_unified_name(oci, make_bundle):
    b = bundle(make_bundle, SLEEP, {"unified": {"nodot": "1"}})
    cid = oci.new_id("bad")
    oci.fails("run", "-d", "--bundle", b.path, cid, contains=("/linux/resources/unified/nodot",))
    assert_nothing_left(oci, b, cid)


def test_unified_file_the_hierarchy_lacks(oci, make_bundle):
    if LAYOUT != "hybrid":
        pytest.skip("needs the hybrid layout")
    if "memory" in rd(f"{UNIFIED}/cgroup.controllers").split():
        pytest.skip("the memory controller is in the cgroup2 mount here")
    b = bundle(make_bundle, SLEEP, {"unified": {"memory.high": "1000000"}})
    cid = oci.new_id("bad")
    oci.fails("run", "-d", "--bundle", b.path, cid, contains=("memory.high", "does not exist"))
    assert_nothing_left(oci, b, cid)


def test_swap_below_limit(oci, make_bundle):
    b = bundle(make_bundle, SLEEP, {"memory": {"limit": 64 * MiB, "swap": 32 * MiB}})
    cid = oci.new_id("bad")
    oci.fails("run", "-d", "--bundle", b.path, cid, contains="/linux/resources/memory/swap")
    assert_nothing_left(oci, b, cid)


def test_systemd_cgroup_flag(oci, make_bundle):
    b = bundle(make_bundle, SLEEP)
    cid = oci.new_id("bad")
    oci.fails(
        "run",
        "-d",
        "--bundle",
        b.path,
        cid,
        global_args=("--systemd-cgroup",),
        contains="systemd",
    )
    assert_nothing_left(oci, b, cid)


def test_systemd_cgroups_path(oci, make_bundle):
    cid = oci.new_id("bad")
    b = bundle(make_bundle, SLEEP, cgroupsPath=f"system.slice:ociruntime:{cid}")
    oci.fails("run", "-d", "--bundle", b.path, cid, contains=("systemd", "cgroupsPath"))
    assert_nothing_left(oci, b, cid)


# the first child forks the init straight into the cgroup2 directory (clone3
# with CLONE_INTO_CGROUP), as the runtime's child (CLONE_PARENT); a kernel
# without clone3: clone(2) with CLONE_PARENT, and the init moves itself
# through cgroup.procs.  Either way the runtime (here the script) reaps it.
_FORK_INTO = """
import errno, os, sys
sys.path.insert(0, sys.argv[3])
from ociruntime import sync
from ociruntime.linux import syscalls as sc
from ociruntime.process import first_child
from ociruntime.process.args import InitArgs
if sys.argv[2] == "no-clone3":
    def nosys(*args):
        raise OSError(errno.ENOSYS, "clone3")
    sc.clone_fork = nosys
r, w = sync.socketpair()
a = InitArgs(None, cgroup2=sys.argv[1] or None)
a.sync = sync.Channel(w)
runtime = os.getpid()
child = os.fork()
if child == 0:
    first_child.fork_real_init(a)  # the first child reports PID and exits; the init goes on
    with open("/proc/self/cgroup") as f:
        line = [x for x in f.read().splitlines() if x.startswith("0::")][0]
    parent = "runtime" if os.getppid() == runtime else os.getppid()
    os.write(1, f"{line} parent {parent}\\n".encode())  # one write: lines do not mix
    os._exit(7)
os.close(w)
msg = sync.recv(sync.Channel(r))
os.write(1, f"{msg['type']}\\n".encode())
os.waitpid(child, 0)
_, status = os.waitpid(msg["pid"], 0)  # ours to reap: no subreaper
os.write(1, f"reaped {os.waitstatus_to_exitcode(status)}\\n".encode())
"""


@pytest.mark.skipif(LAYOUT != "hybrid", reason="needs the cgroup2 mount of a hybrid host")
@pytest.mark.parametrize("kernel", ["clone3", "no-clone3"])
def test_the_init_is_forked_into_its_cgroup2_directory(kernel):
    rel = f"/ociruntime-test-{uuid.uuid4().hex[:8]}"
    d = UNIFIED + rel
    os.mkdir(d)
    try:
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        r = subprocess.run(
            ["/usr/bin/python3", "-c", _FORK_INTO, d, kernel, repo],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        # two processes write to one pipe, a line per write: the lines' order varies
        seen = sorted(re.findall(r"^(?:pid|0::/\S+ parent \S+|reaped \d+)$", r.stdout, re.M))
        want = ["pid", f"0::{rel} parent runtime", "reaped 7"]
        assert seen == sorted(want), r.stdout + r.stderr
    finally:
        wait_for(lambda: rd(d + "/cgroup.procs") == "", "the init gone", timeout=5)
        os.rmdir(d)


def test_an_init_without_a_cgroup2_directory_is_the_runtimes_child_too():
    """A pid namespace and no cgroup2 directory (a pure v1 host): the first
    child still forks the init with CLONE_PARENT, for the runtime to reap."""
    with open("/proc/self/cgroup") as f:
        own = [x for x in f.read().splitlines() if x.startswith("0::")][0]
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run(
        ["/usr/bin/python3", "-c", _FORK_INTO, "", "clone3", repo],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    seen = sorted(re.findall(r"^(?:pid|0::/\S* parent \S+|reaped \d+)$", r.stdout, re.M))
    assert seen == sorted(["pid", f"{own} parent runtime", "reaped 7"]), r.stdout + r.stderr
