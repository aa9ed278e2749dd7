"""Wrappers for the syscalls Python 3.11's ``os`` lacks, through :mod:`.ffi`.

Each wrapper raises ``OSError(errno, "<op> <path>: <strerror>")`` so that a
failure names the operation and the path.  Functions are called with the GIL
held (as ``ctypes.PyDLL`` would): several run right after ``fork`` where no
other thread may exist anyway, and releasing the GIL buys nothing here.
Structures go to the kernel as ``struct``-packed bytes, or as a mutable
:func:`ffi.buffer` where the kernel writes back.
"""

from __future__ import annotations

import _struct as struct
import errno

from .. import oslite as os
from . import ffi
from .ffi import c_int, c_long, c_size_t, c_uint, c_ulong

syscall = ffi.function("syscall", c_long)  # raw syscall(2): for the few without a wrapper
_syscall = syscall
_unshare = ffi.function("unshare")
_setns = ffi.function("setns")
_mount = ffi.function("mount")
_umount2 = ffi.function("umount2")
_prctl = ffi.function("prctl")
_sethostname = ffi.function("sethostname")
_setdomainname = ffi.function("setdomainname")
_fstatfs = ffi.function("fstatfs")
_statfs = ffi.function("statfs")
_socket = ffi.function("socket")
_prlimit = ffi.function("prlimit")
_fcntl = ffi.function("fcntl")

# x86_64 / aarch64 generic numbers for syscalls without a libc wrapper in
# glibc 2.36.  (unshare/setns/mount/umount2/pivot_root use libc wrappers.)
# numbers from 424 on are the same on every architecture
_NR = {
    "open_tree": 428,
    "move_mount": 429,
    "openat2": 437,
    "close_range": 436,
    "mount_setattr": 442,
    "clone3": 435,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    **{
        "x86_64": {
            "pivot_root": 155,
            "rt_sigaction": 13,
            "seccomp": 317,
            "keyctl": 250,
            "clone": 56,
        },
        "aarch64": {
            "pivot_root": 41,
            "rt_sigaction": 134,
            "seccomp": 277,
            "keyctl": 219,
            "clone": 220,
        },
    }[os.uname().machine],
}

# the constants live in flags.py, which modules that only need numbers import
# without loading the FFI; re-exported here as sc.X for everything else
from .flags import *  # noqa: E402, F403


def error(op: str, path: object = None) -> OSError:
    """The OSError of the call that just failed (errno), naming ``op`` and ``path``."""
    return _err(op, path)


def _err(op: str, path: object = None) -> OSError:
    e = ffi.get_errno()
    where = f"{op} {path}" if path not in (None, "") else op
    return OSError(e, f"{where}: {os.strerror(e)}")


def _check(ret: int, op: str, path: object = None) -> int:
    if ret < 0:
        raise _err(op, path)
    return ret


def _b(s: str | bytes | None) -> bytes | None:
    if s is None:
        return None
    return s if isinstance(s, bytes) else os.fsencode(s)


# setrlimit(2)'s resources, by the names config.json uses (runc's list, and
# RLIMIT_OFILE, Python's alias of NOFILE): the generic numbers, the same on
# x86_64 and aarch64.  prlimit(2) through the FFI rather than the
# ``resource`` module, whose loading (an extension module: dlopen) cost the
# container's init 0.3 ms of every create.
RLIMITS = {
    "RLIMIT_CPU": 0,
    "RLIMIT_FSIZE": 1,
    "RLIMIT_DATA": 2,
    "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6,
    "RLIMIT_NOFILE": 7,
    "RLIMIT_OFILE": 7,
    "RLIMIT_MEMLOCK": 8,
    "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12,
    "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14,
    "RLIMIT_RTTIME": 15,
}
RLIM_INFINITY = (1 << 64) - 1


def getrlimit(res: int) -> tuple[int, int]:
    """(soft, hard) of this process's ``res`` (:data:`RLIMITS`), as the kernel's
    unsigned 64-bit numbers (:data:`RLIM_INFINITY` for none)."""
    buf = ffi.buffer(16)
    _check(_prlimit(c_int(0), c_int(res), None, buf), "getrlimit")
    soft, hard = struct.unpack("=QQ", bytes(buf))
    return soft, hard


