"""The D-Bus wire protocol, as much of it as the systemd driver speaks.

A speed trick, kept in this one module: ``create`` and ``delete`` with
``--systemd-cgroup`` each open one connection to systemd, and the client
library the driver used before (jeepney) cost 12-15 ms of imports on every
such call (``typing``, ``enum``, ``re``, ``socket``, ``selectors``: a third
of a ``create``'s CPU on this project's machine, 0.5-1 s in the emulated
systemd guest).  This module needs ``_socket`` and ``_struct`` (both C,
0.3 ms), and does what the driver needs:

* marshalling and unmarshalling of every D-Bus type from its signature
  (the specification's "Marshaling (Wire Format)": alignment from the
  start of the message, arrays with their length and padding, structs,
  dict entries, variants as ``(signature, value)`` pairs, as jeepney and
  godbus take them), little-endian out, either order in;
* method calls, and the header fields of replies, errors and signals;
* a blocking connection to a unix socket (a path, or ``\\0name`` for an
  abstract one) with the SASL ``EXTERNAL`` handshake, every read bounded by
  a deadline.

``tests/unit/test_dbuswire.py`` checks the bytes against the
specification's layout by hand and, where jeepney is installed, both ways
against jeepney's serialiser and parser; the systemd guest tests
(tests/integration/test_systemd_vm.py) run it against systemd 252 and
dbus-daemon.  cgroups/sdbus.py builds systemd's Manager calls on it.
"""

from __future__ import annotations

import _socket
import _struct
import time

# fixed-size types: struct code, alignment = size
FIXED = {
    "y": "B",
    "b": "I",
    "n": "h",
    "q": "H",
    "i": "i",
    "u": "I",
    "x": "q",
    "t": "Q",
    "d": "d",
    "h": "I",
}
ALIGN = {c: _struct.calcsize(f) for c, f in FIXED.items()}
ALIGN |= {"s": 4, "o": 4, "g": 1, "a": 4, "(": 8, "{": 8, "v": 1}

# message types and header field codes (the specification's tables)
METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
PATH, INTERFACE, MEMBER, ERROR_NAME, REPLY_SERIAL, DESTINATION, SENDER, SIGNATURE = range(1, 9)
FIELD_TYPE = {1: "o", 2: "s", 3: "s", 4: "s", 5: "u", 6: "s", 7: "s", 8: "g", 9: "u"}
MAX_MESSAGE = 128 << 20  # the specification's limit


class WireError(ValueError):
    """A value that does not fit its signature, or bytes that are not a message."""


def split(signature: str) -> list[str]:
    """The complete types of a signature: ``"sa(sv)u"`` -> ``["s", "a(sv)", "u"]``."""
    out, i = [], 0
    while i < len(signature):
        j = _end(signature, i)
        out.append(signature[i:j])
        i = j
    return out


def single(signature: str) -> str:
    """``signature`` if it is exactly one complete type (a variant's), else WireError."""
    if len(split(signature)) != 1:
        raise WireError(f"signature {signature!r} is not one complete type")
    return signature


def _end(sig: str, i: int) -> int:
    """The index just past the complete type that starts at ``sig[i]``."""
    if i >= len(sig):
        raise WireError(f"signature {sig!r} ends inside a type")
    c = sig[i]
    if c == "a":
        return _end(sig, i + 1)
    if c in "({":
        close, depth = {"(": ")", "{": "}"}[c], 0
        for j in range(i, len(sig)):
            if sig[j] in "({":
                depth += 1
            elif sig[j] in ")}":
                depth -= 1
                if depth == 0:
                    if sig[j] != close:
                        break
                    return j + 1
        raise WireError(f"signature {sig!r}: unbalanced {c!r}")
    if c in FIXED or c in "sogv":
        return i + 1
    raise WireError(f"signature {sig!r}: unknown type code {c!r}")


