"""Mounts a container without a mount namespace of its own leaves on the host.

The runtime spec says a namespace left out of ``linux.namespaces`` is
inherited, and that the mounts listed are mounted: with no mount namespace
of its own the init mounts them in the one it shares with the runtime, the
caller's, under the rootfs (process/init.py; runc does the same).  runc
leaves them there after ``delete``; the spec says delete removes what create
made, so we do: the runtime notes the mounts under the rootfs before the
init starts (:func:`under`), and those that appeared by the time the init
is set up are the container's (:func:`new_since`), recorded in the state
directory and detached at delete (:func:`undo`), or at once when the create
fails.  A mount is detached only while the same mount (its id, device,
type and source) is still at the place recorded: never one somebody else
made there since.

Imports nothing at load: rootfs.py (--no-pivot) and criu.py take
:func:`unescape` from here.
"""

from __future__ import annotations

MNT_DETACH = 2


def unescape(field: str) -> str:
    """A mountinfo path: space, tab, newline and backslash are octal escapes."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def under(path: str) -> dict[int, list[str]]:
    """The mounts at ``path`` or below it in this process's mount namespace:
    mount id -> [mount point, device, filesystem type, source]."""
    from posixpath import realpath  # not at the top (see above)

    top = realpath(path).rstrip("/") or "/"
    prefix = top if top == "/" else top + "/"
    found = {}
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ", 5)
            point = unescape(fields[4])
            if point == top or point.startswith(prefix):
                fstype, source = (fields[5].split(" - ", 1)[1].split(" ") + ["", ""])[:2]
                found[int(fields[0])] = [point, fields[2], fstype, unescape(source)]
    return found


def new_since(path: str, before: dict, destinations: list[str] | None = None) -> list[list]:
    """The mounts at or below ``path`` that were not there ``before``, as
    [id, mount point, device, filesystem type, source] in the order made.
    With ``destinations`` (the config's mount destinations), only those at
    or below one of them: a rootfs that holds other places (``/``, say)
    does not take in what others mounted there meanwhile."""
    from posixpath import normpath, realpath

    top = realpath(path).rstrip("/")
    places = None
    if destinations is not None:
        places = [(top + normpath("/" + d.lstrip("/"))).rstrip("/") or "/" for d in destinations]
    out = []
    for i, m in sorted(under(path).items()):
        if i in before:
            continue
        if places is not None and not any(
            m[0] == p or m[0].startswith(p.rstrip("/") + "/") for p in places
        ):
            continue
        out.append([i, *m])
    return out


def undo(made: list[list], path: str) -> None:
    """Detach each mount of ``made`` still where it was made, the last made
    first.  The kernel reuses a mount's id as soon as it is free, so a
    mount is taken for ours only if its device, type and source are those
    recorded too.  Raises OSError naming the mount point it could not
    detach."""
    if not made or type(made) is not list:
        return  # nothing, or a damaged record: nothing of it is trusted
    from . import syscalls as sc

    now = under(path)
    for entry in reversed(made):
        if type(entry) is not list or len(entry) != 5 or type(entry[0]) is not int:
            continue  # a damaged record: nothing of it is trusted
        if now.get(entry[0]) != entry[1:]:
            continue  # gone already (detached with a parent), or not ours any more
        try:
            sc.umount2(entry[1], MNT_DETACH)
        except FileNotFoundError:
            pass  # its parent went first and took it along
