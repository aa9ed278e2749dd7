"""memory: limit, reservation, swap, kernel, kernelTCP, swappiness, OOM killer, hierarchy."""

from ...errors import SpecError


def _v1num(v: int) -> str:
    return "-1" if v == -1 else str(v)


def _v2num(v: int) -> str:
    return "max" if v == -1 else str(v)


def check(mem: dict) -> None:
    for k in ("limit", "reservation", "swap", "kernel", "kernelTCP"):
        if k in mem and mem[k] < -1:
            raise SpecError(
                f"/linux/resources/memory/{k}", "expected -1 (unlimited) or a number of bytes"
            )
    if (
        "limit" in mem
        and "swap" in mem
        and mem["swap"] != -1
        and mem["limit"] != -1
        and mem["swap"] < mem["limit"]
    ):
        raise SpecError(
            "/linux/resources/memory/swap", "memory+swap limit must be at least the memory limit"
        )
    if "swappiness" in mem and not 0 <= mem["swappiness"] <= 100:
        raise SpecError("/linux/resources/memory/swappiness", "expected 0 to 100")


def v1(res: dict, has) -> list[tuple[str, str, str]]:
    mem = res.get("memory") or {}
    check(mem)
    out = []
    # memsw must stay >= limit at every step, and the order that works depends
    # on the current values: v1.py writes the limit first and, if the kernel
    # refuses either (EINVAL), writes it again after the other (_LINKED)
    if "limit" in mem:
        out.append(("memory", "memory.limit_in_bytes", _v1num(mem["limit"])))
    if "swap" in mem and (mem["swap"] != -1 or has("memory", "memory.memsw.limit_in_bytes")):
        # (no swap accounting: no memsw file, and no swap limit to lift)
        out.append(("memory", "memory.memsw.limit_in_bytes", _v1num(mem["swap"])))
    if "reservation" in mem:
        out.append(("memory", "memory.soft_limit_in_bytes", _v1num(mem["reservation"])))
    if "kernel" in mem:
        out.append(("memory", "memory.kmem.limit_in_bytes", _v1num(mem["kernel"])))
    if "kernelTCP" in mem:
        out.append(("memory", "memory.kmem.tcp.limit_in_bytes", _v1num(mem["kernelTCP"])))
    if "swappiness" in mem:
        out.append(("memory", "memory.swappiness", str(mem["swappiness"])))
    if mem.get("disableOOMKiller"):
        out.append(("memory", "memory.oom_control", "1"))
    if "useHierarchy" in mem:
        out.append(("memory", "memory.use_hierarchy", "1" if mem["useHierarchy"] else "0"))
    return out


def v2(res: dict, has) -> list[tuple[str, str]]:
    mem = res.get("memory") or {}
    check(mem)
    out = []
    if "limit" in mem:
        out.append(("memory.max", _v2num(mem["limit"])))
    if "swap" in mem:
        # the spec's swap is memory+swap (v1); v2's memory.swap.max is swap alone
        limit = mem.get("limit", -1)
        if mem["swap"] == -1:
            out.append(("memory.swap.max", "max"))
        elif limit == -1:
            raise SpecError(
                "/linux/resources/memory/swap", "on cgroup v2 a swap limit needs a memory limit"
            )
        else:
            out.append(("memory.swap.max", str(mem["swap"] - limit)))
    if "reservation" in mem:
        out.append(("memory.low", _v2num(mem["reservation"])))
    for k in ("kernel", "kernelTCP", "swappiness"):
        if mem.get(k) is not None:
            raise SpecError(f"/linux/resources/memory/{k}", "not available on cgroup v2")
    if mem.get("disableOOMKiller"):
        raise SpecError("/linux/resources/memory/disableOOMKiller", "not available on cgroup v2")
    return out
