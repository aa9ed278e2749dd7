"""The container's filesystem: default mounts, binds, tmpfs, /dev, masked and
read-only paths, pivot_root and --no-pivot, and symlinks in the rootfs that
try to point a mount at the host.

What the container sees is read from its own /proc/self/mounts or
mountinfo; what the host sees is read from this process's.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
import uuid

import pytest
from conftest import REPO, leftovers, sh, wait_for

CHAR_DEVICES = {
    "null": (1, 3),
    "zero": (1, 5),
    "full": (1, 7),
    "random": (1, 8),
    "urandom": (1, 9),
    "tty": (5, 0),
}


# ---- helpers ----------------------------------------------------------------------


def add_mount(b, destination: str, source: str, options: list[str], type: str = "bind") -> None:
    b.config["mounts"].append(
        {"destination": destination, "type": type, "source": source, "options": options}
    )
    b.save()


def parse_mounts(text: str) -> dict[str, tuple[str, str, set[str]]]:
    """/proc/self/mounts -> {mount point: (source, type, options)}; last one wins."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 4:
            out[f[1]] = (f[0], f[2], set(f[3].split(",")))
    return out


def mounts_in(oci, b, script: str = "") -> dict[str, tuple[str, str, set[str]]]:
    b.config["process"]["args"] = sh(f"{script}cat /proc/self/mounts")
    b.save()
    return parse_mounts(oci.run_out(b))


def mountinfo_fields(text: str) -> dict[str, list[str]]:
    """/proc/PID/mountinfo -> {mount point: optional fields (shared:N, master:N)}."""
    out = {}
    for line in text.splitlines():
        pre = line.split(" - ")[0].split()
        out[pre[4]] = pre[6:]
    return out


def host_mountpoints() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def host_mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def snapshot(path: str) -> dict[str, tuple[int, int, bytes | str]]:
    """Everything under ``path`` (mode, size, content or link target), to
    prove a directory was left alone."""
    out = {}
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                body: bytes | str = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    body = f.read()
            else:
                body = b""
            out[os.path.relpath(p, path)] = (st.st_mode, st.st_size, body)
    return out


def assert_not_mounted_on_host(*paths: str) -> None:
    info = host_mountinfo()
    for p in paths:
        assert p not in info, f"{p} shows up in the host's mountinfo:\n{info}"


# ---- default mounts --------------------------------------------------------------------


def test_default_mounts_types_and_options(oci, bundle):
    m = mounts_in(oci, bundle)
    assert m["/proc"][1] == "proc"

    src, typ, opts = m["/dev"]
    assert typ == "tmpfs"
    assert {"nosuid", "mode=755", "size=65536k"} <= opts, opts
    assert "relatime" not in opts, "strictatime was asked for"

    _, typ, opts = m["/dev/pts"]
    assert typ == "devpts"
    assert {"nosuid", "noexec", "mode=620", "ptmxmode=666", "gid=5"} <= opts, opts

    _, typ, opts = m["/dev/shm"]
    assert typ == "tmpfs"
    assert {"nosuid", "nodev", "noexec", "size=65536k"} <= opts, opts

    _, typ, opts = m["/dev/mqueue"]
    assert typ == "mqueue"
    assert {"nosuid", "nodev", "noexec"} <= opts, opts

    _, typ, opts = m["/sys"]
    assert typ == "sysfs"
    assert {"ro", "nosuid", "nodev", "noexec"} <= opts, opts

    cg = {k: v for k, v in m.items() if k == "/sys/fs/cgroup" or k.startswith("/sys/fs/cgroup/")}
    assert "/sys/fs/cgroup" in cg
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        assert cg["/sys/fs/cgroup"][1] == "cgroup2"
    for dest, (_, typ, opts) in cg.items():
        assert "ro" in opts, f"{dest} ({typ}) is writable: {opts}"
        assert {"nosuid", "nodev", "noexec"} <= opts, (dest, opts)
        assert typ in ("cgroup", "cgroup2", "tmpfs"), (dest, typ)


def test_cgroup_v1_hierarchies_mirror_the_host(oci, bundle):
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("unified cgroup host")
    host = {
        line.split()[4]
        for line in host_mountinfo().splitlines()
        if line.split()[4].startswith("/sys/fs/cgroup/") and " - cgroup" in line
    }
    m = mounts_in(oci, bundle)
    inside = {
        k for k, v in m.items() if k.startswith("/sys/fs/cgroup/") and v[1].startswith("cgroup")
    }
    assert inside == host


def test_shm_mode_and_writable(oci, make_bundle):
    b = make_bundle(sh("stat -c %a /dev/shm; echo x > /dev/shm/f && cat /dev/shm/f"))
    assert oci.run_out(b).split() == ["1777", "x"]


def test_proc_is_the_containers(oci, make_bundle):
    b = make_bundle(sh("readlink /proc/self; readlink /proc/1/exe 2>/dev/null; echo $$"))
    out = oci.run_out(b).split()
    assert out[-1] == "1"
    assert out[0].isdigit() and int(out[0]) < 10, out


def test_sys_is_read_only(oci, make_bundle):
    # lo's mtu in the container's own network namespace: a write that got
    # through would touch nothing of the host's
    b = make_bundle(
        sh(
            "if echo 1500 > /sys/class/net/lo/mtu 2>/dev/null; then echo WROTE; fi; "
            "cat /sys/class/net/lo/mtu; ip link set lo mtu 1400 && cat /sys/class/net/lo/mtu"
        )
    )
    b.add_caps("CAP_NET_ADMIN", "CAP_DAC_OVERRIDE", "CAP_SYS_ADMIN")
    out = oci.run_out(b).split()
    assert "WROTE" not in out, out
    # the control: with these capabilities the same change through netlink works
    assert out[0] != "1500" and out[1] == "1400", out


# ---- bind mounts ---------------------------------------------------------------------------


