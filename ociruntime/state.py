"""The on-disk state store: one directory per container under ``--root``.

Layout of ``<root>/<id>/``:

``lock``
    flock(2)ed for the duration of every operation on the container.
``state.rec``
    the container's record, written atomically (temp file + rename) once
    the container is created; its absence means a create that never
    finished.  Not JSON: a marshal dump (JSON when the config nests deeper
    than marshal's 2,000 levels) behind a header with a checksum, so that
    the calls that only read it (start, state, kill, delete) need not load
    the ``_json`` extension (0.5 ms of each call).  A damaged record fails
    the checksum and is never given to marshal, which is not meant for bytes
    it did not write (garbage can make it allocate gigabytes).  The checksum
    is the payload read as one little-endian integer modulo the Mersenne
    prime 2**61 - 1 (it takes no module: binascii's CRC-32 cost an import,
    0.1 ms), with the length beside it; any one flipped bit changes it, and
    random damage passes once in 2**61.  ``state.json``, what earlier
    versions wrote, is still read for the containers they created.
``init.pid``
    the init's host pid, written as soon as it is forked, so that
    ``delete --force`` can reap a create that was killed half-way.
``exec.sock``
    exists from create until start: the init blocks in accept(2) on it.

Status is derived, never stored: the init's pid must be alive with the start
time recorded at create (a reused pid reads as stopped); ``exec.sock`` still
present means created.
"""

import errno
import fcntl
import marshal

from . import jsonio
from . import oslite as os
from .errors import NotFound, OCIError

DEFAULT_ROOT = "/run/ociruntime"
RECORD = "state.rec"
LEGACY_RECORD = "state.json"  # JSON, from versions before state.rec
# then the payload's kind (M: marshal 4, J: JSON), its length (4 bytes) and
# checksum (8 bytes, _checksum), little-endian, and the payload
_MAGIC = b"OCIRS1"
_HEAD = 19
_M61 = (1 << 61) - 1


def _is_dir(mode: int) -> bool:
    return mode & 0o170000 == 0o040000  # stat.S_ISDIR without importing stat


def default_root() -> str:
    """/run/ociruntime for root; $XDG_RUNTIME_DIR/ociruntime for anyone else (rootless)."""
    if os.geteuid() == 0:
        return DEFAULT_ROOT
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    return os.path.join(xdg, "ociruntime") if xdg else f"/tmp/ociruntime-{os.geteuid()}"


_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-")
PUBLIC_FIELDS = (
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


def validate_id(cid: str) -> None:
    """Container ids become directory names: no '/', no '..', no leading '.'."""
    if not cid:
        raise OCIError("container id cannot be empty")
    if len(cid) > 255 or not _ID_CHARS.issuperset(cid) or cid.startswith("."):
        raise OCIError(
            f'invalid container id "{cid}": use letters, digits and _ . + - '
            "(not starting with '.', at most 255 characters: it names a directory)"
        )


def atomic_write(path: str, data: bytes | str, mode: int = 0o644) -> None:
    """Readers see the old file or the new one, never a part; no temp file is left."""
    if isinstance(data, str):
        data = data.encode()
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    except OSError as e:
        e.filename = path  # the file asked for, not our temporary
        raise
    try:
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError) and e.filename in (tmp, None):
            e.filename, e.filename2 = path, None  # ENOSPC from write(2) names no file
        raise


def proc_start_time(pid: int) -> tuple[int, str] | None:
    """(start time in clock ticks, state letter) of ``pid``, None if gone."""
    try:
        data = os.read_file(f"/proc/{pid}/stat")
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(b")") + 2 :].split()
    return int(rest[19]), rest[0].decode()


