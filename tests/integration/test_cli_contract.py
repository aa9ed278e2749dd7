"""The command line as containerd (go-runc) and podman (conmon) drive and parse it.

These pin argv shapes (global flags before the command, ``--flag value`` and
``--flag=value``), the ``state``/``list`` JSON fields, ``--version`` lines,
``spec`` output, and the error wordings callers match on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from datetime import datetime

import pytest
from conftest import OCI, REPO, assert_one_line_error, leftovers, ns_members, wait_for

RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
LOOP = ["sh", "-c", "while :; do sleep 0.1; done"]


def plain(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """The CLI with no --root at all (for --version, --help, spec)."""
    return subprocess.run(
        [*OCI, *args], capture_output=True, text=True, cwd=cwd, timeout=30, stdin=subprocess.DEVNULL
    )


def parse_rfc3339(s: str) -> datetime:
    m = RFC3339.match(s)
    assert m, f"not RFC 3339: {s!r}"
    frac = (m.group(2) or ".0")[1:7].ljust(6, "0")
    tz = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{frac}{tz}")


def schema_validator(name: str):
    jsonschema = pytest.importorskip("jsonschema")
    with open(os.path.join(REPO, "schemas", name)) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


# ---- state ----------------------------------------------------------------------


def test_state_fields(oci, make_bundle):
    b = make_bundle(LOOP, annotations={"org.example.key": "value", "io.kubernetes.x": "1"})
    cid = oci.new_id()
    before = time.time()
    # a relative --bundle, as a user in the bundle's parent would type it
    oci.cli_ok("create", "--bundle", os.path.basename(b.path), cid, cwd=os.path.dirname(b.path))
    after = time.time()
    r = oci.ok("state", cid)
    st = json.loads(r.stdout)
    assert r.stderr == ""
    assert st["ociVersion"] == "1.2.0"
    assert st["id"] == cid
    assert st["status"] == "created"
    assert isinstance(st["pid"], int) and st["pid"] > 0
    assert os.path.isabs(st["bundle"]) and st["bundle"] == b.path
    assert st["rootfs"] == b.rootfs
    created = parse_rfc3339(st["created"])
    assert before - 1 <= created.timestamp() <= after + 1
    assert isinstance(st["owner"], str)
    assert st["annotations"] == {"org.example.key": "value", "io.kubernetes.x": "1"}
    schema_validator("state-schema.json").validate(st)

    oci.cli_ok("start", cid)
    running = oci.wait_status(cid, "running")
    schema_validator("state-schema.json").validate(running)
    assert {k: v for k, v in running.items() if k != "status"} == {
        k: v for k, v in st.items() if k != "status"
    }
    oci.cli_ok("kill", cid, "KILL")
    stopped = oci.wait_status(cid, "stopped")
    schema_validator("state-schema.json").validate(stopped)
    assert stopped["pid"] == 0
    assert stopped["created"] == st["created"]
    oci.cli_ok("delete", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_bundle_defaults_to_the_current_directory(oci, make_bundle):
    b = make_bundle(["true"])
    cid = oci.new_id()
    oci.cli_ok("create", cid, cwd=b.path)
    st = oci.state(cid)
    assert (st["bundle"], st["rootfs"]) == (b.path, b.rootfs)
    oci.cli_ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def compact(obj: object) -> str:
    """What Go's encoding/json writes: no space after ',' or ':'."""
    return json.dumps(obj, separators=(",", ":"))


def test_list_json_is_runcs_bytes(oci, make_bundle):
    """runc's `list -f json`: one compact line, runc's key order (ociVersion id
    pid status bundle rootfs created [annotations] owner), annotations only
    when there are some."""
    b1 = make_bundle(LOOP)
    b2 = make_bundle(LOOP, annotations={"org.example": "x"})
    c1, c2 = oci.new_id("a"), oci.new_id("b")
    oci.cli_ok("create", "--bundle", b1.path, c1)
    oci.cli_ok("create", "--bundle", b2.path, c2)
    out = oci.ok("list", "--format", "json").stdout
    entries = json.loads(out)
    assert out == compact(entries) + "\n"
    by_id = {e["id"]: e for e in entries}
    order = ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created"]
    assert list(by_id[c1]) == [*order, "owner"]
    assert list(by_id[c2]) == [*order, "annotations", "owner"]
    assert by_id[c2]["annotations"] == {"org.example": "x"}
    st = oci.state(c1)
    assert by_id[c1] == {k: st[k] for k in [*order, "owner"]}
    for cid in (c1, c2):
        oci.cli_ok("delete", "--force", cid)


