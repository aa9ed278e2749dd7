"""User namespaces: the runtime writes the init's uid and gid maps from outside
(rootless: the init writes its own, mapping only its user).

The kernel takes each map once, from a process with CAP_SETUID/CAP_SETGID in
the parent namespace; as root on the host, ``setgroups`` can stay "allow".
An error names the map and the line the kernel refused.
"""

from __future__ import annotations

from ..errors import SpecError


def write_maps(pid: int | str, linux: dict, deny_setgroups: bool = False) -> None:
    """The maps of ``pid`` (or "self": rootless, the init maps itself, the only
    writer the kernel accepts for an unprivileged creator)."""
    if deny_setgroups:
        # unprivileged: the kernel takes a gid map only after setgroups is denied
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny")
    for key, file in (("uidMappings", "uid_map"), ("gidMappings", "gid_map")):
        lines = "".join(
            f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux.get(key) or []
        )
        try:
            with open(f"/proc/{pid}/{file}", "w") as f:
                f.write(lines)
        except OSError as e:
            raise SpecError(
                f"/linux/{key}", f"the kernel refused {file} {lines.strip()!r}: {e.strerror}"
            ) from None
