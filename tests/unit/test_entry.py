"""entry.lifecycle_call: the command lines that go round the CLI.

What it takes must mean to the CLI exactly what entry.py does with it
(the command, its id and flag, the global flags), and whatever it leaves
must reach the CLI; checked here against cli.Args over command lines made
of a pool of words.
"""

from __future__ import annotations

import itertools
import random

import pytest

from ociruntime.cli import Args
from ociruntime.entry import lifecycle_call

DEFAULTS = {
    "root": None,
    "log": None,
    "log_format": "text",
    "rootless": "auto",
    "systemd_cgroup": False,
}

TAKEN = [
    (["state", "c1"], {}, "state", {}, ["c1"]),
    (["--root", "/r", "state", "c1"], {"root": "/r"}, "state", {}, ["c1"]),
    (["--root=/r", "start", "c1"], {"root": "/r"}, "start", {}, ["c1"]),
    # containerd (go-runc) and podman
    (
        ["--root", "/r", "--log", "/l.json", "--log-format", "json", "kill", "--all", "x", "9"],
        {"root": "/r", "log": "/l.json", "log_format": "json"},
        "kill",
        {"all": True},
        ["x", "9"],
    ),
    (
        ["--log-format=json", "--log=/l", "--systemd-cgroup", "--root=/r", "delete", "-f", "x"],
        {"log_format": "json", "log": "/l", "root": "/r", "systemd_cgroup": True},
        "delete",
        {"force": True},
        ["x"],
    ),
    (["kill", "x"], {}, "kill", {"all": False}, ["x"]),
    (["kill", "-a", "x", "KILL"], {}, "kill", {"all": True}, ["x", "KILL"]),
    (["delete", "x"], {}, "delete", {"force": False}, ["x"]),
    (["delete", "--force", "x"], {}, "delete", {"force": True}, ["x"]),
    (["pause", "x"], {}, "pause", {}, ["x"]),
    (["resume", "x"], {}, "resume", {}, ["x"]),
    (
        ["--systemd-cgroup=false", "--rootless", "true", "state", "x"],
        {"rootless": "true"},
        "state",
        {},
        ["x"],
    ),
    # an id that is a flag's value elsewhere, or a command's name
    (["--root", "state", "state", "run"], {"root": "state"}, "state", {}, ["run"]),
    (["--root=", "start", "c"], {"root": ""}, "start", {}, ["c"]),
    # containerd's and conmon's create, a run by hand
    (
        [
            "--root",
            "/r",
            "create",
            "--bundle",
            "/b",
            "--pid-file",
            "/p",
            "--console-socket=/s",
            "c",
        ],
        {"root": "/r"},
        "create",
        {"bundle": "/b", "pid_file": "/p", "console_socket": "/s"},
        ["c"],
    ),
    (
        ["create", "-b", "/b", "--no-pivot", "--no-new-keyring", "--preserve-fds", "2", "c"],
        {},
        "create",
        {"bundle": "/b", "no_pivot": True, "no_new_keyring": True, "preserve_fds": 2},
        ["c"],
    ),
    (["create", "c"], {}, "create", {}, ["c"]),
    (["run", "state"], {}, "run", {}, ["state"]),
    # containerd's exec
    (
        ["exec", "--process", "/p.json", "--detach", "--pid-file", "/x.pid", "c"],
        {},
        "exec",
        {"process": "/p.json", "detach": True, "pid_file": "/x.pid"},
        ["c"],
    ),
    (["exec", "-p=/p", "c"], {}, "exec", {"process": "/p"}, ["c"]),
    (["create", "start"], {}, "create", {}, ["start"]),
    (["run", "-d", "-b", "/b", "c"], {}, "run", {"detach": True, "bundle": "/b"}, ["c"]),
    (["run", "--keep", "--bundle=", "c"], {}, "run", {"keep": True, "bundle": ""}, ["c"]),
]

CREATE = {
    "bundle": ".",
    "pid_file": None,
    "console_socket": None,
    "no_pivot": False,
    "no_new_keyring": False,
    "preserve_fds": 0,
}
OPTS = {
    "kill": {"all": False},
    "delete": {"force": False},
    "create": CREATE,
    "run": CREATE | {"detach": False, "keep": False},
    "exec": {
        "process": None,
        "detach": False,
        "pid_file": None,
        "console_socket": None,
        "preserve_fds": 0,
        "tty": False,
        "cwd": None,
        "env": [],
        "user": None,
        "additional_gids": [],
        "cap": [],
        "no_new_privs": False,
        "apparmor": None,
        "process_label": None,
        "ignore_paused": False,
        "cgroup": None,
    },
}

