"""pids.limit: -1 or 0 mean no limit."""


def _val(res: dict) -> str | None:
    p = res.get("pids")
    if not p or "limit" not in p:
        return None
    return "max" if p["limit"] <= 0 else str(p["limit"])


def v1(res: dict, has) -> list[tuple[str, str, str]]:
    v = _val(res)
    return [("pids", "pids.max", v)] if v else []


def v2(res: dict, has) -> list[tuple[str, str]]:
    v = _val(res)
    return [("pids.max", v)] if v else []
