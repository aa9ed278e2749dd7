"""Shared fixtures: a private state root, busybox bundles, and the CLI.

Integration tests drive ``ociruntime`` as a subprocess, the way containerd
and podman do.  ``OCIRUNTIME`` overrides the command (default: the installed
``ociruntime``, which ``make test`` installs first).  Every test gets its own
``--root`` and unique ids: other runtimes may run on the same machine.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OCI = shlex.split(os.environ.get("OCIRUNTIME", "ociruntime"))


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="integration tests run real containers and need root")
        for item in items:
            if "integration" in str(item.fspath):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> str:
    """One busybox rootfs built from Debian's busybox-static, copied per bundle."""
    d = tmp_path_factory.mktemp("busybox")
    rootfs = d / "rootfs"
    bb = shutil.which("busybox") or "/bin/busybox"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy2(bb, rootfs / "bin" / "busybox")
    applets = subprocess.run(
        [bb, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", rootfs / "bin" / a)
    for sub in ("dev", "proc", "sys", "tmp", "etc", "root", "var", "run"):
        (rootfs / sub).mkdir(exist_ok=True)
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (rootfs / "etc" / "group").write_text("root:x:0:\nnobody:x:65534:\n")
    return str(rootfs)


def default_config() -> dict:
    from ociruntime.spec.default import default_config as dc

    return dc()


class Bundle:
    """A bundle directory: ``.path``, ``.rootfs``, ``.config`` (written by :meth:`save`)."""

    def __init__(self, path: str, config: dict) -> None:
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        self.config = config

    def save(self) -> Bundle:
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(self.config, f, indent=2)
        return self


@pytest.fixture
def make_bundle(tmp_path, busybox_rootfs):
    """make_bundle(args=[...], **top-level config overrides) -> Bundle (saved)."""
    n = [0]

    def make(args: list[str] | None = None, **overrides: object) -> Bundle:
        n[0] += 1
        path = tmp_path / f"bundle{n[0]}"
        path.mkdir()
        # hard links: cheap, and the busybox binary is never written to
        subprocess.run(["cp", "-al", busybox_rootfs, str(path / "rootfs")], check=True)
        cfg = default_config()
        cfg["process"]["args"] = args or ["true"]
        cfg["root"]["readonly"] = False
        cfg.update(overrides)
        return Bundle(str(path), cfg).save()

    return make


@pytest.fixture
def bundle(make_bundle) -> Bundle:
    return make_bundle()


class Runtime:
    """Runs the CLI with a private --root; remembers ids to clean up after."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.ids: set[str] = set()

    def new_id(self, prefix: str = "t") -> str:
        cid = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.ids.add(cid)
        return cid

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        global_args: tuple[str, ...] = (),
        **kw,
    ) -> subprocess.CompletedProcess:
        cmd = [*OCI, "--root", self.root, *global_args, *args]
        return subprocess.run(
            cmd, input=input, capture_output=True, text=True, timeout=timeout, **kw
        )

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        r = self(*args, **kw)
        assert r.returncode == 0, (
            f"{args}: exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
        )
        return r

    def state(self, cid: str) -> dict:
        return json.loads(self.ok("state", cid).stdout)

    def cleanup(self) -> None:
        for cid in list(self.ids):
            self("delete", "--force", cid)


@pytest.fixture
def oci(tmp_path):
    root = tmp_path / "state"
    root.mkdir()
    rt = Runtime(str(root))
    yield rt
    rt.cleanup()


def leftovers(rt: Runtime, bundle: Bundle | None = None, ids: tuple[str, ...] = ()) -> list[str]:
    """What a container left behind: state dirs, host mounts, processes.

    A process counts when its command line names the bundle or one of the
    ids (an init that never exec'd still shows the runtime's arguments), or
    when its root is the bundle's rootfs as seen from the host.
    """
    out = [f"state dir {n}" for n in os.listdir(rt.root)]
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if bundle and bundle.path in line:
                out.append(f"mount {line.split()[4]}")
    marks = [m.encode() for m in (*ids, *((bundle.path,) if bundle else ()))]
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            root = os.readlink(f"/proc/{pid}/root")
        except OSError:
            continue
        if any(m in cmd for m in marks) or (bundle and root.startswith(bundle.rootfs)):
            text = cmd.replace(b"\0", b" ").decode(errors="replace")
            out.append(f"process {pid}: {text}")
    return out
