"""The container's first child: how it is made, and its own work.

Made in the runtime (R): forked at entry before the runtime imports the
CLI (:func:`start`; what both sides need is imported just before, once:
:func:`import_shared`), so that it imports the rest of the container side
on the other CPU while the runtime imports and checks the config, then handed its
arguments as JSON (:func:`hand_over`); or executed from a read-only clone
of the interpreter for a container that may hold CAP_LINUX_IMMUTABLE
(:func:`start_readonly`, linux/exe.py); or forked late with the arguments
in memory (:func:`fork`), when they hold what only a fork carries (a pty
end, idmapped trees, a user namespace's set-up).  :func:`choose` picks.

Run in the first child (C1 in docs/create-start.md, C in docs/exec.md):
:func:`serve` waits for the arguments, :func:`run` does the first child's
own work and hands over to the container side (init.py) in whichever
process goes on: for create, the pid and time namespaces (or a user
namespace first) and the fork of the init into them and into the cgroup2
directory; for exec, the birth in the container's cgroup.  Every process
here is non-dumpable with PDEATHSIG from its first line: none outlives a
runtime that died or gave up.

Only ``posix`` is imported at module level: :func:`start` runs before
``os`` is.
"""

from __future__ import annotations

import posix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..sync import Channel
    from .args import InitArgs

_child: tuple[int, int] | None = None

# The modules both sides of the early fork import: the runtime for the config,
# the state and the sync protocol, the child for the same protocol and the
# first steps of the set-up (tests/integration/test_hot_path.py pins it: each
# is imported once, and the runtime imports none of the child's own).
SHARED = (
    "ociruntime.log",
    "ociruntime.sync",
    "ociruntime.trace",
    "ociruntime.cgroups.base",
    "ociruntime.linux.capabilities",
    "ociruntime.linux.flags",
    "ociruntime.linux.namespaces",
    "ociruntime.linux.security",
    "ociruntime.process.args",
)


# ---- made by the runtime -----------------------------------------------------------------


def import_shared() -> None:
    """Import :data:`SHARED` before the fork, once for both processes.

    Imported after it, each side made its own copy, and the child paid more
    than the runtime would: every page of the interpreter's memory it writes
    while importing is copied, the fork having shared them.  Measured (run of
    /bin/true, interleaved pairs): 40.5 -> 38.7 ms of CPU (150 pairs) and
    41.7 -> 38.9 (80), wall time the same or less.  The child's own modules
    (init, rootfs, the FFI and ctypes) stay in the child: imported here,
    they would only grow the runtime's memory.  By name, from SHARED, the
    one list (tests/unit/test_layers.py reads SHARED as imports of this
    module).
    """
    for name in SHARED:
        __import__(name)  # sync among them: it loads _json (jsonio.load_c) for both sides


def start() -> None:
    """Fork the child at entry (root only: rootless creates take the late path)."""
    global _child
    if posix.geteuid() != 0:
        return
    import_shared()
    import _socket  # a raw pair: each side wraps its own fd (sync.Channel)

    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
    ours, theirs = a.detach(), b.detach()
    pid = posix.fork()
    if pid == 0:
        posix.close(ours)
        from ..sync import Channel

        serve(Channel(theirs))  # never returns
    posix.close(theirs)
    _child = (pid, ours)


