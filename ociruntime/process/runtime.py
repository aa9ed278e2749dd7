"""The runtime's side of bringing a process into a container: create's
(:func:`create`) and exec's (:func:`exec_process`), on one skeleton
(:class:`Spawn`): start the first child (handed the arguments if it was
forked at entry, else forked now), follow its set-up to READY, record what
the caller needs (state, pid file), commit, and undo everything if any step
fails.  What comes back is a :class:`Spawned`; nothing here touches the
caller's objects.

Runs in the ``ociruntime create``/``run``/``exec`` process (R in
docs/create-start.md and docs/exec.md).  Apart from container.py so that
start, state, kill and delete, which every container's path calls again and
again, do not load it.
"""

from __future__ import annotations

import _signal
import select
import time

from .. import SPEC_VERSION, jsonio, log, sigfwd, sync, trace
from .. import oslite as os
from ..errors import NO_PROCESS, OCIError
from ..state import Store, atomic_write, proc_start_time
from . import first_child
from .args import InitArgs

SIGKILL = _signal.SIGKILL
FORWARDED = sigfwd.FORWARDED


class Interrupted(OCIError):
    """A signal reached a foreground run or exec before the container's
    process ran: everything is undone and the runtime exits 128+N."""

    def __init__(self, sig: int) -> None:
        super().__init__(
            f"interrupted by {sigfwd.name(sig)} before the container's process started",
            exit_code=128 + sig,
        )


# how far the container side got, by the last request it made, when it died
GONE_AFTER = {
    "": "before its first report: joining or making namespaces and the cgroup, or the mounts",
    sync.USERNS: "after its uid and gid maps were written",
    sync.PID: "after it forked the container's init",
    sync.CREATE_RUNTIME: (
        "once its mounts were made: in the prestart, createRuntime or createContainer "
        "hooks, pivot_root or the process's set-up"
    ),
    # told where it would have asked (InitArgs.runtime_point_unasked): it
    # reports nothing more before READY, so it may have been anywhere
    sync.CREATE_RUNTIME_DONE: (
        "in its set-up, which it reports only when done: namespaces, mounts, "
        "createContainer hooks, pivot_root or the process's set-up"
    ),
}


class Spawned:
    """What create and exec leave to their caller: the process's host pid,
    create's state record, and the pty master a foreground caller relays."""

    __slots__ = ("pid", "record", "master", "notify")

    def __init__(
        self, pid: int, record: dict | None, master: int | None, notify: object = None
    ) -> None:
        self.pid = pid
        self.record = record
        self.master = master
        self.notify = notify  # run with NOTIFY_SOCKET: the notify.Listener to forward from


