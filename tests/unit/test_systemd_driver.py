"""The systemd cgroup driver's pure parts (cgroups/systemd.py): cgroupsPath
parsing and validation as runc's, slice expansion, the annotation values
(GVariant text), and linux.resources -> unit properties as runc translates
them.  The driver itself runs in the systemd guest (test_systemd_vm.py)."""

from __future__ import annotations

import pytest

from ociruntime import cgroups
from ociruntime.cgroups import systemd as sd
from ociruntime.errors import OCIError

INF = sd.U64_MAX


class TestPath:
    def test_default(self):
        assert sd.parse_path("", "abc") == ("system.slice", "ociruntime-abc.scope", "abc")
        assert sd.parse_path(None, "abc")[1] == "ociruntime-abc.scope"

    def test_three_parts(self):
        assert sd.parse_path("machine.slice:libpod:123", "x") == (
            "machine.slice",
            "libpod-123.scope",
            "123",
        )
        assert sd.parse_path(":cri-containerd:abc", "x")[0] == "system.slice"
        assert sd.parse_path("a.slice::n", "x")[1] == "-n.scope"  # runc's too

    @pytest.mark.parametrize("p", ["/a/b", "a:b", "a:b:c:d", "system.slice"])
    def test_not_three_parts(self, p):
        with pytest.raises(OCIError) as e:
            sd.parse_path(p, "x")
        assert 'expected cgroupsPath to be of format "slice:prefix:name"' in e.value.text
        assert "/linux/cgroupsPath" in e.value.text

    @pytest.mark.parametrize("name", ["a/b", "a b", "x" * 300, ""])
    def test_bad_unit_name(self, name):
        with pytest.raises(OCIError) as e:
            sd.parse_path(f"system.slice:p:{name}", "x")
        assert "/linux/cgroupsPath" in e.value.text

    def test_slice_as_name_refused(self):
        with pytest.raises(OCIError, match="slice"):
            sd.parse_path("system.slice:p:pod.slice", "x")

    @pytest.mark.parametrize(
        "sl, path",
        [
            ("system.slice", "/system.slice"),
            ("a-b.slice", "/a.slice/a-b.slice"),
            (
                "kubepods-besteffort-pod12.slice",
                "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice",
            ),
            ("-.slice", "/"),
        ],
    )
    def test_expand_slice(self, sl, path):
        assert sd.expand_slice(sl) == path

    @pytest.mark.parametrize("sl", ["badslice", ".slice", "a--b.slice", "-a.slice", "a/b.slice"])
    def test_invalid_slice(self, sl):
        with pytest.raises(OCIError, match=f"invalid slice name: {sl}"):
            sd.expand_slice(sl)

    def test_record_reopens_without_dbus(self):
        m = sd.Systemd.for_config({"cgroupsPath": "a-b.slice:p:n"}, "x", {})
        rec = m.record()
        assert rec == {
            "layout": "v2",
            "path": "/sys/fs/cgroup/a.slice/a-b.slice/p-n.scope",
            "driver": "systemd",
            "unit": "p-n.scope",
        }
        again = cgroups.from_record(rec)
        assert isinstance(again, sd.Systemd) and again.unit == "p-n.scope" and again.started is None

    def test_record_checked(self):
        from ociruntime.state import cgroup_record_ok

        good = sd.Systemd.for_config({}, "x", {}).record()
        assert cgroup_record_ok(good)
        for bad in (
            dict(good, unit="sshd.service"),
            dict(good, unit="other.scope"),
            dict(good, path="/sys/fs/cgroup/ociruntime-x.scope/../x"),
        ):
            assert not cgroup_record_ok(bad), bad

    def test_refused_without_systemd(self, monkeypatch):
        monkeypatch.setattr(sd, "running", lambda: False)
        with pytest.raises(OCIError) as e:
            cgroups.for_config({}, "abc", systemd=True)
        assert e.value.text.startswith("systemd unit ociruntime-abc.scope: systemd is not running")

    @pytest.mark.parametrize("kind", ["hybrid", "v1"])
    def test_refused_on_v1_and_hybrid(self, monkeypatch, kind):
        """runc's legacy (v1) systemd manager is not implemented: a clear error."""
        monkeypatch.setattr(sd, "running", lambda: True)
        monkeypatch.setattr(cgroups, "layout", lambda root=cgroups.ROOT: kind)
        with pytest.raises(OCIError) as e:
            cgroups.for_config({"cgroupsPath": "system.slice:p:n"}, "abc", systemd=True)
        assert e.value.text.startswith(
            f"systemd unit p-n.scope: the systemd cgroup driver needs a pure cgroup v2 host; "
            f"this one is {kind}"
        )

    def test_refused_rootless(self):
        with pytest.raises(OCIError, match="rootless"):
            cgroups.for_config({}, "abc", rootless=True, systemd=True)


