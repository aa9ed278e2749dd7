"""Namespaces: which to create, which to join by path, and in what order.

The pid namespace is special: unshare(CLONE_NEWPID) and setns(CLONE_NEWPID)
only decide the namespace of the caller's *next child*, as for time: the
first child sets them for the init it forks (:func:`for_next_children`), or
the runtime around a late fork (:func:`for_children`, which resets them
after).  All others are entered by the init itself (:func:`enter`).
"""

from __future__ import annotations

from .. import oslite as os
from ..errors import OCIError
from . import flags as fl

FLAGS = {
    "pid": fl.CLONE_NEWPID,
    "network": fl.CLONE_NEWNET,
    "mount": fl.CLONE_NEWNS,
    "ipc": fl.CLONE_NEWIPC,
    "uts": fl.CLONE_NEWUTS,
    "cgroup": fl.CLONE_NEWCGROUP,
    "user": fl.CLONE_NEWUSER,
    "time": fl.CLONE_NEWTIME,
}
NS_PROC = {
    "pid": "pid",
    "network": "net",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "cgroup": "cgroup",
    "user": "user",
    "time": "time",
}
# the order in which the init joins existing namespaces; mount late, because
# after it the host's paths (the other ns files, the rootfs) may be gone
JOIN_ORDER = ("user", "ipc", "uts", "network", "cgroup", "time", "mount")


def of(config: dict) -> dict[str, str | None]:
    """{type: path or None (new)} from linux.namespaces."""
    return {
        ns["type"]: ns.get("path") or None
        for ns in (config.get("linux") or {}).get("namespaces") or []
    }


def open_ns(path: str, nstype: str) -> int:
    """An fd for a namespace file; a failure in runc's words ("permission
    denied", "no such file or directory"), which callers match on."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise OCIError(f"{nstype} namespace {path}: {(e.strerror or str(e)).lower()}") from None


def for_next_children(kind: str, path: str | None, offsets: dict | None = None) -> None:
    """Make (path None) or join the pid or time namespace that this process's
    next children are born in.  A new time namespace takes its clock offsets
    (linux.timeOffsets) here, before any process is in it, which is the only
    time the kernel allows writing them."""
    from . import syscalls as sc

    flag = FLAGS[kind]
    if path is None:
        sc.unshare(flag)
        if kind == "time" and offsets:
            write_offsets(offsets)
        return
    fd = open_ns(path, kind)
    try:
        sc.setns(fd, flag, path)
    except OSError as e:
        raise OCIError(f"joining {kind} namespace {path}: {e.strerror}") from None
    finally:
        os.close(fd)


class for_children:  # noqa: N801 - used like a function: with for_children(nss): fork()
    """Put the next forked child in the configured pid and time namespaces
    (:func:`for_next_children`), then undo that for this process."""

    def __init__(self, nss: dict[str, str | None], offsets: dict | None = None) -> None:
        self.nss = nss
        self.offsets = offsets or {}
        self.own: list[tuple[int, int, str]] = []

    def __enter__(self) -> None:
        try:
            for kind in ("pid", "time"):
                if kind in self.nss:
                    name = f"/proc/self/ns/{kind}"
                    self.own.append((os.open(name, os.O_RDONLY | os.O_CLOEXEC), FLAGS[kind], name))
                    for_next_children(kind, self.nss[kind], self.offsets)
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc: object) -> None:
        if not self.own:
            return
        from . import syscalls as sc

        while self.own:
            fd, flag, name = self.own.pop()
            try:
                sc.setns(fd, flag, name)
            except PermissionError:
                # rootless: going back to the host's namespace needs privileges we do
                # not have; this process forks nothing more, so it does not matter
                if os.geteuid() == 0:
                    raise
            finally:
                os.close(fd)


def write_offsets(offsets: dict) -> None:
    lines = "".join(
        f"{clock} {o.get('secs', 0)} {o.get('nanosecs', 0)}\n" for clock, o in offsets.items()
    )
    try:
        with open("/proc/self/timens_offsets", "w") as f:
            f.write(lines)
    except OSError as e:
        raise OCIError(
            f"time offsets {lines.strip()!r}: {e.strerror}", "config.json: /linux/timeOffsets"
        ) from None


def enter(nss: dict[str, str | None], skip: tuple[str, ...] = ()) -> None:
    """In the init: join the namespaces given by path, then unshare the new ones
    (but those in ``skip``: a new cgroup namespace waits for the cgroup join;
    and pid and time, which the runtime set up for us before the fork)."""
    from .. import trace
    from . import syscalls as sc

    fds = [(t, nss[t], open_ns(nss[t], t)) for t in JOIN_ORDER if nss.get(t) and t != "time"]
    try:
        for t, path, fd in fds:
            try:
                with trace.span(f"join the {t} namespace", path=path):
                    sc.setns(fd, FLAGS[t], path)
            except OSError as e:
                raise OCIError(f"joining {t} namespace {path}: {e.strerror}") from None
    finally:
        for _, _, fd in fds:
            os.close(fd)
    flags = 0
    new = []
    for t, path in nss.items():
        if path is None and t not in ("pid", "time") and t not in skip:
            flags |= FLAGS[t]
            new.append(t)
    if flags:
        try:
            with trace.span(f"unshare: new {', '.join(new)} namespaces"):
                sc.unshare(flags)
        except OSError as e:
            raise OCIError(f"creating namespaces: {e.strerror}") from None


def join(pid: int, nss: dict[str, str | None]) -> None:
    """exec: enter every namespace the container's init is in.  The pid and
    time namespaces are joined last and apply to the children made after
    (the caller then forks the process into them).

    All fds are opened first: after joining the mount namespace /proc/PID
    may no longer name the same process.
    """
    from .. import trace
    from . import syscalls as sc

    fds = []
    try:
        for t in (*JOIN_ORDER, "pid"):
            if t in nss:
                fds.append((t, open_ns(f"/proc/{pid}/ns/{NS_PROC[t]}", t)))
        # time and pid after the mount namespace: both for the children
        fds.sort(key=lambda x: x[0] in ("time", "pid"))
        for t, fd in fds:
            try:
                with trace.span(f"join the {t} namespace"):
                    sc.setns(fd, FLAGS[t])
            except OSError as e:
                raise OCIError(f"joining the container's {t} namespace: {e.strerror}") from None
    finally:
        for _, fd in fds:
            os.close(fd)
