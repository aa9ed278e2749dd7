"""ociruntime.oslite stands in for ``os`` on every command's path: its path
helpers must answer as posixpath does, and the rest is posix's."""

from __future__ import annotations

import os
import posixpath
import subprocess
import sys

import pytest

from ociruntime import oslite

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PATHS = [
    "",
    "/",
    "//",
    "///",
    "a",
    "a/",
    "/a",
    "/a/",
    "//a//b/",
    "///a/./b/../c",
    "a/../..",
    "../a/../../b",
    "/..",
    "/../a",
    "./",
    ".",
    "..",
    "a/./b/.",
    "/a//b///c",
    "/sys/fs/cgroup/memory/ociruntime/x",
    "x/y/",
]


@pytest.mark.parametrize("p", PATHS)
def test_pure_path_functions_match_posixpath(p):
    for name in ("normpath", "basename", "dirname", "isabs"):
        assert getattr(oslite.path, name)(p) == getattr(posixpath, name)(p), (name, p)
    if p:
        assert oslite.path.abspath(p) == posixpath.abspath(p)


@pytest.mark.parametrize(
    "parts",
    [
        ("a",),
        ("a", "b"),
        ("a/", "b"),
        ("a", "/b"),
        ("", "b"),
        ("/", "x", ""),
        ("a", "", "c"),
        ("/a", "b/", "c"),
    ],
)
def test_join_matches_posixpath(parts):
    assert oslite.path.join(*parts) == posixpath.join(*parts)


@pytest.mark.parametrize(
    "p,start",
    [
        ("/a/b/c", "/a"),
        ("/a", "/a/b/c"),
        ("/a/b", "/a/b"),
        ("/x/y", "/a/b"),
        ("c", "."),
        ("/", "/a"),
    ],
)
def test_relpath_matches_posixpath(p, start):
    assert oslite.path.relpath(p, start) == posixpath.relpath(p, start)


def test_stat_based_predicates(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    link = tmp_path / "l"
    link.symlink_to(f)
    for p in (str(tmp_path), str(f), str(link), str(tmp_path / "missing"), "bad\0path"):
        assert oslite.path.exists(p) == os.path.exists(p), p
        assert oslite.path.isdir(p) == os.path.isdir(p), p
        assert oslite.path.isfile(p) == os.path.isfile(p), p


def test_makedirs_and_walk(tmp_path):
    d = str(tmp_path / "a" / "b" / "c")
    oslite.makedirs(d, 0o700)
    assert os.path.isdir(d)
    oslite.makedirs(d, exist_ok=True)
    with pytest.raises(FileExistsError):
        oslite.makedirs(d)
    (tmp_path / "a" / "file").write_text("")
    got = [(p, sorted(ds), sorted(fs)) for p, ds, fs in oslite.walk(str(tmp_path / "a"))]
    want = [(p, sorted(ds), sorted(fs)) for p, ds, fs in os.walk(str(tmp_path / "a"))]
    assert got == want


def test_environ_is_decoded_as_os_decodes_it():
    # a snapshot taken at import: compared in a fresh process, with a value
    # that is not UTF-8
    code = "import os; from ociruntime import oslite; print(oslite.environ == dict(os.environ))"
    env = {b"PATH": b"/usr/bin:/bin", b"ODD": b"\xff\xfeodd", b"PYTHONPATH": REPO.encode()}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert r.stdout == b"True\n", r.stderr


def test_the_rest_is_posix():
    assert oslite.fsencode("é") == os.fsencode("é")
    assert oslite.open is os.open and oslite._exit is os._exit and oslite.O_PATH == os.O_PATH
    assert oslite.sep == os.sep