def test_bind_mount_host_dir(oci, make_bundle, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "hello.txt").write_text("from the host\n")
    b = make_bundle(sh("cat /data/hello.txt; echo new > /data/made-inside"))
    add_mount(b, "/data", str(vol), ["rbind"])
    assert oci.run_out(b) == "from the host\n"
    assert (vol / "made-inside").read_text() == "new\n"


def test_bind_mount_type_bind_without_option(oci, make_bundle, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("typed\n")
    b = make_bundle(sh("cat /typed/f"))
    add_mount(b, "/typed", str(vol), [], type="bind")
    assert oci.run_out(b) == "typed\n"


def test_bind_mount_relative_source_is_bundle_relative(oci, make_bundle):
    b = make_bundle(sh("cat /rel/inner"))
    os.mkdir(os.path.join(b.path, "reldir"))
    with open(os.path.join(b.path, "reldir", "inner"), "w") as f:
        f.write("bundle relative\n")
    add_mount(b, "/rel", "reldir", ["bind"])
    assert oci.run_out(b) == "bundle relative\n"


def test_read_only_bind(oci, make_bundle, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("keep\n")
    b = make_bundle(
        sh(
            "cat /ro/f; if echo x > /ro/new 2>/dev/null; then echo WROTE; fi; "
            "if echo x >> /ro/f 2>/dev/null; then echo APPENDED; fi; grep ' /ro ' /proc/self/mounts"
        )
    )
    add_mount(b, "/ro", str(vol), ["rbind", "ro"])
    out = oci.run_out(b)
    assert out.startswith("keep\n"), out
    assert "WROTE" not in out and "APPENDED" not in out, out
    assert " ro," in out or " ro " in out, out
    assert sorted(os.listdir(vol)) == ["f"]
    assert (vol / "f").read_text() == "keep\n"


def test_nosuid_nodev_noexec_on_bind(oci, make_bundle, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    script = vol / "run.sh"
    script.write_text("#!/bin/sh\necho EXECUTED\n")
    script.chmod(0o755)
    b = make_bundle(sh("grep ' /opts ' /proc/self/mounts; /opts/run.sh 2>&1; echo rc=$?"))
    add_mount(b, "/opts", str(vol), ["bind", "nosuid", "nodev", "noexec"])
    out = oci.run_out(b)
    line = out.splitlines()[0]
    opts = set(line.split()[3].split(","))
    assert {"nosuid", "nodev", "noexec"} <= opts, line
    assert "EXECUTED" not in out, out
    assert "rc=0" not in out, out


def test_bind_without_noexec_can_exec(oci, make_bundle, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    script = vol / "run.sh"
    script.write_text("#!/bin/sh\necho EXECUTED\n")
    script.chmod(0o755)
    b = make_bundle(sh("/opts/run.sh"))
    add_mount(b, "/opts", str(vol), ["bind"])
    assert oci.run_out(b) == "EXECUTED\n"


def test_file_bind_mount(oci, make_bundle, tmp_path):
    f = tmp_path / "foo.conf"
    f.write_text("setting=1\n")
    b = make_bundle(sh("cat /etc/foo; [ -f /etc/foo ] && echo is-file"))
    add_mount(b, "/etc/foo", str(f), ["bind", "ro"])
    assert oci.run_out(b) == "setting=1\nis-file\n"
    # the mount point was created in the rootfs as a file, not a directory
    assert os.path.isfile(os.path.join(b.rootfs, "etc", "foo"))


def test_file_bind_over_existing_file(oci, make_bundle, tmp_path):
    f = tmp_path / "passwd"
    f.write_text("someone:x:1234:1234::/:/bin/sh\n")
    b = make_bundle(sh("cat /etc/passwd"))
    add_mount(b, "/etc/passwd", str(f), ["bind"])
    assert oci.run_out(b) == "someone:x:1234:1234::/:/bin/sh\n"
    with open(os.path.join(b.rootfs, "etc", "passwd")) as fh:
        assert fh.read().startswith("root:"), "the rootfs file itself must not change"


def test_missing_bind_source_fails_cleanly(oci, make_bundle, tmp_path):
    b = make_bundle()
    missing = str(tmp_path / "does-not-exist")
    add_mount(b, "/data", missing, ["bind"])
    cid, r = oci.run_bundle(b)
    assert r.returncode != 0
    assert missing in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert leftovers(oci, b, (cid,)) == []


def test_missing_mount_point_dirs_created(oci, make_bundle, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "x").write_text("deep\n")
    b = make_bundle(sh("cat /a/b/c/x; grep ' /t1/t2/t3 ' /proc/self/mounts"))
    add_mount(b, "/a/b/c", str(vol), ["bind"])
    add_mount(b, "/t1/t2/t3", "tmpfs", [], type="tmpfs")
    out = oci.run_out(b)
    assert out.startswith("deep\n"), out
    assert " tmpfs " in out, out
    assert os.path.isdir(os.path.join(b.rootfs, "a", "b", "c"))
    assert os.path.isdir(os.path.join(b.rootfs, "t1", "t2", "t3"))


def test_host_never_sees_container_mounts(oci, make_bundle, tmp_path):
    vol = tmp_path / "hidden-vol"
    vol.mkdir()
    b = make_bundle(["sleep", "60"])
    add_mount(b, "/vol", str(vol), ["rbind"])
    add_mount(b, "/scratch", "tmpfs", ["size=1m"], type="tmpfs")
    before = host_mountpoints()
    cid = oci.new_id()
    pid = oci.run_detached(b, cid)
    # the container does have them, in its own mount namespace
    with open(f"/proc/{pid}/mountinfo") as f:
        theirs = mountinfo_fields(f.read())
    assert "/vol" in theirs and "/scratch" in theirs and "/proc" in theirs
    info = host_mountinfo()
    for line in info.splitlines():
        f = line.split()
        assert b.path not in line, f"host sees a container mount: {line}"
        assert str(vol) not in f[3] and str(vol) not in f[4], f"host sees the volume: {line}"
    assert host_mountpoints() == before
    oci.ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_rbind_brings_submounts_bind_does_not(oci, make_bundle, tmp_path):
    vol = tmp_path / "vol"
    sub = vol / "sub"
    sub.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(sub)], check=True)
    try:
        (sub / "in-submount").write_text("sub\n")
        b = make_bundle(sh("ls /r/sub; echo --; ls /nr/sub"))
        add_mount(b, "/r", str(vol), ["rbind"])
        add_mount(b, "/nr", str(vol), ["bind"])
        out = oci.run_out(b)
        rec, nonrec = out.split("--\n")
        assert rec.split() == ["in-submount"], out
        assert nonrec.split() == [], out
    finally:
        subprocess.run(["umount", "-l", str(sub)], check=False)


def test_tmpfs_size_and_mode(oci, make_bundle):
    b = make_bundle(
        sh(
            "grep ' /scratch ' /proc/self/mounts; stat -c %a /scratch; "
            "dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>/dev/null && echo FITS; "
            "echo end"
        )
    )
    add_mount(b, "/scratch", "tmpfs", ["nosuid", "nodev", "size=1m", "mode=1770"], type="tmpfs")
    out = oci.run_out(b).splitlines()
    opts = set(out[0].split()[3].split(","))
    assert {"nosuid", "nodev", "size=1024k", "mode=1770"} <= opts, out[0]
    assert out[1] == "1770"
    assert "FITS" not in out, "a 1m tmpfs held 2 MiB"


@pytest.mark.parametrize(
    "prop", ["private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable"]
)
def test_bind_propagation_option_accepted(oci, make_bundle, tmp_path, prop):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("p\n")
    b = make_bundle(sh("cat /p/f; cat /proc/self/mountinfo"))
    add_mount(b, "/p", str(vol), ["rbind", prop])
    out = oci.run_out(b)
    assert out.startswith("p\n"), out
    fields = mountinfo_fields(out.split("\n", 1)[1])
    tags = " ".join(fields["/p"])
    if prop in ("shared", "rshared"):
        assert "shared:" in tags, tags
    elif prop in ("private", "rprivate"):
        assert "shared:" not in tags and "master:" not in tags, tags
    elif prop == "unbindable":
        assert "unbindable" in tags, tags


def test_rslave_volume_receives_later_host_mounts(oci, make_bundle, tmp_path):
    """rootfsPropagation slave + an rslave bind of a shared host mount: what the
    host mounts under it later shows up inside (Kubernetes HostToContainer)."""
    vol = tmp_path / "shared-vol"
    vol.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(vol)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(vol)], check=True)
        b = make_bundle(["sleep", "60"])
        b.config["linux"]["rootfsPropagation"] = "slave"
        add_mount(b, "/hostvol", str(vol), ["rbind", "rslave"])
        cid = oci.new_id()
        pid = oci.run_detached(b, cid)
        late = vol / "late"
        late.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(late)], check=True)
        (late / "marker").write_text("propagated\n")
        inside = f"/proc/{pid}/root/hostvol/late/marker"
        wait_for(lambda: os.path.exists(inside), "the host mount to propagate", 5)
        with open(inside) as f:
            assert f.read() == "propagated\n"
        oci.ok("delete", "--force", cid)
    finally:
        subprocess.run(["umount", "-R", "-l", str(vol)], check=False)


