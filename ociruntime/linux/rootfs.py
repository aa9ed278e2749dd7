"""The container's filesystem: mounts, /dev, masked paths, pivot_root.

Runs in the init, in its new mount namespace, before pivot_root.  Every
destination is resolved with openat2(RESOLVE_IN_ROOT) against an fd of the
rootfs, so a symlink in the (untrusted) rootfs can never point a mount at the
host; the mount then targets that fd through /proc/self/fd/N, or is attached
with move_mount, and never goes through a path string that could be swapped.
"""

from __future__ import annotations

import _stat as stat  # what stat.py re-exports, without running stat.py (0.06 ms)

from .. import oslite as os
from .. import trace
from ..errors import OCIError
from . import syscalls as sc

RESOLVE = sc.RESOLVE_IN_ROOT | sc.RESOLVE_NO_MAGICLINKS

# option -> (flags to set, flags to clear) for mount(2)
_FLAGS = {
    "ro": (sc.MS_RDONLY, 0),
    "rw": (0, sc.MS_RDONLY),
    "nosuid": (sc.MS_NOSUID, 0),
    "suid": (0, sc.MS_NOSUID),
    "nodev": (sc.MS_NODEV, 0),
    "dev": (0, sc.MS_NODEV),
    "noexec": (sc.MS_NOEXEC, 0),
    "exec": (0, sc.MS_NOEXEC),
    "sync": (sc.MS_SYNCHRONOUS, 0),
    "async": (0, sc.MS_SYNCHRONOUS),
    "dirsync": (sc.MS_DIRSYNC, 0),
    "remount": (sc.MS_REMOUNT, 0),
    "mand": (sc.MS_MANDLOCK, 0),
    "nomand": (0, sc.MS_MANDLOCK),
    "atime": (0, sc.MS_NOATIME),
    "noatime": (sc.MS_NOATIME, 0),
    "diratime": (0, sc.MS_NODIRATIME),
    "nodiratime": (sc.MS_NODIRATIME, 0),
    "relatime": (sc.MS_RELATIME, 0),
    "norelatime": (0, sc.MS_RELATIME),
    "strictatime": (sc.MS_STRICTATIME, 0),
    "nostrictatime": (0, sc.MS_STRICTATIME),
    "lazytime": (sc.MS_LAZYTIME, 0),
    "nolazytime": (0, sc.MS_LAZYTIME),
    "nosymfollow": (sc.MS_NOSYMFOLLOW, 0),
    "symfollow": (0, sc.MS_NOSYMFOLLOW),
    "bind": (sc.MS_BIND, 0),
    "rbind": (sc.MS_BIND | sc.MS_REC, 0),
}
_PROPAGATION = {
    "private": sc.MS_PRIVATE,
    "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE,
    "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE,
    "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
# mount(2) flags -> mount_setattr(2) attributes, for bind mounts
_ATTRS = {
    sc.MS_RDONLY: sc.MOUNT_ATTR_RDONLY,
    sc.MS_NOSUID: sc.MOUNT_ATTR_NOSUID,
    sc.MS_NODEV: sc.MOUNT_ATTR_NODEV,
    sc.MS_NOEXEC: sc.MOUNT_ATTR_NOEXEC,
    sc.MS_NODIRATIME: sc.MOUNT_ATTR_NODIRATIME,
    sc.MS_NOSYMFOLLOW: sc.MOUNT_ATTR_NOSYMFOLLOW,
}
_IGNORED = {"tmpcopyup", "copy-symlink", "rro", "rrw", "idmap", "ridmap"}  # idmap: see idmap.py
DEFAULT_DEVICES = (
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)
DEV_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def device_key(i: int) -> int:
    """The key of /linux/devices/i's node in the trees the runtime hands the
    init (mounts have theirs under their index, from 0 up)."""
    return -1 - i


def fdpath(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def clone_tree(source: int | str, recursive: bool = False, display: str | None = None) -> int:
    """A detached copy of the mount at ``source`` (an fd, or a host path)."""
    flags = sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC | (sc.AT_RECURSIVE if recursive else 0)
    if isinstance(source, int):
        return sc.open_tree(source, "", flags | sc.AT_EMPTY_PATH, display=display)
    return sc.open_tree(sc.AT_FDCWD, source, flags, display=display)


def attach(tree: int, target: int, display: str | None = None) -> None:
    """Mount a detached tree on the inode ``target`` refers to; closes ``tree``."""
    try:
        sc.move_mount(
            tree,
            "",
            target,
            "",
            sc.MOVE_MOUNT_F_EMPTY_PATH | sc.MOVE_MOUNT_T_EMPTY_PATH,
            display=display,
        )
    finally:
        os.close(tree)


def is_bind(m: dict) -> bool:
    """A bind mount: type "bind", or a "bind"/"rbind" option (runc's test)."""
    opts = m.get("options") or []
    return m.get("type") == "bind" or "bind" in opts or "rbind" in opts


def parse_options(options: list[str]) -> tuple[int, int, list[str], bool]:
    """(mount flags, propagation flags, fs data options, recursive read-only)."""
    flags = 0
    prop = 0
    data: list[str] = []
    rro = False
    for o in options:
        if o in _FLAGS:
            s, c = _FLAGS[o]
            flags = (flags | s) & ~c
        elif o in _PROPAGATION:
            prop = _PROPAGATION[o]
        elif o == "rro":
            rro = True
        elif o not in _IGNORED:
            data.append(o)
    return flags, prop, data, rro


def source_path(m: dict, bundle: str) -> str:
    src = m.get("source") or ""
    return src if os.path.isabs(src) else os.path.join(bundle, src)


def _stat_source(src: str) -> os.stat_result:
    try:
        return os.stat(src)
    except FileNotFoundError:
        raise OCIError(f"mount source {src}: no such file or directory") from None


def mount_attrs(flags: int) -> int:
    """mount(2) flags as mount_setattr(2)/fsmount(2) attributes."""
    attrs = 0
    for f, a in _ATTRS.items():
        if flags & f:
            attrs |= a
    if flags & sc.MS_NOATIME:
        attrs |= sc.MOUNT_ATTR_NOATIME
    elif flags & sc.MS_STRICTATIME:
        attrs |= sc.MOUNT_ATTR_STRICTATIME
    return attrs


def first_propagation(config: dict) -> int:
    """What the init makes every mount of its namespace before its own mounts:
    private, or a slave where rootfsPropagation asks for sharing or slavery
    (so that the host's later mounts still come in)."""
    prop = (config.get("linux") or {}).get("rootfsPropagation")
    return sc.MS_PRIVATE if prop in (None, "private", "rprivate") else sc.MS_SLAVE


def bind_tree(
    src: str, flags: int, rro: bool, m: dict, userns_fd: int = -1, propagation: int = 0
) -> int:
    """A detached copy of ``src`` with the mount's attributes (and idmapping) set.

    ``propagation``: for a copy the runtime makes of a host mount, which
    would otherwise stay a peer of the host's (shared both ways), what the
    init's own copy would have been (:func:`first_propagation`)."""
    _stat_source(src)
    rec = flags & sc.MS_REC
    tree = clone_tree(src, bool(rec), display=src)
    try:
        if propagation:
            sc.mount_setattr(
                tree, "", sc.AT_EMPTY_PATH | sc.AT_RECURSIVE, 0, propagation=propagation
            )
        attrs = mount_attrs(flags)
        clear = (
            sc.MOUNT_ATTR__ATIME
            if flags & (sc.MS_NOATIME | sc.MS_STRICTATIME | sc.MS_RELATIME)
            else 0
        )
        if attrs or clear:
            # "ro" on a bind is the top mount only, as mount(2) does; "rro" recurses
            sc.mount_setattr(tree, "", sc.AT_EMPTY_PATH, attrs, clear, display=src)
        if userns_fd >= 0:
            recursive = "ridmap" in (m.get("options") or [])
            sc.mount_setattr(
                tree,
                "",
                sc.AT_EMPTY_PATH | (sc.AT_RECURSIVE if recursive else 0),
                sc.MOUNT_ATTR_IDMAP,
                userns_fd=userns_fd,
                display=src,
            )
        if rro and rec:
            sc.mount_setattr(
                tree, "", sc.AT_EMPTY_PATH | sc.AT_RECURSIVE, sc.MOUNT_ATTR_RDONLY, display=src
            )
    except BaseException:
        os.close(tree)
        raise
    return tree


class Rootfs:
    """Builds the container's view under ``path``; then :meth:`pivot`."""

    def __init__(self, path: str, config: dict, bundle: str) -> None:
        self.path = path
        self.config = config
        self.bundle = bundle
        self.fd = -1
        self.private: str | None = None  # a tmpfs of our own (null_device), until masked
        self.deferred: list[tuple[int, dict]] = []
        self.prepared: dict[int, tuple] = {}  # mount index -> what prepare_cgroup made
        self.cgroup: dict | None = None  # the container's cgroup record (cgroups.*.record())
        self.cgroup_ns = False  # a new cgroup namespace: cgroupfs shows the container's cgroup
        self.trees: dict[int, int] = {}  # mount index -> detached tree the runtime made (idmapped)
        # when set, a callable that returns a procfs fs context (fsopen) made in the
        # container's pid namespace, for a set-up process that is not in it itself
        self.procfs = None
        self.index = -1
        # read-only tmpfs and /dev mounts, mounted writable so that what goes beneath
        # them can be made, and made read-only last (pivot), as runc does: O_PATH fds
        self.ro_later: list[tuple[int, str]] = []

    # ---- resolution -------------------------------------------------
    def open(self, dest: str, flags: int = sc.O_PATH) -> int:
        """An fd for ``dest`` resolved inside the rootfs (symlinks stay inside)."""
        return sc.openat2(self.fd, dest, flags, RESOLVE, display=dest)

    def make(self, dest: str, is_dir: bool = True, _links: int = 0) -> int:
        """Open ``dest`` inside the rootfs, creating what is missing, also where a
        symlink in the rootfs points: its target is followed as if the rootfs
        were /, and created there (never outside)."""
        try:
            return self.open(dest)
        except FileNotFoundError:
            pass
        parts = [p for p in dest.split("/") if p and p != "."]
        done: list[str] = []
        for i, name in enumerate(parts):
            if name == "..":
                done = done[:-1]  # ".." stops at the root, as RESOLVE_IN_ROOT does
                continue
            dfd = self.open("/" + "/".join(done))
            try:
                try:
                    st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                except FileNotFoundError:
                    last = i == len(parts) - 1
                    where = "/" + "/".join([*done, name])
                    try:
                        if is_dir or not last:
                            os.mkdir(name, 0o755, dir_fd=dfd)
                        else:
                            flags = (
                                os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
                            )
                            os.close(os.open(name, flags, 0o644, dir_fd=dfd))
                    except OSError as e:
                        raise OSError(
                            e.errno, f"creating {where} in the rootfs: {e.strerror}"
                        ) from None
                    done.append(name)
                    continue
                if stat.S_ISLNK(st.st_mode):
                    if _links >= 40:
                        raise OSError(40, f"too many levels of symbolic links in {dest}")
                    target = os.readlink(name, dir_fd=dfd)
                    base = "" if target.startswith("/") else "/" + "/".join(done)
                    rest = "/".join([target] + parts[i + 1 :])
                    return self.make(base + "/" + rest, is_dir, _links + 1)
                done.append(name)
            finally:
                os.close(dfd)
        return self.open("/" + "/".join(done))

    # ---- the whole sequence ------------------------------------------
    def prepare(self) -> None:
        """In the container's mount namespace: the propagation of every mount,
        the rootfs a mount of its own (for pivot_root), then :meth:`populate`."""
        with trace.span("rootfs: propagation, bind onto itself"):
            sc.mount(None, "/", None, sc.MS_REC | first_propagation(self.config))
            try:
                sc.mount(self.path, self.path, None, sc.MS_BIND | sc.MS_REC)
            except OSError as e:
                raise OCIError(f"rootfs {self.path}: {e.strerror}") from None
        self.populate()

    def populate(self) -> None:
        """The mounts list, /dev, the read-only and masked paths, under the
        rootfs.  Called alone (no :meth:`prepare`) for a container without a
        mount namespace of its own, in the caller's: nothing above the rootfs
        changes (config.load refuses what would need that), and what is made
        is the runtime's to remove at delete (linux/hostmounts.py)."""
        linux = self.config.get("linux") or {}
        self.fd = os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        os.fchdir(self.fd)
        bind_dev = False
        for i, m in enumerate(self.config.get("mounts") or []):
            if m.get("type") == "cgroup":
                # after the init joins its cgroup and cgroup namespace: see mount_deferred;
                # what does not depend on them is done now (prepare_cgroup)
                self.deferred.append((i, m))
                self._at(i, m, self.prepare_cgroup)
                continue
            self._mount_at(i, m)
            if os.path.normpath(m["destination"]) == "/dev" and is_bind(m):
                bind_dev = True
        if not bind_dev:
            with trace.span("/dev: device nodes and links"):
                self.populate_dev(linux.get("devices") or [])
        # read-only first, then masks (runc's order: a masked path inside a
        # read-only one is mounted once, on top)
        with trace.span("readonlyPaths", count=len(linux.get("readonlyPaths") or [])):
            for p in linux.get("readonlyPaths") or []:
                self.readonly(p)
        with trace.span("maskedPaths", count=len(linux.get("maskedPaths") or [])):
            try:
                for p in linux.get("maskedPaths") or []:
                    self.mask(p)
            finally:
                self.drop_private()

    def _mount_at(self, i: int, m: dict) -> None:
        self._at(i, m, self.mount)

    def _at(self, i: int, m: dict, do) -> None:
        """``do(m)`` for /mounts/i; errors name the mount and its JSON pointer."""
        self.index = i
        try:
            with trace.span(
                f"mount {m['destination']}",
                index=i,
                type=m.get("type") or "bind",
                step="prepare" if do == self.prepare_cgroup else "mount",
            ):
                do(m)
        except OSError as e:
            raise OCIError(
                f"mounting {m.get('source') or m.get('type')} to {m['destination']}: {e.strerror}",
                f"config.json: /mounts/{i}",
            ) from None
        except OCIError as e:
            e.where = e.where or f"config.json: /mounts/{i}"
            raise

    def mount_deferred(self) -> None:
        """cgroupfs mounts: they show the cgroup namespace, made after the cgroup join."""
        for i, m in self.deferred:
            self._mount_at(i, m)
        self.deferred = []

    def mount(self, m: dict) -> None:
        dest = m["destination"]
        flags, prop, data, rro = parse_options(m.get("options") or [])
        if is_bind(m):
            self.bind(m, flags, prop, rro)
            return
        fstype = m.get("type") or "none"
        if fstype == "cgroup":
            if self.index not in self.prepared:
                self.prepare_cgroup(m)
            self.mount_cgroup(dest, flags, self.prepared.pop(self.index))
            return
        later = bool(flags & sc.MS_RDONLY) and (
            fstype == "tmpfs" or os.path.normpath(dest) == "/dev"
        )
        if later:
            flags &= ~sc.MS_RDONLY
        if fstype == "proc" and self.procfs is not None:
            self.mount_context(self.procfs(), m.get("source") or fstype, dest, flags, data)
        else:
            tfd = self.target_dir(dest, fstype)
            try:
                sc.mount(
                    m.get("source") or fstype,
                    fdpath(tfd),
                    fstype,
                    flags,
                    ",".join(data) or None,
                    display=dest,
                )
            finally:
                os.close(tfd)
        if later:
            self.ro_later.append((self.open(dest), dest))
        if prop:
            self.propagate(dest, prop)

    def target_dir(self, dest: str, fstype: str) -> int:
        """The directory a filesystem is mounted on, made if missing.  procfs and
        sysfs "must be mounted on ordinary directory" (runc's words): a /proc
        or /sys that is a symlink (CVE-2019-16884: to wherever the rootfs
        likes) or not a directory is refused, not followed; their parents
        resolve inside the rootfs as every destination does."""
        if fstype not in ("proc", "sysfs"):
            return self.make(dest, True)
        path = "/" + os.path.normpath("/" + dest).lstrip("/")
        name = os.path.basename(path)
        if not name:
            return self.make(path, True)
        pfd = self.make(os.path.dirname(path), True)
        try:
            try:
                st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
                try:
                    os.mkdir(name, 0o755, dir_fd=pfd)
                except FileExistsError:
                    pass
            if st is None or stat.S_ISDIR(st.st_mode):
                try:
                    return sc.openat2(
                        pfd,
                        name,
                        sc.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC,
                        sc.RESOLVE_BENEATH | sc.RESOLVE_NO_SYMLINKS,
                        display=dest,
                    )
                except OSError as e:
                    if e.errno not in (20, 40):  # ENOTDIR, ELOOP: swapped meanwhile
                        raise
            kind = "a symbolic link" if st and stat.S_ISLNK(st.st_mode) else "not a directory"
            raise OCIError(
                f'filesystem "{fstype}" must be mounted on ordinary directory: {dest} is {kind}'
            )
        finally:
            os.close(pfd)

    def mount_context(self, ctx: int, source: str, dest: str, flags: int, data: list[str]) -> None:
        """Mount a filesystem from its fs context ``ctx`` (closed here) on ``dest``:
        the data options as fsconfig keys, the flags as mount attributes."""
        try:
            sc.fsconfig_set(ctx, "source", source)
            for o in data:
                key, eq, value = o.partition("=")
                sc.fsconfig_set(ctx, key, value if eq else None)
            sc.fsconfig_create(ctx)
            mnt = sc.fsmount(ctx, mount_attrs(flags))
        finally:
            os.close(ctx)
        try:
            tfd = self.target_dir(dest, "proc")
        except BaseException:
            os.close(mnt)
            raise
        try:
            attach(mnt, tfd, display=dest)
        finally:
            os.close(tfd)

    def bind(self, m: dict, flags: int, prop: int, rro: bool) -> None:
        src = source_path(m, self.bundle)
        if self.index in self.trees:
            # made by the runtime (idmapped, or a user namespace: host privileges)
            tree = self.trees.pop(self.index)
            is_dir = stat.S_ISDIR(os.fstat(tree).st_mode)
        else:
            is_dir = stat.S_ISDIR(_stat_source(src).st_mode)
            tree = bind_tree(src, flags, rro, m)
        try:
            tfd = self.make(m["destination"], is_dir)
        except BaseException:
            os.close(tree)
            raise
        try:
            attach(tree, tfd, display=m["destination"])
        finally:
            os.close(tfd)
        if prop:
            self.propagate(m["destination"], prop)

    def propagate(self, dest: str, prop: int) -> None:
        fd = self.open(dest)  # the new mount, now on top
        try:
            sc.mount(None, fdpath(fd), None, prop, display=dest)
        finally:
            os.close(fd)

    def prepare_cgroup(self, m: dict) -> None:
        """What a cgroupfs mount needs before the cgroup join: its directory,
        and on a v1 host the tmpfs and a directory per hierarchy (O_PATH fds
        kept for :meth:`mount_cgroup`), so that less is left for after it."""
        dest = m["destination"]
        flags = parse_options(m.get("options") or [])[0]
        tfd = self.make(dest, True)
        subs: list[tuple[str, str, str | None, str, int]] = []
        top = -1
        try:
            if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                sc.mount(
                    "tmpfs", fdpath(tfd), "tmpfs", flags & ~sc.MS_RDONLY, "mode=755", display=dest
                )
                # The tmpfs is ours, new and empty, and no other process is in this
                # mount namespace yet: a hierarchy's directory is made in it by
                # name, two syscalls, not resolved from the rootfs's root
                # component by component as make() must (some 13 per hierarchy;
                # on the hybrid host, 100 interleaved runs: 0.75 ms less CPU).
                top = self.open(dest)  # tfd is the directory the tmpfs covers
                for name, fstype, opts in host_cgroup_mounts():
                    sub = os.path.join(dest, name)
                    subs.append((name, fstype, opts, sub, self._make_in_new(top, name, sub)))
        except BaseException:
            for sfd in [tfd] + [x[4] for x in subs]:
                os.close(sfd)
            raise
        finally:
            if top >= 0:
                os.close(top)
        self.prepared[self.index] = (tfd, subs)

    def _make_in_new(self, top: int, name: str, dest: str) -> int:
        """An O_PATH fd of the new directory ``name`` in ``top``, a filesystem
        this process just mounted (nothing in it can point elsewhere); a name
        of more than one component goes the safe way (make)."""
        if "/" in name or name in ("", ".", ".."):
            return self.make(dest, True)
        try:
            os.mkdir(name, 0o755, dir_fd=top)
        except OSError as e:
            raise OSError(e.errno, f"creating {dest} in the rootfs: {e.strerror}") from None
        return os.open(name, sc.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=top)

    def mount_cgroup(self, dest: str, flags: int, prepared: tuple) -> None:
        """cgroupfs as the host has it: cgroup2, or a tmpfs of v1 hierarchies.

        In a cgroup namespace a fresh cgroupfs shows the container's cgroup as
        its root.  Without one, it would show the host's whole tree; then, as
        runc does, the container's own cgroup directories are bound instead.
        A v1 hierarchy we make no cgroup in (a named one other than
        name=systemd, or that one where no directory could be made: rootless)
        is then the cgroup the init is in there, bound: from a
        user namespace that owns no cgroup namespace no cgroupfs may be
        mounted at all (runc binds a cgroup of the container's own there).
        ``prepared``: what :meth:`prepare_cgroup` made.
        """
        own = None if self.cgroup_ns else self.cgroup
        cgroup_ns = any(
            ns.get("type") == "cgroup"
            for ns in (self.config.get("linux") or {}).get("namespaces") or []
        )
        if own is None and not cgroup_ns:
            # no cgroup of its own (rootless) and no cgroup namespace: cgroupfs
            # cannot be mounted from a user namespace, so runc binds the
            # caller's own cgroups; so do we
            own = own_cgroup_record()
        current: dict[str, str] = {}
        if own and not cgroup_ns:
            from ..cgroups import own_cgroups

            current = own_cgroups()
        tfd, subs = prepared
        try:
            if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                if own and own.get("layout") == "v2":
                    self._bind_ro(own["path"], tfd, flags, dest)
                else:
                    sc.mount("cgroup2", fdpath(tfd), "cgroup2", flags, display=dest)
                return
        finally:
            os.close(tfd)
        paths = (own or {}).get("paths") or {}
        try:
            while subs:
                name, fstype, opts, sub, sfd = subs[0]
                mine = (own or {}).get("unified") if fstype == "cgroup2" else None
                for ctl in (opts or "").split(","):
                    mine = mine or paths.get(ctl)
                for ctl in (opts or "").split(",") if fstype == "cgroup" else ():
                    if not mine and ctl in current:
                        mine = f"/sys/fs/cgroup/{name}{current[ctl].rstrip('/')}"
                if mine and own:
                    self._bind_ro(mine, sfd, flags, sub)
                else:
                    sc.mount("cgroup", fdpath(sfd), fstype, flags, opts, display=sub)
                os.close(subs.pop(0)[4])
        finally:
            for x in subs:
                os.close(x[4])
        if flags & sc.MS_RDONLY:
            fd = self.open(dest)
            try:
                sc.mount(None, fdpath(fd), None, sc.MS_REMOUNT | sc.MS_BIND | flags, display=dest)
            finally:
                os.close(fd)

    @staticmethod
    def _bind_ro(host_dir: str, target: int, flags: int, display: str) -> None:
        tree = clone_tree(host_dir, display=host_dir)
        attrs = 0
        for f, a in _ATTRS.items():
            if flags & f:
                attrs |= a
        try:
            if attrs:
                sc.mount_setattr(tree, "", sc.AT_EMPTY_PATH, attrs, display=display)
        except BaseException:
            os.close(tree)
            raise
        attach(tree, target, display=display)

    # ---- /dev ---------------------------------------------------------
    def populate_dev(self, devices: list[dict]) -> None:
        """The default nodes and links in /dev, and ``linux.devices`` wherever
        their paths say: the spec's path is the full one in the container, not
        one under /dev (runc and crun take it so too)."""
        dev = self.make("/dev", True)
        try:
            for name, major, minor in DEFAULT_DEVICES:
                self.mknod(dev, name, stat.S_IFCHR | 0o666, major, minor, 0, 0, f"/dev/{name}")
            for i, d in enumerate(devices):
                where = f"config.json: /linux/devices/{i}"
                path = "/" + os.path.normpath("/" + d["path"]).lstrip("/")
                if path == "/":
                    raise OCIError(f"device {d['path']}: not a file's path", where)
                mode = DEV_TYPES[d["type"]] | (d.get("fileMode", 0o666) & 0o7777)
                try:
                    pfd = self.make(os.path.dirname(path), True)
                    try:
                        self.mknod(
                            pfd,
                            os.path.basename(path),
                            mode,
                            d.get("major", 0),
                            d.get("minor", 0),
                            d.get("uid", 0),
                            d.get("gid", 0),
                            path,
                            self.trees.pop(device_key(i), -1),
                        )
                    finally:
                        os.close(pfd)
                except OSError as e:
                    raise OCIError(f"device {path}: {e.strerror}", where) from None
                except OCIError as e:
                    e.where = e.where or where
                    raise
            links = [
                ("/proc/self/fd", "fd"),
                ("/proc/self/fd/0", "stdin"),
                ("/proc/self/fd/1", "stdout"),
                ("/proc/self/fd/2", "stderr"),
            ]
            try:
                os.stat("pts", dir_fd=dev, follow_symlinks=False)
                links.append(("pts/ptmx", "ptmx"))
            except FileNotFoundError:
                pass
            for target, name in links:
                try:
                    os.symlink(target, name, dir_fd=dev)
                except FileExistsError:
                    if name == "ptmx":
                        os.unlink(name, dir_fd=dev)
                        os.symlink(target, name, dir_fd=dev)
        finally:
            os.close(dev)

    def mknod(
        self,
        dirfd: int,
        name: str,
        mode: int,
        major: int,
        minor: int,
        uid: int,
        gid: int,
        path: str,
        tree: int = -1,
    ) -> None:
        """The node ``path`` (``name`` in ``dirfd``).  Without CAP_MKNOD (a user
        namespace) the node is bind-mounted instead: ``tree``, the one the
        runtime made (idmap.device_trees, as crun does), else the host's node
        at the same path (runc's way; an error if the host has none)."""
        try:
            os.unlink(name, dir_fd=dirfd)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            if tree >= 0:
                os.close(tree)
            raise OCIError(f"device {path}: a directory is in the way") from None
        try:
            os.mknod(name, mode, os.makedev(major, minor), dir_fd=dirfd)
        except PermissionError:
            try:
                f = os.open(
                    name,
                    os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o644,
                    dir_fd=dirfd,
                )
                os.close(f)
                tfd = sc.openat2(dirfd, name, sc.O_PATH, RESOLVE)
            except BaseException:
                if tree >= 0:
                    os.close(tree)
                raise
            try:
                attach(tree if tree >= 0 else clone_tree(path), tfd, display=path)
            finally:
                os.close(tfd)
            return
        if tree >= 0:
            os.close(tree)  # made for nothing: this namespace may mknod (a fifo)
        os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)

    def bind_console(self, slave: int) -> None:
        """The pty slave, bind-mounted at /dev/console as runc does."""
        tfd = self.make("/dev/console", is_dir=False)
        try:
            attach(clone_tree(slave), tfd, display="/dev/console")
        finally:
            os.close(tfd)

    # ---- masked and read-only paths -----------------------------------
    def null_device(self) -> int:
        """An O_PATH fd of a null device (char 1:3) to mask files with
        (CVE-2025-31133: never a file the rootfs passes off as one): the
        container's own /dev/null when it is the real thing (what runc uses);
        else a node of our own, made on a private tmpfs that only this mount
        namespace sees until pivot_root (:meth:`drop_private`); never the
        host's /dev/null, whose owner and mode a container root could change
        through the masked file."""
        try:
            fd = self.open("/dev/null")
        except OSError:
            fd = -1
        if fd >= 0:
            st = os.fstat(fd)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3):
                return fd
            os.close(fd)
        if self.private is None:
            # /tmp of the host's tree, in this (private or slave) mount namespace
            sc.mount("tmpfs", "/tmp", "tmpfs", sc.MS_NOEXEC | sc.MS_NOSUID, "mode=0700")
            self.private = "/tmp"
        try:
            os.mknod("/tmp/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except FileExistsError:
            pass
        except OSError as e:
            raise OCIError(
                f"/dev/null in the container is not the null device, and making one failed:"
                f" {e.strerror}; refusing to mask with it"
            ) from None
        return os.open("/tmp/null", os.O_PATH | os.O_CLOEXEC)

    def drop_private(self) -> None:
        """Detach the private tmpfs of :meth:`null_device` (the masks keep their node)."""
        if self.private is not None:
            sc.umount2(self.private, sc.MNT_DETACH)
            self.private = None

    def mask(self, path: str) -> None:
        try:
            fd = self.open(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                sc.mount("tmpfs", fdpath(fd), "tmpfs", sc.MS_RDONLY, display=path)
                return
            null = self.null_device()
            try:
                tree = clone_tree(null)
            finally:
                os.close(null)
            attach(tree, fd, display=path)
        finally:
            os.close(fd)

    def readonly(self, path: str) -> None:
        try:
            fd = self.open(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        try:
            tree = clone_tree(fd, recursive=True, display=path)
            try:
                sc.mount_setattr(
                    tree, "", sc.AT_EMPTY_PATH | sc.AT_RECURSIVE, sc.MOUNT_ATTR_RDONLY, display=path
                )
            except BaseException:
                os.close(tree)
                raise
            attach(tree, fd, display=path)
        finally:
            os.close(fd)

    # ---- switching root -----------------------------------------------
    def hide_host_proc_sys(self) -> None:
        """--no-pivot: the rootfs is moved over the old root, which stays in the
        mount namespace beneath it, and with it the host's /proc and /sys.
        The kernel lets a new user namespace mount procfs (or sysfs) while a
        fully visible one is in its mount namespace (mount_too_revealing), so
        the container could mount an unmasked /proc of its own.  As runc's
        msMoveRoot does, every procfs and sysfs mounted whole outside the
        rootfs is unmounted first (our namespace is private or a slave since
        prepare: the host keeps its own), or covered with a tmpfs where it
        cannot be (locked: a user namespace of the container's).  The
        container's own are mounted by now; the host's are not needed after."""
        from .hostmounts import unescape  # --no-pivot only: not on every create's path

        rootfs = os.readlink(fdpath(self.fd))  # the rootfs as this namespace names it
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
        points = []
        for line in lines:
            pre, _, post = line.partition(" - ")
            fields = pre.split()
            if post.split()[0] not in ("proc", "sysfs") or fields[3] != "/":
                continue
            mp = unescape(fields[4])
            if mp != rootfs and not mp.startswith(rootfs.rstrip("/") + "/"):
                points.append(mp)
        for mp in points:
            try:
                sc.umount2(mp, sc.MNT_DETACH)
            except FileNotFoundError:
                continue  # beneath one unmounted already
            except OSError as e:
                if e.errno not in (1, 22):  # EPERM, EINVAL: locked, or no longer a mount
                    raise OCIError(
                        f"--no-pivot: unmounting the host's {mp}: {e.strerror}"
                    ) from None
                try:
                    sc.mount("tmpfs", mp, "tmpfs", sc.MS_RDONLY, "size=4k")
                except OSError as e2:
                    raise OCIError(f"--no-pivot: covering the host's {mp}: {e2.strerror}") from None

    def finish_readonly(self) -> None:
        """The read-only tmpfs and /dev mounts, made writable to fill: read-only now."""
        while self.ro_later:
            fd, dest = self.ro_later.pop()
            try:
                sc.mount_setattr(fd, "", sc.AT_EMPTY_PATH, sc.MOUNT_ATTR_RDONLY, display=dest)
            finally:
                os.close(fd)

    def chroot(self) -> None:
        """Without a mount namespace of its own: into the populated rootfs by
        chroot (pivot_root and MS_MOVE would move the caller's own mounts)."""
        self.finish_readonly()
        os.fchdir(self.fd)
        os.chroot(".")
        os.chdir("/")
        os.close(self.fd)
        self.fd = -1

    def pivot(self, no_pivot: bool = False) -> None:
        self.finish_readonly()
        os.fchdir(self.fd)
        if no_pivot:
            self.hide_host_proc_sys()
            sc.mount(".", "/", None, sc.MS_MOVE, display=self.path)
            os.chroot(".")
        else:
            old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
            try:
                sc.pivot_root(".", ".")
                os.fchdir(old)
                sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC, display="old root")
                sc.umount2(".", sc.MNT_DETACH)
            finally:
                os.close(old)
        os.chdir("/")
        os.close(self.fd)
        self.fd = -1
        root = self.config.get("root") or {}
        if root.get("readonly"):
            sc.mount_setattr(sc.AT_FDCWD, "/", 0, sc.MOUNT_ATTR_RDONLY, display="/")
        prop = (self.config.get("linux") or {}).get("rootfsPropagation")
        if prop:
            sc.mount(None, "/", None, _PROPAGATION[prop], display="/")


def own_cgroup_record() -> dict:
    """This process's cgroups in the form of a cgroup record (cgroups.*.record()),
    every v1 hierarchy (named ones too) by its mount options."""
    from ..cgroups import ROOT, own_cgroups

    own = own_cgroups()
    if os.path.exists(ROOT + "/cgroup.controllers"):
        return {"layout": "v2", "path": ROOT + own.get("", "/")}
    paths, unified = {}, None
    for name, fstype, opts in host_cgroup_mounts():
        if fstype == "cgroup2":
            unified = os.path.join(ROOT, name) + own.get("", "/")
            continue
        for ctl in (opts or "").split(","):
            if ctl in own:
                paths[ctl] = os.path.join(ROOT, name) + own[ctl]
    return {"layout": "v1", "paths": paths, "unified": unified}


def host_cgroup_mounts() -> list[tuple[str, str, str | None]]:
    """(name under /sys/fs/cgroup, fstype, super options) of the host's cgroup mounts."""
    out = []
    for line in (
        os.read_file("/proc/self/mountinfo").decode("utf-8", "surrogateescape").splitlines()
    ):
        pre, _, post = line.partition(" - ")
        fields = pre.split()
        fstype, _src, sopts = post.split()[:3]
        mp = fields[4]
        if not mp.startswith("/sys/fs/cgroup/") or fstype not in ("cgroup", "cgroup2"):
            continue
        name = mp[len("/sys/fs/cgroup/") :]
        if fstype == "cgroup2":
            out.append((name, fstype, None))
            continue
        keep = [
            o
            for o in sopts.split(",")
            if o not in ("rw", "ro") and "=" not in o or o.startswith("name=")
        ]
        out.append((name, fstype, ",".join(keep)))
    return out
