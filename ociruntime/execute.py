"""exec: a new process in a running container (Container.exec's body).

Apart from container.py so that the commands on every container's path
(create, start, state, kill, delete) do not load it.  docs/exec.md walks
through it.
"""

from __future__ import annotations

import _signal

from . import SPEC_VERSION, log, sync
from . import oslite as os
from .container import Container
from .errors import OCIError
from .spawn import (
    FORWARDED,
    Terminal,
    await_ready,
    become_subreaper,
    commit,
    first_child,
    kill_reap,
    launch,
    ns_types,
    plan,
    wait,
)
from .state import atomic_write


def exec_in(
    c: Container,
    proc: dict,
    detach: bool = False,
    pid_file: str | None = None,
    console_socket: str | None = None,
    preserve_fds: int = 0,
    ignore_paused: bool = False,
    sub_cgroup: str | None = None,
) -> int:
    """Run ``proc`` (a runtime-spec process) inside the container ``c``.

    ``sub_cgroup`` (runc's ``--cgroup``): a sub-cgroup of the container's to
    join instead, ``PATH`` for every controller or ``CTL[,CTL]:PATH`` (v1).

    Foreground: the process's exit status.  Detached: 0 once it runs.
    Set-up failures raise OCIError with exit code 255, as runc's do.
    """
    from .handoff import InitArgs

    with c.store.locked(c.id):
        rec = c._record()
        status = c.store.status(c.id, rec)
    if status == "stopped":
        raise OCIError("cannot exec in a stopped container", exit_code=255)
    if status == "paused" and not ignore_paused:
        raise OCIError("cannot exec in a paused container (use --ignore-paused)", exit_code=255)
    config = rec.get("config") or {}
    linux = config.get("linux") or {}
    cfg = {
        "ociVersion": config.get("ociVersion", SPEC_VERSION),
        "process": proc,
        "linux": {k: linux[k] for k in ("seccomp", "namespaces") if k in linux},
    }
    try:
        sec = plan(cfg)
        term = Terminal(proc, console_socket, not detach)
    except OCIError as e:
        e.exit_code = 255
        raise
    nss = {t: None for t in ns_types(config)}
    args = InitArgs(
        cfg,
        rec["bundle"],
        rec["rootfs"],
        None,
        None,
        sec,
        False,
        preserve_fds,
        log._debug,
        console=term.child_end(),
        join_pid=rec["pid"],
    )
    # rootless, the pid namespace can only be joined from inside the user
    # namespace: the child does it and forks the process (see init.setup_exec)
    inside = os.geteuid() != 0 and "user" in nss
    at_fork = ("time",) if inside else ("pid", "time")
    forked = {t: f"/proc/{rec['pid']}/ns/{t}" for t in at_fork if t in nss}
    if inside:
        become_subreaper()
    from . import cgroups, prefork

    cg = cgroups.from_record(rec.get("cgroup"))
    try:
        targets = cg.targets(sub_cgroup) if cg is not None else ([], None)
    except OCIError as e:
        e.exit_code = 255
        raise
    # rootless, the child enters the user namespace first (see setup_exec): a late fork
    early = first_child(args, "user" in nss, inside or term.child_end() is not None)
    held = None if detach else _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)
    # The process joins the v1 cgroups itself, at once, and is forked into the
    # cgroup2 one (cgroups.base.join_self: no grace period, unlike our writes to
    # cgroup.procs).  Not when it enters a user namespace first (rootless).
    joined = False
    try:
        if early is not None:
            # it joins the pid (and time) namespace itself and forks the process
            args.cgroup_v1, args.cgroup2 = targets
            args.fork_init = bool(forked or args.cgroup2)
            if args.fork_init:
                become_subreaper()
            pid, sock = early
            prefork.hand_over(sock, args.to_wire(None))
            joined = True
        elif not inside:
            args.cgroup_v1 = targets[0]
            pid, sock, joined = launch(args, forked, cgroup2=targets[1])
            if not joined:  # no cgroup2 directory, or no clone3: we move it below
                targets = ([], targets[1])
                joined = targets[1] is None
        else:
            pid, sock, _ = launch(args, forked)
        try:

            def follow(msg: dict) -> None:
                nonlocal pid
                os.waitpid(pid, 0)
                pid = msg["pid"]

            await_ready(sock, "exec: the process exited during set-up", None, {sync.PID: follow})
            if not joined and cg is not None:
                from .cgroups import base

                base.add(targets, pid)
            term.receive()
            if pid_file:
                atomic_write(os.path.abspath(pid_file), str(pid))
            commit(sock, sync.EXEC, c.store.public(c.id, rec))
        except BaseException:
            kill_reap(pid)
            raise
    except BaseException as e:
        term.close()
        if held is not None:
            _signal.pthread_sigmask(_signal.SIG_SETMASK, held)
        if isinstance(e, OCIError):
            e.exit_code = 255
        raise
    if detach:
        return 0
    return wait(pid, term.take_master(), held)