def test_events_stats_is_one_compact_line(oci, make_bundle):
    """containerd reads `events --stats` as Go's encoding/json writes it."""
    b = make_bundle(LOOP)
    cid = oci.new_id()
    oci.run_detached(b, cid)
    out = oci.cli_ok("events", "--stats", cid).stdout
    rec = json.loads(out)
    assert out == compact(rec) + "\n"
    assert out.startswith(f'{{"type":"stats","id":"{cid}","data":{{')
    oci.cli_ok("delete", "--force", cid)


def test_list_json_owner_is_the_user_name(oci, make_bundle):
    """runc's list reports the owner of the state directory by name ("root" here)."""
    b = make_bundle(LOOP)
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, cid)
    (entry,) = json.loads(oci.ok("list", "--format", "json").stdout)
    assert entry["id"] == cid
    assert entry["owner"] == "root"
    oci.cli_ok("delete", "--force", cid)


# ---- the argv shapes of containerd and podman ---------------------------------------------


def test_containerd_argv_shape(oci, make_bundle, tmp_path):
    b = make_bundle(LOOP)
    cid = oci.new_id()
    logf = tmp_path / "log.json"
    pidf = tmp_path / "init.pid"
    g = ("--log", str(logf), "--log-format", "json")
    oci.cli_ok(*g, "create", "--bundle", b.path, "--pid-file", str(pidf), cid)
    pid = int(pidf.read_text())
    assert oci.state(cid)["pid"] == pid
    oci.cli_ok(*g, "start", cid)
    st = json.loads(oci.cli_ok(*g, "state", cid).stdout)
    assert (st["status"], st["pid"]) == ("running", pid)
    oci.cli_ok(*g, "kill", "--all", cid, "9")
    oci.wait_status(cid, "stopped")
    oci.cli_ok(*g, "delete", cid)
    # nothing failed: the log is there (as runc leaves it), with no record at all
    assert logf.read_text() == ""
    assert leftovers(oci, b, (cid,)) == []


