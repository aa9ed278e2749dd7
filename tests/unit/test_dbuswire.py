"""The systemd driver's own D-Bus wire code (cgroups/dbuswire.py).

It replaced jeepney to save 12-15 ms of imports per call, so what it must
keep is jeepney's correctness: the bytes are checked by hand against the
specification's layout for the tricky parts (alignment from the message's
start, an empty array's padding, variants), and, for every message the
driver sends or receives, both ways against jeepney (Debian's
python3-jeepney, which ``make deps`` installs as this test's oracle).  The
connection is driven against a small in-process server speaking SASL."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from ociruntime.cgroups import dbuswire as wire
from ociruntime.cgroups import sdbus

try:
    import jeepney
    from jeepney import low_level as jl
    from jeepney import wrappers as jw
except ImportError:  # the layout, parse and connection tests still run
    jeepney = None
needs_jeepney = pytest.mark.skipif(
    jeepney is None, reason="the oracle, python3-jeepney (make deps), is not installed"
)

# what the driver sends: systemd's Manager calls with every property type it uses
START = (
    "ssa(sv)a(sa(sv))",
    (
        "ociruntime-abc.scope",
        "replace",
        [
            ("Description", ("s", "ociruntime container abc")),
            ("Slice", ("s", "system.slice")),
            ("Delegate", ("b", True)),
            ("PIDs", ("au", [4242])),
            ("MemoryAccounting", ("b", True)),
            ("DefaultDependencies", ("b", False)),
            ("MemoryMax", ("t", 2**64 - 1)),
            ("CPUWeight", ("t", 100)),
            ("AllowedCPUs", ("ay", b"\x05")),
            ("AllowedMemoryNodes", ("ay", b"")),
            ("IODeviceWeight", ("a(st)", [("/dev/sda", 200), ("/dev/vdb", 10)])),
            ("TimeoutStopUSec", ("t", 7_000_000)),
            ("Wants", ("as", ["a.service", "b.service"])),
            ("CPUQuotaPerSecUSec", ("t", 50_000)),
            ("Nice", ("i", -5)),
            ("Weight", ("q", 7)),
            ("Small", ("n", -2)),
            ("Byte", ("y", 255)),
            ("Big", ("x", -(2**63))),
            ("Ratio", ("d", 0.25)),
            ("Nested", ("v", ("s", "in a variant"))),
        ],
        [],
    ),
)
CALLS = [
    START,
    ("ss", ("ociruntime-abc.scope", "replace")),
    ("s", ("ociruntime-abc.scope",)),
    ("sba(sv)", ("ociruntime-abc.scope", True, [("TasksMax", ("t", 100))])),
    ("ss", ("org.freedesktop.systemd1.Manager", "Version")),
    ("", ()),
    ("a{sv}", ({"k": ("u", 1), "l": ("as", [])},)),
    ("aay", ([b"", b"ab", b"\x00"],)),
    ("a(yv)", ([(1, ("o", "/a")), (8, ("g", "sa{sv}"))],)),
]


def jeepney_call(serial, sig, body, member="StartTransientUnit"):
    addr = jeepney.DBusAddress(
        "/org/freedesktop/systemd1",
        bus_name="org.freedesktop.systemd1",
        interface="org.freedesktop.systemd1.Manager",
    )
    return jw.new_method_call(addr, member, sig or None, body).serialise(serial=serial)


def ours(serial, sig, body, member="StartTransientUnit"):
    return wire.method_call(
        serial,
        "/org/freedesktop/systemd1",
        member,
        interface="org.freedesktop.systemd1.Manager",
        destination="org.freedesktop.systemd1",
        signature=sig,
        body=body,
    )


def jparse(data: bytes):
    p = jl.Parser()
    p.add_data(data)
    return p.get_next_message()


class TestSignature:
    def test_split(self):
        assert wire.split("") == []
        assert wire.split("ssa(sv)a(sa(sv))") == ["s", "s", "a(sv)", "a(sa(sv))"]
        assert wire.split("a{sv}aayv(ii)") == ["a{sv}", "aay", "v", "(ii)"]

    @pytest.mark.parametrize("bad", ["a", "(s", "s)", "(s}", "z", "a{s"])
    def test_bad(self, bad):
        with pytest.raises(wire.WireError):
            wire.split(bad)


class TestLayout:
    """By hand, from the specification's marshalling rules."""

    def put(self, t, v, offset=0):
        w = wire.Writer(offset)
        w.put(t, v)
        return bytes(w.buf)

    def test_basic(self):
        assert self.put("u", 1) == b"\x01\0\0\0"
        assert self.put("b", True) == b"\x01\0\0\0"
        assert self.put("s", "ab") == b"\x02\0\0\0ab\0"
        assert self.put("g", "sv") == b"\x02sv\0"
        assert self.put("t", 1, offset=1) == b"\0" * 7 + b"\x01" + b"\0" * 7

    def test_empty_array_still_pads_to_its_element(self):
        # length 0, then padding to 8 for the (st) structs, counted from the message start
        assert self.put("a(st)", []) == b"\0\0\0\0" + b"\0" * 4
        assert self.put("a(st)", [], offset=4) == b"\0\0\0\0"
        assert self.put("ay", b"\x01\x02") == b"\x02\0\0\0\x01\x02"

    def test_variant(self):
        assert self.put("v", ("u", 7)) == b"\x01u\0" + b"\0" + b"\x07\0\0\0"

    def test_array_length_excludes_the_padding_before_the_first_element(self):
        data = self.put("at", [1, 2])
        assert struct.unpack_from("<I", data)[0] == 16
        assert len(data) == 4 + 4 + 16

    @pytest.mark.parametrize(
        "t,v",
        [
            ("u", -1),
            ("y", 256),
            ("s", 5),
            ("(ss)", ("a",)),
            ("v", ("(s", "x")),
            ("v", ("ss", ("a", "b"))),  # a variant holds one complete type
            ("v", ("", ())),
            ("q", "7"),
        ],
    )
    def test_values_that_do_not_fit(self, t, v):
        with pytest.raises(wire.WireError):
            self.put(t, v)

    def test_round_trip(self):
        for sig, body in CALLS:
            data = ours(9, sig, body)
            msg, used = wire.parse(data)
            assert used == len(data)
            assert msg.type == wire.METHOD_CALL and msg.serial == 9
            assert msg.body == tuple(body)


