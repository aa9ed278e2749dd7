"""The least a Python runtime can spend on ``run``: a floor under ociruntime's figures.

``PYTHON -IS bench/python_floor.py [--root DIR] run -b BUNDLE ID`` runs the
bundle's process the way a runtime written in Python with nothing but the
kernel's work to do would: one interpreter, no Python process forked, no
module imported but ``posix``, ``_json`` and ``_ctypes`` (the C extensions
a Python runtime cannot do without: config.json must be parsed, and
unshare, mount and pivot_root are not in Python 3.11's ``os``).  It

* reads config.json with the C scanner;
* makes the container's cgroup in every v1 hierarchy (on a pure v2 host, a
  cgroup2 directory) and moves itself in ("0" to ``tasks``: no RCU wait);
* unshares the config's namespaces itself, mounts the rootfs and the
  mounts list, makes the default device nodes and links, pivots, masks and
  makes read-only what the config says, sets the hostname and rlimits,
  drops the bounding set, sets no_new_privs;
* spawns the process with ``posix_spawn`` (vfork and exec, no copy of the
  interpreter's memory): pid 1 of the new pid namespace, with the
  capabilities the bounding set leaves uid 0 across exec;
* waits for it, leaves the cgroup and removes it, exits with its status.

It checks nothing, records no state, runs no hook, honours no
``--root``: it does less than runc, crun and ociruntime do (no schema, no
state directory, no device rules, a tmpfs where the cgroup v1 hierarchies
would be bind-mounted, uid 0 only).  So what it costs is below what any
runtime written in Python can cost for the same ``run``: ``make bench``
measures it beside the runtimes (``pyfloor``), and a target that this
script misses is out of reach from Python, whatever the runtime does.
"""

import _json
import posix
import sys
from _ctypes import FUNCFLAG_CDECL, FUNCFLAG_USE_ERRNO, CFuncPtr, _SimpleCData, dlopen, get_errno


class _Int(_SimpleCData):
    _type_ = "i"


class _Function(CFuncPtr):
    _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
    _restype_ = _Int


class _Libc:
    _handle = dlopen(None, 2)  # RTLD_NOW: the process's own symbols, libc among them


def _fn(name):
    return _Function((name, _Libc()))


unshare, mount, umount2, sethostname, prctl, setrlimit, syscall = map(
    _fn, ("unshare", "mount", "umount2", "sethostname", "prctl", "setrlimit", "syscall")
)

MS = {"ro": 1, "nosuid": 2, "nodev": 4, "noexec": 8, "noatime": 1 << 10, "bind": 1 << 12}
MS |= {"rbind": (1 << 12) | (1 << 14), "relatime": 1 << 21, "strictatime": 1 << 24}
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 1 << 12, 1 << 14, 1 << 18
NS = {"pid": 0x20000000, "network": 0x40000000, "ipc": 0x08000000, "uts": 0x04000000}
NS |= {"mount": 0x00020000, "cgroup": 0x02000000}
RLIMITS = {"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3}
RLIMITS |= {"RLIMIT_CORE": 4, "RLIMIT_NOFILE": 7, "RLIMIT_AS": 9, "RLIMIT_NPROC": 6}
CAPS = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP"
    " LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER"
    " SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE"
    " SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP"
    " MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF"
    " CHECKPOINT_RESTORE"
).split()
DEVICES = (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8))
DEVICES += (("urandom", 1, 9), ("tty", 5, 0))
LINKS = (("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"))
LINKS += (("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"))
CGROUP = "/sys/fs/cgroup"
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}


class _Ctx:  # what _json's scanner reads from json.JSONDecoder
    strict, object_hook, object_pairs_hook = True, None, None
    parse_float, parse_int, parse_constant, memo = float, int, float, {}


def check(ret, what):
    if ret < 0:
        e = get_errno()
        raise OSError(e, f"{what}: {posix.strerror(e)}")


def _is_link(path):
    return posix.lstat(path).st_mode & 0o170000 == 0o120000


def cgroup_dirs(cid):
    """(parent, name) of the container's cgroup in every hierarchy."""
    names = posix.listdir(CGROUP)
    if "cgroup.controllers" in names:  # pure v2
        return [(CGROUP, f"pyfloor-{cid}")]
    # v1 (and hybrid, without its cgroup2 directory, as crun in its wrapper); no
    # cpuset, which would need its cpus and mems copied first (less work again)
    skip = ("unified", "cpuset")
    dirs = [h for h in names if h not in skip and not _is_link(f"{CGROUP}/{h}")]
    return [(f"{CGROUP}/{h}", f"pyfloor-{cid}") for h in dirs]


def join(parent_fd, name, v2):
    fd = posix.open(
        f"{name}/cgroup.procs" if v2 else f"{name}/tasks", posix.O_WRONLY, dir_fd=parent_fd
    )
    try:
        posix.write(fd, b"0")
    finally:
        posix.close(fd)


