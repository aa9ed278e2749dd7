"""Everything a user can get wrong fails cleanly.

Each case checks the three things callers rely on: a non-zero exit status,
exactly one line on stderr of the form ``ociruntime: ...`` (no traceback,
no "internal error"), and nothing left behind (``leftovers`` is empty: no
state directory, no host mount, no process).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from conftest import (
    ERROR_PREFIX,
    assert_clean_failure,
    assert_one_line_error,
    leftovers,
    stop,
    wait_for,
)

LOOP = ["sh", "-c", "while :; do sleep 0.1; done"]


# ---- config.json -------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"ociVersion": "1.2.0", "process": ',
        "{nope",
        '{"ociVersion": "1.2.0",}',
        '{"ociVersion" "1.2.0"}',
        "[1 2]",
        '{"ociVersion": "1.2.0"} trailing',
        "",
        "\xff\xfe",
    ],
    ids=repr,
)
def test_malformed_json(oci, bundle, text):
    with open(os.path.join(bundle.path, "config.json"), "w", encoding="latin-1") as f:
        f.write(text)
    msg = oci.create_fails(bundle, "config.json")
    assert "JSON" in msg


def test_config_json_missing(oci, bundle):
    os.unlink(os.path.join(bundle.path, "config.json"))
    oci.create_fails(bundle, "config.json", "no such file or directory")


def _limit_memory():
    """preexec_fn: a runtime that reads without bound fails at 1 GiB, not at the host's end."""
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("kind", ["/dev/zero", "/dev/urandom", "fifo", "oversized", "loop"])
def test_config_json_not_a_small_regular_file(oci, bundle, kind):
    """A config.json that never ends (a symlink to a device, a FIFO nobody
    writes to) or is beyond any real config's size fails at once: runc reads
    /dev/zero until it runs out of memory.  A symlink loop (issue 18)."""
    path = os.path.join(bundle.path, "config.json")
    os.unlink(path)
    if kind == "loop":
        os.symlink("config.json", path)
        needle = "too many levels of symbolic links"
    elif kind == "fifo":
        os.mkfifo(path)
        needle = "not a regular file"
    elif kind == "oversized":
        with open(path, "wb") as f:
            f.truncate(64 << 20)  # sparse: no disk space, and the size alone refuses it
        needle = "larger than 16 MiB"
    else:
        os.symlink(kind, path)
        needle = "not a regular file"
    cid = oci.new_id()
    r = oci.cli("create", "--bundle", bundle.path, cid, timeout=20, preexec_fn=_limit_memory)
    assert_clean_failure(oci, bundle, cid, r, "config.json", needle)


@pytest.mark.parametrize(
    "ptr",
    ["/linux/cgroupsPath", "/mounts/0/destination", "/process/env/0", "/linux/sysctl/net.a"],
)
def test_nul_byte_is_refused_before_anything_exists(oci, make_bundle, ptr):
    """A NUL in cgroupsPath left a state dir (cgroup.json with the path) that
    no delete --force could remove, that list did not show and create said
    existed: every string is checked for NUL before anything is made."""
    b = make_bundle()
    cfg = b.config
    if ptr == "/linux/cgroupsPath":
        cfg["linux"]["cgroupsPath"] = "/ociruntime-test/a\0b"
    elif ptr == "/mounts/0/destination":
        cfg["mounts"][0]["destination"] += "\0x"
    elif ptr == "/process/env/0":
        cfg["process"]["env"][0] += "\0x"
    else:
        cfg["linux"]["sysctl"] = {"net.a\0b": "1"}
        ptr = "/linux/sysctl/net.a\\u0000b"
    b.save()
    cid = oci.new_id()
    r = oci.cli("create", "--bundle", b.path, cid)
    assert_clean_failure(oci, b, cid, r, f"config.json: {ptr}: contains a NUL byte")
    assert "\0" not in r.stderr
    assert oci.cli("create", "--bundle", b.path, cid).stderr == r.stderr  # the id is free