class Store:
    """State directories under one root; see the module docstring."""

    def __init__(self, root: str | None = None) -> None:
        self.root = os.path.abspath(root or default_root())

    def dir(self, cid: str) -> str:
        validate_id(cid)
        return os.path.join(self.root, cid)

    def make(self, cid: str) -> int:
        """Create the container's directory and return its held lock fd.

        The directory is made under a name no id can have (``.new-PID``),
        its lock taken there, and only then renamed into place: a ``delete
        --force`` that comes between never sees it without its lock held
        (it took such a directory for a crashed create's and removed it)."""
        d = self.dir(cid)
        if not os.path.isdir(self.root):
            try:
                os.makedirs(self.root, mode=0o711, exist_ok=True)
            except FileExistsError:
                raise OCIError(f"--root {self.root}: not a directory") from None
            except OSError as e:
                raise OCIError(f"--root {self.root}: {e.strerror.lower()}") from None
        try:
            try:
                os.lstat(d)
            except FileNotFoundError:
                pass
            else:
                raise FileExistsError
            # ours alone while we live (a stale one's creator, with our pid, is dead)
            tmp = os.path.join(self.root, f".new-{os.getpid()}")
            if os.path.isdir(tmp):
                _empty(tmp)
                os.rmdir(tmp)
            os.mkdir(tmp, 0o711)
        except FileExistsError:
            raise OCIError(f"container with id exists: {cid}") from None
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:
                raise OCIError(
                    f"container id of {len(cid)} characters is too long for a directory name in {self.root}"
                ) from None
            raise OCIError(f"creating the state directory {d}: {e.strerror}") from None
        try:
            fd = os.open(os.path.join(tmp, "lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                os.rename(tmp, d)  # fails if another create got there first (not empty)
            except BaseException:
                os.close(fd)
                raise
        except BaseException as e:
            _empty(tmp)
            os.rmdir(tmp)
            if isinstance(e, OSError) and e.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise OCIError(f"container with id exists: {cid}") from None
            if isinstance(e, OSError):
                raise OCIError(f"creating the state directory {d}: {e.strerror}") from None
            raise
        return fd

    def locked(self, cid: str) -> "_Locked":
        """``with store.locked(id) as dir:`` holds the container's flock."""
        return _Locked(self, cid)

    def load(self, cid: str) -> dict:
        """The stored record; NotFound when absent, unreadable or not shaped as
        create writes it (a half-done create, or garbage): ``delete --force``
        then removes the directory as it does after a crashed create."""
        d = self.dir(cid)
        try:
            try:
                rec = decode_record(os.read_file(os.path.join(d, RECORD)))
            except FileNotFoundError:
                rec = jsonio.loads(os.read_file(os.path.join(d, LEGACY_RECORD)))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError):
            raise NotFound(cid) from None
        if not record_ok(rec):
            raise NotFound(cid)
        return rec

    def save(self, cid: str, rec: dict) -> None:
        atomic_write(os.path.join(self.dir(cid), RECORD), encode_record(rec), 0o600)

    def has_record(self, cid: str) -> bool:
        """Whether the create finished (a record, of any version, is there)."""
        return _has_record(self.dir(cid))

    def exists(self, cid: str) -> bool:
        """A state directory itself (a symlink there is damage, never followed)."""
        try:
            return _is_dir(os.lstat(self.dir(cid)).st_mode)
        except OSError:
            return False

    def remove(self, cid: str) -> None:
        """Everything in the directory, then the directory.  A command that was
        waiting for our lock may recreate the lock file meanwhile (see _Locked):
        then again."""
        d = self.dir(cid)
        for attempt in range(20):
            try:
                _empty(d)
                os.rmdir(d)
                return
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return
                if e.errno != errno.ENOTEMPTY or attempt == 19:
                    raise

    def discard_non_directory(self, cid: str) -> None:
        """What is at the id's path when it is no state directory (a file, a
        symlink: damage; delete --force leaves the id free)."""
        try:
            if not _is_dir(os.lstat(self.dir(cid)).st_mode):
                os.unlink(self.dir(cid))
        except FileNotFoundError:
            pass

    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if _has_record(os.path.join(self.root, n)))

    def status(self, cid: str, rec: dict) -> str:
        pid = rec.get("pid") or 0
        if pid <= 0:
            return "stopped"
        st = proc_start_time(pid)
        if st is None or st[0] != rec.get("initStartTime") or st[1] in ("Z", "X", "x"):
            return "stopped"
        if cgroup_frozen(rec.get("cgroup")):
            return "paused"
        if os.path.exists(os.path.join(self.dir(cid), "exec.sock")):
            return "created"
        return "running"

    def public(self, cid: str, rec: dict) -> dict:
        """The state as the runtime spec (and runc) print it."""
        out = {k: rec[k] for k in PUBLIC_FIELDS if k in rec}
        out["status"] = status = self.status(cid, rec)
        if status == "stopped":
            out["pid"] = 0
        out.setdefault("annotations", {})
        return {k: out[k] for k in PUBLIC_FIELDS if k in out}

    def state_text(self, cid: str) -> str:
        """What ``state ID`` prints (less its newline): the one writer for the
        CLI's command and entry.py's way round the CLI."""
        return jsonio.dumps(self.public(cid, self.load(cid)), indent=2)


def _checksum(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "little") + (int.from_bytes(payload, "little") % _M61).to_bytes(
        8, "little"
    )


def _has_record(d: str) -> bool:
    return any(os.path.isfile(os.path.join(d, n)) for n in (RECORD, LEGACY_RECORD))


def encode_record(rec: dict) -> bytes:
    """state.rec's bytes (module docstring)."""
    try:
        kind, payload = b"M", marshal.dumps(rec, 4)
    except ValueError:  # nested deeper than marshal goes (a config may nest 10,000 deep)
        kind, payload = b"J", jsonio.dumps(rec).encode()
    return _MAGIC + kind + _checksum(payload) + payload


def decode_record(data: bytes) -> object:
    """What encode_record wrote; ValueError for anything else (damage: a wrong
    header or checksum, so marshal never sees bytes it did not write)."""
    kind, payload = data[6:7], data[_HEAD:]
    if data[:6] != _MAGIC or data[7:_HEAD] != _checksum(payload):
        raise ValueError("not a state record")
    if kind == b"J":
        return jsonio.loads(payload)
    if kind != b"M":
        raise ValueError("not a state record")
    try:
        return marshal.loads(payload)
    except (EOFError, TypeError) as e:  # (a checksum match: only a writer of other bytes)
        raise ValueError("not a state record") from e