def set_up(cfg, root, v2):
    """Namespaces, mounts and process attributes of the runtime itself."""
    lx, proc = cfg.get("linux", {}), cfg["process"]
    flags = 0
    for ns in lx.get("namespaces", ()):
        flags |= NS[ns["type"]]
    check(unshare(flags), "unshare")
    check(mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    rb = root.encode()
    check(mount(rb, rb, None, MS_BIND | MS_REC, None), "bind the rootfs")
    for m in cfg.get("mounts", ()):
        target, fl, data = root + m["destination"], 0, []
        for o in m.get("options", ()):
            if o in MS:
                fl |= MS[o]
            else:
                data.append(o)
        typ = m.get("type", "")
        if typ == "cgroup":
            typ, data = ("cgroup2", []) if v2 else ("tmpfs", [])
        try:
            posix.mkdir(target, 0o755)
        except FileExistsError:
            pass
        src, opts = m.get("source", "none").encode(), ",".join(data).encode() or None
        check(mount(src, target.encode(), typ.encode() or None, fl, opts), f"mount {target}")
    for name, major, minor in DEVICES:
        posix.mknod(f"{root}/dev/{name}", 0o20666, posix.makedev(major, minor))
    for src, name in LINKS:
        posix.symlink(src, f"{root}/dev/{name}")
    posix.chdir(root)
    check(syscall(SYS_PIVOT_ROOT[posix.uname().machine], b".", b"."), "pivot_root")
    check(umount2(b".", 2), "detach the old root")  # MNT_DETACH
    posix.chdir("/")
    for p in lx.get("maskedPaths", ()):
        try:
            st = posix.stat(p)
        except FileNotFoundError:
            continue
        if st.st_mode & 0o170000 == 0o040000:
            check(mount(b"tmpfs", p.encode(), b"tmpfs", MS["ro"], None), f"mask {p}")
        else:
            check(mount(b"/dev/null", p.encode(), None, MS_BIND, None), f"mask {p}")
    for p in lx.get("readonlyPaths", ()):
        b = p.encode()
        if mount(b, b, None, MS_BIND | MS_REC, None) == 0:
            fl = MS_BIND | MS_REMOUNT | MS["ro"] | MS_REC
            check(mount(b, b, None, fl, None), f"read-only {p}")
    if cfg["root"].get("readonly"):
        check(mount(None, b"/", None, MS_BIND | MS_REMOUNT | MS["ro"], None), "read-only /")
    if "hostname" in cfg:
        h = cfg["hostname"].encode()
        check(sethostname(h, len(h)), "sethostname")
    for r in proc.get("rlimits", ()):
        lim = r["soft"].to_bytes(8, "little") + r["hard"].to_bytes(8, "little")
        check(setrlimit(RLIMITS[r["type"]], lim), r["type"])
    keep = set((proc.get("capabilities") or {}).get("bounding") or ())
    for i, cap in enumerate(CAPS):
        if "CAP_" + cap not in keep:
            prctl(24, i, 0, 0, 0)  # PR_CAPBSET_DROP; a cap the kernel lacks: EINVAL
    if proc.get("noNewPrivileges"):
        check(prctl(38, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    posix.chdir(proc.get("cwd", "/"))


def executable(name, env):
    """args[0] looked up in the container's PATH, as the runtimes do."""
    if "/" in name:
        return name
    for d in env.get("PATH", "/usr/bin:/bin").split(":"):
        try:
            posix.stat(f"{d}/{name}")
            return f"{d}/{name}"
        except OSError:
            pass
    raise OSError(2, "executable not found in the container's PATH", name)


def main(argv):
    bundle, cid = ".", None
    args = iter(argv)
    for a in args:
        if a in ("-b", "--bundle"):
            bundle = next(args)
        elif a == "--root":
            next(args)  # no state is kept
        elif a != "run":
            cid = a
    if cid is None:
        raise SystemExit("usage: python_floor.py [--root DIR] run -b BUNDLE ID")
    try:
        fd = posix.open(bundle + "/config.json", posix.O_RDONLY)
        cfg = _json.make_scanner(_Ctx())(posix.read(fd, 1 << 24).decode(), 0)[0]
        posix.close(fd)
        proc, root = cfg["process"], cfg["root"]["path"]
    except OSError as e:
        raise SystemExit(f"python_floor.py: {bundle}/config.json: {e.strerror}") from None
    except StopIteration as e:  # what the C scanner raises where the JSON breaks
        raise SystemExit(f"python_floor.py: {bundle}/config.json: not JSON at char {e}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"python_floor.py: {bundle}/config.json: {type(e).__name__} {e}") from None
    if (proc.get("user") or {}).get("uid", 0) != 0:
        raise SystemExit("python_floor.py: uid 0 only (capabilities come from the bounding set)")
    if not bundle.startswith("/"):
        bundle = f"{posix.getcwd()}/{bundle}"
    root = root if root.startswith("/") else f"{bundle}/{root}"
    dirs = cgroup_dirs(cid)
    v2 = dirs[0][0] == CGROUP
    made, code = [], 1
    try:
        for parent, name in dirs:
            f = posix.open(parent, posix.O_RDONLY | posix.O_DIRECTORY)
            posix.mkdir(name, dir_fd=f)
            made.append((f, name))
        for f, name in made:
            join(f, name, v2)
        set_up(cfg, root, v2)
        env = dict(e.split("=", 1) for e in proc.get("env", ()))
        pid = posix.posix_spawn(executable(proc["args"][0], env), proc["args"], env)
        code = posix.waitstatus_to_exitcode(posix.waitpid(pid, 0)[1])
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        posix.write(2, f"python_floor.py: {e.strerror or e}{where}\n".encode())
    except (KeyError, ValueError, TypeError) as e:  # a config this script does not know
        posix.write(2, f"python_floor.py: config.json: {type(e).__name__} {e}\n".encode())
    finally:
        for f, name in made:
            try:
                leave = posix.open("cgroup.procs" if v2 else "tasks", posix.O_WRONLY, dir_fd=f)
                posix.write(leave, b"0")
                posix.close(leave)
                posix.rmdir(name, dir_fd=f)
            except OSError as e:
                posix.write(2, f"python_floor.py: cgroup {name}: {e.strerror}\n".encode())
                code = code or 1
    posix._exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main(sys.argv[1:])
