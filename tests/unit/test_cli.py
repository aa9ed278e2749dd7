"""Unit tests for ociruntime.cli: the flag parser, usage, and main()'s error path.

No containers are created: every main() call here either fails before
touching a container or reads a state record the test wrote itself.
"""

from __future__ import annotations

import json
import os
import re

import pytest

import ociruntime
from ociruntime import cli, edge, log
from ociruntime.cli import COMMANDS, GLOBAL, Args, Flag, flags, parse_flags, usage
from ociruntime.errors import OCIError, one_line
from ociruntime.state import Store

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture(autouse=True)
def _isolated_log(monkeypatch):
    """main() configures the module-global log; never leak it between tests."""
    monkeypatch.delenv("OCIRUNTIME_TRACE", raising=False)
    log.setup(None)
    yield
    log.setup(None)


def parse_error(argv: list[str]) -> str:
    """Args(argv) must fail with a one-line OCIError; return its text."""
    with pytest.raises(OCIError) as ei:
        Args(argv)
    text = str(ei.value)
    assert text and "\n" not in text
    return text


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert err.endswith("\n")
    assert lines[0].startswith("ociruntime: ")
    assert "Traceback" not in err
    return lines[0][len("ociruntime: ") :]


# ---- containerd (go-runc) argv shapes ------------------------------------------------------


def test_containerd_create():
    a = Args(
        [
            "--root",
            "/run/containerd/runc/k8s.io",
            "--log",
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/log.json",
            "--log-format",
            "json",
            "create",
            "--bundle",
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc",
            "--pid-file",
            "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/init.pid",
            "--console-socket",
            "/tmp/pty123/pty.sock",
            "abc",
        ]
    )
    assert a.cmd == "create"
    assert a.id == "abc"
    assert a.pos == ["abc"]
    assert a.g["root"] == "/run/containerd/runc/k8s.io"
    assert a.g["log"].endswith("/abc/log.json")
    assert a.g["log_format"] == "json"
    assert a.g["debug"] is False
    assert a.opts["bundle"] == "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc"
    assert a.opts["pid_file"].endswith("/abc/init.pid")
    assert a.opts["console_socket"] == "/tmp/pty123/pty.sock"
    assert a.opts["no_pivot"] is False
    assert a.opts["no_new_keyring"] is False
    assert a.opts["preserve_fds"] == 0


def test_containerd_create_extra_flags():
    a = Args(
        [
            "--root",
            "R",
            "--systemd-cgroup=false",
            "--rootless=false",
            "create",
            "--bundle",
            "B",
            "--pid-file",
            "P",
            "--no-pivot",
            "--no-new-keyring",
            "--preserve-fds",
            "2",
            "ID",
        ]
    )
    assert a.g["systemd_cgroup"] is False
    assert a.g["rootless"] == "false"
    assert a.opts["no_pivot"] is True
    assert a.opts["no_new_keyring"] is True
    assert a.opts["preserve_fds"] == 2
    assert a.id == "ID"


def test_containerd_start_state():
    for cmd in ("start", "state"):
        a = Args(["--root", "R", "--log", "L", "--log-format", "json", cmd, "ID"])
        assert (a.cmd, a.pos, a.opts) == (cmd, ["ID"], {"help": False})


def test_containerd_kill_all():
    a = Args(["--root", "R", "kill", "--all", "ID", "9"])
    assert a.cmd == "kill"
    assert a.opts["all"] is True
    assert a.pos == ["ID", "9"]
    assert a.id == "ID"


def test_kill_defaults():
    a = Args(["kill", "ID"])
    assert a.opts["all"] is False
    assert a.pos == ["ID"]
    a = Args(["kill", "-a", "ID", "SIGTERM"])
    assert a.opts["all"] is True
    assert a.pos == ["ID", "SIGTERM"]


def test_containerd_delete_force():
    a = Args(["--root", "R", "delete", "--force", "ID"])
    assert a.opts["force"] is True
    assert a.id == "ID"
    assert Args(["delete", "-f", "ID"]).opts["force"] is True
    assert Args(["delete", "ID"]).opts["force"] is False


def test_containerd_exec():
    a = Args(
        ["--root", "R", "exec", "--process", "/tmp/p.json", "--detach", "--pid-file", "P", "ID"]
    )
    assert a.cmd == "exec" and a.pos == ["ID"]
    assert a.opts["process"] == "/tmp/p.json" and a.opts["detach"] and a.opts["pid_file"] == "P"


