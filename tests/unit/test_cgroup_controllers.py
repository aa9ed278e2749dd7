"""Pure translation tests: linux.resources -> cgroup file writes, no cgroup needed.

Every controller module (ociruntime/cgroups/controllers/*.py) has
``v1(res, has) -> [(subsystem, file, value)]`` and ``v2(res, has) ->
[(file, value)]``; ``has(subsystem, file)`` says whether the kernel offers a
file.  The expected values are runc's (libcontainer/cgroups/fs and fs2) unless
a comment says otherwise.  The second half covers cgroupsPath resolution,
layout detection and the managers' write routing on a fake cgroup tree.
"""

from __future__ import annotations

import errno
import os

import pytest

from ociruntime import cgroups
from ociruntime.cgroups import v1 as v1mod
from ociruntime.cgroups import v2 as v2mod
from ociruntime.cgroups.controllers import (
    blkio,
    cpu,
    devices,
    hugetlb,
    memory,
    network,
    pids,
    rdma,
    unified,
    writes_v1,
    writes_v2,
)
from ociruntime.errors import OCIError, SpecError

MiB = 1 << 20


def has_nothing(_ctl: str, _file: str) -> bool:
    return False


def has_only(*files: str):
    """A ``has`` that knows exactly these files (any subsystem)."""
    return lambda _ctl, f: f in files


# ---- memory -------------------------------------------------------------------


class TestMemoryV1:
    def test_every_field(self):
        res = {
            "memory": {
                "limit": 64 * MiB,
                "reservation": 32 * MiB,
                "swap": 128 * MiB,
                "kernel": 16 * MiB,
                "kernelTCP": 8 * MiB,
                "swappiness": 10,
                "disableOOMKiller": True,
                "useHierarchy": True,
            }
        }
        assert memory.v1(res, has_nothing) == [
            ("memory", "memory.limit_in_bytes", str(64 * MiB)),
            ("memory", "memory.memsw.limit_in_bytes", str(128 * MiB)),
            ("memory", "memory.soft_limit_in_bytes", str(32 * MiB)),
            ("memory", "memory.kmem.limit_in_bytes", str(16 * MiB)),
            ("memory", "memory.kmem.tcp.limit_in_bytes", str(8 * MiB)),
            ("memory", "memory.swappiness", "10"),
            ("memory", "memory.oom_control", "1"),
            ("memory", "memory.use_hierarchy", "1"),
        ]

    def test_limit_before_memsw(self):
        # the manager writes the pair in the order the current values allow,
        # but the order it is given is limit first, then memory+swap
        out = memory.v1({"memory": {"swap": 256 * MiB, "limit": 128 * MiB}}, has_nothing)
        assert [f for _, f, _ in out] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]

    def test_minus_one_is_unlimited(self):
        has = has_only("memory.memsw.limit_in_bytes")
        out = memory.v1({"memory": {"limit": -1, "swap": -1, "reservation": -1}}, has)
        assert out == [
            ("memory", "memory.limit_in_bytes", "-1"),
            ("memory", "memory.memsw.limit_in_bytes", "-1"),
            ("memory", "memory.soft_limit_in_bytes", "-1"),
        ]

    def test_swap_equal_to_limit_means_no_swap(self):
        out = memory.v1({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}}, has_nothing)
        assert ("memory", "memory.memsw.limit_in_bytes", str(32 * MiB)) in out

    def test_swap_unlimited_with_a_limit(self):
        has = has_only("memory.memsw.limit_in_bytes")
        out = memory.v1({"memory": {"limit": 32 * MiB, "swap": -1}}, has)
        assert ("memory", "memory.memsw.limit_in_bytes", "-1") in out

    def test_unlimited_swap_without_swap_accounting_is_no_write(self):
        # no memsw file (swapaccount=0): no swap limit to lift, as runc does
        out = memory.v1({"memory": {"limit": -1, "swap": -1}}, has_nothing)
        assert out == [("memory", "memory.limit_in_bytes", "-1")]
        out = memory.v1({"memory": {"limit": 32 * MiB, "swap": 64 * MiB}}, has_nothing)
        assert ("memory", "memory.memsw.limit_in_bytes", str(64 * MiB)) in out

    def test_oom_killer_left_alone_unless_disabled(self):
        assert memory.v1({"memory": {"disableOOMKiller": False}}, has_nothing) == []

    def test_use_hierarchy_false(self):
        assert memory.v1({"memory": {"useHierarchy": False}}, has_nothing) == [
            ("memory", "memory.use_hierarchy", "0")
        ]

    def test_nothing(self):
        assert memory.v1({}, has_nothing) == []
        assert memory.v1({"memory": {}}, has_nothing) == []
        assert memory.v1({"memory": None}, has_nothing) == []

    @pytest.mark.parametrize("v2", [False, True])
    def test_swap_below_limit_refused(self, v2):
        fn = memory.v2 if v2 else memory.v1
        with pytest.raises(SpecError) as e:
            fn({"memory": {"limit": 64 * MiB, "swap": 32 * MiB}}, has_nothing)
        assert "/linux/resources/memory/swap" in e.value.text

    @pytest.mark.parametrize("field", ["limit", "reservation", "swap", "kernel", "kernelTCP"])
    def test_below_minus_one_refused(self, field):
        with pytest.raises(SpecError) as e:
            memory.v1({"memory": {field: -2}}, has_nothing)
        assert f"/linux/resources/memory/{field}" in e.value.text

    @pytest.mark.parametrize("v", [-1, 101])
    def test_swappiness_range(self, v):
        with pytest.raises(SpecError) as e:
            memory.v1({"memory": {"swappiness": v}}, has_nothing)
        assert "swappiness" in e.value.text

    @pytest.mark.parametrize("v", [0, 100])
    def test_swappiness_bounds_accepted(self, v):
        assert memory.v1({"memory": {"swappiness": v}}, has_nothing) == [
            ("memory", "memory.swappiness", str(v))
        ]


