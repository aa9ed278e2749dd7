"""CRIU: what the runtime tells it, and the conversation (``criu swrk``).

Checkpoint and restore go through CRIU's RPC, as runc does: ``criu swrk 3``
is started with one end of a SOCK_SEQPACKET socketpair on fd 3, and the two
sides exchange protobuf messages (``criu_req`` / ``criu_resp``) whose
classes come from pycriu (Debian's criu package: ``pycriu.rpc``), never by
building or scraping a criu command line.  pycriu's own ``criu`` class is
not used: it takes no notifications (the hooks, the restored pid, a
terminal's master arrive that way) and passes no fds.  protobuf is imported
only here, by checkpoint, restore and check: never on a container's path.

What is described to CRIU (runc's libcontainer/criu_linux.go does the same):

* the rootfs (``root``), the image and work directories as fds of this
  process (CRIU opens ``/proc/<us>/fd/N``), ``dump.log`` / ``restore.log``;
* bind mounts as external mounts: at dump keyed by their destination, at
  restore mapped to their source; the container's own cgroup directories
  bound in (no cgroup namespace) likewise; masked files not bound from the
  container's own /dev (``/dev/null``); ``linux.devices`` nodes;
* namespaces joined by path: the network and pid ones as external
  (``net[inode]:extRootNetNS`` at dump, the namespace's fd inherited at
  restore), the others joined (``join_ns``); a cgroup namespace joined by
  path cannot be restored;
* cgroups: ``manage_cgroups_mode`` (soft by default), the cgroup to freeze
  the container with, and at restore the container's cgroup as the root
  of every controller (``cg_root``) with CRIU itself inside it;
* the network namespace is created empty (``empty_ns``), as runc has it:
  the runtime does not manage interfaces; the restore brings its loopback
  up, as create did (runc leaves it down);
* the init's stdio at dump (``descriptors.json`` in the image directory);
  at restore a pipe among them is replaced by the restoring caller's stdio
  (``inherit_fd``), so a shim's or conmon's new pipes take their place;
* ``orphan_pts_master``: a terminal's master comes back over the socket
  and goes to ``--console-socket``.

Errors are one line that names criu and the fix: criu not installed, a
kernel CRIU cannot work with (``ociruntime check`` says why), a directory
it cannot write, and otherwise CRIU's own first error from its log.
"""

from __future__ import annotations

import errno

from . import jsonio, log
from . import oslite as os
from .errors import OCIError

DESCRIPTORS = "descriptors.json"  # runc's name: podman exports it with the images
DUMP_LOG = "dump.log"
RESTORE_LOG = "restore.log"
DEFAULT_CONFIG = "/etc/criu/runc.conf"  # runc's: a host tuned for runc works as it is
CONFIG_ANNOTATION = "org.criu.config"
MIN_VERSION = 30000  # 3.0: the VERSION request
INSTALL = "apt-get install criu"
CG_MODES = ("soft", "full", "strict", "ignore")
# config.json's namespace types -> CRIU's names
NS_NAMES = {
    "network": "net",
    "pid": "pid",
    "mount": "mnt",
    "ipc": "ipc",
    "uts": "uts",
    "user": "user",
    "time": "time",
    "cgroup": "cgroup",
}
EXTERNAL_NS = ("network", "pid")  # described as external, not joined (runc's choice)
CLONE_NEWNET = 0x40000000


def binary(path: str | None = None, what: str = "") -> str:
    """The criu executable: ``--criu PATH`` or ``criu`` in PATH (as runc looks);
    ``what`` (checkpoint, restore) prefixes the error."""
    where = f"{what}: " if what else ""
    if path:
        if "/" not in path:
            found = _which(path)
            if found:
                return found
        elif os.access(path, os.X_OK) and not os.path.isdir(path):
            return os.path.abspath(path)
        raise OCIError(
            f"criu: --criu {path}: not an executable file (fix: {INSTALL}, or the right path)"
        )
    found = _which("criu")
    if found is None:
        raise OCIError(f"{where}criu is not installed (no criu in PATH; fix: {INSTALL})")
    return found


