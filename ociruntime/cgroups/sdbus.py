"""The systemd cgroup driver's D-Bus client: the calls to systemd's Manager.

The wire protocol (marshalling by signature, the SASL handshake, the
socket) is cgroups/dbuswire.py, this project's own: the library it replaced,
jeepney, cost 12-15 ms of imports per ``create`` or ``delete`` (dbuswire.py
says why and what checks it).  This module picks the socket, sends the
calls with a deadline and waits for a job's ``JobRemoved`` signal.  It is
imported only by the systemd driver (cgroups/systemd.py): nothing of it is
loaded without ``--systemd-cgroup`` (tests/integration/test_hot_path.py).

Which socket (docs/cgroups.md), as runc's (go-systemd's) order: the system
bus ``/run/dbus/system_bus_socket``, and as root, when the bus cannot be
reached, systemd's private socket
``/run/systemd/private`` (peer to peer, no bus daemon; what systemctl uses
as root).  The bus comes first for a measured reason too: on systemd 252 a
fresh private connection's first call sometimes went unanswered (1 in 6 in
the guest), the bus's never.  Every call has a deadline
(``OCIRUNTIME_SYSTEMD_TIMEOUT`` seconds, default 30, runc's).  With
``DBUS_SYSTEM_BUS_ADDRESS`` set, that bus is the only one tried.
"""

from __future__ import annotations

import time

from .. import oslite as os
from . import dbuswire as wire

PRIVATE = "/run/systemd/private"
SYSTEM_BUS = "/run/dbus/system_bus_socket"
SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
BUS = ("/org/freedesktop/DBus", "org.freedesktop.DBus")
JOB_REMOVED = (
    "type='signal',sender='org.freedesktop.systemd1',path='/org/freedesktop/systemd1',"
    "interface='org.freedesktop.systemd1.Manager',member='JobRemoved'"
)


class BusError(Exception):
    """An error reply: ``name`` (org.freedesktop.systemd1.UnitExists, ...) and text."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__(f"{name}: {text}" if text else name)
        self.name = name
        self.text = text or name


class Unreachable(Exception):
    """No connection to systemd (no socket, refused, or no answer in time)."""


def timeout() -> float:
    try:
        t = float(os.environ.get("OCIRUNTIME_SYSTEMD_TIMEOUT") or 30)
    except ValueError:
        t = 30.0
    return t if t > 0 else 30.0


def candidates() -> list[tuple[str, bool]]:
    """(socket path, is a message bus) to try, in order."""
    address = os.environ.get("DBUS_SYSTEM_BUS_ADDRESS")
    if address:  # an explicit choice: that bus only
        try:
            return [(wire.unix_address(address), True)]
        except wire.WireError as e:
            raise Unreachable(f"DBUS_SYSTEM_BUS_ADDRESS: {e}") from None
    out = [(SYSTEM_BUS, True)]
    if os.geteuid() == 0 and os.path.exists(PRIVATE):
        out.append((PRIVATE, False))
    return out


def _words(e: OSError) -> str:
    """Go's wording (``connection refused``), never ``[Errno 111] ...``."""
    what = e.strerror or str(e)
    return what[:1].lower() + what[1:]


