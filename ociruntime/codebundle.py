"""The runtime's modules as one file of compiled code, for the installed launcher.

Every CLI call is a new interpreter that imports 10-40 of our modules.  The
standard path finder pays per module: a directory listing, stat calls, a
.pyc opened, checked against its source and read, all through importlib's
Python code.  ``make install`` (tools/write-launcher) compiles the package
once into ``ociruntime.bundle`` beside the interpreter copy (under the same
read-only mount), docstrings stripped (``optimize=2``: less to unmarshal and
less memory).  A module is read (one pread) and unmarshalled only when
imported.  The launcher's process reads through the fd it opened the
bundle with, kept for its life; a forked child, which may enter a
container, closes it and opens the bundle per module (:func:`boot`).

The launcher does not import this module the normal way either (that alone
lists two directories and reads two .pyc files): it unmarshals this
module's own code from the bundle's head, at a fixed offset, runs it, and
calls :func:`boot`, which puts the finder first on ``sys.meta_path`` and
sends the imports of the bundle's modules past importlib's machinery
(:func:`_shortcut`); the launcher then imports and starts the CLI.

File layout: ``MAGIC`` (8 bytes), the interpreter's bytecode magic (4), the
length of the boot code (4, little endian), the boot code (this module
without its build-time functions, marshalled; it must fit in ``BOOT_MAX``
bytes from offset 16, which the launcher reads), the index length (4), the
marshalled index ``{name: (is_package, origin, offset, size)}``, then the
marshalled code objects.
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
    boot = marshal.dumps(_boot_code(os.path.abspath(__file__)))
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


# what only the install runs: left out of the boot code, which every call unmarshals
_BUILD_ONLY = ("build", "_compile", "_boot_code")


def _boot_code(path: str):
    """This module's code (from ``path``) less :data:`_BUILD_ONLY`, a third of its size."""
    import ast

    with open(path, "rb") as f:
        tree = ast.parse(f.read(), path)
    tree.body = [
        n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name in _BUILD_ONLY)
    ]
    return compile(tree, path, "exec", dont_inherit=True, optimize=2)


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
        self.fd = -1  # the bundle kept open (boot's ``keep``), or -1: opened per module

    def forget(self) -> None:
        """Close the kept fd: from now on each module opens the bundle again.
        Run in every child ``os.fork`` makes (boot registers it), before the
        child runs any code of its own: no process that enters a container
        holds the fd, and none can find another file on its number."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            try:
                posix.close(fd)
            except OSError:
                pass

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
        exec(self.code(module.__spec__.name), module.__dict__)

    def code(self, name: str) -> object:
        """The module's code object: one pread, then unmarshalled."""
        _, _, offset, size = self.index[name]
        try:
            if self.fd >= 0:
                data = posix.pread(self.fd, size, self.start + offset)
            else:
                fd = posix.open(self.path, posix.O_RDONLY | posix.O_CLOEXEC)
                try:
                    data = posix.pread(fd, size, self.start + offset)
                finally:
                    posix.close(fd)
        except OSError as e:  # e.g. in the container after pivot_root
            raise ImportError(f"{name}: {self.path}: {e.strerror}", name=name) from None
        return marshal.loads(data)

    def load(self, name: str, import_: object) -> object:
        """What importlib's ``_find_and_load`` does for a module of the bundle,
        without its machinery (the shortcut, below): the parent package
        first, the module made from :meth:`find_spec`'s spec with the same
        attributes (``__cached__`` aside: no .pyc is involved), put in
        sys.modules while its code runs and taken out again if that fails,
        then bound in its parent."""
        parent, _, child = name.rpartition(".")
        if parent and parent not in sys.modules:
            import_(parent)
            if name in sys.modules:  # the parent imported it
                return sys.modules[name]
        spec = self.find_spec(name)
        module = _Module(name)
        module.__spec__, module.__loader__, module.__file__ = spec, self, spec.origin
        if spec.submodule_search_locations is not None:
            module.__path__ = spec.submodule_search_locations
            module.__package__ = name
        else:
            module.__package__ = parent
        spec._initializing = True
        sys.modules[name] = module
        try:
            exec(self.code(name), module.__dict__)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            spec._initializing = False
        module = sys.modules[name]  # a module may put another object in its place
        if parent:
            setattr(sys.modules[parent], child, module)
        return module


_Module = type(sys)