class TestMemoryV2:
    def test_limit_and_reservation(self):
        out = memory.v2({"memory": {"limit": 64 * MiB, "reservation": 16 * MiB}}, has_nothing)
        assert out == [("memory.max", str(64 * MiB)), ("memory.low", str(16 * MiB))]

    def test_minus_one_is_max(self):
        out = memory.v2({"memory": {"limit": -1, "reservation": -1}}, has_nothing)
        assert out == [("memory.max", "max"), ("memory.low", "max")]

    def test_swap_is_swap_minus_limit(self):
        # the spec's swap is memory+swap (the v1 meaning); v2 limits swap alone
        out = memory.v2({"memory": {"limit": 64 * MiB, "swap": 96 * MiB}}, has_nothing)
        assert out == [("memory.max", str(64 * MiB)), ("memory.swap.max", str(32 * MiB))]

    def test_swap_equal_to_limit_is_zero_swap(self):
        out = memory.v2({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}}, has_nothing)
        assert ("memory.swap.max", "0") in out

    def test_swap_unlimited(self):
        out = memory.v2({"memory": {"limit": 32 * MiB, "swap": -1}}, has_nothing)
        assert ("memory.swap.max", "max") in out

    def test_swap_without_limit_refused(self):
        with pytest.raises(SpecError) as e:
            memory.v2({"memory": {"swap": 32 * MiB}}, has_nothing)
        assert "/linux/resources/memory/swap" in e.value.text
        with pytest.raises(SpecError):
            memory.v2({"memory": {"limit": -1, "swap": 32 * MiB}}, has_nothing)

    @pytest.mark.parametrize(
        "field, value",
        [("kernel", MiB), ("kernelTCP", MiB), ("swappiness", 10), ("disableOOMKiller", True)],
    )
    def test_v1_only_fields_refused(self, field, value):
        with pytest.raises(SpecError) as e:
            memory.v2({"memory": {field: value}}, has_nothing)
        assert f"/linux/resources/memory/{field}" in e.value.text
        assert "cgroup v2" in e.value.text

    def test_oom_killer_enabled_is_fine(self):
        assert memory.v2({"memory": {"disableOOMKiller": False}}, has_nothing) == []


# ---- cpu ----------------------------------------------------------------------


class TestCpuSharesToWeight:
    @pytest.mark.parametrize(
        "shares, weight",
        [(2, 1), (262144, 10000), (1024, 39), (512, 20), (0, 0), (262143, 9999)],
    )
    def test_linear_mapping(self, shares, weight):
        # 1 + (shares - 2) * 9999 / 262142: runc <= 1.3.1, crun < 1.23 and
        # Debian's runc 1.1; newer runc maps 1024 to 100 with a curve
        assert cpu.shares_to_weight(shares) == weight

    def test_monotonic(self):
        ws = [cpu.shares_to_weight(s) for s in range(2, 262145, 97)]
        assert ws == sorted(ws)
        assert 1 <= min(ws) and max(ws) <= 10000


class TestCpuV1:
    def test_every_field(self):
        res = {
            "cpu": {
                "shares": 512,
                "quota": 50000,
                "period": 100000,
                "burst": 10000,
                "realtimeRuntime": 950000,
                "realtimePeriod": 1000000,
                "idle": 1,
                "cpus": "0-1",
                "mems": "0",
            }
        }
        assert cpu.v1(res, has_nothing) == [
            ("cpu", "cpu.shares", "512"),
            ("cpu", "cpu.cfs_period_us", "100000"),
            ("cpu", "cpu.cfs_quota_us", "50000"),
            ("cpu", "cpu.cfs_burst_us", "10000"),
            ("cpu", "cpu.rt_period_us", "1000000"),
            ("cpu", "cpu.rt_runtime_us", "950000"),
            ("cpu", "cpu.idle", "1"),
            ("cpuset", "cpuset.cpus", "0-1"),
            ("cpuset", "cpuset.mems", "0"),
        ]

    def test_period_before_quota(self):
        out = cpu.v1({"cpu": {"quota": 20000, "period": 50000}}, has_nothing)
        assert [f for _, f, _ in out] == ["cpu.cfs_period_us", "cpu.cfs_quota_us"]

    def test_quota_minus_one_unlimited(self):
        assert cpu.v1({"cpu": {"quota": -1}}, has_nothing) == [("cpu", "cpu.cfs_quota_us", "-1")]

    def test_zero_means_unset(self):
        assert cpu.v1({"cpu": {"shares": 0, "quota": 0, "period": 0}}, has_nothing) == []

    def test_nothing(self):
        assert cpu.v1({}, has_nothing) == []