def start_readonly(keep: list[int]) -> None:
    """Fork a first child that executes the interpreter from the read-only
    clone of its directory (linux/exe.py) and then serves as the child forked
    at entry does (:func:`take` returns it).  Its fds ``keep`` (a console
    socket end, idmapped trees, preserved fds) cross the exec; the child
    imports the container side itself, so this costs an interpreter start."""
    global _child
    import sys

    from ..codebundle import BOOT_MAX
    from ..linux import exe
    from ..sync import socketpair

    cancel()
    fd = exe.readonly_exe()
    home = exe.private_dir()
    bundle = home + "/ociruntime.bundle"
    ours, theirs = socketpair()
    pid = posix.fork()
    if pid == 0:
        try:
            posix.close(ours)
            posix.set_inheritable(theirs, True)
            for k in keep:
                try:
                    posix.set_inheritable(k, True)
                except OSError:
                    pass  # a --preserve-fds fd the caller did not open: left out, as crun does
            code = (
                "import marshal, posix\n"
                f"f = posix.open({bundle!r}, posix.O_RDONLY | posix.O_CLOEXEC)\n"
                f"exec(marshal.loads(posix.pread(f, {BOOT_MAX}, 16)))\n"
                f"boot(f, {bundle!r}, {sys.path!r})\n"
                "from ociruntime.process import first_child\n"
                "from ociruntime.sync import Channel\n"
                f"first_child.serve(Channel({theirs}))\n"
            )
            posix.execve(fd, [home + "/python3", "-IS", "-c", code], posix.environ)
        finally:
            posix._exit(127)
    posix.close(fd)
    posix.close(theirs)
    _child = (pid, ours)


def take() -> tuple[int, Channel] | None:
    """The forked child as (pid, our sync Channel), now ours to use; or None."""
    global _child
    c, _child = _child, None
    if c is None:
        return None
    from ..sync import Channel

    return c[0], Channel(c[1])


def choose(args: InitArgs, in_userns: bool, late: bool) -> tuple[int, Channel] | None:
    """The container's first child, when the runtime does not fork it itself
    (None: it will, :func:`fork`, because ``late``).  A process that may hold
    CAP_LINUX_IMMUTABLE gets one running from the read-only clone of the
    interpreter (linux/exe.py), which the fds it needs cross by exec;
    otherwise the child forked at entry serves, unless ``late``."""
    from ..linux import exe

    if exe.needs_readonly_exe(args.sec.caps, in_userns):
        keep = [*range(3, 3 + args.preserve_fds), *args.idmaps.values()]
        if args.console is not None:
            keep.append(args.console.fileno())
        start_readonly(keep)
        return take()
    if late:
        cancel()
        return None
    return take()


def hand_over(ch: Channel, wire: dict) -> None:
    """Send the taken child its InitArgs (``InitArgs.to_wire``); one that died
    meanwhile is the user's one-line error, not a broken pipe."""
    from .. import sync
    from ..errors import OCIError

    try:
        sync.send(ch, sync.ARGS, **wire)
    except (OSError, sync.PeerGone):
        raise OCIError("container init exited before it got its arguments") from None


def cancel() -> None:
    """Not needed after all: the child sees EOF and exits; reap it."""
    c = take()
    if c is not None:
        pid, ch = c
        ch.close()
        try:
            posix.waitpid(pid, 0)
        except ChildProcessError:
            pass


def fork(args: InitArgs, nss: dict, offsets: dict | None = None) -> tuple[int, Channel]:
    """The late fork: a first child with ``args`` in memory, born in the pid
    and time namespaces of ``nss``; (pid, our sync end)."""
    from .. import oslite as os
    from .. import sync, trace
    from ..linux import namespaces

    parent, child = sync.pair()
    args.sync = child
    try:
        with trace.span("fork"), namespaces.for_children(nss, offsets):
            pid = os.fork()
            if pid == 0:
                parent.close()
                run(args)  # never returns
    finally:
        child.close()
    return pid, parent


# ---- run in the first child ---------------------------------------------------------------


def serve(ch: Channel) -> None:
    """The child forked at entry (or executed from the read-only clone): the
    container side is imported now, while the runtime checks the config;
    wait for the arguments, then :func:`run`.  EOF (the runtime gave up on
    this child, or died) ends it quietly."""
    from .. import oslite as os
    from .. import sync
    from ..linux import syscalls as sc
    from . import init  # noqa: F401 - now, on the other CPU
    from .args import InitArgs

    try:
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
        sc.prctl(sc.PR_SET_PDEATHSIG, 9)  # SIGKILL
        msg = sync.expect(ch, sync.ARGS)
    except BaseException:  # noqa: BLE001 - PeerGone above all: nothing to report to
        os._exit(1)
    try:
        a = InitArgs.from_wire(msg, ch)
    except BaseException as e:  # noqa: BLE001 - e.g. the exec socket: tell the runtime
        try:
            sync.send(ch, sync.ERROR, msg=f"container init: {e}", where=None)
        finally:
            os._exit(1)
    run(a)


