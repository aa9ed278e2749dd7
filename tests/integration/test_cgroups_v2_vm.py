"""Run the cgroup v2 test files (limits, and the eBPF device filter) in the pure cgroup v2 QEMU guest, from a v1/hybrid host.

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

import glob
import os
import re
import shutil
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VM_RUN = os.environ.get("VM_RUN") or os.path.join(
    os.path.dirname(REPO), "shared", "tools", "vm-run"
)
TARGETS = ["tests/integration/test_cgroups_v2.py", "tests/integration/test_cgroup_v2_devices.py"]
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


def _skip_reason() -> str | None:
    if os.environ.get("VM_RUN_GUEST"):
        return "already inside the vm-run guest"
    if not (os.path.isfile(VM_RUN) and os.access(VM_RUN, os.X_OK)):
        return f"vm-run not found at {VM_RUN} (shared/tools beside the clone, or set VM_RUN)"
    if not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)"
    if not glob.glob("/boot/vmlinuz-*"):
        return "no /boot/vmlinuz-* kernel for the guest (Debian package linux-image-amd64)"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if pre.split()[4] == "/sys/fs/cgroup" and post.split()[0] == "cgroup2":
                return "this host is pure cgroup v2 already: test_cgroups_v2.py runs directly"
    return None


@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_cgroups_v2_in_the_guest():
    cmd = [
        VM_RUN,
        "--timeout",
        str(TIMEOUT),
        "--",
        "/usr/bin/python3",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-rs",
        *TARGETS,
        *(E2E_ALL if os.environ.get("OCIRUNTIME_VM_E2E") == "all" else E2E),
    ]
    t0 = time.monotonic()
    r = subprocess.run(
        cmd,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 60,
    )
    took = time.monotonic() - t0
    out = r.stdout + r.stderr
    print(f"vm-run took {took:.1f}s")
    assert r.returncode != 124, f"the guest timed out after {TIMEOUT}s\n{out[-4000:]}"
    assert r.returncode == 0, f"exit {r.returncode} after {took:.1f}s\n{out[-6000:]}"
    summary = [x for x in out.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", x)]
    assert summary, f"no pytest summary from the guest\n{out[-4000:]}"
    assert re.search(r"\d+ passed", summary[-1]), out[-4000:]
    # every test of the file must run there: a skip means the guest is not what we think
    assert "skipped" not in summary[-1], out[-4000:]
