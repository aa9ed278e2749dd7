"""The command's entry point (the installed launcher and ``python -m ociruntime``).

What happens here rather than in the CLI module pays off only when done
before it is imported: the cyclic garbage collector is switched off; for
create, run and exec the container's first child (or exec's) is forked
(process/first_child.py); the plain calls of create, run, exec, state,
start, kill, delete, pause and resume go round the CLI
(:func:`lifecycle_call`); and the process ends with ``os._exit`` once its
output is flushed, skipping the interpreter's teardown, which frees every
object only for the kernel to drop the whole address space a moment
later.
"""

import sys

_ATTACHING = {"create", "run", "exec"}
_FOREGROUND = {"run", "exec"}


def main() -> None:
    # A command lives for milliseconds; the cyclic collector would spend
    # ~0.5-1 ms walking the objects the imports make, to free next to nothing.
    # (events, which can run for hours, turns it back on.)
    import gc
    import time

    t0 = time.monotonic_ns()  # for --trace: where our code starts
    gc.disable()
    argv = sys.argv[1:]
    if not _FOREGROUND.isdisjoint(argv) and not {"-d", "--detach"} & set(argv):
        # a foreground run or exec: no signal lost or fatal before the container runs
        # (sigfwd.py); a false positive (an id spelled "run") blocks them for nothing
        from . import sigfwd

        sigfwd.block_early()
    # a false positive (an id or argument spelled "run") costs one fork
    if not _ATTACHING.isdisjoint(argv) and "--rootless=true" not in argv:
        from .process import first_child

        first_child.start()
    if not _COMMANDS.keys().isdisjoint(argv):
        _lifecycle(argv)  # returns only when the CLI must answer
    from .cli import main as cli_main

    _end(cli_main(argv, t0))


def _end(code: int) -> None:
    first_child = sys.modules.get("ociruntime.process.first_child")
    if first_child is not None:
        # an early child nobody took (an error, or "run" was only an id): let it go
        first_child.cancel()
    _exit(code)


def _exit(code: int) -> None:
    from . import oslite as os

    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)


_Flags = dict[str, tuple[str, object, object]]
# The global flags a lifecycle call may carry (podman, containerd and CRI-O
# pass --root, the JSON log, --systemd-cgroup): name -> (dest, kind,
# default), a kind being "bool", "str", "int" or the values the CLI takes.
_GLOBAL: _Flags = {
    "--root": ("root", "str", None),
    "--log": ("log", "str", None),
    "--log-format": ("log_format", ("text", "json"), "text"),
    "--rootless": ("rootless", ("auto", "true", "false"), "auto"),
    "--systemd-cgroup": ("systemd_cgroup", "bool", False),
}
_BOOL = ("true", "false", "1", "0")
# Each command's flags in the spellings taken here (before the id; a
# boolean bare, a value as ``--x=V`` or ``--x V``): name -> (dest, kind,
# default); how many positionals it takes; the defaults of its flags not
# taken here.  The dests and defaults are cli.COMMANDS's
# (tests/unit/test_entry.py).
_CREATE: _Flags = {
    "-b": ("bundle", "str", "."),
    "--bundle": ("bundle", "str", "."),
    "--pid-file": ("pid_file", "str", None),
    "--console-socket": ("console_socket", "str", None),
    "--no-pivot": ("no_pivot", "bool", False),
    "--no-new-keyring": ("no_new_keyring", "bool", False),
    "--preserve-fds": ("preserve_fds", "int", 0),
}
_RUN: _Flags = _CREATE | {
    "-d": ("detach", "bool", False),
    "--detach": ("detach", "bool", False),
    "--keep": ("keep", "bool", False),
}
# exec with a process.json (containerd's and conmon's form); its other
# flags' defaults, which the command reads
_EXEC: _Flags = {
    "-p": ("process", "str", None),
    "--process": ("process", "str", None),
    "-d": ("detach", "bool", False),
    "--detach": ("detach", "bool", False),
    "--pid-file": ("pid_file", "str", None),
    "--console-socket": ("console_socket", "str", None),
    "--preserve-fds": ("preserve_fds", "int", 0),
}
_EXEC_REST = {"tty": False, "cwd": None, "env": [], "user": None, "additional_gids": []}
_EXEC_REST |= {"cap": [], "no_new_privs": False, "apparmor": None, "process_label": None}
_EXEC_REST |= {"ignore_paused": False, "cgroup": None}
_COMMANDS: dict[str, tuple[_Flags, int, dict]] = {
    "state": ({}, 1, {}),
    "start": ({}, 1, {}),
    "pause": ({}, 1, {}),
    "resume": ({}, 1, {}),
    "kill": ({"-a": ("all", "bool", False), "--all": ("all", "bool", False)}, 2, {}),
    "delete": ({"-f": ("force", "bool", False), "--force": ("force", "bool", False)}, 1, {}),
    "create": (_CREATE, 1, {}),
    "run": (_RUN, 1, {}),
    "exec": (_EXEC, 1, _EXEC_REST),
}