def test_exec_args_after_id_are_the_command():
    a = Args(
        [
            "exec",
            "-t",
            "-e",
            "A=1",
            "-e",
            "B=2",
            "--cap",
            "CAP_NET_RAW",
            "ID",
            "ls",
            "-l",
            "--color",
        ]
    )
    assert a.pos == ["ID", "ls", "-l", "--color"]
    assert a.opts["tty"] and a.opts["env"] == ["A=1", "B=2"] and a.opts["cap"] == ["CAP_NET_RAW"]


def test_unknown_commands():
    assert "unknown command" in parse_error(["no-such-command", "ID"])


def test_checkpoint_and_restore_take_runcs_flags():
    a = Args(
        [
            "checkpoint",
            "--image-path",
            "/i",
            "--work-path=/w",
            "--parent-path",
            "../p",
            "--leave-running",
            "--tcp-established",
            "--ext-unix-sk",
            "--shell-job",
            "--file-locks",
            "--pre-dump",
            "--manage-cgroups-mode",
            "soft",
            "--empty-ns",
            "network",
            "--auto-dedup",
            "--lazy-pages",
            "--page-server",
            "127.0.0.1:27",
            "--status-fd",
            "5",
            "ID",
        ]
    )
    o = a.opts
    assert a.id == "ID" and o["image_path"] == "/i" and o["work_path"] == "/w"
    assert o["parent_path"] == "../p" and o["empty_ns"] == ["network"] and o["status_fd"] == 5
    assert all(
        o[k]
        for k in (
            "leave_running",
            "tcp_established",
            "ext_unix_sk",
            "shell_job",
            "file_locks",
            "pre_dump",
            "auto_dedup",
            "lazy_pages",
        )
    )
    r = Args(
        "restore -b B -d --pid-file P --console-socket S --no-subreaper --no-pivot"
        " --no-new-keyring --image-path I --work-path W --tcp-established --ext-unix-sk"
        " --shell-job --file-locks --manage-cgroups-mode full --lazy-pages --empty-ns network"
        " --auto-dedup --lsm-profile apparmor:x --lsm-mount-context ctx ID".split()
    )
    assert r.id == "ID" and r.opts["bundle"] == "B" and r.opts["detach"]
    assert r.opts["manage_cgroups_mode"] == "full" and r.opts["lsm_profile"] == "apparmor:x"
    assert Args(["checkpoint", "ID"]).opts["status_fd"] == -1


def test_flags_after_positionals():
    a = Args(["create", "ID", "--bundle", "B"])
    assert a.id == "ID"
    assert a.opts["bundle"] == "B"


def test_create_defaults():
    a = Args(["create", "ID"])
    assert a.opts["bundle"] == "."
    assert a.opts["pid_file"] is None
    assert a.opts["console_socket"] is None
    assert a.g["root"] is None
    assert a.g["log"] is None
    assert a.g["log_format"] == "text"
    assert a.g["rootless"] == "auto"


def test_run_flags():
    a = Args(["run", "-d", "--keep", "-b", "B", "ID"])
    assert a.opts["detach"] is True
    assert a.opts["keep"] is True
    assert a.opts["bundle"] == "B"
    assert Args(["run", "ID"]).opts["detach"] is False


def test_list_flags():
    a = Args(["list", "--format", "json", "-q"])
    assert a.opts == {"format": "json", "quiet": True, "help": False}
    assert a.pos == []
    assert Args(["list"]).opts["format"] == "table"


def test_spec_flags():
    a = Args(["spec", "--rootless", "-b", "/tmp/x"])
    assert a.opts["rootless"] is True
    assert a.opts["bundle"] == "/tmp/x"


# ---- podman (conmon) shapes ---------------------------------------------------------------


def test_podman_equals_forms():
    a = Args(
        [
            "--root=/run/runc",
            "--systemd-cgroup",
            "--log-format=json",
            "--log=/var/lib/ctr/oci-log",
            "create",
            "--bundle=/var/lib/ctr/userdata",
            "--pid-file=/run/ctr/pidfile",
            "ctr",
        ]
    )
    assert a.g["root"] == "/run/runc"
    assert a.g["systemd_cgroup"] is True
    assert a.g["log_format"] == "json"
    assert a.g["log"] == "/var/lib/ctr/oci-log"
    assert a.opts["bundle"] == "/var/lib/ctr/userdata"
    assert a.opts["pid_file"] == "/run/ctr/pidfile"
    assert a.id == "ctr"


def test_equals_value_may_contain_equals_and_be_empty():
    a = Args(["--root=/a=b", "create", "--pid-file=", "ID"])
    assert a.g["root"] == "/a=b"
    assert a.opts["pid_file"] == ""


# ---- Go-style flags -----------------------------------------------------------------------


def test_go_style_single_dash_long_flags():
    a = Args(
        ["-root", "R", "-log-format", "json", "create", "-bundle", "X", "-pid-file", "P", "ID"]
    )
    assert a.g["root"] == "R"
    assert a.g["log_format"] == "json"
    assert a.opts["bundle"] == "X"
    assert a.opts["pid_file"] == "P"


