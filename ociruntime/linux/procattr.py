"""The last steps before the container's process runs: user, limits, exec.

Everything is imported at module load: after pivot_root the host's Python
library is out of reach.  Order matters: resource limits and oom_score_adj while still privileged; the
executable is looked up after the user switch so permissions are the user's;
signal dispositions and the fd table are cleaned last, right before execve.
"""

from __future__ import annotations

import _signal
import _stat as stat  # what stat.py re-exports, without running stat.py (0.06 ms)
import errno

from .. import oslite as os
from ..errors import OCIError, SpecError
from . import syscalls as sc

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def fork_into(cgroup2: str | None, sibling: bool = False) -> tuple[int, bool]:
    """fork(2), the child born in the cgroup2 directory ``cgroup2`` when one is
    given (no migration, so no grace period: see cgroups.base.join_self);
    with ``sibling``, the child is our parent's (CLONE_PARENT), which then
    waits for it as for its own, with no need to be a subreaper.  (pid, or 0
    in the child; whether the child was born in ``cgroup2``.)  A kernel
    without clone3 into a cgroup (before 5.7): a plain fork or clone, and the
    caller moves the child."""
    if not cgroup2 and not sibling:
        return os.fork(), False
    flags = sc.CLONE_PARENT if sibling else 0
    fd = os.open(cgroup2, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) if cgroup2 else None
    try:
        return sc.clone_fork(flags, fd, cgroup2 or ""), fd is not None
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.E2BIG):
            into = f" into cgroup {cgroup2}" if cgroup2 else ""
            raise OCIError(f"forking the container process{into}: {e.strerror}") from None
        return (sc.clone_legacy(flags) if sibling else os.fork()), False
    finally:
        if fd is not None:
            os.close(fd)


def take_over(cgroup2: str | None) -> tuple[int, bool] | None:
    """Go on in a child that takes this process's address space over, and
    end this process: the child is our parent's (CLONE_PARENT), born in
    the cgroup2 directory ``cgroup2`` if one is given, and in the pid and
    time namespaces made or joined for our children.

    A fork would copy the page tables, then every page either side writes
    (about 500 faults, 3 ms of CPU per container on the project's VM:
    bench/page_faults.py), and tear down this process's copy when it
    exits.  Here the child runs in our memory (CLONE_VM) while we are held
    in the kernel (CLONE_VFORK), and its first step, a write to a pipe
    armed with ``syscalls.kill_on_input``, makes SIGKILL pending for us:
    we can never run again, which we must not, since the child has used
    our stack and heap.  The child returns once we have left the memory
    (EOF on that pipe).  The parent's exit status is SIGKILL's.

    In the child: (its pid as our parent sees it, whether it was born in
    ``cgroup2``).  None, still in this process, on a kernel without clone3
    (before 5.3) or without clone3 into a cgroup (5.7), or where the pipe
    cannot be armed (a seccomp filter around the runtime refusing fcntl's
    F_SETSIG, say): fork instead."""
    r, w = os.pipe()
    fd = None
    try:
        try:
            sc.kill_on_input(r)
        except OSError:
            return None
        if cgroup2:
            fd = os.open(cgroup2, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            pid = sc.clone_taking_over(sc.CLONE_PARENT, fd, cgroup2 or "")
        except OSError as e:
            if e.errno not in (errno.ENOSYS, errno.E2BIG):
                into = f" into cgroup {cgroup2}" if cgroup2 else ""
                raise OCIError(f"forking the container process{into}: {e.strerror}") from None
            return None
        # the child's first step, before even the fd's close (which is why this
        # does not share fork_into's clean-up): the parent is as good as dead
        os.write(w, b"\0")
        # ... but not gone: until it has left our memory, the kernel counts us
        # as sharing it, and refuses what only a single-threaded process may
        # do (setns into a time namespace: EUSERS).  It leaves the memory
        # before it closes its fds, so EOF on the pipe, whose only other
        # write end is the parent's, means it has.
        os.close(w)
        w = -1
        while os.read(r, 64):
            pass
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)
        if fd is not None:
            os.close(fd)
    return pid, fd is not None


