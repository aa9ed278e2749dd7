"""Unit tests for ociruntime.config.default (the config written by `ociruntime spec`)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import ociruntime
from ociruntime.config.default import default_config

SCHEMA_DIR = Path("/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema")
RUNC_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
BOTH = pytest.mark.parametrize("rootless", [False, True], ids=["root", "rootless"])


def _ns_types(cfg: dict) -> list[str]:
    return [ns["type"] for ns in cfg["linux"]["namespaces"]]


def _mount(cfg: dict, destination: str) -> dict:
    (m,) = [m for m in cfg["mounts"] if m["destination"] == destination]
    return m


@BOTH
def test_top_level(rootless):
    cfg = default_config(rootless)
    assert cfg["ociVersion"] == "1.2.0" == ociruntime.SPEC_VERSION
    assert cfg["hostname"] == "ociruntime"
    assert cfg["root"] == {"path": "rootfs", "readonly": True}


@BOTH
def test_process(rootless):
    proc = default_config(rootless)["process"]
    # runc's template: scripts built on `runc spec` + --console-socket rely on it
    assert proc["terminal"] is True
    assert proc["args"] == ["sh"]
    assert proc["cwd"] == "/"
    assert proc["user"] == {"uid": 0, "gid": 0}
    assert any(e.startswith("PATH=") for e in proc["env"])
    assert proc["noNewPrivileges"] is True
    assert proc["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]


@BOTH
def test_capabilities_never_inheritable_or_ambient(rootless):
    # CVE-2022-29162: the default must not populate inheritable/ambient.
    caps = default_config(rootless)["process"]["capabilities"]
    assert set(caps) == {"bounding", "effective", "permitted"}
    for key in ("bounding", "effective", "permitted"):
        assert caps[key] == RUNC_CAPS


def test_namespaces_root():
    cfg = default_config()
    assert _ns_types(cfg) == ["pid", "network", "ipc", "uts", "mount"]  # runc's
    assert "uidMappings" not in cfg["linux"]
    assert "gidMappings" not in cfg["linux"]


def test_namespaces_rootless():
    cfg = default_config(rootless=True)
    assert _ns_types(cfg) == ["pid", "ipc", "uts", "mount", "user"]  # runc's
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert cfg["linux"]["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]


def test_root_variant_mounts_and_resources():
    cfg = default_config()
    assert "gid=5" in _mount(cfg, "/dev/pts")["options"]
    assert _mount(cfg, "/sys")["type"] == "sysfs"
    assert cfg["linux"]["resources"] == {"devices": [{"allow": False, "access": "rwm"}]}


def test_rootless_variant_mounts_and_resources():
    cfg = default_config(rootless=True)
    assert not any(o.startswith("gid=") for o in _mount(cfg, "/dev/pts")["options"])
    sys_mount = _mount(cfg, "/sys")
    assert sys_mount["source"] == "/sys"
    assert "rbind" in sys_mount["options"]
    assert "ro" in sys_mount["options"]
    assert "resources" not in cfg["linux"]


@BOTH
def test_mount_list(rootless):
    cfg = default_config(rootless)
    assert [m["destination"] for m in cfg["mounts"]] == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
    ]
    assert "ro" in _mount(cfg, "/sys/fs/cgroup")["options"]


@BOTH
def test_masked_and_readonly_paths(rootless):
    linux = default_config(rootless)["linux"]
    masked = linux["maskedPaths"]
    for path in (
        "/proc/kcore",
        "/proc/keys",
        "/proc/timer_list",
        "/proc/sched_debug",
        "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ):
        assert path in masked
    assert len(masked) == len(set(masked))
    assert linux["readonlyPaths"] == [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]


def test_fresh_object_each_call():
    a = default_config()
    a["process"]["args"].append("-x")
    a["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    a["linux"]["maskedPaths"].clear()
    a["mounts"][2]["options"].append("oops")
    b = default_config()
    assert b["process"]["args"] == ["sh"]
    assert b["process"]["capabilities"]["bounding"] == RUNC_CAPS
    assert b["linux"]["maskedPaths"]
    assert "oops" not in b["mounts"][2]["options"]


@BOTH
def test_json_round_trip(rootless):
    cfg = default_config(rootless)
    assert json.loads(json.dumps(cfg)) == cfg


@pytest.fixture(scope="module")
def config_validator():
    jsonschema = pytest.importorskip("jsonschema")
    if not (SCHEMA_DIR / "config-schema.json").is_file():
        pytest.skip(f"runtime-spec schema not found in {SCHEMA_DIR}")
    documents = {p.name: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.json")}
    root = documents["config-schema.json"]
    try:
        from referencing import Registry
        from referencing.jsonschema import DRAFT4
    except ImportError:  # older jsonschema without the referencing library
        resolver = jsonschema.RefResolver(
            base_uri=SCHEMA_DIR.as_uri() + "/",
            referrer=root,
            store={SCHEMA_DIR.joinpath(name).as_uri(): doc for name, doc in documents.items()},
        )
        return jsonschema.Draft4Validator(root, resolver=resolver)
    # The schema files reference each other by bare file name ("defs.json#/..."),
    # and the root schema has no id, so the bare names are the resolved URIs.
    registry = Registry().with_resources(
        (name, DRAFT4.create_resource(doc)) for name, doc in documents.items()
    )
    return jsonschema.Draft4Validator(root, registry=registry)


@BOTH
def test_validates_against_runtime_spec_schema(config_validator, rootless):
    errors = sorted(config_validator.iter_errors(default_config(rootless)), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_validator_rejects_bad_config(config_validator):
    # Guard against a validator that silently accepts everything (e.g. broken $refs).
    cfg = default_config()
    cfg["process"]["rlimits"][0]["hard"] = "lots"
    cfg["linux"]["namespaces"].append({"type": "not-a-namespace"})
    assert len(list(config_validator.iter_errors(cfg))) >= 2


@BOTH
def test_no_duplicate_namespace(rootless):
    types = _ns_types(default_config(rootless))
    assert len(types) == len(set(types)), types


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc not installed")
@BOTH
def test_matches_runc_spec(tmp_path, rootless):
    """Field by field (and key order) the same as `runc spec [--rootless]`,
    but for the deliberate differences, each named here (and in the module's
    docstring): anything else that differs fails."""
    cmd = ["runc", "spec", "-b", str(tmp_path)] + (["--rootless"] if rootless else [])
    subprocess.run(cmd, check=True, capture_output=True)
    runc = json.loads((tmp_path / "config.json").read_text())
    ours = default_config(rootless)
    # 1. the spec version we implement, and our hostname
    assert ours["ociVersion"] == "1.2.0"
    ours["ociVersion"] = runc["ociVersion"]
    assert (ours["hostname"], runc["hostname"]) == ("ociruntime", "runc")
    ours["hostname"] = runc["hostname"]
    # 2. no inheritable or ambient capabilities by default (CVE-2022-29162)
    runc_caps = runc["process"]["capabilities"]
    assert set(runc_caps) - set(ours["process"]["capabilities"]) <= {"inheritable", "ambient"}
    for key in ("inheritable", "ambient"):
        runc_caps.pop(key, None)
    # 3. RAPL counters masked too, as newer runc releases do
    extra = [p for p in ours["linux"]["maskedPaths"] if p not in runc["linux"]["maskedPaths"]]
    assert extra in ([], ["/sys/devices/virtual/powercap"])
    ours["linux"]["maskedPaths"] = [p for p in ours["linux"]["maskedPaths"] if p not in extra]
    # everything else, terminal, namespaces and mounts included, is runc's
    assert json.dumps(ours, indent=1) == json.dumps(runc, indent=1)
