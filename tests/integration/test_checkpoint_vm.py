"""Run the checkpoint/restore tests (test_checkpoint.py, and podman's:
tests/e2e/test_podman_checkpoint.py) in the vm-run guest, from a host where
CRIU does not work: this project's host has a kernel newer than Debian 12's
criu 3.17 can handle (its vDSO), the guest boots Debian's 6.1 kernel, where
``criu check`` says "Looks good" (docs/checkpoint.md).

One boot, one pytest invocation (like test_cgroups_v2_vm.py).  The guest
emulates its CPU (no nested virtualisation here), so everything is 20-40x
slower: the files keep to a few checkpoint/restore cycles; 3 to 4 minutes
in all (3 min 30 s measured).  Skipped where CRIU works on the host itself (the
files then run directly) or vm-run cannot run.
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
TARGETS = ["tests/integration/test_checkpoint.py", "tests/e2e/test_podman_checkpoint.py"]
TIMEOUT = 900


def _skip_reason() -> str | None:
    if os.environ.get("VM_RUN_GUEST"):
        return "already inside the vm-run guest"
    if os.geteuid() != 0:
        return "needs root"
    if not (os.path.isfile(VM_RUN) and os.access(VM_RUN, os.X_OK)):
        return f"vm-run not found at {VM_RUN} (shared/tools beside the clone, or set VM_RUN)"
    if not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 is not installed (Debian package qemu-system-x86)"
    if not glob.glob("/boot/vmlinuz-*"):
        return "no /boot/vmlinuz-* kernel for the guest (Debian package linux-image-amd64)"
    criu = shutil.which("criu") or "/usr/sbin/criu"
    if not os.path.exists(criu):
        return "criu is not installed (make deps)"
    if subprocess.run([criu, "check"], capture_output=True, timeout=120).returncode == 0:
        return "criu works on this host: test_checkpoint.py runs directly"
    return None


@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_checkpoint_restore_in_the_guest():
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
        "--durations=10",
        *TARGETS,
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
    print(f"vm-run took {took:.1f}s\n{out[-3000:]}")
    assert r.returncode != 124, f"the guest timed out after {TIMEOUT}s\n{out[-4000:]}"
    assert r.returncode == 0, f"exit {r.returncode} after {took:.1f}s\n{out[-8000:]}"
    summary = [x for x in out.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", x)]
    assert summary, f"no pytest summary from the guest\n{out[-4000:]}"
    assert re.search(r"\d+ passed", summary[-1]), out[-4000:]
    # only the host's own cases may be skipped there (they need no CRIU)
    skips = re.findall(r"SKIPPED \[\d+\] (\S+)", out)
    assert all("test_checkpoint.py" in s for s in skips), out[-4000:]
    assert "criu check fails" not in out, out[-4000:]
