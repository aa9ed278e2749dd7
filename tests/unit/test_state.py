"""Unit tests for ociruntime.state: ids, the on-disk store, derived status."""

from __future__ import annotations

import fcntl
import json
import os
import random
import time

import pytest
from conftest import read_record

from ociruntime import jsonio
from ociruntime.config.validate import validate_state
from ociruntime.errors import NotFound, OCIError
from ociruntime.state import (
    DEFAULT_ROOT,
    PUBLIC_FIELDS,
    Store,
    atomic_write,
    cgroup_record_ok,
    proc_start_time,
    validate_id,
)

SPEC_STATE_FIELDS = (
    "ociVersion",
    "id",
    "status",
    "pid",
    "bundle",
    "rootfs",
    "created",
    "owner",
    "annotations",
)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "root"))


def record(cid: str = "c1", pid: int = 0, start: int | None = 0, **extra: object) -> dict:
    """A record shaped like the one Container.create saves."""
    rec = {
        "ociVersion": "1.2.0",
        "id": cid,
        "pid": pid,
        "bundle": "/bundles/" + cid,
        "rootfs": f"/bundles/{cid}/rootfs",
        "created": "2024-05-01T12:00:00.000000000Z",
        "owner": "",
        "annotations": {"org.example/key": "value"},
        "initStartTime": start,
        "config": {"linux": {}},
    }
    rec.update(extra)
    return rec


def running_record(cid: str = "c1", **extra: object) -> dict:
    """A record whose init is this very process, with its real start time."""
    st = proc_start_time(os.getpid())
    assert st is not None
    return record(cid, pid=os.getpid(), start=st[0], **extra)


def made(store: Store, cid: str = "c1") -> str:
    """make() the container, drop the lock, return its directory."""
    os.close(store.make(cid))
    return store.dir(cid)


def wait_for_state(pid: int, letters: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = proc_start_time(pid)
        if st is not None and st[1] in letters:
            return
        time.sleep(0.005)
    raise AssertionError(f"pid {pid} never reached state {letters!r}")


# ---- validate_id ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cid",
    [
        "a",
        "Z",
        "0",
        "abc123",
        "my_container",
        "a.b",
        "a..b",
        "a+b",
        "a-b",
        "-leading-dash",
        "x" * 255,
        "k8s_POD_nginx-1.2+3_default",
        "0123456789abcdef" * 4,
    ],
)
def test_validate_id_accepts(cid, tmp_path):
    """Accepted, and usable as what an id becomes: a directory under the root."""
    validate_id(cid)
    store = Store(str(tmp_path))
    os.close(store.make(cid))
    assert os.listdir(tmp_path) == [cid]


def test_validate_id_empty():
    with pytest.raises(OCIError) as ei:
        validate_id("")
    assert str(ei.value) == "container id cannot be empty"


@pytest.mark.parametrize(
    "cid",
    [
        "/",
        "a/b",
        "/abs",
        "..",
        ".",
        ".x",
        "../escape",
        "x" * 256,
        "with space",
        " lead",
        "trail ",
        "tab\tid",
        "new\nline",
        "trailing-newline\n",
        "caf\u00e9",
        "\u0430bc",  # Cyrillic a
        "\uff41",  # fullwidth a
        "\u212a",  # Kelvin sign: matches [a-z] only with re.IGNORECASE
        "snow\u2603",
        "nul\0byte",
        "a:b",
        "a*b",
        "a\\b",
        "$HOME",
    ],
)
def test_validate_id_rejects(cid):
    with pytest.raises(OCIError) as ei:
        validate_id(cid)
    assert str(ei.value).startswith(f'invalid container id "{cid}"')


def test_validate_id_boundary_is_a_file_names():
    """255 characters, NAME_MAX: an id names the state directory (a longer one
    was accepted, and then mkdir failed)."""
    validate_id("a" * 255)
    with pytest.raises(OCIError):
        validate_id("a" * 256)


# ---- atomic_write ----------------------------------------------------------------


def test_atomic_write_str_and_bytes(tmp_path):
    p = tmp_path / "f"
    atomic_write(str(p), "text\n")
    assert p.read_bytes() == b"text\n"
    atomic_write(str(p), b"\x00\xffbytes")
    assert p.read_bytes() == b"\x00\xffbytes"
    assert os.listdir(tmp_path) == ["f"]


