"""Fixtures of the differential tests: ``both`` runs a scenario through
ociruntime and runc (harness.py), skipped where runc is missing or the
tests do not run as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from conftest import OCI

from .harness import RUNC, Comparison, mounts_under, run_both


def need_runc() -> None:
    if os.geteuid() != 0:
        pytest.skip("the differential tests run real containers and need root")
    if RUNC is None:
        pytest.skip("runc is not installed: nothing to compare with")


@pytest.fixture(scope="session")
def compat_dir():
    """The session's directory, outside pytest's 0700 tmp tree: a user
    namespace's root (a high host uid) must be able to reach the bundles."""
    d = tempfile.mkdtemp(prefix="ociruntime-compat-")
    os.chmod(d, 0o755)
    yield d
    if not mounts_under(d):  # (never through a mount left behind)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def both(compat_dir, busybox_rootfs):
    """both(configs, scenario, files=None, prepare=None) -> Comparison (harness.run_both)."""
    need_runc()
    n = [0]

    def run(configs, scenario, files=None, prepare=None) -> Comparison:
        n[0] += 1
        workdir = tempfile.mkdtemp(dir=compat_dir)
        os.chmod(workdir, 0o755)
        try:
            return run_both(workdir, busybox_rootfs, configs, scenario, files, prepare)
        finally:
            # (never through a mount left behind: the test has failed on it)
            if not mounts_under(workdir):
                shutil.rmtree(workdir, ignore_errors=True)

    return run


@pytest.fixture(scope="session")
def runc_spec(tmp_path_factory) -> dict:
    """``runc spec``'s config.json, as runc writes it."""
    need_runc()
    import json

    d = tmp_path_factory.mktemp("runc-spec")
    subprocess.run([RUNC, "spec"], cwd=d, check=True, timeout=30)
    with open(d / "config.json") as f:
        return json.load(f)


@pytest.fixture
def specs(tmp_path):
    """specs(rootless) -> (``ociruntime spec``'s config.json, ``runc spec``'s),
    with ``--rootless`` if asked."""
    need_runc()
    import json

    def make(rootless: bool) -> tuple[dict, dict]:
        flags = ["--rootless"] if rootless else []
        out = []
        for name, cmd in (("ociruntime", OCI), ("runc", [RUNC])):
            d = tmp_path / f"{name}-{len(flags)}"
            d.mkdir()
            subprocess.run([*cmd, "spec", *flags], cwd=d, check=True, timeout=30)
            with open(d / "config.json") as f:
                out.append(json.load(f))
        return out[0], out[1]

    return make


@pytest.fixture(scope="session", autouse=True)
def runc_cgroup_parents():
    """runc 1.1 makes the cgroup path's parents in every v1 hierarchy,
    name=systemd included, and removes only the leaf; ociruntime leaves
    name=systemd alone.  The empty parents runc left are removed at the end."""
    yield
    for root in ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"):
        try:
            os.rmdir(os.path.join(root, "ociruntime"))
        except OSError:
            pass  # absent, or in use by a container still running
