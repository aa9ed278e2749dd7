"""Checkpoint and restore with CRIU (issue 15), through ociruntime and,
where it helps, runc 1.1 with the same bundle and calls (the anchor).

The C/R tests need a host where CRIU works (``criu check``).  This
project's own host is not one (its kernel is newer than Debian 12's criu
3.17 can read the vDSO of), so test_checkpoint_vm.py runs this file in the
vm-run guest (Debian's 6.1 kernel), where everything is 20-40x slower:
each test does one checkpoint/restore cycle and checks several things on
it.  The error cases that need no working CRIU run everywhere (on this
host: "criu cannot work with this kernel").

The containers' stdio are pipes, as conmon and containerd's shim give
them: CRIU cannot checkpoint a file outside the container's mounts, and a
pipe is what the restoring caller replaces with its own (descriptors.json).
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest
from conftest import OCI, Bundle, assert_one_line_error, leftovers, new_bundle, sh, wait_for

SLOW = 240  # the CLI's timeout: the guest is 20-40x slower, the first criu run slower still
CGROUP = "/sys/fs/cgroup"


def _criu_works() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "needs root"
    criu = shutil.which("criu") or ("/usr/sbin/criu" if os.path.exists("/usr/sbin/criu") else None)
    if criu is None:
        return False, "criu is not installed"
    r = subprocess.run([criu, "check"], capture_output=True, text=True, timeout=SLOW)
    if r.returncode != 0:
        why = [x for x in (r.stdout + r.stderr).splitlines() if "Error" in x][:1]
        return (
            False,
            f"criu check fails on this host ({' '.join(why)}): test_checkpoint_vm.py runs these in a guest",
        )
    return True, ""


CRIU_OK, CRIU_WHY = _criu_works()
needs_criu = pytest.mark.skipif(not CRIU_OK, reason=CRIU_WHY)
RUNC = shutil.which("runc") or ("/usr/sbin/runc" if os.path.exists("/usr/sbin/runc") else None)


class Rt:
    """A runtime's CLI with a private --root: ociruntime, or runc as the anchor."""

    def __init__(self, name: str, cmd: list[str], root: str, log: str) -> None:
        self.name, self.cmd, self.root, self.log = name, cmd, root, log
        self.ids: list[str] = []

    def new_id(self, prefix: str = "cr") -> str:
        self.ids.append(f"{prefix}-{uuid.uuid4().hex[:10]}")
        return self.ids[-1]

    def __call__(self, *args: str, stdout=None, stderr=None, env=None, timeout=SLOW):
        """The command; stdio on temporary files unless given (a container's
        pipe): the CompletedProcess with what it wrote there."""
        t0 = time.monotonic()
        with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
            p = subprocess.run(
                [*self.cmd, "--root", self.root, "--log", self.log, *args],
                stdin=subprocess.DEVNULL,
                stdout=fo if stdout is None else stdout,
                stderr=fe if stderr is None else stderr,
                env=env,
                timeout=timeout,
            )
            fo.seek(0)
            fe.seek(0)
            out, err = fo.read().decode(errors="replace"), fe.read().decode(errors="replace")
        if stderr is not None and p.returncode != 0:
            err = self.last_error()
        if os.environ.get("CR_TIMES"):
            with open(os.environ["CR_TIMES"], "a") as f:
                f.write(f"{time.monotonic() - t0:6.2f}s {self.name} {args[0]}\n")
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    def ok(self, *args: str, **kw) -> subprocess.CompletedProcess:
        r = self(*args, **kw)
        assert r.returncode == 0, f"{self.name} {args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def last_error(self) -> str:
        try:
            with open(self.log) as f:
                lines = f.read().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def state(self, cid: str) -> dict:
        return json.loads(self.ok("state", cid).stdout)

    def cleanup(self) -> None:
        for cid in self.ids:
            self("delete", "--force", cid)


