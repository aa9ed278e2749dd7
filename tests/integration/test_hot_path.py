"""What the commands on every container's path import (``-X importtime``).

containerd and podman call create, start, state, kill and delete once or
more per container, each a fresh interpreter, so what they import is paid
every time: ``os`` alone costs 0.8 ms and 0.5 MiB (ociruntime.oslite stands
in for it), ``json`` pulls in ``re``, ``copy`` pulls in ``weakref`` and the
ABCs.  This pins that none of those creeps back, in the runtime or in the
container side it forks, by running the installed launcher's interpreter
with ``-X importtime`` (both processes write to the one stderr).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import OCI, leftovers

FORBIDDEN = {
    "os",
    "_collections_abc",
    "posixpath",
    "json",
    "re",
    "argparse",
    "ctypes",
    "copy",
    "subprocess",
    "socket",
    "typing",
    "enum",
    "collections",
    "functools",
    "weakref",
    "threading",
    "__future__",  # codebundle compiles it as a flag: no import per call
    "resource",  # an extension's dlopen (0.3 ms): the init's rlimits go through prlimit
    "stat",  # the container side takes its functions from _stat (0.06 ms)
    "struct",  # likewise from _struct (0.02 ms)
    # checkpoint and restore's: CRIU's RPC and protobuf (issue 15)
    "ociruntime.criu",
    "ociruntime.process.restore",
    "google.protobuf",
}

# what the systemd cgroup driver imports (cgroups/systemd.py, sdbus.py, dbuswire.py)
SYSTEMD_DRIVER = (
    "ociruntime.cgroups.systemd",
    "ociruntime.cgroups.sdbus",
    "ociruntime.cgroups.dbuswire",
)


def _launcher() -> list[str] | None:
    path = shutil.which(OCI[0]) if len(OCI) == 1 else None
    if path is None:
        return None
    with open(path, "rb") as f:
        first = f.readline().decode(errors="replace")
    if not first.startswith("#!"):
        return None
    interp, *flags = first[2:].split()
    return [interp, "-X", "importtime", *flags, path]


LAUNCHER = _launcher()
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \| +(\S+)$", re.M)
pytestmark = pytest.mark.skipif(
    LAUNCHER is None, reason="OCIRUNTIME is not the installed launcher script"
)


def import_lines(oci, tmp_path, *args: str) -> list[str]:
    """The module of every ``-X importtime`` line of one call, repeats kept
    (the runtime and the processes it forks write to the one stderr)."""
    err = tmp_path / "importtime.txt"
    with open(err, "wb") as f:
        r = subprocess.run(
            [*LAUNCHER, "--root", oci.root, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=f,
            timeout=60,
        )
    text = err.read_text()
    assert r.returncode == 0, text[-2000:]
    names = IMPORT_LINE.findall(text)
    assert "ociruntime.entry" in names, text[:2000]
    return names


def imported(oci, tmp_path, *args: str) -> set[str]:
    return set(import_lines(oci, tmp_path, *args))


def test_the_lifecycle_commands_import_none_of_the_heavy_modules(oci, make_bundle, tmp_path):
    b = make_bundle(["sleep", "60"])
    b.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]
    # a seccomp profile, as podman's and containerd's configs carry: libseccomp
    # through the minimal FFI, not ctypes (which alone imports os and more)
    b.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}],
    }
    b.save()
    cid = oci.new_id("hot")
    seen = {}
    try:
        seen["create"] = imported(oci, tmp_path, "create", "-b", b.path, cid)
        seen["start"] = imported(oci, tmp_path, "start", cid)
        seen["state"] = imported(oci, tmp_path, "state", cid)
        seen["exec"] = imported(oci, tmp_path, "exec", cid, "true")
        seen["kill"] = imported(oci, tmp_path, "kill", cid, "KILL")
        seen["delete"] = imported(oci, tmp_path, "delete", "--force", cid)
        run = make_bundle(["true"])
        seen["run"] = imported(oci, tmp_path, "run", "-b", run.path, oci.new_id("hot"))
    finally:
        oci.cli("delete", "--force", cid)
    bad = {cmd: sorted(names & FORBIDDEN) for cmd, names in seen.items() if names & FORBIDDEN}
    assert bad == {}
    # the systemd cgroup driver and its D-Bus library load only with --systemd-cgroup
    dbus = {
        cmd: sorted(n for n in names if n.startswith(SYSTEMD_DRIVER))
        for cmd, names in seen.items()
        if any(n.startswith(SYSTEMD_DRIVER) for n in names)
    }
    assert dbus == {}
    # idmapped mounts and user namespaces only (process/runtime.needs_runtime_trees)
    assert "ociruntime.linux.idmap" not in seen["create"] | seen["run"]
    # the runtime side of start, state, kill, delete has no container-side modules,
    # and none of create's machinery; nor the _json extension (0.5 ms to load): the
    # record is marshal (state.py) and state's output is written in Python (jsonio)
    for cmd in ("start", "state", "kill", "delete"):
        assert (
            not {
                "ociruntime.process.init",
                "ociruntime.process.first_child",
                "ociruntime.linux.ffi",
                "_ctypes",
                "ociruntime.process.runtime",
                "ociruntime.sync",
                "_json",
            }
            & seen[cmd]
        ), cmd
    assert "_json" in seen["create"]  # (the pin sees it where it is loaded)
    assert os.path.isfile(LAUNCHER[0])


def test_the_early_fork_imports_the_shared_modules_once(oci, make_bundle, tmp_path):
    """first_child.import_shared: what both sides of create's early fork need
    is imported once, before it (after it, each process made its own copy),
    and the child's own modules are imported once, in the child."""
    from ociruntime.process import first_child

    b = make_bundle(["true"])
    names = import_lines(oci, tmp_path, "run", "-b", b.path, oci.new_id("shared"))
    counts = {m: names.count(m) for m in (*first_child.SHARED, "_json", "ociruntime.process.init")}
    assert counts == dict.fromkeys(counts, 1), counts