def _shortcut(finder: Finder) -> None:
    """Import the bundle's modules without importlib's machinery.

    Every import that misses sys.modules goes from C to
    ``_frozen_importlib._find_and_load``, Python code that takes a module
    lock (two thread locks and a weakref), asks each meta path finder for a
    spec and fills in the module's attributes, ``__cached__``'s path
    computed from the origin's: about 40 us per module on the project's
    VM, before the module's own code runs.  A ``run`` imports some 35 of
    ours in the runtime and 15 more in the container side; ``state`` 9.
    Replaced here by a function that sends a module of the bundle (not an
    extension's) straight to :meth:`Finder.load`, and everything else to the
    original: an entry of sys.modules (None there means "not importable"),
    and every import while a second thread runs, since the module locks are
    what keeps two threads from running one module's code twice.
    Importing the 34 modules of ``run``'s runtime side, in a fresh
    interpreter (80 interleaved pairs): 6.5 -> 5.2 ms.  ``-X importtime``
    and the "import" audit event still see every import: both are in C,
    around the call.  tests/unit/test_bundle.py pins the modules it makes
    against importlib's; tests/integration/test_hot_path.py that the
    installed launcher's imports take it.
    """
    import _frozen_importlib as bootstrap
    import _thread

    slow = bootstrap._find_and_load
    index, modules, threads = finder.index, sys.modules, _thread._count

    def _find_and_load(name: str, import_: object) -> object:
        entry = index.get(name)
        if entry is None or entry[2] < 0 or name in modules or threads():
            return slow(name, import_)
        return finder.load(name, import_)

    bootstrap._find_and_load = _find_and_load


def install(path: str, shortcut: bool = False) -> bool:
    """Put the bundle's finder first on sys.meta_path (and, with
    ``shortcut``, take its modules' imports past importlib, as :func:`boot`
    does); False (and nothing changed) when it is missing or made by
    another interpreter."""
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    except OSError:
        return False
    try:
        finder = _install(fd, path)
    finally:
        posix.close(fd)
    if finder is not None and shortcut:
        _shortcut(finder)
    return finder is not None


def _install(fd: int, path: str) -> Finder | None:
    try:
        head = posix.pread(fd, 16, 0)
        from _frozen_importlib_external import MAGIC_NUMBER

        if len(head) != 16 or head[:8] != MAGIC or head[8:12] != MAGIC_NUMBER:
            return None
        at = 16 + int.from_bytes(head[12:16], "little")
        n = int.from_bytes(posix.pread(fd, 4, at), "little")
        index = marshal.loads(posix.pread(fd, n, at + 4))
    except (OSError, ValueError, EOFError, TypeError):
        return None
    for name in list(index):
        if name in sys.modules:  # already imported the normal way (this module, the package)
            del index[name]
    finder = Finder(path, index, at + 4 + n)
    sys.meta_path.insert(0, finder)
    return finder


def forget() -> None:
    """Close the bundle fd a launcher's finder keeps (:func:`boot`), if any:
    for a process about to hand a range of its fds to a container
    (--preserve-fds, LISTEN_FDS), where the kept fd could sit on a number
    the caller left closed."""
    for finder in sys.meta_path:
        if getattr(finder, "fd", -1) >= 0 and callable(getattr(finder, "forget", None)):
            finder.forget()


def _interrupted(kind: type, value: BaseException, tb: object, _hook=sys.excepthook) -> None:
    if issubclass(kind, KeyboardInterrupt):
        posix._exit(130)
    _hook(kind, value, tb)


def boot(fd: int, path: str, paths: list[str], keep: bool = False) -> None:
    """The launcher's first step, after it ran this module's code from the
    bundle open as ``fd`` (closed here, or with ``keep`` kept by the finder,
    close-on-exec, for the process's imports: an open and a close less per
    module, 30-70 modules a lifecycle; every forked child closes it at
    once, :meth:`Finder.forget`, and so does the runtime before it reserves
    the fds a container inherits, :func:`forget`), the finder, then
    ``paths`` (for the few dependencies outside the bundle) ahead on
    sys.path, and
    ``ociruntime.BIN_DIR`` (the interpreter copy's directory, linux/exe.py).
    The launcher then imports what it runs: ``ociruntime.entry`` (the CLI),
    or the first child's code (process/first_child.py), so that nothing
    here imports the package's upper layers.  Until the CLI catches it, a
    SIGINT ends the process with status 130 and no traceback (the
    excepthook: cheaper than a try statement in the launcher, whose source
    is compiled on every call)."""
    sys.excepthook = _interrupted
    finder = None
    try:
        finder = _install(fd, path)
    finally:
        if keep and finder is not None:
            finder.fd = fd
            posix.register_at_fork(after_in_child=finder.forget)
        else:
            posix.close(fd)
    if finder is not None:
        _shortcut(finder)
    sys.path[:0] = paths
    import ociruntime

    ociruntime.BIN_DIR = path.rpartition("/")[0]