LEFT = [
    [],
    ["state"],
    ["state", "a", "b"],
    ["start", "a", "b"],
    ["kill", "a", "b", "c"],
    ["kill", "x", "-9"],
    ["kill", "x", "--all"],
    ["kill", "--all=true", "x"],
    ["kill", "-all", "x"],
    ["delete", "-force", "x"],
    ["delete", "x", "-f"],
    ["delete", "--force"],
    ["state", "--help", "x"],
    ["start", "-h"],
    ["state", "--", "x"],
    ["--debug", "state", "x"],
    ["--debug", "delete", "x"],
    ["--trace", "/t.json", "start", "x"],
    ["--version", "state", "x"],
    ["-v", "state", "x"],
    ["--log-format", "xml", "state", "x"],
    ["--log-format=JSON", "kill", "x"],
    ["--rootless=maybe", "state", "x"],
    ["--systemd-cgroup=yes", "state", "x"],
    ["--systemd-cgroup=TRUE", "state", "x"],
    ["-root", "/r", "state", "x"],  # Go's single dash: the CLI's
    ["--root"],
    ["--root", "/r"],
    ["--root", "/r", "state"],
    ["--criu", "/c", "state", "x"],
    ["--nope", "state", "x"],
    ["--", "state", "x"],
    ["--root", "/r", "list"],
    ["exec", "x", "kill"],
    ["update", "x"],
    ["create", "-b"],
    ["create", "-b", "/b"],
    ["create", "-b", "-x", "c"],
    ["create", "--pid-file", "-", "c"],
    ["create", "-bundle", "/b", "c"],
    ["create", "-b", "/b", "c", "--no-pivot"],
    ["create", "--no-pivot=true", "c"],
    ["create", "--preserve-fds", "-1", "c"],
    ["create", "--preserve-fds=+1", "c"],
    ["create", "--preserve-fds=x", "c"],
    ["create", "--preserve-fds", "٣", "c"],  # a digit to str.isdigit, not to the CLI
    ["create", "--detach", "c"],
    ["create", "a", "b"],
    ["run", "-d", "a", "b"],
    ["run", "--keep=false", "c"],
    ["run", "-t", "c"],
    ["--trace=/t", "run", "c"],
    ["exec", "c", "true"],  # the command from the arguments
    ["exec", "c"],
    ["exec", "-p", "/p", "c", "true"],
    ["exec", "-t", "-p", "/p", "c"],
    ["exec", "--env", "A=1", "-p", "/p", "c"],
]


@pytest.mark.parametrize("argv,g,cmd,opts,pos", TAKEN)
def test_takes(argv, g, cmd, opts, pos):
    a = lifecycle_call(argv)
    assert a is not None
    assert (a.g, a.cmd, a.opts, a.pos, a.id) == (
        DEFAULTS | g,
        cmd,
        {"help": False} | OPTS.get(cmd, {}) | opts,
        pos,
        pos[0],
    )


@pytest.mark.parametrize("argv", LEFT)
def test_leaves_to_the_cli(argv):
    assert lifecycle_call(argv) is None


POOL = [
    "--root",
    "/r",
    "--root=/q",
    "--log=/l",
    "--log-format",
    "--log-format=json",
    "json",
    "--systemd-cgroup",
    "--systemd-cgroup=0",
    "--rootless=true",
    "--debug",
    "state",
    "kill",
    "delete",
    "start",
    "x",
    "-a",
    "-f",
    "--force",
    "9",
    "create",
    "run",
    "-b",
    "--bundle=/b",
    "--pid-file",
    "--no-pivot",
    "--preserve-fds=1",
    "-d",
    "--keep",
    "exec",
    "-p",
    "--process=/q",
]


def _lines():
    """Every command line of up to four words from the pool, and 300,000 of
    five to seven words drawn at random (seeded: the same every run)."""
    for k in range(5):
        yield from map(list, itertools.product(POOL, repeat=k))
    rng = random.Random(16)
    for _ in range(300_000):
        yield rng.choices(POOL, k=rng.randint(5, 7))


def test_what_it_takes_the_cli_parses_the_same():
    """What lifecycle_call takes, cli.Args parses as the same command,
    positionals, flags and global flags, with no --debug or --trace and
    values dispatch() accepts."""
    taken = set()
    for argv in _lines():
        a = lifecycle_call(argv)
        if a is None:
            continue
        taken.add(a.cmd)
        b = Args(argv)
        assert (b.cmd, b.pos, b.opts) == (a.cmd, a.pos, a.opts), argv
        assert {k: b.g[k] for k in DEFAULTS} == a.g, argv
        assert b.g["log_format"] in ("text", "json"), argv
        assert b.g["rootless"] in ("auto", "true", "false"), argv
        assert not (b.g["debug"] or b.g["trace"] or b.g["version"] or b.g["help"]), argv
    assert taken == {"state", "kill", "delete", "start", "create", "run", "exec"}


def test_the_flags_are_the_clis():
    """Each command's flags here have the CLI's dests, kinds and defaults,
    and every dest the CLI has: a flag added to the CLI and not here would
    leave its dest out of the commands' ``opts``."""
    from ociruntime.cli import flags
    from ociruntime.entry import _COMMANDS

    for cmd, (mine, _, rest) in _COMMANDS.items():
        cli = {f.dest: (f.takes or "bool", f.default) for f in flags(cmd) if f.dest not in rest}
        assert {d: (k, v) for d, k, v in mine.values()} == cli, cmd
        cli = {f.dest: [] if f.repeat else f.default for f in flags(cmd)}
        assert {d: v for d, _, v in mine.values()} | rest == cli, cmd
        assert not {d for d, _, _ in mine.values()} & rest.keys(), cmd
        for name, (dest, _, _) in mine.items():
            assert name in next(f.names for f in flags(cmd) if f.dest == dest), (cmd, name)
