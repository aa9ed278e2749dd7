"""The systemd cgroup driver's D-Bus client: systemd's Manager API over jeepney.

jeepney (Debian's python3-jeepney) does the wire protocol: the
authentication, the marshalling of every D-Bus type (the variants of a
transient unit's properties, ``ay`` bitmasks, ``a(st)`` device lists) and the
message parsing.  This module only picks the socket, sends the calls with a
deadline and waits for a job's ``JobRemoved`` signal.  It is imported only
by the systemd driver (cgroups/systemd.py): nothing of jeepney is loaded
without ``--systemd-cgroup`` (tests/integration/test_hot_path.py).

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

from jeepney import DBusAddress, HeaderFields, MessageType, Parser, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import prep_socket

from .. import oslite as os

PRIVATE = "/run/systemd/private"
SYSTEM_BUS = "/run/dbus/system_bus_socket"
MANAGER = DBusAddress(
    "/org/freedesktop/systemd1",
    bus_name="org.freedesktop.systemd1",
    interface="org.freedesktop.systemd1.Manager",
)
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
    if os.environ.get("DBUS_SYSTEM_BUS_ADDRESS"):  # an explicit choice: that bus only
        from jeepney.bus import get_bus

        return [(get_bus("SYSTEM"), True)]
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
        self.sock = None
        self.parser = Parser()
        self.serial = 0
        self.removed: dict[str, str] = {}  # job path -> result, from JobRemoved
        errors = []
        for path, is_bus in candidates():
            try:
                self.sock = prep_socket(path, timeout=self.limit)
            except TimeoutError:
                errors.append(f"{path}: no answer within {self.limit:g}s")
                continue
            except OSError as e:
                errors.append(f"{path}: {_words(e)}")
                continue
            except Exception as e:  # noqa: BLE001 - jeepney's authentication errors
                errors.append(f"{path}: {e}")
                continue
            self.address, self.is_bus = path, is_bus
            break
        else:
            raise Unreachable("; ".join(errors))
        if self.is_bus:
            # pipelined: the bus handles them in order, before our first call
            self._send(message_bus.Hello())
            self._send(message_bus.AddMatch(JOB_REMOVED))

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> Systemd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the wire -------------------------------------------------------------------
    def _send(self, msg) -> int:
        self.serial += 1
        try:
            self.sock.sendall(msg.serialise(serial=self.serial))
        except OSError as e:
            raise Unreachable(f"{self.address}: {_words(e)}") from None
        return self.serial

    def _receive(self, deadline: float):
        while True:
            msg = self.parser.get_next_message()
            if msg is not None:
                f = msg.header.fields
                if (
                    msg.header.message_type is MessageType.signal
                    and f.get(HeaderFields.member) == "JobRemoved"
                ):
                    _, job, _, result = msg.body
                    self.removed[job] = result
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise Unreachable(f"{self.address}: no answer within {self.limit:g}s")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as e:
                raise Unreachable(f"{self.address}: {_words(e)}") from None
            if not data:
                raise Unreachable(f"{self.address}: connection closed")
            self.parser.add_data(data)

    def call(self, method: str, signature: str | None = None, *args: object) -> tuple:
        """A Manager method; its reply's body, or BusError."""
        serial = self._send(new_method_call(MANAGER, method, signature, args))
        deadline = time.monotonic() + self.limit
        while True:
            msg = self._receive(deadline)
            if msg.header.fields.get(HeaderFields.reply_serial) != serial:
                continue
            if msg.header.message_type is MessageType.error:
                name = msg.header.fields.get(HeaderFields.error_name, "error")
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
        msg = new_method_call(
            DBusAddress(MANAGER.object_path, MANAGER.bus_name, "org.freedesktop.DBus.Properties"),
            "Get",
            "ss",
            (MANAGER.interface, "Version"),
        )
        serial = self._send(msg)
        deadline = time.monotonic() + self.limit
        while True:
            reply = self._receive(deadline)
            if reply.header.fields.get(HeaderFields.reply_serial) == serial:
                break
        if reply.header.message_type is MessageType.error:
            return -1
        text = str(reply.body[0][1]).lstrip('"v')
        digits = ""
        for ch in text:
            if not ch.isdigit():
                break
            digits += ch
        return int(digits) if digits else -1
