"""``ociruntime features``: what this runtime supports (runtime-spec features.md).

Static apart from the seccomp lines, which ask libseccomp, and the mount
options, which come from the one table the mount code uses.  containerd's
shim and CRI read it (e.g. for ``rro``); keep it true.
"""

from __future__ import annotations

from . import SPEC_VERSION


def _has_mount_setattr() -> bool:
    """Idmapped mounts need mount_setattr(2) (Linux 5.12)."""
    import errno

    from .linux import syscalls as sc

    try:
        sc.mount_setattr(-1, "", 0)
    except OSError as e:
        return e.errno != errno.ENOSYS
    return True


def _criu_enabled() -> str:
    """ "true" when criu and pycriu are installed (found, neither run nor imported)."""
    from . import criu

    return "true" if criu.installed() else "false"


def features() -> dict:
    from .linux import capabilities, rootfs, seccomp

    mount_options = sorted(set(rootfs._FLAGS) | set(rootfs._PROPAGATION) | {"rro", "tmpcopyup"})
    sc: dict = {"enabled": False}
    try:
        lib = seccomp.lib()
        sc = {
            "enabled": True,
            "actions": sorted(seccomp.ACTIONS),
            "operators": sorted(seccomp.OPS),
            "archs": sorted(
                "SCMP_ARCH_" + a.upper()
                for a in (
                    "x86",
                    "x86_64",
                    "x32",
                    "arm",
                    "aarch64",
                    "mips",
                    "mips64",
                    "mips64n32",
                    "mipsel",
                    "mipsel64",
                    "mipsel64n32",
                    "ppc",
                    "ppc64",
                    "ppc64le",
                    "riscv64",
                    "s390",
                    "s390x",
                )
                if lib.arch_resolve_name(a.encode()) != 0
            ),
            "knownFlags": sorted(seccomp.FLAGS),
            "supportedFlags": sorted(
                f for f in seccomp.FLAGS if f != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
            ),
        }
    except Exception:  # noqa: BLE001 - no libseccomp: report it as disabled
        pass
    from .linux import security

    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ],
        "mountOptions": mount_options,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": sorted(capabilities.CAPS, key=capabilities.CAPS.get),
            "cgroup": {
                "v1": True,
                "v2": True,
                "systemd": True,
                "systemdUser": False,
                "rdma": True,
            },
            "seccomp": sc,
            "apparmor": {"enabled": security.apparmor_enabled()},
            "selinux": {"enabled": security.selinux_enabled()},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": _has_mount_setattr()}},
        },
        # runc's key: checkpoint and restore are there (criu and its RPC module are);
        # whether this kernel lets CRIU work is ``check``'s to say
        "annotations": {"org.opencontainers.runc.checkpoint.enabled": _criu_enabled()},
    }
