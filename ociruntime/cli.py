"""Command line: runc's flags and subcommands over the Python API.

Only parsing and formatting live here.  The parser is a small table instead
of argparse: argparse costs ~8 ms to import and build on every call, and
containerd and podman call the runtime several times per container.

Errors become one line on stderr (``ociruntime: ...``), one record in
``--log``, and exit status 1; a traceback is shown only with ``--debug``.
"""

import sys

from . import SPEC_VERSION, __version__, edge, log
from . import oslite as os
from .errors import OCIError


class Flag:
    __slots__ = ("names", "dest", "takes", "default", "help", "repeat")

    def __init__(
        self,
        names: str,
        help: str,
        takes: str | None = None,
        default: object = None,
        repeat: bool = False,
    ) -> None:
        self.names = names.split()
        self.dest = self.names[-1].lstrip("-").replace("-", "_")
        self.takes = takes  # None: boolean; "int"/"str": takes a value
        self.default = default if default is not None or takes else False
        self.help = help
        self.repeat = repeat


GLOBAL = [
    Flag("--root", "state directory (default /run/ociruntime)", "str"),
    Flag("--log", "log file (default: stderr)", "str"),
    Flag("--log-format", "text or json", "str", "text"),
    Flag("--debug", "debug logging and tracebacks"),
    Flag("--systemd-cgroup", "cgroups as systemd scope units (cgroupsPath slice:prefix:name)"),
    Flag("--rootless", "auto, true or false", "str", "auto"),
    Flag("--criu", "path to criu (checkpoint, restore; default: criu in PATH)", "str"),
    Flag("--trace", "write a Chrome trace-event timeline of the command to FILE", "str"),
    Flag("-v --version", "print the version"),
    Flag("-h --help", "show help"),
]
_CREATE = [
    ("-b --bundle", "bundle directory (default: current directory)", "str", "."),
    ("--pid-file", "write the init's host pid to this file", "str"),
    ("--console-socket", "AF_UNIX socket that receives the pty master", "str"),
    ("--no-pivot", "chroot instead of pivot_root"),
    ("--no-new-keyring", "keep the caller's session keyring"),
    ("--preserve-fds", "pass fds 3..3+N-1 into the container", "int", 0),
]
_CRIU = [  # checkpoint's and restore's common flags (runc's)
    ("--image-path", "CRIU's image directory (default: ./checkpoint)", "str"),
    ("--work-path", "CRIU's work directory and log (default: --image-path)", "str"),
    ("--tcp-established", "allow established TCP connections"),
    ("--ext-unix-sk", "allow external unix sockets"),
    ("--shell-job", "allow a shell job (a terminal from outside)"),
    ("--file-locks", "handle file locks"),
    ("--manage-cgroups-mode", "soft (default), full, strict or ignore", "str"),
    ("--empty-ns", "a namespace made but not restored (network)", "str", None, True),
    ("--auto-dedup", "deduplicate memory images"),
]
# The commands' flags as Flag's arguments: only the command in use makes its
# Flags (flags()), not the hundred of every command on every call (0.1 ms).
COMMANDS: dict[str, tuple[str, list[tuple], list[str]]] = {
    "create": ("create a container", _CREATE, ["container-id"]),
    "run": (
        "create and start a container",
        _CREATE
        + [
            ("-d --detach", "return once the process runs"),
            ("--keep", "keep state after exit"),
        ],
        ["container-id"],
    ),
    "exec": (
        "run a process inside a running container",
        [
            ("-p --process", "a process.json (runtime-spec process) instead of ARGS", "str"),
            ("-d --detach", "return once the process runs"),
            ("--pid-file", "write the process's host pid to this file", "str"),
            ("-t --tty", "allocate a pseudo-terminal"),
            ("--console-socket", "AF_UNIX socket that receives the pty master", "str"),
            ("--cwd", "working directory inside the container", "str"),
            ("-e --env", "set an environment variable K=V", "str", None, True),
            ("-u --user", "UID[:GID]", "str"),
            ("-g --additional-gids", "an additional group id", "int", None, True),
            ("-c --cap", "add a capability", "str", None, True),
            ("--no-new-privs", "set no_new_privs"),
            ("--apparmor", "AppArmor profile", "str"),
            ("--process-label", "SELinux label", "str"),
            ("--preserve-fds", "pass fds 3..3+N-1 into the process", "int", 0),
            ("--ignore-paused", "exec even if the container is paused"),
            ("--cgroup", "sub-cgroup to join (cgroup v2)", "str"),
        ],
        ["container-id", "[args...]"],
    ),
    "checkpoint": (
        "save a running container's processes with CRIU",
        _CRIU
        + [
            ("--parent-path", "previous (pre-dump) images, relative to --image-path", "str"),
            ("--leave-running", "leave the processes running after the checkpoint"),
            ("--pre-dump", "dump memory only and leave the container running"),
            ("--lazy-pages", "leave memory pages to a page server (userfaultfd)"),
            ("--page-server", "ADDRESS:PORT of a page server for the memory", "str"),
            ("--status-fd", "criu writes \\0 to this fd once lazy pages are ready", "int", -1),
        ],
        ["container-id"],
    ),
    "restore": (
        "restore a container from a checkpoint",
        _CRIU
        + [
            ("-b --bundle", "bundle directory (default: current directory)", "str", "."),
            ("-d --detach", "return once the container runs"),
            ("--pid-file", "write the restored init's host pid to this file", "str"),
            ("--console-socket", "AF_UNIX socket that receives the pty master", "str"),
            ("--no-subreaper", "do not reap orphaned processes (foreground)"),
            ("--no-pivot", "accepted for runc's sake (CRIU restores the root as dumped)"),
            ("--no-new-keyring", "accepted for runc's sake (the keyring is not restored)"),
            ("--lazy-pages", "restore memory pages lazily from a page server"),
            ("--lsm-profile", "LSM profile for the restored processes (TYPE:NAME)", "str"),
            ("--lsm-mount-context", "LSM mount context for the restore", "str"),
        ],
        ["container-id"],
    ),
    "start": ("start a created container", [], ["container-id"]),
    "pause": ("freeze every process of the container", [], ["container-id"]),
    "resume": ("thaw a paused container", [], ["container-id"]),
    "ps": (
        "list the container's processes (json: an array of host pids)",
        [("-f --format", "table or json", "str", "table")],
        ["container-id", "[args...]"],
    ),
    "events": (
        "stream stats and OOM events as JSON",
        [
            ("--stats", "print one stats record and exit"),
            ("--interval", "seconds between stats (5s)", "str", "5s"),
        ],
        ["container-id"],
    ),
    "update": (
        "change the container's resource limits",
        [
            ("-r --resources", "linux.resources JSON from FILE, or - for stdin", "str"),
            ("--memory", "memory limit in bytes", "str"),
            ("--memory-reservation", "memory soft limit in bytes", "str"),
            ("--memory-swap", "memory+swap limit in bytes", "str"),
            ("--kernel-memory", "kernel memory limit (v1)", "str"),
            ("--kernel-memory-tcp", "kernel TCP memory limit (v1)", "str"),
            ("--cpu-share --cpu-shares", "CPU shares (runc spells it --cpu-share)", "int"),
            ("--cpu-quota", "CFS quota in microseconds", "int"),
            ("--cpu-period", "CFS period in microseconds", "int"),
            ("--cpu-burst", "CFS burst in microseconds", "int"),
            ("--cpu-rt-period", "realtime period in microseconds", "int"),
            ("--cpu-rt-runtime", "realtime runtime in microseconds", "int"),
            ("--cpu-idle", "SCHED_IDLE for the cgroup (0 or 1)", "int"),
            ("--cpuset-cpus", "CPUs allowed, e.g. 0-3,7", "str"),
            ("--cpuset-mems", "memory nodes allowed", "str"),
            ("--pids-limit", "maximum number of processes", "int"),
            ("--blkio-weight", "block IO weight, 10 to 1000", "int"),
            ("--l3-cache-schema", "Intel RDT L3 cache schema (not supported: refused)", "str"),
            (
                "--mem-bw-schema",
                "Intel RDT memory bandwidth schema (not supported: refused)",
                "str",
            ),
        ],
        ["container-id"],
    ),
    "state": ("print the state of a container as JSON", [], ["container-id"]),
    "kill": (
        "send a signal (default TERM) to the container's init",
        [("-a --all", "signal every process of the container")],
        ["container-id", "[signal]"],
    ),
    "delete": (
        "delete a container",
        [("-f --force", "kill it first if running")],
        ["container-id"],
    ),
    "list": (
        "list containers",
        [("-f --format", "table or json", "str", "table"), ("-q --quiet", "ids only")],
        [],
    ),
    "features": ("print what this runtime supports (runtime-spec features.md JSON)", [], []),
    "check": (
        "check what this host supports; exit 1 if something required is missing",
        [("-f --format", "table or json", "str", "table")],
        [],
    ),
    "spec": (
        "write a default config.json",
        [
            ("-b --bundle", "where to write it", "str", "."),
            ("--rootless", "a rootless config"),
        ],
        [],
    ),
}


