"""Run the systemd guest tests from a host without systemd: one ``vm-run
--systemd`` boot (a QEMU guest whose PID 1 is systemd 252, D-Bus
socket-activated, pure cgroup v2), one pytest invocation over the systemd
cgroup driver's integration tests and the podman/containerd end-to-end ones.

vm-run lives in shared/tools beside the repository clone (VM_RUN overrides
it); the guest boots the host's root read-only, so it needs the packages
`make deps` installs (systemd, dbus, python3-jeepney, podman, containerd,
qemu-system-x86, linux-image-amd64).  The time of the boot and of the run is
printed (pytest -s shows it); docs/cgroups.md gives the budget.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest
from test_cgroups_v2_vm import REPO, VM_RUN, _skip_reason

TARGETS = ["tests/integration/test_systemd_cgroup.py", "tests/e2e/test_systemd.py"]
TIMEOUT = 900


def _why_skip() -> str | None:
    why = _skip_reason()
    if why and "pure cgroup v2 already" not in why:
        return why
    if os.path.isdir("/run/systemd/system"):
        return "this host runs systemd: the targets run directly"
    for tool in ("systemd", "dbus-daemon"):
        if not (shutil.which(tool) or os.path.exists(f"/lib/systemd/{tool}")):
            return f"{tool} is not installed (make deps)"
    return None


@pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip()))
def test_systemd_guest():
    cmd = [
        VM_RUN,
        "--systemd",
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
    print(f"vm-run --systemd took {took:.1f}s")
    assert r.returncode != 124, f"the guest timed out after {TIMEOUT}s\n{out[-4000:]}"
    assert r.returncode == 0, f"exit {r.returncode} after {took:.1f}s\n{out[-8000:]}"
    summary = [x for x in out.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", x)]
    assert summary, f"no pytest summary from the guest\n{out[-4000:]}"
    assert re.search(r"\d+ passed", summary[-1]), out[-4000:]
    # every test must run there (runc too): a skip means the guest is not what we think
    assert "skipped" not in summary[-1], out[-4000:]
