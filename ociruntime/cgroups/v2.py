"""cgroup v2: one directory in the unified hierarchy."""

from __future__ import annotations

from .. import oslite as os
from ..errors import OCIError
from . import ROOT, base, own_cgroups, resolve
from .base import enable_controllers


class V2:
    layout = "v2"

    def where(self) -> str | None:
        return None

    def __init__(self, path: str, parents: list[str] | None = None) -> None:
        self.path = path
        self.made: list[str] = []  # the directories this object created
        self.parents = parents or []  # those above the cgroup a create made (from the record)
        self._dir_done = False  # create_cgroup2 ran: create() need not again

    @classmethod
    def for_path(cls, cgroups_path: str | None, cid: str) -> V2:
        return cls(ROOT + resolve(cgroups_path, cid, own_cgroups().get("", "/")))

    def record(self) -> dict:
        rec = {"layout": "v2", "path": self.path}
        parents = [d for d in self.made if d != self.path]
        if parents:  # for delete (base.remove_parents)
            rec["parents"] = parents
        return rec

    def has(self, _ctl: str, file: str) -> bool:
        return os.path.exists(os.path.join(self.path, file))

    def create_cgroup2(self) -> str:
        """Make the directory (the init is forked straight into it); its path.
        Once: create() calls it again after create's early call."""
        if not self._dir_done:
            self.made += base.makedirs(self.path)
            enable_controllers(ROOT, self.path)
            self._dir_done = True
        return self.path

    def create(self) -> None:
        self.create_cgroup2()

    def apply(self, res: dict, devs: list[dict] | None = None, update: bool = False) -> None:
        from .controllers import devices, writes_v2

        if update:
            base.check_before_update(res, os.path.join(self.path, "memory.current"))
        for file, value in writes_v2(res, self.has):
            base.write(os.path.join(self.path, file), value)
        rules = devices.effective(res, devs or [])
        if rules is not None:
            from . import ebpf

            ebpf.set_device_filter(self.path, rules)

    def targets(self, sub: str | None = None) -> tuple[list[str], str | None]:
        """([], the directory) a process joins: the container's or its sub-cgroup ``sub``."""
        subs = base.sub_paths(sub, [])
        if "" not in subs:
            return [], self.path
        base.existing([os.path.join(self.path, subs[""])])
        return [], os.path.join(self.path, subs[""])

    def add(self, pid: int, sub: str | None = None) -> None:
        base.add(self.targets(sub), pid)

    def freeze(self) -> None:
        self._freeze("1")

    def thaw(self) -> None:
        self._freeze("0")

    def _freeze(self, v: str) -> None:
        base.write(os.path.join(self.path, "cgroup.freeze"), v)
        events = os.path.join(self.path, "cgroup.events")
        base.settle(
            lambda: base.kv(events).get("frozen"),
            int(v),
            f"{self.path} did not {'freeze' if v == '1' else 'thaw'}",
        )

    def frozen(self) -> bool:
        from ..state import cgroup_frozen

        return cgroup_frozen(self.record())

    def pids(self) -> list[int]:
        """The processes in the container's cgroup itself (runc's GetPids)."""
        return base.procs(self.path)

    def all_pids(self) -> list[int]:
        """With those in its sub-cgroups (runc's GetAllPids): ps, kill --all, destroy."""
        return base.all_procs(self.path)

    def oom_kills(self) -> int:
        return base.kv(os.path.join(self.path, "memory.events")).get("oom_kill", 0)

    def stats(self) -> dict:
        from .stats import v2_stats

        return v2_stats(self)

    def remove_made(self) -> None:
        base.remove_made(self.made)

    def destroy(self) -> None:
        if os.path.isdir(self.path) and self.all_pids():
            try:
                base.write(os.path.join(self.path, "cgroup.kill"), "1")
            except OCIError:
                pass  # before Linux 5.14: one by one
            base.kill_all(self.all_pids, self.freeze, self.thaw)
        base.rmdir(self.path)
        base.rmdir_default_parent(self.path)
        base.remove_parents(base.other_parents(self.parents, [self.path]))