class Writer:
    """Marshals values after ``offset`` bytes of a message (alignment counts from its start)."""

    def __init__(self, offset: int = 0) -> None:
        self.buf = bytearray()
        self.offset = offset

    def pad(self, n: int) -> None:
        self.buf += bytes(-(self.offset + len(self.buf)) % n)

    def put(self, t: str, v: object) -> None:
        c = t[0]
        try:
            if c in FIXED:
                self.pad(ALIGN[c])
                self.buf += _struct.pack("<" + FIXED[c], (1 if v else 0) if c == "b" else v)
            elif c in "so":
                b = v.encode()
                self.pad(4)
                self.buf += _struct.pack("<I", len(b)) + b + b"\0"
            elif c == "g":
                b = v.encode()
                if len(b) > 255:
                    raise WireError(f"signature {v!r} is longer than 255 bytes")
                self.buf += bytes((len(b),)) + b + b"\0"
            elif c == "v":
                sig, value = v
                self.put("g", single(sig))
                self.put(sig, value)
            elif c == "a":
                self._array(t[1:], v)
            elif c in "({":
                parts = split(t[1:-1])
                values = tuple(v)
                if len(parts) != len(values):
                    raise WireError(f"{t} takes {len(parts)} values, not {len(values)}")
                self.pad(8)
                for sub, x in zip(parts, values, strict=True):
                    self.put(sub, x)
            else:
                raise WireError(f"unknown type code {c!r}")
        except (_struct.error, TypeError, AttributeError, ValueError) as e:
            if isinstance(e, WireError):
                raise
            raise WireError(f"{v!r} is not a D-Bus {t!r}") from None

    def _array(self, elem: str, v) -> None:
        self.pad(4)
        at = len(self.buf)
        self.buf += b"\0\0\0\0"
        self.pad(ALIGN[elem[0]])  # even when empty
        start = len(self.buf)
        if elem == "y" and isinstance(v, (bytes, bytearray)):
            self.buf += v
        elif elem[0] == "{":
            for item in v.items() if isinstance(v, dict) else v:
                self.put(elem, item)
        else:
            for x in v:
                self.put(elem, x)
        _struct.pack_into("<I", self.buf, at, len(self.buf) - start)


class Reader:
    """Unmarshals values from ``buf`` at ``pos``; alignment counts from ``base``."""

    def __init__(self, buf: bytes, pos: int = 0, base: int = 0, order: str = "<") -> None:
        self.buf, self.pos, self.base, self.order = buf, pos, base, order

    def align(self, n: int) -> None:
        self.pos += -(self.pos - self.base) % n

    def get(self, t: str):
        c = t[0]
        if c in FIXED:
            self.align(ALIGN[c])
            (v,) = _struct.unpack_from(self.order + FIXED[c], self.buf, self.pos)
            self.pos += ALIGN[c]
            return bool(v) if c == "b" else v
        if c in "so":
            n = self.get("u")
            return self._text(n)
        if c == "g":
            n = self.buf[self.pos]
            self.pos += 1
            return self._text(n)
        if c == "v":
            sig = single(self.get("g"))
            return (sig, self.get(sig))
        if c == "a":
            n = self.get("u")
            elem = t[1:]
            self.align(ALIGN[elem[0]])
            end = self.pos + n
            if end > len(self.buf):
                raise WireError("an array runs past the message")
            if elem == "y":
                self.pos = end
                return bytes(self.buf[end - n : end])
            items = []
            while self.pos < end:
                items.append(self.get(elem))
            return dict(items) if elem[0] == "{" else items
        if c in "({":
            self.align(8)
            return tuple(self.get(sub) for sub in split(t[1:-1]))
        raise WireError(f"unknown type code {c!r}")

    def _text(self, n: int) -> str:
        end = self.pos + n
        if end >= len(self.buf) or self.buf[end] != 0:
            raise WireError("a string runs past the message")
        s = bytes(self.buf[self.pos : end]).decode()
        self.pos = end + 1
        return s


class Message:
    """A parsed message: its type, flags, serial, header fields by code, body."""

    __slots__ = ("type", "flags", "serial", "fields", "body")

    def __init__(self, type_: int, flags: int, serial: int, fields: dict, body: tuple) -> None:
        self.type = type_
        self.flags = flags
        self.serial = serial
        self.fields = fields
        self.body = body

    def __repr__(self) -> str:
        return f"Message(type={self.type}, serial={self.serial}, fields={self.fields}, body={self.body})"


def method_call(
    serial: int,
    path: str,
    member: str,
    *,
    interface: str | None = None,
    destination: str | None = None,
    signature: str = "",
    body: tuple = (),
    flags: int = 0,
) -> bytes:
    """A METHOD_CALL message, its header fields in the order of their codes (as jeepney)."""
    types = split(signature)
    if len(types) != len(body):
        raise WireError(f"signature {signature!r} takes {len(types)} values, not {len(body)}")
    out = Writer()
    for t, v in zip(types, body, strict=True):
        out.put(t, v)
    fields = [(PATH, ("o", path))]
    if destination is not None:
        fields.append((DESTINATION, ("s", destination)))
    if interface is not None:
        fields.append((INTERFACE, ("s", interface)))
    fields.append((MEMBER, ("s", member)))
    if signature:
        fields.append((SIGNATURE, ("g", signature)))
    head = Writer()
    head.buf += _struct.pack("<cBBBII", b"l", METHOD_CALL, flags, 1, len(out.buf), serial)
    head.put("a(yv)", sorted(fields))
    head.pad(8)
    return bytes(head.buf + out.buf)