@needs_jeepney
class TestAgainstJeepney:
    @pytest.mark.parametrize("n", range(len(CALLS)))
    def test_same_bytes(self, n):
        sig, body = CALLS[n]
        assert ours(5, sig, body) == jeepney_call(5, sig, body)

    @pytest.mark.parametrize("n", range(len(CALLS)))
    def test_jeepney_parses_ours(self, n):
        sig, body = CALLS[n]
        msg = jparse(ours(77, sig, body))
        assert msg.header.serial == 77
        assert msg.header.fields[jl.HeaderFields.member] == "StartTransientUnit"
        assert msg.body == tuple(body)

    def test_we_parse_what_systemd_and_the_bus_send(self):
        call = jparse(jeepney_call(3, *START))
        replies = [
            jw.new_method_return(call, "o", ("/org/freedesktop/systemd1/job/1234",)),
            jw.new_error(call, "org.freedesktop.systemd1.UnitExists", "s", ("Unit x exists",)),
            jw.new_signal(
                jeepney.DBusAddress("/org/freedesktop/systemd1", interface=sdbus.MANAGER),
                "JobRemoved",
                "uoss",
                (1234, "/org/freedesktop/systemd1/job/1234", "a.scope", "done"),
            ),
            jw.new_method_return(call, "v", (("s", '"252.39-1~deb12u2"'),)),
            jw.new_method_return(call, "a{sv}", ({"a": ("u", 1), "b": ("as", ["x"])},)),
        ]
        data = b"".join(m.serialise(serial=100 + i) for i, m in enumerate(replies))
        got = []
        while data:
            msg, used = wire.parse(data)
            got.append(msg)
            data = data[used:]
        assert [m.type for m in got] == [2, 3, 4, 2, 2]
        assert got[0].fields[wire.REPLY_SERIAL] == 3
        assert got[0].body == ("/org/freedesktop/systemd1/job/1234",)
        assert got[1].fields[wire.ERROR_NAME] == "org.freedesktop.systemd1.UnitExists"
        assert got[1].body == ("Unit x exists",)
        assert got[2].fields[wire.MEMBER] == "JobRemoved"
        assert got[2].body[3] == "done"
        assert got[3].body == (("s", '"252.39-1~deb12u2"'),)
        assert got[4].body == ({"a": ("u", 1), "b": ("as", ["x"])},)

    def test_big_endian(self):
        msg = jw.new_method_return(jparse(jeepney_call(3, "s", ("x",))), "uas", (7, ["a", "bc"]))
        msg.header.endianness = jl.Endianness.big
        got, _ = wire.parse(msg.serialise(serial=4))
        assert got.body == (7, ["a", "bc"]) and got.fields[wire.REPLY_SERIAL] == 3


