"""devices: the allow/deny list; v1 devices.allow/deny, v2 an eBPF program.

The effective list is the config's rules, then what every container needs
(runc's defaults: the standard nodes, ptys, mknod of anything): later rules
win, as in the kernel's v1 semantics.  Nodes in ``linux.devices`` are made,
not allowed: like runc, access to them needs a rule in resources.devices.
"""

DEFAULT_ALLOW = [
    {"allow": True, "type": "c", "access": "m"},
    {"allow": True, "type": "b", "access": "m"},
    *(
        {"allow": True, "type": "c", "major": ma, "minor": mi, "access": "rwm"}
        for ma, mi in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (10, 200))
    ),
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
]


def effective(res: dict, devices: list[dict]) -> list[dict] | None:
    """The rules to install, or None when the config says nothing about devices."""
    rules = res.get("devices")
    if rules is None and not devices:
        return None
    return [dict(r) for r in rules or []] + DEFAULT_ALLOW


def line(rule: dict) -> str:
    """'c 1:3 rwm' for devices.allow / devices.deny."""
    t = rule.get("type") or "a"
    ma = rule.get("major")
    mi = rule.get("minor")
    ma = "*" if ma is None or ma == -1 else str(ma)
    mi = "*" if mi is None or mi == -1 else str(mi)
    return f"{t} {ma}:{mi} {rule.get('access') or 'rwm'}"


def v1(rules: list[dict]) -> list[tuple[str, str, str]]:
    return [
        ("devices", "devices.allow" if r.get("allow") else "devices.deny", line(r)) for r in rules
    ]