def _which(name: str) -> str | None:
    path = os.environ.get("PATH") or "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for d in path.split(":"):
        p = os.path.join(d or ".", name)
        if os.access(p, os.X_OK) and not os.path.isdir(p):
            return p
    return None


def installed() -> bool:
    """criu in PATH and pycriu on sys.path: found, neither run nor imported
    (``features`` answers this on every call; importlib.util alone costs
    about 4 ms)."""
    import sys

    if _which("criu") is None:
        return False
    return any(os.path.isdir(os.path.join(d or ".", "pycriu")) for d in sys.path)


_RPC = None


def rpc():
    """pycriu's protobuf messages (criu_req, criu_resp, criu_opts, ...): its
    ``rpc_pb2`` module alone.  ``import pycriu`` would load the messages of
    every image file too (~80 modules: 50 ms here, seconds in an emulated
    guest), which checkpoint and restore never read."""
    global _RPC
    if _RPC is not None:
        return _RPC
    import sys

    try:
        import importlib.util

        spec = importlib.util.find_spec("pycriu")  # finds, does not run, the package
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("No module named 'pycriu'")
        path = os.path.join(list(spec.submodule_search_locations)[0], "rpc_pb2.py")
        if os.path.isfile(path):
            mspec = importlib.util.spec_from_file_location("ociruntime._criu_rpc_pb2", path)
            mod = importlib.util.module_from_spec(mspec)
            sys.modules[mspec.name] = mod
            mspec.loader.exec_module(mod)
        else:  # another layout: the package as it is
            import pycriu

            mod = pycriu.rpc
    except ImportError as e:
        raise OCIError(
            f"criu: its Python RPC module (pycriu) cannot be imported ({e};"
            f" fix: {INSTALL} python3-protobuf)"
        ) from None
    _RPC = mod
    return mod


# ---- the conversation ---------------------------------------------------------------


class Failed(OCIError):
    """CRIU answered a request with failure (or went away)."""