class Spawn:
    """One process brought into a container, from this side: the first
    child, the conversation with it up to READY, the commit.  ``pid`` is the
    process to kill should anything fail (the first child until the
    container side names another)."""

    def __init__(self, args: InitArgs, term: Terminal) -> None:
        self.args = args
        self.term = term
        self.pid = 0  # the process followed: the first child, then whom it forked
        self.sock: sync.Channel | None = None
        self.early = None
        self.reaped = False  # ready() reaped it (its pid may be another's now)

    def choose(self, in_userns: bool, late: bool) -> bool:
        """Which first child: the one forked at entry (or one executed from
        the read-only interpreter clone), or, when ``late`` (a pty end,
        idmapped trees: only a fork carries them), one :meth:`start` forks.
        True if it is forked late (and will have what is in memory)."""
        self.args.console = self.term.child_end()
        self.early = first_child.choose(self.args, in_userns, late)
        return self.early is None

    def start(self, exec_sock_dir: str | None, at_fork: dict) -> None:
        """Hand the arguments to the early child (it makes the exec socket in
        ``exec_sock_dir``), or fork one, born in the pid and time namespaces
        of ``at_fork``."""
        a = self.args
        if self.early is not None:
            self.pid, self.sock = self.early
            with trace.span("hand the arguments to the first child (forked early)"):
                first_child.hand_over(self.sock, a.to_wire(exec_sock_dir))
        else:
            offsets = (a.config.get("linux") or {}).get("timeOffsets")
            self.pid, self.sock = first_child.fork(a, at_fork, offsets)

    def follow(self, pid: int) -> None:
        """The process followed so far forked ``pid``, which goes on, and
        exits: reap it."""
        with trace.span("follow the process the first child forked"):
            if self.pid != pid:
                os.waitpid(self.pid, 0)
            self.pid = pid

    def follow_pid(self, msg: dict) -> None:
        """:meth:`follow` the pid of a PID message (a ``ready`` handler)."""
        self.follow(msg["pid"])

    def ready(self, gone: str, handlers: dict | None = None, told: str = "") -> dict:
        """Answer the container side's requests until READY (returned) or ERROR
        (raised); the set-up's trace spans join ours.  Should the other side
        die instead, the error says how far it got and how it ended: by the
        last request it made, or ``told``, what we sent it unasked."""
        last = [told]

        def noting(kind: str, handler):
            def handle(msg: dict):
                last[0] = kind
                return handler(msg)

            return handle

        try:
            with trace.span("wait for set-up in the container"):
                msg = sync.converse(
                    self.sock,
                    {k: noting(k, h) for k, h in (handlers or {}).items()},
                    (sync.READY,),
                )
        except sync.PeerGone:
            raise OCIError(f"{gone} ({GONE_AFTER[last[0]]}): {self.reap()}") from None
        except sync.Failed as e:
            trace.add(e.message.pop("trace", None) or [])
            if e.message.get("traceback"):
                log.debug("container-side traceback:\n" + e.message["traceback"])
            raise
        trace.add(msg.pop("trace", None) or [])
        return msg

    def commit(
        self, pid_file: str | None, kind: str, state: dict, foreground: bool = False
    ) -> None:
        """Recorded: the pty master received, the pid file written; let the
        process go on and wait for its ack.  In the foreground, a signal that
        arrived meanwhile stops it here instead (:class:`Interrupted`)."""
        if foreground and (sig := sigfwd.pending()) is not None:
            raise Interrupted(sig)
        self.term.receive()
        if pid_file:
            with trace.span("write the pid file"):
                atomic_write(os.path.abspath(pid_file), str(self.pid))
        try:
            with trace.span("commit, wait for the ack"):
                sync.request(self.sock, kind, state=state)
        except sync.PeerGone:
            raise OCIError(
                f"the container process exited before it was committed: {self.reap()}"
            ) from None
        finally:
            self.sock.close()

    def reap(self) -> str:
        """How the process followed ended, once its channel closed (reaped)."""
        try:
            fd = os.pidfd_open(self.pid)
        except OSError:
            return "its exit status is lost"
        try:
            if not select.select([fd], [], [], 5.0)[0]:
                return "it closed its end of the channel but did not exit"
        finally:
            os.close(fd)
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return "its exit status is lost"
        self.reaped = True
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            try:
                name = _signal.strsignal(sig) or ""
            except ValueError:
                name = ""
            return f"killed by signal {sig}" + (f" ({name})" if name else "")
        return f"exit status {os.WEXITSTATUS(status)}"

    def abort(self) -> None:
        """Kill and reap what was started (its mounts and namespaces go with it;
        a first child's own children die with it: PDEATHSIG)."""
        if self.sock is not None:
            self.sock.close()
        if self.reaped:
            pass
        elif self.pid > 0:
            kill_reap(self.pid)
        elif self.early is not None:  # chosen, never started
            pid, ch = self.early
            ch.close()
            os.waitpid(pid, 0)
        self.term.close()


# ---- create ----------------------------------------------------------------------------


