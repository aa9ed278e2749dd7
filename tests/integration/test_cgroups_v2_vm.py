"""Run the cgroup v2 test files (limits, the eBPF device filter, the hot path's imports) in the pure cgroup v2 QEMU guest, from a v1/hybrid host.

Podman and containerd end to end on cgroup v2 (the cgroupfs driver) in the
same boot: most users' hosts are v2.  Everything in the guest is 20-40x
slower (TCG), so CI runs the e2e tests that touch cgroups (limits in the
cgroup, the container's own view, enforcement, stats, a pod through CRI);
``OCIRUNTIME_VM_E2E=all`` runs the whole of test_podman.py and
test_containerd.py there (64 tests with the v2 files, 18 minutes).

One boot, one pytest invocation.  vm-run lives in shared/tools beside the
repository clone (``<repo>/../shared/tools/vm-run``; VM_RUN overrides it).
The guest boots Debian's kernel (package linux-image-amd64) under
qemu-system-x86 with the host root read-only and the repository shared
writable, so it runs the same installed ``ociruntime`` as the host.
"""

from __future__ import annotations

import os

import pytest
from guest import pytest_in_guest, skip_reason

# test_hot_path.py: on v2 the create path loads the eBPF device filter, which must
# stay on the minimal FFI (it imported ctypes there, unseen on a hybrid host)
TARGETS = [
    "tests/integration/test_cgroups_v2.py",
    "tests/integration/test_cgroup_v2_devices.py",
    "tests/integration/test_hot_path.py",
]
E2E_ALL = ["tests/e2e/test_podman.py", "tests/e2e/test_containerd.py"]
E2E = [
    "tests/e2e/test_podman.py::test_run_rm_echo",
    "tests/e2e/test_podman.py::test_memory_and_pids_limit_in_cgroup",
    "tests/e2e/test_podman.py::test_container_sees_its_own_cgroup",
    "tests/e2e/test_podman.py::test_pids_limit_enforced",
    "tests/e2e/test_containerd.py::test_stats_from_the_container_cgroup",
    "tests/e2e/test_containerd.py::test_cri_runtime_handler",
]
TIMEOUT = 1500 if os.environ.get("OCIRUNTIME_VM_E2E") == "all" else 600


def pure_v2_host() -> bool:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if pre.split()[4] == "/sys/fs/cgroup" and post.split()[0] == "cgroup2":
                return True
    return False


def _why_skip() -> str | None:
    if pure_v2_host():
        return "this host is pure cgroup v2 already: test_cgroups_v2.py runs directly"
    return skip_reason()


@pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip()))
def test_cgroups_v2_in_the_guest():
    e2e = E2E_ALL if os.environ.get("OCIRUNTIME_VM_E2E") == "all" else E2E
    out, summary = pytest_in_guest([*TARGETS, *e2e], TIMEOUT)
    # every test of the file must run there: a skip means the guest is not what we think
    assert "skipped" not in summary, out[-4000:]
