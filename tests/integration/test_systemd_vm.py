"""Run the systemd guest tests from a host without systemd: one ``vm-run
--systemd`` boot (a QEMU guest whose PID 1 is systemd 252, D-Bus
socket-activated, pure cgroup v2), one pytest invocation over the systemd
cgroup driver's integration tests, the podman/containerd end-to-end ones, and
a Type=notify service that runs a container (NOTIFY_SOCKET).

vm-run lives in shared/tools beside the repository clone (VM_RUN overrides
it); the guest boots the host's root read-only, so it needs the packages
`make deps` installs (systemd, dbus, python3-jeepney, podman, containerd,
qemu-system-x86, linux-image-amd64).  The time of the boot and of the run is
printed (pytest -s shows it); docs/cgroups.md gives the budget.
"""

from __future__ import annotations

import os
import shutil

import pytest
from guest import pytest_in_guest, skip_reason

TARGETS = [
    "tests/integration/test_systemd_cgroup.py",
    "tests/e2e/test_systemd.py",
    "tests/integration/test_notify.py::test_a_systemd_unit_of_type_notify",
]
TIMEOUT = 900


def _why_skip() -> str | None:
    why = skip_reason()
    if why:
        return why
    if os.path.isdir("/run/systemd/system"):
        return "this host runs systemd: the targets run directly"
    for tool in ("systemd", "dbus-daemon"):
        if not (shutil.which(tool) or os.path.exists(f"/lib/systemd/{tool}")):
            return f"{tool} is not installed (make deps)"
    return None


@pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip()))
def test_systemd_guest():
    out, summary = pytest_in_guest(TARGETS, TIMEOUT, vm_args=("--systemd",))
    # every test must run there (runc too): a skip means the guest is not what we think
    assert "skipped" not in summary, out[-4000:]
