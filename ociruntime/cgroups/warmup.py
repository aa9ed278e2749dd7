"""Start the kernel's cgroup-migration grace period early, beside our imports.

Moving a process into a cgroup (a write to cgroup.procs) takes the kernel's
global cgroup_threadgroup_rwsem for writing.  When no migration happened in
the last RCU grace period, that first waits for a whole one (8-20 ms on our
test VM), holding cgroup_mutex.  Every runtime pays it once per container;
runc overlaps it with its child re-executing itself.  We overlap it with the
interpreter importing the runtime: ``start()`` opens cgroup.procs of the
cgroup this process is already in and a thread writes "0" (this process)
to it, a migration that moves nothing and bills nothing.  When create, run
or exec move the container's process a few milliseconds later, the lock is
in its fast state.  (mkdir of a new cgroup waits for cgroup_mutex until the
grace period ends, which is why create forks the init first.)

The thread only ever blocks in write(2) holding no Python or libc lock, so
the runtime may fork while it waits: the child simply has no such thread.
It starts with every signal blocked, so that signals keep reaching the main
thread (run and exec forward them to the container).  Nothing depends on
the write succeeding; a failure is ignored.  What needs a single-threaded
process (setns into a time namespace) calls ``join()`` first.  This runs
before ``os`` is imported (which takes ~0.6 ms), so it uses ``posix``.
"""

import posix
import sys


def own_procs_file() -> "str | None":
    """cgroup.procs of this process's own cgroup in a mounted hierarchy that
    shows that cgroup (mountinfo's root is a prefix of our path), or None."""
    try:
        mine = {}
        for line in _read("/proc/self/cgroup").splitlines():
            _, subs, path = line.split(":", 2)
            mine[subs] = path
        lines = _read("/proc/self/mountinfo").splitlines()
    except (OSError, ValueError):
        return None
    for line in lines:
        pre, _, post = line.partition(" - ")
        fields = post.split(" ")
        if len(fields) < 3 or fields[0] not in ("cgroup", "cgroup2"):
            continue
        pre_f = pre.split(" ")
        root, mountpoint = pre_f[3], pre_f[4]
        if fields[0] == "cgroup2":
            path = mine.get("")
        else:
            opts = set(fields[2].split(","))
            path = next((p for subs, p in mine.items() if subs and subs in opts), None)
            if path is None:  # "cpu,cpuacct" mounts list each controller as an option
                path = next(
                    (p for subs, p in mine.items() if subs and set(subs.split(",")) <= opts),
                    None,
                )
        if path is None or "\\" in mountpoint:
            continue
        if root == "/":
            rel = path
        elif path == root or path.startswith(root + "/"):
            rel = path[len(root) :]
        else:
            continue
        return mountpoint + rel.rstrip("/") + "/cgroup.procs"
    return None


def _read(path: str) -> str:
    fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
    try:
        chunks = []
        while chunk := posix.read(fd, 65536):
            chunks.append(chunk)
    finally:
        posix.close(fd)
    return b"".join(chunks).decode()


def start() -> None:
    """Begin the no-op migration in a thread (root only; a no-op elsewhere)."""
    if posix.geteuid() != 0:
        return
    path = own_procs_file()
    if path is None:
        return
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
    except OSError:
        return
    import _signal
    import _thread

    global _done
    _done = _thread.allocate_lock()
    _done.acquire()
    old = _signal.pthread_sigmask(_signal.SIG_BLOCK, _signal.valid_signals())
    try:
        _thread.start_new_thread(_write, (fd, _done))
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, old)
    loader = sys.modules.get("ociruntime.bundle")
    if loader is not None:
        loader.between = cooperate


_done = None
_pending = False


def cooperate() -> None:
    """Between two CPU-bound steps (module loads, mounts) while the grace period
    is pending: give the CPU to whatever the kernel has waiting on it.  The
    grace period ends only once RCU's kernel threads and softirq work get to
    run; a CPU-bound Python process on the same CPU delays them by scheduler
    ticks (bench/grace_period.py: ~23 ms instead of 8-12 ms).  sched_yield
    costs a microsecond when nothing else is runnable.  (A forked child keeps
    yielding: cheap, and it helps.)"""
    if _pending:
        posix.sched_yield()


def _write(fd: int, done) -> None:
    global _pending
    _pending = True
    try:
        posix.write(fd, b"0")
    except OSError:
        pass
    finally:
        _pending = False
        posix.close(fd)
        done.release()


def join() -> None:
    """Wait until the thread (if one was started) is gone for the kernel too:
    past its write, and counted out of /proc/self/status's Threads."""
    global _done
    if _done is None:
        return
    _done.acquire()
    _done = None
    import time

    for _ in range(2000):
        if "\nThreads:\t1\n" in _read("/proc/self/status"):
            return
        time.sleep(0.0005)