def setrlimit(res: int, soft: int, hard: int, name: str | None = None) -> None:
    """Set this process's ``res``; the limits are unsigned 64-bit numbers, as
    config.json holds them (2^64-1 is RLIM_INFINITY)."""
    new = struct.pack("=QQ", soft, hard)
    _check(_prlimit(c_int(0), c_int(res), new, None), "setrlimit", name)


def unshare(flags: int) -> None:
    _check(_unshare(c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0, path: str | None = None) -> None:
    _check(_setns(c_int(fd), c_int(nstype)), "setns", path)


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int = 0,
    data: str | None = None,
    display: str | None = None,
) -> None:
    """mount(2); ``display`` names the target in errors when it is a /proc/self/fd path."""
    ret = _mount(_b(source), _b(target), _b(fstype), c_ulong(flags), _b(data))
    _check(ret, "mount", display or target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_umount2(_b(target), c_int(flags)), "umount", target)


def pivot_root(new_root: str, put_old: str) -> None:
    ret = _syscall(c_long(_NR["pivot_root"]), _b(new_root), _b(put_old))
    _check(ret, "pivot_root", new_root)


# struct open_how: flags, mode, resolve (all __u64)
_OPEN_HOW = struct.Struct("=QQQ")


def openat2(
    dirfd: int, path: str, flags: int, resolve: int, mode: int = 0, display: str | None = None
) -> int:
    """openat2(2): the way to resolve a path confined to a root (RESOLVE_IN_ROOT).

    With RESOLVE_IN_ROOT or RESOLVE_BENEATH a lookup through ".." fails with
    EAGAIN when any rename or mount happened anywhere on the host meanwhile
    (the kernel cannot then prove it stayed inside): retried, as libpathrs
    and runc do, up to 128 times; a busy host (other containers starting)
    made create fail with "Resource temporarily unavailable"."""
    how = _OPEN_HOW.pack(flags | os.O_CLOEXEC, mode, resolve)
    for _ in range(128):
        ret = _syscall(
            c_long(_NR["openat2"]),
            c_int(dirfd),
            _b(path),
            how,
            c_size_t(len(how)),
        )
        if ret >= 0 or ffi.get_errno() != errno.EAGAIN:
            break
    return _check(ret, "openat2", display or path)


def open_tree(dirfd: int, path: str, flags: int, display: str | None = None) -> int:
    ret = _syscall(c_long(_NR["open_tree"]), c_int(dirfd), _b(path), c_uint(flags))
    return _check(ret, "open_tree", display or path)


def move_mount(
    from_fd: int, from_path: str, to_fd: int, to_path: str, flags: int, display: str | None = None
) -> None:
    ret = _syscall(
        c_long(_NR["move_mount"]),
        c_int(from_fd),
        _b(from_path),
        c_int(to_fd),
        _b(to_path),
        c_uint(flags),
    )
    _check(ret, "move_mount", display)


# struct mount_attr: attr_set, attr_clr, propagation, userns_fd (all __u64)
_MOUNT_ATTR = struct.Struct("=QQQQ")


def mount_setattr(
    dirfd: int,
    path: str,
    flags: int,
    attr_set: int = 0,
    attr_clr: int = 0,
    propagation: int = 0,
    userns_fd: int = 0,
    display: str | None = None,
) -> None:
    attr = _MOUNT_ATTR.pack(attr_set, attr_clr, propagation, userns_fd)
    ret = _syscall(
        c_long(_NR["mount_setattr"]),
        c_int(dirfd),
        _b(path),
        c_uint(flags),
        attr,
        c_size_t(len(attr)),
    )
    _check(ret, "mount_setattr", display or path)


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    ret = _syscall(
        c_long(_NR["close_range"]),
        c_uint(first),
        c_uint(last),
        c_uint(flags),
    )
    _check(ret, "close_range")


