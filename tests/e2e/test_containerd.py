"""containerd 1.6 (runc v2 shim) with ociruntime as the shim's BinaryName.

Two ways of selecting the runtime are exercised:

* ``ctr run --runtime io.containerd.runc.v2 --runc-binary ociruntime``: the
  client puts ``BinaryName`` in the runc shim's options (the ``ctr`` fixture
  of conftest.py, a private containerd with the CRI plugin disabled);
* a config.toml runtime entry ``[plugins."io.containerd.grpc.v1.cri"
  .containerd.runtimes.ociruntime]`` with ``options.BinaryName``: only the
  CRI plugin reads that table, so ``test_cri_runtime_handler`` starts a
  second containerd with CRI enabled and does what the kubelet does for a
  pod whose RuntimeClass has ``handler: ociruntime``: RunPodSandbox with
  ``runtime_handler = "ociruntime"``, then CreateContainer, StartContainer,
  ExecSync, StopContainer...  The CRI calls go over a minimal gRPC client
  written here (HTTP/2 frames with literal HPACK headers, protobuf encoded
  by hand), since no CRI client is packaged in Debian 12.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import struct
import subprocess
import time

import pytest

from .conftest import (
    IMAGE_NAME,
    PAUSE_NAME,
    TIMEOUT,
    Containerd,
    Ctr,
    clean_namespace,
    containerd_config,
    describe,
    need,
    pid_alive,
    remove_cgroup_dirs,
    runtime_binary,
    unique,
    wait_for,
    write_oci_archive,
)


@pytest.fixture
def ids(ctr):
    """unique container ids, removed (task and container) after the test."""
    made: list[str] = []

    def new(prefix: str = "ctr") -> str:
        made.append(unique(prefix))
        return made[-1]

    yield new
    for cid in made:
        ctr.remove(cid)


def task_pid(ctr: Ctr, cid: str) -> int:
    for line in ctr.ok("task", "ls").stdout.splitlines()[1:]:
        f = line.split()
        if f[0] == cid:
            return int(f[1])
    raise AssertionError(f"no task {cid}")


def test_run_rm_echo(ctr, ids):
    cid = ids()
    r = ctr.run("--rm", ctr.image, cid, "echo", "hello", "world")
    assert r.returncode == 0, describe(r) + ctr.tail()
    assert r.stdout == "hello world\n"
    assert cid not in ctr.ok("container", "ls", "--quiet").stdout.split()
    # the shim ran ociruntime with its --root: the state dir came and went
    assert os.path.isdir(os.path.join(ctr.runc_root, ctr.ns))
    assert not os.path.exists(os.path.join(ctr.runc_root, ctr.ns, cid))


@pytest.mark.parametrize("code", [0, 3, 255])
def test_exit_status(ctr, ids, code):
    r = ctr.run("--rm", ctr.image, ids(), "sh", "-c", f"exit {code}")
    assert r.returncode == code, describe(r) + ctr.tail()


def running_state(ctr, root: str, cid: str) -> dict:
    """ociruntime's own state of ``cid`` under ``root``, which must say running."""
    r = subprocess.run(
        [ctr.runtime, "--root", root, "state", cid],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, describe(r)
    state = json.loads(r.stdout)
    assert state["status"] == "running"
    return state


def test_runtime_is_ociruntime(ctr, ids):
    """While the task runs, ociruntime (not runc) knows the container: its own state."""
    cid = ids()
    ctr.ok("run", "--detach", *ctr.runtime_flags(), ctr.image, cid, "sleep", "1000")
    state = running_state(ctr, os.path.join(ctr.runc_root, ctr.ns), cid)
    assert state["pid"] == task_pid(ctr, cid)


def test_detached_ps_exec_kill_delete(ctr, ids):
    cid = ids()
    loop = "trap 'exit 5' TERM; while :; do sleep 0.1; done"
    r = ctr.run("--detach", ctr.image, cid, "sh", "-c", loop)
    assert r.returncode == 0, describe(r) + ctr.runtime_log(cid) + ctr.tail()
    assert ctr.tasks()[cid] == "RUNNING"
    pid = task_pid(ctr, cid)
    assert pid_alive(pid)

    # task ps: the shim runs `ociruntime ps --format json`
    r = ctr.ok("task", "ps", cid)
    pids = [int(line.split()[0]) for line in r.stdout.splitlines()[1:]]
    assert pid in pids, r.stdout

    # exec: output, status, and the same pid namespace as the init
    r = ctr(
        "task", "exec", "--exec-id", unique("x"), cid, "sh", "-c", "echo out; echo err >&2; exit 4"
    )
    assert r.returncode == 4, describe(r) + ctr.runtime_log(cid)
    assert r.stdout == "out\n"
    assert "err" in r.stderr
    r = ctr.ok(
        "task",
        "exec",
        "--exec-id",
        unique("x"),
        "--cwd",
        "/tmp",
        "--user",
        "65534",
        cid,
        "sh",
        "-c",
        "pwd; id -u; cat /proc/1/cmdline",
    )
    out = r.stdout.split("\n", 2)
    assert out[:2] == ["/tmp", "65534"]
    with open(f"/proc/{pid}/cmdline") as f:
        assert out[2] == f.read()

    # kill: SIGTERM by default; the trap makes the shell exit 5
    ctr.ok("task", "kill", cid)
    assert wait_for(lambda: ctr.tasks().get(cid) == "STOPPED", timeout=10), ctr.tasks()
    assert not pid_alive(pid)
    r = ctr.ok("task", "delete", cid)
    assert "exit code 5" in r.stderr, describe(r)
    assert cid not in ctr.tasks()
    ctr.ok("container", "delete", cid)
    assert cid not in ctr.ok("container", "ls", "--quiet").stdout.split()
    assert not os.path.exists(os.path.join(ctr.runc_root, ctr.ns, cid))


def test_task_kill_signal(ctr, ids):
    cid = ids()
    ctr.ok("run", "--detach", *ctr.runtime_flags(), ctr.image, cid, "sleep", "1000")
    pid = task_pid(ctr, cid)
    # sleep as pid 1 has no handler: SIGTERM from outside is ignored, SIGKILL is not
    ctr.ok("task", "kill", "--signal", "SIGKILL", cid)
    assert wait_for(lambda: ctr.tasks().get(cid) == "STOPPED", timeout=10)
    assert not pid_alive(pid)
    r = ctr.ok("task", "delete", cid)
    assert "exit code 137" in r.stderr, describe(r)


def test_task_pause_resume(ctr, ids):
    cid = ids()
    loop = "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done"
    ctr.ok("run", "--detach", *ctr.runtime_flags(), ctr.image, cid, "sh", "-c", loop)
    ctr.ok("task", "pause", cid)
    assert ctr.tasks()[cid] == "PAUSED"
    ctr.ok("task", "resume", cid)
    assert ctr.tasks()[cid] == "RUNNING"

    def counter() -> str:
        return ctr.ok("task", "exec", "--exec-id", unique("x"), cid, "cat", "/tmp/n").stdout

    first = counter()
    assert wait_for(lambda: counter() != first, timeout=10)


def test_tty(ctr, ids):
    """``ctr run --tty``: the pty comes through the shim's console socket.

    ctr sets the window size only after the task started (with runc too), so
    the shell waits for it.
    """
    # (busybox stty exits 0 even when it cannot read the size: test the output)
    script = (
        "tty; for i in $(seq 100); do s=$(stty size 2>/dev/null);"
        ' case $s in [1-9]*) break;; esac; sleep 0.05; done; echo "size $s"; exit 6'
    )
    inner = shlex.join(
        ctr.cmd("run", "--rm", "--tty", *ctr.runtime_flags(), ctr.image, ids(), "sh", "-c", script)
    )
    r = subprocess.run(
        ["script", "-qec", f"stty rows 33 cols 111; {inner}", "/dev/null"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    out = r.stdout.replace("\r", "")
    assert r.returncode == 6, describe(r)
    # (ctr writes a NUL first, which the pty echoes as ^@)
    assert re.search(r"^(\^@)?/dev/pts/\d+$", out, re.M), describe(r)
    assert "size 33 111" in out, describe(r)


def test_stats_from_the_container_cgroup(ctr, ids):
    """The shim reads metrics from the cgroup the config names: init must be in it."""
    cid = ids()
    ctr.ok(
        "run",
        "--detach",
        "--memory-limit",
        str(64 << 20),
        *ctr.runtime_flags(),
        ctr.image,
        cid,
        "sleep",
        "1000",
    )
    r = ctr.ok("task", "metrics", "--format", "json", cid)
    metrics = json.loads(r.stdout)
    text = json.dumps(metrics)
    assert str(64 << 20) in text, text[:2000]
    pid = task_pid(ctr, cid)
    with open(f"/proc/{pid}/cgroup") as f:
        assert f"/{ctr.ns}/{cid}" in f.read()


# --- the CRI path: a config.toml runtime entry, as a RuntimeClass selects it ---

# The containerd config.toml entry of docs/integrations.md (the test adds
# Root, to keep the runtime's state in the test's directory).
CRI_RUNTIME_ENTRY = """
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ociruntime]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.ociruntime.options]
  BinaryName = "{binary}"
"""
DOC = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "docs", "integrations.md"
)


def doc_blocks(lang: str) -> list[str]:
    with open(DOC) as f:
        return re.findall(rf"^```{lang}\n(.*?)^```", f.read(), re.M | re.S)


def test_docs_show_the_tested_entry():
    """docs/integrations.md shows the config.toml entry these tests run."""
    entry = CRI_RUNTIME_ENTRY.format(binary="/usr/local/bin/ociruntime").strip()
    assert any(entry in block for block in doc_blocks("toml")), entry


# What the private CRI instance needs besides: no pulls (sandbox image is
# imported), the native snapshotter (no overlay mounts), no CNI (the pod
# uses the host network), and no oom_score_adj below containerd's own
# (lowering it needs CAP_SYS_RESOURCE).
CRI_SETTINGS = """
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  restrict_oom_score_adj = true
  disable_apparmor = true
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "native"
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "{d}/cni/bin"
  conf_dir = "{d}/cni/net.d"
"""


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb(*fields: tuple[int, object]) -> bytes:
    """A protobuf message from (field number, value) pairs.

    int -> varint; str/bytes -> length-delimited (strings, nested messages
    made with pb(), map entries); a list repeats the field.
    """
    out = bytearray()
    for num, value in fields:
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, bool | int):
                out += _varint(num << 3) + _varint(int(v))
            else:
                data = v.encode() if isinstance(v, str) else v
                out += _varint(num << 3 | 2) + _varint(len(data)) + data
    return bytes(out)


def pb_decode(data: bytes) -> dict[int, list]:
    """field number -> values (int for varints, bytes for length-delimited)."""
    out: dict[int, list] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        n = shift = 0
        while True:
            b = data[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    while i < len(data):
        key = varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            v: object = varint()
        elif wire == 2:
            n = varint()
            v = data[i : i + n]
            i += n
        elif wire == 1:
            v = data[i : i + 8]
            i += 8
        elif wire == 5:
            v = data[i : i + 4]
            i += 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(num, []).append(v)
    return out


class GrpcError(Exception):
    pass


def _hpack_int(n: int, prefix_bits: int) -> bytes:
    limit = (1 << prefix_bits) - 1
    if n < limit:
        return bytes([n])
    out = bytearray([limit])
    n -= limit
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    out.append(n)
    return bytes(out)


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", stream)
        + payload
    )


def grpc_unary(sock_path: str, method: str, request: bytes, timeout: float = TIMEOUT) -> bytes:
    """One unary gRPC call over HTTP/2 on a unix socket; the response message.

    Headers are sent as HPACK literals without indexing (no Huffman), so no
    HPACK state is needed to send.  The response headers are not decoded: a
    call that failed is a trailers-only response, with no DATA frame, and
    raises GrpcError (containerd's log has the reason).
    """
    DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0, 1, 3, 4, 6, 7
    END_STREAM, END_HEADERS, PADDED, ACK = 0x1, 0x4, 0x8, 0x1
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", method),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    block = b"".join(
        b"\x00" + _hpack_int(len(k), 7) + k.encode() + _hpack_int(len(v), 7) + v.encode()
        for k, v in headers
    )
    message = b"\x00" + struct.pack(">I", len(request)) + request
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(sock_path)
        s.sendall(
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
            + _frame(SETTINGS, 0, 0, b"")
            + _frame(HEADERS, END_HEADERS, 1, block)
            + _frame(DATA, END_STREAM, 1, message)
        )
        f = s.makefile("rb")

        def read(n: int) -> bytes:
            data = f.read(n)
            if len(data) != n:
                raise GrpcError(f"{method}: connection closed")
            return data

        body = b""
        while True:
            head = read(9)
            length = int.from_bytes(head[:3], "big")
            kind, flags = head[3], head[4]
            stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
            payload = read(length)
            if kind == SETTINGS and not flags & ACK:
                s.sendall(_frame(SETTINGS, ACK, 0, b""))
            elif kind == PING and not flags & ACK:
                s.sendall(_frame(PING, ACK, 0, payload))
            elif kind == GOAWAY or (kind == RST_STREAM and stream == 1):
                raise GrpcError(f"{method}: stream reset ({kind})")
            elif kind == DATA and stream == 1:
                if flags & PADDED:
                    payload = payload[1 : len(payload) - payload[0]]
                body += payload
            if stream == 1 and kind in (DATA, HEADERS) and flags & END_STREAM:
                break
    if len(body) < 5:
        raise GrpcError(f"{method} failed")
    (n,) = struct.unpack(">I", body[1:5])
    return body[5 : 5 + n]