def test_nul_byte_in_exec_process_json_and_update(oci, make_bundle, tmp_path):
    b = make_bundle(["sleep", "60"])
    cid = oci.new_id()
    oci.run_detached(b, cid)
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"cwd": "/", "args": ["true"], "env": ["A=1\0"]}))
    r = oci.cli("exec", "--process", str(proc), cid)
    assert_one_line_error(r, "process.json: /env/0: contains a NUL byte", code=255)
    r = oci.cli("update", "-r", "-", cid, input=json.dumps({"unified": {"a\0": "1"}}))
    assert_one_line_error(r, "resources: /unified/a\\u0000: contains a NUL byte")


@pytest.mark.parametrize(
    "entry, why",
    [("FOO", "missing '='"), ("=bar", "name cannot be empty")],
)
def test_env_entry_without_equals_is_refused(oci, make_bundle, tmp_path, entry, why):
    """runc refuses an env entry that is not KEY=VALUE, in config.json, a
    process.json and ``exec -e``; we used to drop it silently."""
    b = make_bundle()
    b.config["process"]["env"].append(entry)
    b.save()
    n = len(b.config["process"]["env"]) - 1
    oci.create_fails(b, f"config.json: /process/env/{n}: invalid environment variable: {why}")
    b = make_bundle(["sleep", "60"])
    cid = oci.new_id()
    oci.run_detached(b, cid)
    r = oci.cli("exec", "-e", "OK=1", "-e", entry, cid, "true")
    assert_one_line_error(r, f"--env {entry}: invalid environment variable: {why}", code=255)
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"cwd": "/", "args": ["true"], "env": ["A=1", entry]}))
    r = oci.cli("exec", "--process", str(proc), cid)
    line = assert_one_line_error(r, code=255)
    assert line.endswith(f"process.json: /env/1: invalid environment variable: {why}")


def test_schema_violation_names_the_pointer(oci, make_bundle):
    b = make_bundle()
    b.config["process"]["args"] = []
    b.save()
    oci.create_fails(b, "config.json: /process/args: expected a non-empty array")


def test_schema_wrong_type(oci, make_bundle):
    b = make_bundle()
    b.config["process"]["cwd"] = 7
    b.save()
    oci.create_fails(b, "config.json: /process/cwd")


def test_unsupported_oci_version(oci, make_bundle):
    b = make_bundle(ociVersion="2.0.0")
    oci.create_fails(b, "/ociVersion", "2.0.0")


def test_missing_rootfs(oci, bundle):
    shutil.rmtree(bundle.rootfs)
    oci.create_fails(bundle, "/root/path", bundle.rootfs)


def test_root_path_elsewhere_missing(oci, make_bundle):
    b = make_bundle(root={"path": "no-such-rootfs"})
    oci.create_fails(b, "/root/path", "no-such-rootfs")


def test_missing_bundle_directory(oci, tmp_path):
    cid = oci.new_id()
    missing = str(tmp_path / "no-such-bundle")
    oci.fails("create", "--bundle", missing, cid, contains=missing)
    assert leftovers(oci, None, (cid,)) == []


# ---- the executable --------------------------------------------------------------


def test_missing_executable_absolute(oci, make_bundle):
    b = make_bundle(["/bin/nope"])
    oci.create_fails(b, "/bin/nope", "no such file or directory")


def test_missing_executable_in_path(oci, make_bundle):
    b = make_bundle(["nope"])
    oci.create_fails(b, '"nope"', "executable file not found in $PATH")


