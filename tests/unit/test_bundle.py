"""The launcher's code bundle (ociruntime/codebundle.py): pure logic, checked in
subprocesses so that the finder never lands in the test runner's own import
system."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import ociruntime
from ociruntime import codebundle as bundle

PKG = os.path.dirname(ociruntime.__file__)


def _py(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-IS", "-c", code, *args], capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("bundle") / "ociruntime.bundle")
    with open(path, "wb") as f:
        f.write(bundle.build(PKG))
    return path


def test_every_module_is_served_from_the_bundle_without_docstrings(built):
    code = f"""
import sys
sys.path.insert(0, {os.path.dirname(PKG)!r})
from ociruntime.codebundle import install, Finder
assert install(sys.argv[1])
import ociruntime.container, ociruntime.cgroups.v1, ociruntime.linux.syscalls
for name in ("ociruntime.container", "ociruntime.cgroups.v1", "ociruntime.linux.syscalls"):
    m = sys.modules[name]
    assert isinstance(m.__spec__.loader, Finder), name
    assert m.__file__.endswith(name.split(".")[-1] + ".py"), m.__file__
assert ociruntime.container.Container.__doc__ is None
assert sys.modules["ociruntime.cgroups"].__path__ == [{os.path.join(PKG, "cgroups")!r}]
print("ok")
"""
    r = _py(code, built)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


def test_future_annotations_is_a_flag_not_an_import(built):
    """codebundle._compile: the statement would import __future__ on every call."""
    code = f"""
import sys
sys.path.insert(0, {os.path.dirname(PKG)!r})
from ociruntime.codebundle import install
assert install(sys.argv[1])
import ociruntime.state, ociruntime.container
assert "__future__" not in sys.modules, "imported"
assert "annotations" not in vars(ociruntime.container)
hints = ociruntime.container.Container.__init__.__annotations__
assert hints and all(isinstance(v, str) for v in hints.values()), hints  # still deferred
print("ok")
"""
    r = _py(code, built)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


def test_a_bundle_of_another_interpreter_or_a_missing_one_is_ignored(built, tmp_path):
    other = tmp_path / "other.bundle"
    data = bytearray(open(built, "rb").read())
    data[8:12] = b"\x00\x00\r\n"  # another bytecode magic
    other.write_bytes(bytes(data))
    code = f"""
import sys
sys.path.insert(0, {os.path.dirname(PKG)!r})
from ociruntime.codebundle import install
n = len(sys.meta_path)
print(install(sys.argv[1]), install(sys.argv[2]), len(sys.meta_path) == n)
"""
    r = _py(code, str(other), str(tmp_path / "missing"))
    assert r.stdout == "False False True\n", r.stderr


def test_an_unreadable_bundle_makes_an_import_error_not_an_oserror(built, tmp_path):
    moved = tmp_path / "moved.bundle"
    moved.write_bytes(open(built, "rb").read())
    code = f"""
import os, sys
sys.path.insert(0, {os.path.dirname(PKG)!r})
from ociruntime.codebundle import install
install(sys.argv[1])
os.unlink(sys.argv[1])  # as after pivot_root: the path is gone
try:
    import ociruntime.hooks
except ImportError as e:
    print("ImportError", "ociruntime.hooks" in str(e))
"""
    r = _py(code, str(moved))
    assert r.stdout == "ImportError True\n", r.stderr


# ---- the shortcut past importlib (codebundle._shortcut) ----------------------------------

# A package made for it: nested packages, a module that fails, one that puts
# another object in its place, two that import each other.
_PKG_FILES = {
    "__init__.py": "X = 1\n",
    "plain.py": '"""doc"""\nfrom . import helper\nVALUE = helper.twice(21)\n',
    "helper.py": "def twice(n):\n    return 2 * n\n",
    "sub/__init__.py": "",
    "sub/leaf.py": "from .. import plain\nfrom . import sibling\nLEAF = plain.VALUE + sibling.S\n",
    "sub/sibling.py": "S = 1\n",
    "bad.py": "import sys\nsys.modules[__name__].HALF = 1\nraise RuntimeError('bad module')\n",
    "replaced.py": "import sys\nsys.modules[__name__] = 'stand-in'\n",
    "cyc_a.py": "from . import cyc_b\nA = 1\ndef b():\n    return cyc_b.B\n",
    "cyc_b.py": "from . import cyc_a\nB = 2\n",
}

_DESCRIBE = """
import sys, threading
def describe(name):
    m = sys.modules[name]
    s = m.__spec__
    return (m.__name__, m.__package__, m.__file__, getattr(m, "__path__", None),
            type(m.__loader__).__name__, s.name, s.origin, s.parent,
            s.submodule_search_locations, s.has_location,
            sorted(k for k in vars(m) if k not in ("__builtins__", "__cached__")))
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> tuple[str, str]:
    """(the directory holding package ``toypkg``, its bundle)."""
    base = tmp_path_factory.mktemp("toy")
    for name, text in _PKG_FILES.items():
        p = base / "toypkg" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    path = str(base / "toy.bundle")
    with open(path, "wb") as f:
        f.write(bundle.build(str(base / "toypkg")))
    return str(base), path