def test_atomic_write_replaces_without_temp_files(tmp_path):
    p = tmp_path / "state.json"
    p.write_text("old, much longer content than the new one")
    atomic_write(str(p), "new")
    assert p.read_text() == "new"
    assert os.listdir(tmp_path) == ["state.json"]


def test_atomic_write_replaces_the_inode(tmp_path):
    # readers holding the old file open keep seeing the complete old content
    p = tmp_path / "f"
    p.write_text("old")
    with open(p) as reader:
        atomic_write(str(p), "new")
        assert reader.read() == "old"
    assert p.read_text() == "new"


def test_atomic_write_mode(tmp_path):
    p = tmp_path / "secret"
    atomic_write(str(p), "x", mode=0o600)
    assert os.stat(p).st_mode & 0o777 == 0o600


def test_atomic_write_empty(tmp_path):
    p = tmp_path / "empty"
    atomic_write(str(p), "")
    assert p.read_bytes() == b""


def test_atomic_write_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(str(tmp_path / "nodir" / "f"), "x")
    assert os.listdir(tmp_path) == []


def test_atomic_write_failed_rename_leaves_no_temp_file(tmp_path):
    # the target is a non-empty directory: rename(2) fails; the temp file must go
    target = tmp_path / "target"
    target.mkdir()
    (target / "inside").write_text("x")
    with pytest.raises(OSError):
        atomic_write(str(target), "data")
    assert sorted(os.listdir(tmp_path)) == ["target"]


# ---- proc_start_time -------------------------------------------------------------


def test_proc_start_time_self():
    st = proc_start_time(os.getpid())
    assert st is not None
    start, letter = st
    assert isinstance(start, int) and start > 0
    assert letter == "R"
    assert proc_start_time(os.getpid()) == st  # stable


def test_proc_start_time_matches_field_22():
    with open("/proc/self/stat", "rb") as f:
        data = f.read()
    fields = data[data.rindex(b")") + 2 :].split()
    # fields[0] is field 3 (state); starttime is field 22
    assert proc_start_time(os.getpid())[0] == int(fields[22 - 3])


def test_proc_start_time_gone():
    assert proc_start_time(2**22 + 12345) is None  # above pid_max's ceiling


def test_proc_start_time_comm_with_parens_and_spaces():
    # comm is attacker-controlled inside a container: ") R 1 2" must not shift fields
    r, w = os.pipe()
    r2, w2 = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.close(w2)
            with open("/proc/self/comm", "w") as f:
                f.write("a) Z 1 2 (b")
            os.write(w, b"x")
            os.read(r2, 1)  # until the parent closes its end
        finally:
            os._exit(0)
    os.close(w)
    os.close(r2)
    try:
        assert os.read(r, 1) == b"x"
        with open(f"/proc/{pid}/comm") as f:
            assert f.read().strip() == "a) Z 1 2 (b"
        st = proc_start_time(pid)
        assert st is not None
        assert st[1] in "SR"
        # the start time is the one the kernel reports after the real ")"
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        assert st[0] == int(data[data.rindex(b")") + 2 :].split()[19])
    finally:
        os.close(w2)
        os.close(r)
        os.waitpid(pid, 0)


# ---- Store: layout ----------------------------------------------------------------


def test_store_root_defaults_and_abspath(tmp_path, monkeypatch):
    assert Store().root == DEFAULT_ROOT
    assert Store(None).root == DEFAULT_ROOT
    monkeypatch.chdir(tmp_path)
    assert Store("rel/root").root == str(tmp_path / "rel" / "root")


def test_store_dir(store):
    assert store.dir("abc") == os.path.join(store.root, "abc")


@pytest.mark.parametrize("cid", ["", "..", "../x", "a/b", ".hidden"])
def test_store_dir_validates(store, cid):
    with pytest.raises(OCIError):
        store.dir(cid)


