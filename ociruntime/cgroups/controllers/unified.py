"""unified: cgroup v2 files by name (an error on pure v1)."""

from ...errors import SpecError

# files that move processes or drive the cgroup's state, not limits: a write
# to cgroup.procs would put any host pid in the container's cgroup
NOT_RESOURCES = ("cgroup.procs", "cgroup.threads", "cgroup.kill", "cgroup.type", "cgroup.freeze")


def check_name(name: str) -> None:
    where = "/linux/resources/unified/" + name.replace("~", "~0").replace("/", "~1")
    if "/" in name or name.startswith(".") or "." not in name:
        raise SpecError(where, "not a cgroup v2 file name")
    if name in NOT_RESOURCES:
        raise SpecError(where, "not a resource: the runtime manages this file itself")


def v1(res: dict, has) -> list[tuple[str, str, str]]:
    u = res.get("unified") or {}
    for name in u:
        check_name(name)
    # on a hybrid host these go to the unified hierarchy ("" subsystem)
    return [("", name, str(v)) for name, v in u.items()]


def v2(res: dict, has) -> list[tuple[str, str]]:
    u = res.get("unified") or {}
    for name in u:
        check_name(name)
    return [(name, str(v)) for name, v in u.items()]