def _run_toy(toy, body: str, shortcut: bool) -> str:
    base, path = toy
    code = f"""
import sys
sys.path.insert(0, {os.path.dirname(PKG)!r})
from ociruntime.codebundle import install, Finder
calls = []
_exec = Finder.exec_module
Finder.exec_module = lambda self, m: (calls.append(m.__name__), _exec(self, m))[1]
assert install(sys.argv[1], shortcut={shortcut})
sys.path.insert(0, "/nonexistent")  # the bundle alone serves toypkg
{_DESCRIBE}
{body}
"""
    r = _py(code, path)
    assert r.returncode == 0, r.stderr
    return r.stdout


_IMPORTS = """
import toypkg.sub.leaf, toypkg.cyc_a
names = ["toypkg", "toypkg.plain", "toypkg.helper", "toypkg.sub", "toypkg.sub.leaf",
         "toypkg.sub.sibling", "toypkg.cyc_a", "toypkg.cyc_b"]
print([describe(n) for n in names])
print(toypkg.sub.leaf.LEAF, toypkg.sub.leaf is sys.modules["toypkg.sub"].leaf, toypkg.cyc_a.b())
print(sorted(calls))
"""


def test_the_shortcut_makes_the_modules_importlib_makes(toy):
    """The same modules, attributes, parents' bindings and code run, without
    a call of the loader's exec_module (importlib's path)."""
    fast = _run_toy(toy, _IMPORTS, shortcut=True).splitlines()
    slow = _run_toy(toy, _IMPORTS, shortcut=False).splitlines()
    assert fast[:2] == slow[:2]
    assert fast[1] == "43 True 2"
    assert fast[2] == "[]"
    assert "toypkg.sub.leaf" in slow[2]  # importlib's path did go through the loader


def test_the_shortcut_fails_as_importlib_does(toy):
    body = """
for attempt in range(2):
    try:
        import toypkg.bad
    except RuntimeError as e:
        print(e, "toypkg.bad" in sys.modules, hasattr(sys.modules["toypkg"], "bad"))
import toypkg.replaced
print(toypkg.replaced if isinstance(toypkg.replaced, str) else "module", sys.modules["toypkg.replaced"])
sys.modules["toypkg.helper"] = None
try:
    import toypkg.helper
except ModuleNotFoundError as e:
    print("ModuleNotFoundError", e.name)
print(calls)
"""
    out = _run_toy(toy, body, shortcut=True).splitlines()
    assert out == [
        "bad module False False",
        "bad module False False",  # not left half-made: its code runs again
        "stand-in stand-in",
        "ModuleNotFoundError toypkg.helper",
        "[]",
    ]
    assert _run_toy(toy, body, shortcut=False).splitlines()[:4] == out[:4]


def test_the_shortcut_leaves_imports_to_importlib_while_a_thread_runs(toy):
    """importlib's module locks keep two threads from running one module's
    code twice; the shortcut has none, so it steps aside."""
    body = """
import threading
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
import toypkg.plain
stop.set(); t.join()
import toypkg.sub.sibling
print(calls)
"""
    out = _run_toy(toy, body, shortcut=True)
    assert out == "['toypkg', 'toypkg.plain', 'toypkg.helper']\n"


def test_a_sigint_before_the_cli_ends_quietly_with_130(built):
    """boot()'s excepthook stands for the try statement the launcher had: a
    KeyboardInterrupt before the CLI catches it gives status 130 and no
    traceback; any other error still shows one."""
    code = f"""
import posix, sys
sys.path.insert(0, {os.path.dirname(PKG)!r})
from ociruntime.codebundle import boot
boot(posix.open(sys.argv[1], posix.O_RDONLY), sys.argv[1], [])
raise {{}}
"""
    r = _py(code.replace("{}", "KeyboardInterrupt"), built)
    assert (r.returncode, r.stdout, r.stderr) == (130, "", "")
    r = _py(code.replace("{}", "ValueError('boom')"), built)
    assert r.returncode == 1 and "ValueError: boom" in r.stderr


def test_the_boot_code_leaves_out_what_only_the_install_runs(built):
    """Every call unmarshals the boot code from the bundle's head: build() and
    its helpers (a third of the module) are not in it, the launcher's steps are."""
    import marshal

    with open(built, "rb") as f:
        head = f.read(bundle.BOOT_MAX + 16)
    size = int.from_bytes(head[12:16], "little")
    code = marshal.loads(head[16 : 16 + size])
    names = {c.co_name for c in code.co_consts if hasattr(c, "co_name")}
    assert not names & set(bundle._BUILD_ONLY), names
    assert {"boot", "install", "_shortcut", "Finder"} <= names, names
    ns: dict = {"__name__": "boot_check"}
    exec(code, ns)  # it runs on its own, as the launcher runs it
    assert callable(ns["boot"]) and "build" not in ns
