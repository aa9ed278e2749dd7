"""Seccomp profiles as the engines write them, turned into the runtime spec's
form: shared by tests/integration/test_seccomp.py and tests/compat/."""

from __future__ import annotations

import json

# podman's (containers-common's) default profile: Docker's (moby's) default,
# in the same includes/excludes format
PODMAN_PROFILE = "/usr/share/containers/seccomp.json"
# runc spec's capabilities
DEFAULT_CAPS = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")


def oci_profile(path: str, caps=DEFAULT_CAPS, arch: str = "amd64", drop=(), default=None) -> dict:
    """A containers/Docker-style profile (``includes``/``excludes`` by
    capability and architecture) turned into the runtime spec's form, the
    way podman and Docker resolve it for a container with ``caps``; the
    names in ``drop`` are left out (an older allowlist)."""
    with open(path) as f:
        d = json.load(f)
    out = []
    for s in d["syscalls"]:
        inc, exc = s.get("includes") or {}, s.get("excludes") or {}
        if inc.get("caps") and not set(inc["caps"]) <= set(caps):
            continue
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if exc.get("caps") and set(exc["caps"]) & set(caps):
            continue
        if exc.get("arches") and arch in exc["arches"]:
            continue
        names = [n for n in s["names"] if n not in drop]
        if not names:
            continue
        rule = {"names": names, "action": s["action"]}
        for k in ("args", "errnoRet"):
            if s.get(k):
                rule[k] = s[k]
        out.append(rule)
    prof = {"defaultAction": d["defaultAction"], "syscalls": out}
    if default is not None:
        prof["defaultAction"], prof["defaultErrnoRet"] = default
    elif d.get("defaultErrnoRet") is not None:
        prof["defaultErrnoRet"] = d["defaultErrnoRet"]
    return prof
