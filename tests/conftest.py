"""Shared fixtures: a private state root, busybox bundles, and the CLI.

Integration tests drive ``ociruntime`` as a subprocess, the way containerd
and podman do.  ``OCIRUNTIME`` overrides the command (default: the installed
``ociruntime``, which ``make test`` installs first).  Every test gets its own
``--root`` and unique ids: other runtimes may run on the same machine.

Below the fixtures: the helpers the integration tests share (running the CLI
with stdio on files, one-line errors, waiting, /proc readers).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OCI = shlex.split(os.environ.get("OCIRUNTIME", "ociruntime"))
ERROR_PREFIX = "ociruntime: "


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


@pytest.fixture(scope="session")
def probe(tmp_path_factory):
    """probe(name) -> the path of tests/integration/probes/NAME.c compiled
    statically (it runs in any rootfs), built once per session."""
    built: dict[str, str] = {}
    out_dir = tmp_path_factory.mktemp("probes")

    def build(name: str) -> str:
        if name not in built:
            if shutil.which("gcc") is None:
                pytest.fail("gcc is needed to build the test probes (make deps installs it)")
            src = os.path.join(REPO, "tests", "integration", "probes", name + ".c")
            out = str(out_dir / name)
            subprocess.run(["gcc", "-static", "-O2", "-o", out, src], check=True)
            built[name] = out
        return built[name]

    return build


def default_config() -> dict:
    """The tests' base config: ``ociruntime spec``'s (runc's template), but
    without a terminal (the tests run containers from pipes and files) and
    with a cgroup namespace as well (added once: never a duplicate)."""
    from ociruntime.config.default import default_config as dc

    cfg = dc()
    cfg["process"]["terminal"] = False
    nss = cfg["linux"]["namespaces"]
    if not any(ns["type"] == "cgroup" for ns in nss):
        nss.append({"type": "cgroup"})
    return cfg


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

    def add_caps(self, *caps: str) -> None:
        """Grant capabilities beyond the default set (bounding, effective, permitted); saves."""
        c = self.config["process"].setdefault("capabilities", {})
        for kind in ("bounding", "effective", "permitted"):
            c[kind] = sorted(set(c.get(kind) or []) | set(caps))
        self.save()


def new_bundle(path, rootfs: str, args: list[str] | None = None, **overrides: object) -> Bundle:
    """A saved bundle at ``path`` (made here) with a hard-linked copy of ``rootfs``."""
    path.mkdir()
    # hard links: cheap, and the busybox binary is never written to
    subprocess.run(["cp", "-al", rootfs, str(path / "rootfs")], check=True)
    cfg = default_config()
    cfg["process"]["args"] = args or ["true"]
    cfg["root"]["readonly"] = False
    cfg.update(overrides)
    return Bundle(str(path), cfg).save()


@pytest.fixture
def make_bundle(tmp_path, busybox_rootfs):
    """make_bundle(args=[...], **top-level config overrides) -> Bundle (saved)."""
    n = [0]

    def make(args: list[str] | None = None, **overrides: object) -> Bundle:
        n[0] += 1
        return new_bundle(tmp_path / f"bundle{n[0]}", busybox_rootfs, args, **overrides)

    return make


@pytest.fixture
def bundle(make_bundle) -> Bundle:
    return make_bundle()


class Runtime:
    """Runs the CLI with a private --root; remembers ids to clean up after.

    ``rt(...)``/``rt.ok(...)`` capture stdout and stderr through pipes: fine
    for commands that end with their container.  ``rt.cli(...)``/``rt.cli_ok(...)``
    put stdio on files instead, for commands whose container outlives them.
    ``cli_timeout``: the default timeout of ``cli`` (a slow VM wants more).
    """

    def __init__(self, root: str, cli_timeout: float = 30) -> None:
        self.root = root
        self.cli_timeout = cli_timeout
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

    def cli(
        self,
        *args: str,
        input: str | bytes | None = None,
        timeout: float | None = None,
        root: str | None = None,
        global_args: tuple[str, ...] = (),
        fd3: str | None = None,
        **popen,
    ) -> subprocess.CompletedProcess:
        """The CLI with stdio on temporary files, never pipes.

        A container that outlives the call (``run -d``, ``create``, ``exec -d``)
        keeps the stdio it is given: on a pipe, reading to EOF would wait for it
        to exit.  stdin is /dev/null, or a file holding ``input``.  ``root``
        replaces this runtime's --root; ``fd3``: a file the CLI gets open on
        fd 3 (for --preserve-fds); ``popen``: more ``subprocess.run`` arguments
        (cwd, env, preexec_fn).
        """
        cmd = [*OCI, "--root", root or self.root, *global_args, *args]
        if fd3 is not None:
            cmd = ["/bin/sh", "-c", 'exec 3<"$0" && exec "$@"', fd3, *cmd]
        with (
            tempfile.TemporaryFile() as fin,
            tempfile.TemporaryFile() as fout,
            tempfile.TemporaryFile() as ferr,
        ):
            if input is not None:
                fin.write(input.encode() if isinstance(input, str) else input)
                fin.seek(0)
            p = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL if input is None else fin,
                stdout=fout,
                stderr=ferr,
                timeout=self.cli_timeout if timeout is None else timeout,
                **popen,
            )
            fout.seek(0)
            ferr.seek(0)
            out = fout.read().decode(errors="replace")
            err = ferr.read().decode(errors="replace")
        return subprocess.CompletedProcess(cmd, p.returncode, out, err)

    def popen(self, *args: str, **popen) -> subprocess.Popen:
        """The CLI started in the background; stdin, stdout and stderr are
        /dev/null unless ``popen`` says otherwise.  See :func:`stop`."""
        std = dict.fromkeys(("stdin", "stdout", "stderr"), subprocess.DEVNULL)
        return subprocess.Popen([*OCI, "--root", self.root, *args], **{**std, **popen})

    def cli_ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        """:meth:`cli`, which must exit 0."""
        r = self.cli(*args, **kw)
        assert r.returncode == 0, (
            f"{args}: exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
        )
        return r

    def fails(self, *args: str, contains: tuple[str, ...] | str = (), **kw) -> str:
        """:meth:`cli` for a command that must fail with one error line naming
        ``contains``; that line (see :func:`assert_one_line_error`)."""
        r = self.cli(*args, **kw)
        needles = (contains,) if isinstance(contains, str) else contains
        return assert_one_line_error(r, *needles)

    def create_fails(self, bundle: Bundle, *needles: str, code: int | None = None) -> str:
        """``create`` must fail with one line naming ``needles`` (exit ``code``
        if given) and leave nothing behind; that line."""
        cid = self.new_id()
        r = self.cli("create", "--bundle", bundle.path, cid)
        return assert_clean_failure(self, bundle, cid, r, *needles, code=code)

    def run_detached(self, bundle: Bundle, cid: str, *flags: str) -> int:
        """``run -d [flags] -b BUNDLE ID`` with stdio on files; the init's host pid."""
        self.cli_ok("run", "-d", *flags, "-b", bundle.path, cid)
        return self.state(cid)["pid"]

    def run_bundle(
        self, bundle: Bundle, *flags: str, **kw
    ) -> tuple[str, subprocess.CompletedProcess]:
        """``run [flags] -b BUNDLE`` in the foreground under a new id: (id, result)."""
        cid = self.new_id()
        return cid, self("run", *flags, "-b", bundle.path, cid, **kw)

    def run_out(self, bundle: Bundle, *flags: str, **kw) -> str:
        """``run [flags] -b BUNDLE`` in the foreground, which must exit 0; its stdout."""
        return self.ok("run", *flags, "-b", bundle.path, self.new_id(), **kw).stdout

    def state(self, cid: str) -> dict:
        return json.loads(self.ok("state", cid).stdout)

    def wait_status(self, cid: str, want: str, timeout: float = 10.0) -> dict:
        """Poll ``state`` until the status is ``want``; that state."""
        return wait_for(
            lambda: (s := self.state(cid))["status"] == want and s,
            f"{cid} to be {want}",
            timeout,
        )

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


# ---- helpers -----------------------------------------------------------------------------


def sh(script: str) -> list[str]:
    """Process args running ``script`` with the container's sh."""
    return ["sh", "-c", script]


def wait_for(pred, what: str, timeout: float = 10.0, interval: float = 0.02):
    """Call ``pred`` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def stop(p: subprocess.Popen) -> None:
    """Kill ``p`` if it is still running, and reap it."""
    if p.poll() is None:
        p.kill()
        p.wait()


def assert_one_line_error(
    r: subprocess.CompletedProcess, *needles: str, code: int | None = None
) -> str:
    """``r`` failed (with exit ``code`` if given) and said why the way callers
    rely on: exactly one line ``ociruntime: ...`` on stderr, no traceback, no
    "internal error", naming every one of ``needles``.  Returns that line."""
    assert r.returncode != 0, f"expected a failure\nstdout: {r.stdout}\nstderr: {r.stderr}"
    if code is not None:
        assert r.returncode == code, f"exit {r.returncode}, not {code}\nstderr: {r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    assert r.stderr.endswith("\n") and len(r.stderr.splitlines()) == 1, (
        f"expected one line on stderr, got: {r.stderr!r}"
    )
    line = r.stderr[:-1]
    assert line.startswith(ERROR_PREFIX) and line != ERROR_PREFIX, line
    assert "internal error" not in line, line
    for n in needles:
        assert n in line, f"{n!r} not in {line!r}"
    return line


def assert_clean_failure(
    rt: Runtime, bundle: Bundle, cid: str, r, *needles: str, code: int | None = None
) -> str:
    """:func:`assert_one_line_error`, and container ``cid`` left nothing behind."""
    line = assert_one_line_error(r, *needles, code=code)
    assert leftovers(rt, bundle, (cid,)) == []
    return line


def status_fields(text: str) -> dict[str, str]:
    """'Key:\\tvalue' lines of /proc/PID/status (other lines are ignored)."""
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep and k and " " not in k:
            out[k] = v.strip()
    return out


def proc_status(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as f:
        return status_fields(f.read())


def alive(pid: int) -> bool:
    """Running or sleeping; a zombie (our host's pid 1 reaps lazily) counts as gone."""
    try:
        return proc_status(pid)["State"][0] not in "ZX"
    except (FileNotFoundError, ProcessLookupError):
        return False


def ns_members(pid: int) -> list[int]:
    """Live host pids in the pid namespace of ``pid``, sorted."""
    ns = os.stat(f"/proc/{pid}/ns/pid").st_ino
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            same = os.stat(f"/proc/{name}/ns/pid").st_ino == ns
        except OSError:
            continue
        if same and alive(int(name)):
            found.append(int(name))
    return sorted(found)


def read_record(root: str, cid: str) -> dict:
    """The container's record, <root>/<id>/state.rec, decoded here on its own
    (which pins the format): "OCIRS1", the payload's kind (M: marshal 4, J:
    JSON), its length (4 bytes) and checksum (8: the payload as one
    little-endian integer modulo 2**61 - 1), both little-endian, the payload."""
    import marshal

    with open(os.path.join(root, cid, "state.rec"), "rb") as f:
        data = f.read()
    assert data[:6] == b"OCIRS1", data[:16]
    kind, payload = data[6:7], data[19:]
    assert int.from_bytes(data[7:11], "little") == len(payload)
    assert int.from_bytes(data[11:19], "little") == int.from_bytes(payload, "little") % (2**61 - 1)
    assert kind in (b"M", b"J")
    return marshal.loads(payload) if kind == b"M" else json.loads(payload)
