"""The runtime's log: ``--log FILE`` with ``--log-format text|json``.

containerd reads the last ``"level":"error"`` record and podman parses the
file as one JSON object, so a failing command writes exactly one error
record, as its last record, and nothing below warning is written unless
``--debug``, which adds a record for each main step of the runtime process
(the command line, each ``trace.span``, the exit status).  As runc does, the
file is created by every command, even one that has nothing to say.
Without ``--log`` the records go to stderr as ``ociruntime: LEVEL: msg``
(errors: the CLI writes those itself).
"""

import sys
import time

from . import jsonio
from . import oslite as os
from .errors import one_line

_path: str | None = None
_json = False
_debug = False
_where_of = None  # a command's renaming of a warning's where (name_sources)


def setup(path: str | None, fmt: str = "text", debug: bool = False, create: bool = False) -> None:
    """``create`` (the CLI): make the file now, as an absolute path (the
    container side, which writes to it too, runs elsewhere); an OCIError
    if it cannot be, and then no log but stderr."""
    global _path, _json, _debug
    _path, _json, _debug = None, fmt == "json", debug
    if path and create:
        path = os.path.abspath(path)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644))
        except OSError as e:
            from .errors import OCIError, os_error_text

            raise OCIError(f"--log {os_error_text(e)}") from None
    _path = path or None


def settings() -> tuple[str | None, str, bool]:
    """(path, format, debug), to hand the same log to another process."""
    return _path, "json" if _json else "text", _debug


def debugging() -> bool:
    return _debug


def _now() -> str:
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 10**9)) + f".{t % 10**9:09d}Z"


def write(level: str, msg: str) -> None:
    if level == "debug" and not _debug:
        return
    msg = one_line(msg)  # (a config's value in it may hold a newline, an escape)
    if _path is None:
        # errors reach stderr through the CLI already; a hook's output (info)
        # only with --debug, as runc keeps it out of the caller's stderr
        if level == "warning" or _debug and level != "error":
            sys.stderr.write(f"ociruntime: {level}: {msg}\n")
        return
    if _json:
        # compact, as logrus (runc) writes it
        line = jsonio.dumps({"level": level, "msg": msg, "time": _now()}, compact=True)
    else:
        esc = msg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        line = f'time="{_now()}" level={level} msg="{esc}"'
    try:
        fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        return  # e.g. in the init after pivot_root, where the log path is gone
    try:
        os.write(fd, (line + "\n").encode(errors="backslashreplace"))
    finally:
        os.close(fd)


def debug(msg: str) -> None:
    write("debug", msg)


def name_sources(where_of) -> None:
    """Warnings given a ``where`` (``config.json: /process/...``) show
    ``where_of(where)`` instead: a command whose values came from its flags
    or another file (exec) names those, as its errors do."""
    global _where_of
    _where_of = where_of


def warn(msg: str, where: str | None = None) -> None:
    if where is not None:
        msg = f"{msg} ({_where_of(where) if _where_of is not None else where})"
    write("warning", msg)


def error(msg: str) -> None:
    write("error", msg)