def flags(cmd: str) -> list[Flag]:
    """The flags of command ``cmd`` (a key of COMMANDS)."""
    return [Flag(*spec) for spec in COMMANDS[cmd][1]]


def _lookup(flags: list[Flag], name: str) -> Flag | None:
    if not name.startswith("--") and len(name) > 2:
        name = "-" + name  # Go-style single-dash long flags: -bundle
    for f in flags:
        if name in f.names:
            return f
    return None


def parse_flags(
    flags: list[Flag], argv: list[str], stop_at_positional: bool
) -> tuple[dict, list[str]]:
    """(values by dest, positionals); ``--x=v``, ``--x v``, ``-x v``, ``--bool=false``."""
    opts = {f.dest: ([] if f.repeat else f.default) for f in flags}
    pos: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            pos += argv[i:]
            break
        if not arg.startswith("-") or arg == "-":
            pos.append(arg)
            if stop_at_positional:
                pos += argv[i:]
                break
            continue
        name, eq, value = arg.partition("=")
        f = _lookup(flags, name)
        if f is None:
            raise OCIError(f"flag provided but not defined: {name}")
        if f.takes is None:
            if eq and value.lower() not in ("true", "false", "1", "0"):
                raise OCIError(f"invalid boolean value {value!r} for {name}")
            v: object = not eq or value.lower() in ("true", "1")
        else:
            if not eq:
                if i >= len(argv):
                    raise OCIError(f"flag needs an argument: {name}")
                value = argv[i]
                i += 1
            if f.takes == "int":
                try:
                    v = int(value)
                except ValueError:
                    raise OCIError(
                        f"invalid value {value!r} for {name}: expected an integer"
                    ) from None
            else:
                v = value
        if f.repeat:
            opts[f.dest].append(v)
        else:
            opts[f.dest] = v
    return opts, pos


