"""The cgroup manager interface, written down for the type checker.

V1 (v1 and hybrid hosts), V2 (pure cgroup v2) and NoCgroup (rootless without
a delegated cgroup) implement it; cgroups/__init__.py asserts that for mypy
(``tests/unit/test_cgroup_manager.py`` runs it).  Nothing imports this
module at run time: the Protocol costs the runtime nothing.
"""

from __future__ import annotations

from typing import Protocol


class Manager(Protocol):
    """What create, exec, delete, pause/resume, update, ps, kill --all and
    events need of a container's cgroup."""

    layout: str  # "v1" (v1 and hybrid), "v2", or "none"

    def record(self) -> dict | None:
        """The paths, as saved in the state, for :func:`cgroups.from_record`."""

    def create_cgroup2(self) -> str | None:
        """Only the cgroup2 directory (the first child is forked into it); a
        second call only returns it."""

    def create(self) -> None:
        """Every directory (the cgroup2 one once, if create_cgroup2 made it)."""

    def apply(self, res: dict, devs: list | None = None, update: bool = False) -> None:
        """linux.resources (and the device filter from linux.devices)."""

    def targets(self, sub: str | None = None) -> tuple[list[str], str | None]:
        """(the v1 directories, the cgroup2 one) a process joins."""

    def add(self, pid: int, sub: str | None = None) -> None:
        """Move ``pid`` in (through cgroup.procs: the way that waits)."""

    def where(self) -> str | None:
        """What an error about the cgroup is prefixed with: the systemd unit;
        None for cgroupfs, whose messages name the path themselves."""

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def frozen(self) -> bool: ...

    def pids(self) -> list[int]:
        """The processes in the cgroup itself (runc's GetPids)."""

    def all_pids(self) -> list[int]:
        """With those in its sub-cgroups (runc's GetAllPids)."""

    def oom_kills(self) -> int: ...

    def stats(self) -> dict: ...

    def destroy(self) -> None:
        """Kill what is left in it, remove its directories."""

    def remove_made(self) -> None:
        """Remove only the directories this manager created (a refused create
        leaves a cgroup its caller made)."""
