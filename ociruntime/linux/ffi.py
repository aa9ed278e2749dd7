"""The few foreign-function calls the runtime needs, on ``_ctypes`` alone.

Every CLI call is a new interpreter, and ``import ctypes`` (the package, with
its many type aliases, ``ctypes._endian`` and friends) costs more than this
module does in total.  The C extension ``_ctypes`` already holds all that is
needed: simple C types, arrays, function pointers and ``dlopen``.

Functions come from the interpreter's own symbol table (libc is already
loaded), are called with the cdecl convention, keep the GIL held (like
``ctypes.PyDLL``: nothing here blocks for long, and several calls run just
after ``fork``), and save ``errno`` so :func:`get_errno` can read it.

Arguments follow the usual ``_ctypes`` rules: a Python ``int`` goes as a C
``int``, ``bytes`` and arrays as pointers to their first byte, ``None`` as
``NULL``; wrap a value in one of the types below for any other width.
"""

from __future__ import annotations

from _ctypes import (
    FUNCFLAG_CDECL,
    FUNCFLAG_PYTHONAPI,
    FUNCFLAG_USE_ERRNO,
    CFuncPtr,
    _SimpleCData,
    addressof,
    dlopen,
    get_errno,
    sizeof,
)

from .. import oslite as os

__all__ = [
    "Function",
    "Library",
    "addressof",
    "buffer",
    "c_int",
    "c_long",
    "c_size_t",
    "c_ubyte",
    "c_uint",
    "c_ulong",
    "function",
    "get_errno",
    "sizeof",
]


class c_int(_SimpleCData):
    _type_ = "i"


class c_uint(_SimpleCData):
    _type_ = "I"


class c_long(_SimpleCData):
    _type_ = "l"


class c_ulong(_SimpleCData):
    _type_ = "L"


class c_ubyte(_SimpleCData):
    _type_ = "B"


# size_t is unsigned long on every Linux ABI (LP64 and ILP32 alike)
c_size_t = c_ulong


class _Process:
    """What a function pointer looks its symbol up in: the running program
    and every library already loaded into it (dlopen(NULL))."""

    _handle = dlopen(None, os.RTLD_NOW)


_PROCESS = _Process()


# cdecl; PYTHONAPI keeps the GIL held across the call (what ctypes.PyDLL does);
# USE_ERRNO saves errno right after the call for get_errno()
_FLAGS = FUNCFLAG_CDECL | FUNCFLAG_PYTHONAPI | FUNCFLAG_USE_ERRNO


class Function(CFuncPtr):
    """A C function returning ``int``."""

    # _ctypes reads _flags_ and _restype_ from each class's own dict, so
    # every subclass states both
    _flags_ = _FLAGS
    _restype_ = c_int


class _LongFunction(CFuncPtr):
    """A C function returning ``long``."""

    _flags_ = _FLAGS
    _restype_ = c_long


class Library:
    """A shared library loaded with dlopen, for :func:`function`'s ``lib``."""

    def __init__(self, name: str) -> None:
        self._handle = dlopen(name, os.RTLD_NOW)  # OSError if it cannot be loaded


def function(name: str, restype: type = c_int, lib: Library | None = None) -> CFuncPtr:
    """The C function ``name`` from ``lib``, or from libc (or anything else
    already loaded into the process).

    ``restype`` is :class:`c_int` or :class:`c_long`; the call returns a
    Python ``int``.  A missing symbol raises AttributeError, as ctypes does.
    """
    where = _PROCESS if lib is None else lib
    if restype is c_int:
        return Function((name, where))
    if restype is c_long:
        return _LongFunction((name, where))
    raise TypeError(f"ffi.function: unsupported restype {restype!r}")


def buffer(init: bytes | int) -> object:
    """A mutable, zero-filled C byte array: of ``init`` bytes, or a copy of ``init``.

    Pass it where the kernel writes (out-parameters) or may write; read it
    back with ``bytes(buf)`` or ``struct.unpack_from(fmt, buf)``.
    """
    if isinstance(init, int):
        return (c_ubyte * init)()
    return (c_ubyte * len(init)).from_buffer_copy(init)
