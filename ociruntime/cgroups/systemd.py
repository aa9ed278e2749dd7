"""The systemd cgroup driver (``--systemd-cgroup``), on a pure cgroup v2 host.

As runc's: ``linux.cgroupsPath`` is ``slice:prefix:name``; the container's
cgroup is the transient scope unit ``prefix-name.scope`` in the slice (an
empty path: ``ociruntime-<id>.scope`` in system.slice), started over D-Bus
with StartTransientUnit: ``Delegate=yes``, the init's pid, accounting on,
every resource systemd has a property for (translated as runc does), and the
``org.systemd.property.NAME`` annotations last.  create waits for the job
(JobRemoved), then writes every resource into the scope's cgroup files as
the cgroupfs driver does (runc's Set: systemd's properties, then the files:
what systemd has no property for, unified keys, hugetlb, rdma, the eBPF
device filter, and exact values where systemd rounds, as the CPU quota).

Everything after create works on the files (``Systemd`` is a ``V2`` whose
record names its unit): pause/resume, ps, kill --all, events, exec.  Only
update (SetUnitProperties, then the files) and delete (StopUnit and wait,
ResetFailedUnit, the directory) talk to systemd again.

The init is not born in the cgroup (there is none before the unit): the
runtime forks it as in a user namespace, and starting the unit with
``PIDs=[init]`` is the move (docs/create-start.md).
"""

from __future__ import annotations

from .. import log
from .. import oslite as os
from ..errors import OCIError, SpecError
from . import ROOT, base
from .v2 import V2

U64_MAX = (1 << 64) - 1  # systemd's "infinity"
DEFAULT_SLICE = "system.slice"
DEFAULT_PREFIX = "ociruntime"
ANNOTATION = "org.systemd.property."
UNIT_NAME_MAX = 255


def running() -> bool:
    """systemd is PID 1 (sd_booted(3): /run/systemd/system is a directory)."""
    return os.path.isdir("/run/systemd/system")


def probe() -> tuple[bool, str, str]:
    """For ``check``: (usable, what was found, the fix) on this host."""
    from . import layout

    if not running():
        return False, "systemd is not running (no /run/systemd/system)", "boot with systemd"
    kind = layout()
    if kind != "v2":
        return (
            False,
            f"cgroup layout {kind}: the driver needs pure cgroup v2",
            "systemd.unified_cgroup_hierarchy=1 on the kernel command line",
        )
    from . import sdbus

    try:
        with sdbus.Systemd() as bus:
            v = bus.version()
            where = bus.address
    except sdbus.Unreachable as e:
        return False, f"systemd not reachable over D-Bus: {e}", "start dbus (dbus.socket)"
    return True, f"systemd {v} reachable over D-Bus ({where})", ""


# ---- cgroupsPath ------------------------------------------------------------------------


def parse_path(cgroups_path: str | None, cid: str) -> tuple[str, str, str]:
    """(slice, unit, name) from ``slice:prefix:name`` (runc's parsing and defaults)."""
    if not cgroups_path:
        return DEFAULT_SLICE, unit_name(DEFAULT_PREFIX, cid), cid
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise OCIError(
            'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, '
            f'got "{cgroups_path}" instead',
            "config.json: /linux/cgroupsPath",
        )
    sl, prefix, name = parts
    return sl or DEFAULT_SLICE, unit_name(prefix, name), name


def unit_name(prefix: str, name: str) -> str:
    if name.endswith(".slice"):
        raise OCIError(
            f'cgroupsPath name "{name}" is a slice: a container\'s unit is a scope '
            "(runc makes a slice unit only for kubelet's own pod slices)",
            "config.json: /linux/cgroupsPath",
        )
    unit = f"{prefix}-{name}.scope"
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\")
    if len(unit) > UNIT_NAME_MAX or not set(unit) <= allowed or not name:
        raise OCIError(
            f'invalid systemd unit name "{unit}" (at most {UNIT_NAME_MAX} characters '
            "of A-Z a-z 0-9 : - _ . \\)",
            "config.json: /linux/cgroupsPath",
        )
    return unit


