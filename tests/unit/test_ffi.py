"""Unit tests for ociruntime.linux.ffi and the syscall wrappers built on it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ociruntime.linux import ffi
from ociruntime.linux import syscalls as sc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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


def test_statfs_out_buffer():
    assert sc.statfs_type("/proc") == 0x9FA0
    fd = os.open("/proc", os.O_RDONLY)
    try:
        assert sc.fstatfs_type(fd) == 0x9FA0
    finally:
        os.close(fd)


def test_openat2_struct_and_error_format():
    root = os.open("/", os.O_PATH)
    try:
        fd = sc.openat2(root, "proc/self/../self/stat", os.O_RDONLY, sc.RESOLVE_IN_ROOT)
        os.close(fd)
        with pytest.raises(FileNotFoundError) as ei:
            sc.openat2(root, "no/such/path", os.O_RDONLY, sc.RESOLVE_IN_ROOT, display="/x")
    finally:
        os.close(root)
    assert str(ei.value) == "[Errno 2] openat2 /x: No such file or directory"


def test_hot_path_does_not_import_ctypes():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import ociruntime.process.init, ociruntime.linux.security, ociruntime.linux.syscalls; "
        "print(sorted(m for m in sys.modules if m in ('ctypes', 'typing')))"
    )
    out = subprocess.run(
        [sys.executable, "-IS", "-c", code, REPO], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_rlimits_through_prlimit_agree_with_the_resource_module():
    """sc.getrlimit/setrlimit (prlimit(2), no ``resource`` import in the init):
    the same numbers as Python's resource module (whose RLIM_INFINITY is -1),
    for every name Python knows; a limit set in a child is the one it reads."""
    import resource

    for name, res in sc.RLIMITS.items():
        if hasattr(resource, name):
            assert getattr(resource, name) == res, name
            mine = sc.getrlimit(res)
            theirs = resource.getrlimit(res)
            assert mine == tuple(sc.RLIM_INFINITY if v == -1 else v for v in theirs), name
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            soft, hard = sc.getrlimit(sc.RLIMITS["RLIMIT_CORE"])
            sc.setrlimit(sc.RLIMITS["RLIMIT_CORE"], 4096, 8192)
            ok = resource.getrlimit(resource.RLIMIT_CORE) == (4096, 8192)
            try:
                sc.setrlimit(sc.RLIMITS["RLIMIT_CORE"], 8192, 4096, "RLIMIT_CORE")
            except OSError as e:
                code = 0 if ok and e.errno == 22 and "setrlimit RLIMIT_CORE" in str(e) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