def test_go_style_single_dash_with_equals():
    a = Args(["-root=R", "kill", "-all", "ID"])
    assert a.g["root"] == "R"
    assert a.opts["all"] is True


def test_short_flags():
    a = Args(["create", "-b", "X", "ID"])
    assert a.opts["bundle"] == "X"
    assert Args(["-v"]).g["version"] is True
    assert Args(["-h"]).g["help"] is True


# ---- booleans and values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "arg, want",
    [
        ("--detach", True),
        ("--detach=true", True),
        ("--detach=TRUE", True),
        ("--detach=1", True),
        ("--detach=false", False),
        ("--detach=False", False),
        ("--detach=0", False),
        ("-d", True),
        ("-d=false", False),
    ],
)
def test_bool_values(arg, want):
    assert Args(["run", arg, "ID"]).opts["detach"] is want


def test_bool_later_wins():
    assert Args(["run", "--detach", "--detach=false", "ID"]).opts["detach"] is False


@pytest.mark.parametrize("value", ["yes", "no", "", "2", "on"])
def test_bool_invalid_value(value):
    text = parse_error(["run", f"--detach={value}", "ID"])
    assert "invalid boolean value" in text
    assert "--detach" in text


def test_bool_does_not_take_next_arg():
    # like Go's flag package: "--detach false" is --detach plus a positional
    text = parse_error(["run", "--detach", "false", "ID"])
    assert "unexpected argument" in text


def test_int_flag():
    assert Args(["create", "--preserve-fds", "3", "ID"]).opts["preserve_fds"] == 3
    assert Args(["create", "--preserve-fds=5", "ID"]).opts["preserve_fds"] == 5


@pytest.mark.parametrize("value", ["x", "1.5", "", "3fds"])
def test_int_flag_invalid(value):
    text = parse_error(["create", f"--preserve-fds={value}", "ID"])
    assert "--preserve-fds" in text
    assert "expected an integer" in text


def test_value_flag_takes_dash_value():
    assert Args(["--log", "-", "state", "ID"]).g["log"] == "-"
    assert Args(["create", "--bundle", "--weird", "ID"]).opts["bundle"] == "--weird"


def test_later_value_wins():
    a = Args(["--root", "A", "--root", "B", "create", "-b", "1", "--bundle=2", "ID"])
    assert a.g["root"] == "B"
    assert a.opts["bundle"] == "2"


def test_double_dash_ends_flags():
    a = Args(["kill", "--", "ID", "9"])
    assert a.pos == ["ID", "9"]
    a = Args(["--root", "R", "--", "state", "ID"])
    assert a.cmd == "state"
    assert a.id == "ID"


def test_single_dash_is_positional():
    assert Args(["state", "-"]).id == "-"


# ---- missing values, unknown flags and commands ------------------------------------------------


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["--root"], "--root"),
        (["--log-format"], "--log-format"),
        (["create", "--bundle"], "--bundle"),
        (["create", "ID", "--pid-file"], "--pid-file"),
        (["create", "ID", "-b"], "-b"),
        (["list", "--format"], "--format"),
    ],
)
def test_missing_value(argv, flag):
    assert parse_error(argv) == f"flag needs an argument: {flag}"


@pytest.mark.parametrize(
    "argv, name",
    [
        (["--bogus", "state", "ID"], "--bogus"),
        (["--bogus=1", "state", "ID"], "--bogus"),
        (["-x", "state", "ID"], "-x"),
        (["-nosuch", "state", "ID"], "-nosuch"),
        (["state", "--bogus", "ID"], "--bogus"),
        (["kill", "ID", "-9"], "-9"),
        (["create", "--all", "ID"], "--all"),  # kill's flag, not create's
        (["state", "--root", "R", "ID"], "--root"),  # global flags go first
    ],
)
def test_unknown_flag(argv, name):
    assert parse_error(argv) == f"flag provided but not defined: {name}"


def test_first_bad_flag_is_reported():
    assert "invalid boolean value" in parse_error(["delete", "--force=please", "--nope", "ID"])
    assert "not defined: --nope" in parse_error(["delete", "--nope", "--force=please", "ID"])


def test_unknown_command():
    text = parse_error(["--root", "R", "frobnicate", "ID"])
    assert text == "unknown command 'frobnicate' (see ociruntime --help)"


def test_unknown_command_wins_over_its_flags():
    assert "unknown command" in parse_error(["frobnicate", "--whatever", "ID"])


@pytest.mark.parametrize("cmd", ["create", "run", "start", "state", "kill", "delete"])
def test_missing_id(cmd):
    text = parse_error(["--root", "R", cmd])
    assert text == f"{cmd}: container-id is required (ociruntime {cmd} --help)"