CLONE_INTO_CGROUP = 0x200000000
CLONE_PARENT = 0x00008000
_CLONE_VM = 0x00000100
_CLONE_VFORK = 0x00004000
_CLONE_PARENT_SETTID = 0x00100000
_SIGCHLD = 17


def clone_fork(flags: int = 0, cgroup_fd: int | None = None, path: str = "") -> int:
    """fork(2) through clone3 with ``flags``: CLONE_PARENT makes the child our
    parent's (a sibling, whose exit our parent waits for); with ``cgroup_fd``
    the child is born in that cgroup2 directory (CLONE_INTO_CGROUP, Linux
    5.7): no migration, so none of the RCU grace period a write to
    cgroup.procs waits for.  The child's pid in the parent, 0 in the child.

    A raw syscall: the child skips what ``os.fork`` does for a process with
    threads (CPython's after-fork hooks, glibc's atfork handlers), which is
    only sound in a single-threaded process, as every caller here is."""
    return _clone3(flags, cgroup_fd, path)


def _clone3(flags: int, cgroup_fd: int | None, path: str, parent_tid: int = 0) -> int:
    """The raw clone3 of :func:`clone_fork` and :func:`clone_taking_over`."""
    if cgroup_fd is not None:
        flags |= CLONE_INTO_CGROUP
    # a sibling takes our exit signal: clone3 refuses one of its own (EINVAL)
    signal = 0 if flags & CLONE_PARENT else _SIGCHLD
    # struct clone_args (v2, 88 bytes): flags, pidfd, child_tid, parent_tid,
    # exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup
    args = struct.pack("=11Q", flags, 0, 0, parent_tid, signal, 0, 0, 0, 0, 0, cgroup_fd or 0)
    op = "clone3 into" if cgroup_fd is not None else "clone3"
    return _check(_syscall(c_long(_NR["clone3"]), args, c_size_t(len(args))), op, path)


def clone_taking_over(flags: int = 0, cgroup_fd: int | None = None, path: str = "") -> int:
    """clone3 as :func:`clone_fork`, but the child takes our address space
    (CLONE_VM | CLONE_VFORK) instead of a copy of it: in the child, its own
    pid as we see it (0 is never returned).  We stay suspended in the
    kernel until the child execs or exits, and must be killed before then
    (:func:`kill_on_input`): the child has run on our stack and heap, so we
    can never resume.  procattr.take_over is the package's one caller."""
    slot = ffi.buffer(8)  # CLONE_PARENT_SETTID: the child's pid, in memory the child shares
    flags |= _CLONE_VM | _CLONE_VFORK | _CLONE_PARENT_SETTID
    ret = _clone3(flags, cgroup_fd, path, ffi.addressof(slot))
    if ret:  # resumed (the child ended before its kill): best effort, as our stack is its
        os._exit(255)
    return struct.unpack_from("=i", slot)[0]


_F_SETOWN = 8
_F_SETSIG = 10
_F_SETFL = 4
_O_ASYNC = 0o20000


def kill_on_input(fd: int) -> None:
    """Have the kernel SIGKILL this process when data arrives on the pipe
    end ``fd`` (fcntl(2): F_SETOWN, F_SETSIG, O_ASYNC): whoever holds the
    write end, in whatever pid namespace, can end us with a write; the
    signal is pending, and fatal, by the time the write returns."""
    for cmd, arg in ((_F_SETOWN, os.getpid()), (_F_SETSIG, 9), (_F_SETFL, _O_ASYNC)):
        _check(_fcntl(c_int(fd), c_int(cmd), c_long(arg)), "fcntl")


def clone_legacy(flags: int) -> int:
    """fork(2) through clone(2) with ``flags`` (CLONE_PARENT), for a kernel
    without clone3 (before 5.3) or without clone3 into a cgroup (5.7).  Raw,
    as :func:`clone_fork`; every argument after the flags is 0 (no new stack,
    no tid pointers), in whichever order the architecture takes them."""
    zero = c_ulong(0)
    ret = _syscall(c_long(_NR["clone"]), c_ulong(flags | _SIGCHLD), zero, zero, zero, zero)
    return _check(ret, "clone")


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    ret = _prctl(
        c_int(option),
        c_ulong(arg2),
        c_ulong(arg3),
        c_ulong(0),
        c_ulong(0),
    )
    _check(ret, "prctl")