class TestGVariant:
    @pytest.mark.parametrize(
        "text, want",
        [
            ("uint64 7", ("t", 7)),
            ("7", ("i", 7)),
            ("'inactive-or-failed'", ("s", "inactive-or-failed")),
            ('"a b"', ("s", "a b")),
            ("true", ("b", True)),
            ("false", ("b", False)),
            ("['a.service', 'b.service']", ("as", ["a.service", "b.service"])),
            ("@as []", ("as", [])),
            ("@t 5", ("t", 5)),
            ("1.5", ("d", 1.5)),
            ("uint32 0x10", ("u", 16)),
        ],
    )
    def test_values(self, text, want):
        assert sd.parse_gvariant(text) == want

    @pytest.mark.parametrize("text", ["", "[]", "'open", "[1, 'a']", "nonsense", "1 2"])
    def test_bad(self, text):
        with pytest.raises(ValueError):
            sd.parse_gvariant(text)

    def test_annotations(self):
        props = sd.annotation_properties(
            {
                "org.systemd.property.TimeoutStopSec": "uint64 7",
                "org.systemd.property.CollectMode": "'inactive-or-failed'",
                "other": "x",
            }
        )
        assert props == [
            ("CollectMode", ("s", "inactive-or-failed")),
            ("TimeoutStopUSec", ("t", 7_000_000)),
        ]

    @pytest.mark.parametrize(
        "key, value, msg",
        [
            ("org.systemd.property.AB", "1", "too short"),
            ("org.systemd.property.A_B", "1", "non-alphabetic"),
            ("org.systemd.property.CollectMode", "'x", "value parse error"),
            ("org.systemd.property.TimeoutStopSec", "'x'", "not a number"),
            ("org.systemd.property.Foo", "byte 300", "is not a D-Bus 'y'"),
            ("org.systemd.property.Foo", "uint64 -1", "is not a D-Bus 't'"),
            ("org.systemd.property.Foo", "@ay [1000]", "is not a D-Bus 'y'"),
        ],
    )
    def test_bad_annotations(self, key, value, msg):
        with pytest.raises(OCIError) as e:
            sd.annotation_properties({key: value})
        assert msg in e.value.text and "/annotations/" in e.value.text


def props(res, devs=None) -> dict:
    out: dict = {}
    for name, (sig, v) in sd.resource_properties(res, devs):
        out.setdefault(name, []).append((sig, v))
    return {k: v[-1] if len(v) == 1 else v for k, v in out.items()}


class TestResources:
    def test_memory(self):
        p = props({"memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20}})
        assert p["MemoryMax"] == ("t", 64 << 20)
        assert p["MemoryLow"] == ("t", 32 << 20)
        assert p["MemorySwapMax"] == ("t", 64 << 20)  # swap is memory+swap in the spec

    def test_memory_unlimited(self):
        p = props({"memory": {"limit": -1}})
        assert p["MemoryMax"] == ("t", INF) and p["MemorySwapMax"] == ("t", INF)

    def test_swap_without_limit_refused(self):
        with pytest.raises(OCIError, match="/linux/resources/memory/swap"):
            props({"memory": {"swap": 1 << 30}})

    def test_cpu(self):
        p = props(
            {
                "cpu": {
                    "shares": 1024,
                    "quota": 12345,
                    "period": 100000,
                    "cpus": "0-2,7",
                    "mems": "0",
                }
            }
        )
        assert p["CPUWeight"] == ("t", 39)  # runc 1.1's linear formula, as the file
        assert p["CPUQuotaPeriodUSec"] == ("t", 100000)
        assert p["CPUQuotaPerSecUSec"] == ("t", 130000)  # 123450 rounded up to whole percents
        assert p["AllowedCPUs"] == ("ay", bytes([0b10000111]))
        assert p["AllowedMemoryNodes"] == ("ay", b"\x01")

    def test_cpu_quota_unlimited(self):
        assert props({"cpu": {"quota": -1}})["CPUQuotaPerSecUSec"] == ("t", INF)
        assert "CPUQuotaPerSecUSec" not in props({"cpu": {"quota": 0}})

    def test_cpus_many(self):
        assert props({"cpu": {"cpus": "8"}})["AllowedCPUs"] == ("ay", b"\x00\x01")

    def test_pids(self):
        assert props({"pids": {"limit": 50}})["TasksMax"] == ("t", 50)
        assert props({"pids": {"limit": -1}})["TasksMax"] == ("t", INF)
        assert "TasksMax" not in props({"pids": {"limit": 0}})

    def test_io(self):
        p = props(
            {
                "blockIO": {
                    "weight": 500,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 0}],
                }
            }
        )
        assert p["IOWeight"] == ("t", 1 + 490 * 9999 // 990)
        assert p["IODeviceWeight"] == ("a(st)", [("/dev/block/8:0", 1 + 90 * 9999 // 990)])
        assert p["IOReadBandwidthMax"] == ("a(st)", [("/dev/block/8:0", 1048576)])
        assert p["IOWriteIOPSMax"] == ("a(st)", [("/dev/block/8:16", INF)])

    def test_unified(self):
        p = props(
            {
                "unified": {
                    "memory.high": "1000000",
                    "pids.max": "max",
                    "cpu.max": "50000 100000",
                    "io.weight": "default 100",
                }
            }
        )
        assert p["MemoryHigh"] == ("t", 1000000)
        assert p["TasksMax"] == ("t", INF)
        assert p["CPUQuotaPerSecUSec"] == ("t", 500000)
        assert "IOWeight" not in p  # not in runc's table: the file only

    def test_devices_allow_list(self):
        p = props({"devices": [{"allow": False, "access": "rwm"}]})
        assert p["DevicePolicy"] == ("s", "strict")
        allowed = dict(p["DeviceAllow"][-1][1])
        assert allowed["char-*"] == "m" and allowed["block-*"] == "m"
        assert allowed["char-136"] == "rwm"
        assert allowed["/dev/char/1:3"] == "rwm"  # this host has /dev/null

    def test_devices_allow_all(self):
        p = props({"devices": [{"allow": True, "access": "rwm"}]})
        assert p["DevicePolicy"] == ("s", "auto") and p["DeviceAllow"] == ("a(ss)", [])

    def test_devices_deny_list_is_a_temporary_deny_all(self):
        p = props(
            {
                "devices": [
                    {"allow": True, "access": "rwm"},
                    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "w"},
                ]
            }
        )
        assert p["DevicePolicy"] == ("s", "strict") and p["DeviceAllow"] == ("a(ss)", [])

    def test_nothing(self):
        assert sd.resource_properties({}, None) == []