class Cri:
    """The handful of CRI v1 calls a kubelet makes to run a pod's container."""

    RT = "/runtime.v1.RuntimeService/"
    IMG = "/runtime.v1.ImageService/"

    def __init__(self, sock: str) -> None:
        self.sock = sock

    def call(self, method: str, *fields: tuple[int, object]) -> dict[int, list]:
        return pb_decode(grpc_unary(self.sock, method, pb(*fields)))

    def version(self) -> str:
        return self.call(self.RT + "Version", (1, "v1"))[2][0].decode()

    def image_present(self, image: str) -> bool:
        return 1 in self.call(self.IMG + "ImageStatus", (1, pb((1, image))))

    def status_info(self, method: str, field: str, ident: str) -> dict:
        r = self.call(self.RT + method, (1, ident), (2, 1))  # verbose
        for entry in r.get(2, []):
            kv = pb_decode(entry)
            if kv[1][0] == field.encode():
                return json.loads(kv[2][0])
        return {}


def pod_config(name: str, log_dir: str, cgroup_parent: str) -> bytes:
    NODE = 2
    metadata = pb((1, name), (2, unique("uid")), (3, "e2e"), (4, 0))
    namespaces = pb((1, NODE), (2, 1), (3, 0))  # host network, container pid, pod ipc
    linux = pb((1, cgroup_parent), (2, pb((1, namespaces))))
    return pb((1, metadata), (3, log_dir), (8, linux))