def create(
    store: Store,
    cid: str,
    bundle: str = ".",
    pid_file: str | None = None,
    console_socket: str | None = None,
    no_pivot: bool = False,
    no_new_keyring: bool = False,
    preserve_fds: int = 0,
    exec_now: bool = False,
    foreground: bool = False,
) -> Spawned:
    """Set a container up; its init waits for start (or, ``exec_now``: run,
    execs at once).  Everything it made is undone if a step fails."""
    from ..config.load import load_bundle

    gaps = reserve_preserved(3, preserve_fds)
    with trace.span("load and validate bundle"):
        b = load_bundle(bundle)
    with trace.span("check security settings"):
        sec = plan(b.config)
    proc = b.config.get("process")
    if proc is None and exec_now:  # run = create + start, and start would refuse it
        raise OCIError(NO_PROCESS, "config.json: /process")
    notify_host = os.environ.get("NOTIFY_SOCKET") if proc is not None else None
    if notify_host:
        from .. import notify

        notify.check(notify_host)
    more = socket_activation(proc or {})
    gaps += reserve_preserved(3 + preserve_fds, more)
    preserve_fds += more
    term = Terminal(proc or {}, console_socket, foreground)
    with trace.span("make the state directory"):
        lock = store.make(cid)
    args = InitArgs(
        sec,
        config=b.config,
        bundle=b.path,
        rootfs=b.rootfs,
        no_pivot=no_pivot,
        preserve_fds=preserve_fds,
        preserve_gaps=gaps,
        debug=log.debugging(),
        keyring=None if no_new_keyring else cid,
    )
    sp = Spawn(args, term)
    cg = None
    before = None
    listener = None
    try:
        if notify_host:
            # a mount and a variable more (notify.py); run's process may send at once
            notify.prepare(b.config, store.dir(cid))
            if exec_now:
                listener = notify.listen(store.dir(cid), cid, notify_host)
        before = host_mounts_before(b.config, b.rootfs)
        args.idmaps = runtime_trees(b.config, b.path)
        try:
            cg = made_cgroup(store, cid, args)
            rec = _create(store, cid, sp, cg, pid_file, exec_now, before)
        finally:
            for fd in args.idmaps.values():
                os.close(fd)
    except BaseException as e:
        sp.abort()
        if listener is not None:
            listener.close()
        if before is not None:
            undo_host_mounts(b.config, b.rootfs, before, e)
        if cg is not None:
            try:
                # a frozen cgroup was there before us, the caller's: only what we made goes
                cg.remove_made() if isinstance(e, ForeignCgroup) else cg.destroy()
            except OCIError as e2:
                if isinstance(e, OCIError):  # one line: the failure, then what it left
                    e.msg += f" (and cleaning up after it: {e2.text})"
                else:
                    log.warn(f"cleaning up after a failed create: {e2.text}")
        store.remove(cid)
        raise
    finally:
        os.close(lock)
    return Spawned(sp.pid, rec, term.take_master(), listener)


def host_mounts_before(config: dict, rootfs: str) -> dict | None:
    """For a container that will mount under its rootfs in the caller's mount
    namespace (none of its own, mounts or devices asked for): the mounts
    already there (linux/hostmounts.py); otherwise None."""
    from ..linux import namespaces

    if "mount" in namespaces.of(config):
        return None
    if not (config.get("mounts") or (config.get("linux") or {}).get("devices")):
        return None
    from ..linux import hostmounts

    return hostmounts.under(rootfs)


def host_mount_places(config: dict) -> list[str]:
    """Where in the rootfs the init mounts: the mounts' destinations, and /dev
    when devices are asked for (bound there in a user namespace)."""
    places = [m["destination"] for m in config.get("mounts") or []]
    return places + ["/dev"] if (config.get("linux") or {}).get("devices") else places


def undo_host_mounts(config: dict, rootfs: str, before: dict, e: BaseException) -> None:
    """A failed create's mounts under the rootfs, made in the caller's mount
    namespace: detached; what cannot be is said with the failure."""
    from ..linux import hostmounts

    try:
        hostmounts.undo(hostmounts.new_since(rootfs, before, host_mount_places(config)), rootfs)
    except OSError as e2:
        text = e2.strerror or f"detaching mounts under {rootfs}: {e2}"
        if isinstance(e, OCIError):
            e.msg += f" (and cleaning up after it: {text})"
        else:
            log.warn(f"cleaning up after a failed create: {text}")


def needs_runtime_trees(config: dict) -> bool:
    """Whether linux/idmap.py has work for ``config``: an idmapped mount
    (idmap.wanted), or, as root, a new user namespace (its bind sources and
    device nodes).  Checked here so that the other containers' create never
    imports idmap (12 KB of code, 0.1 ms); tests/unit/test_runtime_trees.py
    holds this to idmap.wanted."""
    linux = config.get("linux") or {}
    if os.geteuid() == 0 and any(ns.get("type") == "user" for ns in linux.get("namespaces") or []):
        return True
    for m in config.get("mounts") or []:
        if m.get("uidMappings") or m.get("gidMappings"):
            return True
        opts = m.get("options") or []
        if "idmap" in opts or "ridmap" in opts:
            return True
    return False


def runtime_trees(config: dict, bundle: str) -> dict[int, int]:
    """idmap.prepare's fds for the init, {} (and idmap not imported) when
    :func:`needs_runtime_trees` says it has nothing to make."""
    if not needs_runtime_trees(config):
        return {}
    from ..linux import idmap

    return idmap.prepare(config, bundle)