def test_the_shared_imports_leave_the_child_side_out():
    """The runtime's memory (peak RSS of run, issue 16) holds none of the
    container side's own modules: no init, no FFI, no _ctypes."""
    from ociruntime.process import first_child

    code = (
        "import sys; from ociruntime.process import first_child; b = set(sys.modules);"
        " first_child.import_shared(); print(' '.join(sorted(set(sys.modules) - b)))"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=root, timeout=60
    )
    assert r.returncode == 0, r.stderr
    new = set(r.stdout.split())
    assert set(first_child.SHARED) <= new, new
    child_only = {"ociruntime.process.init", "ociruntime.linux.rootfs", "ociruntime.linux.ffi"}
    assert not new & (child_only | {"ociruntime.linux.syscalls", "_ctypes", "ctypes"}), new


def _call(oci, tmp_path, *argv: str, code: int = 0) -> tuple[str, str, set[str]]:
    """One call through the launcher: (its stdout, its stderr less the
    ``-X importtime`` lines, its imports)."""
    err, out = tmp_path / "importtime.txt", tmp_path / "stdout.txt"
    # files, not pipes: a container that outlives the call keeps them
    with open(err, "wb") as f, open(out, "wb") as o:
        r = subprocess.run(
            [*LAUNCHER, "--root", oci.root, *argv],
            stdin=subprocess.DEVNULL,
            stdout=o,
            stderr=f,
            timeout=60,
        )
    text = err.read_text()
    assert r.returncode == code, text[-2000:]
    rest = "".join(x for x in text.splitlines(True) if not x.startswith("import time:"))
    return out.read_text(), rest, set(IMPORT_LINE.findall(text))


CLI_MODULES = {"ociruntime.cli"}