def expand_slice(sl: str) -> str:
    """``a-b.slice`` -> ``/a.slice/a-b.slice``, as systemd nests slices (runc's ExpandSlice)."""
    bad = OCIError(f"invalid slice name: {sl}", "config.json: /linux/cgroupsPath")
    if not sl.endswith(".slice") or len(sl) <= len(".slice") or "/" in sl:
        raise bad
    stem = sl[: -len(".slice")]
    if stem == "-":
        return "/"
    path, prefix = "", ""
    for part in stem.split("-"):
        if not part:
            raise bad
        path += f"/{prefix}{part}.slice"
        prefix += part + "-"
    return path


# ---- annotations: org.systemd.property.NAME=VALUE ------------------------------------------


def annotation_properties(annotations: dict) -> list[tuple[str, tuple[str, object]]]:
    """runc's initSystemdProps: the value is a GVariant text (``uint64 7``,
    ``'inactive-or-failed'``, ``['a.service']``); a ``...Sec`` name becomes
    ``...USec`` with the value in microseconds."""
    out = []
    for k, v in sorted((annotations or {}).items()):
        if not k.startswith(ANNOTATION):
            continue
        name = k[len(ANNOTATION) :]
        where = f"config.json: /annotations/{k.replace('~', '~0').replace('/', '~1')}"
        if len(name) < 3:
            raise OCIError(f"annotation {k} name incorrect: too short", where)
        if not (name.isascii() and name.isalpha()):
            raise OCIError(
                f"annotation {k} name incorrect: contains non-alphabetic character", where
            )
        try:
            sig, value = parse_gvariant(v)
        except ValueError as e:
            raise OCIError(f"annotation {k}={v} value parse error: {e}", where) from None
        if name.endswith("Sec") and name[-4].islower():
            if sig not in "ynqiuxtd" or isinstance(value, bool):
                raise OCIError(f"annotation {k}={v} value parse error: not a number", where)
            name, sig, value = name[:-3] + "USec", "t", int(value * 1_000_000)
        from .dbuswire import WireError, Writer

        try:  # out of range (``byte 300``, ``uint64 -1``): refused now, not at the unit's start
            Writer().put("v", (sig, value))
        except WireError as e:
            raise OCIError(f"annotation {k}={v} value parse error: {e}", where) from None
        out.append((name, (sig, value)))
    return out


_INT_TYPES = {
    "byte": "y",
    "int16": "n",
    "uint16": "q",
    "int32": "i",
    "uint32": "u",
    "int64": "x",
    "uint64": "t",
    "handle": "h",
}


def parse_gvariant(text: str) -> tuple[str, object]:
    """(D-Bus signature, value) of a GVariant text value: booleans, numbers
    (``int32`` unless a type keyword or ``@T`` says otherwise), strings in
    single or double quotes, and arrays of them (``@as []`` when empty)."""
    p = _GVariant(text)
    sig, value = p.value(None)
    p.skip()
    if p.i != len(p.s):
        raise ValueError(f"unexpected {p.s[p.i :]!r}")
    return sig, value


class _GVariant:
    def __init__(self, s: str) -> None:
        self.s = s
        self.i = 0

    def skip(self) -> None:
        while self.i < len(self.s) and self.s[self.i].isspace():
            self.i += 1

    def word(self) -> str:
        self.skip()
        j = self.i
        while j < len(self.s) and (self.s[j].isalnum() or self.s[j] in "_+-."):
            j += 1
        return self.s[self.i : j]

    def value(self, want: str | None) -> tuple[str, object]:
        self.skip()
        if self.i >= len(self.s):
            raise ValueError("empty value")
        c = self.s[self.i]
        if c == "@":
            j = self.i + 1
            while j < len(self.s) and not self.s[j].isspace():
                j += 1
            sig = self.s[self.i + 1 : j]
            self.i = j
            return self.value(sig)
        if c in "'\"":
            if want not in (None, "s", "o", "g"):
                raise ValueError(f"a string is not of type {want}")
            return want or "s", self.string()
        if c == "[":
            return self.array(want)
        w = self.word()
        if w in ("true", "false"):
            self.i += len(w)
            return "b", w == "true"
        if w in _INT_TYPES or w in ("double", "string", "objectpath", "boolean"):
            self.i += len(w)
            kw = {"double": "d", "string": "s", "objectpath": "o", "boolean": "b"}
            return self.value(_INT_TYPES.get(w) or kw[w])
        if not w:
            raise ValueError(f"unexpected {self.s[self.i :]!r}")
        self.i += len(w)
        try:
            if want == "d" or (want is None and any(ch in w for ch in ".eE") and "x" not in w):
                return "d", float(w)
            n = int(w, 0)
        except ValueError:
            raise ValueError(f"not a value: {w!r}") from None
        return want or "i", n

    def string(self) -> str:
        q = self.s[self.i]
        self.i += 1
        out = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            self.i += 1
            if ch == "\\" and self.i < len(self.s):
                out.append(self.s[self.i])
                self.i += 1
            elif ch == q:
                return "".join(out)
            else:
                out.append(ch)
        raise ValueError("unterminated string")

    def array(self, want: str | None) -> tuple[str, object]:
        if want is not None and not want.startswith("a"):
            raise ValueError(f"an array is not of type {want}")
        elem = want[1:] if want else None
        self.i += 1
        items = []
        while True:
            self.skip()
            if self.i < len(self.s) and self.s[self.i] == "]":
                self.i += 1
                break
            if items:
                if self.s[self.i : self.i + 1] != ",":
                    raise ValueError("expected ',' in an array")
                self.i += 1
            sig, v = self.value(elem)
            if elem is None:
                elem = sig
            elif sig != elem:
                raise ValueError("array elements of different types")
            items.append(v)
        if elem is None:
            raise ValueError("an empty array needs a type (@as [])")
        return "a" + elem, items