def made_cgroup(store: Store, cid: str, args: InitArgs):
    """The container's cgroup manager, recorded in cgroup.json before anything
    of it exists (so that delete --force finds it after a crash)."""
    import ociruntime

    from .. import cgroups

    linux = args.config.get("linux") or {}
    cg = cgroups.for_config(
        linux,
        cid,
        rootless=rootless(),
        systemd=ociruntime.SYSTEMD_CGROUP,
        annotations=args.config.get("annotations"),
    )
    with trace.span("record cgroup.json"):
        atomic_write(os.path.join(store.dir(cid), "cgroup.json"), jsonio.dumps(cg.record()))
    return cg


def _create(
    store: Store,
    cid: str,
    sp: Spawn,
    cg,
    pid_file: str | None,
    exec_now: bool,
    host_mounts: dict | None = None,
) -> dict:
    from ..linux import namespaces

    a = sp.args
    state_dir = store.dir(cid)
    nss = namespaces.of(a.config)
    linux = a.config.get("linux") or {}
    # The container side joins its cgroups itself (cgroups.base.join_self): it is
    # forked into the cgroup2 directory, made now, and moves into the v1 ones when
    # we send them.  Not from inside a user namespace, which cannot write the
    # host's cgroupfs: there we move it, through cgroup.procs.
    if "user" not in nss:
        with trace.span("cgroup: create (cgroup2)"):
            a.cgroup2 = cg.create_cgroup2()
        a.join_v1 = bool(cg.targets()[0])
    refuse_foreign(cg)
    new_userns = nss.get("user", "") is None
    if new_userns:
        # a new user namespace must own the new pid namespace: the first child
        # makes that one itself, after the user namespace, and forks the real init
        at_fork = {k: nss[k] for k in ("time",) if k in nss}
        grandchild = "pid" in nss
    else:
        # pid and time namespaces apply to children only: the first child makes
        # (or joins) them and forks the real init, so that this process never
        # loads the FFI (the container side does all the syscalls)
        at_fork = {}
        grandchild = a.fork_init = bool("pid" in nss or "time" in nss or a.cgroup2)
        # another's pid namespace (no user namespace of ours to keep its processes
        # out): the process is forked into it only once set up (init.fork_visible)
        a.hidden = bool(nss.get("pid")) and "user" not in nss
    configured = a.config.get("hooks") or {}
    # the init's pid is known before the cgroups are made (no user namespace to
    # wait for, no process forked last) and nothing runs at the createRuntime
    # point: its reply goes out unasked (sync.CREATE_RUNTIME_DONE)
    a.runtime_point_unasked = not (
        new_userns
        or a.hidden
        or configured.get("prestart")
        or configured.get("createRuntime")
        or linux.get("netDevices")
    )
    # A real init forked by the first child is our child all the same (CLONE_PARENT:
    # first_child.fork_real_init).  A subreaper still where we must follow or
    # reap a process that is not: the one a hidden set-up forks last
    # (init.fork_visible), and, as runc's foreground run, the orphans of a
    # container that shares a pid namespace (in a new one, its init reaps them).
    if grandchild and (a.hidden or (sp.term.foreground and nss.get("pid", "") is not None)):
        become_subreaper()
    late = sp.choose("user" in nss, bool(sp.term.child_end() is not None or a.idmaps or new_userns))
    lsock = None
    try:
        if not exec_now and late:
            lsock = sync.listen_exec(state_dir)  # a child forked early binds its own
        a.exec_sock = lsock
        sp.start(None if exec_now else state_dir, at_fork)
        if lsock is not None:
            lsock.close()  # now: a dead init must refuse start's connect
            lsock = a.exec_sock = None
        if a.fork_init:
            # the first child made the pid (and time) namespaces and forked the init;
            # init.pid names the init alone: the first child's pid, recorded too, would
            # name a process that ends within the millisecond (the init kills it) and
            # dies with us anyway (PDEATHSIG), at an atomic write's cost (0.03 ms on
            # tmpfs, 0.16 on ext4)
            sp.follow(sync.expect(sp.sock, sync.PID)["pid"])
        record_init(state_dir, sp.pid)
        # the rest of the cgroup while the init sets up its namespaces and mounts;
        # it joins before it asks for the createRuntime hooks, which may look for it
        with trace.span("cgroup: create"):
            cg.create()
        with trace.span("cgroup: apply resources"):
            cg.apply(linux.get("resources") or {}, linux.get("devices") or [])
        if a.join_v1 or a.cgroup2 is None:
            # the rest of the cgroup exists now, and the init is not in it yet.  Not
            # the cgroup2 directory the init was born in: it was checked before, and
            # by now the init's set-up may have forked helpers there (a joined pid
            # namespace's procfs, init.procfs_context), which are ours
            refuse_foreign(cg, sp.pid)
        if a.join_v1:
            try:
                sync.send(sp.sock, sync.JOIN, dirs=cg.targets()[0])
            except (OSError, sync.PeerGone):
                pass  # the init died: ready() reports why
        elif a.cgroup2 is None:
            with trace.span("cgroup: add init"):
                cg.add(sp.pid)
        creating = {
            "ociVersion": SPEC_VERSION,
            "id": cid,
            "status": "creating",
            "pid": sp.pid,
            "bundle": a.bundle,
            "annotations": a.config.get("annotations") or {},
        }

        def create_runtime(msg: dict) -> dict:
            netdevs = linux.get("netDevices")
            if netdevs:
                from ..linux import netdev

                with trace.span("move netDevices"):
                    creating["netDevices"] = netdev.move(netdevs, sp.pid)
            for kind in ("prestart", "createRuntime"):
                if configured.get(kind):
                    from .. import hooks

                    with trace.span(f"{kind} hooks"):
                        hooks.run_all(configured, kind, creating)
            return {"state": creating, "cgroup": cg.record()}

        if a.runtime_point_unasked:  # the reply, with no hook or device to see to first
            try:
                sync.send(sp.sock, sync.CREATE_RUNTIME_DONE, **create_runtime({}))
            except (OSError, sync.PeerGone):
                pass  # the init died: ready() reports why

        def write_maps(msg: dict) -> dict:
            from ..linux import userns

            userns.write_maps(sp.pid, linux)
            return {}

        def new_init(msg: dict) -> None:
            """The first child forked the real init and exits: follow it."""
            sp.follow(msg["pid"])
            creating["pid"] = sp.pid
            record_init(state_dir, sp.pid)

        handlers = {sync.USERNS: write_maps, sync.PID: new_init}
        if not a.runtime_point_unasked:
            handlers[sync.CREATE_RUNTIME] = create_runtime
        ready = sp.ready(
            "container init exited during set-up",
            handlers,
            told=sync.CREATE_RUNTIME_DONE if a.runtime_point_unasked else "",
        )
        if "pid" in ready:  # set up hidden: the process was forked last
            new_init(ready)
        start = proc_start_time(sp.pid)
        rec = {
            "ociVersion": SPEC_VERSION,
            "id": cid,
            "pid": sp.pid,
            "bundle": a.bundle,
            "rootfs": a.rootfs,
            "created": rfc3339(time.time_ns()),
            "owner": owner(),
            "annotations": a.config.get("annotations") or {},
            "initStartTime": start[0] if start else 0,
            "config": a.config,
            "cgroup": cg.record(),
        }
        if host_mounts is not None:
            from ..linux import hostmounts

            # the mounts the init made in the caller's namespace, for delete
            rec["hostMounts"] = hostmounts.new_since(
                a.rootfs, host_mounts, host_mount_places(a.config)
            )
        with trace.span("record the state"):
            store.save(cid, rec)
        sp.commit(
            pid_file,
            sync.EXEC if exec_now else sync.COMMIT,
            store.public(cid, rec),
            foreground=sp.term.foreground,
        )
        return rec
    finally:
        if lsock is not None:
            lsock.close()


