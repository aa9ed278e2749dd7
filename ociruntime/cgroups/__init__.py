"""Cgroups: one manager interface over cgroup v1, v2 and the hybrid layout.

``for_config`` picks the implementation from the host's layout (whether
/sys/fs/cgroup or /sys/fs/cgroup/unified is the root of a cgroup2 mount) and resolves cgroupsPath:
absolute from each hierarchy's root, relative to the runtime's own cgroup, or
``/ociruntime/<id>`` when absent.  ``from_record`` reopens the manager of an
existing container from the paths saved in its state, so later commands
never recompute them (a relative path depends on the caller's cgroup).

With ``systemd=True`` (``--systemd-cgroup``) the manager is the systemd
driver (systemd.py): the cgroup is a transient scope unit, cgroupsPath
``slice:prefix:name``; its record is a v2 one that also names the unit.

The interface (V1, V2, Systemd, NoCgroup) is manager.Manager, a Protocol for the
type checker (free at run time): create (create_cgroup2: only the directory
in a cgroup2 hierarchy, which the init is forked into), apply(resources),
targets (the directories a process joins), add(pid), freeze/thaw/frozen,
pids/all_pids, stats, oom_kills, destroy, record.
"""

from __future__ import annotations

from ..errors import OCIError

ROOT = "/sys/fs/cgroup"


def layout(root: str = ROOT) -> str:
    """'v2' (unified), 'hybrid' (v1 controllers + a cgroup2 mount) or 'v1'.

    Told apart by cgroup.controllers, which only the root of a cgroup2 mount
    has (not tmpfs, not a v1 hierarchy): two stat calls, no statfs through
    the FFI, which the runtime process does not otherwise load."""
    from .. import oslite as os

    if os.path.exists(root + "/cgroup.controllers"):
        return "v2"
    if os.path.exists(root + "/unified/cgroup.controllers"):
        return "hybrid"
    return "v1"


def own_cgroups() -> dict[str, str]:
    """{subsystem or "" for v2: path} of this process, from /proc/self/cgroup."""
    out = {}
    from .. import oslite as os

    text = os.read_file("/proc/self/cgroup").decode()
    for line in text.splitlines():
        if line:
            _, subs, path = line.split(":", 2)
            for s in subs.split(",") if subs else [""]:
                out[s] = path
    return out


def resolve(cgroups_path: str | None, cid: str, own: str) -> str:
    """The cgroup path below a hierarchy's root."""
    from .. import oslite as os

    if not cgroups_path:
        return f"/ociruntime/{cid}"
    if ":" in cgroups_path and not cgroups_path.startswith("/"):
        raise OCIError(
            f'cgroupsPath "{cgroups_path}" is in systemd form (slice:prefix:name): '
            "that needs --systemd-cgroup; for the cgroupfs driver, use a path",
            "config.json: /linux/cgroupsPath",
        )
    if ".." in cgroups_path.split("/"):
        raise OCIError(
            f'cgroupsPath "{cgroups_path}" must not contain ".."', "config.json: /linux/cgroupsPath"
        )
    p = cgroups_path if cgroups_path.startswith("/") else os.path.join(own, cgroups_path)
    p = "/" + os.path.normpath(p).lstrip("/")
    if p == "/":
        raise OCIError(
            f'cgroupsPath "{cgroups_path}" must name a cgroup below the root',
            "config.json: /linux/cgroupsPath",
        )
    return p


class NoCgroup:
    """Rootless without a writable (delegated) cgroup: nothing to create or
    join; what needs a cgroup (pause, stats) says there is none."""

    layout = "none"

    def _none(self) -> OCIError:
        return OCIError("the container has no cgroup (rootless, none delegated)")

    def create(self) -> None:
        pass

    def where(self) -> None:
        return None

    def create_cgroup2(self) -> None:
        return None

    def apply(self, res: dict, devs: list | None = None, update: bool = False) -> None:
        pass

    def targets(self, sub: str | None = None) -> tuple[list[str], None]:
        return [], None

    def add(self, pid: int, sub: str | None = None) -> None:
        pass

    def record(self) -> None:
        return None

    def frozen(self) -> bool:
        return False

    def freeze(self) -> None:
        raise self._none()

    def thaw(self) -> None:
        raise self._none()

    def pids(self) -> list[int]:
        return []

    def all_pids(self) -> list[int]:
        return []

    def oom_kills(self) -> int:
        return 0

    def stats(self) -> dict:
        raise self._none()

    def destroy(self) -> None:
        pass

    def remove_made(self) -> None:
        pass


TYPE_CHECKING = False
if TYPE_CHECKING:  # for mypy (tests/unit/test_cgroup_manager.py), free at run time
    from .manager import Manager
    from .systemd import Systemd
    from .v1 import V1
    from .v2 import V2

    def _implement(v1: V1, v2: V2, sd: Systemd, none: NoCgroup) -> list[Manager]:
        m: Manager = v1
        n: Manager = v2
        s: Manager = sd
        o: Manager = none
        return [m, n, s, o]


def for_config(
    linux: dict,
    cid: str,
    rootless: bool = False,
    systemd: bool = False,
    annotations: dict | None = None,
):
    """The manager for this host; rootless, NoCgroup unless the cgroup can be made
    (a delegated, writable subtree), with a warning if resources were asked for.
    ``systemd``: the systemd driver (``annotations``: its org.systemd.property.*),
    refused before anything exists where it cannot work."""
    if systemd:
        return _systemd(linux, cid, rootless, annotations or {})
    if rootless:
        m = for_config(linux, cid)
        try:
            m.create()
        except OCIError as e:
            if linux.get("resources"):
                from .. import log

                log.warn(f"rootless: linux.resources not applied: no writable cgroup ({e.text})")
            return NoCgroup()
        return m
    kind = layout()
    if kind == "v2":
        from .v2 import V2

        return V2.for_path(linux.get("cgroupsPath"), cid)
    from .v1 import V1

    return V1.for_path(linux.get("cgroupsPath"), cid, hybrid=kind == "hybrid")


def _systemd(linux: dict, cid: str, rootless: bool, annotations: dict):
    from .systemd import Systemd, running

    m = Systemd.for_config(linux, cid, annotations)
    if rootless:
        raise OCIError(
            "rootless containers with --systemd-cgroup (the user's systemd instance) "
            "are not supported",
            m.where(),
        )
    if not running():
        raise OCIError(
            "systemd is not running (no /run/systemd/system): "
            "use the cgroupfs driver (no --systemd-cgroup)",
            m.where(),
        )
    kind = layout()
    if kind != "v2":
        raise OCIError(
            f"the systemd cgroup driver needs a pure cgroup v2 host; this one is {kind} "
            "(systemd.unified_cgroup_hierarchy=1 on the kernel command line, or the "
            "cgroupfs driver: no --systemd-cgroup)",
            m.where(),
        )
    return m


def from_record(rec: dict | None):
    if not rec or rec.get("layout") == "none":
        return None
    if rec.get("driver") == "systemd":
        from .systemd import Systemd

        return Systemd(rec["path"], rec["unit"])
    if rec.get("layout") == "v2":
        from .v2 import V2

        return V2(rec["path"], rec.get("parents"))
    from .v1 import V1

    return V1(rec["paths"], rec.get("unified"), rec.get("parents"))