def test_missing_id_after_flags():
    assert "container-id is required" in parse_error(["create", "--bundle", "B"])
    assert "container-id is required" in parse_error(["kill", "--all"])


@pytest.mark.parametrize(
    "argv, extra",
    [
        (["state", "a", "b"], "b"),
        (["start", "a", "b", "c"], "b"),
        (["delete", "--force", "a", "b"], "b"),
        (["kill", "a", "9", "x"], "x"),
        (["create", "a", "b"], "b"),
        (["list", "x"], "x"),
        (["spec", "x"], "x"),
    ],
)
def test_too_many_args(argv, extra):
    assert parse_error(argv) == f"{argv[0]}: unexpected argument {extra!r}"


# ---- help and version --------------------------------------------------------------------------


def test_no_args():
    a = Args([])
    assert a.cmd is None
    assert a.pos == [] and a.opts == {}


def test_global_help_short_circuits():
    for argv in (["--help"], ["-h"], ["--help", "bogus", "--nope"], ["-help"]):
        a = Args(argv)
        assert a.g["help"] is True


def test_version_short_circuits():
    assert Args(["--version", "state"]).g["version"] is True  # no missing-id error
    assert Args(["-version"]).g["version"] is True


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_command_help(cmd):
    for flag in ("--help", "-h"):
        a = Args([cmd, flag])  # no missing-id error either
        assert a.cmd == cmd
        assert a.opts["help"] is True


def test_usage_global():
    text = usage()
    assert text.startswith("usage: ociruntime ")
    for name, (help_text, _, _) in COMMANDS.items():
        assert re.search(rf"^  {name} +{re.escape(help_text)}$", text, re.M), name
    for f in GLOBAL:
        for n in f.names:
            assert n in text


# What callers pass, per command (containerd's go-runc, conmon, podman, CRI-O,
# runtime-tools; /work/shared/notes/runtime-notes.md and runc's man pages): a
# list kept apart from the CLI's own table, so that a flag dropped from the
# table fails here.
CALLER_FLAGS = {
    "create": ["--bundle", "-b", "--pid-file", "--console-socket", "--no-pivot",
               "--no-new-keyring", "--preserve-fds"],
    "run": ["--bundle", "-b", "--detach", "-d", "--pid-file", "--console-socket", "--no-pivot",
            "--no-new-keyring", "--preserve-fds"],
    "exec": ["--process", "-p", "--detach", "-d", "--pid-file", "--console-socket",
             "--preserve-fds", "--tty", "-t", "--cwd", "--env", "-e", "--user", "-u", "--cap",
             "-c", "--no-new-privs", "--ignore-paused", "--cgroup", "--additional-gids", "-g",
             "--apparmor", "--process-label"],
    "kill": ["--all", "-a"],
    "delete": ["--force", "-f"],
    "ps": ["--format", "-f"],
    "list": ["--format", "-f", "--quiet", "-q"],
    "events": ["--stats", "--interval"],
    "update": ["--resources", "-r", "--memory", "--memory-swap", "--memory-reservation",
               "--cpu-shares", "--cpu-share", "--cpu-quota", "--cpu-period", "--cpuset-cpus",
               "--cpuset-mems", "--pids-limit", "--blkio-weight"],
    "spec": ["--bundle", "-b", "--rootless"],
    "start": [], "state": [], "pause": [], "resume": [], "features": [],
}  # fmt: skip
CALLER_GLOBAL = ["--root", "--log", "--log-format", "--debug", "--systemd-cgroup", "--rootless",
                 "--version", "--help"]  # fmt: skip


@pytest.mark.parametrize("cmd", sorted(CALLER_FLAGS))
def test_every_flag_callers_pass_is_taken(cmd):
    assert cmd in COMMANDS
    names = {n for f in flags(cmd) for n in f.names}
    assert set(CALLER_FLAGS[cmd]) <= names, sorted(set(CALLER_FLAGS[cmd]) - names)
    text = usage(cmd)
    for flag in CALLER_FLAGS[cmd]:
        assert flag in text, flag


def test_every_global_flag_callers_pass_is_taken():
    names = {n for f in GLOBAL for n in f.names}
    assert set(CALLER_GLOBAL) <= names, sorted(set(CALLER_GLOBAL) - names)


@pytest.mark.parametrize("cmd", sorted(COMMANDS))
def test_usage_command(cmd):
    help_text, _, pos = COMMANDS[cmd]
    text = usage(cmd)
    assert text.startswith(f"usage: ociruntime [global options] {cmd} [options]")
    assert help_text in text
    assert " ".join(pos) in text.splitlines()[0]
    for f in flags(cmd):
        assert ", ".join(f.names) in text
        if f.takes:
            assert ", ".join(f.names) + " VALUE" in text


