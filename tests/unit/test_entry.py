"""entry.lifecycle_call: the command lines that go round the CLI.

What it takes must mean to the CLI exactly what entry.py does with it
(the command, its id and flag, the global flags), and whatever it leaves
must reach the CLI; checked here against cli.Args over every combination
of a pool of words.
"""

from __future__ import annotations

import itertools

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
]

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
    ["delete", "-f", "-f", "x"],
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
    ["run", "state"],
    ["create", "start"],
    ["--root", "/r", "list"],
    ["exec", "x", "kill"],
    ["update", "x"],
]


@pytest.mark.parametrize("argv,g,cmd,opts,pos", TAKEN)
def test_takes(argv, g, cmd, opts, pos):
    a = lifecycle_call(argv)
    assert a is not None
    assert (a.g, a.cmd, a.opts, a.pos, a.id) == (
        DEFAULTS | g,
        cmd,
        {"help": False} | opts,
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
]


def test_what_it_takes_the_cli_parses_the_same():
    """Every command line of up to five words from the pool: what
    lifecycle_call takes, cli.Args parses as the same command, positionals,
    flag and global flags, with no --debug or --trace and values dispatch()
    accepts."""
    taken = set()
    for k in range(6):
        for argv in map(list, itertools.product(POOL, repeat=k)):
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
    assert taken == {"state", "kill", "delete", "start"}
