"""Unit tests for ociruntime.linux.ffi."""

from __future__ import annotations

import os

import pytest

from ociruntime.linux import ffi


def test_syscall_returns_long():
    syscall = ffi.function("syscall", ffi.c_long)
    assert syscall(ffi.c_long(39 if os.uname().machine == "x86_64" else 172)) == os.getpid()


def test_errno_is_saved():
    assert ffi.function("close")(-1) == -1
    assert ffi.get_errno() == 9  # EBADF


def test_missing_symbol():
    with pytest.raises(AttributeError):
        ffi.function("no_such_function_in_libc")


def test_unsupported_restype():
    with pytest.raises(TypeError):
        ffi.function("close", ffi.c_uint)


def test_buffer_is_mutable_copy():
    src = b"\x01\x02\x03"
    buf = ffi.buffer(src)
    buf[0] = 9
    assert bytes(buf) == b"\x09\x02\x03" and src == b"\x01\x02\x03"
    assert bytes(ffi.buffer(4)) == bytes(4)