class Swrk:
    """One ``criu swrk`` process and its socket.

    The child (which execs criu) makes the socketpair itself: CRIU opens
    the directories it is given as ``/proc/<peer>/fd/N``, the peer being
    whoever made the pair, so they are the child's own fds, and may be
    opened in a mount namespace of its own (restore: ``prepare``).  criu's
    fds: 0-2 stdio (ours, or /dev/null with ``quiet``), 3 the socket, then
    ``extra`` (fds of ours: namespaces, directories) from 4 on, then what
    ``prepare()`` (run in the child before the exec) returns.  An exception
    in the child is reported back as one line.
    """

    def __init__(self, criu: str, extra: list[int] | None = None, prepare=None, quiet: bool = True):
        import _socket

        self.rpc = rpc()
        self.criu = criu
        self.sock = None
        ctl, child_ctl = _socket.socketpair(
            _socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC
        )
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child execs
            try:
                import fcntl

                ctl.close()
                # out of the way of the fds criu gets (3, 4, ...)
                hi = fcntl.fcntl(child_ctl.fileno(), fcntl.F_DUPFD_CLOEXEC, 256)
                child_ctl.close()
                child_ctl = _socket.socket(fileno=hi)
                more = prepare() if prepare is not None else []
                a, b = _socket.socketpair(
                    _socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC
                )
                from .sync import send_fd

                send_fd(child_ctl, a.fileno(), b"S")
                a.close()
                _exec_swrk(criu, b.fileno(), [*(extra or []), *more], quiet, child_ctl.fileno())
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                text = e.text if isinstance(e, OCIError) else _os_text(e)
                try:
                    child_ctl.sendall(b"E" + text.encode()[:4000])
                finally:
                    os._exit(127)
        self.pid = pid
        child_ctl.close()
        try:
            self._handshake(ctl)
        except BaseException:
            self.kill()
            raise
        finally:
            ctl.close()

    def _handshake(self, ctl) -> None:
        """The socket (an fd with "S"), then EOF once criu runs, or "E" + why not."""
        import _socket
        import array

        fds = array.array("i")
        msg, anc, _f, _a = ctl.recvmsg(4096, _socket.CMSG_SPACE(fds.itemsize))
        for level, kind, data in anc:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
        if fds:
            self.sock = _socket.socket(fileno=fds[0])
            for fd in fds[1:]:
                os.close(fd)
            msg = msg[1:]
        rest = msg
        while True:
            chunk = ctl.recv(4096)
            if not chunk:
                break
            rest += chunk
        if rest.startswith(b"E") or self.sock is None:
            why = rest[1:].decode(errors="replace") if rest else "criu did not start"
            raise OCIError(why)

    def request(self, req, notify=None):
        """Send ``req`` and answer CRIU's notifications with ``notify(script,
        pid, fds)`` (an exception there ends the conversation: CRIU then
        undoes what it did) until the answer to ``req``, which is returned;
        :class:`Failed` if CRIU failed."""
        rpc = self.rpc
        self.sock.sendall(req.SerializeToString())
        while True:
            data, fds = self._recv()
            if not data:
                raise Failed("criu exited without an answer")
            resp = rpc.criu_resp()
            resp.ParseFromString(data)
            if not resp.success:
                for fd in fds:
                    os.close(fd)
                err = Failed(resp.cr_errmsg or "criu failed")
                err.errno_ = resp.cr_errno  # type: ignore[attr-defined]
                raise err
            if resp.type != rpc.NOTIFY:
                for fd in fds:
                    os.close(fd)
                return resp
            try:
                if notify is not None:
                    notify(resp.notify.script, resp.notify.pid, fds)
            finally:
                for fd in fds:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            ack = rpc.criu_req()
            ack.type = rpc.NOTIFY
            ack.notify_success = True
            self.sock.sendall(ack.SerializeToString())

    def _recv(self) -> tuple[bytes, list[int]]:
        import _socket
        import array

        fds = array.array("i")
        data, anc, _flags, _addr = self.sock.recvmsg(1 << 20, _socket.CMSG_SPACE(16 * fds.itemsize))
        for level, kind, payload in anc:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
        return data, list(fds)

    def close(self) -> int:
        """Close the socket (criu then ends) and reap criu: its exit status."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.pid:
            pid, self.pid = self.pid, 0
            try:
                return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            except ChildProcessError:
                return 0
        return 0

    def kill(self) -> None:
        if self.pid:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass
        self.close()


def _exec_swrk(criu: str, sock: int, extra: list[int], quiet: bool, err_pipe: int) -> None:
    """In the child: the socket on fd 3, ``extra`` on 4.., nothing else open
    (but ``err_pipe``, close-on-exec, to report a failed exec), then exec
    ``criu swrk 3``."""
    fds = [sock, *extra]
    # move them out of the way first, so that the dups below cannot overwrite one
    base = 100 + max([*fds, err_pipe, 2])
    moved = []
    for i, fd in enumerate(fds):
        moved.append(os.dup2(fd, base + i, inheritable=False))
    for i, fd in enumerate(moved):
        os.dup2(fd, 3 + i)  # inheritable
    if quiet:
        null = os.open("/dev/null", os.O_RDWR)
        for i in range(3):
            os.dup2(null, i)
        if null > 2:
            os.close(null)
    for fd in moved:
        os.close(fd)
    last = 3 + len(fds)
    for fd in _open_fds():
        if fd >= last and fd != err_pipe:
            try:
                os.close(fd)
            except OSError:
                pass
    import _signal

    for s in range(1, _signal.NSIG):
        try:
            if s not in (_signal.SIGKILL, _signal.SIGSTOP):
                _signal.signal(s, _signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    os.execv(criu, [criu, "swrk", "3"])


def _open_fds() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 1024))


def _os_text(e: BaseException) -> str:
    if isinstance(e, OSError):
        from .errors import os_error_text

        return os_error_text(e)
    return f"{type(e).__name__}: {e}"


def version(criu: str) -> int:
    """CRIU's version as runc compares it: 3.17.1 -> 31701."""
    rpc_ = rpc()
    s = Swrk(criu)
    try:
        req = rpc_.criu_req()
        req.type = rpc_.VERSION
        try:
            v = s.request(req).version
        except (Failed, OSError) as e:
            raise OCIError(f"criu: asking {criu} for its version failed: {_text(e)}") from None
    finally:
        s.close()
    return v.major_number * 10000 + v.minor_number * 100 + v.sublevel


