"""process.capabilities: the five sets, applied around the user switch.

capset(2) and prctl(2) through :mod:`.ffi`: Debian's python-prctl 1.8 knows
neither CAP_CHECKPOINT_RESTORE nor the ambient set.  The sequence follows the
kernel's rules (capabilities(7)): drop the bounding set while still root, keep
permitted caps across setuid with PR_SET_KEEPCAPS, then set effective,
permitted and inheritable with capset, then raise ambient (which needs each
cap in permitted and inheritable).  Inheritable and ambient are never filled
unless the config names them (CVE-2022-29162).
"""

from __future__ import annotations

from .. import log
from .. import oslite as os

NAMES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
    "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
    "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
    "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
    "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
    "CHECKPOINT_RESTORE"
).split()
CAPS = {"CAP_" + n: i for i, n in enumerate(NAMES)}
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

PR_CAPBSET_DROP = 24
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


# struct __user_cap_header_struct {__u32 version; int pid;}
_HEADER = "=Ii"
# struct __user_cap_data_struct {__u32 effective, permitted, inheritable;}, twice for version 3
_DATA = "=IIIIII"


def last_cap() -> int:
    try:
        return int(os.read_file("/proc/sys/kernel/cap_last_cap"))
    except OSError:
        return len(NAMES) - 1


def parse(caps: dict, pointer: str = "/process/capabilities") -> dict[str, set[int]]:
    """{set name: cap numbers}.  A name we do not know, or one this kernel
    lacks, is left out with a warning (the log, or stderr without one): the
    runtime spec (1.2) says a runtime SHOULD NOT fail on unknown capabilities,
    and runc and crun run the container."""
    top = last_cap()
    out: dict[str, set[int]] = {}
    unknown: dict[str, str] = {}  # name -> where it first appears
    for s in SETS:
        nums: set[int] = set()
        for i, name in enumerate(caps.get(s) or []):
            n = CAPS.get(name)
            if n is None:
                unknown.setdefault(str(name), f"{pointer}/{s}/{i}")
                continue
            if n > top:
                log.warn(f"capability {name} is not supported by this kernel: skipped")
                continue
            nums.add(n)
        out[s] = nums
    for name, where in unknown.items():
        log.warn(f'unknown capability "{name}" ignored', f"config.json: {where}")
    return out


def drop_bounding(keep: set[int]) -> None:
    """Drop every capability but ``keep`` from the bounding set, up to the
    kernel's last one, which EINVAL marks: no file is read here, since this
    runs where /proc is the container's (an exec'd process), and a lying
    cap_last_cap there must not leave capabilities in the set."""
    from . import syscalls as sc

    for n in range(64):
        if n in keep:
            continue
        try:
            sc.prctl(PR_CAPBSET_DROP, n)
        except OSError as e:
            if e.errno == 22:  # EINVAL: past the kernel's last capability
                return
            raise


def keep_across_setuid(on: bool) -> None:
    from . import syscalls as sc

    sc.prctl(PR_SET_KEEPCAPS, 1 if on else 0)


def _mask(nums: set[int]) -> tuple[int, int]:
    m = 0
    for n in nums:
        m |= 1 << n
    return m & 0xFFFFFFFF, m >> 32


def apply(sets: dict[str, set[int]]) -> None:
    """capset(effective, permitted, inheritable), then the ambient set."""
    from . import ffi
    from . import syscalls as sc

    _capset = ffi.function("capset")

    e, p, i = _mask(sets["effective"]), _mask(sets["permitted"]), _mask(sets["inheritable"])
    # the header is writable: on a version mismatch the kernel writes its own version back
    import _struct as struct  # here: the runtime process, which only parses capabilities, never loads it

    hdr = ffi.buffer(struct.pack(_HEADER, _LINUX_CAPABILITY_VERSION_3, 0))
    data = struct.pack(_DATA, e[0], p[0], i[0], e[1], p[1], i[1])
    if _capset(hdr, data) != 0:
        raise sc.error("capset")
    sc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    for n in sorted(sets["ambient"]):
        try:
            sc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, n)
        except OSError:
            # runc's default spec lists ambient caps without inheritable ones: like runc, go on
            pass
