"""The container's init: the forked child that becomes the container process.

It runs every set-up step inside the container's namespaces, reports to the
runtime over the sync socket, waits for ``start`` on the exec socket, and
execs the user's process.  Every module it needs is imported before the
fork: after pivot_root the host's Python library is out of reach.  The whole sequence is described in
docs/create-start.md; keep the two in step.
"""

from __future__ import annotations

import os
import signal
import socket
import traceback

from . import sync, trace
from .errors import OCIError
from .linux import namespaces, process
from .linux import syscalls as sc
from .linux.network import loopback_up
from .linux.rootfs import Rootfs


class InitArgs:
    """What the runtime hands the init across fork (no pickling needed)."""

    def __init__(
        self,
        config: dict,
        bundle: str,
        rootfs: str,
        sync_sock: socket.socket,
        exec_sock: socket.socket | None,
        no_pivot: bool,
        preserve_fds: int,
        debug: bool,
    ) -> None:
        self.config = config
        self.bundle = bundle
        self.rootfs = rootfs
        self.sync = sync_sock
        self.exec_sock = exec_sock
        self.no_pivot = no_pivot
        self.preserve_fds = preserve_fds
        self.debug = debug


def main(a: InitArgs) -> None:
    """Never returns: execs the container process or exits non-zero."""
    try:
        # (a parent that died before this shows as EOF on the sync socket)
        sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
        close_inherited(a)
        trace.reset()
        # non-dumpable before touching the container: no ptrace, no /proc/1/exe
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
        path, args, env = setup(a)
        sync.send(a.sync, sync.READY, trace=trace.events())
        msg = sync.recv(a.sync)
        sc.prctl(sc.PR_SET_PDEATHSIG, 0)
        sync.send(a.sync, sync.ACK)
        a.sync.close()
        if msg["type"] == sync.COMMIT:
            wait_for_start(a.exec_sock)
        process.execute(path, args, env, a.preserve_fds)
    except sync.PeerGone:
        os._exit(1)
    except BaseException as e:  # noqa: BLE001 - must report and never return
        report(a, e)
    os._exit(1)


def close_inherited(a: InitArgs) -> None:
    """Drop every fd fork copied from the runtime (the state lock above all)."""
    keep = {a.sync.fileno()}
    if a.exec_sock is not None and a.exec_sock.fileno() >= 0:
        keep.add(a.exec_sock.fileno())
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= 3 + a.preserve_fds and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def report(a: InitArgs, e: BaseException) -> None:
    if isinstance(e, OCIError):
        msg, where = e.msg, e.where
    elif isinstance(e, OSError):
        msg, where = str(e.strerror and e) or repr(e), None
    else:
        msg, where = f"internal error in init: {e!r}", None
    tb = traceback.format_exc() if a.debug else None
    try:
        sync.send(a.sync, sync.ERROR, msg=msg, where=where, traceback=tb)
    except OSError:
        pass


def setup(a: InitArgs) -> tuple[str, list[str], dict[str, str]]:
    """Namespaces, rootfs, hostname, limits, user; returns what to exec."""
    cfg = a.config
    proc = cfg["process"]
    nss = namespaces.of(cfg)
    os.umask(0)
    with trace.span("namespaces"):
        namespaces.enter(nss)
    if nss.get("network", "") is None:
        with trace.span("loopback up"):
            loopback_up()
    if "hostname" in cfg:
        sc.sethostname(cfg["hostname"])
    if "domainname" in cfg:
        sc.setdomainname(cfg["domainname"])
    if "oomScoreAdj" in proc:
        process.set_oom_score_adj(proc["oomScoreAdj"])
    root = Rootfs(a.rootfs, cfg, a.bundle)
    if "mount" in nss:
        with trace.span("rootfs and mounts"):
            root.prepare()
            os.close(root.make(proc.get("cwd") or "/", True))
        with trace.span("pivot_root" if not a.no_pivot else "chroot"):
            root.pivot(a.no_pivot)
    else:
        # no mount namespace: the host's mounts are shared, only the root moves
        os.chroot(a.rootfs)
        os.chdir("/")
    with trace.span("process: limits, user, cwd, executable"):
        return finish_process(proc)


def finish_process(proc: dict) -> tuple[str, list[str], dict[str, str]]:
    process.set_rlimits(proc.get("rlimits") or [])
    user = proc.get("user") or {}
    process.set_user(user)
    os.umask(user.get("umask", 0o022))
    process.chdir(proc.get("cwd") or "/")
    env = process.env_dict(proc.get("env") or [])
    env.setdefault("HOME", process.home_of(user.get("uid", 0)))
    path = process.find_executable(proc["args"][0], env)
    return path, proc["args"], env


def wait_for_start(lsock: socket.socket) -> None:
    """Block until ``start`` connects to the exec socket, then let it go."""
    conn, _ = lsock.accept()
    conn.sendall(b"0")
    conn.close()
    lsock.close()