def test_make_creates_dir_and_lock(store):
    assert not os.path.exists(store.root)
    fd = store.make("c1")
    try:
        d = os.path.join(store.root, "c1")
        assert os.path.isdir(d)
        assert os.listdir(d) == ["lock"]
        assert store.exists("c1")
        # the lock is held: another open file description cannot take it
        other = os.open(os.path.join(d, "lock"), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    finally:
        os.close(fd)


def test_make_lock_fd_is_cloexec(store):
    fd = store.make("c1")
    try:
        assert not os.get_inheritable(fd)
    finally:
        os.close(fd)


def test_make_refuses_duplicate(store):
    made(store, "dup")
    with pytest.raises(OCIError) as ei:
        store.make("dup")
    assert "container with id exists" in str(ei.value)
    assert "dup" in str(ei.value)
    assert not isinstance(ei.value, NotFound)


def test_make_refuses_duplicate_of_a_finished_container(store):
    made(store, "c1")
    store.save("c1", record("c1"))
    with pytest.raises(OCIError, match="container with id exists: c1"):
        store.make("c1")
    assert store.load("c1") == record("c1")  # untouched


def test_make_invalid_id_creates_nothing(store):
    with pytest.raises(OCIError, match="invalid container id"):
        store.make("../evil")
    assert not os.path.exists(store.root) or os.listdir(store.root) == []
    assert not os.path.exists(os.path.join(os.path.dirname(store.root), "evil"))


def test_make_two_ids(store):
    made(store, "a")
    made(store, "b")
    assert sorted(os.listdir(store.root)) == ["a", "b"]


def test_exists(store):
    assert not store.exists("c1")
    made(store, "c1")
    assert store.exists("c1")
    store.remove("c1")
    assert not store.exists("c1")


# ---- Store: locked ------------------------------------------------------------------


def test_locked_holds_and_releases(store):
    d = made(store, "c1")
    with store.locked("c1") as got:
        assert got == d
        other = os.open(os.path.join(d, "lock"), os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    other = os.open(os.path.join(d, "lock"), os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(other)


def test_locked_missing_container(store):
    with pytest.raises(NotFound, match='container "ghost" does not exist'):
        with store.locked("ghost"):
            pass


def test_locked_dir_without_lock_file(store):
    # a create that crashed between mkdir and creating its lock
    os.makedirs(os.path.join(store.root, "half"))
    with store.locked("half") as d:
        assert os.path.exists(os.path.join(d, "lock"))


# ---- Store: save / load -------------------------------------------------------------


def test_save_load_roundtrip(store):
    made(store, "c1")
    rec = record("c1", pid=1234, start=5678)
    store.save("c1", rec)
    assert store.load("c1") == rec
    assert sorted(os.listdir(store.dir("c1"))) == ["lock", "state.rec"]
    assert read_record(store.root, "c1") == rec
    assert os.stat(os.path.join(store.dir("c1"), "state.rec")).st_mode & 0o777 == 0o600


def test_save_overwrites(store):
    made(store, "c1")
    store.save("c1", record("c1", pid=1))
    store.save("c1", record("c1", pid=2))
    assert store.load("c1")["pid"] == 2
    assert sorted(os.listdir(store.dir("c1"))) == ["lock", "state.rec"]


def test_save_keeps_unicode_and_nesting(store):
    made(store, "c1")
    rec = record(
        "c1", annotations={"k": "caf\u00e9 \u2603", "n": "\n\"'"}, config={"a": [1, {"b": None}]}
    )
    store.save("c1", rec)
    assert store.load("c1") == rec


def test_load_missing_container(store):
    with pytest.raises(NotFound) as ei:
        store.load("nope")
    assert str(ei.value) == 'container "nope" does not exist'


def test_load_missing_root(tmp_path):
    with pytest.raises(NotFound, match='container "x" does not exist'):
        Store(str(tmp_path / "no" / "such" / "root")).load("x")


def test_load_root_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(NotFound):
        Store(str(f)).load("x")


def test_load_dir_without_state(store):
    made(store, "c1")  # create still in progress (or crashed)
    with pytest.raises(NotFound, match='container "c1" does not exist'):
        store.load("c1")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b'{"ociVersion": "1.2',
        b'{"ociVersion": "1.2.0", "pid": 12',  # truncated mid-number
        b"\xff\xfe\x00garbage",
        b"not json at all",
        b"[]",
        b"null",
        b"42",
        b'"a string"',
        b'{"ociVersion": "1.2.0", "id": "c1"}',  # no pid
    ],
    ids=[
        "empty",
        "brace",
        "truncated-string",
        "truncated-number",
        "binary",
        "text",
        "array",
        "null",
        "number",
        "string",
        "no-pid",
    ],
)
def test_load_bad_state_is_not_found(store, content):
    """In the legacy state.json, and as a state.rec's JSON payload (with a
    good checksum: what the record then holds is checked too)."""
    d = made(store, "c1")
    with open(os.path.join(d, "state.json"), "wb") as f:
        f.write(content)
    with pytest.raises(NotFound) as ei:
        store.load("c1")
    assert str(ei.value) == 'container "c1" does not exist'
    with open(os.path.join(d, "state.rec"), "wb") as f:
        f.write(b"OCIRS1J" + _checksum(content) + content)
    with pytest.raises(NotFound):
        store.load("c1")


def test_a_legacy_state_json_is_read(store):
    """A container an earlier version created (its record in JSON) still
    answers state, and is listed."""
    d = made(store, "c1")
    rec = record("c1", pid=1234, start=5678)
    with open(os.path.join(d, "state.json"), "w") as f:
        json.dump(rec, f)
    assert store.load("c1") == rec
    assert store.ids() == ["c1"]


def test_a_record_deeper_than_marshal_goes_is_kept_as_json(store):
    """A config may nest 10,000 deep (as runc takes); marshal stops at 2,000."""
    made(store, "c1")
    deep = jsonio.loads("[" * 5000 + "]" * 5000)  # as create reads it (the recursion limit raised)
    rec = record("c1", config={"x": deep})
    store.save("c1", rec)
    with open(os.path.join(store.dir("c1"), "state.rec"), "rb") as f:
        assert f.read(7) == b"OCIRS1J"
    assert store.load("c1") == rec
    assert read_record(store.root, "c1") == rec


def _checksum(payload: bytes) -> bytes:
    """state.rec's length and checksum fields, computed here on their own."""
    value = int.from_bytes(payload, "little") % (2**61 - 1)
    return len(payload).to_bytes(4, "little") + value.to_bytes(8, "little")


def test_the_checksum_catches_every_flipped_bit_and_a_dropped_zero(store):
    """2**k is never 0 modulo the prime 2**61 - 1: any one bit flip shows; and
    a trailing zero byte more or less (the same integer) shows in the length."""
    made(store, "c1")
    store.save("c1", record("c1", pid=12))
    p = os.path.join(store.dir("c1"), "state.rec")
    with open(p, "rb") as f:
        good = f.read()
    for i in range(19, len(good)):
        for bit in range(8):
            b = bytearray(good)
            b[i] ^= 1 << bit
            with open(p, "wb") as f:
                f.write(b)
            with pytest.raises(NotFound):
                store.load("c1")
    with open(p, "wb") as f:
        f.write(good + b"\0")  # the same integer: the length tells
    with pytest.raises(NotFound):
        store.load("c1")


def _damaged(good: bytes) -> list[bytes]:
    """Truncations, flipped bits, a wrong header or kind, and random bytes."""
    rnd = random.Random(7)
    out = [good[:n] for n in (0, 3, 6, 7, 10, 11, 18, 19, len(good) // 2, len(good) - 1)]
    for _ in range(300):
        b = bytearray(good)
        for _ in range(rnd.randint(1, 4)):
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        out.append(bytes(b))
    out += [b"OCIRS2" + good[6:], good[:6] + b"X" + good[7:], b"OCIRS1M" + good[7:19]]
    out += [rnd.randbytes(rnd.randint(0, 200)) for _ in range(100)]
    return out


def test_a_damaged_record_is_not_found_and_never_reaches_marshal(store, monkeypatch):
    """marshal is not meant for bytes it did not write (garbage can make it
    allocate gigabytes): the header and checksum stop every damaged record first."""
    import marshal

    made(store, "c1")
    store.save("c1", record("c1", pid=12, config={"process": {"args": ["sh"]}}))
    p = os.path.join(store.dir("c1"), "state.rec")
    with open(p, "rb") as f:
        good = f.read()
    calls = []
    real = marshal.loads
    monkeypatch.setattr(marshal, "loads", lambda b: calls.append(b) or real(b))
    for bad in _damaged(good):
        with open(p, "wb") as f:
            f.write(bad)
        with pytest.raises(NotFound):
            store.load("c1")
    assert calls == []
    with open(p, "wb") as f:
        f.write(good)
    assert store.load("c1")["pid"] == 12 and len(calls) == 1


def test_load_validates_id(store):
    with pytest.raises(OCIError, match="invalid container id"):
        store.load("../x")


# ---- Store: remove ---------------------------------------------------------------------


def test_remove(store):
    made(store, "c1")
    store.save("c1", record("c1"))
    open(os.path.join(store.dir("c1"), "exec.sock"), "w").close()
    open(os.path.join(store.dir("c1"), "init.pid"), "w").close()
    store.remove("c1")
    assert not os.path.exists(store.dir("c1"))
    assert os.path.isdir(store.root)


def test_remove_is_idempotent(store):
    made(store, "c1")
    store.remove("c1")
    store.remove("c1")
    store.remove("never-existed")
    assert os.listdir(store.root) == []


def test_remove_missing_root(tmp_path):
    """Nothing to remove is no error, and nothing is made on the way."""
    Store(str(tmp_path / "none")).remove("c1")
    assert not os.path.exists(tmp_path / "none")


def test_remove_with_empty_subdirectory(store):
    d = made(store, "c1")
    os.mkdir(os.path.join(d, "sub"))
    store.remove("c1")
    assert not os.path.exists(d)


def test_remove_leaves_other_containers(store):
    made(store, "a")
    made(store, "b")
    store.remove("a")
    assert os.listdir(store.root) == ["b"]


def test_remove_validates_id(store, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "file").write_text("keep")
    with pytest.raises(OCIError):
        store.remove("../victim")
    assert (victim / "file").read_text() == "keep"


# ---- Store: ids ---------------------------------------------------------------------------


def test_ids_missing_root(tmp_path):
    assert Store(str(tmp_path / "none")).ids() == []


def test_ids_empty_root(store):
    os.makedirs(store.root)
    assert store.ids() == []


def test_ids_only_dirs_with_state(store):
    for cid in ("zeta", "alpha", "mid"):
        made(store, cid)
        store.save(cid, record(cid))
    made(store, "half")  # no state.rec yet
    os.makedirs(os.path.join(store.root, "bare"))
    with open(os.path.join(store.root, "stray-file"), "w") as f:
        f.write("x")
    os.makedirs(os.path.join(store.root, "dirstate", "state.json"))  # not a file
    os.makedirs(os.path.join(store.root, "dirrec", "state.rec"))
    assert store.ids() == ["alpha", "mid", "zeta"]


# ---- status ---------------------------------------------------------------------------------


def test_status_pid_zero_is_stopped(store):
    made(store, "c1")
    assert store.status("c1", record("c1", pid=0)) == "stopped"
    assert store.status("c1", {}) == "stopped"
    assert store.status("c1", {"pid": None}) == "stopped"
    assert store.status("c1", {"pid": -1}) == "stopped"


def test_status_running(store):
    made(store, "c1")
    assert store.status("c1", running_record("c1")) == "running"


def test_status_created_while_exec_sock_exists(store):
    d = made(store, "c1")
    open(os.path.join(d, "exec.sock"), "w").close()
    assert store.status("c1", running_record("c1")) == "created"
    os.unlink(os.path.join(d, "exec.sock"))
    assert store.status("c1", running_record("c1")) == "running"


def test_status_exec_sock_of_dead_init_is_stopped(store):
    d = made(store, "c1")
    open(os.path.join(d, "exec.sock"), "w").close()
    rec = running_record("c1")
    rec["initStartTime"] += 1
    assert store.status("c1", rec) == "stopped"


def _freezer(tmp_path, v2: bool, frozen: bool) -> dict:
    """A cgroup record whose freezer file says frozen or not (no real cgroup)."""
    d = tmp_path / "cg"
    d.mkdir(exist_ok=True)
    if v2:
        (d / "cgroup.freeze").write_text("1\n" if frozen else "0\n")
        return {"layout": "v2", "path": str(d)}
    (d / "freezer.state").write_text("FROZEN\n" if frozen else "THAWED\n")
    return {"layout": "v1", "paths": {"freezer": str(d)}, "unified": None}


@pytest.mark.parametrize("v2", [False, True])
def test_status_paused_comes_from_the_freezer(store, tmp_path, v2):
    made(store, "c1")
    assert store.status("c1", running_record("c1", cgroup=_freezer(tmp_path, v2, True))) == "paused"
    assert (
        store.status("c1", running_record("c1", cgroup=_freezer(tmp_path, v2, False))) == "running"
    )
    assert store.status("c1", record("c1", pid=0, cgroup=_freezer(tmp_path, v2, True))) == "stopped"


@pytest.mark.parametrize("delta", [-1, 1, 10**6])
def test_status_pid_reuse_is_stopped(store, delta):
    made(store, "c1")
    rec = running_record("c1")
    rec["initStartTime"] += delta
    assert store.status("c1", rec) == "stopped"


def test_status_missing_start_time_is_stopped(store):
    made(store, "c1")
    rec = running_record("c1")
    del rec["initStartTime"]
    assert store.status("c1", rec) == "stopped"


def test_status_dead_pid(store):
    made(store, "c1")
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    wait_for_state(pid, "ZX")
    start = proc_start_time(pid)
    os.waitpid(pid, 0)
    rec = record("c1", pid=pid, start=start[0] if start else 0)
    assert store.status("c1", rec) == "stopped"


def test_status_nonexistent_pid(store):
    made(store, "c1")
    assert store.status("c1", record("c1", pid=2**22 + 12345, start=1)) == "stopped"


def test_status_zombie_is_stopped(store):
    made(store, "c1")
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    try:
        wait_for_state(pid, "Z")
        st = proc_start_time(pid)
        assert st is not None and st[1] == "Z"
        rec = record("c1", pid=pid, start=st[0])
        assert store.status("c1", rec) == "stopped"
        open(os.path.join(store.dir("c1"), "exec.sock"), "w").close()
        assert store.status("c1", rec) == "stopped"
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 3


def test_status_live_child(store):
    made(store, "c1")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            os.read(r, 1)
        finally:
            os._exit(0)
    os.close(r)
    try:
        wait_for_state(pid, "S")
        rec = record("c1", pid=pid, start=proc_start_time(pid)[0])
        assert store.status("c1", rec) == "running"
    finally:
        os.close(w)
        os.waitpid(pid, 0)
    assert store.status("c1", rec) == "stopped"


# ---- public -----------------------------------------------------------------------------------


OFFICIAL_STATE = (
    "/usr/share/gocode/src/github.com/opencontainers/runtime-spec/schema/state-schema.json"
)


def test_public_fields_are_the_specs_and_runcs():
    """Every field of the official state schema (or, without it installed, the
    runtime spec's list), plus the three runc adds and podman parses."""
    if os.path.exists(OFFICIAL_STATE):
        with open(OFFICIAL_STATE) as f:
            spec = set(json.load(f)["properties"])
    else:
        spec = {"ociVersion", "id", "status", "pid", "bundle", "annotations"}
    assert spec <= set(PUBLIC_FIELDS)
    assert set(PUBLIC_FIELDS) - spec == {"rootfs", "created", "owner"}
    assert list(PUBLIC_FIELDS) == list(SPEC_STATE_FIELDS)  # runc's order


def test_public_stopped(store):
    made(store, "c1")
    rec = record("c1", pid=4321, start=1)  # pid 4321 is not ours, or not with start 1
    out = store.public("c1", rec)
    assert list(out) == list(SPEC_STATE_FIELDS)
    assert out == {
        "ociVersion": "1.2.0",
        "id": "c1",
        "status": "stopped",
        "pid": 0,
        "bundle": "/bundles/c1",
        "rootfs": "/bundles/c1/rootfs",
        "created": "2024-05-01T12:00:00.000000000Z",
        "owner": "",
        "annotations": {"org.example/key": "value"},
    }
    validate_state(out)
    assert rec["pid"] == 4321  # the stored record is not modified


def test_public_running(store):
    made(store, "c1")
    out = store.public("c1", running_record("c1"))
    assert list(out) == list(SPEC_STATE_FIELDS)
    assert out["status"] == "running"
    assert out["pid"] == os.getpid()
    validate_state(out)


def test_public_created(store):
    d = made(store, "c1")
    open(os.path.join(d, "exec.sock"), "w").close()
    out = store.public("c1", running_record("c1"))
    assert out["status"] == "created"
    assert out["pid"] == os.getpid()
    validate_state(out)


def test_public_hides_private_fields(store):
    made(store, "c1")
    out = store.public("c1", running_record("c1", paused=False))
    assert "initStartTime" not in out
    assert "config" not in out
    assert "paused" not in out


def test_public_defaults_annotations(store):
    made(store, "c1")
    rec = record("c1")
    del rec["annotations"]
    out = store.public("c1", rec)
    assert out["annotations"] == {}
    assert list(out) == list(SPEC_STATE_FIELDS)


def test_public_is_json_serialisable(store):
    made(store, "c1")
    out = store.public("c1", record("c1"))
    assert json.loads(json.dumps(out)) == out


# ---- garbage records ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cg",
    [
        None,
        {"layout": "none"},
        {"layout": "v2", "path": "/sys/fs/cgroup/ociruntime/c1"},
        {
            "layout": "hybrid",
            "paths": {"cpu": "/sys/fs/cgroup/cpu,cpuacct/ociruntime/c1"},
            "unified": "/sys/fs/cgroup/unified/ociruntime/c1",
        },
        {"layout": "v1", "paths": {"pids": "/sys/fs/cgroup/pids/x"}, "unified": None},
        {"layout": "v2", "path": "/sys/fs/cgroup/a/b/c", "parents": ["/sys/fs/cgroup/a"]},
        {
            "layout": "hybrid",
            "paths": {"pids": "/sys/fs/cgroup/pids/a/b"},
            "unified": "/sys/fs/cgroup/unified/a/b",
            "parents": ["/sys/fs/cgroup/pids/a", "/sys/fs/cgroup/unified/a"],
        },
    ],
)
def test_cgroup_record_as_the_managers_write_it(cg):
    assert cgroup_record_ok(cg)


@pytest.mark.parametrize(
    "cg",
    [
        [],
        "v2",
        {"layout": "v3", "path": "/sys/fs/cgroup/x"},
        {"layout": "v2", "path": 5},
        {"layout": "v2", "path": "/sys/fs/cgroup/a\0b"},
        # a hierarchy's root holds the host's processes: destroy would kill them
        {"layout": "v2", "path": "/sys/fs/cgroup"},
        {"layout": "v2", "path": "/sys/fs/cgroup/"},
        {"layout": "v1", "paths": {"pids": "/sys/fs/cgroup/pids"}},
        {"layout": "hybrid", "paths": {}, "unified": "/sys/fs/cgroup/unified"},
        {"layout": "v2", "path": "/sys/fs/cgroup/x/../.."},
        {"layout": "v2", "path": "/etc/x"},
        {"layout": "v1", "paths": ["/sys/fs/cgroup/pids/x"]},
        {"layout": "v1", "paths": {"pids": None}},
        # parents: only directories above the record's own (delete rmdirs them)
        {"layout": "v2", "path": "/sys/fs/cgroup/a/b", "parents": "/sys/fs/cgroup/a"},
        {"layout": "v2", "path": "/sys/fs/cgroup/a/b", "parents": ["/sys/fs/cgroup/other"]},
        {"layout": "v2", "path": "/sys/fs/cgroup/a/b", "parents": ["/sys/fs/cgroup/a/b"]},
        {"layout": "v2", "path": "/sys/fs/cgroup/ab/c", "parents": ["/sys/fs/cgroup/a"]},
        {"layout": "v2", "path": "/sys/fs/cgroup/a/b", "parents": ["/sys/fs/cgroup"]},
        {"layout": "v1", "paths": {"pids": "/sys/fs/cgroup/pids/a/b"}, "parents": [5]},
    ],
    ids=repr,
)
def test_garbage_cgroup_record_is_not_acted_on(cg):
    assert not cgroup_record_ok(cg)


@pytest.mark.parametrize(
    "change",
    [
        {"pid": "1"},
        {"pid": True},
        {"pid": None},
        {"initStartTime": "1"},
        {"bundle": 5},
        {"rootfs": "/a\0b"},
        {"config": []},
        {"config": {"hooks": "x"}},
        {"annotations": []},
        {"cgroup": {"layout": "v2", "path": "/sys/fs/cgroup"}},
    ],
    ids=repr,
)
def test_load_garbage_record_is_not_found(store, change):
    """delete --force then removes it as it does a crashed create's."""
    made(store, "c1")
    store.save("c1", record("c1", **change))
    with pytest.raises(NotFound):
        store.load("c1")


def test_remove_empties_nested_dirs_and_follows_no_symlink(store, tmp_path):
    d = made(store, "c1")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    os.makedirs(os.path.join(d, "a", "b"))
    with open(os.path.join(d, "a", "b", "f"), "w") as f:
        f.write("x")
    os.symlink(outside, os.path.join(d, "a", "link"))
    store.remove("c1")
    assert not os.path.exists(d)
    assert (outside / "keep").read_text() == "x"
