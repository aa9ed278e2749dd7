"""The cgroup manager interface (cgroups/manager.py, a typing Protocol) is
implemented by V1, V2 and NoCgroup: mypy checks cgroups/__init__.py's
assertion of it; and a manager that drops a method fails that check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MYPY = ["--follow-imports=silent", "--ignore-missing-imports", "--no-error-summary"]


def mypy(*args: str, cwd: str = REPO) -> subprocess.CompletedProcess:
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.fail("mypy is needed to check the cgroup manager interface (make deps installs it)")
    return subprocess.run(
        [sys.executable, "-m", "mypy", *MYPY, *args], cwd=cwd, capture_output=True, text=True
    )


def test_every_manager_implements_the_interface():
    r = mypy("ociruntime/cgroups/__init__.py")
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_manager_without_a_method_is_caught(tmp_path):
    """The check can fail: NoCgroup without freeze() no longer conforms."""
    shutil.copytree(os.path.join(REPO, "ociruntime"), tmp_path / "ociruntime")
    init = tmp_path / "ociruntime" / "cgroups" / "__init__.py"
    text = init.read_text()
    broken = text.replace("    def freeze(self) -> None:\n        raise self._none()\n", "", 1)
    assert broken != text
    init.write_text(broken)
    r = mypy("ociruntime/cgroups/__init__.py", cwd=str(tmp_path))
    assert r.returncode != 0, r.stdout + r.stderr
    assert '"NoCgroup" is missing following "Manager" protocol member' in r.stdout, r.stdout
    assert "freeze" in r.stdout, r.stdout


def test_the_parents_delete_removes_leave_out_the_default_one():
    """rmdir_default_parent takes /ociruntime in every hierarchy: remove_parents
    is given the others only (it used to rmdir each default one again: ENOENT)."""
    from ociruntime.cgroups.base import other_parents

    dirs = ["/sys/fs/cgroup/cpu/ociruntime/c", "/sys/fs/cgroup/pids/ociruntime/c"]
    parents = ["/sys/fs/cgroup/cpu/ociruntime", "/sys/fs/cgroup/pids/ociruntime"]
    assert other_parents(parents, dirs) == []
    dirs = ["/sys/fs/cgroup/cpu/a/b/c"]
    assert other_parents(["/sys/fs/cgroup/cpu/a", "/sys/fs/cgroup/cpu/a/b"], dirs) == [
        "/sys/fs/cgroup/cpu/a",
        "/sys/fs/cgroup/cpu/a/b",
    ]
    dirs = ["/sys/fs/cgroup/x/ociruntime/c"]
    assert other_parents(["/sys/fs/cgroup/x", "/sys/fs/cgroup/x/ociruntime"], dirs) == [
        "/sys/fs/cgroup/x"
    ]
