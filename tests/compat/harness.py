"""The differential harness: one scenario, run through ociruntime and runc.

``both(configs, scenario)`` gives each runtime its own ``--root``, its own
bundles (a hard-linked copy of the same busybox rootfs, the same config
adapted the same way) and its own container ids, runs ``scenario(side)`` for
the two sides at once, and returns a :class:`Comparison` of what a caller
sees of each CLI call:

* its exit code; for a call that failed, only that and the phrases callers
  match in runtime errors (:data:`PHRASES`), not the wording: ours is one
  line with a JSON pointer, runc's a logrus record;
* for a call that succeeded, its stdout with ids, paths and timestamps
  masked (:meth:`Side.norm`), the lines of its stderr that are not the
  runtime's own and whether the runtime warned; for ``state``, the JSON's
  keys, the status, whether there is a pid, the bundle and rootfs paths;
* what the container's process wrote (:meth:`Side.output`).

``Comparison.assert_same()`` prints both sides step by step on a mismatch.
After the scenario each side force-deletes its containers, and the test
fails if anything is left: a state dir, a process, a cgroup, a mount.

Configs are adapted by :func:`adapt` for this machine (the captured ones name
the capture machine's paths and cgroups).
"""

from __future__ import annotations

import concurrent.futures
import copy
import dataclasses
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable

from conftest import OCI

RUNC = shutil.which("runc")
TIMEOUT = 30

# What callers match in a runtime's error text (docs: README "Errors";
# containerd's shim, podman, CRI-O): a failed call is compared by exit code
# and by which of these its stderr contains.
PHRASES = (
    "does not exist",
    "container not running",
    "executable file not found",
    "no such file or directory",
    "permission denied",
    "operation not permitted",
    "no such process",
)

# a line the runtime itself wrote to stderr: ours, or runc's logrus record
RUNTIME_LINE = re.compile(r'^(ociruntime: |time="[^"]*" level=)')
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


@dataclasses.dataclass
class Step:
    """One CLI call, or one observation of the container's output."""

    label: str
    rc: int
    out: str = ""
    err: str = ""
    state: dict | None = None

    def view(self) -> tuple:
        """What is compared."""
        if self.rc != 0:
            low = self.err.lower()
            return (self.label, "failed", self.rc, tuple(p for p in PHRASES if p in low))
        if self.state is not None:
            st = self.state
            # an empty "annotations" is left out by runc (omitempty), shown
            # by us: the same to a caller (test_differences.py)
            keys = sorted(k for k in st if k != "annotations" or st[k])
            where = (st.get("bundle"), st.get("rootfs"))
            return (self.label, "ok", keys, (st.get("status"), st.get("pid", 0) > 0, where))
        # a successful call's stderr: the process's lines, and whether the
        # runtime warned (in its own words: ours one line, runc's logrus)
        lines = self.err.splitlines()
        own = [x for x in lines if RUNTIME_LINE.match(x)]
        rest = "\n".join(x for x in lines if not RUNTIME_LINE.match(x))
        return (self.label, "ok", self.out, rest, "warned" if own else "")