def record_init(state_dir: str, pid: int) -> None:
    """init.pid: the pid and its start time, for delete --force of a create
    that died before state.rec."""
    with trace.span("record init.pid"):
        start = proc_start_time(pid)
        atomic_write(os.path.join(state_dir, "init.pid"), f"{pid} {start[0] if start else 0}\n")


def reserve_preserved(start: int, n: int) -> list[int]:
    """The fds of ``start``..``start+n-1`` the caller did not open, each
    taken by a close-on-exec /dev/null until the runtime exits: no fd the
    runtime opens after this (the state lock, a console socket, the sync
    socket) can land on a number the container's process inherits with
    --preserve-fds.  The child forked at entry is let go first: its sync
    socket was made before anyone knew the range (the runtime forks one
    late instead).  The container side leaves the gaps out
    (procattr.close_fds)."""
    if n <= 0:
        return []
    first_child.cancel()
    from .. import codebundle

    codebundle.forget()  # the launcher's kept bundle fd may sit in the range
    gaps = []
    for fd in range(start, start + n):
        try:
            os.fstat(fd)
        except OSError:
            gaps.append(fd)
    if gaps:
        null = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
        for fd in gaps:
            if fd != null:
                os.dup2(null, fd, inheritable=False)
        if null not in gaps:
            os.close(null)
    return gaps