class Pipe:
    """A container's stdout and stderr: a pipe read here without blocking."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self.buf = b""

    def text(self) -> str:
        while True:
            try:
                chunk = os.read(self.r, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buf += chunk
        return self.buf.decode(errors="replace")

    def numbers(self) -> list[int]:
        return [int(x) for x in self.text().split() if x.isdigit()]

    def wait_count(self, n: int, timeout: float = 60) -> list[int]:
        return wait_for(
            lambda: len(self.numbers()) >= n and self.numbers(), f"{n} numbers", timeout
        )

    def close(self) -> None:
        for fd in (self.r, self.w):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pipes():
    made: list[Pipe] = []

    def new() -> Pipe:
        made.append(Pipe())
        return made[-1]

    yield new
    for p in made:
        p.close()


def _rt(name: str, tmp_path) -> Rt:
    root = tmp_path / f"{name}-state"
    root.mkdir()
    # absolute: test_criu_not_installed runs it with PATH=/nonexistent
    cmd = [shutil.which(OCI[0]) or OCI[0], *OCI[1:]] if name == "ociruntime" else [RUNC]
    return Rt(name, cmd, str(root), str(tmp_path / f"{name}.log"))


@pytest.fixture(params=["ociruntime", "runc"])
def rt(request, tmp_path):
    if request.param == "runc" and RUNC is None:
        pytest.skip("runc is not installed")
    r = _rt(request.param, tmp_path)
    yield r
    r.cleanup()


@pytest.fixture
def oci_rt(tmp_path):
    r = _rt("ociruntime", tmp_path)
    yield r
    r.cleanup()


COUNT = "i=0; while :; do i=$((i+1)); echo $i; sleep 0.3; done"


def bundle_for(tmp_path, rootfs: str, name: str, script: str) -> Bundle:
    return new_bundle(tmp_path / name, rootfs, sh(script))


def cgroup_dirs(cid: str) -> list[str]:
    """The container's cgroup directories left on a cgroup v2 host (either
    runtime's default path)."""
    return [d for d in (f"{CGROUP}/ociruntime/{cid}", f"{CGROUP}/{cid}") if os.path.isdir(d)]


def gone(rt: Rt, bundle: Bundle, cid: str) -> list[str]:
    """What the container left: state, mounts, processes, cgroup (not runc
    1.1's cgroup of a restored container, which it leaves)."""
    left = [x for x in leftovers(rt, bundle, (cid,)) if cid in x or "state dir" not in x]
    if rt.name == "runc":
        return left
    return left + [f"cgroup {d}" for d in cgroup_dirs(cid)]


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


def after_checkpoint(rt: Rt, cid: str) -> None:
    """The checkpointed container: stopped for ociruntime (its state says
    so, until delete or a restore under its id); gone for runc 1.1."""
    if rt.name == "runc":
        assert "does not exist" in rt("state", cid).stderr + rt.last_error()
    else:
        st = rt.state(cid)
        assert st["status"] == "stopped" and st["pid"] == 0, st


# ---- the counting container, across checkpoint and restore -----------------------------