def run(a: InitArgs) -> None:
    """The first child's own work, then the container side (init.main) in
    the process that goes on.  Never returns."""
    from .. import oslite as os
    from .. import sync, trace
    from ..linux import namespaces
    from ..linux import syscalls as sc
    from . import init

    try:
        # non-dumpable first: no ptrace, no /proc/PID/fd or /proc/PID/exe for a
        # process that cannot see us through CAP_SYS_PTRACE in the host's user namespace
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
        # (a parent that died before this shows as EOF on the sync socket)
        sc.prctl(sc.PR_SET_PDEATHSIG, 9)  # SIGKILL
        close_inherited(a)
        trace.reset()
        if a.join_pid:
            join_exec_cgroup(a)
        else:
            os.umask(0)
            nss = namespaces.of(a.config)
            if nss.get("user", "") is None:
                if nss.get("pid"):
                    # joining a pid namespace needs CAP_SYS_ADMIN where it was
                    # made, which the new user namespace will not give: now
                    namespaces.for_next_children("pid", nss["pid"])
                with trace.span("user namespace"):
                    new_user_namespace(a, nss)
            elif a.fork_init:
                with trace.span("pid and time namespaces, fork the init"):
                    fork_into_pid_namespace(a, nss)
    except sync.PeerGone:
        os._exit(1)
    except BaseException as e:  # noqa: BLE001 - must report and never return
        try:
            init.report(a, e)
        finally:
            os._exit(1)
    init.main(a)


def close_inherited(a: InitArgs) -> None:
    """Drop every fd fork copied from the runtime (the state lock above all)."""
    from .. import oslite as os

    keep = {a.sync.fileno()}
    for sock in (a.exec_sock, a.console):
        if sock is not None and sock.fileno() >= 0:
            keep.add(sock.fileno())
    keep.update(a.idmaps.values())
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= 3 + a.preserve_fds and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def new_user_namespace(a: InitArgs, nss: dict) -> None:
    """unshare(CLONE_NEWUSER), have the runtime write the maps from outside, become
    the namespace's root; then, for a new pid namespace, make it here (so the user
    namespace owns it, as mounting /proc requires) and fork the real init, pid 1,
    into it.  This process then exits: the runtime follows the new pid."""
    from .. import oslite as os
    from .. import sync
    from ..errors import OCIError
    from ..linux import syscalls as sc

    rootless = os.geteuid() != 0
    sc.unshare(sc.CLONE_NEWUSER)
    if rootless:
        # /proc/self of a non-dumpable process belongs to root, whom an unprivileged
        # user cannot write as: dumpable just for the maps (no container process yet)
        sc.prctl(sc.PR_SET_DUMPABLE, 1)
        from ..linux import userns

        userns.write_maps("self", a.config.get("linux") or {}, deny_setgroups=True)
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
    else:
        sync.request(a.sync, sync.USERNS)
    try:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    except OSError as e:
        raise OCIError(
            f"becoming root in the user namespace: {e.strerror} (map container uid and gid 0)",
            "config.json: /linux/uidMappings",
        ) from None
    sc.prctl(sc.PR_SET_DUMPABLE, 0)  # a credential change resets it
    if nss.get("pid", "") is None:
        sc.unshare(sc.CLONE_NEWPID)
        fork_real_init(a)
    elif "pid" in nss:  # joined by path before the user namespace (run)
        # born where the other container's processes see it: a fork, never a
        # take-over, which a tracer there could turn against this process
        fork_real_init(a, visible=True)


