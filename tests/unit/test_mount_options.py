"""Unit tests for ociruntime.linux.rootfs.parse_options and host_cgroup_mounts.

Pure logic only: nothing is mounted; host_cgroup_mounts is read-only.
"""

from __future__ import annotations

import os

import pytest

from ociruntime.config.default import default_config
from ociruntime.linux import rootfs
from ociruntime.linux import syscalls as sc
from ociruntime.linux.rootfs import host_cgroup_mounts, parse_options


def flags(*opts: str) -> int:
    return parse_options(list(opts))[0]


def prop(*opts: str) -> int:
    return parse_options(list(opts))[1]


def data(*opts: str) -> list[str]:
    return parse_options(list(opts))[2]


# ---- parse_options ------------------------------------------------------------------------


def test_empty():
    assert parse_options([]) == (0, 0, [], False)


def test_constants_are_the_kernel_values():
    assert (sc.MS_RDONLY, sc.MS_NOSUID, sc.MS_NODEV, sc.MS_NOEXEC) == (1, 2, 4, 8)
    assert (sc.MS_BIND, sc.MS_REC) == (4096, 16384)
    assert (sc.MS_NOATIME, sc.MS_NODIRATIME) == (1024, 2048)
    assert (sc.MS_RELATIME, sc.MS_STRICTATIME) == (1 << 21, 1 << 24)
    assert (sc.MS_UNBINDABLE, sc.MS_PRIVATE, sc.MS_SLAVE, sc.MS_SHARED) == (
        1 << 17,
        1 << 18,
        1 << 19,
        1 << 20,
    )


@pytest.mark.parametrize(
    "opt, flag",
    [
        ("ro", sc.MS_RDONLY),
        ("nosuid", sc.MS_NOSUID),
        ("nodev", sc.MS_NODEV),
        ("noexec", sc.MS_NOEXEC),
        ("sync", sc.MS_SYNCHRONOUS),
        ("dirsync", sc.MS_DIRSYNC),
        ("remount", sc.MS_REMOUNT),
        ("mand", sc.MS_MANDLOCK),
        ("noatime", sc.MS_NOATIME),
        ("nodiratime", sc.MS_NODIRATIME),
        ("relatime", sc.MS_RELATIME),
        ("strictatime", sc.MS_STRICTATIME),
        ("lazytime", sc.MS_LAZYTIME),
        ("nosymfollow", sc.MS_NOSYMFOLLOW),
        ("bind", sc.MS_BIND),
        ("rbind", sc.MS_BIND | sc.MS_REC),
    ],
)
def test_setting_flags(opt, flag):
    assert parse_options([opt]) == (flag, 0, [], False)


@pytest.mark.parametrize(
    "clear, flag",
    [
        ("rw", sc.MS_RDONLY),
        ("suid", sc.MS_NOSUID),
        ("dev", sc.MS_NODEV),
        ("exec", sc.MS_NOEXEC),
        ("async", sc.MS_SYNCHRONOUS),
        ("nomand", sc.MS_MANDLOCK),
        ("atime", sc.MS_NOATIME),
        ("diratime", sc.MS_NODIRATIME),
        ("norelatime", sc.MS_RELATIME),
        ("nostrictatime", sc.MS_STRICTATIME),
        ("nolazytime", sc.MS_LAZYTIME),
        ("symfollow", sc.MS_NOSYMFOLLOW),
    ],
)
def test_clearing_flags(clear, flag):
    # alone they set nothing (and are not passed on as fs data) ...
    assert parse_options([clear]) == (0, 0, [], False)
    # ... and after their counterpart they clear it, leaving other flags alone
    everything = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RDONLY | flag
    setting = {
        sc.MS_RDONLY: "ro",
        sc.MS_NOSUID: "nosuid",
        sc.MS_NODEV: "nodev",
        sc.MS_NOEXEC: "noexec",
        sc.MS_SYNCHRONOUS: "sync",
        sc.MS_MANDLOCK: "mand",
        sc.MS_NOATIME: "noatime",
        sc.MS_NODIRATIME: "nodiratime",
        sc.MS_RELATIME: "relatime",
        sc.MS_STRICTATIME: "strictatime",
        sc.MS_LAZYTIME: "lazytime",
        sc.MS_NOSYMFOLLOW: "nosymfollow",
    }[flag]
    got = flags("nosuid", "nodev", "noexec", "ro", setting, clear)
    assert got == everything & ~flag


def test_ro_rw_later_wins():
    assert flags("ro", "rw") == 0
    assert flags("rw", "ro") == sc.MS_RDONLY
    assert flags("ro", "rw", "ro") == sc.MS_RDONLY
    assert flags("rw", "ro", "rw") == 0


def test_suid_dev_exec_later_wins():
    assert flags("nosuid", "suid") == 0
    assert flags("suid", "nosuid") == sc.MS_NOSUID
    assert flags("nodev", "dev", "nodev") == sc.MS_NODEV
    assert flags("noexec", "exec") == 0