class TestCpuV2:
    def test_shares_to_weight(self):
        assert cpu.v2({"cpu": {"shares": 1024}}, has_nothing) == [("cpu.weight", "39")]

    @pytest.mark.parametrize("shares, weight", [(2, "1"), (262144, "10000")])
    def test_shares_bounds(self, shares, weight):
        assert cpu.v2({"cpu": {"shares": shares}}, has_nothing) == [("cpu.weight", weight)]

    @pytest.mark.parametrize("shares", [1, 262145])
    def test_shares_out_of_range(self, shares):
        with pytest.raises(SpecError) as e:
            cpu.v2({"cpu": {"shares": shares}}, has_nothing)
        assert "/linux/resources/cpu/shares" in e.value.text

    def test_quota_and_period(self):
        assert cpu.v2({"cpu": {"quota": 50000, "period": 200000}}, has_nothing) == [
            ("cpu.max", "50000 200000")
        ]

    def test_quota_alone_default_period(self):
        assert cpu.v2({"cpu": {"quota": 50000}}, has_nothing) == [("cpu.max", "50000 100000")]

    def test_period_alone_is_max(self):
        assert cpu.v2({"cpu": {"period": 50000}}, has_nothing) == [("cpu.max", "max 50000")]

    def test_quota_minus_one_is_max(self):
        assert cpu.v2({"cpu": {"quota": -1, "period": 100000}}, has_nothing) == [
            ("cpu.max", "max 100000")
        ]

    def test_quota_zero_means_unset(self):
        # runc: ConvertCPUQuotaCPUPeriodToCgroupV2Value(0, 0) == "" (nothing
        # written) and (0, P) == "max P"; v1 here skips a zero quota as well.
        # Writing "0 100000" would be refused by the kernel (EINVAL).
        assert cpu.v2({"cpu": {"quota": 0}}, has_nothing) == []
        assert cpu.v2({"cpu": {"quota": 0, "period": 50000}}, has_nothing) == [
            ("cpu.max", "max 50000")
        ]

    def test_burst_idle_cpus_mems(self):
        out = cpu.v2({"cpu": {"burst": 1000, "idle": 1, "cpus": "1", "mems": "0"}}, has_nothing)
        assert out == [
            ("cpu.max.burst", "1000"),
            ("cpu.idle", "1"),
            ("cpuset.cpus", "1"),
            ("cpuset.mems", "0"),
        ]

    @pytest.mark.parametrize("field", ["realtimeRuntime", "realtimePeriod"])
    def test_realtime_refused(self, field):
        with pytest.raises(SpecError) as e:
            cpu.v2({"cpu": {field: 1000}}, has_nothing)
        assert f"/linux/resources/cpu/{field}" in e.value.text
        assert "cgroup v2" in e.value.text

    def test_nothing(self):
        assert cpu.v2({"cpu": {}}, has_nothing) == []


# ---- pids ---------------------------------------------------------------------


class TestPids:
    @pytest.mark.parametrize("limit, value", [(5, "5"), (1, "1"), (0, "max"), (-1, "max")])
    def test_limit(self, limit, value):
        assert pids.v1({"pids": {"limit": limit}}, has_nothing) == [("pids", "pids.max", value)]
        assert pids.v2({"pids": {"limit": limit}}, has_nothing) == [("pids.max", value)]

    def test_nothing(self):
        for res in ({}, {"pids": None}, {"pids": {}}):
            assert pids.v1(res, has_nothing) == []
            assert pids.v2(res, has_nothing) == []


# ---- blockIO ------------------------------------------------------------------

THROTTLE_RES = {
    "blockIO": {
        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
        "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 200}],
    }
}


class TestBlkioWeightToV2:
    @pytest.mark.parametrize("w, v", [(10, 1), (1000, 10000), (500, 4950), (100, 910)])
    def test_mapping(self, w, v):
        # 1 + (weight - 10) * 9999 / 990 (runc's ConvertBlkIOToIOWeightValue)
        assert blkio.weight_to_v2(w) == v


class TestBlkioV1:
    def test_weight_file_plain(self):
        has = has_only("blkio.weight", "blkio.bfq.weight")
        assert blkio.v1({"blockIO": {"weight": 300}}, has) == [("blkio", "blkio.weight", "300")]

    def test_weight_file_bfq(self):
        # the kernel has no blkio.weight (no CFQ): BFQ's file takes the same value
        has = has_only("blkio.bfq.weight", "blkio.bfq.weight_device")
        assert blkio.v1({"blockIO": {"weight": 300}}, has) == [("blkio", "blkio.bfq.weight", "300")]

    def test_weight_file_neither(self):
        # neither exists: the plain name, so the write error names the usual file
        assert blkio.v1({"blockIO": {"weight": 300}}, has_nothing) == [
            ("blkio", "blkio.weight", "300")
        ]

    def test_leaf_weight(self):
        assert blkio.v1({"blockIO": {"leafWeight": 200}}, has_only("blkio.weight")) == [
            ("blkio", "blkio.leaf_weight", "200")
        ]

    def test_weight_device_plain(self):
        res = {
            "blockIO": {
                "weightDevice": [
                    {"major": 8, "minor": 0, "weight": 500},
                    {"major": 8, "minor": 16, "leafWeight": 300},
                ]
            }
        }
        assert blkio.v1(res, has_only("blkio.weight")) == [
            ("blkio", "blkio.weight_device", "8:0 500"),
            ("blkio", "blkio.leaf_weight_device", "8:16 300"),
        ]

    def test_weight_device_bfq(self):
        # BFQ's per-device file on cgroup v1 is blkio.bfq.weight_device (runc's
        # weightDeviceFilename); blkio.bfq.weight takes only a plain number and
        # answers "8:0 500" with EINVAL
        res = {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 500}]}}
        has = has_only("blkio.bfq.weight", "blkio.bfq.weight_device")
        assert blkio.v1(res, has) == [("blkio", "blkio.bfq.weight_device", "8:0 500")]

    def test_weight_device_needs_a_weight(self):
        with pytest.raises(SpecError) as e:
            blkio.v1({"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}}, has_nothing)
        assert "/linux/resources/blockIO/weightDevice/0" in e.value.text

    def test_throttle_lists(self):
        assert blkio.v1(THROTTLE_RES, has_nothing) == [
            ("blkio", "blkio.throttle.read_bps_device", "8:0 1048576"),
            ("blkio", "blkio.throttle.write_bps_device", "8:0 2097152"),
            ("blkio", "blkio.throttle.read_iops_device", "8:16 100"),
            ("blkio", "blkio.throttle.write_iops_device", "8:16 200"),
        ]

    def test_throttle_zero_removes_the_limit(self):
        res = {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 0}]}}
        assert blkio.v1(res, has_nothing) == [("blkio", "blkio.throttle.read_bps_device", "8:0 0")]

    def test_nothing(self):
        assert blkio.v1({}, has_nothing) == []
        assert blkio.v1({"blockIO": {}}, has_nothing) == []