@needs_criu
def test_counter_keeps_counting_across_checkpoint_and_restore(rt, busybox_rootfs, tmp_path, pipes):
    """A process counting on a pipe, with a bind mount and a tmpfs, and hooks:
    checkpointed (it stops), restored under the same id: it goes on from the
    number after the last one it wrote, in the cgroup the bundle names, with
    its tmpfs contents and bind mount, the restore's prestart and
    createRuntime hooks seeing its pid; exec, pause, kill and delete work on
    it; nothing is left after."""
    host_dir = tmp_path / "data"
    host_dir.mkdir()
    hooks_out = tmp_path / "hooks.txt"
    b = bundle_for(
        tmp_path,
        busybox_rootfs,
        "counter",
        "echo kept > /scratch/kept; " + COUNT.replace("echo $i;", "echo $i; echo $i > /data/n;"),
    )
    b.config["mounts"] += [
        {
            "destination": "/data",
            "type": "bind",
            "source": str(host_dir),
            "options": ["rbind", "rw"],
        },
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
    ]
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"(cat; echo) >> {hooks_out}"]}
    b.config["hooks"] = {"prestart": [hook], "createRuntime": [hook], "poststop": [hook]}
    b.config["linux"]["resources"] = {"pids": {"limit": 50}}
    b.save()
    cid = rt.new_id()
    out = pipes()
    rt.ok("run", "-d", "-b", b.path, cid, stdout=out.w, stderr=out.w)
    before = out.wait_count(3)
    images = str(tmp_path / "images")
    rt.ok("checkpoint", "--image-path", images, "--work-path", str(tmp_path / "work"), cid)
    after_checkpoint(rt, cid)
    last = out.numbers()[-1]
    assert last >= before[-1]
    assert os.path.isfile(os.path.join(images, "descriptors.json"))
    assert os.path.isfile(str(tmp_path / "work" / "dump.log"))
    n_on_host = int((host_dir / "n").read_text())

    pid_file = tmp_path / "restored.pid"
    rt.ok(
        "restore", "-d", "-b", b.path, "--image-path", images, "--work-path", str(tmp_path / "work"),
        "--pid-file", str(pid_file), cid, stdout=out.w, stderr=out.w,
    )  # fmt: skip
    st = rt.state(cid)
    assert st["status"] == "running", st
    pid = st["pid"]
    assert int(pid_file.read_text()) == pid
    nums = out.wait_count(len(out.numbers()) + 3)
    assert nums[: nums.index(last) + 1] == list(range(1, last + 1)), nums
    assert nums[nums.index(last) + 1] == last + 1, f"not where it stopped: {nums}"
    # its cgroup and limit from the bundle
    with open(f"/proc/{pid}/cgroup") as f:
        cg = f.read().strip().split("::", 1)[1]
    assert cg.endswith(cid), cg
    with open(f"{CGROUP}{cg}/pids.max") as f:
        assert f.read().strip() == "50"
    # the tmpfs's contents came back; the bind mount is the host's directory still
    wait_for(
        lambda: int((host_dir / "n").read_text() or 0) > n_on_host, "writes through the bind mount"
    )
    assert rt.ok("exec", cid, "cat", "/scratch/kept").stdout == "kept\n"
    # the restore ran the prestart and createRuntime hooks, with the restored init's pid
    # create's prestart and createRuntime, poststop when the checkpointed container
    # went (runc: at the checkpoint; ociruntime: when the restore took its place),
    # then the restore's prestart and createRuntime, with the restored init's pid
    states = [json.loads(x) for x in hooks_out.read_text().splitlines() if x.strip()]
    assert len(states) == 5, states
    assert states[2]["status"] == "stopped"
    assert {s["pid"] for s in states[3:]} == {pid}, (states, pid)
    if rt.name == "ociruntime":
        assert {s["status"] for s in states[3:]} == {"creating"}
    # its id is taken now
    assert "exists" in rt("restore", "-d", "-b", b.path, "--image-path", images, cid).stderr
    # every later command
    rt.ok("pause", cid)
    assert rt.state(cid)["status"] == "paused"
    rt.ok("resume", cid)
    rt.ok("kill", cid, "KILL")
    wait_for(lambda: not os.path.exists(f"/proc/{pid}/cgroup") or _zombie(pid), "the kill", 60)
    assert rt.state(cid)["status"] == "stopped"
    rt.ok("delete", cid)
    assert len([x for x in hooks_out.read_text().splitlines() if x.strip()]) == 6  # poststop
    assert gone(rt, b, cid) == []


class Console:
    """A console socket (short path: sun_path is 108 bytes) and the masters it got."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="ocrcs-", dir="/tmp")
        self.path = os.path.join(self.dir, "s")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.sock.settimeout(SLOW)
        self.masters: list[int] = []

    def master(self) -> int:
        """The next master sent (a failed restore connects and sends none)."""
        while True:
            conn, _ = self.sock.accept()
            with conn:
                _data, fds, _f, _a = socket.recv_fds(conn, 4096, 1)
            self.masters.extend(fds)
            if fds:
                return fds[0]

    def close(self) -> None:
        for fd in self.masters:
            os.close(fd)
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Terminal:
    """What a pty master shows, read without blocking."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buf = fd, b""

    def text(self) -> str:
        while select.select([self.fd], [], [], 0)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.buf += chunk
        return self.buf.decode(errors="replace")

    def numbers(self) -> list[int]:
        return [int(x) for x in re.findall(r"n(\d+)", self.text())]