def check_version(criu: str) -> int:
    v = version(criu)
    if v < MIN_VERSION:
        raise OCIError(f"criu {_vstr(v)} is too old: 3.0 or later is needed (fix: {INSTALL})")
    return v


def _vstr(v: int) -> str:
    return f"{v // 10000}.{v // 100 % 100}.{v % 100}"


def _text(e: BaseException) -> str:
    return e.text if isinstance(e, OCIError) else _os_text(e)


def features(criu: str, **want: bool) -> dict:
    """FEATURE_CHECK: {feature: supported} for the ones asked (mem_track,
    lazy_pages)."""
    rpc_ = rpc()
    s = Swrk(criu)
    try:
        req = rpc_.criu_req()
        req.type = rpc_.FEATURE_CHECK
        for k, v in want.items():
            setattr(req.features, k, v)
        try:
            got = s.request(req).features
        except (Failed, OSError) as e:
            raise OCIError(f"criu: its feature check failed: {_text(e)}") from None
    finally:
        s.close()
    return {k: bool(getattr(got, k)) for k in want}


def host_check(criu: str) -> tuple[bool, str]:
    """CRIU's own CHECK of this host (kernel features): (ok, why not), the
    reason being the first error CRIU logged."""
    import tempfile

    rpc_ = rpc()
    with tempfile.TemporaryDirectory(prefix="ociruntime-criu-check-") as d:
        dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            s = Swrk(criu, extra=[dfd])
            try:
                req = rpc_.criu_req()
                req.type = rpc_.CHECK
                req.opts.images_dir_fd = 4  # criu's fd of dfd (Swrk)
                req.opts.log_file = "check.log"
                req.opts.log_level = 2
                try:
                    s.request(req)
                    return True, "criu check: looks good"
                except (Failed, OSError):
                    pass
            finally:
                s.close()
        finally:
            os.close(dfd)
        errors = log_errors(os.path.join(d, "check.log"))
    return False, errors[0] if errors else "criu check failed (no reason logged)"


# ---- the logs -----------------------------------------------------------------------


def log_errors(path: str, limit: int = 20) -> list[str]:
    """The ``Error (file:line): what`` lines of a CRIU log, as ``what``."""
    out = []
    try:
        with open(path, "rb") as f:
            for raw in f:
                line = raw.decode(errors="replace").rstrip("\n")
                i = line.find("Error (")
                if i < 0:
                    continue
                j = line.find("): ", i)
                out.append(line[j + 3 :].strip() if j > 0 else line[i:].strip())
                if len(out) >= limit:
                    break
    except OSError:
        pass
    return out


# lines CRIU logs as errors that are not the cause (a probe of an optional feature)
_NOISE = ("Unable to create tun", "Dumping FAILED", "Restoring FAILED")


def failure(what: str, logfile: str, e: BaseException | None = None) -> OCIError:
    """One line for a failed dump or restore: CRIU's first real error from its
    log, the log's path, and the fix when the cause is known."""
    errors = log_errors(logfile)
    for line in errors:
        log.debug(f"criu: {line}")
    real = [x for x in errors if not any(n in x for n in _NOISE)]
    if any("kerndat" in x or "kernel features detection" in x for x in errors):
        kernel = os.uname().release
        first = real[0] if real else errors[0]
        return OCIError(
            f"{what}: criu cannot work with this kernel ({kernel}): {first} "
            f"(fix: a kernel CRIU supports, such as Debian 12's 6.1, or a newer criu; "
            f"ociruntime check; log: {logfile})"
        )
    if real:
        why = real[0]
        hint = _hint(why)
        return OCIError(f"{what}: criu failed: {why}{hint} (log: {logfile})")
    detail = _text(e) if e is not None else "no error in its log"
    return OCIError(f"{what}: criu failed: {detail} (log: {logfile})")


def _hint(why: str) -> str:
    """The option CRIU's own messages point at, in our flags' names."""
    for needle, flag in (
        ("tcp-established", "--tcp-established"),
        ("file-locks", "--file-locks"),
        ("ext-unix-sk", "--ext-unix-sk"),
        ("shell-job", "--shell-job"),
        ("external", None),
    ):
        if needle in why and flag:
            return f" (fix: {flag})"
    return ""