class ForeignCgroup(OCIError):
    """The container's cgroup was in use before the container existed: frozen,
    or holding processes.  The create is refused and leaves it as it was."""


def refuse_foreign(cg, ours: int = 0) -> None:
    """An init that joins a frozen cgroup stops dead and create waits for it
    forever: refuse, as runc does, before it joins.  A cgroup that holds
    processes is another container's (one whose state was lost): joining it
    would share its limits and, at delete, kill them."""
    if cg.frozen():
        raise ForeignCgroup("container's cgroup unexpectedly frozen", cg.where())
    pids = [p for p in cg.all_pids() if p != ours]
    if pids:
        raise ForeignCgroup(
            f"container's cgroup is not empty ({len(pids)} process"
            f"{'es' if len(pids) != 1 else ''}, e.g. pid {pids[0]}): a container whose"
            " state was lost? (delete --force it first)",
            cg.where(),
        )


# ---- exec ------------------------------------------------------------------------------


def exec_process(
    store: Store,
    cid: str,
    rec: dict,
    proc: dict,
    detach: bool = False,
    pid_file: str | None = None,
    console_socket: str | None = None,
    preserve_fds: int = 0,
    sub_cgroup: str | None = None,
) -> int:
    """Run ``proc`` (a runtime-spec process) in the container whose record is
    ``rec`` (checked running or paused by the caller).  ``sub_cgroup``
    (runc's ``--cgroup``): a sub-cgroup of the container's to join instead,
    ``PATH`` for every controller or ``CTL[,CTL]:PATH`` (v1).

    Foreground: the process's exit status.  Detached: 0 once it runs.  Every
    failure is an OCIError with exit code 255, as runc's are.
    """
    from .. import cgroups

    config = rec.get("config") or {}
    linux = config.get("linux") or {}
    cfg = {
        "ociVersion": config.get("ociVersion", SPEC_VERSION),
        "process": proc,
        "linux": {k: linux[k] for k in ("seccomp", "namespaces") if k in linux},
    }
    held = None
    sp = None
    gaps = reserve_preserved(3, preserve_fds)
    try:
        sec = plan(cfg)
        term = Terminal(proc, console_socket, not detach)
        cg = cgroups.from_record(rec.get("cgroup"))
        targets = cg.targets(sub_cgroup) if cg is not None else ([], None)
        args = InitArgs(
            sec,
            config=cfg,
            bundle=rec["bundle"],
            rootfs=rec["rootfs"],
            preserve_fds=preserve_fds,
            preserve_gaps=gaps,
            debug=log.debugging(),
            join_pid=rec["pid"],
            state=store.public(cid, rec),  # for a seccomp agent
        )
        # As root the container side joins the cgroups itself, born in the cgroup2
        # directory and "0" to each v1 tasks file (cgroups.base.join_self: no grace
        # period, unlike our writes to cgroup.procs); rootless, the host's cgroupfs
        # is ours to write only from out here, after READY.
        rootless_ = os.geteuid() != 0
        if not rootless_:
            args.cgroup_v1, args.cgroup2 = targets
        sp = Spawn(args, term)
        # the process is forked by the set-up child (or its child), never by us
        become_subreaper()
        held = None if detach else sigfwd.block()
        nss = [ns["type"] for ns in linux.get("namespaces") or []]
        sp.choose("user" in nss, term.child_end() is not None)
        sp.start(None, {})
        # PID: the set-up child's own child, born in the cgroup2 directory, took over
        ready = sp.ready("exec: the process exited during set-up", {sync.PID: sp.follow_pid})
        # the set-up processes end once the process is forked: it is our child now
        sp.follow(ready["pid"])
        if rootless_ and cg is not None:
            from ..cgroups import base

            with trace.span("cgroup: add the process"):
                base.add(targets, sp.pid)
        sp.commit(pid_file, sync.EXEC, store.public(cid, rec), foreground=not detach)
    except BaseException as e:
        if sp is not None:
            sp.abort()
        if held is not None and sigfwd.pending() is None:
            # (with one pending, unblocking would kill us before the error is told)
            _signal.pthread_sigmask(_signal.SIG_SETMASK, held)
        if isinstance(e, OCIError) and not isinstance(e, Interrupted):
            e.exit_code = 255
        raise
    if detach:
        return 0
    return wait(sp.pid, term.take_master(), held)


