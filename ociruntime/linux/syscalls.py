"""ctypes wrappers for the syscalls Python 3.11's ``os`` lacks.

Each wrapper raises ``OSError(errno, "<op> <path>: <strerror>")`` so that a
failure names the operation and the path.  Functions are called through
``PyDLL`` so the GIL stays held: several run right after ``fork`` where no
other thread may exist anyway, and releasing the GIL buys nothing here.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.PyDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long

# x86_64 / aarch64 generic numbers for syscalls without a libc wrapper in
# glibc 2.36.  (unshare/setns/mount/umount2/pivot_root use libc wrappers.)
# numbers from 424 on are the same on every architecture
_NR = {
    "open_tree": 428,
    "move_mount": 429,
    "openat2": 437,
    "close_range": 436,
    "mount_setattr": 442,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    **{
        "x86_64": {"pivot_root": 155, "rt_sigaction": 13},
        "aarch64": {"pivot_root": 41, "rt_sigaction": 134},
    }[os.uname().machine],
}

# namespaces (sched.h)
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25
MNT_DETACH = 2

# openat2 resolve flags
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
O_PATH = os.O_PATH

# open_tree / move_mount / mount_setattr
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
AT_SYMLINK_NOFOLLOW = 0x100
MOVE_MOUNT_F_EMPTY_PATH = 0x04
MOVE_MOUNT_T_EMPTY_PATH = 0x40
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_IDMAP = 0x100000
MOUNT_ATTR_NOSYMFOLLOW = 0x200000

CLOSE_RANGE_CLOEXEC = 1 << 2

# prctl
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38


def _err(op: str, path: object = None) -> OSError:
    e = ctypes.get_errno()
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


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(fd: int, nstype: int = 0, path: str | None = None) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), "setns", path)


def mount(
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int = 0,
    data: str | None = None,
    display: str | None = None,
) -> None:
    """mount(2); ``display`` names the target in errors when it is a /proc/self/fd path."""
    ret = _libc.mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data))
    _check(ret, "mount", display or target)


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), ctypes.c_int(flags)), "umount", target)


def pivot_root(new_root: str, put_old: str) -> None:
    ret = _syscall(ctypes.c_long(_NR["pivot_root"]), _b(new_root), _b(put_old))
    _check(ret, "pivot_root", new_root)


class _OpenHow(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint64),
        ("mode", ctypes.c_uint64),
        ("resolve", ctypes.c_uint64),
    ]


def openat2(
    dirfd: int, path: str, flags: int, resolve: int, mode: int = 0, display: str | None = None
) -> int:
    """openat2(2): the way to resolve a path confined to a root (RESOLVE_IN_ROOT)."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    ret = _syscall(
        ctypes.c_long(_NR["openat2"]),
        ctypes.c_int(dirfd),
        _b(path),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    return _check(ret, "openat2", display or path)


def open_tree(dirfd: int, path: str, flags: int, display: str | None = None) -> int:
    ret = _syscall(
        ctypes.c_long(_NR["open_tree"]), ctypes.c_int(dirfd), _b(path), ctypes.c_uint(flags)
    )
    return _check(ret, "open_tree", display or path)


def move_mount(
    from_fd: int, from_path: str, to_fd: int, to_path: str, flags: int, display: str | None = None
) -> None:
    ret = _syscall(
        ctypes.c_long(_NR["move_mount"]),
        ctypes.c_int(from_fd),
        _b(from_path),
        ctypes.c_int(to_fd),
        _b(to_path),
        ctypes.c_uint(flags),
    )
    _check(ret, "move_mount", display)


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


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
    attr = _MountAttr(attr_set, attr_clr, propagation, userns_fd)
    ret = _syscall(
        ctypes.c_long(_NR["mount_setattr"]),
        ctypes.c_int(dirfd),
        _b(path),
        ctypes.c_uint(flags),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    _check(ret, "mount_setattr", display or path)


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    ret = _syscall(
        ctypes.c_long(_NR["close_range"]),
        ctypes.c_uint(first),
        ctypes.c_uint(last),
        ctypes.c_uint(flags),
    )
    _check(ret, "close_range")


def prctl(option: int, arg2: int = 0, arg3: int = 0) -> None:
    ret = _libc.prctl(
        ctypes.c_int(option),
        ctypes.c_ulong(arg2),
        ctypes.c_ulong(arg3),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    _check(ret, "prctl")


def sethostname(name: str) -> None:
    b = name.encode()
    _check(_libc.sethostname(b, ctypes.c_size_t(len(b))), "sethostname", name)


def setdomainname(name: str) -> None:
    b = name.encode()
    _check(_libc.setdomainname(b, ctypes.c_size_t(len(b))), "setdomainname", name)


FSCONFIG_CMD_CREATE = 6


def fsopen(fstype: str) -> int:
    ret = _syscall(ctypes.c_long(_NR["fsopen"]), _b(fstype), ctypes.c_uint(1))  # FSOPEN_CLOEXEC
    return _check(ret, "fsopen", fstype)


def fsconfig_create(fd: int) -> None:
    ret = _syscall(
        ctypes.c_long(_NR["fsconfig"]),
        ctypes.c_int(fd),
        ctypes.c_uint(FSCONFIG_CMD_CREATE),
        None,
        None,
        ctypes.c_int(0),
    )
    _check(ret, "fsconfig create")


def fsmount(fd: int, attrs: int) -> int:
    ret = _syscall(
        ctypes.c_long(_NR["fsmount"]), ctypes.c_int(fd), ctypes.c_uint(1), ctypes.c_uint(attrs)
    )  # FSMOUNT_CLOEXEC
    return _check(ret, "fsmount")


class _Statfs(ctypes.Structure):
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_long * 15)]


def fstatfs_type(fd: int) -> int:
    """The filesystem magic of fd (what statfs(2) calls f_type)."""
    buf = _Statfs()
    _check(_libc.fstatfs(ctypes.c_int(fd), ctypes.byref(buf)), "fstatfs")
    return buf.f_type


def statfs_type(path: str) -> int:
    buf = _Statfs()
    _check(_libc.statfs(_b(path), ctypes.byref(buf)), "statfs", path)
    return buf.f_type


def default_signal(sig: int) -> None:
    """rt_sigaction(sig, SIG_DFL) straight to the kernel (glibc guards 32 and 33)."""
    act = (ctypes.c_ulong * 4)(0, 0, 0, 0)  # handler SIG_DFL, flags, restorer, mask
    _syscall(ctypes.c_long(_NR["rt_sigaction"]), ctypes.c_int(sig), act, None, ctypes.c_size_t(8))