def flocks_of(pids: list[int]) -> list[str]:
    """/proc/locks lines of FLOCKs held by ``pids``."""
    with open("/proc/locks") as f:
        return [x for x in f if "FLOCK" in x and int(x.split()[4]) in pids]


@needs_criu
def test_terminal_tcp_file_lock_pre_dump_leave_running_new_id_and_failures(
    oci_rt, busybox_rootfs, tmp_path, probe
):
    """One container with a terminal (--console-socket), a TCP connection
    inside it (its own network namespace; the server prints what it
    receives) and a flock:

    * a checkpoint without --tcp-established and --file-locks is refused in
      one line naming the flag, and the container goes on;
    * a pre-dump, then a dump on top of it (--parent-path) with
      --leave-running: the container never stops; it is then removed;
    * restores that fail (no images, an empty directory, corrupt images, a
      failing prestart hook) say why in one line and leave no state,
      cgroup, mount or process;
    * the images restored under a new id: the new pty's master (CRIU's
      orphan pts master) comes to --console-socket, the connection goes on
      from where the dump was (nothing lost in flight), the lock is held."""
    rt = oci_rt
    b = bundle_for(
        tmp_path,
        busybox_rootfs,
        "tty",
        "/flockprobe hold /lockfile & (sleep 100000 | nc -l -p 5000) & "
        "while ! netstat -ltn | grep -q ':5000 '; do sleep 0.2; done; "
        + COUNT.replace("echo $i", "echo n$i")
        + " | nc 127.0.0.1 5000",
    )
    b.config["process"]["terminal"] = True
    b.save()
    shutil.copy(probe("flockprobe"), os.path.join(b.rootfs, "flockprobe"))
    cs = Console()
    try:
        cid = rt.new_id()
        rt.ok("run", "-d", "--console-socket", cs.path, "-b", b.path, cid)
        tty = Terminal(cs.master())
        pid = rt.state(cid)["pid"]
        wait_for(lambda: "locked" in tty.text() and len(tty.numbers()) >= 2, "lock, connection", 90)

        r = rt("checkpoint", "--image-path", str(tmp_path / "refused"), cid)
        line = assert_one_line_error(r, "criu")
        assert "--tcp-established" in line or "--file-locks" in line, line

        parent, images = str(tmp_path / "parent"), str(tmp_path / "images")
        rt.ok("checkpoint", "--pre-dump", "--image-path", parent, cid)
        flags = ("--tcp-established", "--file-locks")
        before = tty.numbers()[-1]
        rt.ok(
            "checkpoint",
            *flags,
            "--parent-path",
            "../parent",
            "--leave-running",
            "--image-path",
            images,
            cid,
        )
        assert os.path.islink(os.path.join(images, "parent"))
        st = rt.state(cid)
        assert (st["status"], st["pid"]) == ("running", pid)
        rt.ok("delete", "--force", cid)
        assert gone(rt, b, cid) == []
        last = tty.numbers()[-1]
        assert last >= before

        def fails(*needles: str, image: str = images, bundle: Bundle = b) -> None:
            new = rt.new_id("failed")
            r = rt(
                "restore",
                "-d",
                *flags,
                "--console-socket",
                cs.path,
                "-b",
                bundle.path,
                "--image-path",
                image,
                new,
            )
            assert_one_line_error(r, *needles)
            assert gone(rt, bundle, new) == []

        empty = tmp_path / "empty"
        empty.mkdir()
        fails("no checkpoint there", image=str(empty))
        fails("no such directory", image=str(tmp_path / "missing"))
        corrupt = str(tmp_path / "corrupt")
        shutil.copytree(images, corrupt, symlinks=True)
        for name in os.listdir(corrupt):
            if name.startswith(("core-", "pstree")):
                with open(os.path.join(corrupt, name), "r+b") as f:
                    f.write(b"\xff" * 64)
        fails("criu failed", image=corrupt)
        (tmp_path / "hooked").mkdir()
        hooked = Bundle(str(tmp_path / "hooked"), json.loads(json.dumps(b.config)))
        hooked.config["root"]["path"] = b.rootfs
        hooked.config["hooks"] = {"prestart": [{"path": "/bin/false"}]}
        hooked.save()
        fails("prestart", bundle=hooked)

        copy = rt.new_id("copy")
        rt.ok(
            "restore",
            "-d",
            *flags,
            "--console-socket",
            cs.path,
            "-b",
            b.path,
            "--image-path",
            images,
            copy,
        )
        tty2 = Terminal(cs.master())
        st2 = rt.state(copy)
        assert st2["status"] == "running" and st2["pid"] != pid
        wait_for(lambda: len(tty2.numbers()) >= 3, "more over the restored connection", 90)
        nums = tty2.numbers()
        assert before <= nums[0] - 1 <= last, (before, last, nums)
        assert nums == list(range(nums[0], nums[0] + len(nums))), nums
        pids = [int(x) for x in open(f"{CGROUP}/ociruntime/{copy}/cgroup.procs").read().split()]
        assert flocks_of(pids), "the restored processes hold no flock"
        rt.ok("delete", "--force", copy)
        assert gone(rt, b, copy) == []
    finally:
        cs.close()