def _empty(d: str) -> None:
    """Remove what ``d`` holds, whatever it is: only the runtime writes there,
    but a crash (or a hand) may leave anything.  unlink(2) never follows a
    symlink, and a directory is emptied through its own path below ``d``."""
    for n in os.listdir(d):
        p = os.path.join(d, n)
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            _empty(p)
            os.rmdir(p)


_CG_ROOT = "/sys/fs/cgroup/"


def _cgroup_dir(p: object, depth: int) -> bool:
    """``p`` names a directory at least ``depth`` levels below /sys/fs/cgroup,
    without ".." or a NUL: never a hierarchy's root, whose processes are the host's."""
    if type(p) is not str or not p.startswith(_CG_ROOT) or "\0" in p:
        return False
    parts = p[len(_CG_ROOT) :].split("/")
    return len(parts) >= depth and all(x and x != "." and x != ".." for x in parts)


def cgroup_record_ok(cg: object) -> bool:
    """A cgroup record (state.rec's "cgroup", cgroup.json) as the managers'
    ``record()`` write it; anything else is not acted on (delete --force then
    leaves the cgroup alone and still removes the state directory)."""
    if cg is None:
        return True
    if type(cg) is not dict:
        return False
    layout = cg.get("layout")
    if layout == "none":
        return True
    if layout == "v2":
        if cg.get("driver") == "systemd":  # its unit is stopped on delete: one of ours only
            unit = cg.get("unit")
            return (
                _cgroup_dir(cg.get("path"), 2)
                and type(unit) is str
                and unit.endswith(".scope")
                and cg["path"].rpartition("/")[2] == unit
            )
        return (
            "driver" not in cg
            and _cgroup_dir(cg.get("path"), 1)
            and _parents_ok(cg.get("parents"), [cg["path"]])
        )
    if layout in ("v1", "hybrid"):
        paths, unified = cg.get("paths"), cg.get("unified")
        return (
            type(paths) is dict
            and all(type(k) is str and _cgroup_dir(v, 2) for k, v in paths.items())
            and (unified is None or _cgroup_dir(unified, 2))
            and _parents_ok(cg.get("parents"), [*paths.values(), *([unified] if unified else [])])
        )
    return False


def _parents_ok(parents: object, dirs: list[str]) -> bool:
    """A record's "parents" (cgroups.base.remove_parents): absent, or cgroup
    directories each above one of the record's own."""
    if parents is None:
        return True
    return type(parents) is list and all(
        _cgroup_dir(p, 1) and any(d.startswith(p + "/") for d in dirs) for p in parents
    )


def record_ok(rec: object) -> bool:
    """The fields the commands use have the types create writes."""
    if type(rec) is not dict or type(rec.get("pid")) is not int:
        return False
    for k in ("ociVersion", "id", "bundle", "rootfs", "created", "owner"):
        v = rec.get(k)
        if type(v) is not str or "\0" in v:
            return False
    return (
        type(rec.get("initStartTime")) in (int, type(None))
        and type(rec.get("annotations", {})) is dict
        and type(rec.get("config", {})) is dict
        and type(rec.get("config", {}).get("hooks", {})) is dict
        and cgroup_record_ok(rec.get("cgroup"))
    )


class _Locked:
    """(A class, not contextlib: contextlib costs ~1 ms on every call.)"""

    def __init__(self, store: Store, cid: str) -> None:
        self.dir = store.dir(cid)
        self.cid = cid
        self.fd = -1

    def __enter__(self) -> str:
        lock = os.path.join(self.dir, "lock")
        try:
            self.fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            if not os.path.isdir(self.dir):
                raise NotFound(self.cid) from None
            # a create crashed before taking its lock: still ours to clean
            self.fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except IsADirectoryError:  # not ours, but flock(2) takes any fd: delete can go on
            self.fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            # the holder we waited for may have been a delete, which unlinked the
            # lock with the rest: then the container is gone
            try:
                same = os.stat(lock).st_ino == os.fstat(self.fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                raise NotFound(self.cid)
        except BaseException:
            os.close(self.fd)
            raise
        return self.dir

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def cgroup_frozen(cg: dict | None) -> bool:
    """Whether the cgroup of this record (``Manager.record()``) is frozen or
    freezing: the one reader, for ``status`` (which must stay cheap: no
    cgroups import) and the managers' ``frozen()``."""
    if not cg:
        return False
    try:
        if cg.get("layout") == "v2":
            return os.read_file(os.path.join(cg["path"], "cgroup.freeze")).strip() == b"1"
        d = (cg.get("paths") or {}).get("freezer")
        if not d:
            return False
        return os.read_file(os.path.join(d, "freezer.state")).strip() in (b"FROZEN", b"FREEZING")
    except OSError:
        return False
