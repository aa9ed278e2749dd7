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
