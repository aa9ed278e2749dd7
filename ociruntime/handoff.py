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
        self.committed = False
        self.state: dict = {}
        self.cgroup: dict | None = None  # the cgroup record, for binding it without a cgroup ns
        self.idmaps: dict[int, int] = {}  # mount index -> detached idmapped tree the runtime made
        # create: the first child makes the pid/time namespaces and forks the real init
        self.fork_init = False
        self.signals_reset = False  # the init reset its signal dispositions already