def socket(domain: int, type_: int, protocol: int = 0) -> int:
    """socket(2) as a bare fd (for ioctls: no _socket module needed)."""
    return _check(_socket(c_int(domain), c_int(type_), c_int(protocol)), "socket")


def sethostname(name: str) -> None:
    b = name.encode()
    _check(_sethostname(b, c_size_t(len(b))), "sethostname", name)


def setdomainname(name: str) -> None:
    b = name.encode()
    _check(_setdomainname(b, c_size_t(len(b))), "setdomainname", name)


FSCONFIG_SET_FLAG = 0
FSCONFIG_SET_STRING = 1
FSCONFIG_CMD_CREATE = 6


def fsopen(fstype: str) -> int:
    ret = _syscall(c_long(_NR["fsopen"]), _b(fstype), c_uint(1))  # FSOPEN_CLOEXEC
    return _check(ret, "fsopen", fstype)


def fsconfig_create(fd: int) -> None:
    ret = _syscall(
        c_long(_NR["fsconfig"]),
        c_int(fd),
        c_uint(FSCONFIG_CMD_CREATE),
        None,
        None,
        c_int(0),
    )
    _check(ret, "fsconfig create")


def fsconfig_set(fd: int, key: str, value: str | None) -> None:
    """One filesystem option: ``key=value`` (a string), or a flag without a value."""
    cmd = FSCONFIG_SET_FLAG if value is None else FSCONFIG_SET_STRING
    ret = _syscall(c_long(_NR["fsconfig"]), c_int(fd), c_uint(cmd), _b(key), _b(value), c_int(0))
    _check(ret, "fsconfig", key if value is None else f"{key}={value}")


def fsmount(fd: int, attrs: int) -> int:
    ret = _syscall(c_long(_NR["fsmount"]), c_int(fd), c_uint(1), c_uint(attrs))  # FSMOUNT_CLOEXEC
    return _check(ret, "fsmount")


# struct statfs starts with ``long f_type``; room for the whole of it (120 bytes on 64-bit)
_STATFS_SIZE = 16 * ffi.sizeof(c_long)


def fstatfs_type(fd: int) -> int:
    """The filesystem magic of fd (what statfs(2) calls f_type)."""
    buf = ffi.buffer(_STATFS_SIZE)
    _check(_fstatfs(c_int(fd), buf), "fstatfs")
    return struct.unpack_from("l", buf)[0]


def statfs_type(path: str) -> int:
    buf = ffi.buffer(_STATFS_SIZE)
    _check(_statfs(_b(path), buf), "statfs", path)
    return struct.unpack_from("l", buf)[0]


KEYCTL_JOIN_SESSION_KEYRING = 1


def keyctl_join_session_keyring(name: str) -> None:
    """A new session keyring called ``name``, joined (keyctl(2))."""
    ret = _syscall(c_long(_NR["keyctl"]), c_int(KEYCTL_JOIN_SESSION_KEYRING), _b(name))
    _check(ret, "joining a session keyring", name)


def seccomp_set_filter(program: bytes, flags: int) -> int:
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, program): ``program`` is the
    raw ``struct sock_filter`` array; the listener fd with
    SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0."""
    buf = ffi.buffer(program)
    fprog = struct.pack("=H6xQ", len(program) // 8, ffi.addressof(buf))
    ret = _syscall(c_long(_NR["seccomp"]), c_uint(1), c_uint(flags), fprog)
    return _check(ret, "seccomp")


def default_signal(sig: int) -> None:
    """rt_sigaction(sig, SIG_DFL) straight to the kernel (glibc guards 32 and 33)."""
    act = bytes(4 * ffi.sizeof(c_ulong))  # handler SIG_DFL, flags, restorer, mask: all 0
    _syscall(c_long(_NR["rt_sigaction"]), c_int(sig), act, None, c_size_t(8))
