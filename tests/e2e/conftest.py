"""End-to-end fixtures: ociruntime driven by real podman and containerd.

Everything lives under one private temporary directory per session: podman's
``--root``/``--runroot``/``--tmpdir`` (vfs storage, so no overlay mounts),
containerd's root, state, socket and runc-shim ``Root``.  Images are built
offline from the host's busybox-static: a deterministic layer tar that
``podman import`` takes as it is, and an OCI image layout written by hand
(layer, config, manifest, index.json with sha256 digests) for
``ctr image import``.

The runtime under test is ``OCIRUNTIME`` when that names one executable,
otherwise the installed ``ociruntime``; podman and the containerd shim need
a single binary path, not a command line.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import uuid

import pytest

# Every podman/ctr call gets a timeout; a container operation takes well
# under a second here, so these only stop a hung call from hanging CI.
TIMEOUT = 60
IMAGE_NAME = "localhost/ociruntime-e2e/busybox:latest"
PAUSE_NAME = "localhost/ociruntime-e2e/pause:latest"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MTIME = 1_700_000_000  # fixed, so that the layer's digest is stable

# The containers.conf of docs/integrations.md, word for word apart from the
# runtime's path.  The ulimits: podman's default nofile/nproc of 1048576 are
# above the hard limit on hosts where root lacks CAP_SYS_RESOURCE.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "ociruntime"
runtime_supports_json = ["ociruntime", "crun", "runc"]

[engine.runtimes]
ociruntime = ["{runtime}"]
"""


def runtime_binary() -> str:
    words = shlex.split(os.environ.get("OCIRUNTIME", ""))
    if len(words) == 1:
        found = shutil.which(words[0])
        if found:
            return os.path.abspath(found)
    return shutil.which("ociruntime") or "/usr/local/bin/ociruntime"


def need(*tools: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("end-to-end tests run real containers and need root")
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        pytest.skip(f"not installed: {' '.join(missing)}")
    if not os.access(runtime_binary(), os.X_OK):
        pytest.skip(f"runtime not installed: {runtime_binary()} (make install)")


def criu_works() -> bool:
    """``criu check`` passes here (the checkpoint files run directly; else
    test_checkpoint_vm.py runs them in a guest with a kernel CRIU supports)."""
    criu = shutil.which("criu") or "/usr/sbin/criu"
    try:
        return subprocess.run([criu, "check"], capture_output=True, timeout=300).returncode == 0
    except OSError:
        return False


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def describe(r: subprocess.CompletedProcess) -> str:
    cmd = r.args if isinstance(r.args, str) else shlex.join(r.args)
    return f"$ {cmd}\nexit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"


# --- images -------------------------------------------------------------------


def _tarinfo(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = MTIME
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def write_busybox_layer(path: str) -> None:
    """A rootfs tar: busybox and its applet links in /bin, root and nobody."""
    bb = shutil.which("busybox") or "/bin/busybox"
    applets = subprocess.run(
        [bb, "--list"], capture_output=True, text=True, check=True, timeout=TIMEOUT
    ).stdout.split()
    files = {
        "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        "etc/group": "root:x:0:\nnobody:x:65534:\n",
    }
    dirs = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "proc": 0o555, "sys": 0o555}
    dirs.update({"root": 0o700, "run": 0o755, "tmp": 0o1777, "var": 0o755})
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, mode in sorted(dirs.items()):
            tar.addfile(_tarinfo(name, tarfile.DIRTYPE, mode))
        with open(bb, "rb") as f:
            data = f.read()
        ti = _tarinfo("bin/busybox", tarfile.REGTYPE, 0o755)
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))
        for applet in sorted(set(applets) - {"busybox"}):
            ti = _tarinfo(f"bin/{applet}", tarfile.SYMTYPE, 0o777)
            ti.linkname = "busybox"
            tar.addfile(ti)
        for name, text in files.items():
            ti = _tarinfo(name, tarfile.REGTYPE, 0o644)
            ti.size = len(text)
            tar.addfile(ti, io.BytesIO(text.encode()))


def oci_arch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(m, m)