def test_non_executable_file(oci, make_bundle):
    b = make_bundle(["/bin/data"])
    with open(os.path.join(b.rootfs, "bin", "data"), "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(os.path.join(b.rootfs, "bin", "data"), 0o644)
    oci.create_fails(b, "/bin/data", "permission denied")


def test_failed_create_writes_no_pid_file(oci, make_bundle, tmp_path):
    b = make_bundle(["/bin/nope"])
    cid = oci.new_id()
    pidf = tmp_path / "pids" / "init.pid"
    pidf.parent.mkdir()
    oci.fails("create", "--bundle", b.path, "--pid-file", str(pidf), cid)
    assert os.listdir(pidf.parent) == []
    assert leftovers(oci, b, (cid,)) == []


def test_run_with_missing_executable(oci, make_bundle):
    b = make_bundle(["/bin/nope"])
    cid = oci.new_id()
    oci.fails("run", "--bundle", b.path, cid, contains="no such file or directory")
    assert leftovers(oci, b, (cid,)) == []


# ---- container ids ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cid", ["a/b", "..", ".", ".hidden", "", "x" * 256, "a b", "../escape"], ids=repr
)
def test_invalid_id(oci, bundle, cid):
    before = set(os.listdir(os.path.dirname(oci.root)))
    oci.fails("create", "--bundle", bundle.path, cid, contains="container id")
    assert leftovers(oci, bundle) == []
    # nothing was created beside the state root either (".." and "../escape")
    assert set(os.listdir(os.path.dirname(oci.root))) == before


def test_overlong_id_refused_by_state(oci, bundle):
    """1024 is the documented limit; longer ids are refused before anything happens."""
    oci.fails("state", "y" * 256, contains="container id")


def test_duplicate_id(oci, make_bundle):
    b1 = make_bundle(["touch", "/tmp/first"])
    b2 = make_bundle(["touch", "/tmp/second"])
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b1.path, cid)
    st = oci.state(cid)
    oci.fails("create", "--bundle", b2.path, cid, contains="container with id exists")
    # the first container is untouched and still works
    assert oci.state(cid) == st
    oci.cli_ok("start", cid)
    wait_for(lambda: os.path.exists(os.path.join(b1.rootfs, "tmp", "first")), "first to run")
    oci.wait_status(cid, "stopped")
    assert not os.path.exists(os.path.join(b2.rootfs, "tmp", "second"))
    oci.cli_ok("delete", cid)
    assert leftovers(oci, b1, (cid,)) == []
    assert leftovers(oci, b2, (cid,)) == []


# ---- wrong state for the command --------------------------------------------------


def test_start_twice(oci, make_bundle):
    b = make_bundle(LOOP)
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, cid)
    oci.cli_ok("start", cid)
    oci.wait_status(cid, "running")
    oci.fails("start", cid, contains="cannot start an already running container")
    assert oci.state(cid)["status"] == "running"
    oci.cli_ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_start_stopped(oci, make_bundle):
    b = make_bundle(["true"])
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, cid)
    oci.cli_ok("start", cid)
    oci.wait_status(cid, "stopped")
    oci.fails("start", cid, contains="cannot start a container that has stopped")
    oci.cli_ok("delete", cid)
    assert leftovers(oci, b, (cid,)) == []


@pytest.mark.parametrize(
    "cmd, after",
    [
        ("kill", ()),
        ("kill", ("KILL",)),
        ("delete", ()),
        ("state", ()),
        ("start", ()),
    ],
)
def test_unknown_id(oci, cmd, after):
    cid = oci.new_id("missing")
    oci.fails(*cmd.split(), cid, *after, contains=f'container "{cid}" does not exist')
    assert leftovers(oci, None, (cid,)) == []


def test_delete_force_unknown_id_succeeds(oci):
    """runc's --force extension: nothing to delete is not an error (see test_cli_contract)."""
    cid = oci.new_id("missing")
    r = oci.cli("delete", "--force", cid)
    assert (r.returncode, r.stderr) == (0, "")
    assert leftovers(oci, None, (cid,)) == []