def test_main_help(capsys):
    code, out, err = run_main(["--help"], capsys)
    assert code == 0
    assert out == usage()
    assert err == ""


def test_main_command_help(capsys):
    code, out, err = run_main(["kill", "--help"], capsys)
    assert code == 0
    assert out == usage("kill")
    assert "--all" in out
    assert "container-id [signal]" in out
    assert err == ""


def test_main_no_args_prints_usage_and_fails(capsys):
    code, out, err = run_main([], capsys)
    assert code == 1
    assert out == usage()


def test_main_version(capsys):
    for flag in ("--version", "-v"):
        code, out, err = run_main([flag], capsys)
        assert code == 0
        # runc's lines; from a source tree (no installed build) the commit is unknown
        assert out == (
            f"ociruntime version {ociruntime.__version__}\n"
            "commit: unknown\n"
            f"spec: {ociruntime.SPEC_VERSION}\n"
        )
        assert err == ""


# ---- parse_flags / Flag directly -------------------------------------------------------------------


def test_flag_dest_and_defaults():
    f = Flag("-b --bundle-dir", "help", "str", ".")
    assert f.names == ["-b", "--bundle-dir"]
    assert f.dest == "bundle_dir"
    assert f.default == "."
    assert Flag("--x", "bool").default is False
    assert Flag("--x", "value", "str").default is None


def test_parse_flags_repeat():
    flags = [Flag("-e --env", "env", "str", repeat=True)]
    opts, pos = parse_flags(flags, ["-e", "A=1", "--env=B=2", "x"], stop_at_positional=False)
    assert opts == {"env": ["A=1", "B=2"]}
    assert pos == ["x"]
    opts, _ = parse_flags(flags, [], stop_at_positional=False)
    assert opts == {"env": []}


def test_parse_flags_stop_at_positional():
    flags = [Flag("--a", "bool")]
    opts, pos = parse_flags(flags, ["--a", "cmd", "--b", "x"], stop_at_positional=True)
    assert opts == {"a": True}
    assert pos == ["cmd", "--b", "x"]
    with pytest.raises(OCIError, match="not defined: --b"):
        parse_flags(flags, ["--a", "cmd", "--b"], stop_at_positional=False)


def test_parse_flags_does_not_share_defaults():
    flags = [Flag("-e --env", "env", "str", repeat=True)]
    a, _ = parse_flags(flags, ["-e", "x"], stop_at_positional=False)
    b, _ = parse_flags(flags, [], stop_at_positional=False)
    assert a == {"env": ["x"]} and b == {"env": []}


# ---- main(): errors are one line on stderr, one record in the log --------------------------------------


def test_main_state_not_found(tmp_path, capsys):
    code, out, err = run_main(["--root", str(tmp_path), "state", "nope"], capsys)
    assert code == 1
    assert out == ""
    assert one_error_line(err) == 'container "nope" does not exist'


@pytest.mark.parametrize("cmd", ["start", "kill", "delete"])
def test_main_other_commands_not_found(tmp_path, capsys, cmd):
    code, out, err = run_main(["--root", str(tmp_path), cmd, "nope"], capsys)
    assert code == 1
    assert one_error_line(err) == 'container "nope" does not exist'


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["bogus"], "unknown command 'bogus' (see ociruntime --help)"),
        (["--nope", "state", "x"], "flag provided but not defined: --nope"),
        (["state"], "state: container-id is required (ociruntime state --help)"),
        (["state", "a", "b"], "state: unexpected argument 'b'"),
        (["--root"], "flag needs an argument: --root"),
        (["state", "../x"], 'invalid container id "../x"'),
        (["kill", "x", "FOO"], "invalid signal"),
    ],
)
def test_main_errors_are_one_line(tmp_path, capsys, argv, msg):
    if argv[0] != "--root":
        argv = ["--root", str(tmp_path), *argv]
    code, out, err = run_main(argv, capsys)
    assert code == 1
    assert out == ""
    assert one_error_line(err).startswith(msg)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("a\nb", "a\\nb"),
        ("a\r\tb", "a\\r\\tb"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\x7f\x85", "\\x7f\\x85"),
        ("lone \ud800", "lone \\ud800"),
        ("\u202eevil\u2028", "\\u202eevil\\u2028"),
        ("ünïcode 日本 \U0001f600 ok", "ünïcode 日本 \U0001f600 ok"),
        ("a\\nb", "a\\nb"),
    ],
)
def test_error_lines_escape_what_breaks_a_line(tmp_path, capsys, text, shown):
    """A config's value in a message (a capability's name, a key, a path)
    must not make two lines of one error, drive the terminal or fail to be
    written (a lone surrogate): a capability named "\\n" made its warning
    two lines.  The same escaping in the log, for warnings too."""
    logf = tmp_path / "log.json"
    assert one_line(text) == shown
    assert one_line(shown) == shown
    code = edge.fail(text, 1, False)
    assert code == 1
    assert capsys.readouterr().err == f"ociruntime: {shown}\n"
    log.setup(str(logf), "json", create=True)
    log.warn(text)
    edge.fail(text, 1, False)
    recs = [json.loads(x) for x in logf.read_text().splitlines()]
    assert [r["msg"] for r in recs] == [shown, shown]
    assert capsys.readouterr().err == f"ociruntime: {shown}\n"
    log.setup(None)
    log.warn(text)
    assert capsys.readouterr().err == f"ociruntime: warning: {shown}\n"