class Side:
    """One runtime's half of a scenario."""

    def __init__(
        self, name: str, cmd: list[str], workdir: str, rootfs: str, configs: dict[str, dict]
    ) -> None:
        self.name = name
        self.cmd = cmd
        self.dir = os.path.join(workdir, name)
        self.root = os.path.join(self.dir, "root")
        os.makedirs(self.root)
        self.rootfs_src = rootfs
        self.configs = copy.deepcopy(configs)  # (a scenario may change its side's)
        self.tag = uuid.uuid4().hex[:8]
        self.ids: dict[str, str] = {}
        self.bundles: dict[str, str] = {}
        self.cgroups: list[str] = []
        self.outputs: dict[str, str] = {}
        self.steps: list[Step] = []
        self.files: dict[str, str] = {}  # path in the rootfs -> host file to copy in
        self.prepare: Callable[[str], object] | None = None  # called with each new rootfs

    # --- ids, bundles ----------------------------------------------------------

    def cid(self, name: str = "c") -> str:
        """The real id of this side's container ``name``."""
        if name not in self.ids:
            self.ids[name] = f"compat-{self.tag}-{name}"
        return self.ids[name]

    def bundle(self, name: str = "c") -> str:
        """The bundle of config ``name``, written on first use: its rootfs,
        the adapted config (``{pid:NAME}`` in a namespace path becomes the
        host pid of this side's container NAME)."""
        if name in self.bundles:
            return self.bundles[name]
        path = os.path.join(self.dir, "bundle-" + name)
        os.makedirs(path)
        rootfs = os.path.join(path, "rootfs")
        config = copy.deepcopy(self.configs[name])
        linux = config.setdefault("linux", {})
        if linux.get("uidMappings"):
            # owned by the container's root, as the engines make it (podman
            # chowns its copy of the image): a real copy, not hard links
            subprocess.run(["cp", "-a", self.rootfs_src, rootfs], check=True)
            shift_owner(rootfs, linux["uidMappings"], linux.get("gidMappings") or [])
        else:
            subprocess.run(["cp", "-al", self.rootfs_src, rootfs], check=True)
        for dest, src in self.files.items():
            target = os.path.join(rootfs, dest.lstrip("/"))
            if os.path.lexists(target):
                os.unlink(target)  # (a hard link to the shared rootfs: never written)
            shutil.copy2(src, target)
        if self.prepare:
            self.prepare(rootfs)
        config.setdefault("root", {})["path"] = "rootfs"
        if "cgroupsPath" in linux:
            side = f"{self.name}-{self.tag}-{name}"
            linux["cgroupsPath"] = linux["cgroupsPath"].format(side=side)
            self.cgroups.append(linux["cgroupsPath"])
        for ns in linux.get("namespaces") or []:
            m = re.fullmatch(r"\{pid:(\w+)\}(/.*)", ns.get("path", ""))
            if m:
                ns["path"] = f"/proc/{self.pid(m.group(1))}{m.group(2)}"
        for i, m in enumerate(config.get("mounts") or []):
            if m.get("source", "").startswith("{tmp:"):
                kind = m["source"][5:-1]
                src = os.path.join(self.dir, f"mount{i}-{name}")
                if kind == "dir":
                    os.mkdir(src)
                else:
                    open(src, "w").close()
                m["source"] = src
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        self.bundles[name] = path
        return path

    def pid(self, name: str) -> int:
        r = self.raw("state", self.cid(name))
        return json.loads(r.stdout)["pid"]

    # --- calls -----------------------------------------------------------------

    def raw(
        self,
        *args: str,
        tty: bool = False,
        timeout: float = TIMEOUT,
        out: str | None = None,
        global_args: tuple[str, ...] = (),
        fds: int = 0,
        wrap: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess:
        """The runtime's CLI with this side's --root; stdio on files (a
        container that outlives the call keeps them), stdout kept in file
        ``out`` if given.  ``tty``: under ``script``, which gives it a
        terminal.  ``fds``: that many more fds (3...) open on /dev/null.
        ``wrap``: a command the CLI runs under (setpriv ...)."""
        cmd = [*wrap, *self.cmd, "--root", self.root, *global_args, *args]
        if tty:
            cmd = ["script", "-qec", shlex.join(cmd), "/dev/null"]
        if fds:
            redir = " ".join(f"{3 + i}</dev/null" for i in range(fds))
            cmd = ["/bin/sh", "-c", f'exec {redir} "$@"', "sh", *cmd]
        with (
            open(out, "w+b") if out else tempfile.TemporaryFile() as fout,
            tempfile.TemporaryFile() as ferr,
        ):
            p = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=fout,
                stderr=ferr,
                timeout=timeout,
            )
            fout.seek(0)
            ferr.seek(0)
            o = fout.read().decode(errors="replace")
            e = ferr.read().decode(errors="replace")
        if tty:
            # the pty turns \n into \r\n, and echoes runc's NUL as ^@
            o = o.replace("\r", "").replace("^@", "")
        return subprocess.CompletedProcess(cmd, p.returncode, o, e)

    def call(
        self, label: str, *args: str, parse: Callable[[str], object] | None = None, **kw
    ) -> Step:
        """A recorded CLI call; ``parse``: what of a successful call's stdout
        is compared (its repr), instead of the whole text."""
        r = self.raw(*args, **kw)
        # (with ``out`` the file is the container's stdout: see output())
        out = "" if kw.get("out") else r.stdout
        if parse is not None and r.returncode == 0:
            out = repr(parse(out))
        step = Step(self.norm(label), r.returncode, self.norm(out), self.norm(r.stderr))
        self.steps.append(step)
        return step

    def norm(self, text: str) -> str:
        """Ids, paths and timestamps masked, so that both sides read alike."""
        for name, cid in self.ids.items():
            text = text.replace(cid, f"<{name}>")
        for name, path in self.bundles.items():
            text = text.replace(path, f"<bundle:{name}>")
        text = text.replace(self.root, "<root>").replace(self.dir, "<dir>")
        return TIMESTAMP.sub("<time>", text)

    def note(self, label: str, value: str) -> None:
        """Record an observation made some other way (the same on both sides)."""
        self.steps.append(Step(label, 0, self.norm(value)))

    # --- lifecycle -------------------------------------------------------------

    def run(self, name: str = "c", *flags: str, bundle: str | None = None, **kw) -> Step:
        """``run [flags] -b BUNDLE ID`` in the foreground."""
        b = self.bundle(bundle or name)
        return self.call(f"run {name}", "run", *flags, "-b", b, self.cid(name), **kw)

    def create(self, name: str = "c", *flags: str, bundle: str | None = None, **kw) -> Step:
        """``create``; the process's stdout goes to a file, see :meth:`output`."""
        b = self.bundle(bundle or name)
        self.outputs[name] = os.path.join(self.dir, f"stdout-{name}")
        return self.call(
            f"create {name}",
            "create",
            *flags,
            "--bundle",
            b,
            self.cid(name),
            out=self.outputs[name],
            **kw,
        )

    def run_detached(self, name: str = "c", *flags: str, **kw) -> Step:
        b = self.bundle(kw.pop("bundle", None) or name)
        self.outputs[name] = os.path.join(self.dir, f"stdout-{name}")
        return self.call(
            f"run -d {name}", "run", "-d", *flags, "-b", b, self.cid(name), out=self.outputs[name]
        )

    def start(self, name: str = "c") -> Step:
        return self.call(f"start {name}", "start", self.cid(name))

    def state(self, name: str = "c", label: str | None = None) -> Step:
        r = self.raw("state", self.cid(name))
        step = Step(label or f"state {name}", r.returncode, err=self.norm(r.stderr))
        if r.returncode == 0:
            step.state = {
                k: self.norm(v) if isinstance(v, str) else v
                for k, v in json.loads(r.stdout).items()
            }
        self.steps.append(step)
        return step

    def status(self, name: str = "c") -> str | None:
        """The status, unrecorded (None if state fails)."""
        r = self.raw("state", self.cid(name))
        return json.loads(r.stdout)["status"] if r.returncode == 0 else None

    def wait(self, name: str = "c", want: str = "stopped", timeout: float = 10) -> Step:
        """Poll ``state`` until the status is ``want``; records the last state."""
        deadline = time.monotonic() + timeout
        while self.status(name) != want and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.state(name, label=f"state {name} (waited for {want})")

    def kill(self, name: str = "c", *signal: str, flags: tuple[str, ...] = ()) -> Step:
        """``kill [flags] ID [signal]``."""
        label = " ".join(("kill", *flags, name, *signal))
        return self.call(label, "kill", *flags, self.cid(name), *signal)

    def delete(self, name: str = "c", *flags: str) -> Step:
        return self.call(
            f"delete {' '.join(flags)} {name}".replace("  ", " "),
            "delete",
            *flags,
            self.cid(name),
        )

    def exec(self, name: str, *args: str, flags: tuple[str, ...] = (), **kw) -> Step:
        label = f"exec {' '.join(flags)} {name} {' '.join(args)}".replace("  ", " ")
        return self.call(label, "exec", *flags, self.cid(name), *args, **kw)

    def wait_output(self, name: str, text: str, timeout: float = 10) -> None:
        """Wait until the stdout of container ``name`` holds ``text`` (unrecorded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.outputs[name]) as f:
                if text in f.read():
                    return
            time.sleep(0.02)

    def output(self, name: str = "c") -> Step:
        """Record what the process of container ``name`` (made by create or
        run -d) wrote to its stdout."""
        with open(self.outputs[name]) as f:
            text = f.read()
        step = Step(f"output of {name}", 0, self.norm(text))
        self.steps.append(step)
        return step

    # --- cleanup ---------------------------------------------------------------

    def cleanup(self) -> list[str]:
        """Force-delete every container; what is left behind."""
        for cid in reversed(list(self.ids.values())):
            self.raw("delete", "--force", cid)
        left = [f"{self.name}: state dir {n}" for n in os.listdir(self.root)]
        tags = [c.encode() for c in self.ids.values()] + [self.dir.encode()]
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
                root = os.readlink(f"/proc/{pid}/root")
            except OSError:
                continue
            if any(t in cmd for t in tags) or root.startswith(self.dir):
                text = cmd.replace(b"\0", b" ").decode(errors="replace")
                left.append(f"{self.name}: process {pid}: {text}")
        left += [f"{self.name}: mount {m}" for m in mounts_under(self.dir)]
        for cg in self.cgroups:
            for d in cgroup_dirs(cg):
                left.append(f"{self.name}: cgroup {d}")
        if left:
            self.sweep()
        return left

    def sweep(self) -> None:
        """Best effort, after a failure: kill this side's processes, detach
        its mounts, remove its cgroups (the test fails all the same)."""
        tags = [c.encode() for c in self.ids.values()] + [self.dir.encode()]
        for pid in os.listdir("/proc"):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
                root = os.readlink(f"/proc/{pid}/root")
                if pid.isdigit() and int(pid) != os.getpid():
                    if any(t in cmd for t in tags) or root.startswith(self.dir):
                        os.kill(int(pid), 9)
            except OSError:
                continue
        for m in reversed(mounts_under(self.dir)):
            subprocess.run(["umount", "-l", m], capture_output=True, timeout=TIMEOUT)
        time.sleep(0.2)
        for cg in self.cgroups:
            for d in cgroup_dirs(cg):
                for sub, _, _ in sorted(os.walk(d), key=lambda w: -len(w[0])):
                    try:
                        os.rmdir(sub)
                    except OSError:
                        pass


def shift_owner(root: str, uid_map: list[dict], gid_map: list[dict]) -> None:
    """chown everything under ``root`` to the host ids its ids map to."""

    def host(mapping: list[dict], i: int) -> int:
        for m in mapping:
            if m["containerID"] <= i < m["containerID"] + m["size"]:
                return m["hostID"] + i - m["containerID"]
        return i

    for d, dirs, files in os.walk(root):
        for p in [d] + [os.path.join(d, n) for n in dirs + files]:
            st = os.lstat(p)
            os.lchown(p, host(uid_map, st.st_uid), host(gid_map, st.st_gid))


def mounts_under(d: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == d or p.startswith(d.rstrip("/") + "/")]


def cgroup_dirs(path: str) -> list[str]:
    """The directories of cgroup ``path`` that exist, in every hierarchy."""
    base = "/sys/fs/cgroup"
    found = []
    roots = [base] + [e.path for e in os.scandir(base) if e.is_dir(follow_symlinks=False)]
    for root in roots:
        d = os.path.join(root, path.strip("/"))
        if path.strip("/") and os.path.isdir(d) and not os.path.ismount(d):
            found.append(d)
    return found


class Comparison:
    """The two sides' steps, side by side."""

    def __init__(self, oci: Side, runc: Side) -> None:
        self.oci = oci
        self.runc = runc
        self.ignore: tuple[tuple[str, str], ...] = ()

    def views(self, side: Side) -> list[tuple]:
        out = []
        for s in side.steps:
            v = s.view()
            if v[1] == "ok" and isinstance(v[2], str):
                v = (v[0], "ok", self.masked(v[2]), *v[3:])
            out.append(v)
        return out

    def masked(self, text: str) -> str:
        for pattern, repl in self.ignore:
            text = re.sub(pattern, repl, text, flags=re.M)
        return text

    def step(self, label: str) -> tuple[Step, Step]:
        """The two sides' first step called ``label``."""
        return (
            next(s for s in self.oci.steps if s.label == label),
            next(s for s in self.runc.steps if s.label == label),
        )

    def report(self) -> str:
        """Both sides, step by step, differences marked."""
        a, b = self.oci.steps, self.runc.steps
        view_a, view_b = self.views(self.oci), self.views(self.runc)
        lines = []
        for i in range(max(len(a), len(b))):
            sa = a[i] if i < len(a) else None
            sb = b[i] if i < len(b) else None
            va = view_a[i] if sa else None
            vb = view_b[i] if sb else None
            mark = "  " if va == vb else "!!"
            label = (sa or sb).label
            lines.append(f"{mark} step {i}: {label}")
            if va == vb:
                continue
            for who, s in (("ociruntime", sa), ("runc", sb)):
                if s is None:
                    lines.append(f"     {who}: (no such step)")
                    continue
                lines.append(f"     {who}: exit {s.rc}")
                if s.state is not None:
                    lines.append(f"       state: {json.dumps(s.state, sort_keys=True)}")
                if s.rc != 0 or s.err:
                    lines.append(f"       stderr: {s.err.strip()!r}")
            if sa and sb and sa.rc == sb.rc == 0 and sa.out != sb.out:
                diff = difflib.unified_diff(
                    self.masked(sa.out).splitlines(),
                    self.masked(sb.out).splitlines(),
                    "ociruntime",
                    "runc",
                    lineterm="",
                    n=1,
                )
                diff = list(diff)
                if not diff:  # (whitespace)
                    diff = [f"ociruntime: {sa.out!r}", f"runc: {sb.out!r}"]
                lines += ["       " + d for d in diff]
        return "\n".join(lines)

    def assert_ok(self, *labels: str) -> None:
        """Those steps succeeded (two identical failures compare equal too)."""
        for label in labels:
            ours, runc = self.step(label)
            assert ours.rc == 0 and runc.rc == 0, f"{label}:\n" + self.report()

    def same(self) -> bool:
        return self.views(self.oci) == self.views(self.runc)

    def assert_same(
        self, ignore: tuple[tuple[str, str], ...] = (), ok: tuple[str, ...] = ()
    ) -> None:
        """Every step alike; ``ignore``: (regex, replacement) pairs applied
        to both sides' output first, for differences a test of their own
        covers; ``ok``: labels of steps that must have succeeded too."""
        self.ignore = tuple(ignore)
        assert self.same(), "ociruntime and runc differ:\n" + self.report()
        self.assert_ok(*ok)


