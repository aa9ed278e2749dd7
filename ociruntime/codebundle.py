"""The runtime's modules as one file of compiled code, for the installed launcher.

Every CLI call is a new interpreter that imports 10-40 of our modules.  The
standard path finder pays per module: a directory listing, stat calls, a
.pyc opened, checked against its source and read, all through importlib's
Python code.  ``make install`` (tools/write-launcher) compiles the package
once into ``ociruntime.bundle`` beside the interpreter copy (under the same
read-only mount), docstrings stripped (``optimize=2``: less to unmarshal and
less memory).  A module is read (one pread) and unmarshalled only when
imported.

The launcher does not import this module the normal way either (that alone
lists two directories and reads two .pyc files): it unmarshals this
module's own code from the bundle's head, at a fixed offset, runs it, and
calls :func:`boot`, which puts the finder first on ``sys.meta_path``; the
launcher then imports and starts the CLI.

File layout: ``MAGIC`` (8 bytes), the interpreter's bytecode magic (4), the
length of the boot code (4, little endian), the boot code (this module,
marshalled; it must fit in ``BOOT_MAX`` bytes from offset 16, which the
launcher reads), the index length (4), the marshalled index ``{name:
(is_package, origin, offset, size)}``, then the marshalled code objects.
The standard library modules the hot path uses are in it too: pure ones
compiled like ours, extension modules as their .so path (offset -1), so
that no command on the hot path lists a sys.path directory.  The bundle and
the interpreter copy are made together; :func:`install`, for other callers,
ignores a bundle made by another interpreter version.

This module does not import ``os`` (~0.5 ms, which a command such as
``--version`` need not pay); ``posix`` and ``marshal`` are built in.
"""

import marshal
import posix
import sys

MAGIC = b"OCIRTB2\n"
BOOT_MAX = 16384


def build(
    package_dir: str, extra: dict[str, str] | None = None, ext: dict[str, str] | None = None
) -> bytes:
    """The bundle of every module under ``package_dir`` (a directory named
    ``ociruntime``) plus ``extra`` {module name: source path}; ``ext`` {module
    name: path of its extension (.so)} are only located, not copied."""
    import os
    from importlib.util import MAGIC_NUMBER

    sources: dict[str, tuple[bool, str]] = {}
    base = os.path.dirname(os.path.abspath(package_dir))
    for d, dirs, files in os.walk(package_dir):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if not f.endswith(".py"):
                continue
            path = os.path.join(d, f)
            parts = os.path.relpath(path, base)[:-3].split(os.sep)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts.pop()
            sources[".".join(parts)] = (is_pkg, path)
    for name, path in (extra or {}).items():
        sources[name] = (False, path)
    index, blobs, offset = {}, [], 0
    for name, (is_pkg, path) in sorted(sources.items()):
        with open(path, "rb") as f:
            code = _compile(f.read(), path)
        blob = marshal.dumps(code)
        index[name] = (is_pkg, path, offset, len(blob))
        blobs.append(blob)
        offset += len(blob)
    for name, path in (ext or {}).items():
        index[name] = (False, path, -1, 0)
    head = marshal.dumps(index)
    with open(os.path.abspath(__file__), "rb") as f:
        boot = marshal.dumps(compile(f.read(), __file__, "exec", dont_inherit=True, optimize=2))
    if len(boot) > BOOT_MAX:
        raise ValueError(f"bundle: the boot code takes {len(boot)} bytes, over {BOOT_MAX}")
    # offsets in the index count from the end of the index
    return (
        MAGIC
        + MAGIC_NUMBER
        + len(boot).to_bytes(4, "little")
        + boot
        + len(head).to_bytes(4, "little")
        + head
        + b"".join(blobs)
    )


def _compile(source: bytes, path: str):
    """``compile`` with docstrings stripped; ``from __future__ import
    annotations`` becomes a compiler flag instead of a statement, which would
    also import ``__future__`` and bind ``annotations`` at run time (0.05 ms
    per call, for a name nothing reads)."""
    import __future__

    import ast

    tree = ast.parse(source, path)
    flags = 0
    keep = []
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == "__future__"
            and [a.name for a in node.names] == ["annotations"]
        ):
            flags |= __future__.annotations.compiler_flag
            continue
        keep.append(node)
    tree.body = keep
    return compile(tree, path, "exec", flags=flags, dont_inherit=True, optimize=2)


class Finder:
    """A meta path finder and loader serving the modules of one bundle file."""

    def __init__(self, path: str, index: dict, start: int) -> None:
        self.path = path
        self.index = index
        self.start = start

    def find_spec(self, name: str, path: object = None, target: object = None):
        entry = self.index.get(name)
        if entry is None:
            return None
        from _frozen_importlib import ModuleSpec

        if entry[2] < 0:
            from _frozen_importlib_external import ExtensionFileLoader

            spec = ModuleSpec(name, ExtensionFileLoader(name, entry[1]), origin=entry[1])
            spec.has_location = True
            return spec
        spec = ModuleSpec(name, self, origin=entry[1], is_package=entry[0])
        spec.has_location = True
        if entry[0]:
            spec.submodule_search_locations = [entry[1].rpartition("/")[0]]
        return spec

    def create_module(self, spec: object) -> None:
        return None

    def exec_module(self, module: object) -> None:
        name = module.__spec__.name
        _, _, offset, size = self.index[name]
        try:
            fd = posix.open(self.path, posix.O_RDONLY | posix.O_CLOEXEC)
            try:
                data = posix.pread(fd, size, self.start + offset)
            finally:
                posix.close(fd)
        except OSError as e:  # e.g. in the container after pivot_root
            raise ImportError(f"{name}: {self.path}: {e.strerror}", name=name) from None
        exec(marshal.loads(data), module.__dict__)


def install(path: str) -> bool:
    """Put the bundle's finder first on sys.meta_path; False (and nothing
    changed) when it is missing or made by another interpreter."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return False
    try:
        return _install(fd, path)
    finally:
        posix.close(fd)


def _install(fd: int, path: str) -> bool:
    try:
        head = posix.pread(fd, 16, 0)
        from _frozen_importlib_external import MAGIC_NUMBER

        if len(head) != 16 or head[:8] != MAGIC or head[8:12] != MAGIC_NUMBER:
            return False
        at = 16 + int.from_bytes(head[12:16], "little")
        n = int.from_bytes(posix.pread(fd, 4, at), "little")
        index = marshal.loads(posix.pread(fd, n, at + 4))
    except (OSError, ValueError, EOFError, TypeError):
        return False
    for name in list(index):
        if name in sys.modules:  # already imported the normal way (this module, the package)
            del index[name]
    sys.meta_path.insert(0, Finder(path, index, at + 4 + n))
    return True


def boot(fd: int, path: str, paths: list[str]) -> None:
    """The launcher's first step, after it ran this module's code from the
    bundle open as ``fd`` (closed here): the finder, then ``paths`` (for the
    few dependencies outside the bundle) ahead on sys.path, and
    ``ociruntime.BIN_DIR`` (the interpreter copy's directory, linux/exe.py).
    The launcher then imports what it runs: ``ociruntime.entry`` (the CLI),
    or the first child's code (process/first_child.py), so that nothing
    here imports the package's upper layers."""
    try:
        _install(fd, path)
    finally:
        posix.close(fd)
    sys.path[:0] = paths
    import ociruntime

    ociruntime.BIN_DIR = path.rpartition("/")[0]
