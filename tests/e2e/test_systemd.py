"""podman and containerd on a systemd host: the systemd cgroup driver end to end.

podman with its default cgroup manager there (``--cgroup-manager systemd``:
conmon passes ``--systemd-cgroup`` and cgroupsPath
``machine.slice:libpod:<id>``), and containerd's CRI with ``SystemdCgroup =
true`` (the shim passes ``--systemd-cgroup`` to every call; cgroupsPath
``<pod slice>:cri-containerd:<id>``).  Each test runs with ociruntime and,
where it is installed, with runc, so the expectation is runc's behaviour.

Skipped unless systemd is PID 1 on a pure cgroup v2 host: test_systemd_vm.py
runs this file in the systemd QEMU guest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from .conftest import (
    IMAGE_NAME,
    PAUSE_NAME,
    Containerd,
    Ctr,
    Podman,
    clean_namespace,
    containerd_config,
    describe,
    need,
    pid_alive,
    runtime_binary,
    unmount_under,
    wait_for,
    write_oci_archive,
)
from .test_containerd import CRI_SETTINGS, Cri, GrpcError, doc_blocks, pb, pb_decode, pod_config

CG = "/sys/fs/cgroup"
SLOW = 180  # podman and containerd calls in the 20-40x slower guest


def _why_skip() -> str | None:
    if not os.path.isdir("/run/systemd/system"):
        return "systemd is not running (test_systemd_vm.py runs this file in a systemd guest)"
    if not os.path.exists(CG + "/cgroup.controllers"):
        return "not a pure cgroup v2 host"
    return None


needs_systemd = pytest.mark.skipif(_why_skip() is not None, reason=str(_why_skip()))

RUNTIMES = ["ociruntime"] + (["runc"] if shutil.which("runc") else [])


def binary(name: str) -> str:
    return runtime_binary() if name == "ociruntime" else shutil.which("runc")


def show(unit: str, *props: str) -> dict[str, str]:
    r = subprocess.run(
        ["systemctl", "show", unit, "-p", ",".join(props)],
        capture_output=True,
        text=True,
        timeout=SLOW,
    )
    return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)


def gone(unit: str) -> bool:
    return show(unit, "LoadState").get("LoadState") == "not-found"


def rd(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


# --- podman ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=RUNTIMES)
def sdpodman(request, busybox_layer):
    need("podman", "conmon")
    # short: podman refuses a runroot path longer than 50 characters
    d = tempfile.mkdtemp(prefix=f"pm-{request.param}-", dir="/tmp")
    pm = Podman(d, binary(request.param), cgroup_manager="systemd")
    try:
        pm.ok("import", "--change", "CMD=/bin/sh", busybox_layer, pm.image, timeout=SLOW)
        yield pm
    finally:
        pm("rm", "--all", "--force", "--time", "0", timeout=SLOW)
        pm("rmi", "--all", "--force", timeout=SLOW)
        unmount_under(d)
        shutil.rmtree(d, ignore_errors=True)


def name() -> str:
    return "sd-" + uuid.uuid4().hex[:10]


def detached(pm, n: str, *args: str) -> tuple[str, int]:
    """``podman run -d``: (the container's unit, its init's host pid)."""
    pm.ok(
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        n,
        *args,
        pm.image,
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 0.2; done",
        timeout=SLOW,
    )
    cid = pm.inspect(n, "{{.Id}}")
    pid = int(pm.inspect(n, "{{.State.Pid}}"))
    return f"libpod-{cid}.scope", pid


@needs_systemd
def test_podman_run_limits_exec_stop_rm(sdpodman):
    """run -d with --memory and --pids-limit: the scope in machine.slice with
    MemoryMax and TasksMax (and the files), exec in it, stop, rm: the unit gone."""
    pm, n = sdpodman, name()
    unit, pid = detached(pm, n, "--memory", "64m", "--pids-limit", "77")
    s = show(unit, "ActiveState", "Slice", "ControlGroup", "Delegate", "MemoryMax", "TasksMax")
    assert s == {
        "ActiveState": "active",
        "Slice": "machine.slice",
        "ControlGroup": f"/machine.slice/{unit}",
        "Delegate": "yes",
        "MemoryMax": str(64 << 20),
        "TasksMax": "77",
    }
    path = f"{CG}/machine.slice/{unit}"
    assert rd(f"/proc/{pid}/cgroup") == f"0::/machine.slice/{unit}"
    assert rd(f"{path}/memory.max") == str(64 << 20) and rd(f"{path}/pids.max") == "77"
    r = pm.ok(
        "exec",
        n,
        "sh",
        "-c",
        "echo hello; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max",
        timeout=SLOW,
    )
    assert r.stdout.split() == ["hello", str(64 << 20), "77"]
    pm.ok("exec", "-d", n, "sleep", "60", timeout=SLOW)
    # the exec'd processes are in the scope too
    assert len(rd(f"{path}/cgroup.procs").split()) >= 2
    pm.ok("stop", "--time", "30", n, timeout=SLOW)
    assert pm.inspect(n, "{{.State.ExitCode}}") == "0"
    assert not pid_alive(pid)
    pm.ok("rm", n, timeout=SLOW)
    assert wait_for(lambda: gone(unit), timeout=30), show(unit, "ActiveState", "LoadState")
    assert not os.path.exists(path)


@needs_systemd
def test_podman_privileged(sdpodman):
    """--privileged: every device allowed (DevicePolicy=auto), a host device usable."""
    pm, n = sdpodman, name()
    unit, _ = detached(pm, n, "--privileged")
    assert show(unit, "DevicePolicy")["DevicePolicy"] == "auto"
    r = pm("exec", n, "sh", "-c", "head -c 0 /dev/loop0 && echo dev-ok; exit 3", timeout=SLOW)
    assert r.returncode == 3 and r.stdout.strip() == "dev-ok", describe(r)
    pm.ok("rm", "--force", "--time", "0", n, timeout=SLOW)
    assert wait_for(lambda: gone(unit), timeout=30)


# --- containerd's CRI with SystemdCgroup = true -------------------------------------------

SD_ENTRY = """
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{handler}.options]
  BinaryName = "{binary}"
  Root = "{root}"
  SystemdCgroup = true