class Systemd:
    """One connection to systemd's manager object."""

    def __init__(self, limit: float | None = None) -> None:
        self.limit = timeout() if limit is None else limit
        self.conn: wire.Connection | None = None
        self.serial = 0
        self.removed: dict[str, str] = {}  # job path -> result, from JobRemoved
        errors = []
        for path, is_bus in candidates():
            try:
                self.conn = wire.Connection(path, self.limit, os.geteuid())
            except TimeoutError:
                errors.append(f"{path}: no answer within {self.limit:g}s")
                continue
            except OSError as e:
                errors.append(f"{path}: {_words(e)}")
                continue
            except wire.AuthError as e:
                errors.append(f"{path}: {e}")
                continue
            self.address, self.is_bus = path, is_bus
            break
        else:
            raise Unreachable("; ".join(errors))
        if self.is_bus:
            # pipelined: the bus handles them in order, before our first call
            self._send(*BUS, "Hello", interface=BUS[1])
            self._send(*BUS, "AddMatch", interface=BUS[1], signature="s", body=(JOB_REMOVED,))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self) -> Systemd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the wire -------------------------------------------------------------------
    def _send(self, path: str, destination: str, member: str, **kw) -> int:
        self.serial += 1
        try:
            data = wire.method_call(self.serial, path, member, destination=destination, **kw)
        except wire.WireError as e:
            raise BusError("ociruntime.InvalidArgs", f"{member}: {e}") from None
        try:
            self.conn.send(data)
        except OSError as e:
            raise Unreachable(f"{self.address}: {_words(e)}") from None
        return self.serial

    def _receive(self, deadline: float) -> wire.Message:
        try:
            msg = self.conn.receive(deadline)
        except OSError as e:
            raise Unreachable(f"{self.address}: {_words(e)}") from None
        except wire.WireError as e:
            raise Unreachable(f"{self.address}: {e}") from None
        if msg is None:
            raise Unreachable(f"{self.address}: no answer within {self.limit:g}s")
        if msg.type == wire.SIGNAL and msg.fields.get(wire.MEMBER) == "JobRemoved":
            if len(msg.body) == 4:
                _, job, _, result = msg.body
                self.removed[job] = result
        return msg

    def _reply(self, serial: int) -> wire.Message:
        deadline = time.monotonic() + self.limit
        while True:
            msg = self._receive(deadline)
            if msg.type in (wire.METHOD_RETURN, wire.ERROR) and (
                msg.fields.get(wire.REPLY_SERIAL) == serial
            ):
                return msg

    def call(self, method: str, signature: str = "", *args: object) -> tuple:
        """A Manager method; its reply's body, or BusError."""
        serial = self._send(
            MANAGER_PATH, SYSTEMD, method, interface=MANAGER, signature=signature, body=args
        )
        msg = self._reply(serial)
        if msg.type == wire.ERROR:
            name = msg.fields.get(wire.ERROR_NAME, "error")
            text = msg.body[0] if msg.body and isinstance(msg.body[0], str) else ""
            raise BusError(name, text)
        return msg.body

    def wait_job(self, job: str) -> str:
        """The result of ``job`` ("done", "failed", "dependency", ...) once it is removed."""
        deadline = time.monotonic() + self.limit
        while job not in self.removed:
            self._receive(deadline)
        return self.removed.pop(job)

    # ---- the Manager methods the driver uses ---------------------------------------------
    def start_transient_unit(self, name: str, props: list) -> str:
        return self.call("StartTransientUnit", "ssa(sv)a(sa(sv))", name, "replace", props, [])[0]

    def stop_unit(self, name: str) -> str:
        return self.call("StopUnit", "ss", name, "replace")[0]

    def reset_failed_unit(self, name: str) -> None:
        self.call("ResetFailedUnit", "s", name)

    def set_unit_properties(self, name: str, props: list) -> None:
        self.call("SetUnitProperties", "sba(sv)", name, True, props)

    def version(self) -> int:
        """systemd's version number (the Manager's Version property: "252.39-1~deb12u2")."""
        serial = self._send(
            MANAGER_PATH,
            SYSTEMD,
            "Get",
            interface="org.freedesktop.DBus.Properties",
            signature="ss",
            body=(MANAGER, "Version"),
        )
        reply = self._reply(serial)
        if reply.type == wire.ERROR or not reply.body:
            return -1
        value = reply.body[0]
        text = str(value[1] if isinstance(value, tuple) else value).lstrip('"v')
        digits = ""
        for ch in text:
            if not ch.isdigit():
                break
            digits += ch
        return int(digits) if digits else -1
