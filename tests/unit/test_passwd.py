"""Unit tests for ociruntime.linux.procattr.home_of: $HOME from the image's /etc/passwd.

The file is the image's, so it is read in bounded chunks; these pin the
parsing across chunk boundaries and the limits (the container-level cases,
/dev/zero, a FIFO, are in tests/integration/test_security.py).
"""

from __future__ import annotations

import os

import pytest

from ociruntime.errors import OCIError
from ociruntime.linux.procattr import PASSWD_MAX, PASSWD_MAX_LINE, home_of


def passwd(tmp_path, data: bytes) -> str:
    p = tmp_path / "passwd"
    p.write_bytes(data)
    return str(p)


def test_lookup(tmp_path):
    p = passwd(tmp_path, b"root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n")
    assert home_of(0, p) == "/root"
    assert home_of(1000, p) == "/home/u"
    assert home_of(7, p) == "/"


def test_entry_across_a_chunk_boundary_and_without_final_newline(tmp_path):
    pad = b"#" * 65530 + b"\n"  # the next line straddles the first 64 KiB read
    p = passwd(tmp_path, pad + b"u:x:1000:1000::/home/u:/bin/sh\nlast:x:5:5::/last:/bin/sh")
    assert home_of(1000, p) == "/home/u"
    assert home_of(5, p) == "/last"


def test_empty_home_and_missing_file(tmp_path):
    assert home_of(0, passwd(tmp_path, b"root:x:0:0:root::/bin/sh\n")) == "/"
    assert home_of(0, str(tmp_path / "none")) == "/"


def test_line_too_long(tmp_path):
    p = passwd(tmp_path, b"x" * (PASSWD_MAX_LINE + 70000))
    with pytest.raises(OCIError, match="token too long"):
        home_of(0, p)


def test_file_too_large(tmp_path):
    p = passwd(tmp_path, b"a:x:1:1::/a:/bin/sh\n" * (PASSWD_MAX // 20 + 1))
    with pytest.raises(OCIError, match="larger than 16 MiB"):
        home_of(0, p)


@pytest.mark.parametrize("kind", ["fifo", "dir", "/dev/zero"])
def test_not_a_regular_file(tmp_path, kind):
    p = tmp_path / "passwd"
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "dir":
        p.mkdir()
    else:
        p.symlink_to(kind)
    with pytest.raises(OCIError) as ei:
        home_of(0, str(p))
    assert str(ei.value) == f"{p} in the container: not a regular file (looking up $HOME)"