def test_atime_family():
    assert flags("noatime") == sc.MS_NOATIME
    assert flags("noatime", "atime") == 0
    assert flags("atime", "noatime") == sc.MS_NOATIME
    assert flags("nodiratime", "diratime") == 0
    assert flags("relatime") == sc.MS_RELATIME
    assert flags("relatime", "norelatime") == 0
    assert flags("strictatime") == sc.MS_STRICTATIME
    assert flags("strictatime", "nostrictatime") == 0
    assert flags("noatime", "nodiratime") == sc.MS_NOATIME | sc.MS_NODIRATIME
    assert flags("lazytime", "noatime") == sc.MS_LAZYTIME | sc.MS_NOATIME


def test_common_combination():
    got = parse_options(["nosuid", "noexec", "nodev", "ro"])
    assert got == (sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_NODEV | sc.MS_RDONLY, 0, [], False)


def test_bind_and_rbind():
    assert flags("bind") == sc.MS_BIND
    assert flags("rbind") == sc.MS_BIND | sc.MS_REC
    assert flags("rbind", "ro") == sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY
    assert flags("bind", "rbind") == sc.MS_BIND | sc.MS_REC
    assert flags("rbind", "nosuid", "nodev") == sc.MS_BIND | sc.MS_REC | sc.MS_NOSUID | sc.MS_NODEV
    # "bind" never reaches the filesystem as data
    assert data("rbind", "bind") == []


@pytest.mark.parametrize(
    "opt, want",
    [
        ("private", sc.MS_PRIVATE),
        ("rprivate", sc.MS_PRIVATE | sc.MS_REC),
        ("shared", sc.MS_SHARED),
        ("rshared", sc.MS_SHARED | sc.MS_REC),
        ("slave", sc.MS_SLAVE),
        ("rslave", sc.MS_SLAVE | sc.MS_REC),
        ("unbindable", sc.MS_UNBINDABLE),
        ("runbindable", sc.MS_UNBINDABLE | sc.MS_REC),
    ],
)
def test_propagation(opt, want):
    assert parse_options([opt]) == (0, want, [], False)


def test_propagation_kept_apart_from_flags():
    f, p, d, r = parse_options(["rbind", "rprivate", "ro"])
    assert f == sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY
    assert p == sc.MS_PRIVATE | sc.MS_REC
    assert (d, r) == ([], False)


def test_propagation_later_wins():
    assert prop("shared", "rprivate") == sc.MS_PRIVATE | sc.MS_REC
    assert prop("rslave", "private") == sc.MS_PRIVATE
    assert prop("rprivate", "rshared", "slave") == sc.MS_SLAVE