# ---- directories --------------------------------------------------------------------


def writable_dir(path: str, flag: str, what: str, make: bool = True) -> int:
    """An fd of directory ``path`` (made if missing) that CRIU writes to;
    one line naming criu and the fix if it cannot."""
    if make:
        try:
            os.makedirs(path, 0o700, exist_ok=True)
        except OSError as e:
            raise OCIError(
                f"{what}: {flag} {path}: cannot create it: {_strerror(e)}"
                f" (criu writes its {'images' if 'image' in flag else 'log'} there;"
                f" fix: a writable directory)"
            ) from None
    if not os.path.isdir(path):
        raise OCIError(f"{what}: {flag} {path}: not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise OCIError(
            f"{what}: {flag} {path}: not writable"
            f" (criu writes its {'images' if 'image' in flag else 'log'} there;"
            f" fix: a writable directory)"
        )
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _strerror(e: OSError) -> str:
    s = e.strerror or str(e)
    return s[:1].lower() + s[1:]


def config_file(config: dict) -> str | None:
    """runc's rule: the annotation org.criu.config names a CRIU configuration
    file (empty: none at all), else /etc/criu/runc.conf (if present)."""
    ann = config.get("annotations") or {}
    if CONFIG_ANNOTATION in ann:
        return ann[CONFIG_ANNOTATION] or None
    return DEFAULT_CONFIG


def cg_mode(rpc_, mode: str | None) -> int:
    if not mode:
        return rpc_.DEFAULT
    if mode not in CG_MODES:
        raise OCIError(
            f"invalid --manage-cgroups-mode {mode!r}: expected soft, full, strict or ignore"
        )
    return {"soft": rpc_.SOFT, "full": rpc_.FULL, "strict": rpc_.STRICT, "ignore": rpc_.IGNORE}[
        mode
    ]


def ns_mask(names: list[str]) -> int:
    """``--empty-ns``: the network namespace always (runc: the runtime does not
    manage interfaces), and only that one may be named."""
    mask = CLONE_NEWNET
    for n in names:
        if n != "network":
            raise OCIError(f'--empty-ns {n}: namespace "{n}" is not supported (only "network")')
    return mask


# ---- mounts ------------------------------------------------------------------------


