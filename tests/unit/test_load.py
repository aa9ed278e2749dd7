"""Unit tests for ociruntime.config.load: load_bundle and check_config."""

from __future__ import annotations

import json
import os

import pytest

from ociruntime.config.default import default_config
from ociruntime.config.load import Bundle, check_config, load_bundle, parse_json, read_json
from ociruntime.errors import OCIError, SpecError
from ociruntime.linux.namespaces import NS_PROC as NS_PROC_NAME


def write_bundle(path, config: dict | None = None, rootfs: bool = True) -> str:
    path.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (path / "config.json").write_text(json.dumps(config, indent=2))
    if rootfs:
        (path / "rootfs").mkdir(exist_ok=True)
    return str(path)


def spec_error(fn, *args) -> SpecError:
    with pytest.raises(SpecError) as ei:
        fn(*args)
    assert "\n" not in str(ei.value)
    return ei.value


def accepted_but(cfg: dict, change, pointer: str) -> None:
    """``cfg`` passes check_config, and the same config with ``change``
    applied fails at ``pointer``: an acceptance test that would notice a
    validator that accepts everything."""
    import copy

    check_config(cfg)
    bad = copy.deepcopy(cfg)
    change(bad)
    assert spec_error(check_config, bad).pointer == pointer


# ---- load_bundle: the happy path ------------------------------------------------------------


def test_load_default(tmp_path):
    b = write_bundle(tmp_path / "b", default_config())
    got = load_bundle(b)
    assert isinstance(got, Bundle)
    assert got.path == b
    assert got.rootfs == os.path.join(b, "rootfs")
    assert got.config == default_config()


def test_load_relative_bundle(tmp_path, monkeypatch):
    write_bundle(tmp_path / "b", default_config())
    monkeypatch.chdir(tmp_path)
    got = load_bundle("b")
    assert got.path == str(tmp_path / "b")
    assert os.path.isabs(got.path)
    assert got.rootfs == str(tmp_path / "b" / "rootfs")


@pytest.mark.parametrize("arg", [".", ""])
def test_load_current_directory(tmp_path, monkeypatch, arg):
    write_bundle(tmp_path, default_config())
    monkeypatch.chdir(tmp_path)
    assert load_bundle(arg).path == str(tmp_path)


def test_load_bundle_trailing_slash(tmp_path):
    b = write_bundle(tmp_path / "b", default_config())
    assert load_bundle(b + "/").path == b


def test_relative_root_path(tmp_path):
    cfg = default_config()
    cfg["root"]["path"] = "fs/root"
    b = write_bundle(tmp_path / "b", cfg, rootfs=False)
    (tmp_path / "b" / "fs" / "root").mkdir(parents=True)
    assert load_bundle(b).rootfs == os.path.join(b, "fs", "root")


def test_relative_root_path_is_normalised(tmp_path):
    cfg = default_config()
    cfg["root"]["path"] = "./x/../rootfs/"
    b = write_bundle(tmp_path / "b", cfg)
    assert load_bundle(b).rootfs == os.path.join(b, "rootfs")


def test_relative_root_path_outside_bundle(tmp_path):
    (tmp_path / "shared").mkdir()
    cfg = default_config()
    cfg["root"]["path"] = "../shared"
    b = write_bundle(tmp_path / "b", cfg, rootfs=False)
    assert load_bundle(b).rootfs == str(tmp_path / "shared")