def test_main_invalid_log_format(tmp_path, capsys):
    code, _, err = run_main(["--root", str(tmp_path), "--log-format", "xml", "state", "x"], capsys)
    assert code == 1
    assert "invalid --log-format 'xml'" in one_error_line(err)


def test_main_systemd_cgroup_accepted(tmp_path, capsys):
    """Every command takes it (containerd passes it to all); only create and
    run use it: a container's record says which driver made its cgroup."""
    code, _, err = run_main(["--root", str(tmp_path), "--systemd-cgroup", "state", "x"], capsys)
    assert code == 1
    assert one_error_line(err) == 'container "x" does not exist'
    import ociruntime

    ociruntime.SYSTEMD_CGROUP = False


def test_main_rootless_true_accepted(tmp_path, capsys):
    code, _, err = run_main(["--root", str(tmp_path), "--rootless", "true", "state", "x"], capsys)
    assert code == 1
    assert one_error_line(err) == 'container "x" does not exist'


def test_main_rootless_bad_value(tmp_path, capsys):
    code, _, err = run_main(["--root", str(tmp_path), "--rootless", "maybe", "state", "x"], capsys)
    assert code == 1
    assert one_error_line(err) == "invalid --rootless=maybe: expected auto, true or false"


def test_main_rootless_false_accepted(tmp_path, capsys):
    code, _, err = run_main(["--root", str(tmp_path), "--rootless=false", "state", "x"], capsys)
    assert one_error_line(err) == 'container "x" does not exist'


def test_main_json_log_has_one_error_record(tmp_path, capsys):
    logf = tmp_path / "log.json"
    argv = ["--root", str(tmp_path / "root"), "--log", str(logf), "--log-format", "json"]
    code, out, err = run_main([*argv, "state", "nope"], capsys)
    assert code == 1
    assert one_error_line(err) == 'container "nope" does not exist'
    lines = logf.read_text().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert list(rec) == ["level", "msg", "time"]
    assert rec["level"] == "error"
    assert rec["msg"] == 'container "nope" does not exist'
    assert RFC3339.match(rec["time"]), rec["time"]


def test_main_json_log_appends(tmp_path, capsys):
    logf = tmp_path / "log.json"
    logf.write_text('{"level":"info","msg":"earlier","time":"2024-01-01T00:00:00Z"}\n')
    argv = ["--root", str(tmp_path / "root"), "--log", str(logf), "--log-format=json"]
    assert run_main([*argv, "state", "nope"], capsys)[0] == 1
    lines = logf.read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["msg"] == "earlier"
    assert json.loads(lines[1])["level"] == "error"


def test_main_json_log_for_command_parse_error(tmp_path, capsys):
    # the global flags parsed fine, so --log is known: containerd reads the
    # error from the log file, it must be there too
    logf = tmp_path / "log.json"
    argv = ["--root", str(tmp_path / "root"), "--log", str(logf), "--log-format", "json"]
    code, _, err = run_main([*argv, "state"], capsys)
    assert code == 1
    assert one_error_line(err) == "state: container-id is required (ociruntime state --help)"
    assert logf.exists(), "no error record in --log for a command-line error"
    lines = logf.read_text().splitlines()
    assert len(lines) == 1
    assert (
        json.loads(lines[0])["msg"] == "state: container-id is required (ociruntime state --help)"
    )


def test_main_text_log_record(tmp_path, capsys):
    logf = tmp_path / "log.txt"
    argv = ["--root", str(tmp_path / "root"), "--log", str(logf)]
    assert run_main([*argv, "state", "nope"], capsys)[0] == 1
    lines = logf.read_text().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert re.match(r'^time="[^"]+" level=error msg=', line), line
    # logfmt (as logrus writes it): quotes inside the message are escaped
    assert line.endswith(r'msg="container \"nope\" does not exist"'), line


