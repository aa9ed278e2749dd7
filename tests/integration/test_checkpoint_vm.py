"""Run the checkpoint/restore tests (test_checkpoint.py, podman's
tests/e2e/test_podman_checkpoint.py and containerd's
tests/e2e/test_containerd_checkpoint.py) in the vm-run guest, from a host where
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

import os
import re
import shutil
import subprocess

import pytest
from guest import pytest_in_guest, skip_reason

TARGETS = [
    "tests/integration/test_checkpoint.py",
    "tests/e2e/test_podman_checkpoint.py",
    "tests/e2e/test_containerd_checkpoint.py",
]
TIMEOUT = 900


def _why_skip() -> str | None:
    why = skip_reason()
    if why:
        return why
    criu = shutil.which("criu") or "/usr/sbin/criu"
    if not os.path.exists(criu):
        return "criu is not installed (make deps)"
    if subprocess.run([criu, "check"], capture_output=True, timeout=120).returncode == 0:
        return "criu works on this host: test_checkpoint.py runs directly"
    return None


@pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip()))
def test_checkpoint_restore_in_the_guest():
    out, _ = pytest_in_guest(TARGETS, TIMEOUT, pytest_args=("--durations=10",))
    print(out[-3000:])
    # only the host's own cases may be skipped there (they need no CRIU)
    skips = re.findall(r"SKIPPED \[\d+\] (\S+)", out)
    assert all("test_checkpoint.py" in s for s in skips), out[-4000:]
    assert "criu check fails" not in out, out[-4000:]