def run_both(
    workdir: str,
    rootfs: str,
    configs: dict[str, dict] | dict,
    scenario: Callable[[Side], object],
    files: dict[str, str] | None = None,
    prepare: Callable[[str], object] | None = None,
) -> Comparison:
    """Run ``scenario`` on both runtimes at once (one thread each).
    ``files``: {path in the rootfs: host file} copied into each rootfs;
    ``prepare(rootfs)``: called on each new rootfs, whose files are hard
    links to the shared one (replace them, never write or chmod them)."""
    if "ociVersion" in configs or "process" in configs:
        configs = {"c": configs}
    sides = []
    for name, cmd in (("ociruntime", OCI), ("runc", [RUNC])):
        s = Side(name, cmd, workdir, rootfs, configs)
        s.files = dict(files or {})
        s.prepare = prepare
        sides.append(s)
    errors: list[BaseException] = []

    def go(side: Side) -> None:
        try:
            scenario(side)
        except BaseException as e:  # noqa: BLE001 -- re-raised below, after cleanup
            errors.append(e)

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(go, sides))
    left = []
    for s in sides:
        left += s.cleanup()
    cmp = Comparison(*sides)
    if errors:
        raise errors[0]
    assert not left, "left behind:\n" + "\n".join(left) + "\n" + cmp.report()
    return cmp


