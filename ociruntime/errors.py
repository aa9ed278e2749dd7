"""The one error type users see.

Everything a user can get wrong (a bad config, an unknown id, a missing
binary) raises :class:`OCIError`; the CLI turns it into one line on stderr
(``ociruntime: <where>: <msg>``) and one error record in the log.  Anything
else is a bug and shows a traceback only with ``--debug``.
"""

# start of a container whose config.json has no process (the runtime spec:
# optional until start, which "MUST generate an error if process was not set")
NO_PROCESS = "no process to start (the container was created without one)"


class OCIError(Exception):
    """A user-facing failure: ``msg`` says what, ``where`` says where.

    ``where`` is a file name plus JSON pointer (``config.json: /process/args``),
    a path, or a container id; it is prefixed to the message when set.
    """

    def __init__(self, msg: str, where: str | None = None, exit_code: int = 1) -> None:
        self.msg = msg
        self.where = where
        self.exit_code = exit_code
        super().__init__(self.text)

    @property
    def text(self) -> str:
        return f"{self.where}: {self.msg}" if self.where else self.msg


class SpecError(OCIError):
    """config.json (or a process.json) is malformed or violates the schema."""

    def __init__(self, pointer: str, msg: str, file: str = "config.json") -> None:
        self.pointer = pointer
        super().__init__(msg, f"{file}: {pointer}" if pointer else file)


class NotFound(OCIError):
    """No container with that id: callers match on 'does not exist'."""

    def __init__(self, cid: str) -> None:
        super().__init__(f'container "{cid}" does not exist')


class NotRunning(OCIError):
    """callers (containerd, podman) match on 'container not running'."""

    def __init__(self) -> None:
        super().__init__("container not running")


def os_error_text(e: OSError) -> str:
    """An OSError as one line in Go's words (``PATH: no such file or directory``),
    never Python's ``[Errno 2] ...``."""
    what = e.strerror or str(e)
    what = what[:1].lower() + what[1:]
    where = e.filename
    if where is not None and e.filename2 is not None:
        where = f"{where} -> {e.filename2}"
    return f"{where}: {what}" if where is not None else what


_ESCAPES: dict[int, str] = {}


def one_line(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``), so that an
    id, path or name a user gave, echoed in a message, cannot break it into
    lines or drive the terminal: C0 and C1 controls, and (as ``\\uXXXX``)
    lone surrogates, which no encoding takes, and the line separators and
    bidirectional controls, which move what a terminal shows.  Printable
    ASCII, nearly every message, is returned as it is."""
    if text.isascii() and text.isprintable():
        return text
    if not _ESCAPES:
        _ESCAPES.update({i: f"\\x{i:02x}" for i in [*range(32), *range(127, 160)]})
        _ESCAPES.update({10: "\\n", 13: "\\r", 9: "\\t"})
        wide = [*range(0xD800, 0xE000), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029]
        wide += [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
        _ESCAPES.update({i: f"\\u{i:04x}" for i in wide})
    return text.translate(_ESCAPES)
