"""``--trace FILE``: a timeline of one command as Chrome trace-event JSON.

Open it in Perfetto (ui.perfetto.dev) or chrome://tracing.  Spans use
CLOCK_MONOTONIC, which every process shares, so the init's spans (sent back
over the sync socket) line up with the runtime's.  When tracing is off,
:func:`span` returns one shared no-op object: the hot path pays a call.
``OCIRUNTIME_TRACE=DIR`` (for callers that cannot pass flags) writes one
file per command into DIR.
"""

from __future__ import annotations

import os
import time

enabled = False
_events: list[dict] = []
_path = ""
_cmd = ""


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NULL = _Null()


class _Span:
    __slots__ = ("name", "args", "t0")

    def __init__(self, name: str, args: dict | None) -> None:
        self.name = name
        self.args = args

    def __enter__(self) -> None:
        self.t0 = time.monotonic_ns()

    def __exit__(self, *exc: object) -> None:
        t1 = time.monotonic_ns()
        ev = {
            "name": self.name,
            "ph": "X",
            "ts": self.t0 / 1000,
            "dur": (t1 - self.t0) / 1000,
            "pid": os.getpid(),
            "tid": os.getpid(),
        }
        if self.args:
            ev["args"] = self.args
        _events.append(ev)


def span(name: str, **args: object) -> _Span | _Null:
    return _Span(name, args) if enabled else _NULL


def enable(path: str, cmd: str) -> None:
    global enabled, _path, _cmd
    enabled, _path, _cmd = True, path, cmd
    # the interpreter's own start-up, up to this point
    start = _process_start_ns()
    if start:
        _events.append(
            {
                "name": "python start-up + imports",
                "ph": "X",
                "ts": start / 1000,
                "dur": (time.monotonic_ns() - start) / 1000,
                "pid": os.getpid(),
                "tid": os.getpid(),
            }
        )


def _process_start_ns() -> int:
    try:
        with open("/proc/self/stat", "rb") as f:
            data = f.read()
        ticks = int(data[data.rindex(b")") + 2 :].split()[19])
        return ticks * 10**9 // os.sysconf("SC_CLK_TCK")  # boot-relative, like CLOCK_BOOTTIME
    except (OSError, ValueError):
        return 0


def events() -> list[dict]:
    return list(_events)


def reset() -> None:
    """In a forked child: drop the parent's spans, which it reports itself."""
    _events.clear()


def add(events: list[dict]) -> None:
    _events.extend(events)


def finish() -> None:
    if not enabled:
        return
    from . import jsonio

    path = _path
    if os.path.isdir(path):
        path = os.path.join(path, f"{_cmd or 'ociruntime'}-{os.getpid()}.json")
    meta = [
        {
            "name": "process_name",
            "ph": "M",
            "pid": os.getpid(),
            "args": {"name": f"ociruntime {_cmd}"},
        }
    ]
    with open(path, "w") as f:
        f.write(jsonio.dumps({"traceEvents": meta + _events, "displayTimeUnit": "ms"}))