@needs_criu
def test_lazy_pages_through_a_page_server(oci_rt, busybox_rootfs, tmp_path, pipes):
    """Lazy migration: checkpoint --lazy-pages --page-server serves the memory
    (--status-fd says when it is ready), criu lazy-pages fetches it for a
    restore --lazy-pages under a new id, which goes on counting; the
    checkpoint ends once every page went, its container stopped."""
    rt = oci_rt
    b = bundle_for(tmp_path, busybox_rootfs, "lazy", COUNT)
    cid = rt.new_id()
    out = pipes()
    rt.ok("run", "-d", "-b", b.path, cid, stdout=out.w, stderr=out.w)
    out.wait_count(2)
    images = str(tmp_path / "images")
    port = str(20000 + os.getpid() % 20000)
    r, w = os.pipe()
    log = open(tmp_path / "checkpoint.err", "w+")
    dump = subprocess.Popen(
        [*rt.cmd, "--root", rt.root, "checkpoint", "--lazy-pages", "--page-server",
         f"127.0.0.1:{port}", "--status-fd", str(w), "--image-path", images, cid],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(w,),
    )  # fmt: skip
    os.close(w)
    lazy = None
    try:
        ready, _, _ = select.select([r], [], [], SLOW)
        assert ready and os.read(r, 1) == b"\0", log.seek(0) or log.read()
        lazy = subprocess.Popen(
            ["criu", "lazy-pages", "--page-server", "--address", "127.0.0.1", "--port", port,
             "-D", images, "-o", "lazy-pages.log"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        at_dump = out.numbers()[-1]
        copy = rt.new_id("lazy")
        out2 = pipes()
        rt.ok("restore", "-d", "--lazy-pages", "-b", b.path, "--image-path", images, copy,
              stdout=out2.w, stderr=out2.w)  # fmt: skip
        nums = out2.wait_count(3, 120)
        assert nums[0] == at_dump + 1 and nums == list(range(nums[0], nums[0] + len(nums))), nums
        assert dump.wait(timeout=SLOW) == 0, log.seek(0) or log.read()
        assert rt.state(cid)["status"] == "stopped"
        for c in (cid, copy):
            rt.ok("delete", "--force", c)
            assert gone(rt, b, c) == []
    finally:
        os.close(r)
        for p in (dump, lazy):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        log.close()


# ---- errors that need no working CRIU --------------------------------------------------------


in_guest = pytest.mark.skipif(
    bool(os.environ.get("VM_RUN_GUEST")), reason="no CRIU needed: run by the host's suite"
)


@pytest.fixture
def sleeper(tmp_path, busybox_rootfs, pipes):
    rt = _rt("ociruntime", tmp_path)
    b = bundle_for(tmp_path, busybox_rootfs, "sleeper", "exec sleep 1000")
    cid = rt.new_id()
    out = pipes()
    rt.ok("run", "-d", "-b", b.path, cid, stdout=out.w, stderr=out.w)
    yield rt, b, cid
    rt.cleanup()


@in_guest
def test_criu_not_installed(sleeper, tmp_path):
    rt, b, cid = sleeper
    env = dict(os.environ, PATH="/nonexistent")
    for args in (("checkpoint", cid), ("restore", "-b", b.path, rt.new_id())):
        r = rt(*args, env=env)
        assert_one_line_error(r, "criu is not installed", "apt-get install criu")
    assert rt.state(cid)["status"] == "running"
    r = rt("--criu", "/nonexistent/criu", "checkpoint", cid)
    assert_one_line_error(r, "--criu /nonexistent/criu", "not an executable")


@in_guest
def test_image_directory_not_writable(sleeper, tmp_path):
    rt, _b, cid = sleeper
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], check=True)
    try:
        r = rt("checkpoint", "--image-path", str(ro), cid)
        assert_one_line_error(r, "checkpoint: --image-path", "not writable", "criu", "fix:")
        r = rt("checkpoint", "--image-path", str(ro / "sub"), cid)
        assert_one_line_error(r, "cannot create it", "read-only file system", "criu")
        r = rt("checkpoint", "--work-path", str(ro), "--image-path", str(tmp_path / "i"), cid)
        assert_one_line_error(r, "--work-path", "not writable")
    finally:
        subprocess.run(["umount", str(ro)], check=True)
    assert rt.state(cid)["status"] == "running"


