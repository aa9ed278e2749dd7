"""entry.state_call: the command lines ``state`` answers without the CLI.

What it takes must mean to the CLI exactly what entry.py does with it (the
root, the log, the id), and whatever it leaves must reach the CLI; checked
here against cli.Args over every combination of a pool of global flags.
"""

from __future__ import annotations

import itertools

import pytest

from ociruntime.cli import Args
from ociruntime.entry import state_call

TAKEN = [
    (["state", "c1"], {}, "c1"),
    (["--root", "/r", "state", "c1"], {"--root": "/r"}, "c1"),
    (["--root=/r", "state", "c1"], {"--root": "/r"}, "c1"),
    # containerd (go-runc) and podman
    (
        ["--root", "/r", "--log", "/l.json", "--log-format", "json", "state", "x"],
        {"--root": "/r", "--log": "/l.json", "--log-format": "json"},
        "x",
    ),
    (
        ["--log-format=json", "--log=/l", "--systemd-cgroup", "--root=/r", "state", "x"],
        {"--log-format": "json", "--log": "/l", "--root": "/r"},
        "x",
    ),
    (["--systemd-cgroup=false", "--rootless", "auto", "state", "x"], {"--rootless": "auto"}, "x"),
    # an id that is a flag's value elsewhere, or a command's name
    (["--root", "state", "state", "run"], {"--root": "state"}, "run"),
    (["--root=", "state", "c"], {"--root": ""}, "c"),
]

LEFT = [
    [],
    ["state"],
    ["state", "a", "b"],
    ["state", "--help", "x"],
    ["state", "-h"],
    ["state", "--", "x"],
    ["--debug", "state", "x"],
    ["--trace", "/t.json", "state", "x"],
    ["--version", "state", "x"],
    ["-v", "state", "x"],
    ["--log-format", "xml", "state", "x"],
    ["--log-format=JSON", "state", "x"],
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
    ["kill", "state"],
    ["delete", "state"],
    ["--root", "/r", "list"],
]


@pytest.mark.parametrize("argv,opts,cid", TAKEN)
def test_takes(argv, opts, cid):
    assert state_call(argv) == (opts, cid)


@pytest.mark.parametrize("argv", LEFT)
def test_leaves_to_the_cli(argv):
    assert state_call(argv) is None


POOL = [
    "--root",
    "/r",
    "--root=/q",
    "--log",
    "--log=/l",
    "--log-format",
    "--log-format=json",
    "--log-format=text",
    "json",
    "--systemd-cgroup",
    "--systemd-cgroup=1",
    "--rootless=true",
    "--debug",
    "state",
    "x",
    "-a",
]


def test_what_it_takes_the_cli_parses_the_same():
    """Every command line of up to five words from the pool: what state_call
    takes, Args parses as state of the same id with the same root, log and
    log format, no --debug or --trace, and values dispatch() accepts."""
    taken = 0
    for k in range(6):
        for argv in map(list, itertools.product(POOL, repeat=k)):
            call = state_call(argv)
            if call is None:
                continue
            taken += 1
            opts, cid = call
            a = Args(argv)
            assert (a.cmd, a.pos, a.opts) == ("state", [cid], {"help": False}), argv
            g = a.g
            assert g["root"] == opts.get("--root"), argv
            assert g["log"] == opts.get("--log"), argv
            assert g["log_format"] == opts.get("--log-format", "text"), argv
            assert g["log_format"] in ("text", "json") and g["rootless"] in (
                "auto",
                "true",
                "false",
            )
            assert not (g["debug"] or g["trace"] or g["version"] or g["help"]), argv
    assert taken > 100
