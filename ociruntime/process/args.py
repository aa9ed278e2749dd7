"""What the runtime hands the container side: :class:`InitArgs`.

It crosses one of two ways.  After a late fork the child has the object in
memory.  A child forked at entry, or executed from the read-only
interpreter clone, gets it as JSON (:meth:`InitArgs.to_wire`,
:meth:`InitArgs.from_wire`).  Both are made from one table, :data:`FIELDS`:
a field is named, defaulted and carried in one place, and
tests/unit/test_args.py checks that every one survives the JSON crossing.

This module imports nothing of the container side, so the runtime builds
the object without loading it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

    from ..linux import security
    from ..sync import Channel

# name -> default, for the fields that cross as they are (JSON values).  A
# default that is a list or dict is copied for each object.
FIELDS: dict[str, object] = {
    "config": None,  # the config (exec: a small one with the process and namespaces)
    "bundle": "",
    "rootfs": "",
    "no_pivot": False,
    "preserve_fds": 0,
    # the fds of 3..3+preserve_fds-1 the caller did not open: held by the
    # runtime's placeholders (runtime.reserve_preserved), never inherited
    "preserve_gaps": [],
    "debug": False,
    "keyring": None,  # name of a new session keyring; None keeps the caller's
    "join_pid": 0,  # exec: the container's init, whose namespaces are joined
    # create: the first child makes the pid/time namespaces and forks the init
    "fork_init": False,
    # create into another's pid namespace: set up outside it, forked into it
    # last (init.fork_visible)
    "hidden": False,
    # cgroups the container side joins itself, without the grace period the
    # runtime's writes to cgroup.procs wait for (cgroups.base.join_self):
    "cgroup2": None,  # the cgroup2 directory the first child is forked into
    "cgroup_v1": [],  # exec: v1 directories the process joins at once
    "join_v1": False,  # create: the init joins those the runtime sends (JOIN)
    # create: nothing for the runtime to run at the createRuntime point (no
    # prestart or createRuntime hook, no netDevices) and the init's pid known
    # before its cgroups are made: the runtime sends CREATE_RUNTIME_DONE unasked,
    # once they are, and the init waits for it instead of asking (one round
    # trip less on the set-up's critical path)
    "runtime_point_unasked": False,
    "state": {},  # exec: the container's state (for a seccomp agent)
}


class InitArgs:
    """The container side's arguments: :data:`FIELDS`, plus what is not JSON
    (the security plan, sockets and fds) and what the container side keeps
    for itself while it works."""

    def __init__(self, sec: security.Plan, **fields: object) -> None:
        for name, default in FIELDS.items():
            value = fields.pop(name, default)
            setattr(
                self, name, value.copy() if value is default and hasattr(value, "copy") else value
            )
        if fields:
            raise TypeError(f"InitArgs: unknown fields {sorted(fields)}")
        self.sec = sec
        # fds and sockets: in memory after a fork; by number after an exec
        self.sync: Channel | None = None
        self.exec_sock: _socket.socket | None = None  # create: the socket start connects to
        self.console: _socket.socket | None = None  # where the pty master goes
        self.idmaps: dict[int, int] = {}  # mount index -> detached tree the runtime made
        # the container side's own, never crossing
        self.listener: _socket.socket | None = None  # the seccomp agent
        self.filter: bytes | None = None  # the seccomp program, built before READY
        self.committed = False
        self.cgroup: dict | None = None  # the cgroup record, for binding it without a cgroup ns
        self.signals_reset = False
        self.setgroups_denied = False  # read while /proc is the host's
        self.pidns_fd = -1  # hidden: the pid namespace, until the process is forked

    def to_wire(self, exec_sock_dir: str | None) -> dict:
        """As JSON, for a child forked early; it makes the exec socket itself,
        in ``exec_sock_dir`` (None: run and exec have none).  The fds it
        needs cross an exec by number (first_child.start_readonly); a child
        forked at entry has none of them."""
        from .. import log, trace

        wire = {name: getattr(self, name) for name in FIELDS}
        wire.update(
            sec=self.sec.to_wire(),
            exec_sock_dir=exec_sock_dir,
            console_fd=None if self.console is None else self.console.fileno(),
            idmaps={str(i): fd for i, fd in self.idmaps.items()},
            trace=trace.enabled,
            log=list(log.settings()),
        )
        return wire

    @classmethod
    def from_wire(cls, d: dict, sync: Channel) -> InitArgs:
        from .. import log, trace
        from ..linux.security import Plan

        a = cls(Plan.from_wire(d["sec"]), **{name: d[name] for name in FIELDS})
        a.sync = sync
        if d["console_fd"] is not None:
            import _socket

            a.console = _socket.socket(fileno=d["console_fd"])
        a.idmaps = {int(i): fd for i, fd in d["idmaps"].items()}
        trace.enabled = d["trace"]
        log.setup(*d["log"])
        if d["exec_sock_dir"] is not None:
            from ..sync import listen_exec

            a.exec_sock = listen_exec(d["exec_sock_dir"])
        return a