def scrub_environ() -> None:
    """Zero this process's initial environment block, the one
    ``/proc/PID/environ`` shows: it is the runtime's caller's environment,
    which is none of the container's business, and an exec'd process is
    visible to the container before it execs.  (os.environ is a copy made
    at start-up; nothing here reads the block again.)  Best effort: a
    kernel that refuses the write leaves it as it was."""
    try:
        fields = os.read_file("/proc/self/stat").rpartition(b")")[2].split()
        # proc(5): env_start and env_end are fields 50 and 51; the split starts at field 3
        start, end = int(fields[47]), int(fields[48])
        fd = os.open("/proc/self/mem", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.pwrite(fd, bytes(end - start), start)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        pass


def env_dict(env: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        k, sep, v = item.partition("=")
        if sep and k:
            out[k] = v
    return out


def set_oom_score_adj(value: int) -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as e:
        why = " (lowering it needs CAP_SYS_RESOURCE)" if value < 0 and e.errno == 13 else ""
        raise SpecError(
            "/process/oomScoreAdj", f"setting oom_score_adj to {value}: {e.strerror}{why}"
        ) from None


# RLIMIT_NOFILE's soft limit, set by lower_nofile right before execve (the
# init still opens fds until then: the exec socket, hooks' pipes, a seccomp
# listener); lowering a soft limit needs no privilege, so it cannot fail then
_late_nofile: tuple[int, int] | None = None
NOFILE_MIN_HARD = 16  # what the init needs until execve, at most


def set_rlimits(rlimits: list[dict]) -> None:
    global _late_nofile
    _late_nofile = None
    for i, r in enumerate(rlimits):
        name = r["type"]
        res = sc.RLIMITS.get(name)
        if res is None:
            raise SpecError(f"/process/rlimits/{i}/type", f'unknown resource limit "{name}"')
        soft, hard = r["soft"], r["hard"]
        if name == "RLIMIT_NOFILE":
            if r["hard"] < NOFILE_MIN_HARD:  # (runc: "too many open files")
                raise SpecError(
                    f"/process/rlimits/{i}",
                    f"RLIMIT_NOFILE: a hard limit of {r['hard']} leaves the container's"
                    f" init too few fds to start (at least {NOFILE_MIN_HARD})",
                )
            if r["soft"] < r["hard"]:
                _late_nofile, soft = (soft, hard), hard
        try:
            sc.setrlimit(res, soft, hard)
        except OSError as e:
            # callers (podman) match the errno's text
            why = os.strerror(e.errno).lower()
            if e.errno == errno.EPERM:
                why += " (above the hard limit" + (
                    ", or fs.nr_open)" if res == sc.RLIMITS["RLIMIT_NOFILE"] else ")"
                )
            raise SpecError(
                f"/process/rlimits/{i}", f"setrlimit {name} {r['soft']}/{r['hard']}: {why}"
            ) from None


def lower_nofile() -> None:
    """The soft RLIMIT_NOFILE set_rlimits left for now (before a seccomp filter
    is loaded, which might refuse the call)."""
    if _late_nofile is not None:
        sc.setrlimit(sc.RLIMITS["RLIMIT_NOFILE"], *_late_nofile)


def setgroups_denied(path: str = "/proc/self/setgroups") -> bool:
    """A rootless user namespace denies setgroups(2) (the kernel requires it).
    Read while ``/proc`` is still the host's: after an exec'd process joins the
    container's mount namespace, /proc is the container's (which may lie, and
    has no /proc/self for a process outside its pid namespace)."""
    try:
        return os.read_file(path).strip() == b"deny"
    except OSError:
        return False


def set_user(user: dict, groups_denied: bool) -> None:
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    groups = user.get("additionalGids") or []
    try:
        if not groups_denied:
            os.setgroups(groups)
        elif groups:
            raise SpecError(
                "/process/user/additionalGids",
                "additional groups need setgroups, which a rootless user namespace denies",
            )
        os.setgid(gid)
        os.setuid(uid)
    except OSError as e:
        raise SpecError(
            "/process/user", f"switching to uid {uid} gid {gid}: {e.strerror}"
        ) from None


# /etc/passwd is the image's, so it may be anything: a symlink to /dev/zero, a
# FIFO, one endless line.  runc's scanner stops at a 64 KiB line ("token too
# long"); we also stop at 16 MiB of file (a directory of 100,000 users is 6).
PASSWD_MAX_LINE = 64 << 10
PASSWD_MAX = 16 << 20


def home_of(uid: int, path: str = "/etc/passwd") -> str:
    """$HOME from the container's /etc/passwd, '/' when it has none or no entry
    for ``uid``.  Read in bounded chunks from a regular file only (opened
    O_NONBLOCK, so a FIFO cannot hang the init); anything else is an OCIError.
    A symlink is followed: this runs after pivot_root, inside the container."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return "/"  # none, or not readable by this user: no entry
    where = f"{path} in the container"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OCIError("not a regular file (looking up $HOME)", where)
        want = str(uid).encode()
        rest, total = b"", 0
        while True:
            chunk = os.read(fd, 65536)
            total += len(chunk)
            if total > PASSWD_MAX:
                raise OCIError(f"larger than {PASSWD_MAX >> 20} MiB (looking up $HOME)", where)
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop() if chunk else b""
            if len(rest) > PASSWD_MAX_LINE:
                raise OCIError(
                    f"a line longer than {PASSWD_MAX_LINE >> 10} KiB: token too long", where
                )
            for line in lines:
                parts = line.split(b":")
                if len(parts) >= 6 and parts[2] == want:
                    return parts[5].decode(errors="replace") or "/"
            if not chunk:
                return "/"
    except OSError as e:
        raise OCIError(f"reading it: {e.strerror.lower()}", where) from None
    finally:
        os.close(fd)


def find_executable(name: str, env: dict[str, str]) -> str:
    """args[0] as execve(2) will take it, with runc's error wordings."""
    if "/" in name:
        try:
            st = os.stat(name)
        except FileNotFoundError:
            raise OCIError(f'exec: "{name}": stat {name}: no such file or directory') from None
        except OSError as e:
            raise OCIError(f'exec: "{name}": stat {name}: {e.strerror.lower()}') from None
        if stat.S_ISDIR(st.st_mode) or not os.access(name, os.X_OK):
            raise OCIError(f'exec: "{name}": permission denied')
        return name
    for d in env.get("PATH", DEFAULT_PATH).split(":"):
        p = os.path.join(d or ".", name)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    raise OCIError(f'exec: "{name}": executable file not found in $PATH')


def chdir(cwd: str) -> None:
    """Enter cwd and prove it lies inside the new root (CVE-2024-21626).
    A seccomp filter loaded already (the retry after the user switch) may
    refuse getcwd: then the proof is skipped, which is safe there, since by
    then the process holds no fd of a directory outside the root to climb
    through."""
    try:
        os.chdir(cwd)
    except OSError as e:
        raise SpecError("/process/cwd", f"chdir {cwd}: {e.strerror}") from None
    try:
        here = os.getcwd()
    except OSError as e:
        if e.errno in (errno.EPERM, errno.ENOSYS):
            return
        raise SpecError("/process/cwd", f"chdir {cwd}: {e.strerror}") from None
    if not here.startswith("/"):
        raise SpecError("/process/cwd", f"cwd {cwd} is outside the container's root")


def own_terminal(uid: int) -> None:
    """The pty on stdin, stdout and stderr belongs to the process's user (its
    group stays the one devpts gave it, tty), as runc hands it over: a shell
    that is not root can then change its own terminal's modes.  EINVAL,
    EPERM or EROFS (an id unmapped in a user namespace, a read-only /dev)
    leave it as it is, as runc does."""
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
            if not stat.S_ISCHR(st.st_mode) or st.st_rdev == os.makedev(1, 3):
                continue
            if st.st_uid != uid:
                os.fchown(fd, uid, -1)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.EPERM, errno.EROFS, errno.EBADF):
                raise SpecError(
                    "/process/terminal", f"chown of the terminal: {e.strerror}"
                ) from None


def reset_signals() -> None:
    """CPython ignores SIGPIPE and SIGXFSZ, and a caller may have ignored any
    signal, glibc's reserved 32 and 33 included (which Go and musl programs
    use): a container starts with every disposition at default, none blocked."""
    for s in _signal.valid_signals():
        if s in (_signal.SIGKILL, _signal.SIGSTOP):
            continue
        try:
            _signal.signal(s, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    for s in range(32, _signal.SIGRTMIN):
        sc.default_signal(s)  # glibc refuses these; the kernel does not
    _signal.pthread_sigmask(_signal.SIG_SETMASK, ())


def close_fds(preserve: int, gaps: list[int] = ()) -> None:
    """Only 0-2 and the preserved fds 3..3+N-1 survive execve: every other
    fd is marked close-on-exec (they stay usable until then).  A kernel
    before 5.11 has no CLOSE_RANGE_CLOEXEC: each open fd is marked instead.
    A preserved fd the caller did not open is left out, as crun does:
    ``gaps``, the runtime's placeholders there, stay close-on-exec."""
    try:
        sc.close_range(3 + preserve, 0xFFFFFFFF, sc.CLOSE_RANGE_CLOEXEC)
    except OSError:
        for fd in open_fds():
            if fd >= 3 + preserve:
                os.set_inheritable(fd, False)
    for fd in range(3, 3 + preserve):
        try:
            os.set_inheritable(fd, fd not in gaps)
        except OSError:
            pass


def open_fds() -> list[int]:
    """This process's open fds, from /proc/self/fd when it shows them (not to
    a process outside the pid namespace of the procfs at /proc), else by
    probing up to the fd limit."""
    try:
        return [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        pass
    found = []
    for fd in range(sc.getrlimit(sc.RLIMITS["RLIMIT_NOFILE"])[0]):
        try:
            os.fstat(fd)
        except OSError:
            continue
        found.append(fd)
    return found
