"""cpu and cpuset: shares/weight, quota, period, burst, realtime, idle, cpus, mems."""

from ...errors import SpecError

P = "/linux/resources/cpu/"


def shares_to_weight(shares: int) -> int:
    """v1 cpu.shares [2, 262144] -> v2 cpu.weight [1, 10000] (the kernel's own mapping)."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def v1(res: dict, has) -> list[tuple[str, str, str]]:
    cpu = res.get("cpu") or {}
    out = []
    if cpu.get("shares"):
        out.append(("cpu", "cpu.shares", str(cpu["shares"])))
    # the period first: a quota is checked against the current period
    if cpu.get("period"):
        out.append(("cpu", "cpu.cfs_period_us", str(cpu["period"])))
    if "quota" in cpu and cpu["quota"] != 0:
        out.append(("cpu", "cpu.cfs_quota_us", str(cpu["quota"])))
    if "burst" in cpu:
        out.append(("cpu", "cpu.cfs_burst_us", str(cpu["burst"])))
    if cpu.get("realtimePeriod"):
        out.append(("cpu", "cpu.rt_period_us", str(cpu["realtimePeriod"])))
    if cpu.get("realtimeRuntime"):
        out.append(("cpu", "cpu.rt_runtime_us", str(cpu["realtimeRuntime"])))
    if "idle" in cpu:
        out.append(("cpu", "cpu.idle", str(cpu["idle"])))
    if cpu.get("cpus"):
        out.append(("cpuset", "cpuset.cpus", cpu["cpus"]))
    if cpu.get("mems"):
        out.append(("cpuset", "cpuset.mems", cpu["mems"]))
    return out


def v2(res: dict, has) -> list[tuple[str, str]]:
    cpu = res.get("cpu") or {}
    out = []
    if cpu.get("shares"):
        if not 2 <= cpu["shares"] <= 262144:
            raise SpecError(P + "shares", "expected 2 to 262144")
        out.append(("cpu.weight", str(shares_to_weight(cpu["shares"]))))
    quota, period = cpu.get("quota"), cpu.get("period")
    if quota or period:  # a quota of 0 means unset, as runc reads it
        q = "max" if not quota or quota < 0 else str(quota)
        out.append(("cpu.max", f"{q} {period or 100000}"))
    if "burst" in cpu:
        out.append(("cpu.max.burst", str(cpu["burst"])))
    if "idle" in cpu:
        out.append(("cpu.idle", str(cpu["idle"])))
    for k in ("realtimeRuntime", "realtimePeriod"):
        if cpu.get(k):
            raise SpecError(P + k, "realtime scheduling limits are not available on cgroup v2")
    if cpu.get("cpus"):
        out.append(("cpuset.cpus", cpu["cpus"]))
    if cpu.get("mems"):
        out.append(("cpuset.mems", cpu["mems"]))
    return out
