"""network: classID (net_cls) and priorities (net_prio); cgroup v1 only."""

from ...errors import SpecError


def v1(res: dict, has) -> list[tuple[str, str, str]]:
    n = res.get("network") or {}
    out = []
    if "classID" in n:
        out.append(("net_cls", "net_cls.classid", str(n["classID"])))
    for p in n.get("priorities") or []:
        out.append(("net_prio", "net_prio.ifpriomap", f"{p['name']} {p['priority']}"))
    return out


def v2(res: dict, has) -> list[tuple[str, str]]:
    n = res.get("network") or {}
    if n.get("classID") is not None or n.get("priorities"):
        raise SpecError(
            "/linux/resources/network", "net_cls and net_prio do not exist on cgroup v2"
        )
    return []