def test_the_lifecycle_goes_round_the_cli(oci, make_bundle, tmp_path):
    """entry.py: create, start, exec, state, pause, resume, kill and delete, with the
    global flags containerd, podman and CRI-O pass, import none of the
    CLI's modules (about 1 ms of each call beyond the interpreter), create
    the --log file as every command does and write nothing in it.  State
    loads neither the log nor the commands, and prints what the CLI's state
    prints (taken with ``--debug``, which goes through the CLI), created,
    running, paused and stopped."""
    b = make_bundle(["sleep", "60"])
    cid = oci.new_id("round")
    logf = tmp_path / "log.json"
    g = ("--log", str(logf), "--log-format", "json", "--systemd-cgroup")
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}))
    pidf = tmp_path / "exec.pid"
    steps = [
        ("created", None),
        ("running", ("start", cid)),
        ("running", ("exec", "--process", str(proc), "--detach", "--pid-file", str(pidf), cid)),
        ("paused", ("pause", cid)),
        ("running", ("resume", cid)),
        ("stopped", ("kill", "--all", cid, "KILL")),
    ]
    try:
        # (--systemd-cgroup: a systemd scope on create, which this host lacks)
        _, err, names = _call(oci, tmp_path, *g[:4], "create", "--bundle", b.path, cid)
        assert err == "" and logf.read_text() == ""
        assert not names & CLI_MODULES and "ociruntime.process.runtime" in names
        for status, step in steps:
            if step is not None:
                logf.unlink(missing_ok=True)
                _, err, names = _call(oci, tmp_path, *g, *step)
                assert err == "" and logf.read_text() == "", step
                command = "extra" if step[0] == "exec" else "lifecycle"
                assert not names & CLI_MODULES and f"ociruntime.commands.{command}" in names, step
            oci.wait_status(cid, status)
            logf.unlink(missing_ok=True)
            out, err, names = _call(oci, tmp_path, *g, "state", cid)
            assert err == "" and logf.read_text() == ""  # created, and nothing in it
            assert "ociruntime.state" in names
            assert not names & (CLI_MODULES | {"ociruntime.log", "ociruntime.commands"}), status
            slow, _, slow_names = _call(oci, tmp_path, "--debug", "state", cid)
            assert "ociruntime.cli" in slow_names  # the same call through the CLI
            assert json.loads(out)["status"] == status
            assert out == slow
        _, err, names = _call(oci, tmp_path, *g, "delete", cid)
        assert err == "" and not names & CLI_MODULES
        assert not os.path.exists(os.path.join(oci.root, cid))
    finally:
        oci.cli("delete", "--force", cid)
    # run, in the foreground and detached
    t = make_bundle(["sh", "-c", "exit 3"])
    _, err, names = _call(oci, tmp_path, *g[:4], "run", "-b", t.path, oci.new_id("round"), code=3)
    assert err == "" and not names & CLI_MODULES
    cid = oci.new_id("round")
    try:
        _, err, names = _call(oci, tmp_path, "run", "-d", "--bundle", b.path, cid)
        assert err == "" and not names & CLI_MODULES
        assert oci.state(cid)["status"] == "running"
    finally:
        oci.cli("delete", "--force", cid)


def test_a_failure_round_the_cli_is_reported_as_the_clis(oci, make_bundle, tmp_path):
    """A failing state goes through the CLI, which reads again; a failing
    start, kill, delete, create or run is reported where it failed, by the
    CLI's edge (edge.py): one line on stderr, one record in the JSON log,
    status 1 (exec 255), and nothing left of a create (its early child
    gone too)."""
    logf = tmp_path / "log.json"
    g = ("--log", str(logf), "--log-format", "json")
    gone = oci.new_id("gone")
    b = make_bundle(["sleep", "60"])
    cid = oci.new_id("busy")
    oci.cli_ok("run", "-d", "-b", b.path, cid)
    try:
        cases = [
            (("state", gone), f'container "{gone}" does not exist', True),
            (("start", gone), f'container "{gone}" does not exist', False),
            (("kill", gone, "9"), f'container "{gone}" does not exist', False),
            (("delete", cid), f"cannot delete container {cid} that is not stopped: running", False),
            (("start", cid), "cannot start an already running container", False),
            (
                ("create", "-b", "/nonexistent", gone),
                "bundle /nonexistent: no such directory",
                False,
            ),
            (("run", "--bundle", b.path, cid), f"container with id exists: {cid}", False),
        ]
        exec_fails = (("exec", "-p", "/none.json", cid), "/none.json: no such file or directory")
        for argv, msg, through_cli in [*cases, (*exec_fails, False)]:
            logf.unlink(missing_ok=True)
            code = 255 if argv[0] == "exec" else 1  # exec's own failures: 255, as runc's
            out, err, names = _call(oci, tmp_path, *g, *argv, code=code)
            assert out == "" and err == f"ociruntime: {msg}\n", argv
            rec = json.loads(logf.read_text())  # one record: podman reads the file as one
            assert (rec["level"], rec["msg"]) == ("error", msg), argv
            assert ("ociruntime.cli" in names) == through_cli, argv
        assert [x for x in leftovers(oci, None, (gone,)) if gone in x] == []
    finally:
        oci.cli("delete", "--force", cid)


def test_features_finds_criu_without_importing(oci, tmp_path):
    """podman and containerd call ``features``: its checkpoint annotation looks
    for criu and pycriu on disk; importlib.util (4 ms) and protobuf stay out."""
    names = imported(oci, tmp_path, "features")
    assert not names & {"importlib.util", "contextlib", "google.protobuf", "pycriu"}, sorted(names)