class Call:
    """A lifecycle call as the CLI would parse it: ``g`` the global flags
    (cli.GLOBAL's dests: root, log, log_format, rootless, systemd_cgroup),
    ``cmd``, ``opts`` (the command's flags, by dest, with every default the
    command reads), ``pos`` (the id, and kill's signal): what the commands
    read of cli.Args."""

    __slots__ = ("g", "cmd", "opts", "pos")

    def __init__(self, g: dict, cmd: str, opts: dict, pos: list[str]) -> None:
        self.g, self.cmd, self.opts, self.pos = g, cmd, opts, pos

    @property
    def id(self) -> str:
        return self.pos[0]


def lifecycle_call(argv: list[str]) -> Call | None:
    """``[GLOBAL FLAGS] CMD [FLAGS] ID`` for state, start, pause, resume,
    kill (``ID [SIGNAL]``), delete, create, run and exec (with
    ``--process``), with the flags of :data:`_GLOBAL` and
    :data:`_COMMANDS`, as a :class:`Call`; None for any other command line,
    which the CLI parses (another flag, ``--debug``, ``--trace``, a value
    the CLI would refuse, a value that starts with a dash, Go's single-dash
    spellings, a flag after the id, ``--help``).  What this takes, the CLI
    parses the same (tests/unit/test_entry.py)."""
    g = {dest: default for dest, _, default in _GLOBAL.values()}
    i = _flags(argv, 0, _GLOBAL, g, True)
    if i is None or i == len(argv) or argv[i] not in _COMMANDS:
        return None
    cmd = argv[i]
    flags, most, rest = _COMMANDS[cmd]
    opts: dict[str, object] = {k: list(v) if type(v) is list else v for k, v in rest.items()}
    opts |= {dest: default for dest, _, default in flags.values()}
    opts["help"] = False
    i = _flags(argv, i + 1, flags, opts, False)
    if i is None:
        return None
    pos = argv[i:]
    if not pos or len(pos) > most or any(p.startswith("-") for p in pos):
        return None
    if cmd == "exec" and opts["process"] is None:
        return None  # the command from the arguments: the CLI's
    return Call(g, cmd, opts, pos)


def _flags(argv: list[str], i: int, table: _Flags, opts: dict, bool_value: bool) -> int | None:
    """The flags of ``table`` from ``argv[i]`` on, up to the first word
    without a dash, into ``opts``; the index of that word, or None for a
    flag or value not taken here.  A boolean takes ``=true`` and the like
    only with ``bool_value``."""
    n = len(argv)
    while i < n and argv[i].startswith("-"):
        name, eq, value = argv[i].partition("=")
        i += 1
        if name not in table:
            return None
        dest, kind, _ = table[name]
        if kind == "bool":
            if eq and not (bool_value and value in _BOOL):
                return None
            opts[dest] = not eq or value in ("true", "1")
            continue
        if not eq:
            if i == n:
                return None
            value = argv[i]
            i += 1
        if value.startswith("-"):
            return None
        if kind == "int":
            if not (value.isascii() and value.isdigit()):
                return None
            opts[dest] = int(value)
        elif kind == "str" or value in kind:
            opts[dest] = value
        else:
            return None
    return i


def _lifecycle(argv: list[str]) -> None:
    """A plain lifecycle call without the CLI: containerd, podman and CRI-O
    make several per container, and the CLI's own modules (the parser's
    tables, the commands' dispatch) cost about 0.5 ms of each call's CPU
    (README, "Benchmarks").  The command is the one the CLI would run
    (commands/lifecycle.py, exec's in commands/extra.py), its failure
    reported the CLI's way (edge.py).  ``state``, which only reads, goes further: it does not even
    load the log or the commands, and on any failure it leaves the call to
    the CLI, which reads again and reports."""
    a = lifecycle_call(argv)
    if a is None:
        return
    from . import oslite as os

    if "OCIRUNTIME_TRACE" in os.environ or "OCIRUNTIME_TEST_KILL_AT" in os.environ:
        return  # what the CLI reads from the environment: --trace, the fault tests
    if a.cmd == "state":
        _state(a)
        return
    from . import edge, log

    def command() -> int:
        import ociruntime

        log.setup(a.g["log"], a.g["log_format"], False, create=True)
        ociruntime.ROOTLESS = a.g["rootless"]
        ociruntime.SYSTEMD_CGROUP = a.g["systemd_cgroup"]
        if a.cmd == "exec":
            from .commands import extra as commands
        else:
            from .commands import lifecycle as commands
        return getattr(commands, "cmd_" + a.cmd)(a)

    _end(edge.outcome(command, False))


def _state(a: Call) -> None:
    """It creates the --log file, as every command does, prints what the
    CLI's state prints (``Store.state_text``) and exits, or returns."""
    from . import oslite as os
    from .state import Store

    try:
        if a.g["log"] is not None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            os.close(os.open(a.g["log"], flags, 0o644))
        text = Store(a.g["root"]).state_text(a.id)
    except Exception:
        return
    sys.stdout.write(text + "\n")
    _exit(0)
