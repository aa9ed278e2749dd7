"""unified: cgroup v2 files by name (an error on pure v1)."""

from ...errors import SpecError


def check_name(name: str) -> None:
    if "/" in name or name.startswith(".") or "." not in name:
        raise SpecError(
            "/linux/resources/unified/" + name.replace("~", "~0").replace("/", "~1"),
            "not a cgroup v2 file name",
        )


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
