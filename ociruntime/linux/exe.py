"""Keep the runtime's own executable out of reach of containers (CVE-2019-5736).

A container can make a runtime process execute ``#!/proc/self/exe``, run the
runtime's interpreter inside the container, and try to write it.  The
launcher runs a private copy of the interpreter (tools/write-launcher) that
is immutable (chattr +i): nobody can open it for writing.  Nobody but a
process with CAP_LINUX_IMMUTABLE in the host's user namespace, which could
clear the flag through any read-only fd of it (FS_IOC_SETFLAGS).

So the container side of a process that may hold that capability (it is
in its bounding set, and no user namespace confines it), or of any process
when the copy is not immutable, runs in an interpreter executed from a
*detached, read-only* clone of the copy's directory (open_tree with
OPEN_TREE_CLONE, then mount_setattr RDONLY): its /proc/self/exe is the same
file, reached through a mount on which FS_IOC_SETFLAGS and every write fail
with EROFS.  The clone is attached nowhere, so no mount is left behind in
any namespace; it goes away with the last process running from it.
process/first_child.start_readonly forks and executes that child.
"""

from __future__ import annotations

import sys

from .. import oslite as os

CAP_LINUX_IMMUTABLE = 9
_FS_IOC_GETFLAGS = 0x80086601
_FS_IMMUTABLE_FL = 0x10


def private_dir() -> str | None:
    """The directory of the private interpreter copy this process runs, as
    the launcher that started it says (ociruntime.BIN_DIR: the code
    bundle's directory, wherever tools/write-launcher installed them), and
    as /proc/self/exe confirms; None for a development run.  No constant to
    keep in step with the installer: a non-default install cannot switch
    the read-only interpreter off."""
    import ociruntime

    d = ociruntime.BIN_DIR
    try:
        return d if d and os.path.dirname(os.readlink("/proc/self/exe")) == d else None
    except OSError:
        return None


def exe_is_immutable() -> bool:
    """The immutable flag of this process's executable."""
    return is_immutable("/proc/self/exe")


def is_immutable(path: str) -> bool:
    """The immutable flag of ``path``; False where it cannot be read (a
    filesystem without inode flags, such as 9p)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        flags = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(8))
    except OSError:
        return False  # a filesystem without inode flags
    finally:
        os.close(fd)
    return bool(int.from_bytes(flags[:4], sys.byteorder) & _FS_IMMUTABLE_FL)


def needs_readonly_exe(caps: dict[str, set[int]] | None, in_userns: bool) -> bool:
    """Whether a container process with these capabilities (None: all of the
    runtime's) must run from the read-only clone (see the module's text)."""
    if in_userns or os.geteuid() != 0 or private_dir() is None:
        return False  # confined by its user namespace; or a development run
    if caps is None or CAP_LINUX_IMMUTABLE in caps.get("bounding", ()):
        return True
    return not exe_is_immutable()


def readonly_exe() -> int:
    """An fd of the private interpreter through a detached read-only clone of
    its directory, to execute (fexecve)."""
    from . import syscalls as sc

    d = private_dir()
    tree = sc.open_tree(sc.AT_FDCWD, d, sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC)
    try:
        sc.mount_setattr(
            tree,
            "",
            sc.AT_EMPTY_PATH,
            sc.MOUNT_ATTR_RDONLY | sc.MOUNT_ATTR_NOSUID | sc.MOUNT_ATTR_NODEV,
            display=d,
        )
        return os.open("python3", os.O_RDONLY | os.O_CLOEXEC, dir_fd=tree)
    finally:
        os.close(tree)
