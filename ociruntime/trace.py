"""``--trace FILE``: a timeline of one command as Chrome trace-event JSON.

Open it in Perfetto (ui.perfetto.dev) or chrome://tracing.  Spans use
CLOCK_MONOTONIC, which every process shares, so the init's spans (sent back
over the sync socket) line up with the runtime's.  When tracing is off,
:func:`span` returns one shared no-op object: the hot path pays a call.
``OCIRUNTIME_TRACE=DIR`` (for callers that cannot pass flags) writes one
file per command into DIR.

For the fault-injection tests only: ``OCIRUNTIME_TEST_KILL_AT=STEP`` makes
the runtime process (the CLI's, :func:`mark_runtime`; not the container
side it forks) SIGKILL itself as it enters the first span named STEP
(tests/integration/test_faults.py).
"""

from __future__ import annotations

import time

from . import oslite as os

enabled = False
_KILL_AT = os.environ.get("OCIRUNTIME_TEST_KILL_AT")
_runtime_pid = 0
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


_steps_pid = 0  # --debug: the process whose spans are debug records too (the CLI's)


def log_steps() -> None:
    """--debug: from now on every span of this process (not of the children it
    forks, whose stderr may be the container's) is also a debug record."""
    global _steps_pid
    _steps_pid = os.getpid()


def mark_runtime() -> None:
    """The CLI: this process is the runtime (the one OCIRUNTIME_TEST_KILL_AT kills)."""
    global _runtime_pid
    _runtime_pid = os.getpid()


def span(name: str, **args: object) -> _Span | _Null:
    if _KILL_AT is not None and name == _KILL_AT and _runtime_pid == os.getpid():
        os.kill(_runtime_pid, 9)  # SIGKILL: a crash at this very step
    if _steps_pid and _steps_pid == os.getpid():
        from . import log

        log.debug(name + "".join(f" {k}={v}" for k, v in args.items()))
    return _Span(name, args) if enabled else _NULL


def enable(path: str, cmd: str, t0: int = 0) -> None:
    """Start recording; ``t0`` (CLOCK_MONOTONIC ns) is when our first line ran
    (entry.py), before the imports, which then get a span of their own."""
    global enabled, _path, _cmd
    enabled, _path, _cmd = True, path, cmd
    now = time.monotonic_ns()
    t0 = t0 or now
    # The interpreter's own start-up, before t0: the kernel gives the process
    # start only in clock ticks (10 ms at USER_HZ=100), so this span is coarse.
    start = _process_start_boottime_ns()
    if start:
        boot_at_t0 = time.clock_gettime_ns(time.CLOCK_BOOTTIME) - (now - t0)
        _add(
            "interpreter start-up (+-10 ms: /proc start time is in ticks)",
            t0 - max(0, boot_at_t0 - start),
            t0,
        )
    _add("imports and argument parsing", t0, now)


def _add(name: str, t0: int, t1: int) -> None:
    _events.append(
        {
            "name": name,
            "ph": "X",
            "ts": t0 / 1000,
            "dur": (t1 - t0) / 1000,
            "pid": os.getpid(),
            "tid": os.getpid(),
        }
    )


def _process_start_boottime_ns() -> int:
    try:
        with open("/proc/self/stat", "rb") as f:
            data = f.read()
        ticks = int(data[data.rindex(b")") + 2 :].split()[19])
        return ticks * 10**9 // os.sysconf("SC_CLK_TCK")
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