def test_main_without_log_writes_no_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_main(["--root", str(tmp_path / "root"), "state", "nope"], capsys)
    assert os.listdir(tmp_path) == []


def test_main_internal_error_is_one_line(tmp_path, capsys, monkeypatch):
    def boom(a):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "dispatch", boom)
    code, out, err = run_main(["--root", str(tmp_path), "state", "x"], capsys)
    assert code == 1
    line = one_error_line(err)
    assert line.startswith("internal error: RuntimeError('boom')")
    assert "--debug" in line


def test_main_debug_shows_traceback(tmp_path, capsys, monkeypatch):
    def boom(a):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "dispatch", boom)
    code, out, err = run_main(["--debug", "--root", str(tmp_path), "state", "x"], capsys)
    assert code == 1
    assert "Traceback" in err
    assert "RuntimeError: boom" in err
    assert err.splitlines()[-1].startswith("ociruntime: internal error: RuntimeError('boom')")


def test_main_debug_oci_error(tmp_path, capsys):
    code, _, err = run_main(["--debug", "--root", str(tmp_path), "state", "nope"], capsys)
    assert code == 1
    assert err.splitlines()[-1] == 'ociruntime: container "nope" does not exist'


def test_main_os_error_is_one_line(tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "dir"
    code, _, err = run_main(["spec", "--bundle", str(missing)], capsys)
    assert code == 1
    line = one_error_line(err)
    assert str(missing) in line


def test_main_exit_code_from_error(tmp_path, capsys, monkeypatch):
    def fail(a):
        raise OCIError("custom", exit_code=7)

    monkeypatch.setattr(cli, "dispatch", fail)
    code, _, err = run_main(["state", "x"], capsys)
    assert code == 7
    assert one_error_line(err) == "custom"


def test_main_keyboard_interrupt(capsys, monkeypatch):
    def interrupt(a):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "dispatch", interrupt)
    assert cli.main(["state", "x"]) == 130


# ---- main(): commands that only read or write plain files -----------------------------------------------


def _saved(root: str, cid: str) -> dict:
    store = Store(root)
    os.close(store.make(cid))
    rec = {
        "ociVersion": "1.2.0",
        "id": cid,
        "pid": 0,
        "bundle": "/b/" + cid,
        "rootfs": f"/b/{cid}/rootfs",
        "created": "2024-05-01T12:00:00.000000000Z",
        "owner": "",
        "annotations": {},
        "initStartTime": 0,
    }
    store.save(cid, rec)
    return rec


def test_main_state_of_stopped_container(tmp_path, capsys):
    root = str(tmp_path)
    _saved(root, "c1")
    code, out, err = run_main(["--root", root, "state", "c1"], capsys)
    assert code == 0
    assert err == ""
    st = json.loads(out)
    assert st["id"] == "c1"
    assert st["status"] == "stopped"
    assert st["pid"] == 0
    assert "initStartTime" not in st


def test_main_list(tmp_path, capsys):
    root = str(tmp_path)
    _saved(root, "b1")
    _saved(root, "a1")
    code, out, _ = run_main(["--root", root, "list", "-q"], capsys)
    assert code == 0
    assert out == "a1\nb1\n"
    code, out, _ = run_main(["--root", root, "list", "--format", "json"], capsys)
    assert [s["id"] for s in json.loads(out)] == ["a1", "b1"]
    code, out, _ = run_main(["--root", root, "list"], capsys)
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert lines[1].split()[:3] == ["a1", "0", "stopped"]


def test_main_list_empty_root(tmp_path, capsys):
    code, out, _ = run_main(["--root", str(tmp_path / "none"), "list", "--format=json"], capsys)
    assert code == 0
    assert json.loads(out) == []


def test_main_list_bad_format(tmp_path, capsys):
    code, _, err = run_main(["--root", str(tmp_path), "list", "--format", "yaml"], capsys)
    assert code == 1
    assert "invalid format 'yaml'" in one_error_line(err)


def test_main_spec(tmp_path, capsys):
    from ociruntime.config.default import default_config

    code, out, err = run_main(["spec", "--bundle", str(tmp_path)], capsys)
    assert code == 0
    assert (out, err) == ("", "")
    assert json.loads((tmp_path / "config.json").read_text()) == default_config()
    code, _, err = run_main(["spec", "-b", str(tmp_path)], capsys)
    assert code == 1
    assert "exists" in one_error_line(err)


# ---- exec: every failure of its own is 255 ---------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["exec", "--no-such-flag", "ID", "true"],
        ["exec", "-g", "abc", "ID", "true"],
        ["exec", "--preserve-fds"],
        ["exec", "--detach=maybe", "ID", "true"],
    ],
)
def test_exec_usage_errors_exit_255(argv, capsys, tmp_path):
    code, out, err = run_main(["--root", str(tmp_path), *argv], capsys)
    assert code == 255 and out == ""
    one_error_line(err)


