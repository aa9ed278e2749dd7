"""What the runtime uses of ``os``, without importing ``os``.

Every CLI call is a new interpreter, and ``import os`` costs it 0.8 ms and
0.5 MiB (``_collections_abc`` for ``os.environ``, ``posixpath``,
``genericpath``, ``stat``), about a tenth of a ``state`` or ``start``.  Almost
all of ``os`` is ``posix`` re-exported; this module re-exports it too and
adds the few pure functions the package needs: the path helpers of
``posixpath`` (as ``oslite.path``, which is this module), ``makedirs``,
``walk``, ``fsencode``, ``read_file`` (a small file's bytes), and ``environ`` as a plain dict decoded once
(a snapshot: nothing here changes the process environment through it).

Modules import it as ``from . import oslite as os``, so the code reads as it
would with ``os``; a name missing here fails at once (AttributeError), and
the contract test (tests/unit/test_oslite.py) pins these helpers to
``posixpath``'s results.  Paths are ``str``.
"""

from __future__ import annotations

import sys
from posix import *  # noqa: F403
from posix import O_CLOEXEC, O_RDONLY, _exit, close, getcwd, mkdir, open, read, scandir, stat  # noqa: F401 - _exit: "import *" skips it
from posix import environ as _environb

sep = "/"
path = sys.modules[__name__]  # os.path.join and friends are the functions below

environ: dict[str, str] = {
    k.decode("utf-8", "surrogateescape"): v.decode("utf-8", "surrogateescape")
    for k, v in _environb.items()
}

_S_IFMT = 0o170000
_S_IFDIR = 0o040000
_S_IFREG = 0o100000


def fsencode(s: str | bytes) -> bytes:
    return s if isinstance(s, bytes) else s.encode("utf-8", "surrogateescape")


def join(a: str, *p: str) -> str:
    out = a
    for b in p:
        if b.startswith("/"):
            out = b
        elif not out or out.endswith("/"):
            out += b
        else:
            out += "/" + b
    return out


def isabs(s: str) -> bool:
    return s.startswith("/")


def basename(p: str) -> str:
    return p[p.rfind("/") + 1 :]


def dirname(p: str) -> str:
    head = p[: p.rfind("/") + 1]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def normpath(p: str) -> str:
    """As posixpath: "." for empty; exactly two leading slashes are kept."""
    if not p:
        return "."
    initial = 0
    if p.startswith("/"):
        initial = 2 if p.startswith("//") and not p.startswith("///") else 1
    comps: list[str] = []
    for c in p.split("/"):
        if c in ("", "."):
            continue
        if c != ".." or (not initial and not comps) or (comps and comps[-1] == ".."):
            comps.append(c)
        elif comps:
            comps.pop()
    return "/" * initial + "/".join(comps) or "."


def abspath(p: str) -> str:
    return normpath(p if p.startswith("/") else join(getcwd(), p))


def relpath(p: str, start: str = ".") -> str:
    if not p:
        raise ValueError("no path specified")
    a = [x for x in abspath(start).split("/") if x]
    b = [x for x in abspath(p).split("/") if x]
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    return "/".join([".."] * (len(a) - n) + b[n:]) or "."


def _mode(p: str) -> int | None:
    try:
        return stat(p).st_mode & _S_IFMT
    except (OSError, ValueError):
        return None


def exists(p: str) -> bool:
    return _mode(p) is not None


def isdir(p: str) -> bool:
    return _mode(p) == _S_IFDIR


def isfile(p: str) -> bool:
    return _mode(p) == _S_IFREG


def makedirs(name: str, mode: int = 0o777, exist_ok: bool = False) -> None:
    parent = dirname(name.rstrip("/") or "/")
    if parent and parent != name and not exists(parent):
        try:
            makedirs(parent, mode, exist_ok=True)
        except FileExistsError:
            pass  # made meanwhile
    try:
        mkdir(name, mode)
    except OSError:
        if not exist_ok or not isdir(name):
            raise


def read_file(path: str) -> bytes:
    """The whole of a small file, in three syscalls (``open()`` adds an io
    object and four more: fstat, ioctl, two lseeks)."""
    fd = open(path, O_RDONLY | O_CLOEXEC)  # posix.open
    try:
        chunks = []
        while True:
            chunk = read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        close(fd)


def walk(top: str):
    """Top-down (dirpath, dirnames, filenames), symlinks not followed;
    directories that vanish or cannot be read are skipped."""
    try:
        entries = list(scandir(top))
    except OSError:
        return
    dirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
    files = [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
    yield top, dirs, files
    for d in dirs:
        yield from walk(join(top, d))