def parse(buf: bytes | bytearray) -> tuple[Message | None, int]:
    """The first message in ``buf`` and its length, or ``(None, 0)`` if it is incomplete."""
    if len(buf) < 16:
        return None, 0
    order = {0x6C: "<", 0x42: ">"}.get(buf[0])
    if order is None or buf[3] != 1:
        raise WireError("not a D-Bus message (endianness or protocol version)")
    body_len, serial, flen = _struct.unpack_from(order + "III", buf, 4)
    head = 16 + flen
    head += -head % 8
    total = head + body_len
    if total > MAX_MESSAGE:
        raise WireError(f"a message of {total} bytes")
    if len(buf) < total:
        return None, 0
    try:
        fields = {}
        for code, (sig, value) in Reader(buf[:head], 12, 0, order).get("a(yv)"):
            if FIELD_TYPE.get(code, sig) != sig:
                raise WireError(f"header field {code} has type {sig!r}")
            fields[code] = value
        body = Reader(buf[head:total], 0, 0, order)
        values = tuple(body.get(t) for t in split(fields.get(SIGNATURE, "")))
        if body.pos != body_len:
            raise WireError(f"the body is {body_len} bytes, its values {body.pos}")
    except (_struct.error, IndexError, UnicodeDecodeError, RecursionError) as e:
        raise WireError(f"a malformed message ({type(e).__name__})") from None
    return Message(buf[1], buf[2], serial, fields, values), total


def unix_address(address: str) -> str:
    """The socket of the first ``unix:path=`` or ``unix:abstract=`` in a D-Bus address."""
    for one in address.split(";"):
        transport, _, rest = one.partition(":")
        if transport != "unix":
            continue
        keys = dict(kv.partition("=")[::2] for kv in rest.split(",") if kv)
        if "path" in keys:
            return _unescape(keys["path"])
        if "abstract" in keys:
            return "\0" + _unescape(keys["abstract"])
    raise WireError(f"no unix socket in the D-Bus address {address!r}")


def _unescape(value: str) -> str:
    parts = value.split("%")
    out = bytearray(parts[0].encode())
    for p in parts[1:]:
        try:
            out.append(int(p[:2], 16))
        except ValueError:
            raise WireError(f"bad escape in the D-Bus address value {value!r}") from None
        out += p[2:].encode()
    return out.decode("utf-8", "surrogateescape")


class AuthError(Exception):
    """The server did not accept SASL EXTERNAL."""


class Connection:
    """A blocking stream to a D-Bus server, authenticated as this process's uid."""

    def __init__(self, path: str, timeout: float, uid: int) -> None:
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)  # close-on-exec (PEP 446)
        self.inbox = bytearray()
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(path)
            self.sock.sendall(b"\0AUTH EXTERNAL " + str(uid).encode().hex().encode() + b"\r\n")
            while b"\r\n" not in self.inbox:
                data = self.sock.recv(4096)
                if not data:
                    raise AuthError("the server closed the connection during authentication")
                self.inbox += data
            line, _, rest = bytes(self.inbox).partition(b"\r\n")
            if not line.startswith(b"OK "):
                raise AuthError(f"authentication refused: {line.decode(errors='replace')}")
            self.inbox = bytearray(rest)
            self.pending = b"BEGIN\r\n"  # goes out with the first message
        except BaseException:
            self.sock.close()
            raise

    def send(self, data: bytes) -> None:
        self.sock.sendall(self.pending + data)
        self.pending = b""

    def receive(self, deadline: float) -> Message | None:
        """The next message; None once ``deadline`` (time.monotonic) passes (OSError on a
        broken stream, WireError on bytes that are not D-Bus)."""
        while True:
            msg, used = parse(self.inbox)
            if msg is not None:
                del self.inbox[:used]
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not data:
                raise ConnectionResetError(104, "connection closed by the server")
            self.inbox += data

    def close(self) -> None:
        self.sock.close()