def test_other_usage_errors_exit_1(capsys, tmp_path):
    code, _, err = run_main(["--root", str(tmp_path), "kill", "--no-such-flag", "ID"], capsys)
    assert code == 1
    one_error_line(err)


def test_os_error_text_is_gos_wording():
    from ociruntime.errors import os_error_text

    assert os_error_text(FileNotFoundError(2, "No such file or directory", "/x")) == (
        "/x: no such file or directory"
    )
    assert os_error_text(PermissionError(13, "Permission denied")) == "permission denied"
    e = IsADirectoryError(21, "Is a directory", "/a", None, "/b")
    assert os_error_text(e) == "/a -> /b: is a directory"


def test_an_os_error_is_one_clean_line(monkeypatch, capsys, tmp_path):
    def boom(a):
        raise FileNotFoundError(2, "No such file or directory", "/some/file")

    from ociruntime.commands import lifecycle

    monkeypatch.setattr(lifecycle, "cmd_state", boom)
    code, _, err = run_main(["--root", str(tmp_path), "state", "x"], capsys)
    assert code == 1
    assert one_error_line(err) == "/some/file: no such file or directory"


def test_the_command_table_makes_no_flag_until_asked():
    """cli.flags(): the table holds Flag's arguments, so a call makes the
    Flags of its own command only (a hundred Flags made on every call cost
    0.1 ms); each spec still makes a Flag."""
    specs = [s for c in COMMANDS.values() for s in c[1]]
    assert len(specs) > 60 and all(type(s) is tuple for s in specs)
    assert all(isinstance(f, Flag) for c in COMMANDS for f in flags(c))


# ---- exec: where a process error points -----------------------------------------------------------


@pytest.mark.parametrize(
    "where, opts, want",
    [
        ("config.json: /process/cwd", {"cwd": "/x"}, "--cwd"),
        ("config.json: /process/cwd", {}, "config.json: /process/cwd"),  # the container's own
        ("config.json: /process/user/uid", {"user": "5"}, "--user"),
        ("config.json: /process/capabilities/bounding/3", {"cap": ["CAP_X"]}, "--cap"),
        ("config.json: /process/args/0", {}, "the command"),
        ("config.json: /process/apparmorProfile", {"apparmor": "p"}, "--apparmor"),
        ("config.json: /process/selinuxLabel", {"process_label": "l"}, "--process-label"),
        ("config.json: /process/selinuxLabel", {}, "config.json: /process/selinuxLabel"),
        ("config.json: /process/rlimits/0/type", {}, "config.json: /process/rlimits/0/type"),
        ("config.json: /process/cwd", {"process": "/p.json"}, "/p.json: /cwd"),
        ("config.json: /process", {"process": "/p.json"}, "/p.json: /"),
        ("config.json: /processes", {"process": "/p.json"}, "config.json: /processes"),
        ("config.json: /linux/sysctl", {"process": "/p.json"}, "config.json: /linux/sysctl"),
        ("/sys/fs/cgroup/x", {"cwd": "/x"}, "/sys/fs/cgroup/x"),
        (None, {"cwd": "/x"}, None),
    ],
)
def test_exec_errors_name_the_flag_or_file_that_gave_the_value(where, opts, want):
    from ociruntime.commands.extra import exec_where

    o = {
        "process": None,
        "cwd": None,
        "user": None,
        "env": [],
        "cap": [],
        "apparmor": None,
        "process_label": None,
        **opts,
    }
    assert exec_where(where, o) == want


@pytest.mark.parametrize(
    "where, opts, want",
    [
        ("config.json: /linux/resources/memory/swap", {}, "--memory-swap"),
        ("config.json: /linux/resources/cpu/cpus", {}, "--cpuset-cpus"),
        ("config.json: /linux/resources/pids/limit", {}, "--pids-limit"),
        (
            "config.json: /linux/resources/memory/swap",
            {"resources": "/r.json"},
            "/r.json: /memory/swap",
        ),
        ("config.json: /linux/resources/memory", {"resources": "-"}, "stdin: /memory"),
        ("config.json: /linux/resources/unified", {}, "config.json: /linux/resources/unified"),
        ("config.json: /linux/devices", {}, "config.json: /linux/devices"),
        ("/sys/fs/cgroup/x", {}, "/sys/fs/cgroup/x"),
        (None, {}, None),
    ],
)
def test_update_errors_name_the_flag_or_file_that_gave_the_value(where, opts, want):
    from ociruntime.commands.extra import update_where

    assert update_where(where, {"resources": None, **opts}) == want