def test_the_interpreter_starts_from_its_pth_without_listing_the_stdlib():
    """tools/write-launcher: a python3._pth beside the interpreter copy fixes
    its import path, the encodings package first from a directory of the
    install's own (1 ms of every call's start: no prefix search, no listing
    of the standard library).  The standard library is still there behind
    it, every codec too, and the files the start runs are immutable."""
    interp = LAUNCHER[0]
    pth = interp + "._pth"
    assert os.path.isfile(pth), pth
    code = (
        "import sys, encodings, codecs; codecs.lookup('latin-1'); codecs.lookup('cp1252');"
        " import json, os; print(sys.path[0]); print(encodings.__file__);"
        " print(os.path.isfile(os.__file__), json.loads('[1]'), sys.flags.isolated)"
    )
    r = subprocess.run(
        [interp, "-IS", "-c", code], capture_output=True, text=True, timeout=60, cwd="/"
    )
    assert r.returncode == 0, r.stderr
    first, enc, rest = r.stdout.splitlines()
    home = os.path.dirname(os.path.dirname(interp))
    assert os.path.dirname(first) == home and os.path.basename(first).startswith("startup-")
    assert enc == os.path.join(first, "encodings", "__init__.pyc")
    assert rest == "True [1] 1"
    # under strace: the start-up lists no directory of the standard library
    # (the _pth's second line; a pyvenv.cfg install listed it for encodings)
    with open(pth) as f:
        stdlib = f.read().splitlines()[1]
    if shutil.which("strace"):
        t = subprocess.run(
            ["strace", "-f", "-e", "trace=openat", interp, "-IS", "-c", "pass"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        listed = re.findall(r'openat\(AT_FDCWD, "([^"]+)", [^)]*O_DIRECTORY', t.stderr)
        assert listed and not [d for d in listed if d.startswith(stdlib)], listed
        # the package's own directory holds the one codec a start needs; the
        # other codecs' directory, second on its __path__, is not listed
        assert os.path.join(first, "encodings") in listed, listed
        assert os.path.join(first, "encodings-all") not in listed, listed
        assert sorted(os.listdir(os.path.join(first, "encodings"))) == [
            "__init__.pyc",
            "utf_8.pyc",
        ]
    for f in (interp, pth, os.path.join(first, "encodings", "__init__.pyc")):
        r = subprocess.run(["lsattr", "-d", f], capture_output=True, text=True)
        if r.returncode == 0:
            assert "i" in r.stdout.split()[0], (f, r.stdout)


def test_the_launchers_imports_skip_importlib():
    """codebundle._shortcut: the installed launcher's boot sends the imports of
    the bundle's modules past importlib's machinery (about 40 us a module, 35
    modules in a ``run``'s runtime).  The launcher's own lines, up to its
    boot, then the imports of a ``run``: none reaches the loader's
    exec_module (importlib's path), and the modules are the bundle's."""
    code = f"""{_launcher_head()}
import sys
finder = sys.meta_path[0]
calls = []
cls = type(finder)
cls.exec_module = lambda self, m: calls.append(m.__name__)
import ociruntime.container, ociruntime.process.runtime, ociruntime.config.validate
m = sys.modules["ociruntime.container"]
print(m.__spec__.loader is finder, m.__file__.endswith("/ociruntime/container.py"), calls)
"""
    r = subprocess.run(
        [LAUNCHER[0], "-IS", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "True True []\n"


def _launcher_head() -> str:
    """The installed launcher's lines up to its boot: a ``-c`` program run
    this way has the launcher's finder, as the CLI does."""
    with open(LAUNCHER[-1]) as f:
        lines = f.read().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("boot("))
    return "\n".join(line.strip() for line in lines[1 : at + 1])


def _run_head(code: str) -> str:
    r = subprocess.run(
        [LAUNCHER[0], "-IS", "-c", _launcher_head() + "\n" + code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


_BUNDLE_FDS = """
import os, sys
finder = sys.meta_path[0]
def bundle_fds():
    fds = []
    for n in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/" + n).endswith("/ociruntime.bundle"):
                fds.append(int(n))
        except OSError:
            pass
    return fds
"""


def test_the_launcher_keeps_the_bundle_open_and_its_forked_children_do_not():
    """codebundle.boot(keep=True): the launcher's process reads every module
    from the one fd it opened the bundle with (an open and a close less per
    module); a child that ``os.fork`` makes (the first child, the init, any
    helper) closes it before it runs anything (Finder.forget) and imports
    by path again, so no process that enters a container holds it."""
    out = _run_head(
        _BUNDLE_FDS
        + """
import ociruntime.container
print(bundle_fds() == [finder.fd] and finder.fd > 2)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    import ociruntime.process.runtime, ociruntime.config.validate
    os.write(w, repr((bundle_fds(), finder.fd)).encode())
    os._exit(0)
os.waitpid(pid, 0)
print(os.read(r, 200).decode())
"""
    )
    assert out == "True\n([], -1)\n"


def test_the_kept_bundle_fd_is_a_gap_of_the_preserved_range():
    """A caller that asks for --preserve-fds 1 with fd 3 closed: the
    launcher's bundle fd is then fd 3, which the runtime must not take for
    the caller's (a child would free the number, and an fd of the set-up
    could land on it and reach the container): runtime.reserve_preserved
    closes the kept fd first (codebundle.forget) and holds 3 as a gap."""
    out = _run_head(
        _BUNDLE_FDS
        + """
had = bundle_fds()
from ociruntime.process import runtime
gaps = runtime.reserve_preserved(3, 1)
print(had, finder.fd, gaps, os.readlink("/proc/self/fd/3"), bundle_fds())
"""
    )
    assert out == "[3] -1 [3] /dev/null []\n"


_LOOKUPS = r"""
import codecs, json, os, sys
print("encodings.aliases" in sys.modules)
import encodings
d = os.path.dirname(os.path.realpath(os.__file__)) + "/encodings"
modules = sorted(n[:-3] for n in os.listdir(d) if n.endswith(".py"))
def look(name):
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None
odd = ["UTF-8", "utf8", "U8", "latin1", "ISO-8859-1", "iso8859_1", "cp65001", "x.y",
       "utf_8.x", "", "nonexistent", "UTF_8_SIG", "mbcs", "ascii ", " ascii"]
first = [(n, look(n)) for n in ["utf-8", "latin_1", *modules, *odd]]
names = sorted(encodings.aliases.aliases)  # the table, read through the package
later = [(n, look(n)) for n in names]
encodings.aliases.aliases["ociruntime_alias"] = "cp1252"  # a table changed by code
print(json.dumps([first, later, look("ociruntime_alias"), look("OCIRUNTIME-ALIAS")]))
"""


def test_the_interpreter_imports_the_encodings_aliases_only_when_a_lookup_needs_them():
    """tools/write-launcher: the install's encodings package imports
    encodings.aliases on demand, not at every start (0.4 ms).  Every codec
    lookup still gives what the stock package gives: each codec's own name,
    each alias, odd spellings, then a name added to the table by code."""
    interp = LAUNCHER[0]
    mine = subprocess.run(
        [interp, "-IS", "-c", _LOOKUPS], capture_output=True, text=True, timeout=60, cwd="/"
    )
    stock = subprocess.run(
        [os.path.realpath(sys.executable), "-IS", "-c", _LOOKUPS],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert mine.returncode == 0 and stock.returncode == 0, mine.stderr + stock.stderr
    assert mine.stdout.splitlines()[0] == "False"  # not imported at start
    assert stock.stdout.splitlines()[0] == "True"
    assert mine.stdout.splitlines()[1] == stock.stdout.splitlines()[1]
    assert '"cp1252", "cp1252"]' in mine.stdout


def test_a_reinstall_of_the_same_code_keeps_the_startup_directory(tmp_path):
    """tools/write-launcher names the compiled encodings package's directory
    after its content: compiled from the same sources (by hash, named as the
    stdlib's files, not by mtime or a temporary path), a second install
    writes the same bytes and keeps the directory the _pth names."""
    from conftest import REPO

    home = tmp_path / "home"
    seen = []
    try:
        for _ in range(2):
            subprocess.run(
                [
                    "/usr/bin/python3",
                    os.path.join(REPO, "tools", "write-launcher"),
                    str(tmp_path / "ociruntime"),
                    str(home),
                ],
                check=True,
                capture_output=True,
                cwd="/",
                env=dict(os.environ, PYTHONPATH=REPO),
            )
            seen.append(sorted(p.name for p in home.iterdir() if p.name.startswith("startup-")))
        assert len(seen[0]) == 1 and seen[1] == seen[0], seen
        assert (home / "bin" / "python3._pth").read_text().startswith(f"../{seen[0][0]}\n")
    finally:
        subprocess.run(["chattr", "-R", "-i", str(home)], capture_output=True)