def test_private_volume_does_not_receive_later_host_mounts(oci, make_bundle, tmp_path):
    vol = tmp_path / "shared-vol"
    vol.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(vol)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(vol)], check=True)
        b = make_bundle(["sleep", "60"])
        add_mount(b, "/hostvol", str(vol), ["rbind", "rprivate"])
        cid = oci.new_id()
        pid = oci.run_detached(b, cid)
        late = vol / "late"
        late.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(late)], check=True)
        (late / "marker").write_text("propagated\n")
        time.sleep(0.2)
        assert os.path.isdir(f"/proc/{pid}/root/hostvol/late")
        assert not os.path.exists(f"/proc/{pid}/root/hostvol/late/marker")
        oci.ok("delete", "--force", cid)
    finally:
        subprocess.run(["umount", "-R", "-l", str(vol)], check=False)


@pytest.mark.parametrize("prop", ["slave", "private", "shared", "unbindable"])
def test_rootfs_propagation_accepted(oci, make_bundle, prop):
    b = make_bundle(sh("cat /proc/self/mountinfo"))
    b.config["linux"]["rootfsPropagation"] = prop
    b.save()
    fields = mountinfo_fields(oci.run_out(b))
    tags = " ".join(fields["/"])
    if prop == "private":
        assert "shared:" not in tags and "master:" not in tags, tags
    elif prop == "shared":
        assert "shared:" in tags, tags
    elif prop == "unbindable":
        assert "unbindable" in tags, tags


@pytest.mark.parametrize("prop", ["rslave", "rprivate", "rshared"])
def test_rootfs_propagation_recursive_forms_accepted_like_runc(oci, make_bundle, prop):
    """The spec's schema lists only the four plain words, but runc accepts the
    r-forms and containerd's CRI writes "rslave" / "rshared" (HostToContainer
    and Bidirectional mount propagation): a drop-in runtime must take them."""
    b = make_bundle(sh("cat /proc/self/mountinfo"))
    b.config["linux"]["rootfsPropagation"] = prop
    b.save()
    fields = mountinfo_fields(oci.run_out(b))
    tags = " ".join(fields["/"])
    if prop == "rprivate":
        assert "shared:" not in tags and "master:" not in tags, tags
    elif prop == "rshared":
        assert "shared:" in tags, tags


# ---- the root filesystem ------------------------------------------------------------------


def test_readonly_root(oci, make_bundle):
    b = make_bundle(
        sh(
            "if touch /x 2>/dev/null; then echo WROTE; fi; grep ' / ' /proc/self/mounts; "
            "echo ok > /dev/shm/y && cat /dev/shm/y"
        )
    )
    b.config["root"]["readonly"] = True
    b.save()
    out = oci.run_out(b)
    assert "WROTE" not in out, out
    root_line = out.splitlines()[0]
    assert "ro" in root_line.split()[3].split(","), root_line
    assert out.splitlines()[-1] == "ok", "mounts on top of a read-only root stay writable"
    assert not os.path.exists(os.path.join(b.rootfs, "x"))