def test_absolute_root_path(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "rootfs"
    elsewhere.mkdir(parents=True)
    cfg = default_config()
    cfg["root"]["path"] = str(elsewhere)
    b = write_bundle(tmp_path / "b", cfg, rootfs=False)
    got = load_bundle(b)
    assert got.rootfs == str(elsewhere)
    assert got.path == b


def test_rootfs_symlink_is_accepted(tmp_path):
    (tmp_path / "real").mkdir()
    b = write_bundle(tmp_path / "b", default_config(), rootfs=False)
    os.symlink(str(tmp_path / "real"), os.path.join(b, "rootfs"))
    assert load_bundle(b).rootfs == os.path.join(b, "rootfs")


def test_load_does_not_touch_the_bundle(tmp_path):
    b = write_bundle(tmp_path / "b", default_config())
    before = sorted(os.listdir(b))
    load_bundle(b)
    assert sorted(os.listdir(b)) == before


# ---- load_bundle: errors ----------------------------------------------------------------------


def test_missing_bundle(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(OCIError) as ei:
        load_bundle(missing)
    assert str(ei.value) == f"bundle {missing}: no such directory"


def test_bundle_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(OCIError, match="no such directory"):
        load_bundle(str(f))


def test_missing_config(tmp_path):
    b = write_bundle(tmp_path / "b", None)
    with pytest.raises(OCIError) as ei:
        load_bundle(b)
    assert str(ei.value) == f"{b}/config.json: no such file or directory"
    assert "\n" not in str(ei.value)


def test_config_is_a_directory(tmp_path):
    b = write_bundle(tmp_path / "b", None)
    os.mkdir(os.path.join(b, "config.json"))
    with pytest.raises(OCIError) as ei:
        load_bundle(b)
    assert str(ei.value) == f"{b}/config.json: is a directory"


@pytest.mark.parametrize(
    "text, line, column",
    [
        ('{\n  "ociVersion": "1.2.0",\n  "process": }\n', 3, 14),
        ('{"ociVersion": "1.2.0",}', 1, 24),
        ("", 1, 1),
        ("{\n\n\n  oops\n}", 4, 3),
        ('{"a": 1}\n{"b": 2}\n', 2, 1),  # extra data after the object
    ],
)
def test_invalid_json(tmp_path, text, line, column):
    b = write_bundle(tmp_path / "b")
    (tmp_path / "b" / "config.json").write_text(text)
    e = spec_error(load_bundle, b)
    assert e.pointer == ""
    assert e.where == "config.json"
    assert str(e).startswith("config.json: invalid JSON: ")
    assert f"line {line} column {column}" in str(e)


def test_invalid_utf8_is_read_as_go_reads_it(tmp_path):
    """runc's decoder takes a byte that is not UTF-8 as U+FFFD; so do we
    (the version is then refused by the schema, not by the decoder)."""
    b = write_bundle(tmp_path / "b")
    (tmp_path / "b" / "config.json").write_bytes(b'{"ociVersion": "\xff"}')
    e = spec_error(load_bundle, b)
    assert e.pointer == "/ociVersion"
    (tmp_path / "b" / "config.json").write_bytes(b'\xff{"ociVersion": "1.2.0"}')
    assert str(spec_error(load_bundle, b)).startswith("config.json: invalid JSON: ")


# What runc 1.1 (Go's encoding/json) makes of text that is not Unicode, each
# checked with runc (the container's hostname, through od): every byte that
# is not UTF-8 and every lone UTF-16 surrogate is U+FFFD; a pair is joined.
GO_TEXT = [
    (b"\xff", "\ufffd"),
    (b"\xed\xa0\x80", "\ufffd" * 3),  # a surrogate encoded in UTF-8
    (b"a\xe2\x82", "a\ufffd\ufffd"),  # a truncated sequence: one for each byte
    (b"\\ud800", "\ufffd"),
    (b"\\udc00\\ud800", "\ufffd\ufffd"),
    (b"\\ud83d\\ude00", "\U0001f600"),
    (b"\\uD800\\ud83d\\ude00x", "\ufffd\U0001f600x"),
    (b"\\\\ud800", "\\ud800"),  # an escaped backslash, then text
]


@pytest.mark.parametrize("raw, want", GO_TEXT, ids=[repr(r) for r, _ in GO_TEXT])
def test_text_that_is_not_unicode_becomes_fffd_as_in_go(raw, want):
    """A lone surrogate used to reach the init, which failed on it with
    "internal error in init: UnicodeEncodeError"; invalid UTF-8 was refused."""
    data = b'{"h": "' + raw + b'", "k": {"' + raw + b'": [1, "' + raw + b'"]}}'
    assert parse_json(data, "config.json") == {"h": want, "k": {want: [1, want]}}
    assert parse_json(b'"' + raw + b'"', "x") == want


@pytest.mark.parametrize("const", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(const):
    """Python's json takes them, Go's decoder (runc's) does not; in an
    unknown field we took them, runc refused the config."""
    e = spec_error(parse_json, b'{"x": [1, ' + const.encode() + b"]}", "config.json")
    assert str(e) == f"config.json: invalid JSON: {const} is not a JSON value"
    assert parse_json(b'{"x": "' + const.encode() + b'"}', "c") == {"x": const}


def test_surrogates_fixed_in_a_deep_document():
    data = b'{"a": ' + b"[" * 9000 + b'"\\ud800"' + b"]" * 9000 + b"}"
    doc = parse_json(data, "config.json")
    doc = doc["a"]
    for _ in range(9000):
        doc = doc[0]
    assert doc == "\ufffd"


@pytest.mark.parametrize("depth, ok", [(5000, True), (10000, True), (10001, False), (10**6, False)])
def test_nesting_as_deep_as_runc_takes(tmp_path, depth, ok):
    """Go's decoder (runc's) takes 10,000 levels and no more; ours took 998
    (RecursionError: an internal error)."""
    data = b"[" * depth + b"]" * depth
    if ok:
        assert parse_json(data, "config.json") is not None
    else:
        e = spec_error(parse_json, data, "config.json")
        assert str(e).startswith("config.json: invalid JSON: nested deeper than 10000 levels")


def test_deep_unknown_field_loads(tmp_path):
    """10,000 levels in all, the config's own two included (runc: the same)."""
    b = write_bundle(tmp_path / "b")
    text = json.dumps(default_config()).replace(
        '"linux": {', '"linux": {"x": ' + "[" * 9998 + "]" * 9998 + ", ", 1
    )
    (tmp_path / "b" / "config.json").write_text(text)
    assert len(load_bundle(b).config["linux"]["x"]) == 1
    (tmp_path / "b" / "config.json").write_text(text.replace("[]", "[[]]"))
    assert "nested deeper" in str(spec_error(load_bundle, b))


def test_read_json_names_the_file():
    # read_json is shared with process.json
    with pytest.raises(OCIError, match="no such file or directory"):
        read_json("/nonexistent/process.json", "process.json")


def test_read_json_invalid_names_the_file(tmp_path):
    p = tmp_path / "process.json"
    p.write_text("{")
    e = spec_error(read_json, str(p), "process.json")
    assert e.where == "process.json"
    assert str(e).startswith("process.json: invalid JSON: ")


def test_schema_violation_has_pointer(tmp_path):
    cfg = default_config()
    cfg["process"]["args"] = []
    b = write_bundle(tmp_path / "b", cfg)
    e = spec_error(load_bundle, b)
    assert e.pointer == "/process/args"
    assert str(e) == "config.json: /process/args: expected a non-empty array"


def test_schema_violation_deep_pointer(tmp_path):
    cfg = default_config()
    cfg["mounts"][1]["options"] = ["nosuid", 7]
    b = write_bundle(tmp_path / "b", cfg)
    e = spec_error(load_bundle, b)
    assert e.pointer == "/mounts/1/options/1"
    assert str(e).startswith("config.json: /mounts/1/options/1: ")


def test_not_an_object(tmp_path):
    b = write_bundle(tmp_path / "b")
    (tmp_path / "b" / "config.json").write_text("[]")
    e = spec_error(load_bundle, b)
    assert str(e).startswith("config.json: ")


def test_unsupported_version(tmp_path):
    cfg = default_config()
    cfg["ociVersion"] = "2.0.0"
    b = write_bundle(tmp_path / "b", cfg)
    e = spec_error(load_bundle, b)
    assert e.pointer == "/ociVersion"


def test_missing_rootfs(tmp_path):
    b = write_bundle(tmp_path / "b", default_config(), rootfs=False)
    e = spec_error(load_bundle, b)
    assert e.pointer == "/root/path"
    rootfs = os.path.join(b, "rootfs")
    assert str(e) == f"config.json: /root/path: rootfs {rootfs}: no such directory"


def test_rootfs_is_a_file(tmp_path):
    b = write_bundle(tmp_path / "b", default_config(), rootfs=False)
    (tmp_path / "b" / "rootfs").write_text("")
    assert spec_error(load_bundle, b).pointer == "/root/path"


def test_missing_absolute_rootfs(tmp_path):
    cfg = default_config()
    cfg["root"]["path"] = str(tmp_path / "gone")
    b = write_bundle(tmp_path / "b", cfg)
    e = spec_error(load_bundle, b)
    assert e.pointer == "/root/path"
    assert str(tmp_path / "gone") in str(e)


def test_check_config_runs_in_load(tmp_path):
    cfg = default_config()
    cfg["process"]["cwd"] = "relative"
    b = write_bundle(tmp_path / "b", cfg)
    assert spec_error(load_bundle, b).pointer == "/process/cwd"


def test_missing_process_through_load(tmp_path):
    """config.md: process is "REQUIRED when start is called", so a create
    without one is taken (start refuses it: test_lifecycle.py)."""
    cfg = default_config()
    del cfg["process"]
    b = write_bundle(tmp_path / "b", cfg)
    assert "process" not in load_bundle(b).config


# ---- check_config --------------------------------------------------------------------------------


def test_check_default_config():
    accepted_but(
        default_config(),
        lambda c: c["linux"]["namespaces"].append({"type": "pid"}),
        f"/linux/namespaces/{len(default_config()['linux']['namespaces'])}",
    )


def without_mount_settings(cfg: dict) -> dict:
    """No mounts, read-only root, masked or read-only paths: what a config
    without a mount namespace may not ask for."""
    del cfg["mounts"]
    cfg["root"]["readonly"] = False
    for key in ("maskedPaths", "readonlyPaths"):
        cfg.get("linux", {}).pop(key, None)
    return cfg


def test_check_without_linux():
    cfg = without_mount_settings(default_config())
    del cfg["linux"]
    del cfg["hostname"]
    accepted_but(cfg, lambda c: c["root"].update(readonly=True), "/root/readonly")


def test_mounts_and_devices_without_a_mount_namespace():
    """The spec: a namespace not listed is inherited, and the mounts listed
    are mounted; in the caller's mount namespace then, under the rootfs, as
    runc does (runtime-tools' linux_ns_itype asks for it)."""
    cfg = without_mount_settings(default_config())
    cfg["linux"]["namespaces"] = []
    del cfg["hostname"]
    cfg["mounts"] = [{"destination": "/proc", "type": "proc", "source": "proc"}]
    cfg["linux"]["devices"] = [{"path": "/dev/x", "type": "c", "major": 1, "minor": 3}]
    check_config(cfg)


def test_check_without_mounts_or_namespaces():
    cfg = without_mount_settings(default_config())
    del cfg["linux"]["namespaces"]
    del cfg["hostname"]
    accepted_but(cfg, lambda c: c["root"].update(readonly=True), "/root/readonly")


@pytest.mark.parametrize(
    "ptr, value, what",
    [
        ("/root/readonly", True, "a read-only root needs"),
        ("/linux/maskedPaths", ["/proc/kcore"], "masked paths need"),
        ("/linux/readonlyPaths", ["/proc/sys"], "read-only paths need"),
        ("/linux/rootfsPropagation", "private", "rootfsPropagation needs"),
        ("/linux/mountLabel", "system_u:object_r:container_file_t:s0", "a mount label needs"),
    ],
)  # fmt: skip
def test_mount_settings_need_a_mount_namespace(ptr, value, what):
    """Without a mount namespace the init chroots, in the caller's: each of
    these would change a mount the container does not own, or hide or
    protect a path the caller can reach (once skipped without a word: a
    read-only root was writable).  Refused instead."""
    cfg = without_mount_settings(default_config())
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "mount"]
    check_config(cfg)
    parent = cfg
    for part in ptr.split("/")[1:-1]:
        parent = parent[part]
    parent[ptr.rsplit("/", 1)[1]] = value
    e = spec_error(check_config, cfg)
    assert str(e) == f"config.json: {ptr}: {what} a mount namespace (add one to /linux/namespaces)"


def test_mount_settings_with_a_joined_mount_namespace():
    cfg = default_config()
    cfg["linux"]["namespaces"] = [
        n if n["type"] != "mount" else {"type": "mount", "path": "/proc/self/ns/mnt"}
        for n in cfg["linux"]["namespaces"]
    ]
    i = [n["type"] for n in cfg["linux"]["namespaces"]].index("mount")
    accepted_but(
        cfg,
        lambda c: c["linux"]["namespaces"][i].update(path="/no/such/ns"),
        f"/linux/namespaces/{i}/path",
    )


@pytest.mark.parametrize("key", ["hostname", "domainname"])
def test_uts_names_need_a_uts_namespace(key):
    cfg = default_config()
    cfg.pop("hostname", None)
    cfg[key] = "x"
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "uts"]
    with pytest.raises(SpecError) as e:
        check_config(cfg)
    assert e.value.pointer == f"/{key}"


def test_missing_process():
    accepted_but(
        {k: v for k, v in default_config().items() if k != "process"},
        lambda c: c.update(process={"cwd": "/"}),
        "/process",
    )


def test_missing_root():
    cfg = default_config()
    del cfg["root"]
    e = spec_error(check_config, cfg)
    assert e.pointer == ""
    assert str(e) == 'config.json: missing required field "root"'


@pytest.mark.parametrize("ns", ["pid", "network", "mount", "ipc", "uts", "cgroup"])
def test_duplicate_namespace(ns):
    cfg = default_config()
    nss = cfg["linux"]["namespaces"]
    if ns == "cgroup":  # runc's template has none: add it once, then again
        nss.append({"type": ns})
    nss.append({"type": ns})
    e = spec_error(check_config, cfg)
    assert e.pointer == f"/linux/namespaces/{len(nss) - 1}"
    assert str(e) == f'config.json: /linux/namespaces/{len(nss) - 1}: duplicate namespace "{ns}"'


def test_duplicate_namespace_one_with_path():
    cfg = default_config()
    cfg["linux"]["namespaces"] = [
        {"type": "network", "path": "/proc/self/ns/net"},
        {"type": "network"},
    ]
    e = spec_error(check_config, cfg)
    assert e.pointer == "/linux/namespaces/1"
    assert "duplicate" in str(e)


def test_time_namespace_is_supported():
    cfg = default_config()
    cfg["linux"]["namespaces"].append({"type": "time"})
    cfg["linux"]["timeOffsets"] = {"boottime": {"secs": 5}}
    accepted_but(
        cfg,
        lambda c: c["linux"]["namespaces"].append({"type": "time"}),
        f"/linux/namespaces/{len(cfg['linux']['namespaces'])}",
    )


def test_time_offsets_need_a_new_time_namespace():
    cfg = default_config()
    cfg["linux"]["timeOffsets"] = {"boottime": {"secs": 5}}
    assert spec_error(check_config, cfg).pointer == "/linux/timeOffsets"
    cfg["linux"]["namespaces"].append({"type": "time", "path": "/proc/self/ns/time"})
    assert spec_error(check_config, cfg).pointer == "/linux/timeOffsets"


def test_user_namespace_needs_mappings():
    cfg = default_config()
    cfg["linux"]["namespaces"].append({"type": "user"})
    assert spec_error(check_config, cfg).pointer == "/linux/uidMappings"
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert spec_error(check_config, cfg).pointer == "/linux/gidMappings"
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    check_config(cfg)


def test_rootless_default_config_is_accepted():
    accepted_but(
        default_config(rootless=True), lambda c: c["linux"].pop("uidMappings"), "/linux/uidMappings"
    )


def test_relative_namespace_path():
    cfg = default_config()
    cfg["linux"]["namespaces"][1] = {"type": "network", "path": "proc/1/ns/net"}
    e = spec_error(check_config, cfg)
    assert e.pointer == "/linux/namespaces/1/path"
    assert (
        str(e) == "config.json: /linux/namespaces/1/path: proc/1/ns/net: expected an absolute path"
    )


def test_missing_namespace_path(tmp_path):
    missing = str(tmp_path / "ns" / "net")
    cfg = default_config()
    cfg["linux"]["namespaces"][1] = {"type": "network", "path": missing}
    e = spec_error(check_config, cfg)
    assert e.pointer == "/linux/namespaces/1/path"
    assert str(e) == f"config.json: /linux/namespaces/1/path: {missing}: no such file or directory"


def test_existing_namespace_path():
    # only checked for existence here; joining it happens in the init
    cfg = default_config()
    cfg["linux"]["namespaces"][1] = {"type": "network", "path": "/proc/self/ns/net"}
    accepted_but(
        cfg,
        lambda c: c["linux"]["namespaces"][1].update(path="/proc/self/ns/no-such"),
        "/linux/namespaces/1/path",
    )


def test_empty_namespace_path_means_new():
    cfg = default_config()
    cfg["linux"]["namespaces"][1] = {"type": "network", "path": ""}
    accepted_but(
        cfg, lambda c: c["linux"]["namespaces"][1].update(path="ns/net"), "/linux/namespaces/1/path"
    )


def test_first_namespace_error_wins():
    cfg = default_config()
    cfg["linux"]["namespaces"] = [
        {"type": "pid", "path": "relative"},
        {"type": "pid"},
    ]
    assert spec_error(check_config, cfg).pointer == "/linux/namespaces/0/path"


@pytest.mark.parametrize("dest", ["proc", "dev/pts", "./sys", "", "../escape"])
def test_relative_mount_destination(dest):
    cfg = default_config()
    cfg["mounts"][2]["destination"] = dest
    e = spec_error(check_config, cfg)
    assert e.pointer == "/mounts/2/destination"
    assert str(e) == "config.json: /mounts/2/destination: expected an absolute path"


def test_extra_absolute_mount_ok():
    cfg = default_config()
    cfg["mounts"].append({"destination": "/data/../x", "type": "tmpfs", "source": "tmpfs"})
    n = len(cfg["mounts"])
    accepted_but(
        cfg,
        lambda c: c["mounts"].append({"destination": "data", "type": "tmpfs"}),
        f"/mounts/{n}/destination",
    )


@pytest.mark.parametrize("cwd", ["relative", "./x", "", "x/"])
def test_relative_cwd(cwd):
    cfg = default_config()
    cfg["process"]["cwd"] = cwd
    e = spec_error(check_config, cfg)
    assert e.pointer == "/process/cwd"
    assert str(e) == "config.json: /process/cwd: expected an absolute path"


def test_absolute_cwd_ok():
    cfg = default_config()
    cfg["process"]["cwd"] = "/var/lib/app"
    accepted_but(cfg, lambda c: c["process"].update(cwd="var/lib/app"), "/process/cwd")


def test_ns_proc_names():
    assert NS_PROC_NAME["network"] == "net"
    assert NS_PROC_NAME["mount"] == "mnt"
    for t, name in NS_PROC_NAME.items():
        assert os.path.exists(f"/proc/self/ns/{name}") or t == "time", t


def test_namespace_path_permission_denied(monkeypatch):
    """EACCES is "permission denied" (runc's words), not a missing file."""
    from ociruntime import oslite

    def stat(p, *a, **k):
        raise PermissionError(13, "Permission denied", p)

    cfg = default_config()
    cfg["linux"]["namespaces"] = [{"type": "network", "path": "/private/ns/net"}]
    monkeypatch.setattr(oslite, "stat", stat)
    e = spec_error(check_config, cfg)
    assert str(e) == ("config.json: /linux/namespaces/0/path: /private/ns/net: permission denied")


# ---- environment entries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "entry, msg",
    [
        ("FOO", "invalid environment variable: missing '='"),
        ("=bar", "invalid environment variable: name cannot be empty"),
    ],
)
def test_env_entry_must_be_key_value(entry, msg):
    """runc refuses these; we used to drop them without a word."""
    cfg = default_config()
    cfg["process"]["env"].append(entry)
    e = spec_error(check_config, cfg)
    assert (e.pointer, e.msg) == (f"/process/env/{len(cfg['process']['env']) - 1}", msg)


