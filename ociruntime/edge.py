"""How a command's end reaches its caller, as runc's does: the CLI's edge.

A failure is one line on stderr (``ociruntime: ...``), one error record,
the last, in ``--log`` (containerd and podman read it), and a non-zero exit
status; a traceback only with ``--debug``.  Both ways into a command end
here: the CLI (cli.main) and entry.py's way round it for the lifecycle's
plain calls.
"""

from __future__ import annotations

import sys

from . import log
from .errors import OCIError, one_line, os_error_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def outcome(command: Callable[[], int], debug: bool) -> int:
    """``command()``'s exit status, or its exception's, reported."""
    try:
        return command()
    except OCIError as e:
        return fail(e.text, e.exit_code, debug)
    except OSError as e:
        return fail(os_error_text(e), 1, debug)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: still one line unless --debug
        return fail(f"internal error: {e!r} (run with --debug for a traceback)", 1, debug)


def fail(text: str, code: int, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exc()
    text = one_line(text)
    log.error(text)
    sys.stderr.write(f"ociruntime: {text}\n")
    return code