def test_writable_root(oci, make_bundle):
    b = make_bundle(sh("touch /x && echo WROTE"))
    b.config["root"]["readonly"] = False
    b.save()
    assert oci.run_out(b) == "WROTE\n"
    assert os.path.exists(os.path.join(b.rootfs, "x"))


def test_readonly_root_does_not_touch_host_mount(oci, make_bundle):
    """Read-only inside (the container cannot write its root) while the host's
    view of the same directory stays writable."""
    b = make_bundle(sh("touch /probe 2>/dev/null && echo WROTE; echo done"))
    b.config["root"]["readonly"] = True
    b.save()
    assert oci.run_out(b) == "done\n"
    assert not os.path.exists(os.path.join(b.rootfs, "probe"))
    # the host's view of the bundle stays writable
    probe = os.path.join(b.rootfs, "probe")
    with open(probe, "w") as f:
        f.write("x")
    os.unlink(probe)


@pytest.mark.parametrize(
    "where,what",
    [
        ("proc", "symlink-inside"),
        ("proc", "symlink-to-host"),
        ("sys", "symlink-inside"),
        ("sys", "file"),
    ],
)
def test_proc_or_sys_that_is_not_a_plain_directory_is_refused(
    oci, make_bundle, hostdir, where, what
):
    """A rootfs whose /proc or /sys is a symlink (or a file) is refused, as runc
    refuses it ("must be mounted on ordinary directory", the CVE-2019-16884
    family): one line naming the mount, nothing left behind, nothing mounted
    where the symlink leads."""
    b = make_bundle(["true"])
    path = os.path.join(b.rootfs, where)
    os.rmdir(path)
    if what == "symlink-inside":
        os.mkdir(os.path.join(b.rootfs, "elsewhere"))
        os.symlink("/elsewhere", path)
    elif what == "symlink-to-host":
        os.symlink(str(hostdir), path)
    else:
        with open(path, "w") as f:
            f.write("not a directory\n")
    before = snapshot(str(hostdir))
    n = next(i for i, m in enumerate(b.config["mounts"]) if m["destination"] == f"/{where}")
    oci.create_fails(b, f"config.json: /mounts/{n}", "must be mounted on ordinary directory")
    assert snapshot(str(hostdir)) == before
    if what == "symlink-inside":
        assert os.listdir(os.path.join(b.rootfs, "elsewhere")) == []


def test_pivot_root_hides_host_root(oci, make_bundle):
    b = make_bundle(sh("ls /; echo --; cat /proc/self/mountinfo"))
    listing, info = oci.run_out(b).split("--\n")
    assert sorted(listing.split()) == sorted(os.listdir(b.rootfs)), listing
    points = list(mountinfo_fields(info))
    assert points[0] == "/", info
    assert all(p == "/" or p.startswith(("/proc", "/dev", "/sys")) for p in points), points
    # (field 4, the mount's root inside its filesystem, does name the bundle)
    assert all(b.path not in p for p in points), "the old root is still mounted"


def test_no_pivot(oci, make_bundle):
    b = make_bundle(sh("echo $$; ls /; hostname; cat /etc/passwd | head -1"))
    out = oci.run_out(b, "--no-pivot").split()
    assert out[0] == "1"
    assert "bin" in out and "proc" in out and "usr" not in out, out
    assert "ociruntime" in out
    assert "root:x:0:0:root:/root:/bin/sh" in out