"""


def test_docs_show_the_tested_entry():
    """docs/integrations.md shows the SystemdCgroup entry these tests run."""
    entry = SD_ENTRY.format(handler="ociruntime", binary="/usr/local/bin/ociruntime", root="")
    entry = entry.replace('  Root = ""\n', "").strip()
    assert any(entry in block for block in doc_blocks("toml")), entry


@pytest.fixture(scope="module")
def sdcri(e2e_dir, busybox_layer):
    """A private containerd with CRI: a handler per runtime, each with SystemdCgroup = true."""
    need("containerd", "ctr", "containerd-shim-runc-v2")
    d = os.path.join(e2e_dir, "cri-systemd")
    extra = CRI_SETTINGS.format(pause=PAUSE_NAME, d=d) + "".join(
        SD_ENTRY.format(handler=f"sd-{rt}", binary=binary(rt), root=f"{d}/{rt}") for rt in RUNTIMES
    )
    daemon = Containerd(d, containerd_config(d, extra, cri=True))
    daemon.start(timeout=SLOW)
    ctr = Ctr(d, runtime_binary(), "k8s.io")
    client = Cri(daemon.sock)
    try:
        assert wait_for(lambda: _up(client), timeout=SLOW), "CRI did not come up" + ctr.tail()
        archive = os.path.join(d, "images.tar")
        images = {IMAGE_NAME: ["/bin/sh"], PAUSE_NAME: ["/bin/sleep", "2147483647"]}
        write_oci_archive(archive, busybox_layer, images)
        ctr.ok("image", "import", "--snapshotter", "native", archive, timeout=SLOW)
        for image in images:
            assert wait_for(lambda i=image: client.image_present(i), timeout=SLOW), image
        yield client, ctr, d
    finally:
        clean_namespace(ctr, "k8s.io")
        daemon.stop()


def _up(client) -> bool:
    try:
        client.version()
        return True
    except (GrpcError, OSError):
        return False


@needs_systemd
@pytest.mark.parametrize("rt", RUNTIMES)
def test_cri_pod_and_container_as_systemd_scopes(sdcri, rt, tmp_path):
    client, ctr, d = sdcri
    token = uuid.uuid4().hex[:8]
    parent = f"ocie2e{token}.slice"  # a kubelet's is kubepods-besteffort-pod<uid>.slice
    log_dir = str(tmp_path / "pod")
    os.makedirs(log_dir)
    pod = pod_config(f"pod-{token}", log_dir, parent)
    sandbox = client.call(client.RT + "RunPodSandbox", (1, pod), (2, f"sd-{rt}"))[1][0].decode()
    container = None
    try:
        sunit = f"cri-containerd-{sandbox}.scope"
        s = show(sunit, "ActiveState", "Slice", "Delegate")
        assert s == {"ActiveState": "active", "Slice": parent, "Delegate": "yes"}, s
        config = pb(
            (1, pb((1, "app"), (2, 0))),
            (2, pb((1, IMAGE_NAME))),
            (3, ["sh", "-c"]),
            (4, ["exec sleep 1000"]),
            (11, "app.log"),
        )
        container = client.call(client.RT + "CreateContainer", (1, sandbox), (2, config), (3, pod))[
            1
        ][0].decode()
        client.call(client.RT + "StartContainer", (1, container))
        cunit = f"cri-containerd-{container}.scope"
        assert show(cunit, "ActiveState", "Slice") == {"ActiveState": "active", "Slice": parent}
        res = client.call(
            client.RT + "ExecSync", (1, container), (2, ["sh", "-c", "echo hi; exit 3"]), (3, 60)
        )
        assert res[1][0] == b"hi\n" and res[3][0] == 3
        # the state of the runtime that ran it
        st = subprocess.run(
            [binary(rt), "--root", f"{d}/{rt}/k8s.io", "state", container],
            capture_output=True,
            text=True,
            timeout=SLOW,
        )
        assert st.returncode == 0 and '"running"' in st.stdout, describe(st)
        client.call(client.RT + "StopContainer", (1, container), (2, 0))
        status = pb_decode(client.call(client.RT + "ContainerStatus", (1, container))[1][0])
        assert status[3][0] == 2  # EXITED
        assert wait_for(lambda: gone(cunit), timeout=30), show(cunit, "ActiveState")
    finally:
        if container:
            client.call(client.RT + "RemoveContainer", (1, container))
        client.call(client.RT + "StopPodSandbox", (1, sandbox))
        client.call(client.RT + "RemovePodSandbox", (1, sandbox))
    assert wait_for(lambda: gone(sunit), timeout=30), show(sunit, "ActiveState")
    assert not os.path.exists(f"{d}/{rt}/k8s.io/{sandbox}")
    subprocess.run(["systemctl", "stop", parent], capture_output=True, timeout=SLOW)
