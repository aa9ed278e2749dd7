"""Command line: runc's flags and subcommands over the Python API.

Only parsing and formatting live here.  Errors become one line on stderr
(``ociruntime: ...``), one record in ``--log``, and exit status 1; a
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import SPEC_VERSION, __version__, log
from .errors import OCIError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, runc-like, exit 1
        raise OCIError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ociruntime", description="an OCI container runtime")
    p.add_argument("--root", default=os.environ.get("OCIRUNTIME_ROOT"))
    p.add_argument("--log", default=None)
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true")
    p.add_argument("--rootless", default="auto")
    p.add_argument("--criu", default=None, help=argparse.SUPPRESS)
    p.add_argument("-v", "--version", action="store_true")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)

    def cmd(name: str, help: str, id: bool = True) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help)
        if id:
            s.add_argument("id", metavar="container-id")
        return s

    def create_flags(s: argparse.ArgumentParser) -> None:
        s.add_argument("-b", "--bundle", default=".")
        s.add_argument("--pid-file")
        s.add_argument("--console-socket")
        s.add_argument("--no-pivot", action="store_true")
        s.add_argument("--no-new-keyring", action="store_true")
        s.add_argument("--preserve-fds", type=int, default=0)

    s = cmd("create", "create a container")
    create_flags(s)
    s = cmd("run", "create and start a container")
    create_flags(s)
    s.add_argument("-d", "--detach", action="store_true")
    s.add_argument("--keep", action="store_true")
    cmd("start", "start a created container")
    cmd("state", "print the state of a container")
    s = cmd("kill", "send a signal to the container's init")
    s.add_argument("-a", "--all", action="store_true")
    s.add_argument("signal", nargs="?", default="TERM")
    s = cmd("delete", "delete a container")
    s.add_argument("-f", "--force", action="store_true")
    s = cmd("list", "list containers", id=False)
    s.add_argument("-f", "--format", choices=("table", "json"), default="table")
    s.add_argument("-q", "--quiet", action="store_true")
    s = cmd("spec", "write a default config.json", id=False)
    s.add_argument("-b", "--bundle", default=".")
    s.add_argument("--rootless", action="store_true", dest="spec_rootless")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = _parser().parse_args(argv)
        log.setup(args.log, args.log_format, args.debug)
        return dispatch(args)
    except OCIError as e:
        return _fail(e.text, e.exit_code, debug)
    except OSError as e:
        return _fail(str(e), 1, debug)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: still one line unless --debug
        return _fail(f"internal error: {e!r} (run with --debug for a traceback)", 1, debug)


def _fail(text: str, code: int, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exc()
    log.error(text)
    sys.stderr.write(f"ociruntime: {text}\n")
    return code


def dispatch(a: argparse.Namespace) -> int:
    if a.version:
        print(f"ociruntime version {__version__}\nspec: {SPEC_VERSION}")
        return 0
    if a.cmd is None:
        raise OCIError("no command given (see ociruntime --help)")
    if a.systemd_cgroup:
        raise OCIError("--systemd-cgroup is not supported yet")
    if a.rootless not in ("auto", "false") and a.rootless != "":
        raise OCIError(f"--rootless={a.rootless} is not supported yet")
    return globals()["cmd_" + a.cmd](a)


def _container(a: argparse.Namespace):
    from .container import Container

    return Container(a.id, a.root)


def cmd_create(a: argparse.Namespace) -> int:
    from .container import Container

    Container.create(
        a.id,
        a.bundle,
        a.root,
        pid_file=a.pid_file,
        console_socket=a.console_socket,
        no_pivot=a.no_pivot,
        no_new_keyring=a.no_new_keyring,
        preserve_fds=a.preserve_fds,
    )
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    from .container import Container

    return Container.run(
        a.id,
        a.bundle,
        a.root,
        detach=a.detach,
        pid_file=a.pid_file,
        console_socket=a.console_socket,
        no_pivot=a.no_pivot,
        no_new_keyring=a.no_new_keyring,
        preserve_fds=a.preserve_fds,
    )


def cmd_start(a: argparse.Namespace) -> int:
    _container(a).start()
    return 0


def cmd_state(a: argparse.Namespace) -> int:
    import json

    print(json.dumps(_container(a).state(), indent=2))
    return 0


def cmd_kill(a: argparse.Namespace) -> int:
    _container(a).kill(a.signal, all=a.all)
    return 0


def cmd_delete(a: argparse.Namespace) -> int:
    _container(a).delete(force=a.force)
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    import json

    from .state import Store

    store = Store(a.root)
    states = []
    for cid in store.ids():
        try:
            states.append(store.public(cid, store.load(cid)))
        except OCIError:
            continue
    if a.quiet:
        for s in states:
            print(s["id"])
    elif a.format == "json":
        print(json.dumps(states))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [
            (s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], s["owner"])
            for s in states
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(6)]
        for r in rows:
            print("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return 0


def cmd_spec(a: argparse.Namespace) -> int:
    import json

    from .spec.default import default_config

    path = os.path.join(a.bundle, "config.json")
    if os.path.exists(path):
        raise OCIError(f"{path} exists: remove it first")
    with open(path, "x") as f:
        json.dump(default_config(rootless=a.spec_rootless), f, indent=2)
        f.write("\n")
    return 0