class TestParse:
    def test_incomplete(self):
        data = ours(1, *START)
        for cut in (0, 10, 16, len(data) - 1):
            assert wire.parse(data[:cut]) == (None, 0)

    @pytest.mark.parametrize(
        "data",
        [
            b"x" * 16,  # not an endianness mark
            b"l\x01\x00\x02" + b"\0" * 12,  # protocol version 2
            b"l\x02\x00\x01" + struct.pack("<III", 0, 1, 0xFFFFFFF0),  # huge header
        ],
    )
    def test_garbage(self, data):
        with pytest.raises(wire.WireError):
            wire.parse(data + b"\0" * 64)

    def test_a_variant_of_two_types_is_refused(self):
        # by hand: a METHOD_RETURN whose body is one "v" claiming signature "ss"
        body = wire.Writer()
        body.put("g", "ss")
        body.put("s", "a")
        body.put("s", "b")
        head = wire.Writer()
        head.buf += struct.pack("<cBBBII", b"l", wire.METHOD_RETURN, 0, 1, len(body.buf), 7)
        head.put("a(yv)", [(wire.REPLY_SERIAL, ("u", 1)), (wire.SIGNATURE, ("g", "v"))])
        head.pad(8)
        with pytest.raises(wire.WireError, match="not one complete type"):
            wire.parse(bytes(head.buf + body.buf))

    def test_body_shorter_than_its_signature(self):
        data = bytearray(ours(1, "ss", ("a", "b")))
        struct.pack_into("<I", data, 4, 8)  # claims an 8-byte body: the second string is cut
        with pytest.raises(wire.WireError):
            wire.parse(bytes(data[: len(data) - 6]))


class TestAddress:
    def test_forms(self):
        assert wire.unix_address("unix:path=/run/dbus/system_bus_socket") == (
            "/run/dbus/system_bus_socket"
        )
        assert wire.unix_address("tcp:host=x,port=1;unix:abstract=foo%2dbar") == "\0foo-bar"
        assert wire.unix_address("unix:guid=12,path=/a%20b") == "/a b"

    @pytest.mark.parametrize("a", ["tcp:host=x", "", "unix:tmpdir=/tmp", "unix:path=%zz"])
    def test_bad(self, a):
        with pytest.raises(wire.WireError):
            wire.unix_address(a)