# --- configs ---------------------------------------------------------------------


def unique_cgroup(config: dict, prefix: str = "compat") -> None:
    """A cgroupsPath of its own per side (``{side}`` is filled in by the side)."""
    config.setdefault("linux", {})["cgroupsPath"] = f"/{prefix}-{{side}}"


def adapt(
    config: dict,
    args: list[str] | None = None,
    bind_sources: dict[str, str] | None = None,
    namespace_paths: dict[str, str] | None = None,
) -> dict:
    """A config, captured elsewhere or generated, made runnable here:

    * ``root.path``: the bundle's own rootfs (the side sets it);
    * ``process.args``: ``args`` if given;
    * bind sources that do not exist here (the capture machine's /etc/hosts,
      shm and .containerenv files): a temporary file or directory of the kind
      ``bind_sources`` says they were (a directory if it does not say);
    * ``linux.cgroupsPath``: a unique one per side (the engines' parents,
      libpod_parent and the pod's, would be left behind);
    * namespace paths (the CRI container joins its sandbox's): the path of
      the container ``namespace_paths[type]`` names (``{pid:NAME}``), or
      dropped, which makes a new namespace;
    * hooks: dropped, they name the engines' binaries (none of the captured
      configs has any today).
    """
    c = copy.deepcopy(config)
    c.pop("hooks", None)
    if args is not None:
        c["process"]["args"] = args
    for m in c.get("mounts") or []:
        opts = m.get("options") or []
        src = m.get("source", "")
        is_bind = m.get("type") == "bind" or "bind" in opts or "rbind" in opts
        if is_bind and src.startswith("/") and not os.path.exists(src):
            m["source"] = "{tmp:" + (bind_sources or {}).get(src, "dir") + "}"
    unique_cgroup(c)
    for ns in c.get("linux", {}).get("namespaces") or []:
        if "path" in ns:
            target = (namespace_paths or {}).get(ns["type"])
            if target:
                ns["path"] = f"{{pid:{target}}}/ns/{NS_FILE[ns['type']]}"
            else:
                del ns["path"]
    return c


NS_FILE = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "cgroup": "cgroup",
    "time": "time",
}