# ---- shared ---------------------------------------------------------------------------


def rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def plan(config: dict):
    from ..linux import security

    sec = security.plan(config)
    if sec.seccomp and sec.seccomp.skipped:
        log.debug(
            f"seccomp: syscalls unknown to libseccomp skipped: {', '.join(sec.seccomp.skipped)}"
        )
    return sec


def rootless() -> bool:
    """--rootless (ociruntime.ROOTLESS): true, false, or auto (a non-root caller)."""
    import ociruntime

    return ociruntime.ROOTLESS == "true" or (ociruntime.ROOTLESS == "auto" and os.geteuid() != 0)


def socket_activation(proc: dict) -> int:
    """systemd socket activation, as runc passes it on: with LISTEN_FDS=N in our
    environment, fds 3..3+N-1 go to the container, before any --preserve-fds,
    and its process gets LISTEN_FDS=N and LISTEN_PID=1.  Only when LISTEN_PID
    is our own pid, as sd_listen_fds(3) and runc have it: the variables are
    inherited by whatever the activated process starts (conmon gets podman's),
    and those processes' fds 3... were never passed to them."""
    n = os.environ.get("LISTEN_FDS")
    if not n or not n.isdigit() or int(n) <= 0:
        return 0
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return 0
    env = [e for e in proc.get("env") or [] if not e.startswith(("LISTEN_FDS=", "LISTEN_PID="))]
    proc["env"] = env + [f"LISTEN_FDS={n}", "LISTEN_PID=1"]
    return int(n)


def owner() -> str:
    """The user who created the container, by name as runc reports it."""
    uid = os.geteuid()
    if uid == 0:
        return "root"  # without reading nsswitch.conf and passwd on every create
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def become_subreaper() -> None:
    """PR_SET_CHILD_SUBREAPER, through python-prctl's C module when it is there
    (cheaper than loading the FFI into the runtime process)."""
    try:
        import _prctl
    except ImportError:
        from ..linux import syscalls as sc

        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    else:
        _prctl.prctl(_prctl.PR_SET_CHILD_SUBREAPER, 1)


def kill_reap(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def wait(pid: int, master: int | None, held: object = None) -> int:
    """Foreground: forward signals (and relay the pty) until ``pid`` exits; its status.

    ``held`` is the signal mask from before the caller blocked FORWARDED: restoring
    it once the handlers are in place delivers, and forwards, what arrived meanwhile.
    """

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    before = {s: _signal.signal(s, forward) for s in FORWARDED}
    if held is not None:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, held)
    try:
        if master is not None:
            from ..linux import console

            status = console.relay(master, pid)
        else:
            _, status = os.waitpid(pid, 0)
    finally:
        for s, handler in before.items():  # SIGPIPE back to ignored, as CPython has it
            _signal.signal(s, handler)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class Terminal:
    """process.terminal: where the pty master goes (a console socket, or us)."""

    def __init__(self, proc: dict, console_socket: str | None, foreground: bool) -> None:
        self.foreground = foreground
        self.sock = None  # the end the child sends the master on
        self.ours = None  # our end, when we relay the pty ourselves
        self.master: int | None = None
        if not proc.get("terminal"):
            if console_socket:
                raise OCIError("--console-socket given but process.terminal is false")
            return
        from ..linux import console

        if console_socket:
            self.sock = console.connect(console_socket)
        elif foreground:
            import _socket

            self.ours, self.sock = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        else:
            raise OCIError(
                "cannot allocate a tty without --console-socket when detached (process.terminal is true)"
            )

    def child_end(self):
        return self.sock

    def receive(self) -> None:
        """After the child's READY: the master it sent us (relay mode)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.ours is not None:
            from ..linux import console

            self.master = console.recv_master(self.ours)
            self.ours.close()
            self.ours = None

    def take_master(self) -> int | None:
        m, self.master = self.master, None
        return m

    def close(self) -> None:
        for s in (self.sock, self.ours):
            if s is not None:
                s.close()
        if self.master is not None:
            os.close(self.master)
            self.master = None