def test_data_passed_through_in_order():
    assert data("mode=755", "size=65536k") == ["mode=755", "size=65536k"]
    assert data("size=65536k", "nosuid", "mode=755") == ["size=65536k", "mode=755"]
    got = parse_options(["nosuid", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"])
    assert got == (sc.MS_NOSUID, 0, ["newinstance", "ptmxmode=0666", "mode=0620", "gid=5"], False)


def test_data_unknown_words_are_data():
    assert data("lowerdir=/a:/b", "upperdir=/u", "workdir=/w") == [
        "lowerdir=/a:/b",
        "upperdir=/u",
        "workdir=/w",
    ]
    assert data("xattr", "nsdelegate", "context=system_u:object_r:x:s0") == [
        "xattr",
        "nsdelegate",
        "context=system_u:object_r:x:s0",
    ]


def test_data_duplicates_kept():
    assert data("mode=700", "mode=755") == ["mode=700", "mode=755"]


def test_data_is_case_sensitive():
    # "RO" is not "ro": the kernel's option parsers are case-sensitive too
    assert parse_options(["RO"]) == (0, 0, ["RO"], False)


def test_rro():
    assert parse_options(["rro"]) == (0, 0, [], True)
    assert parse_options(["rbind", "rro"]) == (sc.MS_BIND | sc.MS_REC, 0, [], True)


@pytest.mark.parametrize("opt", ["tmpcopyup", "copy-symlink", "rrw"])
def test_ignored(opt):
    assert parse_options([opt]) == (0, 0, [], False)


@pytest.mark.parametrize("opt", ["idmap", "ridmap"])
def test_idmap_options_are_not_fs_data(opt):
    """idmap/ridmap make the bind idmapped (linux/idmap.py); they never reach mount(2)."""
    assert data(opt) == []


def test_idmap_with_mapping_is_data():
    # "idmap=..." is not the bare option (for a filesystem that knows it)
    assert data("idmap=uids=0-1000-10") == ["idmap=uids=0-1000-10"]


def test_default_config_mounts():
    by_dest = {m["destination"]: m for m in default_config()["mounts"]}
    assert parse_options(by_dest["/dev"]["options"]) == (
        sc.MS_NOSUID | sc.MS_STRICTATIME,
        0,
        ["mode=755", "size=65536k"],
        False,
    )
    assert parse_options(by_dest["/sys"]["options"]) == (
        sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_NODEV | sc.MS_RDONLY,
        0,
        [],
        False,
    )
    assert parse_options(by_dest["/sys/fs/cgroup"]["options"]) == (
        sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_NODEV | sc.MS_RELATIME | sc.MS_RDONLY,
        0,
        [],
        False,
    )
    assert parse_options(by_dest["/dev/shm"]["options"])[2] == ["mode=1777", "size=65536k"]


def test_does_not_modify_input():
    opts = ["ro", "mode=755"]
    parse_options(opts)
    assert opts == ["ro", "mode=755"]


# ---- host_cgroup_mounts on this host (read-only) -----------------------------------------------


def _mountinfo_cgroups() -> list[tuple[str, str, str]]:
    """(mount point, fstype, super options) of cgroup mounts, parsed independently."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            mp, fstype, sopts = fields[4], fields[sep + 1], fields[sep + 3]
            if fstype in ("cgroup", "cgroup2"):
                out.append((mp, fstype, sopts))
    return out


def test_host_entries_are_cgroups():
    entries = host_cgroup_mounts()
    assert isinstance(entries, list)
    for name, fstype, opts in entries:
        assert fstype in ("cgroup", "cgroup2")
        assert name and not name.startswith("/") and ".." not in name.split("/")
        assert os.path.isdir(os.path.join("/sys/fs/cgroup", name))
        if fstype == "cgroup2":
            assert opts is None
        else:
            assert isinstance(opts, str) and opts
            for o in opts.split(","):
                assert o not in ("rw", "ro")
                assert "=" not in o or o.startswith("name=")


def test_host_entries_match_mountinfo():
    want = [
        (mp[len("/sys/fs/cgroup/") :], fstype)
        for mp, fstype, _ in _mountinfo_cgroups()
        if mp.startswith("/sys/fs/cgroup/")
    ]
    got = [(name, fstype) for name, fstype, _ in host_cgroup_mounts()]
    assert got == want


def test_host_v1_controllers_are_kept():
    for name, fstype, opts in host_cgroup_mounts():
        if fstype != "cgroup":
            continue
        (sopts,) = [s for mp, _, s in _mountinfo_cgroups() if mp == "/sys/fs/cgroup/" + name]
        host = set(sopts.split(","))
        assert set(opts.split(",")) <= host
        # every controller (a bare word) and the named hierarchy survive
        for o in host - {"rw", "ro"}:
            if "=" not in o or o.startswith("name="):
                assert o in opts.split(",")


def test_host_unified_v2_has_no_entries():
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("not a cgroup v2-only host")
    assert [e for e in host_cgroup_mounts() if e[1] == "cgroup"] == []


def test_host_does_not_list_the_root():
    assert all(name != "" for name, _, _ in host_cgroup_mounts())


# ---- host_cgroup_mounts on canned mountinfo ------------------------------------------------------

HYBRID = """\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 22 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
33 31 0:30 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpuset,clone_children,release_agent=/sbin/agent
36 31 0:33 / /sys/fs/cgroup/memory ro,relatime - cgroup cgroup ro,memory
37 31 0:34 / /sys/fs/cgroup/net_cls,net_prio rw,relatime master:5 - cgroup cgroup rw,net_cls,net_prio
40 1 0:35 / /mnt/cg rw,relatime - cgroup cgroup rw,pids
41 22 0:36 / /sys/fs/cgroupfoo rw,relatime - cgroup cgroup rw,devices
42 22 0:37 / /sys/fs/cgroup2 rw,relatime - cgroup2 cgroup2 rw
"""

UNIFIED = """\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""


@pytest.fixture
def fake_mountinfo(monkeypatch):
    def use(text: str) -> None:
        real_read = rootfs.os.read_file

        def fake_read(path: str) -> bytes:
            if path == "/proc/self/mountinfo":
                return text.encode()
            return real_read(path)

        monkeypatch.setattr(rootfs.os, "read_file", fake_read)

    return use


def test_canned_hybrid(fake_mountinfo):
    fake_mountinfo(HYBRID)
    assert host_cgroup_mounts() == [
        ("unified", "cgroup2", None),
        ("systemd", "cgroup", "xattr,name=systemd"),
        ("cpu,cpuacct", "cgroup", "cpu,cpuacct"),
        ("cpuset", "cgroup", "cpuset,clone_children"),
        ("memory", "cgroup", "memory"),
        ("net_cls,net_prio", "cgroup", "net_cls,net_prio"),
    ]


def test_canned_unified(fake_mountinfo):
    # cgroup v2 at /sys/fs/cgroup itself is mounted by mount_cgroup directly
    fake_mountinfo(UNIFIED)
    assert host_cgroup_mounts() == []


def test_canned_no_cgroups(fake_mountinfo):
    fake_mountinfo("22 1 0:21 / /sys rw - sysfs sysfs rw\n")
    assert host_cgroup_mounts() == []
