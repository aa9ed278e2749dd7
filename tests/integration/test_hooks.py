"""OCI hooks: each kind at its point, in its namespaces, with the state on stdin."""

from __future__ import annotations

import json
import os
import time

from conftest import assert_clean_failure, leftovers

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def _recorder(tmp_path, b) -> str:
    """A hook script that appends "kind status mnt-ns pid-ns" to a log file the
    container can also see (bind-mounted at the same path)."""
    logdir = tmp_path / "hooklog"
    logdir.mkdir()
    os.chmod(tmp_path, 0o755)
    script = logdir / "hook.sh"
    script.write_text(
        "#!/bin/sh\n"
        "read -r state\n"
        'status=$(echo "$state" | sed -n \'s/.*"status": *"\\([a-z]*\\)".*/\\1/p\')\n'
        'echo "$1 $status $(readlink /proc/self/ns/mnt)" >> ' + str(logdir / "log") + "\n"
    )
    os.chmod(script, 0o755)
    b.config["mounts"].append(
        {"destination": str(logdir), "type": "bind", "source": str(logdir), "options": ["bind"]}
    )
    b.config["hooks"] = {k: [{"path": str(script), "args": ["hook.sh", k]}] for k in KINDS}
    b.save()
    return str(logdir / "log")


def test_every_hook_kind_runs_in_order_with_its_status_and_namespace(oci, make_bundle, tmp_path):
    b = make_bundle(["true"])
    log = _recorder(tmp_path, b)
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, cid)
    oci.cli_ok("start", cid)
    oci.wait_status(cid, "stopped")
    oci.cli_ok("delete", cid)
    lines = [ln.split() for ln in open(log).read().splitlines()]
    assert [ln[0] for ln in lines] == list(KINDS)
    status = {ln[0]: ln[1] for ln in lines}
    assert status == {
        "prestart": "creating",
        "createRuntime": "creating",
        "createContainer": "creating",
        "startContainer": "created",
        "poststart": "running",
        "poststop": "stopped",
    }
    host = os.readlink("/proc/self/ns/mnt")
    ns = {ln[0]: ln[2] for ln in lines}
    for k in ("prestart", "createRuntime", "poststart", "poststop"):
        assert ns[k] == host, k
    for k in ("createContainer", "startContainer"):
        assert ns[k] != host, f"{k} runs in the container's mount namespace"


def test_failing_create_runtime_hook_fails_create_and_cleans_up(oci, make_bundle):
    b = make_bundle(["true"])
    b.config["hooks"] = {
        "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 3"]}]
    }
    b.save()
    cid = oci.new_id()
    r = oci.cli("create", "--bundle", b.path, cid)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == (
        "ociruntime: config.json: /hooks/createRuntime/0: createRuntime hook /bin/sh failed (exit status 3): broken"
    )
    assert leftovers(oci, b, (cid,)) == []


def test_hook_timeout_kills_it(oci, make_bundle):
    b = make_bundle(["true"])
    b.config["hooks"] = {
        "prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]
    }
    b.save()
    cid = oci.new_id()
    t0 = time.monotonic()
    r = oci.cli("create", "--bundle", b.path, cid)
    assert time.monotonic() - t0 < 20
    assert r.returncode == 1 and "timed out after 1s and was killed" in r.stderr
    assert leftovers(oci, b, (cid,)) == []


def test_failing_poststart_and_poststop_hooks_are_warnings(oci, make_bundle, tmp_path):
    b = make_bundle(["true"])
    fail = {"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}
    b.config["hooks"] = {"poststart": [fail], "poststop": [fail]}
    b.save()
    log = tmp_path / "log.json"
    cid = oci.new_id()
    r = oci.cli("--log", str(log), "--log-format", "json", "run", "--bundle", b.path, cid)
    assert r.returncode == 0, r.stderr
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    warnings = [x["msg"] for x in recs if x["level"] == "warning"]
    assert any("/hooks/poststart/0" in w and "exit status 4" in w for w in warnings)
    assert any("/hooks/poststop/0" in w for w in warnings)
    assert leftovers(oci, b, (cid,)) == []


def test_hook_output_goes_to_the_log(oci, make_bundle, tmp_path):
    b = make_bundle(["true"])
    b.config["hooks"] = {
        "createRuntime": [
            {"path": "/bin/sh", "args": ["sh", "-c", "echo hello-from-hook"], "env": ["A=1"]}
        ]
    }
    b.save()
    log = tmp_path / "log.json"
    oci.cli_ok("--log", str(log), "--log-format", "json", "run", "--bundle", b.path, oci.new_id())
    assert "hello-from-hook" in log.read_text()


def test_relative_hook_path_is_refused(oci, make_bundle, tmp_path):
    """config.md: a hook's path is absolute.  A relative one ran whatever that
    name was in the caller's working directory; now create refuses it before
    anything exists (and before any hook ran)."""
    marker = tmp_path / "ran"
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    os.chmod(script, 0o755)
    b = make_bundle(["true"])
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/true"}, {"path": "hook.sh"}]}
    b.save()
    cid = oci.new_id()
    r = oci.cli("create", "--bundle", b.path, cid, cwd=str(tmp_path))
    assert_clean_failure(
        oci, b, cid, r, "config.json: /hooks/createRuntime/1/path: expected an absolute path"
    )
    assert not marker.exists()


def test_create_container_hook_sees_every_mount_cgroupfs_too(oci, make_bundle, tmp_path):
    """createContainer hooks run once every mount of the config is in place,
    the cgroup filesystem included (runc's order): the hook, in the
    container's mount namespace before pivot_root, lists the container's
    /sys/fs/cgroup under the rootfs."""
    out = tmp_path / "seen"
    b = make_bundle(["true"])
    assert any(m["type"] == "cgroup" for m in b.config["mounts"])
    b.config["hooks"] = {
        "createContainer": [
            {
                "path": "/bin/sh",
                "args": [
                    "sh",
                    "-c",
                    f"find {b.rootfs}/sys/fs/cgroup -maxdepth 2 -name cgroup.procs > {out}",
                ],
            }
        ]
    }
    b.save()
    oci.run_out(b)
    assert out.read_text().split(), "no cgroupfs (cgroup.procs) mounted yet"