def usage(cmd: str | None = None) -> str:
    def rows(flags: list[Flag]) -> str:
        return "".join(
            f"  {', '.join(f.names) + (' VALUE' if f.takes else ''):<28} {f.help}\n" for f in flags
        )

    if cmd:
        help, _, pos = COMMANDS[cmd]
        return (
            f"usage: ociruntime [global options] {cmd} [options] {' '.join(pos)}\n\n{help}\n\n"
            + rows(flags(cmd))
        )
    cmds = "".join(f"  {n:<10} {c[0]}\n" for n, c in COMMANDS.items())
    return (
        f"usage: ociruntime [global options] COMMAND [options] ARGS\n\ncommands:\n{cmds}\nglobal options:\n"
        + rows(GLOBAL)
    )


LIFECYCLE = {"create", "run", "start", "state", "kill", "delete", "pause", "resume"}


class Args:
    """Parsed command line: global options, the command, its options and positionals."""

    def __init__(self, argv: list[str], command: bool = True) -> None:
        """With ``command=False`` only the global options: main() sets up --log
        before :meth:`parse_command`, so usage errors reach the log too."""
        self.g, self.rest = parse_flags(GLOBAL, argv, stop_at_positional=True)
        self.cmd = self.rest[0] if self.rest else None
        self.opts: dict = {}
        self.pos: list[str] = []
        if command:
            self.parse_command()

    def parse_command(self) -> None:
        try:
            self._parse_command()
        except OCIError as e:
            if self.cmd == "exec":
                e.exit_code = 255  # every failure of exec's own is 255 (commands.extra.cmd_exec)
            raise

    def _parse_command(self) -> None:
        if self.cmd is None or self.g["version"] or self.g["help"]:
            return
        if self.cmd not in COMMANDS:
            raise OCIError(f"unknown command {self.cmd!r} (see ociruntime --help)")
        pos = COMMANDS[self.cmd][2]
        trailing = pos and pos[-1] == "[args...]"
        self.opts, self.pos = parse_flags(
            flags(self.cmd) + [GLOBAL[-1]], self.rest[1:], stop_at_positional=trailing
        )
        if self.opts.get("help"):
            return
        need = sum(1 for p in pos if not p.startswith("["))
        if len(self.pos) < need:
            raise OCIError(
                f"{self.cmd}: {pos[len(self.pos)]} is required (ociruntime {self.cmd} --help)"
            )
        if not trailing and len(self.pos) > len(pos):
            raise OCIError(f"{self.cmd}: unexpected argument {self.pos[len(pos)]!r}")

    @property
    def id(self) -> str:
        return self.pos[0]


