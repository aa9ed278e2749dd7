"""Statistics in runc's ``events --stats`` shape: cpu, cpuset, memory, pids,
blkio, hugetlb, intel_rdt and network_interfaces, every key runc writes
(callers and tests match the set: tests/compat/test_differences.py)."""

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


def cpu_list(text: str) -> list[int]:
    """'0-2,5' -> [0, 1, 2, 5] (the kernel's list format)."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


# cpuset's v1 flags as runc names them, file -> key
_CPUSET_V1 = {
    "cpuset.cpu_exclusive": "cpu_exclusive",
    "cpuset.mem_hardwall": "mem_hardwall",
    "cpuset.mem_exclusive": "mem_exclusive",
    "cpuset.memory_migrate": "memory_migrate",
    "cpuset.memory_spread_page": "memory_spread_page",
    "cpuset.memory_spread_slab": "memory_spread_slab",
    "cpuset.memory_pressure": "memory_pressure",
    "cpuset.sched_load_balance": "sched_load_balance",
    "cpuset.sched_relax_domain_level": "sched_relax_domain_level",
}


def _cpuset(cpus: str, mems: str, flags: dict[str, int] | None = None) -> dict:
    out = {"cpus": cpu_list(cpus), "mems": cpu_list(mems)}
    for key in _CPUSET_V1.values():
        out[key] = (flags or {}).get(key, 0)
    return out


def _runc_extras() -> dict:
    # no Intel RDT (resctrl) support here; interfaces are reported by runc only
    # for the interfaces it was configured with (none here): null
    return {"intel_rdt": {}, "network_interfaces": None}


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
    cpuset = _cpuset("", "")
    if "cpuset" in p:
        d = p["cpuset"]
        cpuset = _cpuset(
            base.read(os.path.join(d, "cpuset.cpus")),
            base.read(os.path.join(d, "cpuset.mems")),
            {k: base.read_int(os.path.join(d, f)) for f, k in _CPUSET_V1.items()},
        )
    return {
        "cpu": cpu,
        "cpuset": cpuset,
        "memory": mem,
        "pids": pids,
        "blkio": blkio,
        "hugetlb": hugetlb,
        **_runc_extras(),
    }


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
        "cpuset": _cpuset(
            base.read(os.path.join(d, "cpuset.cpus.effective")),
            base.read(os.path.join(d, "cpuset.mems.effective")),
        ),
        "memory": mem,
        "pids": pids,
        "blkio": {"ioServiceBytesRecursive": io},
        "hugetlb": hugetlb,
        **_runc_extras(),
    }
