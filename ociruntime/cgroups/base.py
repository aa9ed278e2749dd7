"""What every cgroup manager shares: file writes with clear errors, removal."""

from __future__ import annotations

import errno
import time

from .. import oslite as os
from ..errors import OCIError


def write(path: str, value: str) -> None:
    """One cgroup file write; a failure names the file, the value and the reason."""
    write_each(path, [value])


def write_each(path: str, values: list[str]) -> None:
    """Writes to one cgroup file, in order, through one open file (devices.allow
    takes one rule per write); a failure names the file, the value and the reason."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        raise write_error(path, None, e) from None
    try:
        for value in values:
            try:
                os.write(fd, value.encode())
            except OSError as e:
                raise write_error(path, value, e) from None
    finally:
        os.close(fd)


def try_write(path: str, value: str) -> tuple[int, OCIError] | None:
    """One cgroup file write; on failure (errno, the error to raise) instead of raising."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as e:
        return e.errno, write_error(path, None, e)
    try:
        os.write(fd, value.encode())
    except OSError as e:
        return e.errno, write_error(path, value, e)
    finally:
        os.close(fd)
    return None


def write_error(path: str, value: str | None, e: OSError) -> OCIError:
    """What failed: the open of ``path`` (``value`` None) or the write of ``value``."""
    if value is None:
        if isinstance(e, FileNotFoundError):
            return OCIError(f"cgroup file {path} does not exist: this kernel or hierarchy lacks it")
        return OCIError(f"cgroup file {path}: {e.strerror}")
    return OCIError(f"writing {value!r} to {path}: {e.strerror}")


def read(path: str, default: str = "") -> str:
    try:
        return os.read_file(path).decode()
    except OSError:
        return default


def read_int(path: str) -> int:
    v = read(path).strip()
    if v in ("", "max"):
        return 0
    try:
        return int(v)
    except ValueError:
        return 0


def kv(path: str) -> dict[str, int]:
    """'key value' lines (memory.stat, cpu.stat, memory.events) as a dict."""
    out = {}
    for line in read(path).splitlines():
        k, _, v = line.partition(" ")
        try:
            out[k] = int(v)
        except ValueError:
            pass
    return out


def sub_paths(spec: str | None, controllers: list[str]) -> dict[str, str]:
    """runc's exec --cgroup: "PATH" for every controller, or "CTL[,CTL]:PATH" (repeatable
    with ";"); {controller or "": relative path}.  No "..": it must stay below."""
    out: dict[str, str] = {}
    for part in (spec or "").split(";"):
        if not part:
            continue
        ctls, sep, path = part.rpartition(":")
        path = path.strip("/")
        if not path or ".." in path.split("/"):
            raise OCIError(f"--cgroup {spec!r}: expected a sub-cgroup path without '..'")
        for c in ctls.split(",") if sep else ["", *controllers]:
            out[c] = path
    return out


def existing(dirs: list[str]) -> None:
    """Each of ``dirs`` must exist (--cgroup names sub-cgroups the user made)."""
    for d in dirs:
        if not os.path.isdir(d):
            raise OCIError(f"--cgroup: {d} does not exist")


def add(targets: tuple[list[str], str | None], pid: int) -> None:
    """Move ``pid`` into the v1 directories and the cgroup2 one of ``targets``
    (Manager.targets), through cgroup.procs.  The first move after an idle
    moment waits for an RCU grace period (5-25 ms); see :func:`join_self`
    for what avoids it."""
    v1, v2 = targets
    for d in v1 + ([v2] if v2 else []):
        write(os.path.join(d, "cgroup.procs"), str(pid))


def join_self(v1: list[str], root_fd: int | None = None) -> None:
    """Move the calling thread, which must be its process's only one, into
    the v1 directories ``v1``: "0" to each ``tasks`` file.

    Writing a pid (or "0") to cgroup.procs moves a whole thread group, for
    which the kernel takes its global cgroup_threadgroup_rwsem for writing,
    and when no migration happened in the last RCU grace period that waits
    for one (5-25 ms on the project's VM).  A single thread moving itself
    skips that lock (Linux 6.0, "cgroup: Optimize single thread
    migration"): 0.05 ms a hierarchy.  The cgroup2 side has no such
    shortcut; the init is forked into it instead (clone3 with
    CLONE_INTO_CGROUP: syscalls.clone_fork).  ``root_fd``: the
    host's root, for a caller that has joined another mount namespace."""
    for d in v1:
        path = d + "/tasks"
        try:
            if root_fd is None:
                fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            else:
                fd = os.open(path.lstrip("/"), os.O_WRONLY | os.O_CLOEXEC, dir_fd=root_fd)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        except OSError as e:
            raise OCIError(f"joining cgroup {d}: {e.strerror}") from None


def settle(read, want, what: str, tries: int = 2000) -> None:
    """Poll ``read()`` (1 ms apart, up to 2 s) until it returns ``want``:
    freezing and thawing take effect asynchronously, on v1 and v2 alike."""
    import time

    for _ in range(tries):
        if read() == want:
            return
        time.sleep(0.001)
    raise OCIError(f"cgroup {what}")