# ---- linux.resources -> unit properties ---------------------------------------------------


def _u64(v: int) -> int:
    return U64_MAX if v < 0 else v


def range_to_bits(text: str, pointer: str) -> bytes:
    """``0-3,7`` -> the little-endian bitmask systemd's AllowedCPUs takes (runc's RangeToBits)."""
    bits = 0
    try:
        for part in text.replace(" ", "").split(","):
            if not part:
                continue
            lo, _, hi = part.partition("-")
            a, b = int(lo), int(hi) if hi else int(lo)
            if a < 0 or b < a:
                raise ValueError
            for n in range(a, b + 1):
                bits |= 1 << n
    except ValueError:
        raise SpecError(pointer, f"invalid range {text!r}") from None
    if not bits:
        raise SpecError(pointer, f"empty range {text!r}")
    return bits.to_bytes((bits.bit_length() + 7) // 8, "little")


def _cpu_quota(quota: int, period: int) -> list:
    """runc's addCpuQuota: CPUQuotaPeriodUSec, and CPUQuotaPerSecUSec rounded up
    to whole percents (systemd keeps a percentage; the file gets the exact value)."""
    out = []
    if period:
        out.append(("CPUQuotaPeriodUSec", ("t", period)))
    if quota or period:
        per_sec = U64_MAX
        if quota > 0:
            per_sec = quota * 1_000_000 // (period or 100_000)
            if per_sec % 10_000:
                per_sec = (per_sec // 10_000 + 1) * 10_000
        out.append(("CPUQuotaPerSecUSec", ("t", per_sec)))
    return out


def _unified(u: dict) -> list:
    """runc's unifiedResToSystemdProps: the unified keys systemd has a property for."""
    out: list = []
    mem = {
        "memory.high": "MemoryHigh",
        "memory.low": "MemoryLow",
        "memory.min": "MemoryMin",
        "memory.max": "MemoryMax",
        "memory.swap.max": "MemorySwapMax",
    }
    for k, raw in sorted(u.items()):
        v = str(raw).strip()
        pointer = "/linux/resources/unified/" + k
        try:
            if k == "cpu.max":
                f = v.split()
                if not 1 <= len(f) <= 2:
                    raise ValueError
                out += _cpu_quota(
                    0 if f[0] == "max" else int(f[0]), int(f[1]) if len(f) > 1 else 100_000
                )
            elif k == "cpu.weight":
                out.append(("CPUWeight", ("t", int(v))))
            elif k in ("cpuset.cpus", "cpuset.mems"):
                name = "AllowedCPUs" if k == "cpuset.cpus" else "AllowedMemoryNodes"
                out.append((name, ("ay", range_to_bits(v, pointer))))
            elif k in mem:
                out.append((mem[k], ("t", U64_MAX if v == "max" else int(v))))
            elif k == "pids.max":
                out.append(("TasksMax", ("t", U64_MAX if v == "max" else int(v))))
        except ValueError:
            raise SpecError(
                pointer, f"value {v!r} does not convert to a systemd property"
            ) from None
    return out


def resource_properties(res: dict, devs: list | None) -> list:
    """The unit properties for ``res`` (runc's genV2ResourcesProperties, plus
    the IO ones systemd has: IOWeight, IODeviceWeight, IO*BandwidthMax/IOPSMax)."""
    from .controllers import blkio, cpu, devices, memory

    out: list = []
    rules = devices.effective(res, devs or [])
    if rules is not None:
        out += device_properties(rules)
    mem = res.get("memory") or {}
    if mem:
        memory.check(mem)
    if mem.get("limit"):
        out.append(("MemoryMax", ("t", _u64(mem["limit"]))))
    if mem.get("reservation"):
        out.append(("MemoryLow", ("t", _u64(mem["reservation"]))))
    swap = mem.get("swap")
    limit = mem.get("limit", 0)
    if limit == -1 and not swap:
        swap_v2 = -1  # runc: unlimited memory without a swap limit lifts swap too
    elif not swap or swap == -1:
        swap_v2 = swap or 0
    elif limit in (0, -1):
        raise SpecError(
            "/linux/resources/memory/swap", "on cgroup v2 a swap limit needs a memory limit"
        )
    else:
        swap_v2 = swap - limit
    if swap_v2:
        out.append(("MemorySwapMax", ("t", _u64(swap_v2))))
    c = res.get("cpu") or {}
    if c.get("shares"):
        if not 2 <= c["shares"] <= 262144:
            raise SpecError("/linux/resources/cpu/shares", "expected 2 to 262144")
        out.append(("CPUWeight", ("t", cpu.shares_to_weight(c["shares"]))))
    out += _cpu_quota(c.get("quota") or 0, c.get("period") or 0)
    if c.get("cpus"):
        out.append(("AllowedCPUs", ("ay", range_to_bits(c["cpus"], "/linux/resources/cpu/cpus"))))
    if c.get("mems"):
        out.append(
            ("AllowedMemoryNodes", ("ay", range_to_bits(c["mems"], "/linux/resources/cpu/mems")))
        )
    pids = (res.get("pids") or {}).get("limit")
    if pids is not None and (pids > 0 or pids == -1):
        out.append(("TasksMax", ("t", _u64(pids))))
    b = res.get("blockIO") or {}
    if b.get("weight"):
        out.append(("IOWeight", ("t", blkio.weight_to_v2(b["weight"]))))
    weights = [
        (f"/dev/block/{d['major']}:{d['minor']}", blkio.weight_to_v2(d["weight"]))
        for d in b.get("weightDevice") or []
        if d.get("weight")
    ]
    if weights:
        out.append(("IODeviceWeight", ("a(st)", weights)))
    for key, name in (
        ("throttleReadBpsDevice", "IOReadBandwidthMax"),
        ("throttleWriteBpsDevice", "IOWriteBandwidthMax"),
        ("throttleReadIOPSDevice", "IOReadIOPSMax"),
        ("throttleWriteIOPSDevice", "IOWriteIOPSMax"),
    ):
        lst = [
            (f"/dev/block/{d['major']}:{d['minor']}", d["rate"] or U64_MAX)
            for d in b.get(key) or []
        ]
        if lst:
            out.append((name, ("a(st)", lst)))
    if res.get("unified"):
        out += _unified(res["unified"])
    return out


# systemd versions that first took these properties (runc leaves them to the files before)
SINCE = {"CPUQuotaPeriodUSec": 242, "AllowedCPUs": 244, "AllowedMemoryNodes": 244}


def device_properties(rules: list[dict]) -> list:
    """DevicePolicy and DeviceAllow for the effective rule list (runc's
    systemdProperties over its rule emulator).  systemd has no deny list, so a
    list that allows by default and denies something gets a temporary
    deny-all; our own eBPF filter, installed after, is the exact one."""
    allow_all, entries = _emulate(rules)
    if allow_all is not None:
        if allow_all:
            return [("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))]
        log.warn("systemd does not support deny-list device rules: applying a temporary deny-all")
        return [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    allow = []
    for (t, ma, mi), perms in entries.items():
        if not perms:
            continue
        group = "char-" if t == "c" else "block-"
        if ma is None:
            if mi is not None:
                continue  # "*:N": systemd has no such pattern (runc skips it too)
            path = group + "*"
        elif mi is None:
            path = f"{group}{ma}"
        else:
            kind = "char" if t == "c" else "block"
            if not os.path.exists(f"/sys/dev/{kind}/{ma}:{mi}"):
                continue  # as runc 1.1.5: a device the host lacks is left to the eBPF filter
            path = f"/dev/{kind}/{ma}:{mi}"
        allow.append((path, "".join(x for x in "rwm" if x in perms)))
    return [
        ("DevicePolicy", ("s", "strict")),
        ("DeviceAllow", ("a(ss)", [])),  # empty the list before filling it
        ("DeviceAllow", ("a(ss)", allow)),
    ]


def _emulate(rules: list[dict]):
    """(None, {(type, major, minor): perms}) for an allow list; (True, {}) if
    everything is allowed; (False, {}) for a deny list systemd cannot express."""
    default_allow = False
    entries: dict[tuple, set] = {}
    for r in rules:
        t = r.get("type") or "a"
        ma = r.get("major")
        mi = r.get("minor")
        ma = None if ma is None or ma == -1 else ma
        mi = None if mi is None or mi == -1 else mi
        perms = set(r.get("access") or "rwm")
        if t == "a" and ma is None and mi is None:
            default_allow = bool(r.get("allow"))
            entries = {}
            continue
        for tt in ("c", "b") if t == "a" else (t,):
            key = (tt, ma, mi)
            # an allow in an allow list, or a deny in a deny list, adds; the others remove
            if bool(r.get("allow")) != default_allow:
                entries.setdefault(key, set()).update(perms)
            elif key in entries:
                entries[key] -= perms
    if default_allow:
        return (not any(entries.values())), {}
    return None, entries


# ---- the manager --------------------------------------------------------------------------


class Systemd(V2):
    """A container's cgroup as a systemd scope.  ``started``: False before
    create starts the unit, True once it is ours, None when reopened from a
    record (a later command: the unit is the container's)."""

    def __init__(self, path: str, unit: str, slice_: str = "", started: bool | None = None) -> None:
        super().__init__(path)
        self.unit = unit
        self.slice = slice_
        self.started = started
        self.extra: list = []  # properties from annotations
        self.description = ""
        self._pending: tuple[dict, list | None, list] | None = None
        self._conn = None  # create's connection, opened before the fork

    @classmethod
    def for_config(cls, linux: dict, cid: str, annotations: dict) -> Systemd:
        """From cgroupsPath (checked before anything exists)."""
        sl, unit, name = parse_path(linux.get("cgroupsPath"), cid)
        path = ROOT + expand_slice(sl).rstrip("/") + "/" + unit
        m = cls(path, unit, sl, started=False)
        m.extra = annotation_properties(annotations)
        m.description = f"ociruntime container {name}"
        return m

    def record(self) -> dict:
        return {"layout": "v2", "path": self.path, "driver": "systemd", "unit": self.unit}

    def where(self) -> str:
        return f"systemd unit {self.unit}"

    # ---- D-Bus ----
    def _bus(self):
        from .. import trace

        with trace.span("systemd: connect to D-Bus"):
            return self._connect()

    def _connect(self):
        from . import sdbus

        if not running():
            raise OCIError(
                "systemd is not running (no /run/systemd/system): "
                "use the cgroupfs driver (no --systemd-cgroup)",
                self.where(),
            )
        try:
            return sdbus.Systemd()
        except sdbus.Unreachable as e:
            raise OCIError(f"cannot reach systemd over D-Bus: {e}", self.where()) from None

    def _fail(self, what: str, e: Exception) -> OCIError:
        from . import sdbus

        text = f"{e.text} ({e.name})" if isinstance(e, sdbus.BusError) else str(e)
        return OCIError(f"{what}: {' '.join(text.split())}", self.where())

    def _filter_by_version(self, bus, props: list) -> list:
        if not any(name in SINCE for name, _ in props):
            return props
        v = bus.version()
        keep = [(n, val) for n, val in props if v < 0 or v >= SINCE.get(n, 0)]
        for n, _ in props:
            if v >= 0 and v < SINCE.get(n, 0):
                log.debug(f"systemd {v} has no {n}: it goes to the cgroup files only")
        return keep

    # ---- create ----
    def create_cgroup2(self) -> None:
        """No cgroup before the init exists (the unit needs its pid: :meth:`add`);
        but connect to systemd now, before the fork: a failure leaves nothing,
        and the import and the handshake overlap with the first child's own
        start-up (it was forked at entry) instead of delaying the unit."""
        if self._conn is None:
            self._conn = self._bus()
        return None

    def create(self) -> None:
        pass

    def apply(self, res: dict, devs: list | None = None, update: bool = False) -> None:
        props = resource_properties(res, devs)  # a bad value fails before anything is sent
        if self.started is False:
            self._pending = (res, devs, props)  # the unit starts with them (add)
            return
        if props:
            from . import sdbus

            with self._bus() as bus:
                try:
                    bus.set_unit_properties(self.unit, self._filter_by_version(bus, props))
                except (sdbus.BusError, sdbus.Unreachable) as e:
                    raise self._fail("setting unit properties", e) from None
        super().apply(res, devs, update)

    def add(self, pid: int, sub: str | None = None) -> None:
        """Start the unit with ``PIDs=[pid]`` (systemd moves the process), then
        write the files; once started, a plain move through cgroup.procs."""
        if self.started is not False:
            return super().add(pid, sub)
        res, devs, props = self._pending or ({}, None, [])
        self._start(pid, props)
        super().apply(res, devs)

    def _start(self, pid: int, resources: list) -> None:
        from . import sdbus

        props = [
            ("Description", ("s", self.description or f"ociruntime {self.unit}")),
            ("Slice", ("s", self.slice or DEFAULT_SLICE)),
            ("Delegate", ("b", True)),
            ("PIDs", ("au", [pid])),
            ("MemoryAccounting", ("b", True)),
            ("CPUAccounting", ("b", True)),
            ("IOAccounting", ("b", True)),
            ("TasksAccounting", ("b", True)),
            ("DefaultDependencies", ("b", False)),
        ]
        from .. import trace

        bus, self._conn = self._conn or self._bus(), None
        with bus, trace.span("systemd: start the unit, wait for its job"):
            try:
                props += self._filter_by_version(bus, resources) + self.extra
                try:
                    job = bus.start_transient_unit(self.unit, props)
                except sdbus.BusError as e:
                    if e.name != "org.freedesktop.systemd1.UnitExists":
                        raise
                    # perhaps a failed leftover: let systemd forget it, and try once more (runc)
                    try:
                        bus.reset_failed_unit(self.unit)
                    except sdbus.BusError:
                        pass
                    try:
                        job = bus.start_transient_unit(self.unit, props)
                    except sdbus.BusError as e2:
                        if e2.name == "org.freedesktop.systemd1.UnitExists":
                            raise OCIError(
                                "the unit already exists (another container's?)", self.where()
                            ) from None
                        raise
                self.started = True  # the unit is ours from here: destroy() removes it
                result = bus.wait_job(job)
            except (sdbus.BusError, sdbus.Unreachable) as e:
                raise self._fail("starting the unit", e) from None
        if result != "done":
            raise OCIError(f"starting the unit: the job's result is {result!r}", self.where())
        if not os.path.isdir(self.path):
            raise OCIError(f"started, but its cgroup {self.path} is missing", self.where())

    # ---- delete ----
    def remove_made(self) -> None:
        self.destroy()

    def destroy(self) -> None:
        """Kill what is left in the scope, stop the unit (and wait for the
        job), let systemd forget a failed one, remove the cgroup if still there."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self.started is False:
            return  # never started by us: nothing of ours (it may be someone else's unit)
        from . import sdbus

        if os.path.isdir(self.path) and self.all_pids():
            try:
                base.write(os.path.join(self.path, "cgroup.kill"), "1")
            except OCIError:
                pass
            base.kill_all(self.all_pids, self.freeze, self.thaw)
        with self._bus() as bus:
            try:
                try:
                    result = bus.wait_job(bus.stop_unit(self.unit))
                    if result not in ("done", "canceled"):
                        log.warn(f"{self.where()}: stopping: the job's result is {result!r}")
                except sdbus.BusError as e:
                    if e.name != "org.freedesktop.systemd1.NoSuchUnit":
                        raise
                try:
                    bus.reset_failed_unit(self.unit)
                except sdbus.BusError:
                    pass  # not failed, or already gone
            except (sdbus.BusError, sdbus.Unreachable) as e:
                raise self._fail("stopping the unit", e) from None
        base.rmdir(self.path)
        self.started = False
