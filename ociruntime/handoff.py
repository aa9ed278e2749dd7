"""What the runtime hands the container's init across the fork.

A plain object, not a message: the child of fork(2) has it in memory, so
nothing is pickled.  It lives apart from init.py so that the runtime can
build it without importing the container side, which the child imports
after the fork.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

    from .linux import security


class InitArgs:
    """What the runtime hands the init across fork (no pickling needed)."""

    def __init__(
        self,
        config: dict,
        bundle: str,
        rootfs: str,
        sync_sock: _socket.socket,
        exec_sock: _socket.socket | None,
        sec: security.Plan,
        no_pivot: bool,
        preserve_fds: int,
        debug: bool,
        console: _socket.socket | None = None,
        join_pid: int = 0,
        keyring: str | None = None,
    ) -> None:
        self.config = config
        self.bundle = bundle
        self.rootfs = rootfs
        self.sync = sync_sock
        self.exec_sock = exec_sock
        self.sec = sec
        self.no_pivot = no_pivot
        self.preserve_fds = preserve_fds
        self.debug = debug
        self.console = console  # where the pty master goes, if process.terminal
        self.join_pid = join_pid  # exec: the container's init, whose namespaces we join
        self.keyring = keyring  # name of a new session keyring, None to keep the caller's
        self.listener: _socket.socket | None = None
        self.filter: bytes | None = None  # the seccomp program, built before READY
        self.committed = False
        self.state: dict = {}
        self.cgroup: dict | None = None  # the cgroup record, for binding it without a cgroup ns
        self.idmaps: dict[int, int] = {}  # mount index -> detached idmapped tree the runtime made
        # create: the first child makes the pid/time namespaces and forks the real init
        self.fork_init = False
        self.signals_reset = False  # the init reset its signal dispositions already
        # whether the user namespace denies setgroups(2), read while /proc is the host's
        self.setgroups_denied = False
        # create into another's pid namespace: set up outside it, fork the process into
        # it last (init.fork_visible); pidns_fd holds it meanwhile
        self.hidden = False
        self.pidns_fd = -1
        # cgroups the container side joins itself, without the grace period the
        # runtime's writes to cgroup.procs wait for (cgroups.base.join_self):
        self.cgroup2: str | None = None  # the cgroup2 directory the init is forked into
        self.cgroup_v1: list[str] = []  # exec: v1 directories the process joins at once
        self.join_v1 = False  # create: the init joins those the runtime sends (JOIN)

    def to_wire(self, exec_sock_dir: str | None) -> dict:
        """The fields an init forked early (prefork.py) needs, as JSON; it makes
        the exec socket itself, in ``exec_sock_dir`` (None: run, no socket)."""
        from . import log, trace

        return {
            "config": self.config,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "sec": self.sec.to_wire(),
            "no_pivot": self.no_pivot,
            "preserve_fds": self.preserve_fds,
            "debug": self.debug,
            "keyring": self.keyring,
            "fork_init": self.fork_init,
            "join_pid": self.join_pid,
            "cgroup2": self.cgroup2,
            "cgroup_v1": self.cgroup_v1,
            "join_v1": self.join_v1,
            "hidden": self.hidden,
            "state": self.state,
            "exec_sock_dir": exec_sock_dir,
            # fds that cross an exec (prefork.start_readonly); none for a child forked at entry
            "console_fd": None if self.console is None else self.console.fileno(),
            "idmaps": {str(i): fd for i, fd in self.idmaps.items()},
            "trace": trace.enabled,
            "log": [log._path, log._json, log._debug],
        }

    @classmethod
    def from_wire(cls, d: dict, sync_ch) -> InitArgs:
        from . import log, trace
        from .linux.security import Plan

        a = cls(
            d["config"],
            d["bundle"],
            d["rootfs"],
            sync_ch,
            None,
            Plan.from_wire(d["sec"]),
            d["no_pivot"],
            d["preserve_fds"],
            d["debug"],
            keyring=d["keyring"],
        )
        a.fork_init = d["fork_init"]
        if d["console_fd"] is not None:
            import _socket

            a.console = _socket.socket(fileno=d["console_fd"])
        a.idmaps = {int(i): fd for i, fd in d["idmaps"].items()}
        a.join_pid = d["join_pid"]
        a.cgroup2 = d["cgroup2"]
        a.cgroup_v1 = d["cgroup_v1"]
        a.join_v1 = d["join_v1"]
        a.hidden = d["hidden"]
        a.state = d["state"]
        trace.enabled = d["trace"]
        path, as_json, debug = d["log"]
        log.setup(path, "json" if as_json else "text", debug)
        if d["exec_sock_dir"] is not None:
            from .sync import listen_exec

            a.exec_sock = listen_exec(d["exec_sock_dir"])
        return a
