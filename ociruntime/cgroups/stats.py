"""Statistics in runc's ``events --stats`` shape: cpu, memory, pids, blkio, hugetlb."""

from __future__ import annotations

from .. import oslite as os
from . import base


def _blkio_v1(d: str, file: str) -> list[dict]:
    out = []
    for line in base.read(os.path.join(d, file)).splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            ma, mi = parts[0].split(":")
            out.append({"major": int(ma), "minor": int(mi), "op": parts[1], "value": int(parts[2])})
    return out


def v1_stats(m) -> dict:
    p = m.paths
    cpu: dict = {"usage": {}, "throttling": {}}
    if "cpuacct" in p:
        d = p["cpuacct"]
        cpu["usage"]["total"] = base.read_int(os.path.join(d, "cpuacct.usage"))
        cpu["usage"]["percpu"] = [
            int(x) for x in base.read(os.path.join(d, "cpuacct.usage_percpu")).split()
        ]
        st = base.kv(os.path.join(d, "cpuacct.stat"))
        tick = 10**9 // os.sysconf("SC_CLK_TCK")
        cpu["usage"]["user"] = st.get("user", 0) * tick
        cpu["usage"]["kernel"] = st.get("system", 0) * tick
    if "cpu" in p:
        st = base.kv(os.path.join(p["cpu"], "cpu.stat"))
        cpu["throttling"] = {
            "periods": st.get("nr_periods", 0),
            "throttledPeriods": st.get("nr_throttled", 0),
            "throttledTime": st.get("throttled_time", 0),
        }
    mem: dict = {}
    if "memory" in p:
        d = p["memory"]

        def entry(prefix: str) -> dict:
            return {
                "usage": base.read_int(os.path.join(d, prefix + "usage_in_bytes")),
                "max": base.read_int(os.path.join(d, prefix + "max_usage_in_bytes")),
                "failcnt": base.read_int(os.path.join(d, prefix + "failcnt")),
                "limit": base.read_int(os.path.join(d, prefix + "limit_in_bytes")),
            }

        raw = base.kv(os.path.join(d, "memory.stat"))
        mem = {
            "cache": raw.get("cache", 0),
            "usage": entry("memory."),
            "swap": entry("memory.memsw."),
            "kernel": entry("memory.kmem."),
            "kernelTCP": entry("memory.kmem.tcp."),
            "raw": raw,
        }
    pids = {}
    if "pids" in p:
        pids = {
            "current": base.read_int(os.path.join(p["pids"], "pids.current")),
            "limit": base.read_int(os.path.join(p["pids"], "pids.max")),
        }
    blkio = {}
    if "blkio" in p:
        d = p["blkio"]
        blkio = {
            "ioServiceBytesRecursive": _blkio_v1(d, "blkio.throttle.io_service_bytes_recursive"),
            "ioServicedRecursive": _blkio_v1(d, "blkio.throttle.io_serviced_recursive"),
        }
    hugetlb = {}
    hd = p.get("hugetlb") or m.unified
    if hd:
        for name in os.listdir(hd):
            if name.startswith("hugetlb.") and name.endswith((".usage_in_bytes", ".current")):
                size = name.split(".")[1]
                if "hugetlb" in p:
                    hugetlb[size] = {
                        "usage": base.read_int(os.path.join(hd, name)),
                        "max": base.read_int(
                            os.path.join(hd, f"hugetlb.{size}.max_usage_in_bytes")
                        ),
                        "failcnt": base.read_int(os.path.join(hd, f"hugetlb.{size}.failcnt")),
                    }
                else:
                    hugetlb[size] = {
                        "usage": base.read_int(os.path.join(hd, name)),
                        "failcnt": base.kv(os.path.join(hd, f"hugetlb.{size}.events")).get(
                            "max", 0
                        ),
                    }
    return {"cpu": cpu, "memory": mem, "pids": pids, "blkio": blkio, "hugetlb": hugetlb}


def v2_stats(m) -> dict:
    d = m.path
    st = base.kv(os.path.join(d, "cpu.stat"))
    cpu = {
        "usage": {
            "total": st.get("usage_usec", 0) * 1000,
            "user": st.get("user_usec", 0) * 1000,
            "kernel": st.get("system_usec", 0) * 1000,
            "percpu": [],
        },
        "throttling": {
            "periods": st.get("nr_periods", 0),
            "throttledPeriods": st.get("nr_throttled", 0),
            "throttledTime": st.get("throttled_usec", 0) * 1000,
        },
    }
    raw = base.kv(os.path.join(d, "memory.stat"))
    events = base.kv(os.path.join(d, "memory.events"))
    mem = {
        "cache": raw.get("file", 0),
        "usage": {
            "usage": base.read_int(os.path.join(d, "memory.current")),
            "max": base.read_int(os.path.join(d, "memory.peak")),
            "limit": base.read_int(os.path.join(d, "memory.max")),
            "failcnt": events.get("max", 0),
        },
        "swap": {
            "usage": base.read_int(os.path.join(d, "memory.swap.current")),
            "limit": base.read_int(os.path.join(d, "memory.swap.max")),
        },
        "raw": raw,
    }
    pids = {
        "current": base.read_int(os.path.join(d, "pids.current")),
        "limit": base.read_int(os.path.join(d, "pids.max")),
    }
    io = []
    for line in base.read(os.path.join(d, "io.stat")).splitlines():
        parts = line.split()
        ma, mi = parts[0].split(":")
        vals = dict(x.split("=") for x in parts[1:])
        for key, op in (("rbytes", "Read"), ("wbytes", "Write")):
            if key in vals:
                io.append({"major": int(ma), "minor": int(mi), "op": op, "value": int(vals[key])})
    hugetlb = {}
    for name in os.listdir(d) if os.path.isdir(d) else []:
        if name.startswith("hugetlb.") and name.endswith(".current"):
            size = name.split(".")[1]
            hugetlb[size] = {
                "usage": base.read_int(os.path.join(d, name)),
                "failcnt": base.kv(os.path.join(d, f"hugetlb.{size}.events")).get("max", 0),
            }
    return {
        "cpu": cpu,
        "memory": mem,
        "pids": pids,
        "blkio": {"ioServiceBytesRecursive": io},
        "hugetlb": hugetlb,
    }