def fork_into_pid_namespace(a: InitArgs, nss: dict) -> None:
    """Make (or join) the time and pid namespaces, which take effect for
    children only, and fork the real init into them; this first child then
    exits, and the runtime follows the new pid (its own child).  Time offsets
    are written before any process is in the new time namespace, the only
    time the kernel allows it.  No way back is needed: this process ends."""
    from ..linux import namespaces

    offsets = (a.config.get("linux") or {}).get("timeOffsets")
    for kind in ("time", "pid"):
        if kind in nss and not (kind == "pid" and a.hidden):
            namespaces.for_next_children(kind, nss[kind], offsets)
    fork_real_init(a)


def fork_real_init(a: InitArgs, visible: bool = False) -> None:
    """Go on as the real init, a new process (in its cgroup2 directory, if
    any) and the runtime's child, not ours (CLONE_PARENT, as runc's nsexec
    does): the runtime waits for it without becoming a subreaper.  The init
    takes this process's memory over and ends it (procattr.take_over), then
    reports its own pid.  On a kernel without clone3, a fork: this first
    child reports the pid and exits, and the init waits until the report
    is out (EOF on the pipe), since the runtime must hear PID before
    anything the init sends on the one sync socket.  ``visible``: the init
    is born in a pid namespace a container's processes are in (joined by
    path), so it is always forked (THREAT_MODEL.md: a process that takes
    another's memory over must be out of any container's sight)."""
    from .. import oslite as os
    from .. import sync, trace
    from ..cgroups import base as cgroup_base
    from ..linux import procattr
    from ..linux import syscalls as sc
    from . import init

    taken = None if visible else procattr.take_over(a.cgroup2)
    if taken is not None:  # we are the init now, in the first child's memory
        pid, born_in = taken
        with trace.span("the init, in the first child's memory: report its pid"):
            sync.send(a.sync, sync.PID, pid=pid)
    else:  # visible, or no clone3: a fork
        r, w = os.pipe()
        pid, born_in = procattr.fork_into(a.cgroup2, sibling=True)
        if pid:
            init.report_forked(a, sync.PID, pid)
            os.close(w)  # the init goes on now, not after our exit's teardown
            os._exit(0)
        os.close(w)
        os.read(r, 1)
        os.close(r)
    sc.prctl(sc.PR_SET_DUMPABLE, 0)
    # a new process has none (the kernel clears it): dead with the runtime, not
    # only at its next read of the sync socket (reset before READY, init.finish_process)
    sc.prctl(sc.PR_SET_PDEATHSIG, 9)  # SIGKILL
    if a.cgroup2 and not born_in:
        cgroup_base.write(a.cgroup2 + "/cgroup.procs", "0")


def join_exec_cgroup(a: InitArgs) -> None:
    """Into the container's cgroup before anything else: born in the cgroup2
    directory (clone3; this process goes on in the child, which takes its
    memory over and ends it, as fork_real_init's, and reports its pid; so
    no fd of the host's cgroupfs is left in the process the container will
    see), then "0" to each v1 ``tasks`` (cgroups.base.join_self: no grace
    period either way).  Rootless (nothing given), the runtime moves the
    process after READY."""
    from .. import oslite as os
    from .. import sync, trace
    from ..cgroups import base as cgroup_base
    from ..linux import procattr
    from ..linux import syscalls as sc

    if a.cgroup2:
        with trace.span("cgroup: born in the cgroup2 directory"):
            taken = procattr.take_over(a.cgroup2)
            if taken is not None:  # in this process's memory, the runtime's child
                pid, born_in = taken
                sync.send(a.sync, sync.PID, pid=pid)
            else:  # no clone3: a fork, whose status this process passes on
                pid, born_in = procattr.fork_into(a.cgroup2)
                if pid:
                    a.sync.close()
                    _, status = os.waitpid(pid, 0)
                    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
            sc.prctl(sc.PR_SET_DUMPABLE, 0)
            sc.prctl(sc.PR_SET_PDEATHSIG, 9)
            if not born_in:  # a kernel without clone3: the migration that waits
                cgroup_base.write(a.cgroup2 + "/cgroup.procs", "0")
    if a.cgroup_v1:
        with trace.span("cgroup: join (v1 tasks)"):
            cgroup_base.join_self(a.cgroup_v1)