def test_hook_env_entry_must_be_key_value():
    cfg = default_config()
    cfg["hooks"] = {"poststop": [{"path": "/bin/true", "env": ["A=1", "B"]}]}
    e = spec_error(check_config, cfg)
    assert (
        str(e) == "config.json: /hooks/poststop/0/env/1: invalid environment variable: missing '='"
    )


def test_env_values_may_hold_anything_but_nul():
    cfg = default_config()
    cfg["process"]["env"] += ["A=", "B==x=", "C=a b"]
    n = len(cfg["process"]["env"])
    accepted_but(cfg, lambda c: c["process"]["env"].append("D"), f"/process/env/{n}")


@pytest.mark.parametrize("path", ["hook.sh", "./hook.sh", "bin/hook", ""])
def test_hook_path_must_be_absolute(path):
    cfg = default_config()
    cfg["hooks"] = {"prestart": [{"path": "/bin/true"}], "poststop": [{"path": path}]}
    e = spec_error(check_config, cfg)
    assert str(e) == "config.json: /hooks/poststop/0/path: expected an absolute path"


# ---- what the fuzzer found (issue 18) ----------------------------------------------------------


def test_hook_args0_must_not_be_empty():
    """posix_spawn refuses an empty argv[0] (it was "internal error:
    ValueError"); runc runs the hook with it.  No args at all is the path."""
    cfg = default_config()
    cfg["process"]["cwd"] = "/"
    cfg["hooks"] = {"prestart": [{"path": "/bin/true"}, {"path": "/bin/true", "args": ["t", ""]}]}
    accepted_but(
        cfg, lambda c: c["hooks"]["prestart"][1]["args"].insert(0, ""), "/hooks/prestart/1/args/0"
    )


