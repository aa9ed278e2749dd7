"""``podman container checkpoint`` and ``podman container restore`` with
ociruntime (issue 15), and with runc 1.1 through the same test as the anchor.

Needs a host where CRIU works (``criu check``): test_checkpoint_vm.py runs
this file in the vm-run guest.  podman calls ``<runtime> checkpoint
--image-path <ctr>/checkpoint --work-path <bundle> ID`` itself, then
``delete --force``; conmon calls ``<runtime> restore --bundle B --pid-file P
--detach --image-path ... --work-path B ID`` with its own pipes as stdio.
"""

from __future__ import annotations

import shutil

import pytest

from .conftest import criu_works, describe, pid_alive, unique, wait_for

COUNT = "i=0; while :; do i=$((i+1)); echo $i; sleep 0.3; done"
RUNC = shutil.which("runc") or "/usr/sbin/runc"


pytestmark = pytest.mark.skipif(
    not criu_works(), reason="criu check fails here: test_checkpoint_vm.py runs this in a guest"
)


@pytest.fixture(params=["ociruntime", "runc"])
def runtime(request):
    """podman's global flags that pick the runtime (none: ociruntime, the default)."""
    if request.param == "runc":
        return ["--runtime", RUNC]
    return []


def numbers(podman, name: str) -> list[int]:
    r = podman.ok("logs", name)
    return [int(x) for x in (r.stdout + r.stderr).split() if x.isdigit()]


def more(podman, name: str, n: int) -> list[int]:
    """podman logs, once a second (each call is seconds in the guest), until n numbers."""
    return wait_for(lambda: len(got := numbers(podman, name)) >= n and got, timeout=120, interval=1)


def test_checkpoint_and_restore(podman, runtime):
    name = unique("cr")
    try:
        podman.ok(
            *runtime,
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            name,
            podman.image,
            "sh",
            "-c",
            COUNT,
        )
        want = "runc" if runtime else "ociruntime"
        rt, pid = podman.inspect(name, "{{.OCIRuntime}} {{.State.Pid}}").split()
        assert rt.endswith(want)
        more(podman, name, 2)

        r = podman("container", "checkpoint", name, timeout=300)
        assert r.returncode == 0, describe(r) + podman.runtime_log((name,))
        st = podman.inspect(name, "{{.State.Status}} {{.State.Checkpointed}}")
        assert st == "exited true"
        assert not pid_alive(int(pid))
        n = len(numbers(podman, name))

        r = podman("container", "restore", name, timeout=300)
        assert r.returncode == 0, describe(r) + podman.runtime_log((name,))
        st = podman.inspect(name, "{{.State.Status}} {{.State.Restored}}")
        assert st == "running true"
        nums = more(podman, name, n + 2)
        assert nums == list(range(1, len(nums) + 1)), nums  # went on, never started over
        r = podman.ok("exec", name, "echo", "inside")
        assert r.stdout == "inside\n"
    finally:
        podman("rm", "--force", "--time", "0", "--ignore", name, timeout=120)
