"""seccomp profiles as the engines send them, through both runtimes: the
container runs (or fails) alike, and each syscall gets the same answer.

The profiles: Docker's current default (podman's copy of moby's profile,
/usr/share/containers/seccomp.json, resolved for runc spec's capabilities),
an older allowlist (that profile without close_range and clone3, EPERM by
default: what the runtime calls after loading it must not kill the init,
issue 13 item 1), and Kubernetes' RuntimeDefault as containerd's CRI wrote
it for a pod (corpus/cri-container-runtimedefault.json).
"""

from __future__ import annotations

import errno
import json
import os

import pytest
from seccomp_profiles import PODMAN_PROFILE, oci_profile

from . import corpus

# clone3, close_range, mkdir, mount, bpf, faccessat2 (all with zero
# arguments: harmless, and EINVAL/EFAULT/EPERM when allowed); a number no
# kernel has is test_differences.py's
SYSCALLS = ["435", "436", "83", "165", "321", "439"]


def docker_default() -> dict:
    return oci_profile(PODMAN_PROFILE)


def older_allowlist() -> dict:
    return oci_profile(
        PODMAN_PROFILE, drop=("close_range", "clone3"), default=("SCMP_ACT_ERRNO", errno.EPERM)
    )


def kubernetes_runtime_default() -> dict:
    with open(os.path.join(corpus.CORPUS, "cri-container-runtimedefault.json")) as f:
        return json.load(f)["linux"]["seccomp"]


def denies(*names: str) -> dict:
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": list(names), "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
    }


PROFILES = {
    "docker-default": docker_default,
    "older-allowlist": older_allowlist,
    "kubernetes-runtime-default": kubernetes_runtime_default,
    "denies-close_range": lambda: denies("close_range"),
    "denies-getcwd": lambda: denies("getcwd"),
}

needs_profile = pytest.mark.skipif(
    not os.path.exists(PODMAN_PROFILE), reason=f"{PODMAN_PROFILE} (containers-common) is missing"
)


@needs_profile
@pytest.mark.parametrize(
    "profile,nnp",
    [
        ("docker-default", True),
        ("kubernetes-runtime-default", True),
        ("kubernetes-runtime-default", False),
        ("older-allowlist", True),
        ("older-allowlist", False),
        ("denies-close_range", False),
        ("denies-getcwd", True),
    ],
)
def test_profile(both, runc_spec, probe, profile, nnp):
    """create and start say yes and the process runs (item 1: never an init
    that dies after create succeeded); the probe and exec see the same, and
    each syscall gets the same answer (item 15: ENOSYS for what is newer than
    the profile)."""
    c = corpus.no_terminal(runc_spec, ["sh", "-c", "/sysprobe " + " ".join(SYSCALLS)])
    c["linux"]["seccomp"] = PROFILES[profile]()
    c["process"]["noNewPrivileges"] = nnp

    def scenario(s):
        s.create()
        s.start()
        s.wait("c", "stopped")
        s.output()
        s.delete()
        s.run("p", bundle="p")

    p = corpus.no_terminal(runc_spec)
    p["linux"]["seccomp"] = c["linux"]["seccomp"]
    p["process"]["noNewPrivileges"] = nnp
    cmp = both({"c": c, "p": p}, scenario, files={"/sysprobe": probe("sysprobe")})
    cmp.assert_same(corpus.DELIBERATE)


@needs_profile
def test_exec_under_profile(both, runc_spec, probe):
    """exec into a container under Docker's profile: the exec'd process gets
    the filter too (Seccomp: 2) and the same answers."""
    c = corpus.no_terminal(runc_spec, ["sh", "-c", "echo ready; sleep 100"])
    c["linux"]["seccomp"] = docker_default()

    def scenario(s):
        s.run_detached()
        s.wait_output("c", "ready")
        s.exec("c", "/sysprobe", *SYSCALLS)
        s.exec("c", "grep", "Seccomp:", "/proc/self/status")
        s.delete("c", "--force")

    both(c, scenario, files={"/sysprobe": probe("sysprobe")}).assert_same()


def test_listener_path_without_notify_rule(both, runc_spec):
    """A listenerPath with no SCMP_ACT_NOTIFY rule: nothing to send, nobody
    to connect to; the container runs (item 15)."""
    c = corpus.no_terminal(runc_spec, ["sh", "-c", "echo ran"])
    c["linux"]["seccomp"] = dict(denies("kexec_load"), listenerPath="/no/such/agent.sock")
    both(c, lambda s: s.run()).assert_same()
