"""Keep the runtime's own executable out of reach of containers (CVE-2019-5736).

A container can make a runtime process execute ``#!/proc/self/exe``, run the
runtime's interpreter inside the container, and try to write it.  The
launcher runs a private copy of the interpreter (tools/write-launcher) that
is immutable (chattr +i) *and* lives on a read-only bind mount of the host's
mount namespace: a container with CAP_LINUX_IMMUTABLE can clear +i, but no
process outside the host's mount namespace can make that mount writable.

The mount does not survive a reboot: :func:`ensure_readonly` checks the mount
the running interpreter was executed from (fstatvfs of /proc/self/exe) before
any container process is made, and if it is writable, mounts it read-only and
re-executes the command once, so that /proc/self/exe points into the
read-only mount.
"""

from __future__ import annotations

import sys

from .. import oslite as os

PRIVATE_DIR = "/usr/local/lib/ociruntime/bin"
_ST_RDONLY = 1


def exe_is_readonly() -> bool:
    fd = os.open("/proc/self/exe", os.O_PATH | os.O_CLOEXEC)
    try:
        return bool(os.statvfs(fd).f_flag & _ST_RDONLY)
    finally:
        os.close(fd)


def protect(directory: str) -> None:
    """Bind ``directory`` onto itself, read-only (idempotent)."""
    from . import syscalls as sc

    if os.statvfs(directory).f_flag & _ST_RDONLY:
        return
    sc.mount(directory, directory, None, sc.MS_BIND)
    sc.mount(
        None,
        directory,
        None,
        sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NODEV,
    )


def ensure_readonly() -> None:
    exe = os.readlink("/proc/self/exe")
    if os.geteuid() != 0 or os.path.dirname(exe) != PRIVATE_DIR or exe_is_readonly():
        return  # a development run (python -m ociruntime) or already safe
    if os.environ.get("OCIRUNTIME_REEXEC") == "1":
        from ..errors import OCIError

        raise OCIError(
            f"{exe} is still on a writable mount after protecting it; refusing to make containers"
        )
    protect(PRIVATE_DIR)
    os.execve(exe, [exe, "-IS", *sys.argv], dict(os.environ, OCIRUNTIME_REEXEC="1"))
