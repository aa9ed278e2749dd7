"""One pytest run in a throw-away QEMU guest (``../shared/tools/vm-run``),
for the test files this host cannot run itself: cgroup v2
(test_cgroups_v2_vm.py), a systemd host (test_systemd_vm.py), a kernel CRIU
works with (test_checkpoint_vm.py).

Each of those is one boot and one pytest invocation; this module holds what
they share: where vm-run is, why it cannot run here, and running pytest in
the guest with the checks every such run needs (no timeout, exit 0, a
summary with passes).  vm-run lives in shared/tools beside the repository
clone (VM_RUN overrides it); the guest boots the host's root read-only with
the repository shared writable, so it runs the host's installed
``ociruntime``.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VM_RUN = os.environ.get("VM_RUN") or os.path.join(
    os.path.dirname(REPO), "shared", "tools", "vm-run"
)


def skip_reason() -> str | None:
    """Why no guest can be booted here (None: it can)."""
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
    return None


def pytest_in_guest(
    targets: list[str],
    timeout: int,
    vm_args: tuple[str, ...] = (),
    pytest_args: tuple[str, ...] = (),
) -> tuple[str, str]:
    """Run pytest over ``targets`` in a guest booted with ``vm_args``; fail
    unless it passed.  Returns (the whole output, pytest's summary line).

    The guest runs from the repository (shared writable), never from /tmp: a
    systemd guest's tmpfiles would empty a shared /tmp."""
    cmd = [VM_RUN, *vm_args, "--timeout", str(timeout), "--", "/usr/bin/python3", "-m", "pytest"]
    cmd += ["-q", "-p", "no:cacheprovider", "-rs", *pytest_args, *targets]
    t0 = time.monotonic()
    r = subprocess.run(
        cmd,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
    )
    took = time.monotonic() - t0
    out = r.stdout + r.stderr
    print(f"vm-run {' '.join(vm_args)} took {took:.1f}s")
    assert r.returncode != 124, f"the guest timed out after {timeout}s\n{out[-4000:]}"
    assert r.returncode == 0, f"exit {r.returncode} after {took:.1f}s\n{out[-8000:]}"
    summary = [x for x in out.splitlines() if re.search(r"\d+ (passed|failed|skipped|error)", x)]
    assert summary, f"no pytest summary from the guest\n{out[-4000:]}"
    assert re.search(r"\d+ passed", summary[-1]), out[-4000:]
    return out, summary[-1]