def test_kill_stopped(oci, make_bundle):
    b = make_bundle(["true"])
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, cid)
    oci.cli_ok("start", cid)
    oci.wait_status(cid, "stopped")
    oci.fails("kill", cid, "KILL", contains="container not running")
    oci.fails("kill", cid, contains="container not running")
    oci.cli_ok("delete", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_kill_invalid_signal(oci, make_bundle):
    b = make_bundle(LOOP)
    cid = oci.new_id()
    oci.cli_ok("run", "-d", "--bundle", b.path, cid)
    for sig in ("NOPE", "99999", "SIG", "RTMAX+1", "SIGKILLX"):
        oci.fails("kill", cid, sig, contains="signal")
    assert oci.state(cid)["status"] == "running"
    oci.cli_ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_delete_running_without_force(oci, make_bundle):
    b = make_bundle(LOOP)
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, cid)
    oci.cli_ok("start", cid)
    pid = oci.wait_status(cid, "running")["pid"]
    oci.fails("delete", cid, contains="not stopped")
    st = oci.state(cid)
    assert (st["status"], st["pid"]) == ("running", pid)
    assert os.path.exists(f"/proc/{pid}")
    oci.cli_ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_delete_created_without_force(oci, make_bundle):
    b = make_bundle(LOOP)
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, cid)
    oci.fails("delete", cid, contains="not stopped")
    assert oci.state(cid)["status"] == "created"
    oci.cli_ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


# ---- mounts ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tmpfs", "bind"])
@pytest.mark.parametrize("link", ["absolute", "relative"])
def test_mount_destination_symlink_stays_in_rootfs(oci, make_bundle, tmp_path, kind, link):
    host_dir = tempfile.mkdtemp(prefix="ociruntime-evil-", dir="/tmp")
    try:
        name = os.path.basename(host_dir)
        script = (
            f"echo planted >/evil/marker && grep ' /tmp/{name} ' /proc/self/mountinfo"
            f" && cat /tmp/{name}/marker"
        )
        b = make_bundle(["sh", "-c", script])
        target = host_dir if link == "absolute" else f"../../../../../..{host_dir}"
        os.symlink(target, os.path.join(b.rootfs, "evil"))
        src = tmp_path / "bind-src"
        src.mkdir()
        if kind == "tmpfs":
            m = {"destination": "/evil", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}
        else:
            m = {"destination": "/evil", "type": "bind", "source": str(src), "options": ["rbind"]}
        b.config["mounts"].append(m)
        b.save()
        cid = oci.new_id()
        r = oci("run", "--bundle", b.path, cid)
        # the host directory is untouched, and no host mount appeared on it
        assert os.listdir(host_dir) == []
        with open("/proc/self/mountinfo") as f:
            assert host_dir not in f.read()
        assert r.returncode == 0, r.stderr
        # inside, the mount is where the symlink points *within the rootfs*
        lines = r.stdout.splitlines()
        assert len(lines) == 2, r.stdout
        assert lines[0].split()[4] == f"/tmp/{name}"
        assert lines[1] == "planted"
        if kind == "bind":
            assert (src / "marker").read_text() == "planted\n"
        else:
            assert " tmpfs " in lines[0]
        assert os.path.isdir(os.path.join(b.rootfs, "tmp", name))
        assert leftovers(oci, b, (cid,)) == []
    finally:
        shutil.rmtree(host_dir, ignore_errors=True)


def test_bind_source_missing(oci, make_bundle, tmp_path):
    b = make_bundle()
    missing = str(tmp_path / "no-such-source")
    b.config["mounts"].append(
        {"destination": "/data", "type": "bind", "source": missing, "options": ["rbind"]}
    )
    b.save()
    n = len(b.config["mounts"]) - 1
    oci.create_fails(b, missing, f"/mounts/{n}")


def test_mount_destination_relative(oci, make_bundle):
    b = make_bundle()
    b.config["mounts"].append({"destination": "data", "type": "tmpfs", "source": "tmpfs"})
    b.save()
    n = len(b.config["mounts"]) - 1
    oci.create_fails(b, f"/mounts/{n}")


def test_mount_unknown_filesystem(oci, make_bundle):
    b = make_bundle()
    b.config["mounts"].append({"destination": "/data", "type": "nosuchfs", "source": "x"})
    b.save()
    n = len(b.config["mounts"]) - 1
    oci.create_fails(b, f"/mounts/{n}", "/data")


