"""containerd's checkpoint API with ociruntime (issue 15), and with runc 1.1
through the same test as the anchor.

``ctr containers checkpoint --task CID REF`` pauses the task, has the runc
shim call ``<runtime> checkpoint --image-path ... --work-path ...
--leave-running`` (the container keeps running) and stores the images as
a checkpoint image REF in containerd's content store; ``ctr containers
restore --live CID REF`` makes the container again from REF and its task
with ``<runtime> restore --detach --image-path ...``, then starts it.  The
shim's BinaryName (``--runc-binary``) travels in the checkpoint, so the
restore runs the same runtime.

Needs a host where CRIU works (``criu check``): test_checkpoint_vm.py runs
this file in the vm-run guest.  The counter writes to a file, read through
/proc/PID/root: ctr's own stdio is gone once it returns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from .conftest import criu_works, describe, pid_alive, unique, wait_for

COUNT = "i=0; while :; do i=$((i+1)); echo $i > /count.new; mv /count.new /count; sleep 0.3; done"
RUNC = shutil.which("runc") or "/usr/sbin/runc"


pytestmark = pytest.mark.skipif(
    not criu_works(), reason="criu check fails here: test_checkpoint_vm.py runs this in a guest"
)


@pytest.fixture(params=["ociruntime", "runc"])
def binary(request, ctr):
    """The runtime the runc shim runs (its BinaryName)."""
    return ctr.runtime if request.param == "ociruntime" else RUNC


def task_pid(ctr, cid: str) -> int:
    for line in ctr.ok("task", "ls").stdout.splitlines()[1:]:
        f = line.split()
        if f and f[0] == cid:
            return int(f[1])
    raise AssertionError(f"no task {cid}: {ctr.ok('task', 'ls').stdout}")


def count(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/root/count") as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def test_checkpoint_image_and_live_restore(ctr, binary):
    cid = unique("ck")
    ref = f"localhost/checkpoint-{cid}:latest"
    flags = [f if f != ctr.runtime else binary for f in ctr.runtime_flags()]
    try:
        ctr.ok("run", "-d", *flags, ctr.image, cid, "sh", "-c", COUNT)
        pid = task_pid(ctr, cid)
        assert wait_for(lambda: count(pid) >= 2, timeout=60), count(pid)

        before = count(pid)  # the checkpoint holds this or a later value
        r = ctr("containers", "checkpoint", "--task", cid, ref, timeout=300)
        assert r.returncode == 0, describe(r) + ctr.runtime_log(cid) + ctr.tail()
        # --leave-running, and resumed: the task goes on counting
        assert ctr.tasks()[cid] == "RUNNING", ctr.tasks()
        n = count(pid)
        assert wait_for(lambda: count(pid) > n, timeout=60), (n, count(pid))
        assert ref in ctr.ok("image", "ls", "--quiet").stdout.split()

        ctr.remove(cid)
        assert not pid_alive(pid)
        assert cid not in ctr.ok("container", "ls", "--quiet").stdout.split()

        r = ctr("containers", "restore", "--live", cid, ref, timeout=300)
        assert r.returncode == 0, describe(r) + ctr.runtime_log(cid) + ctr.tail()
        assert wait_for(lambda: ctr.tasks().get(cid) == "RUNNING", timeout=60), ctr.tasks()
        new = task_pid(ctr, cid)
        # the file may not be readable through /proc/PID/root the moment ctr says RUNNING
        first = wait_for(lambda: count(new), timeout=60)
        # the counter goes on from the checkpoint (taken between `before` and `n`),
        # never from 1
        assert before <= first, (before, first, n)
        assert wait_for(lambda: count(new) > first, timeout=60), (first, count(new))
        if binary != RUNC:
            # the task is ociruntime's: its state under the shim's root
            out = subprocess.run(
                [binary, "--root", os.path.join(ctr.runc_root, ctr.ns), "state", cid],
                capture_output=True,
                text=True,
            )
            assert out.returncode == 0, describe(out)
            st = json.loads(out.stdout)
            assert (st["status"], st["pid"]) == ("running", new), st
        r = ctr.ok("task", "exec", "--exec-id", unique("x"), cid, "cat", "/count")
        assert int(r.stdout) >= first
    finally:
        ctr.remove(cid)
        ctr("image", "rm", "--sync", ref)