def test_podman_argv_shape(oci, make_bundle, tmp_path):
    b = make_bundle(LOOP)
    cid = oci.new_id()
    logf = tmp_path / "oci-log"
    pidf = tmp_path / "pidfile"
    g = (f"--log={logf}", "--log-format=json")
    oci.cli_ok(*g, "create", f"--bundle={b.path}", f"--pid-file={pidf}", "--no-new-keyring", cid)
    assert oci.state(cid)["pid"] == int(pidf.read_text())
    oci.cli_ok(*g, "start", cid)
    oci.wait_status(cid, "running")
    oci.cli_ok(*g, "kill", cid, "KILL")
    oci.wait_status(cid, "stopped")
    oci.cli_ok(*g, "delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_go_style_single_dash_flags(oci, make_bundle, tmp_path):
    b = make_bundle(LOOP)
    cid = oci.new_id()
    pidf = tmp_path / "pid"
    oci.cli_ok("create", "-bundle", b.path, "-pid-file", str(pidf), cid)
    assert oci.state(cid)["pid"] == int(pidf.read_text())
    oci.cli_ok("delete", "-force", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_relative_pid_file_is_relative_to_cwd(oci, make_bundle, tmp_path):
    b = make_bundle(LOOP)
    cid = oci.new_id()
    oci.cli_ok("create", "--bundle", b.path, "--pid-file", "rel.pid", cid, cwd=tmp_path)
    assert int((tmp_path / "rel.pid").read_text()) == oci.state(cid)["pid"]
    oci.cli_ok("delete", "--force", cid)


@pytest.mark.parametrize("pidfile", ["missing/dir/p", ".", "/proc/version"])
def test_create_pid_file_that_cannot_be_written(oci, make_bundle, tmp_path, pidfile):
    """One clean line (never Python's [Errno N]), exit 1, nothing left behind."""
    b = make_bundle(LOOP)
    cid = oci.new_id()
    r = oci.cli("create", "--bundle", b.path, "--pid-file", pidfile, cid, cwd=tmp_path)
    line = assert_one_line_error(r, code=1)
    assert "[Errno" not in line and pidfile.rsplit("/", 1)[-1] in line, line
    assert leftovers(oci, b, (cid,)) == []


def test_root_is_created_when_missing(oci, make_bundle, tmp_path):
    b = make_bundle(LOOP)
    cid = oci.new_id()
    root = str(tmp_path / "new" / "root")
    try:
        oci.cli_ok("create", "--bundle", b.path, cid, root=root)
        st = json.loads(oci.cli_ok("state", cid, root=root).stdout)
        assert st["status"] == "created"
        assert oci("state", cid).returncode != 0  # another root does not see it
    finally:
        oci.cli("delete", "--force", cid, root=root)
    assert os.listdir(root) == []
    assert leftovers(oci, b, (cid,)) == []


# ---- kill --all ---------------------------------------------------------------------------


def test_kill_all_9(oci, make_bundle):
    b = make_bundle(["sh", "-c", "sleep 1000 & sleep 1000 & while :; do sleep 0.1; done"])
    cid = oci.new_id()
    oci.cli_ok("run", "-d", "--bundle", b.path, cid)
    pid = oci.state(cid)["pid"]
    procs = wait_for(lambda: len(m := ns_members(pid)) >= 3 and m, "the children to start")
    oci.cli_ok("kill", "--all", cid, "9")
    oci.wait_status(cid, "stopped")
    wait_for(
        lambda: (
            not any(
                os.path.exists(f"/proc/{p}/cmdline") and open(f"/proc/{p}/cmdline", "rb").read()
                for p in procs
            )
        ),
        "every process of the container to die",
    )
    oci.cli_ok("delete", cid)
    assert leftovers(oci, b, (cid,)) == []


def test_kill_all_reaches_the_children(oci, make_bundle):
    """TERM to a pid-namespace init without a handler is dropped; --all still ends the children."""
    b = make_bundle(["sh", "-c", "sleep 1000 & sleep 1000 & wait"])
    cid = oci.new_id()
    oci.cli_ok("run", "-d", "--bundle", b.path, cid)
    pid = oci.state(cid)["pid"]
    wait_for(lambda: len(ns_members(pid)) >= 3, "the children to start")
    oci.cli_ok("kill", cid, "TERM")  # the init alone: dropped, nothing changes
    time.sleep(0.1)
    assert len(ns_members(pid)) >= 3
    oci.cli_ok("kill", "--all", cid, "TERM")  # the sleeps die, so `wait` returns and sh exits
    oci.wait_status(cid, "stopped")
    oci.cli_ok("delete", cid)
    assert leftovers(oci, b, (cid,)) == []


# ---- errors callers match on -------------------------------------------------------------


def test_delete_unknown_id(oci):
    """The runtime spec: deleting a container that does not exist is an error."""
    cid = oci.new_id("missing")
    r = oci.cli("delete", cid)
    assert r.returncode != 0
    assert r.stderr == f'ociruntime: container "{cid}" does not exist\n'


def test_delete_force_unknown_id_is_quiet(oci):
    """--force is runc's extension, not the spec's: like runc it succeeds for an
    unknown id, since podman and containerd call it to clean up after a failed
    create and would report the error."""
    cid = oci.new_id("missing")
    r = oci.cli("delete", "--force", cid)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""


def test_not_running_wording(oci, make_bundle):
    b = make_bundle(["true"])
    cid = oci.new_id()
    oci.cli_ok("run", "-d", "--bundle", b.path, cid)
    oci.wait_status(cid, "stopped")
    r = oci.cli("kill", cid, "15")
    assert r.returncode != 0
    assert "container not running" in r.stderr
    oci.cli_ok("delete", cid)


# ---- --version and --help ----------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version(flag):
    """runc's lines, which go-runc parses: `NAME version X`, `commit: Y`, `spec: Z`."""
    r = plain(flag)
    assert r.returncode == 0
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert len(lines) == 3, lines
    assert re.fullmatch(r"ociruntime version \d+\.\d+\.\d+\S*", lines[0]), lines
    assert re.fullmatch(r"commit: [0-9a-f]{7,40}(-dirty)?|commit: unknown", lines[1]), lines
    assert lines[2] == "spec: 1.2.0"
    if OCI[0].endswith("/ociruntime"):  # an installed launcher knows its commit
        assert lines[1] != "commit: unknown", lines


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["create", "--help"], ["kill", "-h"]])
def test_help_exits_zero(argv):
    r = plain(*argv)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: ociruntime")
    if argv == ["--help"]:
        for cmd in ("create", "start", "state", "kill", "delete", "run", "list", "spec"):
            assert re.search(rf"^\s+{cmd}\s", r.stdout, re.M), cmd
    if argv[0] == "create":
        for flag in ("--bundle", "--pid-file", "--console-socket", "--no-pivot", "--preserve-fds"):
            assert flag in r.stdout


