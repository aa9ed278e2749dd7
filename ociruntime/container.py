"""The lifecycle: create, start, state, kill, delete, run; checkpoint and restore.

This is the Python API; the CLI only parses arguments and formats output.
Bringing a container process into being (create's and exec's fork, the
sync with the init, the terminal, the foreground wait) is the runtime's
side of it, process/runtime.py, which start, state, kill and delete never
load.  The create/start protocol (who
forks whom, which socket carries what) is written down in
docs/create-start.md.
"""

from __future__ import annotations

import _signal

from . import jsonio, log, trace
from . import oslite as os
from .errors import NO_PROCESS, NotFound, NotRunning, OCIError
from .state import Store, cgroup_record_ok, proc_start_time

# _signal, not signal: the signal module builds enums (~2 ms of every call)
SIGNALS = {n[3:]: getattr(_signal, n) for n in dir(_signal) if n.startswith("SIG") and "_" not in n}
SIGNALS.pop("RTMIN", None)
SIGNALS.pop("RTMAX", None)
SIGKILL = _signal.SIGKILL


def parse_signal(sig: str | int) -> int:
    """15, "TERM" and "SIGTERM" are all SIGTERM (containerd, CRI-O, runtime-tools);
    RTMIN+n and RTMAX-n as libc numbers them.  0 is kill(2)'s existence check:
    no signal is sent, but the call fails if the process is gone (runc allows it)."""
    if isinstance(sig, int):
        if 0 <= sig < _signal.NSIG:
            return sig
        raise OCIError(f"invalid signal: {sig}")
    if sig == "":  # runc: an empty signal argument is the default, TERM
        return _signal.SIGTERM
    s = sig.strip().upper()
    if s.isascii() and s.isdigit():
        n = int(s)
        if 0 <= n < _signal.NSIG:
            return n
    elif s.isascii():
        s = s[3:] if s.startswith("SIG") else s
        if s in SIGNALS:
            return SIGNALS[s]
        for name, base, sign in (
            ("RTMIN", _signal.SIGRTMIN, "+"),
            ("RTMAX", _signal.SIGRTMAX, "-"),
        ):
            if s == name:
                return base
            off = s[len(name) + 1 :]
            if s.startswith(name + sign) and off.isdigit():
                n = base + int(off) if sign == "+" else base - int(off)
                if _signal.SIGRTMIN <= n <= _signal.SIGRTMAX:
                    return n
    raise OCIError(f"invalid signal: {sig}")


def _wait_exit(pidfd: int, timeout: float) -> bool:
    """True once the process has exited (a zombie counts), waiting up to timeout."""
    import select

    poll = select.poll()
    poll.register(pidfd, select.POLLIN)
    return bool(poll.poll(int(timeout * 1000)))


