"""Load a bundle: parse config.json, validate it, check what the schema cannot."""

from __future__ import annotations

from .. import jsonio
from .. import oslite as os
from ..errors import OCIError, SpecError


class Bundle:
    """A loaded bundle: its absolute path, validated config, and rootfs path."""

    __slots__ = ("path", "config", "rootfs")

    def __init__(self, path: str, config: dict, rootfs: str) -> None:
        self.path, self.config, self.rootfs = path, config, rootfs


# The most read_json takes.  runc has no limit; a real config.json, even one
# with a container engine's full seccomp profile, is well under 1 MiB, and
# this bounds the memory a bad one (/dev/zero, a runaway file) can cost.
MAX_JSON = 16 << 20
_S_IFMT, _S_IFREG, _S_IFDIR = 0o170000, 0o100000, 0o040000


def read_file_capped(path: str, limit: int = MAX_JSON) -> bytes:
    """A regular file's bytes, at most ``limit`` of them: one open (O_NONBLOCK,
    so a FIFO cannot hang it), fstat on that fd, then the read.  OCIError for
    anything else (a device, a FIFO, a directory, too big)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        raise OCIError(f"{path}: no such file or directory") from None
    except OSError as e:
        raise OCIError(f"{path}: {e.strerror.lower()}") from None
    try:
        st = os.fstat(fd)
        kind = st.st_mode & _S_IFMT
        if kind == _S_IFDIR:
            raise OCIError(f"{path}: is a directory")
        if kind != _S_IFREG:
            raise OCIError(f"{path}: not a regular file")
        too_big = f"{path}: larger than {limit >> 20} MiB"
        if st.st_size > limit:
            raise OCIError(too_big)
        chunks, n = [], 0
        while n <= limit:
            chunk = os.read(fd, min(limit + 1 - n, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            n += len(chunk)
        if n > limit:  # it grew after the fstat
            raise OCIError(too_big)
        return b"".join(chunks)
    except OSError as e:
        raise OCIError(f"{path}: {e.strerror.lower()}") from None
    finally:
        os.close(fd)


def read_json(path: str, file: str) -> object:
    return parse_json(read_file_capped(path), file)


def parse_json(data: bytes, file: str) -> object:
    """A user's JSON document (config.json, a process.json, update's
    resources) read as runc's Go decoder reads it: nested at most 10,000
    deep, no NaN or Infinity, and text that is not Unicode (a byte that is not UTF-8, an escaped
    lone UTF-16 surrogate such as ``\\ud800``) becomes U+FFFD, where it
    would fail half-way through a create (no system call takes a surrogate).
    Only a document that has such text pays for the fix."""
    if data[:3] == b"\xef\xbb\xbf":  # a UTF-8 BOM is allowed (editors write one)
        data = data[3:]
    try:
        text = data.decode()
    except UnicodeDecodeError:
        text = _go_decode(data)
    try:
        doc = jsonio.loads(text, jsonio.MAX_DEPTH, go=True)
    except ValueError as e:
        raise SpecError("", f"invalid JSON: {e}", file) from None
    # (a backslash, one memchr, is rare in a config: the searches for the
    # escape itself cost ~5 us each on a 17 KB config)
    if "\\" in text and ("\\ud" in text or "\\uD" in text):
        doc = _no_surrogates(doc)
    return doc


def _go_decode(data: bytes) -> str:
    """UTF-8 with each byte that does not decode as U+FFFD, as Go reads it."""
    import _codecs

    try:
        _codecs.lookup_error("ociruntime-go")
    except LookupError:
        _codecs.register_error("ociruntime-go", lambda e: ("\ufffd", e.start + 1))
    return data.decode("utf-8", "ociruntime-go")


def _fix(s: str) -> str:
    if s.isascii():
        return s
    return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in s)


def _no_surrogates(doc: object) -> object:
    """``doc`` with every lone surrogate in its strings and keys as U+FFFD
    (a pair was joined by the parser); without recursion: it may be deep."""
    if type(doc) is str:
        return _fix(doc)
    todo = [doc]
    while todo:
        o = todo.pop()
        if type(o) is dict:
            items = [(_fix(k), _fix(v) if type(v) is str else v) for k, v in o.items()]
            o.clear()
            o.update(items)
            todo.extend(v for _, v in items if type(v) is dict or type(v) is list)
        elif type(o) is list:
            for i, v in enumerate(o):
                if type(v) is str:
                    o[i] = _fix(v)
                elif type(v) is dict or type(v) is list:
                    todo.append(v)
    return doc


def load_bundle(bundle: str) -> Bundle:
    bundle = os.path.abspath(bundle or ".")
    if not os.path.isdir(bundle):
        raise OCIError(f"bundle {bundle}: no such directory")
    config = read_json(os.path.join(bundle, "config.json"), "config.json")
    from .validate import validate_config

    validate_config(config)
    check_config(config)
    root = config["root"]["path"] if "root" in config else "rootfs"
    rootfs = os.path.normpath(os.path.join(bundle, root))
    if not os.path.isdir(rootfs):
        raise SpecError("/root/path", f"rootfs {rootfs}: no such directory")
    return Bundle(bundle, config, rootfs)


def _strerror(e: OSError) -> str:
    """Go's wording (runc's): "no such file or directory", "permission denied"."""
    return (e.strerror or str(e)).lower()


def nss_of(linux: dict) -> dict:
    return {ns["type"]: ns.get("path") or None for ns in linux.get("namespaces") or []}


HOOK_KINDS = (
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
)


def check_env(env: list | None, ptr: str, file: str = "config.json") -> None:
    """KEY=VALUE entries only, with runc's wordings (an entry without "=" was
    dropped without a word)."""
    for i, e in enumerate(env or ()):
        name, sep, _ = e.partition("=")
        if not sep:
            raise SpecError(f"{ptr}/{i}", "invalid environment variable: missing '='", file)
        if not name:
            raise SpecError(
                f"{ptr}/{i}", "invalid environment variable: name cannot be empty", file
            )


def check_without_mount_namespace(config: dict, linux: dict) -> None:
    """What only a mount namespace of its own can give the container.
    Without one the mount namespace is inherited (the spec), the init
    chroots into the rootfs, and the mounts and devices asked for are made
    under it in the caller's namespace, as runc makes them (and removed at
    delete, which runc does not: linux/hostmounts.py).  What would change a
    mount the container does not own, or hide or protect a path of it, is
    refused: a read-only root (the mount holding the rootfs), masked and
    read-only paths (runc refuses these too: "unable to restrict sys
    entries without a private MNT namespace"), the root's propagation, a
    mount label."""
    for ptr, given, what in (
        ("/root/readonly", config["root"].get("readonly"), "a read-only root needs"),
        ("/linux/maskedPaths", linux.get("maskedPaths"), "masked paths need"),
        ("/linux/readonlyPaths", linux.get("readonlyPaths"), "read-only paths need"),
        ("/linux/rootfsPropagation", linux.get("rootfsPropagation"), "rootfsPropagation needs"),
        ("/linux/mountLabel", linux.get("mountLabel"), "a mount label needs"),
    ):
        if given:
            raise SpecError(ptr, f"{what} a mount namespace (add one to /linux/namespaces)")


def check_config(config: dict) -> None:
    """Rules beyond the schema that must fail before any process exists."""
    # process is optional until start (config.md: "REQUIRED when start is
    # called"; runtime.md: start "MUST generate an error if process was not
    # set"): a create without one sets the container up, start refuses
    # (Container.start).  runc refuses the create.
    proc = config.get("process") or {}
    if "process" in config and "args" not in proc:  # (runc: "args must not be empty")
        raise SpecError("/process", 'missing required field "args"')
    if "root" not in config:
        raise SpecError("", 'missing required field "root"')
    linux = config.get("linux") or {}
    seen: set[str] = set()
    for i, ns in enumerate(linux.get("namespaces") or []):
        ptr = f"/linux/namespaces/{i}"
        t = ns["type"]
        if t in seen:
            raise SpecError(ptr, f'duplicate namespace "{t}"')
        seen.add(t)
        p = ns.get("path")
        if p:
            if not os.path.isabs(p):
                raise SpecError(ptr + "/path", f"{p}: expected an absolute path")
            try:
                os.stat(p)
            except OSError as e:  # EACCES is "permission denied", not a missing file
                raise SpecError(ptr + "/path", f"{p}: {_strerror(e)}") from None
    if nss_of(linux).get("user", "") is None:
        for key in ("uidMappings", "gidMappings"):
            if not linux.get(key):
                raise SpecError(f"/linux/{key}", "a new user namespace needs uid and gid mappings")
    if linux.get("netDevices"):
        from ..linux.netdev import check

        check(linux["netDevices"], nss_of(linux))
    if linux.get("timeOffsets") and nss_of(linux).get("time", "") is not None:
        raise SpecError(
            "/linux/timeOffsets", "time offsets need a new time namespace in /linux/namespaces"
        )
    for key in ("hostname", "domainname"):
        if len(str(config.get(key) or "").encode(errors="surrogatepass")) > 64:
            raise SpecError(f"/{key}", "longer than the kernel's 64 bytes")
        if config.get(key) and "uts" not in seen:
            raise SpecError(
                f"/{key}", f"setting the {key} needs a uts namespace (add one to /linux/namespaces)"
            )
    if "mount" not in seen:
        check_without_mount_namespace(config, linux)
    rdt = linux.get("intelRdt") or {}
    for key in ("l3CacheSchema", "memBwSchema", "enableCMT", "enableMBM"):
        if rdt.get(key):  # (a closID alone names a group: runc runs it too)
            raise SpecError(
                f"/linux/intelRdt/{key}",
                "Intel RDT is not supported by this runtime (features: intelRdt.enabled false)",
            )
    for i, d in enumerate(linux.get("devices") or ()):
        for key in ("major", "minor"):
            # what makedev(3) takes; runc casts anything to 32 bits (-1, its
            # wildcard, refused), which makes a node other than the one asked for
            if not 0 <= d.get(key, 0) <= 0xFFFFFFFF:
                raise SpecError(
                    f"/linux/devices/{i}/{key}", "expected an integer between 0 and 4294967295"
                )
    for i, m in enumerate(config.get("mounts") or []):
        if not os.path.isabs(m["destination"]):
            raise SpecError(f"/mounts/{i}/destination", "expected an absolute path")
    check_env(proc.get("env"), "/process/env")
    hooks = config.get("hooks") or {}
    for kind in HOOK_KINDS:
        for i, h in enumerate(hooks.get(kind) or ()):
            if not os.path.isabs(h["path"]):  # it would run from the caller's cwd
                raise SpecError(f"/hooks/{kind}/{i}/path", "expected an absolute path")
            if h.get("args") and not h["args"][0]:  # posix_spawn refuses it (runc runs it)
                raise SpecError(f"/hooks/{kind}/{i}/args/0", "expected a non-empty string")
            check_env(h.get("env"), f"/hooks/{kind}/{i}/env")
    cwd = proc.get("cwd", "/")
    if not os.path.isabs(cwd):
        raise SpecError("/process/cwd", "expected an absolute path")