@pytest.fixture(scope="module")
def cri(e2e_dir, busybox_layer):
    """A private containerd with the CRI plugin and the ociruntime runtime entry."""
    need("containerd", "ctr", "containerd-shim-runc-v2")
    d = os.path.join(e2e_dir, "cri")
    binary = runtime_binary()
    extra = (
        CRI_SETTINGS.format(pause=PAUSE_NAME, d=d)
        + CRI_RUNTIME_ENTRY.format(binary=binary)
        + f'  Root = "{d}/runc"\n'
    )
    daemon = Containerd(d, containerd_config(d, extra, cri=True))
    daemon.start()
    ctr = Ctr(d, binary, "k8s.io")
    client = Cri(daemon.sock)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client.version()
                break
            except (GrpcError, OSError):
                with open(ctr.log) as f:
                    failed = "failed to load plugin io.containerd.grpc.v1.cri" in f.read()
                if failed or time.monotonic() > deadline:
                    raise AssertionError("CRI did not come up" + ctr.tail()) from None
                time.sleep(0.2)
        archive = os.path.join(d, "images.tar")
        images = {IMAGE_NAME: ["/bin/sh"], PAUSE_NAME: ["/bin/sleep", "2147483647"]}
        write_oci_archive(archive, busybox_layer, images)
        ctr.ok("image", "import", "--snapshotter", "native", archive, timeout=120)
        for image in images:
            assert wait_for(lambda i=image: client.image_present(i), timeout=30), image
        yield client, ctr
    finally:
        clean_namespace(ctr, "k8s.io")
        daemon.stop()


