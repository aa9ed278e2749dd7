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
    nss = ns_types(config)
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
    from . import cgroups, prefork

    cg = cgroups.from_record(rec.get("cgroup"))
    try:
        targets = cg.targets(sub_cgroup) if cg is not None else ([], None)
    except OCIError as e:
        e.exit_code = 255
        raise
    # As root the container side joins the cgroups itself, born in the cgroup2
    # directory and "0" to each v1 tasks file (cgroups.base.join_self: no grace
    # period, unlike our writes to cgroup.procs); rootless, the host's cgroupfs
    # is ours to write only from out here, after READY.
    rootless = os.geteuid() != 0
    if not rootless:
        args.cgroup_v1, args.cgroup2 = targets
    args.state = c.store.public(c.id, rec)  # for a seccomp agent
    # a pty end only crosses a late fork
    early = first_child(args, "user" in nss, term.child_end() is not None)
    # the process is forked by the set-up child (or its child), never by us
    become_subreaper()
    held = None if detach else _signal.pthread_sigmask(_signal.SIG_BLOCK, FORWARDED)
    try:
        if early is not None:
            first, sock = early
            prefork.hand_over(sock, args.to_wire(None))
        else:
            first, sock, _ = launch(args, {})
        pid = first
        try:
            ready = await_ready(sock, "exec: the process exited during set-up")
            pid = ready["pid"]
            # the set-up processes end once the process is forked: it is our child now
            os.waitpid(first, 0)
            first = 0
            if rootless and cg is not None:
                from .cgroups import base

                base.add(targets, pid)
            term.receive()
            if pid_file:
                atomic_write(os.path.abspath(pid_file), str(pid))
            commit(sock, sync.EXEC, c.store.public(c.id, rec))
        except BaseException:
            kill_reap(pid)
            if first and first != pid:
                kill_reap(first)
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