def inside(rootfs: str, dest: str) -> str:
    """A mount destination as the container sees its mount point: symlinks in
    the rootfs resolved inside it (runc's SecureJoin), else normalized."""
    norm = "/" + os.path.normpath("/" + dest).lstrip("/")
    try:
        from .linux import syscalls as sc

        rfd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd = sc.openat2(rfd, norm, sc.O_PATH, sc.RESOLVE_IN_ROOT | sc.RESOLVE_NO_MAGICLINKS)
        finally:
            os.close(rfd)
        try:
            real = os.readlink(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        root = realpath(rootfs)
        if real == root:
            return "/"
        if real.startswith(root.rstrip("/") + "/"):
            return real[len(root.rstrip("/")) :]
    except OSError:
        pass
    return norm


def realpath(path: str) -> str:
    """``path`` with every symlink resolved (through an O_PATH fd)."""
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def mountinfo(pid: int) -> list[tuple[str, str, str, str]]:
    """(mount point, root, fstype, major:minor) of each mount ``pid`` sees."""
    from .linux.hostmounts import unescape

    out = []
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = pre.split()
            out.append((unescape(fields[4]), unescape(fields[3]), post.split()[0], fields[2]))
    return out


def dump_mounts(config: dict, rootfs: str, pid: int) -> list[tuple[str, str]]:
    """The external mounts of a dump: (key, value) pairs of ext_mnt."""
    from .linux.rootfs import is_bind

    out: list[tuple[str, str]] = []
    for m in config.get("mounts") or []:
        if is_bind(m):
            d = inside(rootfs, m["destination"])
            out.append((d, d))
    try:
        mi = mountinfo(pid)
    except OSError:
        mi = []
    # the container's own cgroup directories, bound in without a cgroup namespace
    # (in one, cgroupfs is mounted: CRIU's to dump)
    linux = config.get("linux") or {}
    if not any(ns.get("type") == "cgroup" for ns in linux.get("namespaces") or []):
        for mp, root, fstype, _dev in mi:
            if fstype in ("cgroup", "cgroup2") and root != "/":
                out.append((mp, mp))
    # masked files: a bind of the container's own /dev/null is CRIU's to dump;
    # anything else (a node of the runtime's own) is described as /dev/null
    devs = {dev for mp, _r, _t, dev in mi if mp == "/dev"}
    points = {mp: dev for mp, _r, _t, dev in mi}
    for p in (config.get("linux") or {}).get("maskedPaths") or []:
        d = inside(rootfs, p)
        if d in points and points[d] not in devs and _is_file(pid, d):
            out.append((d, "/dev/null"))
    for dev in (config.get("linux") or {}).get("devices") or []:
        d = inside(rootfs, dev["path"])
        out.append((d, d))
    return _dedup(out)


def _is_file(pid: int, path: str) -> bool:
    try:
        import stat

        return not stat.S_ISDIR(os.stat(f"/proc/{pid}/root{path}").st_mode)
    except OSError:
        return False


def restore_mounts(
    config: dict, bundle: str, rootfs: str, cgroup: dict | None
) -> list[tuple[str, str]]:
    """The external mounts of a restore: destination -> what to bind there."""
    from .linux.rootfs import host_cgroup_mounts, is_bind, source_path

    linux = config.get("linux") or {}
    out: list[tuple[str, str]] = []
    cgroupns = any(ns.get("type") == "cgroup" for ns in linux.get("namespaces") or [])
    for m in config.get("mounts") or []:
        if is_bind(m):
            out.append((inside(rootfs, m["destination"]), source_path(m, bundle)))
        elif m.get("type") == "cgroup" and not cgroupns and cgroup:
            dest = inside(rootfs, m["destination"])
            if cgroup.get("layout") == "v2":
                out.append((dest, cgroup["path"]))
                continue
            from .cgroups import own_cgroups

            current = own_cgroups()
            paths = cgroup.get("paths") or {}
            for name, fstype, opts in host_cgroup_mounts():
                mine = cgroup.get("unified") if fstype == "cgroup2" else None
                for ctl in (opts or "").split(","):
                    mine = mine or paths.get(ctl)
                for ctl in (opts or "").split(",") if fstype == "cgroup" else ():
                    if not mine and ctl in current:
                        mine = f"/sys/fs/cgroup/{name}{current[ctl].rstrip('/')}"
                if mine:
                    out.append((os.path.join(dest, name), mine))
    if linux.get("maskedPaths"):
        out.append(("/dev/null", "/dev/null"))
    for dev in linux.get("devices") or []:
        d = inside(rootfs, dev["path"])
        out.append((d, "/" + os.path.normpath("/" + dev["path"]).lstrip("/")))
    return _dedup(out)


def _dedup(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for k, v in pairs:
        seen.setdefault(k, v)
    return list(seen.items())


# ---- namespaces --------------------------------------------------------------------


def ns_key(kind: str) -> str:
    """runc's key of an external namespace: extRootNetNS, extRootPidNS."""
    name = NS_NAMES[kind]
    return f"extRoot{name[:1].upper()}{name[1:]}NS"


def dump_external_ns(config: dict) -> list[str]:
    """``external`` entries for the network and pid namespaces joined by path."""
    out = []
    for ns in (config.get("linux") or {}).get("namespaces") or []:
        if ns.get("type") in EXTERNAL_NS and ns.get("path"):
            try:
                ino = os.stat(ns["path"]).st_ino
            except OSError as e:
                raise OCIError(
                    f"checkpoint: {ns['type']} namespace {ns['path']}: {_strerror(e)}"
                ) from None
            out.append(f"{NS_NAMES[ns['type']]}[{ino}]:{ns_key(ns['type'])}")
    return out


def restore_ns(config: dict) -> tuple[list[tuple[str, int]], list[tuple[str, str]]]:
    """(inherit: [(key, open fd)], join: [(criu name, path)]) for the
    namespaces joined by path.  The caller closes the fds."""
    inherit: list[tuple[str, int]] = []
    join: list[tuple[str, str]] = []
    try:
        for ns in (config.get("linux") or {}).get("namespaces") or []:
            t, path = ns.get("type"), ns.get("path")
            if not path:
                continue
            if t in EXTERNAL_NS:
                try:
                    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError as e:
                    raise OCIError(
                        f"restore: {t} namespace {path}: {_strerror(e)} (it must exist to restore into it)"
                    ) from None
                inherit.append((ns_key(t), fd))
            elif t == "cgroup":
                raise OCIError(
                    "restore: a cgroup namespace joined by path cannot be restored by criu",
                    "config.json: /linux/namespaces",
                )
            elif t in NS_NAMES:
                join.append((NS_NAMES[t], path))
    except BaseException:
        for _, fd in inherit:
            os.close(fd)
        raise
    return inherit, join


# ---- descriptors -------------------------------------------------------------------


def write_descriptors(image_dir: str, pid: int) -> None:
    """What the init's fds 0-2 are (``pipe:[N]``, a path), for the restore to
    put the caller's stdio in place of pipes (runc's descriptors.json)."""
    fds = []
    for i in range(3):
        try:
            fds.append(os.readlink(f"/proc/{pid}/fd/{i}"))
        except OSError:
            fds.append("")
    from .state import atomic_write

    atomic_write(os.path.join(image_dir, DESCRIPTORS), jsonio.dumps(fds, compact=True), 0o600)


def read_descriptors(image_dir: str) -> list[str]:
    try:
        with open(os.path.join(image_dir, DESCRIPTORS), "rb") as f:
            fds = jsonio.loads(f.read())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        raise OCIError(
            f"restore: {os.path.join(image_dir, DESCRIPTORS)}: unreadable: {e}"
        ) from None
    if not isinstance(fds, list) or not all(isinstance(x, str) for x in fds):
        raise OCIError(f"restore: {os.path.join(image_dir, DESCRIPTORS)}: not a list of strings")
    return fds


def check_images(image_dir: str) -> None:
    """A restore needs a checkpoint there: CRIU's inventory.img."""
    if not os.path.isdir(image_dir):
        raise OCIError(
            f"restore: --image-path {image_dir}: no such directory (a checkpoint's images)"
        )
    if not os.path.isfile(os.path.join(image_dir, "inventory.img")):
        raise OCIError(
            f"restore: --image-path {image_dir}: no checkpoint there (no inventory.img);"
            " give the directory of ociruntime checkpoint --image-path"
        )


def errno_name(n: int) -> str:
    return errno.errorcode.get(n, str(n))


def need_version(criu: str, minimum: int, what: str) -> None:
    v = version(criu)
    if v < minimum:
        raise OCIError(
            f"{what} need criu {_vstr(minimum)} or later, this is {_vstr(v)} (fix: {INSTALL})"
        )


# ---- checkpoint --------------------------------------------------------------------


def checkpoint(
    rec: dict,
    criu_path: str | None = None,
    image_path: str | None = None,
    work_path: str | None = None,
    parent_path: str | None = None,
    leave_running: bool = False,
    tcp_established: bool = False,
    ext_unix_sk: bool = False,
    shell_job: bool = False,
    file_locks: bool = False,
    pre_dump: bool = False,
    manage_cgroups_mode: str | None = None,
    empty_ns: list[str] | None = None,
    auto_dedup: bool = False,
    lazy_pages: bool = False,
    page_server: str | None = None,
    status_fd: int = -1,
) -> str:
    """Dump (or pre-dump) the container whose state record is ``rec`` (running
    or paused: the caller checked) into ``image_path`` (default
    ``./checkpoint``); the image directory's path."""
    exe = binary(criu_path, "checkpoint")
    rpc_ = rpc()
    config = rec.get("config") or {}
    mode = cg_mode(rpc_, manage_cgroups_mode)
    mask = ns_mask(list(empty_ns or []))
    image = os.path.abspath(image_path or "checkpoint")
    ps = _page_server(page_server) if page_server else None
    if parent_path and parent_path.startswith("/"):
        raise OCIError("checkpoint: --parent-path must be relative (to --image-path)")
    if status_fd != -1:
        if not lazy_pages:
            raise OCIError("checkpoint: --status-fd is for --lazy-pages")
        import fcntl

        try:
            fl = fcntl.fcntl(status_fd, fcntl.F_GETFL)
        except OSError as e:
            raise OCIError(f"checkpoint: invalid --status-fd {status_fd}: {_strerror(e)}") from None
        if fl & (os.O_WRONLY | os.O_RDWR) == 0:
            raise OCIError(f"checkpoint: invalid --status-fd {status_fd}: not writable")
    if pre_dump and not features(exe, mem_track=True)["mem_track"]:
        raise OCIError(
            "checkpoint: --pre-dump: criu cannot track memory changes on this host"
            " (it needs the kernel's soft-dirty bits: CONFIG_MEM_SOFT_DIRTY)"
        )
    if lazy_pages and not features(exe, lazy_pages=True)["lazy_pages"]:
        raise OCIError(
            "checkpoint: --lazy-pages: criu cannot do lazy pages on this host"
            " (it needs userfaultfd: a kernel with CONFIG_USERFAULTFD)"
        )
    fds = []
    try:
        img_fd = writable_dir(image, "--image-path", "checkpoint")
        fds.append(img_fd)
        if parent_path and not os.path.isdir(os.path.join(image, parent_path)):
            raise OCIError(
                f"checkpoint: invalid --parent-path {parent_path}:"
                f" {os.path.normpath(os.path.join(image, parent_path))} is not a directory"
            )
        work = image
        req = rpc_.criu_req()
        req.type = rpc_.PRE_DUMP if pre_dump else rpc_.DUMP
        o = req.opts
        o.images_dir_fd = 4  # criu's fds (Swrk): ours from 4 on
        if work_path:
            work = os.path.abspath(work_path)
            fds.append(writable_dir(work, "--work-path", "checkpoint"))
            o.work_dir_fd = 5
        o.log_level = 4
        o.log_file = DUMP_LOG
        o.root = rec["rootfs"]
        o.manage_cgroups = True
        o.manage_cgroups_mode = mode
        o.notify_scripts = True
        o.pid = rec["pid"]
        o.shell_job = shell_job
        o.leave_running = leave_running
        o.tcp_established = tcp_established
        o.ext_unix_sk = ext_unix_sk
        o.file_locks = file_locks
        o.empty_ns = mask
        o.orphan_pts_master = True
        o.auto_dedup = auto_dedup
        o.lazy_pages = lazy_pages
        conf = config_file(config)
        if conf:
            o.config_file = conf
        for ext in dump_external_ns(config):
            o.external.append(ext)
        fz = _freezer(rec.get("cgroup"))
        if fz:
            o.freeze_cgroup = fz
        if ps:
            o.ps.address, o.ps.port = ps
        if parent_path:
            o.parent_img = parent_path
            o.track_mem = True
        if not pre_dump:
            for key, val in dump_mounts(config, rec["rootfs"], rec["pid"]):
                m = o.ext_mnt.add()
                m.key, m.val = key, val
            write_descriptors(image, rec["pid"])

        def notify(script: str, pid: int, _fds: list[int]) -> None:
            log.debug(f"criu: notification {script}")
            if script == "status-ready" and status_fd != -1:
                try:
                    os.write(status_fd, b"\0")
                finally:
                    os.close(status_fd)

        s = Swrk(exe, extra=fds)
        try:
            try:
                s.request(req, notify)
            except (Failed, OSError) as e:
                raise failure("checkpoint", os.path.join(work, DUMP_LOG), e) from None
        finally:
            # a pre-dump's criu waits for more (runc stops it the same way)
            s.close()
    finally:
        for fd in fds:
            os.close(fd)
    return image


def _freezer(cg: dict | None) -> str | None:
    """The cgroup CRIU freezes the container with (else it uses ptrace)."""
    if not cg:
        return None
    if cg.get("layout") == "v2":
        return cg.get("path")
    return (cg.get("paths") or {}).get("freezer")


def _page_server(spec: str) -> tuple[str, int]:
    host, sep, port = spec.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise OCIError(f"checkpoint: --page-server {spec}: expected ADDRESS:PORT")
    return host, int(port)