# ---- spec --------------------------------------------------------------------------------


def test_spec_writes_a_valid_config(tmp_path):
    r = plain("spec", cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    cfg = json.loads((tmp_path / "config.json").read_text())
    schema_validator("config-schema.json").validate(cfg)
    assert cfg["ociVersion"] == "1.2.0"
    assert cfg["root"]["path"] == "rootfs"
    assert cfg["process"]["terminal"] is True  # runc's template
    types = [ns["type"] for ns in cfg["linux"]["namespaces"]]
    assert types == ["pid", "network", "ipc", "uts", "mount"]


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc not installed")
@pytest.mark.parametrize("rootless", [False, True], ids=["root", "rootless"])
def test_spec_is_runcs_template(tmp_path, rootless):
    """Scripts and suites built on `runc spec` + --console-socket get the same
    terminal, namespaces (none twice) and mounts from `ociruntime spec`;
    tests/unit/test_default_spec.py compares every other field."""
    flags = ["--rootless"] if rootless else []
    (tmp_path / "ours").mkdir()
    (tmp_path / "runc").mkdir()
    r = plain("spec", *flags, cwd=tmp_path / "ours")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    subprocess.run(["runc", "spec", *flags], cwd=tmp_path / "runc", check=True)
    ours, runc = (json.loads((tmp_path / d / "config.json").read_text()) for d in ("ours", "runc"))
    assert ours["process"]["terminal"] is runc["process"]["terminal"] is True
    assert ours["linux"]["namespaces"] == runc["linux"]["namespaces"]
    types = [ns["type"] for ns in ours["linux"]["namespaces"]]
    assert len(types) == len(set(types))
    assert ours["mounts"] == runc["mounts"]
    for key in ("uidMappings", "gidMappings", "resources", "readonlyPaths"):
        assert ours["linux"].get(key) == runc["linux"].get(key), key


def test_spec_refuses_to_overwrite(tmp_path):
    existing = tmp_path / "config.json"
    existing.write_text("keep me\n")
    r = plain("spec", "--bundle", str(tmp_path))
    assert r.returncode != 0
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("ociruntime: ")
    assert "config.json" in r.stderr
    assert existing.read_text() == "keep me\n"


def test_spec_rootless(tmp_path):
    r = plain("spec", "--rootless", "--bundle", str(tmp_path))
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "config.json").read_text())
    schema_validator("config-schema.json").validate(cfg)
    linux = cfg["linux"]
    assert "user" in [ns["type"] for ns in linux["namespaces"]]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    # no gid=5 for devpts: the tty group is not mapped
    devpts = [m for m in cfg["mounts"] if m["destination"] == "/dev/pts"]
    assert devpts and not any(o.startswith("gid=") for o in devpts[0].get("options", []))