# ---- namespaces --------------------------------------------------------------------


def _namespaces(b) -> list[dict]:
    return b.config["linux"]["namespaces"]


def test_duplicate_namespace(oci, make_bundle):
    b = make_bundle()
    _namespaces(b).append({"type": "pid"})
    b.save()
    oci.create_fails(b, "/linux/namespaces/", "duplicate", "pid")


def test_unknown_namespace_type(oci, make_bundle):
    b = make_bundle()
    _namespaces(b).append({"type": "bogus"})
    b.save()
    n = len(_namespaces(b)) - 1
    oci.create_fails(b, f"/linux/namespaces/{n}")


def test_namespace_path_missing(oci, make_bundle, tmp_path):
    b = make_bundle()
    missing = str(tmp_path / "no-such-ns")
    for ns in _namespaces(b):
        if ns["type"] == "network":
            ns["path"] = missing
    b.save()
    oci.create_fails(b, missing, "/linux/namespaces/")


def test_user_namespace_without_mappings(oci, make_bundle):
    b = make_bundle()
    _namespaces(b).append({"type": "user"})
    b.save()
    oci.create_fails(b, "config.json: /linux/uidMappings", "needs uid and gid mappings")


def test_user_namespace_mapping_the_kernel_refuses(oci, make_bundle):
    b = make_bundle()
    _namespaces(b).append({"type": "user"})
    b.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # overlapping ranges: the kernel refuses the gid map
    b.config["linux"]["gidMappings"] = [
        {"containerID": 0, "hostID": 100000, "size": 10},
        {"containerID": 5, "hostID": 200000, "size": 10},
    ]
    b.save()
    oci.create_fails(b, "config.json: /linux/gidMappings", "the kernel refused gid_map")


# ---- a create killed half-way ------------------------------------------------------