class Container:
    """One container in a state root.  ``Container(id, root)`` opens an existing one."""

    def __init__(self, cid: str, root: str | None = None) -> None:
        self.store = Store(root)
        self.id = cid
        self.dir = self.store.dir(cid)
        self.pid = 0
        self._master: int | None = None  # run in the foreground: the pty it relays
        self._rec: dict | None = None  # the record, once create has saved it
        self._notify = None  # run with NOTIFY_SOCKET: where READY comes (notify.py)

    # ---- create ---------------------------------------------------------
    @classmethod
    def create(
        cls, cid: str, bundle: str = ".", root: str | None = None, **kw: object
    ) -> Container:
        """Set everything up; the init waits for :meth:`start` (or execs at once for
        run).  The options and the sequence: :func:`ociruntime.process.runtime.create`."""
        from .process import runtime

        c = cls(cid, root)
        done = runtime.create(c.store, cid, bundle, **kw)
        c.pid, c._rec, c._master = done.pid, done.record, done.master
        c._notify = done.notify
        if kw.get("exec_now"):
            c._hooks(done.record, "poststart", "running")
        return c

    def _hooks(self, rec: dict, kind: str, status: str) -> None:
        """poststart / poststop: in the runtime's namespaces; failures are warnings."""
        h = (rec.get("config") or {}).get("hooks") or {}
        if h.get(kind):
            from . import hooks

            st = self.store.public(self.id, rec)
            st["status"] = status
            if status == "stopped":
                st["pid"] = rec.get("pid", 0)
            hooks.run_all(h, kind, st)

    def _remove(self, rec: dict | None) -> None:
        """The container is dead: its cgroup, then its state directory."""
        from . import cgroups

        cg = cgroups.from_record((rec or {}).get("cgroup") or self._partial_cgroup())
        if cg is not None:
            cg.destroy()
        if (rec or {}).get("hostMounts"):
            # made under the rootfs in the caller's mount namespace (no mount
            # namespace of its own): linux/hostmounts.py
            from .linux import hostmounts

            try:
                hostmounts.undo(rec["hostMounts"], rec["rootfs"])
            except OSError as e:
                raise OCIError(e.strerror or str(e), f"container {self.id}") from None
        self.store.remove(self.id)

    def _partial_cgroup(self) -> dict | None:
        """cgroup.json, written before anything of a create exists; None if
        absent or garbage (see state.cgroup_record_ok)."""
        try:
            rec = jsonio.loads(os.read_file(os.path.join(self.dir, "cgroup.json")))
        except (OSError, ValueError):
            return None
        return rec if cgroup_record_ok(rec) else None

    # ---- queries ----------------------------------------------------------
    def _record(self) -> dict:
        return self.store.load(self.id)

    def state(self) -> dict:
        return self.store.public(self.id, self._record())

    def status(self) -> str:
        return self.store.status(self.id, self._record())

    # ---- start --------------------------------------------------------------
    def start(self) -> None:
        listener = self._start()
        if listener is not None:
            # not under the lock: state, kill and delete go on while we wait
            listener.forward(self.pid)

    def _start(self):
        """start, under the container's lock; the notify.Listener to forward
        READY from when the caller set NOTIFY_SOCKET, else None."""
        with self.store.locked(self.id):
            with trace.span("lock, read the state"):
                rec = self._record()
                status = self.store.status(self.id, rec)
            if status != "created":
                if status == "stopped":
                    raise OCIError("cannot start a container that has stopped")
                raise OCIError(f"cannot start an already {status} container")
            if "process" not in (rec.get("config") or {}):
                # runtime.md: start "MUST generate an error if process was not set".
                # Nothing can ever run in it: its init ends and it is stopped, as
                # when a process cannot be executed (runtime-tools' start waits
                # for that), for a plain delete to remove
                self._kill_wait(rec)
                raise OCIError(NO_PROCESS, "config.json: /process")
            listener = None
            host = os.environ.get("NOTIFY_SOCKET")
            if host:
                from . import notify

                notify.check(host)
                listener = notify.listen(self.dir, self.id, host)  # before the process runs
            with trace.span("exec socket: connect, the init's answer"):
                got = self._signal_start()
            if got.startswith(b"E"):
                raise OCIError(got[1:].decode(errors="replace"))
            if got != b"0":
                raise OCIError("container init exited before start")
            self.pid = rec["pid"]
            self._hooks(rec, "poststart", "running")
            return listener

    def _signal_start(self) -> bytes:
        """Connect to the init's exec socket and remove it; the init's answer:
        "0", or "E" + why the startContainer hooks failed, or b"" if it died."""
        import _socket

        dirfd = os.open(self.dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            got = b""
            try:
                s.connect(f"/proc/self/fd/{dirfd}/exec.sock")
                while got != b"0":
                    data = s.recv(4096)
                    if not data:
                        break
                    got += data
            except OSError:
                pass
            finally:
                s.close()
            os.unlink("exec.sock", dir_fd=dirfd)
        finally:
            os.close(dirfd)
        return got

    # ---- kill ---------------------------------------------------------------
    def _pidfd(self, rec: dict) -> int | None:
        """A pidfd for the init, or None if it is gone or its pid was reused."""
        pid = rec["pid"]
        if type(pid) is not int or pid <= 0:
            return None
        try:
            fd = os.pidfd_open(pid)
        except (ProcessLookupError, OverflowError):  # gone, or a pid no process can have
            return None
        st = proc_start_time(pid)
        if st is None or st[0] != rec.get("initStartTime"):
            os.close(fd)
            return None
        return fd

    def kill(self, sig: str | int = "TERM", all: bool = False) -> None:
        signum = parse_signal(sig)
        with self.store.locked(self.id):
            rec = self._record()
            if self.store.status(self.id, rec) == "stopped":
                raise NotRunning()
            fd = self._pidfd(rec)
            if fd is None:
                raise NotRunning()
            try:
                if all:
                    pids = self._pids(rec)
                    log.debug(f"kill --all: signal {signum} to pids {pids}")
                    for p in pids:
                        try:
                            os.kill(p, signum)
                        except ProcessLookupError:
                            pass
                log.debug(f"kill: signal {signum} to the init, pid {rec['pid']}")
                _signal.pidfd_send_signal(fd, signum)
            except ProcessLookupError:
                raise NotRunning() from None
            finally:
                os.close(fd)

    def _pids(self, rec: dict) -> list[int]:
        """Every process in the container's cgroup and its sub-cgroups (host
        pids), as runc's ps and kill --all take them (GetAllPids)."""
        from . import cgroups

        cg = cgroups.from_record(rec.get("cgroup"))
        return cg.all_pids() if cg is not None else [rec["pid"]]

    def pids(self) -> list[int]:
        """What ps lists: every process in the cgroup, even once the init has
        exited (what it left behind is still the container's)."""
        rec = self._record()
        if self.store.status(self.id, rec) == "stopped":
            from . import cgroups

            cg = cgroups.from_record(rec.get("cgroup"))
            return cg.all_pids() if cg is not None else []
        return self._pids(rec)

    # ---- pause, resume, update, stats ------------------------------------------
    def _cgroup(self, rec: dict):
        from . import cgroups

        cg = cgroups.from_record(rec.get("cgroup"))
        if cg is None:
            raise OCIError(f"container {self.id} has no cgroup")
        return cg

    def pause(self) -> None:
        with self.store.locked(self.id):
            rec = self._record()
            status = self.store.status(self.id, rec)
            if status not in ("running", "created"):
                raise OCIError(f"container not running: cannot pause a {status} container")
            self._cgroup(rec).freeze()

    def resume(self) -> None:
        with self.store.locked(self.id):
            rec = self._record()
            if self.store.status(self.id, rec) != "paused":
                raise OCIError("container not paused")
            self._cgroup(rec).thaw()

    def update(self, resources: dict) -> None:
        """Apply new linux.resources (merged into the recorded ones) to the cgroup.

        As runc's update: a memory limit of -1 (unlimited) without a swap
        limit lifts the swap limit too (else the kernel refuses it, memory+swap
        being below it); and the values that the kernel checks against each
        other (memory limit and swap, CFS quota and period) are written as a
        pair, the recorded one standing in for the one not given."""
        mem = resources.get("memory")
        if isinstance(mem, dict) and mem.get("limit") == -1 and "swap" not in mem:
            resources = dict(resources, memory=dict(mem, swap=-1))
        with self.store.locked(self.id):
            rec = self._record()
            if self.store.status(self.id, rec) == "stopped":
                raise NotRunning()
            linux = rec.setdefault("config", {}).setdefault("linux", {})
            merged = dict(linux.get("resources") or {})
            for k, v in resources.items():
                merged[k] = (
                    dict(merged.get(k) or {}, **v) if isinstance(v, dict) and k != "unified" else v
                )
            for k, pair in (("memory", ("limit", "swap")), ("cpu", ("quota", "period"))):
                given = resources.get(k)
                if isinstance(given, dict) and any(f in given for f in pair):
                    resources = dict(resources)
                    resources[k] = dict(given)
                    for f in pair:
                        if f not in given and f in merged[k]:
                            resources[k][f] = merged[k][f]
            cg = self._cgroup(rec)
            cg.apply(
                resources,
                linux.get("devices") or [] if "devices" in resources else None,
                update=True,
            )
            linux["resources"] = merged
            self.store.save(self.id, rec)

    def stats(self) -> dict:
        rec = self._record()
        if self.store.status(self.id, rec) == "stopped":
            raise NotRunning()
        return self._cgroup(rec).stats()

    def oom_kills(self) -> int:
        return self._cgroup(self._record()).oom_kills()

    # ---- delete ---------------------------------------------------------------
    def delete(self, force: bool = False) -> None:
        """Remove the container; a running one only with ``force``.  An unknown id
        is an error (runtime spec), but not with ``force``: runc's extension,
        which podman and containerd use to clean up after a failed create."""
        if force and not self.store.exists(self.id):
            self.store.discard_non_directory(self.id)
            self._remove_orphan_cgroup()
            return
        with self.store.locked(self.id):
            try:
                with trace.span("lock, read the state"):
                    rec = self._record()
            except OCIError:
                # a create that died half-way: its init (if any), cgroup and directory
                self._reap_partial()
                self._remove(None)
                return
            status = self.store.status(self.id, rec)
            if status != "stopped":
                if not force:
                    raise OCIError(
                        f"cannot delete container {self.id} that is not stopped: {status}"
                    )
                with trace.span("kill the init, wait for its exit"):
                    self._kill_for_delete(rec, status)
            with trace.span("remove the cgroup and the state"):
                self._remove(rec)
            self._hooks(rec, "poststop", "stopped")

    def _remove_orphan_cgroup(self) -> None:
        """delete --force of an id with no state: if a cgroup is left at the
        default path (a wiped --root, a crashed node agent), kill what runs
        there and remove it, and say so.  A custom cgroupsPath is not known
        without the state: nothing is done there."""
        from . import cgroups

        if os.geteuid() != 0:
            return
        try:
            cg = cgroups.for_config({}, self.id)
        except OCIError:
            return
        record = cg.record() or {}
        dirs = (
            [record.get("path")]
            if record.get("layout") == "v2"
            else list(dict.fromkeys([*(record.get("paths") or {}).values(), record.get("unified")]))
        )
        found = [d for d in dirs if d and os.path.isdir(d)]
        if not found:
            return
        n = len(cg.all_pids())
        cg.destroy()
        log.warn(
            f"container {self.id} has no state, but its cgroup was left: "
            f"{n} process{'es' if n != 1 else ''} killed, {found[0]} removed"
        )

    def _kill_for_delete(self, rec: dict, status: str) -> None:
        fd = self._pidfd(rec)
        if fd is None:
            return
        try:
            _signal.pidfd_send_signal(fd, SIGKILL)
            if status == "paused":
                self._cgroup(rec).thaw()  # a frozen task acts on SIGKILL only once thawed
            if not _wait_exit(fd, 10):
                raise OCIError(f"container {self.id}: init did not exit after SIGKILL")
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)

    def _reap_partial(self) -> None:
        try:
            with open(os.path.join(self.dir, "init.pid")) as f:
                pid, start = (int(x) for x in f.read().split())
        except (OSError, ValueError):
            return
        self._kill_wait({"pid": pid, "initStartTime": start})

    def _kill_wait(self, rec: dict) -> None:
        fd = self._pidfd(rec)
        if fd is None:
            return
        try:
            _signal.pidfd_send_signal(fd, SIGKILL)
            _wait_exit(fd, 10)
        except ProcessLookupError:
            pass
        finally:
            os.close(fd)

    # ---- run --------------------------------------------------------------------
    @classmethod
    def run(
        cls,
        cid: str,
        bundle: str = ".",
        root: str | None = None,
        detach: bool = False,
        keep: bool = False,
        **kw: object,
    ) -> int:
        """create + start; in the foreground wait, delete (unless ``keep``), return the status."""
        if detach:
            c = cls.create(cid, bundle, root, exec_now=True, **kw)
            if c._notify is not None:
                c._notify.forward(c.pid)
            return 0
        from . import sigfwd
        from .process.runtime import wait

        # signals that arrive before the container's process runs wait; if any
        # did, create undoes everything instead (sigfwd.py); after, they are forwarded
        held = sigfwd.block()
        try:
            c = cls.create(cid, bundle, root, exec_now=True, foreground=True, **kw)
        except BaseException:
            if sigfwd.pending() is None:  # else unblocking would kill us before the error is told
                _signal.pthread_sigmask(_signal.SIG_SETMASK, held)
            raise
        try:
            forwarding = None
            if c._notify is not None:
                forwarding = c._notify.forward_in_background(c.pid)
            with trace.span("container process runs"):
                status = wait(c.pid, c._master, held)
            if forwarding is not None:
                forwarding.acquire()  # READY passed on whole, or the init ended without one
            return status
        finally:
            if not keep:
                with trace.span("delete (cgroup, state directory)"):
                    c._cleanup_after_run()

    def _cleanup_after_run(self) -> None:
        """Remove what ``run`` made, unless someone (delete --force) already did."""
        try:
            with self.store.locked(self.id):
                # the record create made, if its file is still there (no delete --force)
                if self._rec is not None and self.store.has_record(self.id):
                    rec = self._rec
                else:
                    rec = self.store.load(self.id)
                self._remove(rec)
        except NotFound:
            return
        self._hooks(rec, "poststop", "stopped")

    # ---- checkpoint, restore ---------------------------------------------------------
    def checkpoint(self, **options: object) -> str:
        """Save the container's processes with CRIU (ociruntime/criu.py: the
        options are runc's flags); the image directory.  Without
        ``leave_running`` or ``pre_dump`` the processes are gone after it
        and the state says stopped (``delete`` removes it, or a ``restore``
        under the same id takes its place)."""
        from . import criu

        with self.store.locked(self.id):
            rec = self._record()
            status = self.store.status(self.id, rec)
            if status in ("created", "stopped"):
                raise OCIError(f"container cannot be checkpointed in {status} state")
            image = criu.checkpoint(rec, **options)
            if not (options.get("leave_running") or options.get("pre_dump")):
                rec["checkpointed"] = image
                self.store.save(self.id, rec)
        return image

    @classmethod
    def restore(
        cls,
        cid: str,
        bundle: str = ".",
        root: str | None = None,
        detach: bool = False,
        **kw: object,
    ) -> int:
        """Restore a checkpoint as container ``cid`` of ``bundle``: its cgroup,
        mounts and hooks from the bundle, its processes from the images
        (:func:`ociruntime.process.restore.restore` has the options).  Detached:
        0 once it runs.  In the foreground: wait, then remove it, as ``run``
        does; the process's status."""
        c = cls(cid, root)
        if c.store.exists(cid):
            # the checkpointed container's stopped state: the restore takes its place
            try:
                old = c.store.load(cid)
            except OCIError:
                old = None
            if old and old.get("checkpointed") and c.store.status(cid, old) == "stopped":
                c.delete()
        from . import sigfwd
        from .process import restore as r
        from .process.runtime import wait

        # as run: signals wait until the restored process runs, then are forwarded
        held = None if detach else sigfwd.block()
        try:
            done = r.restore(c.store, cid, bundle, detach=detach, **kw)
        except BaseException:
            if held is not None and sigfwd.pending() is None:
                _signal.pthread_sigmask(_signal.SIG_SETMASK, held)
            raise
        c.pid, c._rec = done.pid, done.record
        if detach:
            return 0
        try:
            with trace.span("container process runs"):
                return wait(done.pid, done.master, held)
        finally:
            c._cleanup_after_run()

    # ---- exec -------------------------------------------------------------------
    def exec(self, proc: dict, ignore_paused: bool = False, **options: object) -> int:
        """Run ``proc`` (a runtime-spec process) inside the container; the
        options and what comes back: :func:`ociruntime.process.runtime.exec_process`.
        Every failure exits 255, as runc's do."""
        from .process.runtime import exec_process

        try:
            with self.store.locked(self.id):
                rec = self._record()
                status = self.store.status(self.id, rec)
            if status == "stopped":
                raise OCIError("cannot exec in a stopped container")
            if status == "paused" and not ignore_paused:
                raise OCIError("cannot exec in a paused container (use --ignore-paused)")
        except OCIError as e:
            e.exit_code = 255
            raise
        return exec_process(self.store, self.id, rec, proc, **options)