def test_spec_output_runs(oci, make_bundle):
    """The default config is runnable as written (read-only root and all)."""
    b = make_bundle()
    os.unlink(os.path.join(b.path, "config.json"))
    r = plain("spec", "--bundle", b.path)
    assert r.returncode == 0, r.stderr
    path = os.path.join(b.path, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["process"]["args"] = ["sh", "-c", "touch /x 2>/dev/null && exit 1; echo ok"]
    with open(path, "w") as f:
        json.dump(cfg, f)
    cid = oci.new_id()
    r = oci("run", "--bundle", b.path, cid)
    assert (r.returncode, r.stdout, r.stderr) == (0, "ok\n", "")
    assert leftovers(oci, b, (cid,)) == []


# ---- what containerd's shim, conmon, podman and CRI-O parse ------------------------


def test_json_log_failure_is_one_error_record(oci, make_bundle, tmp_path):
    """containerd reads the last "level":"error" record; podman unmarshals the file
    as one object: a failing command leaves exactly one record, RFC 3339 time."""
    b = make_bundle(["/bin/nope"])
    log = tmp_path / "log.json"
    cid = oci.new_id()
    r = oci.cli("--log", str(log), "--log-format", "json", "create", "--bundle", b.path, cid)
    assert r.returncode == 1
    rec = json.loads(log.read_text())
    assert set(rec) == {"level", "msg", "time"} and rec["level"] == "error"
    assert rec["msg"] == r.stderr.removeprefix("ociruntime: ").rstrip("\n")
    assert RFC3339.match(rec["time"]), rec["time"]
    assert leftovers(oci, b, (cid,)) == []


def test_log_file_is_created_when_nothing_fails(oci, tmp_path):
    """runc opens --log at start; callers (and their log collectors) expect the file."""
    for fmt in ("json", "text"):
        logf = tmp_path / f"sub-{fmt}.log"
        oci.cli_ok("--log", str(logf), "--log-format", fmt, "list")
        assert logf.exists() and logf.read_text() == ""


def test_log_that_cannot_be_created_is_one_line(oci, tmp_path):
    r = oci.cli("--log", str(tmp_path / "missing" / "log.json"), "list")
    assert_one_line_error(r, "--log", "missing/log.json", "no such file or directory", code=1)


def test_debug_records_each_step(oci, make_bundle, tmp_path):
    """--debug: a record per main step of the runtime, in --log (compact JSON
    {"level","msg","time"}, as logrus writes), and no error record."""
    b = make_bundle(LOOP)
    cid = oci.new_id()
    logf = tmp_path / "log.json"
    g = ("--debug", "--log", str(logf), "--log-format", "json")
    oci.cli_ok(*g, "create", "--bundle", b.path, cid)
    oci.cli_ok(*g, "start", cid)
    oci.cli_ok(*g, "kill", cid, "KILL")
    oci.wait_status(cid, "stopped")
    oci.cli_ok(*g, "delete", cid)
    lines = logf.read_text().splitlines()
    recs = [json.loads(line) for line in lines]
    for line, rec in zip(lines, recs, strict=True):
        assert list(rec) == ["level", "msg", "time"] and rec["level"] == "debug", line
        assert RFC3339.match(rec["time"]), line
        assert line == json.dumps(rec, separators=(",", ":")), line
    msgs = [r["msg"] for r in recs]
    for cmd in ("create", "start", "kill", "delete"):
        assert any(m.startswith("ociruntime ") and f" {cmd} " in m and cid in m for m in msgs)
        assert any(m == f"{cmd}: exit status 0" for m in msgs), cmd
    for step in (
        "load and validate bundle",
        "cgroup: create",
        "wait for set-up in the container",
        "exec socket: connect, the init's answer",
        "remove the cgroup and the state",
    ):
        assert step in msgs, (step, msgs)
    assert any(m.startswith("kill: signal 9 to the init") for m in msgs)
    assert leftovers(oci, b, (cid,)) == []


def test_debug_without_log_goes_to_stderr(oci, make_bundle):
    b = make_bundle(["true"])
    cid = oci.new_id()
    r = oci.cli("--debug", "run", "--bundle", b.path, cid)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines and all(x.startswith("ociruntime: debug: ") for x in lines), lines
    assert "ociruntime: debug: load and validate bundle" in lines
    assert lines[-1] == "ociruntime: debug: run: exit status 0"


def test_debug_failure_leaves_one_error_record_last(oci, make_bundle, tmp_path):
    """containerd reads the last error record: with --debug there is still
    exactly one, after every debug record."""
    b = make_bundle(["/bin/nope"])
    cid = oci.new_id()
    logf = tmp_path / "log.json"
    r = oci.cli("--debug", "--log", str(logf), "--log-format", "json", "create", "-b", b.path, cid)
    assert r.returncode == 1
    recs = [json.loads(line) for line in logf.read_text().splitlines()]
    assert [x["level"] for x in recs if x["level"] == "error"] == ["error"]
    assert recs[-1]["level"] == "error" and "/bin/nope" in recs[-1]["msg"]
    assert len(recs) > 1 and {x["level"] for x in recs[:-1]} == {"debug"}
    assert leftovers(oci, b, (cid,)) == []


@pytest.mark.parametrize(
    "args, wording",
    [
        (["nope"], 'exec: "nope": executable file not found in $PATH'),
        (["/bin/nope"], 'exec: "/bin/nope": stat /bin/nope: no such file or directory'),
        (["/etc/passwd"], 'exec: "/etc/passwd": permission denied'),
    ],
)
def test_exec_error_wordings(oci, make_bundle, args, wording):
    """podman maps these to exit 127 and 126 by matching runc's words."""
    b = make_bundle(args)
    cid = oci.new_id()
    r = oci.cli("create", "--bundle", b.path, cid)
    assert (r.returncode, r.stderr) == (1, f"ociruntime: {wording}\n")


def test_features_document(oci):
    """runtime-spec features.md: what the shim's -info and CRI read."""
    r = oci.cli_ok("features")
    doc = json.loads(r.stdout)
    assert doc["ociVersionMin"] == "1.0.0" and doc["ociVersionMax"] == "1.2.0"
    assert doc["hooks"] == [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ]
    assert {"bind", "rbind", "ro", "rro", "nosuid", "rprivate"} <= set(doc["mountOptions"])
    linux = doc["linux"]
    assert set(linux["namespaces"]) == {
        "cgroup",
        "ipc",
        "mount",
        "network",
        "pid",
        "time",
        "user",
        "uts",
    }
    assert (
        "CAP_SYS_ADMIN" in linux["capabilities"]
        and "CAP_CHECKPOINT_RESTORE" in linux["capabilities"]
    )
    assert linux["cgroup"]["v1"] and linux["cgroup"]["v2"] and linux["cgroup"]["systemd"]
    assert linux["seccomp"]["enabled"] and "SCMP_ACT_NOTIFY" in linux["seccomp"]["actions"]
    assert linux["mountExtensions"]["idmap"]["enabled"] is True


def test_ps_json_is_an_array_of_host_pids(oci, make_bundle):
    b = make_bundle(["sh", "-c", "sleep 100 & sleep 100"])
    cid = oci.new_id()
    pid = oci.run_detached(b, cid)
    pids = wait_for(
        lambda: (
            (p := json.loads(oci.cli_ok("ps", "--format", "json", cid).stdout))
            and len(p) == 2
            and p
        ),
        "both processes in ps",
    )
    assert all(isinstance(p, int) for p in pids) and pid in pids
    assert all(os.path.exists(f"/proc/{p}") for p in pids)
    oci.cli_ok("delete", "--force", cid)


@pytest.mark.parametrize(
    "sig", ["9", "KILL", "SIGKILL", "kill", "15", "TERM", "SIGTERM", "sigterm"]
)
def test_every_signal_form(oci, make_bundle, sig):
    """containerd and podman pass numbers, CRI-O "KILL", runtime-tools "TERM"."""
    b = make_bundle(["sh", "-c", 'trap "exit 0" TERM; while :; do sleep 0.1; done'])
    cid = oci.new_id()
    oci.run_detached(b, cid)
    oci.cli_ok("kill", cid, sig)
    oci.wait_status(cid, "stopped")
    oci.cli_ok("delete", cid)


@pytest.mark.parametrize("all_", [False, True], ids=["init", "all"])
def test_kill_0_checks_that_the_process_exists(oci, make_bundle, all_):
    """Signal 0 (kill(2)'s existence check) sends nothing: it succeeds while
    the container's process exists, "container not running" once it is gone.
    runc allows it; scripts poll with it."""
    b = make_bundle(LOOP)
    cid = oci.new_id()
    pid = oci.run_detached(b, cid)
    flags = ("--all",) if all_ else ()
    r = oci.cli("kill", *flags, cid, "0")
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert oci.state(cid)["status"] == "running" and os.path.exists(f"/proc/{pid}")
    oci.cli_ok("kill", cid, "KILL")
    oci.wait_status(cid, "stopped")
    r = oci.cli("kill", *flags, cid, "0")
    assert r.returncode != 0 and "container not running" in r.stderr
    oci.cli_ok("delete", cid)
    assert leftovers(oci, b, (cid,)) == []


@pytest.mark.parametrize("status", ["created", "running", "paused", "stopped"])
def test_delete_force_from_any_state(oci, make_bundle, status):
    b = make_bundle(LOOP if status != "stopped" else ["true"])
    cid = oci.new_id()
    if status == "created":
        oci.cli_ok("create", "--bundle", b.path, cid)
    else:
        oci.run_detached(b, cid)
    if status == "paused":
        oci.cli_ok("pause", cid)
    oci.wait_status(cid, status)
    oci.cli_ok("delete", "--force", cid)
    assert leftovers(oci, b, (cid,)) == []
    assert oci.cli("state", cid).returncode == 1
