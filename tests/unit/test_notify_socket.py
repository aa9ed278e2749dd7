"""ociruntime/notify.py's own logic: what create adds to the config, the
socket start binds, how READY is picked out of a datagram, the abstract
address form.  The container round trips: tests/integration/test_notify.py."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from ociruntime import notify
from ociruntime.errors import OCIError


def test_prepare_adds_the_mount_and_replaces_the_variable(tmp_path):
    config = {
        "process": {"env": ["PATH=/bin", "NOTIFY_SOCKET=/elsewhere", "A=1"]},
        "mounts": [{"destination": "/run", "type": "tmpfs", "source": "tmpfs"}],
    }
    notify.prepare(config, str(tmp_path))
    d = tmp_path / "notify"
    assert d.is_dir() and (d.stat().st_mode & 0o777) == 0o755
    assert config["process"]["env"] == ["PATH=/bin", "A=1", "NOTIFY_SOCKET=/run/notify/notify.sock"]
    # last: over a tmpfs at /run
    assert config["mounts"][-1] == {
        "destination": "/run/notify",
        "type": "bind",
        "source": str(d),
        "options": ["bind", "nosuid", "noexec", "nodev", "ro"],
    }


def test_prepare_without_mounts_or_env(tmp_path):
    config = {"process": {"args": ["true"]}}
    notify.prepare(config, str(tmp_path))
    assert config["process"]["env"] == ["NOTIFY_SOCKET=/run/notify/notify.sock"]
    assert [m["destination"] for m in config["mounts"]] == ["/run/notify"]


def test_prepare_names_what_it_could_not_make(tmp_path):
    with pytest.raises(OCIError) as e:
        notify.prepare({"process": {}}, str(tmp_path / "missing"))
    assert str(tmp_path / "missing" / "notify") in e.value.text


def test_listen_without_the_directory_names_the_container(tmp_path):
    with pytest.raises(OCIError) as e:
        notify.listen(str(tmp_path), "c1", "/run/systemd/notify")
    assert "created without it" in e.value.text and e.value.where == "container c1"


def test_listen_binds_a_socket_anyone_may_send_to(tmp_path):
    (tmp_path / "notify").mkdir()
    (tmp_path / "notify" / "notify.sock").write_text("left by a failed start")
    lst = notify.listen(str(tmp_path), "c1", "/run/systemd/notify")
    try:
        path = tmp_path / "notify" / "notify.sock"
        assert (path.stat().st_mode & 0o777) == 0o777
        assert lst.sock.type == socket.SOCK_DGRAM
    finally:
        lst.close()


def _sleeper():
    return subprocess.Popen(["sleep", "60"])


@pytest.mark.parametrize(
    "datagrams, line",
    [
        ([b"READY=1"], b"READY=1"),
        ([b"STATUS=starting", b"STATUS=up\nREADY=1\nMAINPID=9"], b"READY=1"),
        ([b"READY=0\n"], b"READY=0"),
    ],
)
def test_wait_ready_picks_the_ready_line(tmp_path, datagrams, line):
    """A READY= line anywhere in a datagram (sd_notify sends KEY=VALUE lines);
    the datagrams before it are skipped."""
    (tmp_path / "notify").mkdir()
    lst = notify.listen(str(tmp_path), "c1", "/run/systemd/notify")
    p = _sleeper()
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        for d in datagrams:
            s.sendto(d, str(tmp_path / "notify" / "notify.sock"))
        s.close()
        assert lst.wait_ready(p.pid) == line
    finally:
        lst.close()
        p.kill()
        p.wait()


def test_wait_ready_ends_when_the_init_exits_even_unreaped(tmp_path):
    """An init that exits without READY ends the wait, reaped or not (a
    zombie still has its /proc entry, which runc 1.1 polls)."""
    (tmp_path / "notify").mkdir()
    lst = notify.listen(str(tmp_path), "c1", "/run/systemd/notify")
    p = subprocess.Popen(["true"])
    try:
        assert lst.wait_ready(p.pid) is None  # p is a zombie until the wait below
        assert os.path.exists(f"/proc/{p.pid}")
    finally:
        lst.close()
        p.wait()


def test_abstract_address():
    assert notify._address("@name") == b"\0name"
    assert notify._address("/run/systemd/notify") == "/run/systemd/notify"


def test_check_refuses_what_no_datagram_reaches(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "ok"))
    try:
        notify.check(str(tmp_path / "ok"))
        notify.check("@abstract")  # not checkable on a path: left to the send
        (tmp_path / "file").write_text("")
        for value, why in [
            ("relative", "not an absolute path or an @abstract name"),
            (str(tmp_path / "missing"), "no such file or directory"),
            (str(tmp_path / "file"), "not a socket"),
        ]:
            with pytest.raises(OCIError) as e:
                notify.check(value)
            assert e.value.text == f"NOTIFY_SOCKET {value}: {why}"
    finally:
        sock.close()