def check_before_update(res: dict, usage_file: str) -> None:
    """memory.checkBeforeUpdate: a limit below what the cgroup uses now is refused
    (runtime-spec, as runc does) rather than written and then OOM-killing it."""
    mem = res.get("memory") or {}
    if mem.get("checkBeforeUpdate") and "limit" in mem:
        usage = read_int(usage_file)
        if 0 <= mem["limit"] < usage:
            raise OCIError(f"memory limit {mem['limit']} is below the current usage {usage}")


def procs(path: str) -> list[int]:
    """The processes of the cgroup ``path`` itself (runc's GetPids)."""
    return [int(x) for x in read(os.path.join(path, "cgroup.procs")).split()]


def all_procs(path: str) -> list[int]:
    """The processes of ``path`` and of every cgroup below it (runc's
    GetAllPids: what ps and kill --all act on)."""
    out = []
    for d, _, _ in os.walk(path):
        out += procs(d)
    return out


def kill_all(pids, freeze=None, thaw=None) -> None:
    """SIGKILL every process ``pids()`` lists, until none is left (forks are
    stopped by freezing first when the freezer is there)."""
    if not pids():
        return
    if freeze is not None:
        try:
            freeze()
        except OCIError:
            freeze = None
    for _ in range(200):
        left = pids()
        if not left:
            break
        for p in left:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        if freeze is not None:
            thaw()  # SIGKILL is acted on only once the tasks run
            freeze = None
        time.sleep(0.005)


def rmdir(path: str, tries: int = 50, keep_children: bool = False) -> bool:
    """Remove a cgroup, children first; True once it is gone.

    EBUSY means tasks are still leaving, a child cgroup exists, or a child
    removed a moment ago is still going offline (the kernel does that
    asynchronously): children are looked for (scandir: the directory's
    d_type, no stat per file), removed, or with ``keep_children`` the
    answer is False and the cgroup stays; otherwise retry briefly."""
    for i in range(tries):
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return True
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise OCIError(f"removing cgroup {path}: {e.strerror}") from None
            err = e
        try:
            subs = [d.path for d in os.scandir(path) if d.is_dir(follow_symlinks=False)]
        except FileNotFoundError:
            return True
        if subs and keep_children:
            return False
        for sub in subs:
            rmdir(sub, tries)
        if subs:
            continue
        if i == tries - 1:
            break
        time.sleep(0.01 * (i + 1))
    raise OCIError(f"removing cgroup {path}: {err.strerror}")


def makedirs(path: str) -> list[str]:
    """mkdir -p; the directories it created, top first (to copy cpuset values into)."""
    made = []
    todo = []
    p = path
    while not os.path.isdir(p):
        todo.append(p)
        p = os.path.dirname(p)
    for d in reversed(todo):
        for attempt in (1, 2):
            try:
                os.mkdir(d, 0o755)
                made.append(d)
            except FileExistsError:
                pass
            except FileNotFoundError:
                if attempt == 1:  # a delete removed the shared parent just now: again
                    makedirs(os.path.dirname(d))
                    continue
                raise OCIError(f"creating cgroup {d}: no such parent") from None
            except OSError as e:
                raise OCIError(f"creating cgroup {d}: {e.strerror}") from None
            break
    return made


def remove_made(made: list[str]) -> None:
    """Remove the directories a manager created (deepest first), and nothing
    else: a cgroup the caller made beforehand stays."""
    for d in sorted(made, key=len, reverse=True):
        rmdir(d)


def remove_parents(parents: list[str]) -> None:
    """The directories above the container's cgroup that its create made
    (a cgroupsPath such as /a/b or a/b made /a), deepest first, each only
    while it is empty: another container, or the caller, may use it since.
    The runtime spec: delete removes what create made (runc leaves them)."""
    for d in sorted(parents, key=len, reverse=True):
        try:
            rmdir(d, tries=10, keep_children=True)  # a child just removed: going offline
        except OCIError:
            pass  # busy: in use


DEFAULT_PARENT = "ociruntime"


def other_parents(parents: list[str], dirs: list[str]) -> list[str]:
    """``parents`` less the default parent of ``dirs``, which
    rmdir_default_parent has already taken (removed, or found in use)."""
    taken = {
        os.path.dirname(d) for d in dirs if os.path.basename(os.path.dirname(d)) == DEFAULT_PARENT
    }
    return [p for p in parents if p not in taken]


def rmdir_default_parent(path: str) -> bool:
    """The default cgroupsPath is /ociruntime/<id>: remove /ociruntime once it
    has no container left.  False while others use it (then a v1 manager need
    not try its other hierarchies: those containers are in all of them, and
    the last one's delete removes the parents)."""
    parent = os.path.dirname(path)
    if os.path.basename(parent) != DEFAULT_PARENT:
        return True
    try:
        return rmdir(parent, keep_children=True)
    except OCIError:
        return False


def enable_controllers(root: str, path: str) -> None:
    """Enable every available controller on the way from ``root`` down to ``path``."""
    d = root
    for part in os.path.relpath(path, root).split("/"):
        ctls = read(os.path.join(d, "cgroup.controllers")).split()
        have = set(read(os.path.join(d, "cgroup.subtree_control")).split())
        want = [c for c in ctls if c not in have]
        if want:
            try:
                write(os.path.join(d, "cgroup.subtree_control"), " ".join("+" + c for c in want))
            except OCIError as e:
                raise OCIError(f"enabling controllers {' '.join(want)} in {d}: {e.msg}") from None
        d = os.path.join(d, part)