class TestBlkioV2:
    def test_weight_io_weight_converted(self):
        assert blkio.v2({"blockIO": {"weight": 500}}, has_only("io.weight")) == [
            ("io.weight", "default 4950")
        ]

    def test_weight_bfq_unconverted(self):
        # only BFQ: io.bfq.weight has the v1 range [1, 1000], no conversion
        assert blkio.v2({"blockIO": {"weight": 500}}, has_only("io.bfq.weight")) == [
            ("io.bfq.weight", "default 500")
        ]

    def test_weight_device(self):
        res = {"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 1000}]}}
        assert blkio.v2(res, has_only("io.weight")) == [("io.weight", "8:0 10000")]
        assert blkio.v2(res, has_only("io.bfq.weight")) == [("io.bfq.weight", "8:0 1000")]

    def test_leaf_weight_refused(self):
        with pytest.raises(SpecError) as e:
            blkio.v2({"blockIO": {"leafWeight": 100}}, has_only("io.weight"))
        assert "/linux/resources/blockIO/leafWeight" in e.value.text

    def test_throttle_lists_to_io_max(self):
        assert blkio.v2(THROTTLE_RES, has_nothing) == [
            ("io.max", "8:0 rbps=1048576"),
            ("io.max", "8:0 wbps=2097152"),
            ("io.max", "8:16 riops=100"),
            ("io.max", "8:16 wiops=200"),
        ]

    def test_throttle_zero_is_max(self):
        res = {"blockIO": {"throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}]}}
        assert blkio.v2(res, has_nothing) == [("io.max", "8:0 wiops=max")]


# ---- hugetlb ------------------------------------------------------------------


class TestHugetlb:
    RES = {
        "hugepageLimits": [
            {"pageSize": "2MB", "limit": 4 * MiB},
            {"pageSize": "1GB", "limit": 1 << 30},
        ]
    }

    def test_v1(self):
        assert hugetlb.v1(self.RES, has_nothing) == [
            ("hugetlb", "hugetlb.2MB.limit_in_bytes", str(4 * MiB)),
            ("hugetlb", "hugetlb.1GB.limit_in_bytes", str(1 << 30)),
        ]

    def test_v2(self):
        assert hugetlb.v2(self.RES, has_nothing) == [
            ("hugetlb.2MB.max", str(4 * MiB)),
            ("hugetlb.1GB.max", str(1 << 30)),
        ]

    def test_nothing(self):
        assert hugetlb.v1({}, has_nothing) == [] == hugetlb.v2({"hugepageLimits": []}, None)


# ---- network ------------------------------------------------------------------


class TestNetwork:
    RES = {
        "network": {
            "classID": 1048577,
            "priorities": [{"name": "eth0", "priority": 5}, {"name": "lo", "priority": 1}],
        }
    }

    def test_v1(self):
        assert network.v1(self.RES, has_nothing) == [
            ("net_cls", "net_cls.classid", "1048577"),
            ("net_prio", "net_prio.ifpriomap", "eth0 5"),
            ("net_prio", "net_prio.ifpriomap", "lo 1"),
        ]

    def test_class_id_zero_is_written(self):
        assert network.v1({"network": {"classID": 0}}, has_nothing) == [
            ("net_cls", "net_cls.classid", "0")
        ]

    @pytest.mark.parametrize(
        "res",
        [
            {"network": {"classID": 1}},
            {"network": {"priorities": [{"name": "eth0", "priority": 1}]}},
        ],
    )
    def test_v2_refused(self, res):
        with pytest.raises(SpecError) as e:
            network.v2(res, has_nothing)
        assert "/linux/resources/network" in e.value.text

    def test_v2_empty_is_fine(self):
        assert network.v2({"network": {}}, has_nothing) == []
        assert network.v2({}, has_nothing) == []


# ---- rdma ---------------------------------------------------------------------


class TestRdma:
    def test_both_limits(self):
        res = {"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}}
        assert rdma.v1(res, has_nothing) == [
            ("rdma", "rdma.max", "mlx5_1 hca_handle=3 hca_object=10000")
        ]
        assert rdma.v2(res, has_nothing) == [("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000")]

    def test_one_limit_per_device(self):
        res = {"rdma": {"mlx4_0": {"hcaObjects": 7}, "mlx5_1": {"hcaHandles": 2}}}
        assert rdma.v2(res, has_nothing) == [
            ("rdma.max", "mlx4_0 hca_object=7"),
            ("rdma.max", "mlx5_1 hca_handle=2"),
        ]

    def test_empty_device_skipped(self):
        assert rdma.v2({"rdma": {"mlx5_1": {}}}, has_nothing) == []


# ---- unified ------------------------------------------------------------------


class TestUnified:
    RES = {"unified": {"memory.high": "50000000", "cgroup.max.descendants": 10}}

    def test_v1_goes_to_the_unified_hierarchy(self):
        assert unified.v1(self.RES, has_nothing) == [
            ("", "memory.high", "50000000"),
            ("", "cgroup.max.descendants", "10"),
        ]

    def test_v2(self):
        assert unified.v2(self.RES, has_nothing) == [
            ("memory.high", "50000000"),
            ("cgroup.max.descendants", "10"),
        ]

    @pytest.mark.parametrize(
        "name, pointer",
        [
            ("memory/max", "memory~1max"),
            ("../memory.max", "..~1memory.max"),
            (".hidden", ".hidden"),
            ("nodot", "nodot"),
            ("", ""),
        ],
    )
    @pytest.mark.parametrize("fn", [unified.v1, unified.v2])
    def test_bad_names(self, fn, name, pointer):
        with pytest.raises(SpecError) as e:
            fn({"unified": {name: "1"}}, has_nothing)
        assert e.value.text.endswith("not a cgroup v2 file name")
        assert f"/linux/resources/unified/{pointer}" in e.value.text

    @pytest.mark.parametrize("name", unified.NOT_RESOURCES)
    @pytest.mark.parametrize("fn", [unified.v1, unified.v2])
    def test_files_that_move_processes_are_refused(self, fn, name):
        """cgroup.procs: "1" would move the host's pid 1 into the container's cgroup."""
        with pytest.raises(SpecError) as e:
            fn({"unified": {name: "1"}}, has_nothing)
        assert f"/linux/resources/unified/{name}" in e.value.text
        assert "not a resource" in e.value.text


# ---- devices ------------------------------------------------------------------


class TestDevices:
    def test_nothing_said_nothing_done(self):
        assert devices.effective({}, []) is None

    def test_config_rules_then_defaults(self):
        rules = [{"allow": False, "access": "rwm"}]
        out = devices.effective({"devices": rules}, [])
        assert out[0] == {"allow": False, "access": "rwm"}
        assert out[1:] == devices.DEFAULT_ALLOW
        # copies: the caller's config is not aliased
        out[0]["allow"] = True
        assert rules[0]["allow"] is False

    def test_defaults_are_runcs(self):
        lines = {devices.line(r) for r in devices.DEFAULT_ALLOW}
        for want in (
            "c *:* m",
            "b *:* m",
            "c 1:3 rwm",  # null
            "c 1:5 rwm",  # zero
            "c 1:7 rwm",  # full
            "c 1:8 rwm",  # random
            "c 1:9 rwm",  # urandom
            "c 5:0 rwm",  # tty
            "c 5:2 rwm",  # ptmx
            "c 10:200 rwm",  # tun
            "c 136:* rwm",  # pts
        ):
            assert want in lines
        assert all(r["allow"] for r in devices.DEFAULT_ALLOW)

    def test_empty_rules_list_still_installs_defaults(self):
        assert devices.effective({"devices": []}, []) == devices.DEFAULT_ALLOW

    def test_line(self):
        assert devices.line({"type": "c", "major": 1, "minor": 3, "access": "rwm"}) == "c 1:3 rwm"
        assert devices.line({"type": "b", "major": 8, "access": "r"}) == "b 8:* r"
        assert devices.line({"type": "c", "major": -1, "minor": -1, "access": "m"}) == "c *:* m"
        assert devices.line({"allow": False}) == "a *:* rwm"
        assert devices.line({"type": "a", "access": "rwm"}) == "a *:* rwm"

    def test_v1_allow_and_deny_files(self):
        rules = [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "r"},
            {"allow": False, "type": "b", "major": 8, "minor": 0, "access": "w"},
        ]
        assert devices.v1(rules) == [
            ("devices", "devices.deny", "a *:* rwm"),
            ("devices", "devices.allow", "c 10:237 r"),
            ("devices", "devices.deny", "b 8:0 w"),
        ]

    def test_linux_devices_node_types(self):
        # only char and block nodes are device-cgroup rules; fifos are not
        devs = [
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
            {"path": "/dev/fifo", "type": "p"},
            {"path": "/dev/uu", "type": "u", "major": 4, "minor": 1},
            {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0},
        ]
        out = devices.effective({"devices": [{"allow": False, "access": "rwm"}]}, devs)
        assert out[: 1 + len(devices.DEFAULT_ALLOW)] == [
            {"allow": False, "access": "rwm"},
            *devices.DEFAULT_ALLOW,
        ]
        assert {devices.line(r) for r in out[1 + len(devices.DEFAULT_ALLOW) :]} <= {
            "c 10:229 rwm",
            "c 4:1 rwm",
            "b 8:0 rwm",
        }


# ---- all controllers together --------------------------------------------------


def test_writes_v1_covers_every_controller():
    res = {
        "memory": {"limit": 64 * MiB},
        "cpu": {"shares": 512},
        "pids": {"limit": 10},
        "blockIO": {"weight": 100},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
        "network": {"classID": 1},
        "rdma": {"mlx5_1": {"hcaHandles": 1}},
        "unified": {"cgroup.max.depth": "3"},
    }
    out = writes_v1(res, has_only("blkio.weight"))
    assert [c for c, _, _ in out] == [
        "memory",
        "cpu",
        "pids",
        "blkio",
        "hugetlb",
        "net_cls",
        "rdma",
        "",
    ]


def test_writes_v2_in_controller_order():
    res = {
        "unified": {"memory.high": "1000000"},
        "pids": {"limit": 10},
        "memory": {"limit": 64 * MiB},
        "cpu": {"shares": 2},
    }
    assert writes_v2(res, has_nothing) == [
        ("memory.max", str(64 * MiB)),
        ("cpu.weight", "1"),
        ("pids.max", "10"),
        ("memory.high", "1000000"),
    ]


def test_writes_v2_refuses_v1_only():
    with pytest.raises(SpecError):
        writes_v2({"network": {"classID": 1}}, has_nothing)


# ---- cgroupsPath resolution ------------------------------------------------------


class TestResolve:
    def test_default(self):
        assert cgroups.resolve(None, "abc", "/user.slice") == "/ociruntime/abc"
        assert cgroups.resolve("", "abc", "/") == "/ociruntime/abc"

    def test_absolute_ignores_own(self):
        assert cgroups.resolve("/a/b", "abc", "/x/y") == "/a/b"

    def test_relative_to_own(self):
        assert cgroups.resolve("a/b", "abc", "/x/y") == "/x/y/a/b"
        assert cgroups.resolve("c1", "abc", "/") == "/c1"

    def test_normalised(self):
        assert cgroups.resolve("//a///b/./", "abc", "/") == "/a/b"

    @pytest.mark.parametrize("p", ["system.slice:docker:abc", ":ociruntime:abc", "a:b:c"])
    def test_systemd_form_refused(self, p):
        with pytest.raises(OCIError) as e:
            cgroups.resolve(p, "abc", "/")
        assert "systemd" in e.value.text
        assert "/linux/cgroupsPath" in e.value.text

    @pytest.mark.parametrize("p, own", [("/", "/"), ("/.", "/x"), ("..", "/"), ("/..", "/")])
    def test_root_refused(self, p, own):
        with pytest.raises(OCIError) as e:
            cgroups.resolve(p, "abc", own)
        assert "/linux/cgroupsPath" in e.value.text

    @pytest.mark.parametrize(
        "p, own",
        [
            ("../sibling", "/x/y"),  # relative, climbs out of the caller's cgroup
            ("a/../../b", "/x/y"),
            ("/a/../../b", "/"),  # absolute, climbs above the root and back down
            ("/a/../b", "/"),
        ],
    )
    def test_dotdot_refused(self, p, own):
        # a ".." component is refused outright; the check must look at the
        # path as given (after normpath the ".." is gone and the path escapes)
        with pytest.raises(OCIError) as e:
            cgroups.resolve(p, "abc", own)
        assert "/linux/cgroupsPath" in e.value.text


class TestLayout:
    """The root of a cgroup2 mount has cgroup.controllers; tmpfs and v1 hierarchies do not."""

    def test_v2(self, tmp_path):
        (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
        assert cgroups.layout(str(tmp_path)) == "v2"

    def test_hybrid(self, tmp_path):
        (tmp_path / "unified").mkdir()
        (tmp_path / "unified" / "cgroup.controllers").write_text("")
        assert cgroups.layout(str(tmp_path)) == "hybrid"

    def test_v1(self, tmp_path):
        assert cgroups.layout(str(tmp_path)) == "v1"
        (tmp_path / "unified").mkdir()  # a v1 hierarchy mounted there
        (tmp_path / "unified" / "cgroup.procs").write_text("")
        assert cgroups.layout(str(tmp_path)) == "v1"

    def test_this_host(self):
        """Agrees with the filesystem magic, the other way to tell."""
        from ociruntime.linux.syscalls import statfs_type

        CGROUP2_SUPER_MAGIC = 0x63677270  # noqa: N806

        want = "v1"
        if statfs_type("/sys/fs/cgroup") == CGROUP2_SUPER_MAGIC:
            want = "v2"
        elif os.path.isdir("/sys/fs/cgroup/unified"):
            if statfs_type("/sys/fs/cgroup/unified") == CGROUP2_SUPER_MAGIC:
                want = "hybrid"
        assert cgroups.layout() == want


class TestManagersForPath:
    OWN = {"memory": "/mem/own", "cpu": "/", "": "/v2/own"}
    MOUNTS = {
        "memory": "/sys/fs/cgroup/memory",
        "cpu": "/sys/fs/cgroup/cpu,cpuacct",
        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
    }

    @pytest.fixture(autouse=True)
    def fake_host(self, monkeypatch):
        monkeypatch.setattr(v1mod, "own_cgroups", lambda: dict(self.OWN))
        monkeypatch.setattr(v1mod, "hierarchies", lambda named=False: dict(self.MOUNTS))
        monkeypatch.setattr(v2mod, "own_cgroups", lambda: dict(self.OWN))

    def test_v1_default(self):
        m = v1mod.V1.for_path(None, "c1", hybrid=False)
        assert m.paths == {
            "memory": "/sys/fs/cgroup/memory/ociruntime/c1",
            "cpu": "/sys/fs/cgroup/cpu,cpuacct/ociruntime/c1",
            "cpuacct": "/sys/fs/cgroup/cpu,cpuacct/ociruntime/c1",
        }
        assert m.unified is None
        assert m.record()["layout"] == "v1"
        # a co-mounted hierarchy is one directory
        assert m.dirs() == [
            "/sys/fs/cgroup/memory/ociruntime/c1",
            "/sys/fs/cgroup/cpu,cpuacct/ociruntime/c1",
        ]

    def test_v1_relative_per_hierarchy(self):
        m = v1mod.V1.for_path("pod/c1", "c1", hybrid=True)
        assert m.paths["memory"] == "/sys/fs/cgroup/memory/mem/own/pod/c1"
        assert m.paths["cpu"] == "/sys/fs/cgroup/cpu,cpuacct/pod/c1"
        # the unified part is relative to the caller's cgroup2 path
        assert m.unified == "/sys/fs/cgroup/unified/v2/own/pod/c1"
        assert m.record()["layout"] == "hybrid"

    def test_v1_absolute(self):
        m = v1mod.V1.for_path("/pod/c1", "c1", hybrid=True)
        assert m.paths["memory"] == "/sys/fs/cgroup/memory/pod/c1"
        assert m.unified == "/sys/fs/cgroup/unified/pod/c1"

    def test_v2(self):
        assert v2mod.V2.for_path(None, "c1").path == "/sys/fs/cgroup/ociruntime/c1"
        assert v2mod.V2.for_path("c1", "c1").path == "/sys/fs/cgroup/v2/own/c1"
        assert v2mod.V2.for_path("/a/c1", "c1").path == "/sys/fs/cgroup/a/c1"

    def test_record_round_trip(self):
        m = v1mod.V1.for_path("/pod/c1", "c1", hybrid=True)
        again = cgroups.from_record(m.record())
        assert isinstance(again, v1mod.V1)
        assert (again.paths, again.unified) == (m.paths, m.unified)
        m2 = v2mod.V2.for_path("/a/c1", "c1")
        assert cgroups.from_record(m2.record()).path == m2.path
        assert cgroups.from_record(None) is None
        assert cgroups.from_record({}) is None


# ---- the managers' write routing, on a fake cgroup tree ---------------------------


def _fake_cgroup(d, *files: str) -> str:
    os.makedirs(d, exist_ok=True)
    for f in files:
        with open(os.path.join(d, f), "w"):
            pass
    return str(d)


def _read(d: str, f: str) -> str:
    with open(os.path.join(d, f)) as fh:
        return fh.read()


class TestV1Apply:
    def test_hybrid_hugetlb_and_unified_go_to_the_cgroup2_dir(self, tmp_path):
        mem = _fake_cgroup(tmp_path / "memory", "memory.limit_in_bytes")
        uni = _fake_cgroup(tmp_path / "unified", "hugetlb.2MB.max", "cgroup.max.depth")
        m = v1mod.V1({"memory": mem}, uni)
        m.apply(
            {
                "memory": {"limit": 64 * MiB},
                "hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}],
                "unified": {"cgroup.max.depth": "2"},
            }
        )
        assert _read(mem, "memory.limit_in_bytes") == str(64 * MiB)
        assert _read(uni, "hugetlb.2MB.max") == str(4 * MiB)
        assert _read(uni, "cgroup.max.depth") == "2"

    def test_missing_controller_named(self, tmp_path):
        m = v1mod.V1({"memory": _fake_cgroup(tmp_path / "memory")}, None)
        with pytest.raises(OCIError) as e:
            m.apply({"network": {"classID": 1}})
        assert "net_cls" in e.value.text

    def test_unified_on_pure_v1(self, tmp_path):
        m = v1mod.V1({"memory": _fake_cgroup(tmp_path / "memory")}, None)
        with pytest.raises(OCIError) as e:
            m.apply({"unified": {"memory.high": "1"}})
        assert "unified" in e.value.text

    def test_missing_file_named(self, tmp_path):
        mem = _fake_cgroup(tmp_path / "memory")
        m = v1mod.V1({"memory": mem}, None)
        with pytest.raises(OCIError) as e:
            m.apply({"memory": {"swappiness": 10}})
        assert os.path.join(mem, "memory.swappiness") in e.value.text
        assert "does not exist" in e.value.text

    def test_devices_reset_then_rules(self, tmp_path, monkeypatch):
        # a plain file keeps only its last write: record the writes instead
        from ociruntime.cgroups import base

        dev = _fake_cgroup(tmp_path / "devices", "devices.allow", "devices.deny")
        seen = []
        monkeypatch.setattr(base, "write", lambda p, v: seen.append((os.path.basename(p), v)))
        monkeypatch.setattr(
            base, "write_each", lambda p, vs: seen.extend((os.path.basename(p), v) for v in vs)
        )
        v1mod.V1({"devices": dev}, None).apply({"devices": [{"allow": False, "access": "rwm"}]})
        assert seen[:2] == [("devices.deny", "a"), ("devices.deny", "a *:* rwm")]
        assert ("devices.allow", "c 1:3 rwm") in seen
        assert len(seen) == 2 + len(devices.DEFAULT_ALLOW)


class TestV2Apply:
    def test_writes_in_one_directory(self, tmp_path):
        d = _fake_cgroup(tmp_path / "c", "memory.max", "memory.swap.max", "pids.max", "cpu.max")
        m = v2mod.V2(d)
        m.apply(
            {
                "memory": {"limit": 32 * MiB, "swap": 48 * MiB},
                "pids": {"limit": 0},
                "cpu": {"quota": 25000, "period": 50000},
            }
        )
        assert _read(d, "memory.max") == str(32 * MiB)
        assert _read(d, "memory.swap.max") == str(16 * MiB)
        assert _read(d, "pids.max") == "max"
        assert _read(d, "cpu.max") == "25000 50000"

    def test_bfq_chosen_by_what_exists(self, tmp_path):
        d = _fake_cgroup(tmp_path / "c", "io.bfq.weight")
        v2mod.V2(d).apply({"blockIO": {"weight": 700}})
        assert _read(d, "io.bfq.weight") == "default 700"


def test_write_each_sends_one_write_per_value_through_one_open(tmp_path, monkeypatch):
    from ociruntime.cgroups import base

    f = tmp_path / "devices.allow"
    f.write_text("")
    opened = []
    real_open = os.open
    monkeypatch.setattr(base.os, "open", lambda p, *a: opened.append(p) or real_open(p, *a))
    base.write_each(str(f), ["c 1:3 rwm", "c 1:5 rwm"])
    assert opened == [str(f)]
    assert f.read_text() == "c 1:3 rwmc 1:5 rwm"  # a plain file appends; cgroupfs takes each write
    with pytest.raises(base.OCIError, match="does not exist"):
        base.write_each(str(tmp_path / "nope"), ["a", "b"])


def test_cpuset_fill_covers_a_parent_another_create_made_but_not_filled(tmp_path, monkeypatch):
    """Parallel creates share /ociruntime: the one that did not make it must
    still not copy its still-empty cpus/mems (the attach would fail ENOSPC)."""
    root = tmp_path / "cpuset"
    (root / "ociruntime" / "c1").mkdir(parents=True)
    for d, cpus, mems in (
        (root, "0-1", "0"),
        (root / "ociruntime", "", ""),
        (root / "ociruntime" / "c1", "", ""),
    ):
        (d / "cpuset.cpus").write_text(cpus)
        (d / "cpuset.mems").write_text(mems)
    reads = []
    real_read = v1mod.base.read
    monkeypatch.setattr(v1mod.base, "read", lambda p, *a: reads.append(p) or real_read(p, *a))
    v1mod._fill_cpuset(str(root / "ociruntime" / "c1"))
    for d in (root / "ociruntime", root / "ociruntime" / "c1"):
        assert (d / "cpuset.cpus").read_text() == "0-1"
        assert (d / "cpuset.mems").read_text() == "0"
    assert sorted(reads) == sorted(set(reads)) and len(reads) == 6  # each file of 3 levels, once


def test_cpuset_fill_keeps_a_level_s_own_value(tmp_path):
    """A level with cpus but no mems keeps its cpus, and passes them down."""
    root = tmp_path / "cpuset"
    (root / "p" / "c").mkdir(parents=True)
    for d, cpus, mems in ((root, "0-1", "0"), (root / "p", "1", ""), (root / "p" / "c", "", "")):
        (d / "cpuset.cpus").write_text(cpus)
        (d / "cpuset.mems").write_text(mems)
    v1mod._fill_cpuset(str(root / "p" / "c"))
    assert [(root / x / "cpuset.cpus").read_text() for x in ("p", "p/c")] == ["1", "1"]
    assert [(root / x / "cpuset.mems").read_text() for x in ("p", "p/c")] == ["0", "0"]


class TestDefaultParentRemoval:
    """The shared /ociruntime parent: gone with its last container, even when
    the kernel still reports the just-removed child as busy (it goes offline
    asynchronously); kept while another container is in it."""

    @staticmethod
    def _busy_once(monkeypatch, parent):
        from ociruntime.cgroups import base

        real = base.os.rmdir
        calls = []

        def rmdir(p):
            calls.append(p)
            if p == parent and calls.count(p) == 1:
                raise OSError(errno.EBUSY, "Device or resource busy")
            return real(p)

        monkeypatch.setattr(base.os, "rmdir", rmdir)
        monkeypatch.setattr(base.time, "sleep", lambda s: None)
        return calls

    def test_transient_busy_is_retried(self, tmp_path, monkeypatch):
        from ociruntime.cgroups import base

        parent = tmp_path / "ociruntime"
        parent.mkdir()
        calls = self._busy_once(monkeypatch, str(parent))
        assert base.rmdir_default_parent(str(parent / "c1")) is True
        assert not parent.exists() and calls.count(str(parent)) == 2

    def test_kept_while_another_container_is_in_it(self, tmp_path, monkeypatch):
        from ociruntime.cgroups import base

        parent = tmp_path / "ociruntime"
        (parent / "c2").mkdir(parents=True)
        self._busy_once(monkeypatch, str(parent))
        assert base.rmdir_default_parent(str(parent / "c1")) is False
        assert (parent / "c2").is_dir()


def test_v1_hierarchies_are_controllers_not_mount_flags():
    """A systemd host's named hierarchy carries xattr; others may carry
    clone_children or noprefix: none of those is a controller."""
    from ociruntime.cgroups.v1 import hierarchies

    text = (
        "30 25 0:26 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n"
        "31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "32 25 0:28 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,clone_children,noprefix,cpuset\n"
        "33 25 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
    )
    assert hierarchies(text) == {
        "cpu": "/sys/fs/cgroup/cpu,cpuacct",
        "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
        "cpuset": "/sys/fs/cgroup/cpuset",
    }


def test_v1_hierarchies_with_the_named_systemd_one():
    """Asked for, systemd's named hierarchy is a key of its own (the container
    joins it, as runc's); another named one never is."""
    from ociruntime.cgroups.v1 import NAMED, hierarchies

    text = (
        "30 25 0:26 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n"
        "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "32 25 0:28 / /sys/fs/cgroup/other rw - cgroup cgroup rw,name=other\n"
    )
    assert hierarchies(text, named=True) == {
        NAMED: "/sys/fs/cgroup/systemd",
        "memory": "/sys/fs/cgroup/memory",
    }
    assert hierarchies(text) == {"memory": "/sys/fs/cgroup/memory"}


def test_v1_named_systemd_cgroup_is_best_effort(tmp_path, monkeypatch):
    """A name=systemd directory that cannot be made (rootless, say) does not
    fail the create (runc ignores it too): the container stays in its
    caller's cgroup there, and the record and the join leave it out."""
    from ociruntime.cgroups import base
    from ociruntime.cgroups.v1 import NAMED

    mem, named = str(tmp_path / "memory" / "c1"), str(tmp_path / "systemd" / "c1")
    real = base.makedirs

    def makedirs(d):
        if d == named:
            raise OCIError(f"creating cgroup {d}: Permission denied")
        return real(d)

    monkeypatch.setattr(base, "makedirs", makedirs)
    m = v1mod.V1({"memory": mem, NAMED: named}, None)
    m.create()
    assert os.path.isdir(mem) and not os.path.exists(named)
    assert m.record()["paths"] == {"memory": mem}
    assert m.targets() == ([mem], None)
    # a controller's directory that cannot be made still fails the create
    m = v1mod.V1({"memory": named}, None)
    with pytest.raises(OCIError, match="Permission denied"):
        m.create()


@pytest.mark.parametrize("layout", ["hybrid", "v2"])
def test_create_after_create_cgroup2_makes_the_cgroup2_directory_once(
    tmp_path, monkeypatch, layout
):
    """create's early create_cgroup2 (the init is forked into the directory),
    then create() for the rest: the directory is made, and its controllers
    enabled, once (both walk the path and read the files on the way)."""
    from ociruntime.cgroups import base

    calls = []
    monkeypatch.setattr(base, "makedirs", lambda d: calls.append(("mkdir", d)) or [d])
    monkeypatch.setattr(base, "enable_controllers", lambda r, d: calls.append(("enable", d)))
    monkeypatch.setattr(v2mod, "enable_controllers", lambda r, d: calls.append(("enable", d)))
    uni = str(tmp_path / "unified" / "c")
    if layout == "hybrid":
        m = v1mod.V1({"memory": str(tmp_path / "memory" / "c")}, uni)
    else:
        m = v2mod.V2(uni)
    assert m.create_cgroup2() == uni
    m.create()
    assert m.create_cgroup2() == uni
    mine = [c for c in calls if c[1] == uni]
    assert mine == [("mkdir", uni), ("enable", uni)], calls
    assert m.made.count(uni) == 1