@pytest.mark.parametrize("key", ["hostname", "domainname"])
def test_uts_names_of_at_most_64_bytes(key):
    """sethostname(2) and setdomainname(2) take 64 bytes: more failed in the
    init as "Invalid argument", with no pointer (runc 1.1: "sethostname:
    invalid argument", and it ignores domainname)."""
    cfg = default_config()
    cfg[key] = "é" * 32
    accepted_but(cfg, lambda c: c.update({key: "é" * 32 + "a"}), f"/{key}")
    cfg[key] = "h" * 64
    accepted_but(cfg, lambda c: c.update({key: "h" * 65}), f"/{key}")


@pytest.mark.parametrize("key", ["major", "minor"])
@pytest.mark.parametrize("bad", [-1, -(2**63), 2**32])
def test_device_numbers_makedev_takes(key, bad):
    """Anything else failed in the init with an OverflowError."""
    cfg = default_config()
    cfg["linux"]["devices"] = [{"type": "c", "path": "/dev/fz", "major": 1, "minor": 3}]
    cfg["linux"]["devices"][0][key] = 2**32 - 1
    accepted_but(
        cfg, lambda c: c["linux"]["devices"][0].update({key: bad}), f"/linux/devices/0/{key}"
    )


def test_process_needs_args():
    """It failed in the init ("internal error in init: KeyError('args')");
    runc: "args must not be empty"."""
    cfg = default_config()
    e = spec_error(check_config, {**cfg, "process": {"cwd": "/"}})
    assert str(e) == 'config.json: /process: missing required field "args"'


@pytest.mark.parametrize(
    "key, value", [("l3CacheSchema", "L3:0=f"), ("memBwSchema", "MB:0=100"), ("enableCMT", True)]
)
def test_intel_rdt_is_refused_not_ignored(key, value):
    """Cache and bandwidth limits were dropped without a word (runc: "Intel
    RDT/MBA is not enabled"); found comparing fuzzed configs with runc."""
    cfg = default_config()
    cfg["linux"]["intelRdt"] = {"closID": "fz", key: False if value is True else ""}
    accepted_but(
        cfg, lambda c: c["linux"]["intelRdt"].update({key: value}), f"/linux/intelRdt/{key}"
    )