@pytest.mark.parametrize("when", ["state dir", "init.pid"])
def test_create_killed_half_way_then_delete_force(oci, make_bundle, when):
    # many mounts make the set-up slow enough to be interrupted
    b = make_bundle(LOOP)
    b.config["mounts"] += [
        {"destination": f"/m/{i}", "type": "tmpfs", "source": "tmpfs", "options": ["size=4k"]}
        for i in range(5000)
    ]
    b.save()
    cid = oci.new_id()
    d = os.path.join(oci.root, cid)
    probe = d if when == "state dir" else os.path.join(d, "init.pid")
    p = oci.popen("create", "--bundle", b.path, cid)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(probe) and p.poll() is None and time.monotonic() < deadline:
            pass
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
    finally:
        stop(p)
    assert p.returncode == -signal.SIGKILL, "create finished before it could be killed"
    assert os.path.isdir(d)
    r = oci("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    wait_for(lambda: leftovers(oci, b, (cid,)) == [], "no leftovers")
    oci.fails("state", cid, contains="does not exist")


NUL_CGROUP = {
    "layout": "hybrid",
    "paths": {"pids": "/sys/fs/cgroup/pids/ociruntime-test/a\0b"},
    "unified": "/sys/fs/cgroup/unified/ociruntime-test/a\0b",
}


def marshal_garbage() -> bytes:
    """Bytes marshal takes for a list of a billion items (it would try)."""
    return b"[" + (10**9).to_bytes(4, "little")


def _rec(obj: object) -> bytes:
    """state.rec's bytes for ``obj`` (state.py's format: header, length and
    checksum, marshal)."""
    import marshal

    payload = marshal.dumps(obj, 4)
    value = int.from_bytes(payload, "little") % (2**61 - 1)
    return b"OCIRS1M" + len(payload).to_bytes(4, "little") + value.to_bytes(8, "little") + payload


GARBAGE_STATE_DIRS = {
    # what a NUL in cgroupsPath left: cgroup.json, no state.json
    "cgroup.json with a NUL": {"cgroup.json": json.dumps(NUL_CGROUP)},
    "state.json with a NUL cgroup": {"state.json": json.dumps({"pid": 0, "cgroup": NUL_CGROUP})},
    "cgroup.json not an object": {"cgroup.json": "[1, 2]"},
    "cgroup.json wrong types": {"cgroup.json": '{"layout": "v2", "path": 5}'},
    "cgroup.json binary": {"cgroup.json": b"\xff\x00\xfe"},
    "pid a string": {"state.json": '{"pid": "12"}'},
    "cgroup a number": {"state.json": '{"pid": 0, "cgroup": 7}'},
    "config a list": {"state.json": '{"pid": 0, "config": []}'},
    "init.pid out of range": {"init.pid": "99999999999999999999 1\n"},
    "init.pid negative": {"init.pid": "-5 7\n"},
    "state.json a directory": {"state.json/x": "x"},
    "lock a directory": {"lock/x": "x", "state.json": "{}"},
    "state.rec with a NUL cgroup": {"state.rec": _rec({"pid": 0, "cgroup": NUL_CGROUP})},
    "state.rec pid a string": {"state.rec": _rec({"pid": "12"})},
    "state.rec bad checksum": {"state.rec": b"OCIRS1M" + bytes(12) + marshal_garbage()},
    "state.rec random": {"state.rec": bytes(range(256)) * 3},
    "state.rec a directory": {"state.rec/x": "x"},
    "stray tree and symlink": {"a/b/c": "x", "link": None},
}


@pytest.mark.parametrize("files", GARBAGE_STATE_DIRS.values(), ids=GARBAGE_STATE_DIRS.keys())
def test_delete_force_removes_any_state_dir(oci, tmp_path, files):
    """Whatever a crash (or a NUL that went unchecked) left in a state dir,
    delete --force removes it quietly, frees the id, and follows no symlink.
    It used to fail with "internal error: ValueError('embedded null byte')"
    and keep the id taken for good."""
    cid = oci.new_id()
    d = os.path.join(oci.root, cid)
    keep = tmp_path / "host-dir"
    keep.mkdir()
    (keep / "precious").write_text("x")
    os.makedirs(d)
    for name, data in files.items():
        path = os.path.join(d, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if data is None:
            os.symlink(keep, path)
        else:
            with open(path, "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
    r = oci.cli("delete", "--force", cid)
    assert (r.returncode, r.stderr) == (0, "")
    assert not os.path.lexists(d)
    assert (keep / "precious").read_text() == "x"
    oci.fails("state", cid, contains="does not exist")


# ---- the log -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt_args", [("--log-format", "json"), ("--log-format=json",)])
def test_log_json_has_one_error_record(oci, make_bundle, tmp_path, fmt_args):
    bundle = make_bundle()
    bundle.config["process"]["args"] = []
    bundle.save()
    logf = tmp_path / "log.json"
    cid = oci.new_id()
    line = oci.fails(
        "create", "--bundle", bundle.path, cid, global_args=("--log", str(logf), *fmt_args)
    )
    msg = line[len(ERROR_PREFIX) :]
    text = logf.read_text()
    assert len(text.splitlines()) == 1, text
    rec = json.loads(text)  # podman parses the whole file as one object
    assert isinstance(rec, dict)
    assert rec["level"] == "error"
    assert rec["msg"] == msg
    assert "/process/args" in msg
    assert isinstance(rec.get("time"), str)
    assert leftovers(oci, bundle, (cid,)) == []


def test_log_json_on_unknown_id(oci, tmp_path):
    logf = tmp_path / "log.json"
    cid = oci.new_id("missing")
    line = oci.fails("kill", cid, "9", global_args=("--log", str(logf), "--log-format", "json"))
    msg = line[len(ERROR_PREFIX) :]
    rec = json.loads(logf.read_text())
    assert (rec["level"], rec["msg"]) == ("error", msg)
    assert f'container "{cid}" does not exist' in rec["msg"]


# ---- the command line itself ------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, contains",
    [
        (["frobnicate"], "unknown command"),
        (["create", "--no-such-flag", "x"], "--no-such-flag"),
        (["create"], "container-id"),
        (["create", "--bundle"], "--bundle"),
        (["state", "a", "b"], "unexpected argument"),
        (["list", "--format", "yaml"], "yaml"),
        (["--log-format", "xml", "list"], "xml"),
        (["create", "--preserve-fds", "many", "x"], "many"),
    ],
)
def test_usage_errors(oci, argv, contains):
    oci.fails(*argv, contains=contains)
    assert os.listdir(oci.root) == []


# ---- what a message may echo, and how it ends (issue 18 item 3) ---------------------------


@pytest.mark.parametrize("argv", [["ps"], ["ps", "--format", "json"], ["exec"]], ids=repr)
def test_commands_with_trailing_args_still_need_the_id(oci, argv):
    oci.fails(*argv, contains="container-id is required")


def test_a_newline_in_an_id_or_path_is_escaped_not_echoed(oci, make_bundle, tmp_path):
    """An id or a bundle path with a newline would split the error line that
    containerd and podman take for the whole message."""
    line = oci.fails("state", "a\nb", contains=r"a\nb")
    assert "\n" not in line
    oci.fails("create", "--bundle", str(tmp_path / "x\ny"), oci.new_id(), contains=r"x\ny")
    b = make_bundle()
    b.config["process"]["capabilities"]["bounding"].append("\n\x1b[2J")
    b.save()
    cid = oci.new_id()
    r = oci.cli("run", "--bundle", b.path, cid)
    # an unknown capability is a warning (runc too); a one-line one
    assert r.stderr.count("\n") <= 1 and "\x1b" not in r.stderr, r.stderr
    oci("delete", "-f", cid)


def test_root_that_is_a_file_or_read_only(oci, bundle, tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    for root in (f, f / "below"):
        oci.fails(
            "run",
            "--bundle",
            bundle.path,
            oci.new_id(),
            contains=(str(root), "not a directory"),
            root=str(root),
        )
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=4k", "tmpfs", str(ro)], check=True)
    try:
        oci.fails(
            "run",
            "--bundle",
            bundle.path,
            oci.new_id(),
            contains=(str(ro / "r"), "read-only file system"),
            root=str(ro / "r"),
        )
    finally:
        subprocess.run(["umount", str(ro)], check=True)


@pytest.mark.parametrize("pages", range(10, 17))
def test_a_full_root_fails_in_one_line_naming_the_file(oci, bundle, tmp_path, pages):
    """ENOSPC at each state file create writes in turn (cgroup.json,
    init.pid, state.json) as the room left shrinks: either the container
    runs or the message names the file, and nothing is left."""
    mnt = tmp_path / "full"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        with open(mnt / "fill", "wb") as f:
            try:
                f.write(b"x" * (pages * 4096))
            except OSError:
                pass
        root = str(mnt / "r")
        cid = oci.new_id()
        r = oci.cli("run", "-d", "--bundle", bundle.path, cid, root=root)
        if r.returncode == 0:
            oci.cli_ok("delete", "-f", cid, root=root)
        else:
            assert_one_line_error(r, root, "no space left on device")
        assert not os.path.isdir(root) or os.listdir(root) == []
        left = [d for d in _cgroup_dirs(cid) if os.path.exists(d)]
        assert left == [], left
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


def _cgroup_dirs(cid: str) -> list[str]:
    out = [os.path.join("/sys/fs/cgroup", "ociruntime", cid)]
    for d in os.listdir("/sys/fs/cgroup"):
        out.append(os.path.join("/sys/fs/cgroup", d, "ociruntime", cid))
    return out


def test_a_console_socket_that_closes_at_once(oci, make_bundle, tmp_path):
    import socket
    import threading

    b = make_bundle()
    b.config["process"]["terminal"] = True
    b.save()
    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen()

    def rude() -> None:
        c, _ = srv.accept()
        c.close()

    t = threading.Thread(target=rude)
    t.start()
    try:
        cid = oci.new_id()
        r = oci.cli("create", "--bundle", b.path, "--console-socket", path, cid)
        assert_clean_failure(oci, b, cid, r, "--console-socket", "broken pipe")
    finally:
        t.join(10)
        srv.close()


@pytest.mark.parametrize("key", ["hostname", "domainname"])
def test_uts_names_over_the_kernel_limit(oci, make_bundle, key):
    b = make_bundle(**{key: "h" * 65})
    oci.create_fails(b, f"/{key}", "64")
    ok = make_bundle(["cat", "/proc/sys/kernel/" + key], **{key: "h" * 64})
    assert oci.run_out(ok) == "h" * 64 + "\n"


def test_config_json_symlink_loop(oci, bundle):
    path = os.path.join(bundle.path, "config.json")
    os.unlink(path)
    os.symlink("config.json", path)
    oci.create_fails(bundle, path, "too many levels of symbolic links")


def test_a_hooks_output_stays_out_of_the_callers_stderr(oci, make_bundle):
    """A hook's output goes to the log (--log, or stderr with --debug), as
    runc keeps it: a failing hook is one error line, naming its last line."""
    b = make_bundle()
    b.config["hooks"] = {
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo chatty; echo more >&2"]}],
        "startContainer": [
            {"path": "/bin/sh", "args": ["sh", "-c", "echo first; echo why; exit 3"]}
        ],
    }
    b.save()
    cid = oci.new_id()
    r = oci.cli("run", "--bundle", b.path, cid)
    line = assert_one_line_error(r, "startContainer", "exit status 3", "why")
    assert "chatty" not in line
    oci("delete", "-f", cid)


def test_init_dying_in_set_up_says_where_and_how(oci, make_bundle):
    """The container's init killed while the createRuntime hook runs: the
    error names that step and the signal, not just that it exited."""
    b = make_bundle()
    kill = "import json, os, sys; os.kill(json.load(sys.stdin)['pid'], 9)"
    b.config["hooks"] = {
        "createRuntime": [{"path": sys.executable, "args": ["python3", "-c", kill]}]
    }
    b.save()
    oci.create_fails(b, "container init exited during set-up", "createRuntime", "signal 9")


def test_init_dying_in_a_create_container_hook_says_where_and_how(oci, make_bundle, tmp_path):
    """The init killed in a createContainer hook, with no prestart or
    createRuntime hook (the runtime told it unasked that there were none):
    the error still names the hooks among where it may have been, and the
    signal; nothing is left."""
    marker = tmp_path / "in-the-hook"
    b = make_bundle()
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"touch {marker}; sleep 60"]}
    b.config["hooks"] = {"createContainer": [hook]}
    b.save()
    cid = oci.new_id("cchook")
    p = oci.popen("create", "--bundle", b.path, cid, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(marker.exists, "the createContainer hook", timeout=20)
        with open(os.path.join(oci.root, cid, "init.pid")) as f:
            os.kill(int(f.read().split()[0]), signal.SIGKILL)
        _, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = subprocess.CompletedProcess(p.args, p.returncode, "", err)
    assert_clean_failure(
        oci, b, cid, r, "container init exited during set-up", "createContainer hooks", "signal 9"
    )


def test_unified_cgroup_procs_is_refused_not_written(oci, make_bundle):
    """A unified key naming cgroup.procs would move the host's pid 1 into the
    container's cgroup (the fuzzer's open question): refused with its pointer."""
    with open("/proc/1/cgroup") as f:
        before = f.read()
    b = make_bundle()
    b.config["linux"].setdefault("resources", {})["unified"] = {"cgroup.procs": "1"}
    b.save()
    oci.create_fails(b, "/linux/resources/unified/cgroup.procs", "not a resource")
    with open("/proc/1/cgroup") as f:
        assert f.read() == before