@in_guest
def test_bad_flags(sleeper, tmp_path):
    rt, b, cid = sleeper
    for args, needle in (
        (("checkpoint", "--manage-cgroups-mode", "bogus", cid), "--manage-cgroups-mode"),
        (("checkpoint", "--empty-ns", "pid", cid), "--empty-ns pid"),
        (("checkpoint", "--parent-path", "/abs", cid), "--parent-path must be relative"),
        (("checkpoint", "--page-server", "nohostport", cid), "ADDRESS:PORT"),
        (("checkpoint", "--status-fd", "7", cid), "--status-fd is for --lazy-pages"),
    ):
        assert_one_line_error(rt(*args), needle)
    assert_one_line_error(rt("checkpoint", "no-such-id"), "does not exist")
    created = rt.new_id()
    rt.ok("create", "-b", b.path, created)
    assert_one_line_error(rt("checkpoint", created), "cannot be checkpointed in created state")


@pytest.mark.skipif(CRIU_OK or shutil.which("criu") is None, reason="criu works on this host")
def test_criu_failing_on_this_kernel_is_one_line_naming_the_fix(sleeper, tmp_path):
    rt, _b, cid = sleeper
    r = rt("checkpoint", "--image-path", str(tmp_path / "i"), cid)
    assert_one_line_error(r, "criu cannot work with this kernel", os.uname().release, "fix:")
    assert rt.state(cid)["status"] == "running"


def test_check_and_features_report_criu(tmp_path):
    r = subprocess.run([*OCI, "check", "-f", "json"], capture_output=True, text=True, timeout=SLOW)
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    c = checks["criu (checkpoint/restore)"]
    assert c["required"] is False
    if CRIU_OK:
        assert c["ok"], c
    elif shutil.which("criu"):
        assert not c["ok"] and os.uname().release in c["detail"] and c["fix"], c
    f = json.loads(subprocess.run([*OCI, "features"], capture_output=True, text=True).stdout)
    enabled = f["annotations"]["org.opencontainers.runc.checkpoint.enabled"]
    assert enabled == ("true" if shutil.which("criu") else "false")
