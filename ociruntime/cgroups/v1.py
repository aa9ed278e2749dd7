"""cgroup v1 (and hybrid): a directory per controller hierarchy.

In the hybrid layout the cgroup is also made in the cgroup2 mount at
/sys/fs/cgroup/unified, for the controllers that live only there (hugetlb on
this kind of host) and for ``unified`` resources.
"""

from __future__ import annotations

import errno

from .. import oslite as os
from ..errors import OCIError
from . import ROOT, base, own_cgroups, resolve

# super options of a v1 cgroup mount that are not controllers
_NOT_CONTROLLERS = frozenset(
    ("rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "none", "favordynmods")
)


# systemd's named hierarchy on a v1 or hybrid systemd host.  runc's cgroupfs
# driver puts the container there too, at the same path as in the controllers,
# best effort; left in its caller's cgroup there, the container would count as
# part of the caller's unit (a service that stops takes its containers with it)
# and, without a cgroup namespace, see that whole subtree in its cgroupfs.
NAMED = "name=systemd"


def hierarchies(mountinfo: str | None = None, named: bool = False) -> dict[str, str]:
    """{controller: mount point} of the v1 hierarchies, from mountinfo (the
    mount flags aside; the named ones too, but only ``name=systemd`` (key
    :data:`NAMED`) and only if ``named``)."""
    out = {}
    if mountinfo is None:
        mountinfo = os.read_file("/proc/self/mountinfo").decode("utf-8", "surrogateescape")
    for line in mountinfo.splitlines():
        pre, _, post = line.partition(" - ")
        fields = post.split()
        if not fields or fields[0] != "cgroup":
            continue
        mp = pre.split()[4]
        for opt in fields[2].split(","):
            if opt not in _NOT_CONTROLLERS and "=" not in opt or named and opt == NAMED:
                out[opt] = mp
    return out


def _fill_cpuset(d: str) -> None:
    """A new cpuset is empty and refuses tasks (ENOSPC): give it its parent's
    cpus and mems, and so every empty level above it first.  Not only the
    levels this call made: a concurrent create may have made the shared
    parent and not yet filled it.  Each level's files are read once, and
    each empty one gets the value of the nearest level above that has one
    (what it would read there after the levels between were filled)."""
    chain: list[tuple[str, list[str]]] = []  # the levels with an empty file, bottom up
    p = d
    while True:
        values = [base.read(os.path.join(p, f)).strip() for f in _CPUSET_FILES]
        if all(values):
            break
        chain.append((p, values))
        parent = os.path.dirname(p)
        if parent == p or not os.path.exists(os.path.join(parent, "cpuset.cpus")):
            values = ["", ""]  # nothing above to copy from: the write below says so
            break
        p = parent
    for m, own in reversed(chain):
        for i, f in enumerate(_CPUSET_FILES):
            if own[i]:
                values[i] = own[i]
            else:
                base.write(os.path.join(m, f), values[i])


_CPUSET_FILES = ("cpuset.cpus", "cpuset.mems")

# Files the kernel checks against the current value of another: a memory
# limit above memory+swap, a CFS quota/period pair whose ratio exceeds the
# parent's, a burst above the quota, a realtime runtime above its period are
# refused (EINVAL).  No one order works from every previous pair, so a
# refused write is tried again once the others are in, as runc does.
_LINKED = frozenset(
    {
        "memory.limit_in_bytes",
        "memory.memsw.limit_in_bytes",
        "cpu.cfs_period_us",
        "cpu.cfs_quota_us",
        "cpu.cfs_burst_us",
        "cpu.rt_period_us",
        "cpu.rt_runtime_us",
    }
)


class V1:
    layout = "v1"

    def where(self) -> str | None:
        return None

    def __init__(
        self, paths: dict[str, str], unified: str | None = None, parents: list[str] | None = None
    ) -> None:
        self.paths = paths  # controller -> cgroup directory
        self.unified = unified  # hybrid: the directory in the cgroup2 mount
        self.made: list[str] = []  # the directories this object created
        self.parents = parents or []  # those above the cgroup a create made (from the record)
        self._unified_done = False  # create_cgroup2 ran: create() need not again

    @classmethod
    def for_path(cls, cgroups_path: str | None, cid: str, hybrid: bool) -> V1:
        own = own_cgroups()
        paths = {}
        for ctl, mp in hierarchies(named=True).items():
            paths[ctl] = mp + resolve(cgroups_path, cid, own.get(ctl, "/"))
        unified = (
            ROOT + "/unified" + resolve(cgroups_path, cid, own.get("", "/")) if hybrid else None
        )
        m = cls(paths, unified)
        m.layout = "hybrid" if hybrid else "v1"
        return m

    def record(self) -> dict:
        rec = {"layout": self.layout, "paths": self.paths, "unified": self.unified}
        parents = [d for d in self.made if d not in self.dirs()]
        if parents:  # for delete (base.remove_parents)
            rec["parents"] = parents
        return rec

    def dirs(self) -> list[str]:
        d = list(dict.fromkeys(self.paths.values()))
        return d + [self.unified] if self.unified else d

    def has(self, ctl: str, file: str) -> bool:
        d = self.unified if ctl == "" else self.paths.get(ctl)
        return bool(d) and os.path.exists(os.path.join(d, file))

    # ---- lifecycle ---------------------------------------------------------
    def create_cgroup2(self) -> str | None:
        """Hybrid: make the directory in the cgroup2 mount (the init is forked
        straight into it); its path, or None on a pure v1 host.  Once:
        create() calls it again after create's early call."""
        if self.unified and not self._unified_done:
            self.made += base.makedirs(self.unified)
            # the cgroup2 mount's controllers (hugetlb) enabled on the way down
            base.enable_controllers(ROOT + "/unified", self.unified)
            self._unified_done = True
        return self.unified

    def create(self) -> None:
        for d in self.dirs():
            if d == self.unified:
                self.create_cgroup2()
                continue
            if d == self.paths.get(NAMED):
                try:
                    self.made += base.makedirs(d)
                except OCIError as e:
                    # runc ignores this one's errors (its NameGroup): not ours to
                    # refuse a container for; it stays in its caller's cgroup there
                    from .. import log

                    log.debug(f"cgroup: {e.text}; not joining {NAMED}")
                    del self.paths[NAMED]
                continue
            self.made += base.makedirs(d)
            if d == self.paths.get("cpuset"):
                _fill_cpuset(d)

    def apply(self, res: dict, devs: list[dict] | None = None, update: bool = False) -> None:
        from .controllers import devices, writes_v1

        writes = writes_v1(res, self.has)
        rules = devices.effective(res, devs or [])
        if rules is not None:
            writes += [("devices", "devices.deny", "a")] + devices.v1(rules)
        if update and "memory" in self.paths:
            base.check_before_update(
                res, os.path.join(self.paths["memory"], "memory.usage_in_bytes")
            )
        self._write_all(writes)

    def _write_all(self, writes: list[tuple[str, str, str]]) -> None:
        linked = []  # (path, value, error) of refused writes to _LINKED files
        run: tuple[str, list[str]] | None = None  # consecutive writes to one file: one open
        for ctl, file, value in writes:
            if ctl == "hugetlb" and "hugetlb" not in self.paths and self.unified:
                # hybrid: hugetlb lives in the cgroup2 mount, with v2 file names
                file, ctl = file.replace(".limit_in_bytes", ".max"), ""
            d = self.unified if ctl == "" else self.paths.get(ctl)
            if d is None:
                raise OCIError(
                    f"resource needs the {ctl or 'unified (cgroup v2)'} controller, which this host does not mount"
                )
            path = os.path.join(d, file)
            if file in _LINKED:
                if run:
                    base.write_each(*run)
                    run = None
                failed = base.try_write(path, value)
                if failed is not None:
                    if failed[0] != errno.EINVAL:
                        raise failed[1]
                    linked.append((path, value, failed[1]))
                continue
            if run and run[0] == path:
                run[1].append(value)
            else:
                if run:
                    base.write_each(*run)
                run = (path, [value])
        if run:
            base.write_each(*run)
        # the refused ones again, once the others are in, until a round changes nothing
        while linked:
            left = [
                (path, value, failed[1])
                for path, value, _ in linked
                if (failed := base.try_write(path, value)) is not None
            ]
            if len(left) == len(linked):
                raise left[0][2]
            linked = left

    def targets(self, sub: str | None = None) -> tuple[list[str], str | None]:
        """(the v1 directories, the cgroup2 one) a process joins: the container's,
        or the sub-cgroups ``sub`` names (runc's exec --cgroup), which must exist."""
        subs = base.sub_paths(sub, list(self.paths))
        v1 = {d: d for d in self.paths.values()}
        for ctl, d in self.paths.items():
            if ctl in subs:
                v1[d] = os.path.join(d, subs[ctl])
        v2 = self.unified
        if v2 and "" in subs:
            v2 = os.path.join(v2, subs[""])
        if sub:
            base.existing([*v1.values(), *([v2] if v2 else [])])
        return list(v1.values()), v2

    def add(self, pid: int, sub: str | None = None) -> None:
        """Into every hierarchy's directory, or the sub-cgroups ``sub`` names."""
        base.add(self.targets(sub), pid)

    def freeze(self) -> None:
        self._freezer("FROZEN")

    def thaw(self) -> None:
        self._freezer("THAWED")

    def _freezer(self, state: str) -> None:
        d = self.paths.get("freezer")
        if d is None:
            raise OCIError(
                "pause/resume need the freezer controller, which this host does not mount"
            )
        base.write(os.path.join(d, "freezer.state"), state)
        path = os.path.join(d, "freezer.state")
        base.settle(lambda: base.read(path).strip(), state, f"{d} did not reach {state}")

    def frozen(self) -> bool:
        from ..state import cgroup_frozen

        return cgroup_frozen(self.record())

    def _pid_dir(self) -> str:
        """The directory whose cgroup.procs lists the container's processes."""
        for ctl in ("pids", "freezer", "memory", "cpu"):
            if ctl in self.paths:
                return self.paths[ctl]
        return next(iter(self.dirs()))

    def pids(self) -> list[int]:
        """The processes in the container's cgroup itself (runc's GetPids)."""
        return base.procs(self._pid_dir())

    def all_pids(self) -> list[int]:
        """With those in its sub-cgroups (runc's GetAllPids): ps, kill --all, destroy."""
        return base.all_procs(self._pid_dir())

    def oom_kills(self) -> int:
        d = self.paths.get("memory")
        return base.kv(os.path.join(d, "memory.oom_control")).get("oom_kill", 0) if d else 0

    def stats(self) -> dict:
        from .stats import v1_stats

        return v1_stats(self)

    def remove_made(self) -> None:
        base.remove_made(self.made)

    def destroy(self) -> None:
        """Kill what is left (a container without its own pid namespace may leave
        children behind its init), then remove every directory."""
        if all(os.path.isdir(d) for d in self.dirs()[:1]):
            frz = "freezer" in self.paths
            base.kill_all(self.all_pids, self.freeze if frz else None, self.thaw if frz else None)
        for d in self.dirs():
            base.rmdir(d)
        for d in self.dirs():
            if not base.rmdir_default_parent(d):
                break  # in use (other containers are in every hierarchy's parent)
        base.remove_parents(base.other_parents(self.parents, self.dirs()))
