"""hugepageLimits: per page size ("2MB", "1GB")."""


def v1(res: dict, has) -> list[tuple[str, str, str]]:
    return [
        ("hugetlb", f"hugetlb.{h['pageSize']}.limit_in_bytes", str(h["limit"]))
        for h in res.get("hugepageLimits") or []
    ]


def v2(res: dict, has) -> list[tuple[str, str]]:
    return [
        (f"hugetlb.{h['pageSize']}.max", str(h["limit"])) for h in res.get("hugepageLimits") or []
    ]