def main(argv: list[str] | None = None, t0: int = 0) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return edge.outcome(lambda: _main(argv, t0), "--debug" in argv)
    finally:
        trace = sys.modules.get("ociruntime.trace")
        if trace is not None:
            trace.finish()  # with --trace (nothing otherwise)


def _main(argv: list[str], t0: int) -> int:
    a = Args(argv, command=False)
    log.setup(a.g["log"], a.g["log_format"], a.g["debug"], create=True)
    a.parse_command()
    if "OCIRUNTIME_TEST_KILL_AT" in os.environ:  # the fault-injection tests
        from . import trace

        trace.mark_runtime()
    if a.g["trace"] or os.environ.get("OCIRUNTIME_TRACE"):
        from . import trace

        trace.enable(a.g["trace"] or os.environ["OCIRUNTIME_TRACE"], a.cmd or "", t0)
    if a.g["debug"]:
        from . import trace as steps

        steps.log_steps()
        log.debug(f"ociruntime {__version__} (pid {os.getpid()}): {' '.join(argv)}")
    code = dispatch(a)
    if a.g["debug"]:
        log.debug(f"{a.cmd}: exit status {code}")
    return code


def dispatch(a: Args) -> int:
    if a.g["version"]:
        # runc's lines, which containerd (go-runc) parses
        print(f"ociruntime version {__version__}\ncommit: {_commit()}\nspec: {SPEC_VERSION}")
        return 0
    if a.g["help"] or a.cmd is None or a.opts.get("help"):
        sys.stdout.write(usage(a.cmd if a.opts.get("help") else None))
        return 0 if (a.g["help"] or a.opts.get("help")) else 1
    if a.g["log_format"] not in ("text", "json"):
        raise OCIError(f"invalid --log-format {a.g['log_format']!r}: expected text or json")
    if a.g["rootless"] not in ("auto", "true", "false"):
        raise OCIError(f"invalid --rootless={a.g['rootless']}: expected auto, true or false")
    import ociruntime

    ociruntime.ROOTLESS = a.g["rootless"]
    ociruntime.SYSTEMD_CGROUP = a.g["systemd_cgroup"]  # create and run: cgroups.for_config
    # the commands on every container's path (commands/lifecycle.py) apart
    # from the less frequent ones (commands/extra.py), which they never load
    if a.cmd in LIFECYCLE:
        from .commands import lifecycle as commands
    else:
        from .commands import extra as commands
    return getattr(commands, "cmd_" + a.cmd)(a)


def _commit() -> str:
    """The git commit the installed build was made from (tools/write-launcher
    writes ociruntime._commit into the bundle), or "unknown" from a source tree."""
    try:
        from ._commit import COMMIT
    except ImportError:
        return "unknown"
    return COMMIT