def serve(reply_auth: bytes, answer) -> tuple[str, threading.Thread, list]:
    """A one-connection server on an abstract socket: SASL, then answer(message) -> bytes."""
    name = f"\0ociruntime-test-dbus-{threading.get_ident()}-{id(answer)}"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(name)
    srv.listen(1)
    seen: list = []

    def run():
        c, _ = srv.accept()
        srv.close()
        with c:
            buf = b""
            while b"\r\n" not in buf:
                buf += c.recv(4096)
            seen.append(buf)
            c.sendall(reply_auth)
            if not reply_auth.startswith(b"OK"):
                return
            buf = b""
            while b"BEGIN\r\n" not in buf:
                buf += c.recv(4096)
            buf = buf.split(b"BEGIN\r\n", 1)[1]
            while True:
                msg, used = wire.parse(buf)
                if msg is None:
                    more = c.recv(65536)
                    if not more:
                        return
                    buf += more
                    continue
                buf = buf[used:]
                seen.append(msg)
                out = answer(msg)
                if out:
                    c.sendall(out)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return name, t, seen


class TestConnection:
    @needs_jeepney
    def test_auth_and_a_call(self):
        def answer(msg):
            return jw.new_method_return(
                jparse(ours(msg.serial, "s", ("x",))), "o", ("/j/1",)
            ).serialise(serial=50)

        name, t, seen = serve(b"OK 0123456789abcdef0123456789abcdef\r\n", answer)
        conn = wire.Connection(name, 5, 0)
        try:
            conn.send(ours(1, "s", ("x",)))
            msg = conn.receive(time.monotonic() + 5)
        finally:
            conn.close()
        t.join(5)
        assert seen[0] == b"\0AUTH EXTERNAL 30\r\n"  # uid "0" in hex
        assert seen[1].body == ("x",)
        assert msg.fields[wire.REPLY_SERIAL] == 1 and msg.body == ("/j/1",)

    def test_refused(self):
        name, t, _ = serve(b"REJECTED EXTERNAL\r\n", lambda m: b"")
        with pytest.raises(wire.AuthError, match="authentication refused: REJECTED EXTERNAL"):
            wire.Connection(name, 5, 1000)
        t.join(5)

    def test_silence_is_a_timeout_not_a_hang(self):
        name, t, _ = serve(b"OK 0123456789abcdef0123456789abcdef\r\n", lambda m: b"")
        conn = wire.Connection(name, 5, 0)
        try:
            conn.send(ours(1, "", ()))
            assert conn.receive(time.monotonic() + 0.2) is None
        finally:
            conn.close()
        t.join(5)

    def test_no_server(self):
        with pytest.raises(OSError):
            wire.Connection("\0ociruntime-test-nobody-listens", 1, 0)


class TestSdbus:
    def test_a_bad_value_is_a_bus_error_before_anything_is_sent(self):
        bus = sdbus.Systemd.__new__(sdbus.Systemd)
        bus.serial, bus.conn, bus.address = 0, None, "nowhere"
        with pytest.raises(sdbus.BusError, match="SetUnitProperties"):
            bus.set_unit_properties("a.scope", [("TasksMax", ("t", -1))])

    def test_explicit_bus_address(self, monkeypatch):
        monkeypatch.setattr(sdbus.os, "environ", {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/x/y"})
        assert sdbus.candidates() == [("/x/y", True)]
        monkeypatch.setattr(sdbus.os, "environ", {"DBUS_SYSTEM_BUS_ADDRESS": "tcp:host=a"})
        with pytest.raises(sdbus.Unreachable, match="DBUS_SYSTEM_BUS_ADDRESS: no unix socket"):
            sdbus.candidates()


def test_the_driver_imports_no_heavy_module():
    """The point of this module (its docstring): the systemd driver's client costs
    about 1 ms of imports, not jeepney's 12-15 (typing, enum, re, socket, selectors)."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    repo = str(Path(wire.__file__).resolve().parents[2])
    code = f"import sys; sys.path.insert(0, {repo!r}); import ociruntime.cgroups.sdbus"
    r = subprocess.run(
        [sys.executable, "-IS", "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    names = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \| +(\S+)$", r.stderr, re.M))
    assert "ociruntime.cgroups.dbuswire" in names
    heavy = {"jeepney", "typing", "enum", "re", "socket", "selectors", "collections", "os"}
    assert not names & heavy, sorted(names & heavy)