def test_no_pivot_host_unaffected(oci, make_bundle, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    b = make_bundle(["sleep", "60"])
    add_mount(b, "/vol", str(vol), ["bind"])
    before = host_mountpoints()
    cid = oci.new_id()
    pid = oci.run_detached(b, cid, "--no-pivot")
    assert os.readlink(f"/proc/{pid}/root") == b.rootfs or os.path.exists(
        f"/proc/{pid}/root/bin/busybox"
    )
    assert host_mountpoints() == before
    oci.ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


@pytest.fixture(scope="module")
def nestedproc(tmp_path_factory) -> str:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the probe (make deps installs it)")
    out = str(tmp_path_factory.mktemp("probe") / "nestedproc")
    src = os.path.join(REPO, "tests", "integration", "probes", "nestedproc.c")
    subprocess.run(["gcc", "-static", "-O2", "-o", out, src], check=True)
    return out


def test_no_pivot_nested_procfs_is_refused_as_under_pivot_root(
    oci, make_bundle, nestedproc, tmp_path
):
    """mount_too_revealing lets a user namespace mount procfs only while a fully
    visible one is in its mount namespace.  --no-pivot moves the rootfs over
    the old root instead of detaching it, so the host's /proc stayed beneath:
    runc's msMoveRoot unmounts it first, and so do we."""
    r = subprocess.run([nestedproc, str(tmp_path)], capture_output=True, text=True)
    assert r.stdout == "mounted\n", "control: on the host, with its /proc, the probe mounts"
    b = make_bundle(["/nestedproc", "/mnt"])
    shutil.copy(nestedproc, os.path.join(b.rootfs, "nestedproc"))
    os.makedirs(os.path.join(b.rootfs, "mnt"), exist_ok=True)
    assert oci.run_out(b).startswith("refused"), "control: under pivot_root"
    out = oci.run_out(b, "--no-pivot")
    assert out.startswith("refused"), out


BENEATH_THE_ROOT = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def ok(r, what):
    if r < 0:
        sys.exit(f"{what}: {os.strerror(ctypes.get_errno())}")
host_proc = os.open("/proc", os.O_DIRECTORY)
ok(libc.setns(os.open(f"/proc/{sys.argv[1]}/ns/mnt", os.O_RDONLY), 0x20000), "setns")
ok(libc.unshare(0x20000), "unshare")  # a copy: the container's namespace is left alone
ok(libc.mount(None, b"/", None, 0x4000 | 0x40000, None), "rprivate")
ok(libc.umount2(b"/", 2), "umount /")  # the container's root, moved over the old one
ok(libc.setns(os.open("self/ns/mnt", os.O_RDONLY, dir_fd=host_proc), 0x20000), "setns")
print(os.path.exists("/proc/self/status"), os.path.exists("/sys/kernel"))
"""


def test_no_pivot_leaves_no_host_proc_or_sys_beneath_the_root(oci, make_bundle):
    """What lies beneath a --no-pivot container's root (its mount namespace,
    less the rootfs moved over the old root) holds no procfs or sysfs of the
    host's: runc unmounts them before the move."""
    b = make_bundle(["sleep", "60"])
    cid = oci.new_id()
    pid = oci.run_detached(b, cid, "--no-pivot")
    r = subprocess.run(
        [sys.executable, "-c", BENEATH_THE_ROOT, str(pid)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"], "the host's /proc and /sys are there"
    oci.ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


# ---- masked and read-only paths ---------------------------------------------------------------


def test_masked_files_read_empty(oci, make_bundle):
    b = make_bundle(sh('for f in /proc/timer_list /proc/keys; do echo "$f:$(wc -c < $f)"; done'))
    assert "/proc/timer_list" in b.config["linux"]["maskedPaths"]
    out = oci.run_out(b).split()
    assert out == ["/proc/timer_list:0", "/proc/keys:0"], out


def test_unmasked_file_is_not_empty(oci, make_bundle):
    # the control for the test above: these files do have content on this host
    b = make_bundle(sh("wc -c < /proc/timer_list"))
    b.config["linux"]["maskedPaths"] = []
    b.save()
    assert int(oci.run_out(b)) > 0


def test_masked_dir_is_empty_readonly_tmpfs(oci, make_bundle):
    b = make_bundle(
        sh(
            "ls -A /proc/acpi /sys/firmware; echo --; "
            "grep -E ' /proc/acpi | /sys/firmware ' /proc/self/mounts; "
            "if touch /sys/firmware/x 2>/dev/null; then echo WROTE; fi"
        )
    )
    b.add_caps("CAP_DAC_OVERRIDE")
    out = oci.run_out(b)
    listing, mounts = out.split("--\n")
    assert listing.split() == ["/proc/acpi:", "/sys/firmware:"], listing
    m = parse_mounts(mounts)
    for p in ("/proc/acpi", "/sys/firmware"):
        if os.path.exists(p):
            assert m[p][1] == "tmpfs", m
            assert "ro" in m[p][2], m
    assert "WROTE" not in out


def test_masked_paths_in_rootfs(oci, make_bundle):
    b = make_bundle(sh("cat /etc/secret; ls -A /private; echo end"))
    with open(os.path.join(b.rootfs, "etc", "secret"), "w") as f:
        f.write("top secret\n")
    os.makedirs(os.path.join(b.rootfs, "private"))
    with open(os.path.join(b.rootfs, "private", "key"), "w") as f:
        f.write("k\n")
    b.config["linux"]["maskedPaths"] = ["/etc/secret", "/private", "/does/not/exist"]
    b.save()
    assert oci.run_out(b) == "end\n"


def test_readonly_proc_sys(oci, make_bundle):
    # /proc/sys/kernel/hostname belongs to the container's uts namespace: a
    # write that got through would be harmless to the host
    b = make_bundle(
        sh(
            "if echo changed > /proc/sys/kernel/hostname 2>/dev/null; then echo WROTE; fi; "
            "hostname; grep ' /proc/sys ' /proc/self/mounts"
        )
    )
    b.add_caps("CAP_SYS_ADMIN")
    out = oci.run_out(b).splitlines()
    assert "WROTE" not in out, out
    assert out[0] == "ociruntime"
    assert "ro" in out[1].split()[3].split(","), out[1]


def test_proc_sys_writable_without_readonly_paths(oci, make_bundle):
    # the control: with CAP_SYS_ADMIN and no readonlyPaths the same write works
    b = make_bundle(sh("echo changed > /proc/sys/kernel/hostname && hostname"))
    b.config["linux"]["readonlyPaths"] = []
    b.save()
    b.add_caps("CAP_SYS_ADMIN")
    assert oci.run_out(b) == "changed\n"


def test_readonly_paths_in_rootfs(oci, make_bundle):
    b = make_bundle(
        sh(
            "if touch /data/new 2>/dev/null; then echo WROTE; fi; "
            "if echo x >> /etc/conf 2>/dev/null; then echo APPENDED; fi; "
            "cat /data/old /etc/conf; touch /other && echo other-ok"
        )
    )
    os.makedirs(os.path.join(b.rootfs, "data"))
    with open(os.path.join(b.rootfs, "data", "old"), "w") as f:
        f.write("old\n")
    with open(os.path.join(b.rootfs, "etc", "conf"), "w") as f:
        f.write("conf\n")
    b.config["linux"]["readonlyPaths"] = ["/data", "/etc/conf", "/missing/ro"]
    b.save()
    out = oci.run_out(b).split()
    assert "WROTE" not in out and "APPENDED" not in out, out
    assert out == ["old", "conf", "other-ok"], out


# ---- /dev -------------------------------------------------------------------------------------------


def test_dev_char_devices(oci, make_bundle):
    names = " ".join(f"/dev/{n}" for n in CHAR_DEVICES)
    b = make_bundle(sh(f"stat -c '%n|%F|%t:%T|%a|%u:%g' {names}"))
    out = oci.run_out(b).splitlines()
    assert len(out) == len(CHAR_DEVICES), out
    for line in out:
        name, kind, majmin, mode, owner = line.split("|")
        major, minor = (int(x, 16) for x in majmin.split(":"))
        assert kind == "character special file", line
        assert (major, minor) == CHAR_DEVICES[name.rsplit("/", 1)[1]], line
        assert mode == "666", line
        assert owner == "0:0", line


def test_dev_devices_work(oci, make_bundle):
    b = make_bundle(
        sh(
            "echo gone > /dev/null && echo null-ok; "
            "head -c 4 /dev/zero | od -An -tx1; "
            "head -c 16 /dev/urandom | wc -c; "
            "echo x > /dev/full 2>/dev/null || echo full-ok"
        )
    )
    out = oci.run_out(b).split()
    assert out == ["null-ok", "00", "00", "00", "00", "16", "full-ok"], out


def test_dev_symlinks(oci, make_bundle):
    links = ("fd", "stdin", "stdout", "stderr", "ptmx")
    b = make_bundle(sh("; ".join(f"echo {n}=$(readlink /dev/{n})" for n in links)))
    got = dict(line.split("=", 1) for line in oci.run_out(b).splitlines())
    assert got == {
        "fd": "/proc/self/fd",
        "stdin": "/proc/self/fd/0",
        "stdout": "/proc/self/fd/1",
        "stderr": "/proc/self/fd/2",
        "ptmx": "pts/ptmx",
    }


def test_dev_fd_resolves(oci, make_bundle):
    b = make_bundle(sh("echo via-dev-stdout > /dev/stdout; ls /dev/fd/ | sort | head -3"))
    out = oci.run_out(b).split()
    assert out[0] == "via-dev-stdout"
    assert out[1:] == ["0", "1", "2"], out


def test_dev_has_nothing_from_the_host(oci, make_bundle):
    b = make_bundle(sh("ls -A /dev"))
    got = set(oci.run_out(b).split())
    expected = set(CHAR_DEVICES) | {
        "fd",
        "stdin",
        "stdout",
        "stderr",
        "ptmx",
        "pts",
        "shm",
        "mqueue",
    }
    assert expected <= got, expected - got
    # runc adds /dev/core -> /proc/kcore where the kernel has one
    assert got - expected <= {"core"}, got - expected


def test_linux_devices_entry(oci, make_bundle):
    b = make_bundle(
        sh(
            "stat -c '%n|%F|%t:%T|%a|%u:%g' /dev/mynull /dev/sub/owned; "
            "echo x > /dev/mynull && echo write-ok"
        )
    )
    b.config["linux"]["devices"] = [
        {
            "path": "/dev/mynull",
            "type": "c",
            "major": 1,
            "minor": 3,
            "fileMode": 0o600,
            "uid": 0,
            "gid": 0,
        },
        {
            "path": "/dev/sub/owned",
            "type": "c",
            "major": 1,
            "minor": 5,
            "fileMode": 0o640,
            "uid": 1000,
            "gid": 1001,
        },
    ]
    b.config["linux"].setdefault("resources", {})["devices"] = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    ]
    b.save()
    out = oci.run_out(b).splitlines()
    assert out[0] == "/dev/mynull|character special file|1:3|600|0:0", out
    assert out[1] == "/dev/sub/owned|character special file|1:5|640|1000:1001", out
    assert out[2] == "write-ok"


def test_linux_devices_fifo_and_block(oci, make_bundle):
    b = make_bundle(sh("stat -c '%n|%F|%a' /dev/myfifo; stat -c '%n|%F|%t:%T' /dev/myblk"))
    b.config["linux"]["devices"] = [
        {"path": "/dev/myfifo", "type": "p", "fileMode": 0o620},
        {"path": "/dev/myblk", "type": "b", "major": 7, "minor": 200, "fileMode": 0o600},
    ]
    b.save()
    out = oci.run_out(b).splitlines()
    assert out[0] == "/dev/myfifo|fifo|620", out
    assert out[1] == "/dev/myblk|block special file|7:c8", out


def test_linux_devices_anywhere_in_the_rootfs(oci, make_bundle):
    """The spec's devices[].path is the full path in the container, not one
    under /dev (runc and crun make the node wherever it says)."""
    b = make_bundle(
        sh(
            "stat -c '%n|%F|%t:%T|%a|%u:%g' /opt/sub/mynull /mydev; "
            "echo x > /opt/sub/mynull && echo write-ok"
        )
    )
    b.config["linux"]["devices"] = [
        {"path": "/opt/sub/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666},
        {"path": "/mydev", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640, "uid": 7},
    ]
    b.config["linux"].setdefault("resources", {})["devices"] = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    ]
    b.save()
    out = oci.run_out(b).splitlines()
    assert out == [
        "/opt/sub/mynull|character special file|1:3|666|0:0",
        "/mydev|character special file|1:5|640|7:0",
        "write-ok",
    ], out


def test_read_only_dev_keeps_the_mounts_beneath_it(oci, make_bundle):
    """A read-only /dev tmpfs still gets devpts, shm, mqueue, the device nodes
    and links beneath it: runc mounts it writable and makes it read-only last."""
    b = make_bundle(
        sh(
            "if touch /dev/new 2>/dev/null; then echo WROTE; fi; "
            "grep -E ' /dev(/pts|/shm|/mqueue)? ' /proc/self/mounts; "
            "echo x > /dev/null && echo null-ok; echo y > /dev/shm/f && cat /dev/shm/f; "
            "readlink /dev/ptmx"
        )
    )
    dev = next(m for m in b.config["mounts"] if m["destination"] == "/dev")
    dev["options"].append("ro")
    b.save()
    out = oci.run_out(b).splitlines()
    assert "WROTE" not in out, out
    m = parse_mounts("\n".join(out[:4]))
    assert set(m) == {"/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"}, out
    assert "ro" in m["/dev"][2], m["/dev"]
    assert out[4:] == ["null-ok", "y", "pts/ptmx"], out


# ---- symlinks in the rootfs must not lead mounts out of it -------------------------------------


@pytest.fixture
def hostdir(tmp_path):
    d = tmp_path / f"host-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    (d / "canary").write_text("untouched\n")
    return d


def test_symlink_to_root_keeps_mount_inside(oci, make_bundle, tmp_path):
    name = f"ocirt-escape-{uuid.uuid4().hex[:10]}"
    assert not os.path.exists(f"/{name}")
    b = make_bundle(sh(f"grep ' /{name} ' /proc/self/mounts; ls -A /{name}"))
    os.symlink("/", os.path.join(b.rootfs, "evil"))
    add_mount(b, f"/evil/{name}", "tmpfs", ["size=1m"], type="tmpfs")
    out = oci.run_out(b)
    assert " tmpfs " in out, out
    assert not os.path.exists(f"/{name}"), "a mount point was created in the host's /"
    assert os.path.isdir(os.path.join(b.rootfs, name))
    assert_not_mounted_on_host(f"/{name}")


def run_checking_host(oci, b, hostdir, before, *host_paths: str):
    """Run; check the host first (whatever the outcome), then return the result."""
    cid = oci.new_id()
    r = oci("run", "-b", b.path, cid)
    assert snapshot(str(hostdir)) == before, f"the host directory changed\n{r.stderr}"
    assert (hostdir / "canary").read_text() == "untouched\n"
    assert_not_mounted_on_host(*host_paths)
    if r.returncode != 0:
        assert leftovers(oci, b, (cid,)) == []
    return r


def in_rootfs(b, host_path) -> str:
    """Where an absolute host path lands when resolved inside the rootfs."""
    return os.path.join(b.rootfs, str(host_path).lstrip("/"))


@pytest.mark.parametrize("target_exists_inside", [True, False], ids=["present", "dangling"])
def test_relative_symlink_climbing_out_stays_inside(
    oci, make_bundle, hostdir, target_exists_inside
):
    """/evil -> ../../../../<host dir>: ".." stops at the container's root, so
    the mounts land in <rootfs>/<host dir>/... (runc's SecureJoin creates
    the missing directories there)."""
    before = snapshot(str(hostdir))
    b = make_bundle(sh("cat /proc/self/mounts; ls /evil/bound"))
    os.symlink("../" * 20 + str(hostdir).lstrip("/"), os.path.join(b.rootfs, "evil"))
    if target_exists_inside:
        os.makedirs(in_rootfs(b, hostdir))
    vol = hostdir.parent / "vol"
    vol.mkdir()
    (vol / "v").write_text("v\n")
    add_mount(b, "/evil/sub", "tmpfs", ["size=1m"], type="tmpfs")
    add_mount(b, "/evil/bound", str(vol), ["bind"])
    r = run_checking_host(oci, b, hostdir, before, f"{hostdir}/sub", f"{hostdir}/bound")
    assert r.returncode == 0, r.stderr
    m = parse_mounts(r.stdout)
    assert f"{hostdir}/sub" in m and f"{hostdir}/bound" in m, r.stdout
    assert r.stdout.endswith("v\n"), r.stdout
    assert os.path.isdir(os.path.join(in_rootfs(b, hostdir), "sub"))
    assert os.path.isdir(os.path.join(in_rootfs(b, hostdir), "bound"))


@pytest.mark.parametrize("target_exists_inside", [True, False], ids=["present", "dangling"])
def test_absolute_symlinked_parent_stays_inside(oci, make_bundle, hostdir, target_exists_inside):
    """/link -> /<host dir> (absolute): resolved against the container's root."""
    before = snapshot(str(hostdir))
    b = make_bundle(sh("cat /proc/self/mounts; cat /link/canary"))
    os.symlink(str(hostdir), os.path.join(b.rootfs, "link"))
    if target_exists_inside:
        os.makedirs(in_rootfs(b, hostdir))
    vol = hostdir.parent / "vol"
    vol.mkdir()
    f = hostdir.parent / "file"
    f.write_text("bound file\n")
    add_mount(b, "/link/a/b", "tmpfs", ["size=1m"], type="tmpfs")
    add_mount(b, "/link/vol", str(vol), ["rbind"])
    add_mount(b, "/link/canary", str(f), ["bind"])
    r = run_checking_host(
        oci, b, hostdir, before, f"{hostdir}/a", f"{hostdir}/vol", f"{hostdir}/canary"
    )
    assert r.returncode == 0, r.stderr
    m = parse_mounts(r.stdout)
    assert f"{hostdir}/a/b" in m and f"{hostdir}/vol" in m and f"{hostdir}/canary" in m, r.stdout
    assert r.stdout.endswith("bound file\n"), r.stdout
    assert os.path.isfile(os.path.join(in_rootfs(b, hostdir), "canary"))


@pytest.mark.parametrize("target_exists_inside", [True, False], ids=["present", "dangling"])
def test_symlinked_mount_point_file_stays_inside(oci, make_bundle, hostdir, target_exists_inside):
    """The last component a symlink to a host file: the bind lands on the
    in-root target, never on the host's file."""
    before = snapshot(str(hostdir))
    src = hostdir.parent / "payload"
    src.write_text("payload\n")
    b = make_bundle(sh("cat /etc/target"))
    os.symlink(str(hostdir / "canary"), os.path.join(b.rootfs, "etc", "target"))
    if target_exists_inside:
        os.makedirs(in_rootfs(b, hostdir))
        with open(in_rootfs(b, hostdir / "canary"), "w") as fh:
            fh.write("inside\n")
    add_mount(b, "/etc/target", str(src), ["bind"])
    r = run_checking_host(oci, b, hostdir, before, str(hostdir / "canary"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "payload\n", r.stdout
    assert os.path.isfile(in_rootfs(b, hostdir / "canary"))


def test_symlink_into_proc_as_destination_stays_inside(oci, make_bundle, hostdir):
    """A symlink through /proc/self/root (a magic link) must not reach the host."""
    before = snapshot(str(hostdir))
    b = make_bundle(sh("true"))
    os.symlink(f"/proc/self/root{hostdir}", os.path.join(b.rootfs, "magic"))
    add_mount(b, "/magic/sub", "tmpfs", ["size=1m"], type="tmpfs")
    cid = oci.new_id()
    r = oci("run", "-b", b.path, cid)
    # failing is fine (runc refuses magic links); escaping is not
    assert snapshot(str(hostdir)) == before
    assert_not_mounted_on_host(f"{hostdir}/sub")
    if r.returncode != 0:
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert leftovers(oci, b, (cid,)) == []


def test_masked_path_through_symlink_stays_inside(oci, make_bundle, hostdir):
    before = snapshot(str(hostdir))
    b = make_bundle(sh("ls -A /link; cat /link/canary; echo end"))
    os.symlink(str(hostdir), os.path.join(b.rootfs, "link"))
    b.config["linux"]["maskedPaths"] = ["/link"]
    b.config["linux"]["readonlyPaths"] = ["/link/canary"]
    b.save()
    out = oci.run_out(b)
    assert "untouched" not in out, "the host directory was reachable inside"
    assert snapshot(str(hostdir)) == before
    assert_not_mounted_on_host(str(hostdir))


def test_device_path_through_symlink_stays_inside(oci, make_bundle, hostdir):
    before = snapshot(str(hostdir))
    b = make_bundle(sh("true"))
    # a mount on /dev replaces the rootfs /dev, so the symlink goes in via a tmpfs-free path
    b.config["mounts"] = [m for m in b.config["mounts"] if not m["destination"].startswith("/dev")]
    os.symlink(str(hostdir), os.path.join(b.rootfs, "dev", "evil"))
    b.config["linux"]["devices"] = [
        {"path": "/dev/evil/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}
    ]
    b.save()
    cid = oci.new_id()
    oci("run", "-b", b.path, cid)
    assert snapshot(str(hostdir)) == before, "a device node was created on the host"


def _idmapped_bind(b, src: str, mappings: bool = True, opts=("bind",)) -> None:
    m = {"destination": "/data", "type": "bind", "source": src, "options": list(opts)}
    if mappings:
        m["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
        m["gidMappings"] = [{"containerID": 0, "hostID": 2000, "size": 1}]
    b.config["mounts"].append(m)
    b.save()


def test_idmapped_bind_mount(oci, make_bundle, tmp_path):
    """mounts[].uidMappings: files owned by 0:0 on disk show as 1000:2000 through the
    mount (the kernel's idmapped mounts); the host's view is unchanged."""
    src = tmp_path / "idsrc"
    src.mkdir()
    (src / "f").write_text("x")
    os.chown(src / "f", 0, 0)
    b = make_bundle(["sh", "-c", "stat -c '%u %g' /data/f; grep ' /data ' /proc/self/mountinfo"])
    _idmapped_bind(b, str(src))
    out = oci.run_out(b).splitlines()
    assert out[0] == "1000 2000"
    assert "idmapped" in out[1]
    st = os.stat(src / "f")
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_idmap_option_uses_the_container_user_namespace(oci, make_bundle, tmp_path):
    src = tmp_path / "idsrc2"
    src.mkdir()
    (src / "f").write_text("x")
    b = make_bundle(["sh", "-c", "stat -c '%u' /data/f; id -u"])
    d = b.path
    while d not in ("/", "/tmp"):
        os.chmod(d, os.stat(d).st_mode | 0o011)
        d = os.path.dirname(d)
    os.chmod(tmp_path, 0o755)
    b.config["linux"]["namespaces"].append({"type": "user"})
    b.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    b.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    os.mkdir(
        os.path.join(b.rootfs, "data")
    )  # the mapped root cannot create it in a root-owned rootfs
    _idmapped_bind(b, str(src), mappings=False, opts=("bind", "idmap"))
    # root-owned on disk, so the container's root (host 100000) owns it in the mount
    assert oci.run_out(b).splitlines() == ["0", "0"]


def test_idmap_on_a_non_bind_mount_is_refused(oci, make_bundle):
    b = make_bundle(["true"])
    b.config["mounts"].append(
        {
            "destination": "/x",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
        }
    )
    b.save()
    n = len(b.config["mounts"]) - 1
    oci.create_fails(b, f"config.json: /mounts/{n}", "idmapped mounts must be bind mounts")


# ---- mounts made in the caller's namespace (no mount namespace: linux/hostmounts.py) ----


def test_host_mounts_undo_detaches_only_the_mount_it_recorded(tmp_path):
    """delete detaches a recorded mount only while the same mount (its id) is
    at the recorded place: one somebody made there since is not ours."""
    from ociruntime.linux import hostmounts

    top = tmp_path / "rootfs"
    (top / "t").mkdir(parents=True)
    point = str(top / "t")
    subprocess.run(["mount", "-t", "tmpfs", "ours", point], check=True)
    before: dict = {}
    made = hostmounts.new_since(str(top), before)
    assert [m[1] for m in made] == [point]
    subprocess.run(["umount", point], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "theirs", point], check=True)
    try:
        hostmounts.undo(made, str(top))
        assert [m[0] for m in hostmounts.under(str(top)).values()] == [point]  # theirs stays
        hostmounts.undo(hostmounts.new_since(str(top), before), str(top))
        assert hostmounts.under(str(top)) == {}
        hostmounts.undo([["junk"], [1, 2], "x"], str(top))  # a damaged record: nothing done
        hostmounts.undo(7, str(top))
    finally:
        subprocess.run(["umount", point], capture_output=True)


def test_host_mounts_unescapes_mount_points(tmp_path):
    from ociruntime.linux import hostmounts

    point = tmp_path / "a b\\c"
    point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "x", str(point)], check=True)
    try:
        assert [m[0] for m in hostmounts.under(str(tmp_path)).values()] == [str(point)]
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_host_mounts_made_elsewhere_under_the_rootfs_are_not_taken(tmp_path):
    """A rootfs that holds other places (``/``, say): only mounts at or below
    the config's destinations count as the container's."""
    from ociruntime.linux import hostmounts

    top = tmp_path / "rootfs"
    for d in ("t", "other"):
        (top / d).mkdir(parents=True)
    before = hostmounts.under(str(top))
    for d in ("t", "other"):
        subprocess.run(["mount", "-t", "tmpfs", d, str(top / d)], check=True)
    try:
        made = hostmounts.new_since(str(top), before, ["/t/"])
        assert [m[1] for m in made] == [str(top / "t")]
    finally:
        for d in ("t", "other"):
            subprocess.run(["umount", str(top / d)], capture_output=True)