def test_config_toml_runtime_entry_parsed(cri):
    """containerd reads the entry as a CRI runtime with BinaryName (config dump)."""
    _, ctr = cri
    r = subprocess.run(
        ["containerd", "--config", os.path.join(ctr.dir, "config.toml"), "config", "dump"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, describe(r)
    m = re.search(
        r'^\s*\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.ociruntime\]\n(.*?)(?=^\s*\[(?!plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.ociruntime))',
        r.stdout,
        re.M | re.S,
    )
    assert m, r.stdout
    assert 'runtime_type = "io.containerd.runc.v2"' in m.group(0)
    assert f'BinaryName = "{runtime_binary()}"' in m.group(0)


def test_cri_runtime_handler(cri, tmp_path):
    """A pod with runtime_handler "ociruntime" runs its sandbox and containers with ociruntime."""
    client, ctr = cri
    runc_root = os.path.join(ctr.dir, "runc", "k8s.io")
    log_dir = str(tmp_path / "pod")
    os.makedirs(log_dir)
    parent = unique("e2e-pod")
    pod = pod_config(unique("pod"), log_dir, "/" + parent)
    sandbox = client.call(client.RT + "RunPodSandbox", (1, pod), (2, "ociruntime"))[1][0].decode()
    container = None
    try:
        info = client.status_info("PodSandboxStatus", "info", sandbox)
        assert info.get("runtimeHandler") == "ociruntime", info
        assert info.get("runtimeType") == "io.containerd.runc.v2", info
        # the sandbox's pause container is ociruntime's: its state is in Root
        r = subprocess.run(
            [ctr.runtime, "--root", runc_root, "state", sandbox],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert r.returncode == 0 and json.loads(r.stdout)["status"] == "running", describe(r)

        config = pb(
            (1, pb((1, "app"), (2, 0))),
            (2, pb((1, IMAGE_NAME))),
            (3, ["sh", "-c"]),
            (4, ["echo hello-from-cri; exec sleep 1000"]),
            (6, pb((1, "GREETING"), (2, "hi"))),
            (11, "app.log"),
        )
        container = client.call(client.RT + "CreateContainer", (1, sandbox), (2, config), (3, pod))[
            1
        ][0].decode()
        client.call(client.RT + "StartContainer", (1, container))
        state = running_state(ctr, runc_root, container)
        with open(f"/proc/{state['pid']}/cgroup") as f:
            assert f"/{parent}/" in f.read()  # the pod's cgroup parent

        # ExecSync: the kubelet's exec probes
        res = client.call(
            client.RT + "ExecSync",
            (1, container),
            (2, ["sh", "-c", "echo $GREETING; echo oops >&2; exit 3"]),
            (3, 10),
        )
        assert res[1][0] == b"hi\n"
        assert res[2][0] == b"oops\n"
        assert res[3][0] == 3

        log = os.path.join(log_dir, "app.log")
        assert wait_for(
            lambda: os.path.exists(log) and "hello-from-cri" in open(log).read(), timeout=10
        )

        client.call(client.RT + "StopContainer", (1, container), (2, 0))
        status = pb_decode(client.call(client.RT + "ContainerStatus", (1, container))[1][0])
        EXITED = 2
        assert status[3][0] == EXITED
        assert status[7][0] == 137  # SIGKILL: timeout 0
        assert not pid_alive(state["pid"])
    finally:
        if container:
            client.call(client.RT + "RemoveContainer", (1, container))
        client.call(client.RT + "StopPodSandbox", (1, sandbox))
        client.call(client.RT + "RemovePodSandbox", (1, sandbox))
        remove_cgroup_dirs(parent)
    assert not os.path.exists(os.path.join(runc_root, sandbox))
    assert not os.path.exists(os.path.join(runc_root, container))


def test_cri_unknown_handler_rejected(cri, tmp_path):
    """A RuntimeClass whose handler the node lacks: RunPodSandbox fails, nothing runs."""
    client, ctr = cri
    parent = unique("e2e-pod")
    pod = pod_config(unique("pod"), str(tmp_path), "/" + parent)
    with pytest.raises(GrpcError):
        client.call(client.RT + "RunPodSandbox", (1, pod), (2, "no-such-handler"))
    with open(ctr.log) as f:
        # (logfmt escapes the quotes)
        assert re.search(r'no runtime for \\?"no-such-handler\\?" is configured', f.read())
    remove_cgroup_dirs(parent)
