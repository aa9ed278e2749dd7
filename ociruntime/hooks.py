"""OCI hooks: run each with the container state on stdin, a timeout, and its output kept.

Where each kind runs (runtime-spec config.md, runtime.md):

==================  =======================  ===========================  ==========
kind                who runs it              when                          status
==================  =======================  ===========================  ==========
prestart            runtime, host namespaces create, mounts done, before     creating
                                             pivot_root (deprecated)
createRuntime       runtime, host namespaces right after prestart             creating
createContainer     init, container          after createRuntime, before      creating
                    namespaces               pivot_root
startContainer      init, container          start, before the user process   created
                    namespaces (after pivot)
poststart           runtime (start / run)    after the user process started   running
poststop            runtime (delete)         after the container is gone      stopped
==================  =======================  ===========================  ==========

A failing (or timed-out) prestart, createRuntime, createContainer or
startContainer hook fails the operation; poststart and poststop failures are
warnings.  A hook's stdout and stderr go to the runtime's log.

No subprocess: posix_spawn and a pidfd poll, so this also works inside the
init after pivot_root, where no more modules can be imported.
"""

from __future__ import annotations

import select
import time

from . import jsonio, log
from . import oslite as os
from .errors import OCIError, os_error_text

FATAL = ("prestart", "createRuntime", "createContainer", "startContainer")


def run_all(hooks: dict | None, kind: str, state: dict) -> None:
    """Run config.hooks[kind] in order; OCIError for a fatal kind, a warning otherwise."""
    for i, h in enumerate((hooks or {}).get(kind) or []):
        where = f"config.json: /hooks/{kind}/{i}"
        try:
            run_one(h, jsonio.dumps(state).encode(), f"{kind} hook {h['path']}")
        except OCIError as e:
            if kind in FATAL:
                e.where = e.where or where
                raise
            log.warn(f"{where}: {e.msg}")


def run_one(h: dict, stdin: bytes, name: str) -> None:
    path = h["path"]
    args = h.get("args") or [path]
    env = dict(e.split("=", 1) for e in h.get("env") or [] if "=" in e)
    timeout = h.get("timeout")
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, in_r, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, out_w, 2),
        ]
        try:
            pid = os.posix_spawn(
                path,
                args,
                env,
                file_actions=actions,
                setsigdef=[s for s in range(1, 32) if s not in (9, 19)],
                setsigmask=(),
            )
        except OSError as e:
            raise OCIError(f"{name}: {os_error_text(OSError(e.errno, e.strerror))}") from None
    finally:
        os.close(in_r)
        os.close(out_w)
    output = b""
    try:
        try:
            os.write(in_w, stdin)
        except BrokenPipeError:
            pass  # the hook does not read its stdin: fine
        os.close(in_w)
        in_w = -1
        output, status = _wait(pid, out_r, timeout, name)
    finally:
        if in_w >= 0:
            os.close(in_w)
        os.close(out_r)
    text = output.decode(errors="replace").strip()
    if text:
        log.write("info", f"{name}: {text}")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        why = f"exit status {code}" if code > 0 else f"killed by signal {-code}"
        tail = f": {text.splitlines()[-1]}" if text else ""
        raise OCIError(f"{name} failed ({why}){tail}")


def _wait(pid: int, out: int, timeout: float | None, name: str) -> tuple[bytes, int]:
    pidfd = os.pidfd_open(pid)
    deadline = time.monotonic() + timeout if timeout else None
    chunks = []
    try:
        poll = select.poll()
        poll.register(pidfd, select.POLLIN)
        poll.register(out, select.POLLIN)
        exited = False
        while not exited:
            left = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            events = poll.poll(left)
            if not events:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise OCIError(f"{name} timed out after {timeout}s and was killed")
            for fd, _ in events:
                if fd == out:
                    data = os.read(out, 65536)
                    if data:
                        chunks.append(data)
                    else:
                        poll.unregister(out)
                elif fd == pidfd:
                    exited = True
        _, status = os.waitpid(pid, 0)
        while True:  # what it wrote just before exiting
            try:
                os.set_blocking(out, False)
                data = os.read(out, 65536)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks), status
    finally:
        os.close(pidfd)