def write_oci_archive(path: str, layer: str, images: dict[str, list[str]]) -> None:
    """An OCI image layout tar (for ``ctr image import``), one image per name.

    ``images`` maps a full image name to its config's Cmd; all share the
    one layer.  The name goes in the ``io.containerd.image.name`` annotation
    of index.json, which ctr uses as the image name.
    """
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest, len(data)

    with open(layer, "rb") as f:
        layer_digest, layer_size = blob(f.read())
    arch = oci_arch()
    manifests = []
    for name, cmd in images.items():
        config = {
            "created": "2023-11-14T22:13:20Z",
            "architecture": arch,
            "os": "linux",
            "config": {"Env": [PATH_ENV], "Cmd": cmd, "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
            "history": [{"created": "2023-11-14T22:13:20Z", "created_by": "ociruntime e2e"}],
        }
        cfg_digest, cfg_size = blob(json.dumps(config, sort_keys=True).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": cfg_digest,
                "size": cfg_size,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest,
                    "size": layer_size,
                }
            ],
        }
        man_digest, man_size = blob(json.dumps(manifest, sort_keys=True).encode())
        manifests.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": man_digest,
                "size": man_size,
                "platform": {"architecture": arch, "os": "linux"},
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1],
                },
            }
        )
    index = {"schemaVersion": 2, "manifests": manifests}
    entries = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index, sort_keys=True).encode(),
    }
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name in ("blobs", "blobs/sha256"):
            tar.addfile(_tarinfo(name, tarfile.DIRTYPE, 0o755))
        for digest, data in sorted(blobs.items()):
            entries["blobs/sha256/" + digest.split(":", 1)[1]] = data
        for name, data in entries.items():
            ti = _tarinfo(name, tarfile.REGTYPE, 0o644)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory):
    """The session's private directory; mounts under it are undone at the end."""
    d = str(tmp_path_factory.mktemp("e2e"))
    yield d
    unmount_under(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def busybox_layer(e2e_dir) -> str:
    path = os.path.join(e2e_dir, "busybox-layer.tar")
    write_busybox_layer(path)
    return path


def mounts_under(d: str) -> list[str]:
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == d or mp.startswith(d.rstrip("/") + "/"):
                out.append(mp)
    return out


def unmount_under(d: str) -> None:
    for mp in reversed(mounts_under(d)):
        subprocess.run(["umount", "-l", mp], capture_output=True, timeout=TIMEOUT)


def remove_cgroup_dirs(name: str) -> None:
    """rmdir the (empty) cgroup ``/name`` and everything below it, in every hierarchy.

    A runtime creates the parents of a container's cgroup path and, like
    runc, removes only the container's own directory; a session's unique
    parent (containerd's namespace, a pod's cgroup parent) is removed here.
    """
    if not name.strip("/") or "/" in name.strip("/"):
        raise ValueError(name)
    roots = ["/sys/fs/cgroup"]
    try:
        roots += [e.path for e in os.scandir("/sys/fs/cgroup") if e.is_dir(follow_symlinks=False)]
    except OSError:
        return
    for root in roots:
        top = os.path.join(root, name.strip("/"))
        if not os.path.isdir(top) or os.path.ismount(top):
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(pred, timeout: float = 10, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


# --- podman -------------------------------------------------------------------


class Podman:
    """``podman`` with private storage, the e2e containers.conf, cgroupfs
    (or ``cgroup_manager="systemd"``, podman's default on a systemd host)."""

    def __init__(self, d: str, runtime: str, cgroup_manager: str = "cgroupfs") -> None:
        self.dir = d
        self.runtime = runtime
        os.makedirs(d, exist_ok=True)
        self.conf = os.path.join(d, "containers.conf")
        with open(self.conf, "w") as f:
            f.write(CONTAINERS_CONF.format(runtime=runtime))
        self.runroot = os.path.join(d, "runroot")
        self.base = [
            "podman",
            "--root",
            os.path.join(d, "root"),
            "--runroot",
            self.runroot,
            "--tmpdir",
            os.path.join(d, "tmp"),
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            cgroup_manager,
            "--events-backend",
            "file",
        ]
        self.env = dict(os.environ, CONTAINERS_CONF=self.conf)
        # registries.conf, policy.json and storage.conf stay the system's;
        # nothing here pulls.
        self.env.pop("CONTAINERS_STORAGE_CONF", None)
        self.image = IMAGE_NAME

    def cmd(self, *args: str) -> list[str]:
        return [*self.base, *args]

    def __call__(
        self, *args: str, timeout: float = TIMEOUT, input: str | None = None
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.cmd(*args),
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        r = self(*args, **kw)
        assert r.returncode == 0, describe(r) + self.runtime_log(args)
        return r

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess:
        """``podman run`` with no network unless the test asks for one.

        The default rootful network is a netavark bridge, which needs
        iptables and is not what these tests are about.
        """
        net = [] if any(a.startswith("--network") for a in args) else ["--network", "none"]
        return self("run", *net, *args, **kw)

    def inspect(self, name: str, fmt: str) -> str:
        return self.ok("inspect", "--format", fmt, name).stdout.strip()

    def runtime_log(self, args: tuple[str, ...] = ()) -> str:
        """The runtime's json log (podman's ``oci-log``) of the containers named in args."""
        base = os.path.join(self.runroot, "vfs-containers")
        out = []
        for name in args:
            r = self("inspect", "--format", "{{.Id}}", name)
            if r.returncode != 0:
                continue
            path = os.path.join(base, r.stdout.strip(), "userdata", "oci-log")
            try:
                with open(path) as f:
                    out.append(f"\n{path}:\n{f.read()}")
            except OSError:
                pass
        return "".join(out)


@pytest.fixture(scope="session")
def podman(e2e_dir, busybox_layer):
    need("podman", "conmon")
    pm = Podman(os.path.join(e2e_dir, "podman"), runtime_binary())
    pm.ok("import", "--change", "CMD=/bin/sh", busybox_layer, pm.image)
    info = pm.ok("info", "--format", "{{.Host.OCIRuntime.Path}}").stdout.strip()
    assert info == pm.runtime, f"podman picked runtime {info!r}, not {pm.runtime!r}"
    yield pm
    pm("rm", "--all", "--force", "--time", "0", timeout=120)
    pm("rmi", "--all", "--force", timeout=120)
    unmount_under(pm.dir)


# --- containerd ---------------------------------------------------------------


class Ctr:
    """``ctr`` on a private containerd, in one namespace."""

    def __init__(self, d: str, runtime: str, namespace: str) -> None:
        self.dir = d
        self.runtime = runtime
        self.sock = os.path.join(d, "containerd.sock")
        self.ns = namespace
        self.runc_root = os.path.join(d, "runc")
        self.image = IMAGE_NAME
        self.log = os.path.join(d, "containerd.log")

    def cmd(self, *args: str) -> list[str]:
        return ["ctr", "--address", self.sock, "--namespace", self.ns, *args]

    def __call__(
        self, *args: str, timeout: float = TIMEOUT, namespace: str | None = None
    ) -> subprocess.CompletedProcess:
        cmd = self.cmd(*args)
        if namespace:
            cmd[4] = namespace
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        r = self(*args, **kw)
        assert r.returncode == 0, describe(r) + self.tail()
        return r

    def runtime_flags(self) -> list[str]:
        """What selects ociruntime for ``ctr run``: the runc v2 shim's BinaryName."""
        return [
            "--runtime",
            "io.containerd.runc.v2",
            "--runc-binary",
            self.runtime,
            "--runc-root",
            self.runc_root,
            "--snapshotter",
            "native",
        ]

    def run(self, *args: str, **kw) -> subprocess.CompletedProcess:
        """``ctr run [RUNTIME FLAGS] ARGS`` (ARGS end with image, id, command)."""
        return self("run", *self.runtime_flags(), *args, **kw)

    def tail(self, n: int = 30) -> str:
        try:
            with open(self.log) as f:
                lines = f.readlines()[-n:]
        except OSError:
            return ""
        return "\ncontainerd log (tail):\n" + "".join(lines)

    def runtime_log(self, cid: str) -> str:
        """The runtime's json log the shim passes with ``--log``: <bundle>/log.json."""
        path = os.path.join(
            self.dir, "state", "io.containerd.runtime.v2.task", self.ns, cid, "log.json"
        )
        try:
            with open(path) as f:
                return f"\n{path}:\n{f.read()}"
        except OSError:
            return ""

    def tasks(self) -> dict[str, str]:
        """task id -> status (RUNNING, PAUSED, STOPPED, ...)."""
        out = {}
        for line in self.ok("task", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if len(f) >= 3:
                out[f[0]] = f[2]
        return out

    def remove(self, cid: str) -> None:
        """Best-effort removal of a task and its container."""
        self("task", "kill", "--signal", "SIGKILL", cid)
        wait_for(lambda: self.tasks().get(cid) in (None, "STOPPED"), timeout=10)
        self("task", "delete", "--force", cid)
        self("container", "delete", cid)


def containerd_config(d: str, extra: str = "", cri: bool = False) -> str:
    """config.toml for a private containerd: its own root, state, socket and opt dir."""
    disabled = "" if cri else 'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
    return (
        "version = 2\n"
        f'root = "{d}/root"\n'
        f'state = "{d}/state"\n'
        f"{disabled}"
        "\n[grpc]\n"
        f'  address = "{d}/containerd.sock"\n'
        "\n[ttrpc]\n"
        f'  address = "{d}/containerd.sock.ttrpc"\n'
        "\n[debug]\n"
        '  level = "info"\n'
        '\n[plugins."io.containerd.internal.v1.opt"]\n'
        f'  path = "{d}/opt"\n'
        f"{extra}"
    )


class Containerd:
    """A containerd process started on a private config; ``stop()`` cleans up."""

    def __init__(self, d: str, config: str) -> None:
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.config = os.path.join(d, "config.toml")
        with open(self.config, "w") as f:
            f.write(config)
        self.sock = os.path.join(d, "containerd.sock")
        self.log = os.path.join(d, "containerd.log")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["containerd", "--config", self.config],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock) and self._connects():
                r = subprocess.run(
                    ["ctr", "--address", self.sock, "version"],
                    capture_output=True,
                    timeout=TIMEOUT,
                )
                if r.returncode == 0:
                    return
            time.sleep(0.1)
        self.stop()
        with open(self.log) as f:
            raise RuntimeError(f"containerd did not come up:\n{f.read()[-3000:]}")

    def _connects(self) -> bool:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(self.sock)
            except OSError:
                return False
        return True

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        unmount_under(self.dir)


def clean_namespace(ctr: Ctr, namespace: str) -> None:
    """Remove every task, container and image of a namespace, and the namespace."""
    cids = ctr("container", "ls", "--quiet", namespace=namespace).stdout.split()
    for cid in cids:
        ctr("task", "kill", "--signal", "SIGKILL", cid, namespace=namespace)

    def running() -> bool:
        out = ctr("task", "ls", namespace=namespace).stdout
        return any(s in out for s in (" RUNNING", " PAUSED", " CREATED"))

    wait_for(lambda: not running(), timeout=10)
    for cid in cids:
        ctr("task", "delete", "--force", cid, namespace=namespace)
        ctr("container", "delete", cid, namespace=namespace)
    imgs = ctr("image", "ls", "--quiet", namespace=namespace).stdout.split()
    if imgs:
        ctr("image", "rm", "--sync", *imgs, namespace=namespace)
    ctr("namespace", "rm", namespace, namespace=namespace)


@pytest.fixture(scope="session")
def ctr(e2e_dir, busybox_layer):
    """A private containerd (CRI disabled) with the busybox image imported."""
    need("containerd", "ctr", "containerd-shim-runc-v2")
    d = os.path.join(e2e_dir, "containerd")
    daemon = Containerd(d, containerd_config(d))
    daemon.start()
    c = Ctr(d, runtime_binary(), unique("e2e"))
    try:
        archive = os.path.join(d, "images.tar")
        write_oci_archive(archive, busybox_layer, {IMAGE_NAME: ["/bin/sh"]})
        c.ok("image", "import", "--snapshotter", "native", archive, timeout=120)
        assert IMAGE_NAME in c.ok("image", "ls", "--quiet").stdout.split()
        yield c
    finally:
        clean_namespace(c, c.ns)
        daemon.stop()
        remove_cgroup_dirs(c.ns)  # ctr's default cgroup is /<namespace>/<id>
