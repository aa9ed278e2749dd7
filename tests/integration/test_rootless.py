"""Rootless: a non-root user runs containers from a `spec --rootless` bundle.

The user namespace maps that user to root inside; the init writes its own maps
(the only writer the kernel accepts for an unprivileged creator); state lives
under $XDG_RUNTIME_DIR; cgroups are skipped when none is writable.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess

import pytest
from conftest import OCI

USER = "ocirt-rootless"


@pytest.fixture(scope="module")
def user():
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/false", USER], check=True)
        pw = pwd.getpwnam(USER)
    return pw


@pytest.fixture
def rootless(tmp_path, busybox_rootfs, user):
    """(run-as-user function, bundle dir, XDG_RUNTIME_DIR)."""
    os.chmod(tmp_path, 0o755)
    d = tmp_path
    while str(d) not in ("/", "/tmp"):
        os.chmod(d, os.stat(d).st_mode | 0o011)
        d = d.parent
    bundle = tmp_path / "bundle"
    xdg = tmp_path / "xdg"
    bundle.mkdir()
    xdg.mkdir(mode=0o700)
    subprocess.run(["cp", "-a", busybox_rootfs, str(bundle / "rootfs")], check=True)
    for p in (bundle, xdg):
        subprocess.run(["chown", "-R", f"{user.pw_uid}:{user.pw_gid}", str(p)], check=True)

    def as_user(*args: str, **kw) -> subprocess.CompletedProcess:
        cmd = [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "env",
            f"XDG_RUNTIME_DIR={xdg}",
            *OCI,
            *args,
        ]
        kw.setdefault("stdin", subprocess.DEVNULL)
        # output to the caller's choice (a detached init keeps captured pipes open)
        capture = "stdout" not in kw and "stderr" not in kw
        return subprocess.run(cmd, cwd=bundle, capture_output=capture, text=True, timeout=60, **kw)

    r = as_user("spec", "--rootless")
    assert r.returncode == 0, r.stderr
    yield as_user, bundle, xdg
    for cid in os.listdir(xdg / "ociruntime") if (xdg / "ociruntime").exists() else []:
        as_user("delete", "--force", cid)
    shutil.rmtree(tmp_path / "bundle", ignore_errors=True)


def _args(bundle, args: list[str]) -> None:
    p = bundle / "config.json"
    cfg = json.loads(p.read_text())
    cfg["process"]["args"] = args
    cfg["process"]["terminal"] = False  # spec writes runc's template (a terminal)
    p.write_text(json.dumps(cfg))


def test_rootless_run(rootless, user):
    as_user, bundle, xdg = rootless
    _args(bundle, ["sh", "-c", "id -u; cat /proc/self/uid_map; echo $$; cat /proc/self/setgroups"])
    r = as_user("run", "rl-run")
    assert r.returncode == 0, r.stderr
    out = r.stdout.split("\n")
    assert out[0] == "0"
    assert out[1].split() == ["0", str(user.pw_uid), "1"]
    assert out[2] == "1"
    assert out[3] == "deny"
    assert os.listdir(xdg / "ociruntime") == []


def test_rootless_lifecycle_and_exec(rootless, user):
    as_user, bundle, xdg = rootless
    _args(bundle, ["sleep", "100"])
    r = as_user("run", "-d", "rl-life", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert r.returncode == 0
    state = json.loads(as_user("state", "rl-life").stdout)
    assert state["status"] == "running" and state["owner"] == USER
    assert os.stat(f"/proc/{state['pid']}").st_uid == user.pw_uid
    r = as_user(
        "exec",
        "rl-life",
        "sh",
        "-c",
        "id -u; readlink /proc/1/ns/pid; readlink /proc/self/ns/pid; exit 3",
    )
    assert r.returncode == 3, r.stderr
    lines = r.stdout.split("\n")
    assert lines[0] == "0" and lines[1] == lines[2]
    assert as_user("delete", "--force", "rl-life").returncode == 0
    assert os.listdir(xdg / "ociruntime") == []
    assert _gone(state["pid"])


def _gone(pid: int) -> bool:
    """Exited: no /proc entry, or a zombie its new parent has not reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_rootless_resources_without_a_writable_cgroup_warn(rootless):
    as_user, bundle, xdg = rootless
    p = bundle / "config.json"
    cfg = json.loads(p.read_text())
    cfg["process"]["args"] = ["true"]
    cfg["process"]["terminal"] = False
    cfg["linux"]["resources"] = {"memory": {"limit": 67108864}}
    p.write_text(json.dumps(cfg))
    r = as_user("run", "rl-res")
    assert r.returncode == 0, r.stderr
    assert "warning: rootless: linux.resources not applied: no writable cgroup" in r.stderr
    assert os.listdir(xdg / "ociruntime") == []
