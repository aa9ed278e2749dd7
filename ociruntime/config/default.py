"""The default config.json written by ``ociruntime spec``.

runc's template (``runc spec``, runc 1.1): scripts and test suites built on
``runc spec`` + ``--console-socket`` depend on it, so ``process.terminal``
is true, and the namespaces, mounts, rlimits, readonly paths and device
rule are runc's, for ``--rootless`` too.  The deliberate differences
(tests/unit/test_default_spec.py::test_matches_runc_spec lists them):

* ``ociVersion`` is the spec version this runtime implements (1.2.0);
* ``hostname`` is "ociruntime";
* the inheritable and ambient capability sets are left out entirely. Filling
  them by default let processes regain capabilities across execve of
  non-privileged binaries (CVE-2022-29162), so only bounding, effective and
  permitted are populated;
* ``/sys/devices/virtual/powercap`` is masked too (RAPL energy counters leak
  information across containers), as newer runc releases do.

A bundle for a script or a pipe sets ``process.terminal`` to false (as
bundles/build-busybox.sh does for its demo).

Every call builds a fresh dict, so callers may mutate the result freely.
"""

from .. import oslite as os

# Kept in step with ociruntime.SPEC_VERSION (a unit test checks this); not
# imported from there to keep this module free of package-level imports.
OCI_VERSION = "1.2.0"

DEFAULT_HOSTNAME = "ociruntime"

DEFAULT_CAPABILITIES = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")

MASKED_PATHS = (
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/sys/devices/virtual/powercap",
)

READONLY_PATHS = (
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
)


def _mounts(rootless: bool) -> list[dict]:
    devpts_options = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    if rootless:
        # The tty group (gid 5) is not mapped into a rootless user namespace,
        # so the kernel would refuse gid=5.
        sys_mount = {
            "destination": "/sys",
            "type": "none",
            "source": "/sys",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"],
        }
    else:
        devpts_options.append("gid=5")
        sys_mount = {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"],
        }
    return [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": devpts_options,
        },
        {
            "destination": "/dev/shm",
            "type": "tmpfs",
            "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        sys_mount,
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
        },
    ]


def _linux(rootless: bool) -> dict:
    # runc's lists, in runc's order (no cgroup namespace: runc 1.1 asks for none)
    if rootless:
        namespaces = ["pid", "ipc", "uts", "mount", "user"]
    else:
        namespaces = ["pid", "network", "ipc", "uts", "mount"]
    linux: dict = {}
    if rootless:
        linux["uidMappings"] = [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    else:
        # Deny all device access; the runtime re-allows the default devices.
        linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    linux["namespaces"] = [{"type": ns} for ns in namespaces]
    linux["maskedPaths"] = list(MASKED_PATHS)
    linux["readonlyPaths"] = list(READONLY_PATHS)
    return linux


def default_config(rootless: bool = False) -> dict:
    """Return the config.json that ``ociruntime spec [--rootless]`` writes."""
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": list(DEFAULT_CAPABILITIES),
                "effective": list(DEFAULT_CAPABILITIES),
                "permitted": list(DEFAULT_CAPABILITIES),
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": DEFAULT_HOSTNAME,
        "mounts": _mounts(rootless),
        "linux": _linux(rootless),
    }
