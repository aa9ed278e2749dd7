"""Fuzzed config.json files: mutations drawn from our schema, applied to the
tests' default config (issue 18, item 6).

A case is a list of concrete operations on ``conftest.default_config()``
(process ``["true"]``, a writable busybox root), each one of:

* ``["set", path, value]``: the value at ``path`` (a list of keys and
  indexes; missing containers on the way were set by earlier operations)
  becomes ``value``: a valid value of the schema there (a section the
  default config lacks), a value of another type, an out-of-range number, a
  long, unicode, NUL or lone-surrogate string, an unknown key;
* ``["del", path]``: the key or item at ``path`` is removed;
* ``["file", kind]``: the text is changed after serialization (a BOM, a
  truncation, trailing bytes).

Two values cannot be written as plain JSON and are markers in a case:
``{"$fuzz": "deep", "depth": N, "open": "[" | "{"}`` (arrays or objects
nested N deep, written as text) and ``{"$fuzz": "bytes", "hex": ...}`` (a
string of raw bytes, invalid UTF-8).  Cases are plain JSON, so the ones the
fuzzer found are kept in tests/fuzz_corpus/ and replayed by every test run.

:func:`cases` is the hypothesis strategy; :func:`build` applies a case;
:func:`problem_in_line` says what is wrong with an error line, if anything.
"""

from __future__ import annotations

import copy
import json
import os

from hypothesis import strategies as st

from ociruntime.config.schema_data import CONFIG_SCHEMA

CORPUS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_corpus")

INDEX, KEY = "*", "?"  # wildcards in a schema place: an array index, a map key

# hooks the fuzzer may name: harmless on the host, and missing ones
SAFE_HOOKS = ("/bin/true", "/bin/false", "/nonexistent/hook")


# ---- special values ------------------------------------------------------------------


class Deep:
    """Arrays (``[``) or objects (``{"a":``) nested ``depth`` deep."""

    def __init__(self, depth: int, open: str = "[") -> None:
        self.depth, self.open = depth, open

    def text(self) -> str:
        if self.open == "[":
            return "[" * self.depth + "]" * self.depth
        return '{"a":' * self.depth + "0" + "}" * self.depth

    def marker(self) -> dict:
        return {"$fuzz": "deep", "depth": self.depth, "open": self.open}


class Raw:
    """A string made of raw bytes (not valid UTF-8)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def text(self) -> bytes:
        return b'"' + self.data + b'"'

    def marker(self) -> dict:
        return {"$fuzz": "bytes", "hex": self.data.hex()}


def from_json(v: object) -> object:
    """A case value as read from JSON: the markers become Deep and Raw."""
    if isinstance(v, dict):
        if v.get("$fuzz") == "deep":
            return Deep(v["depth"], v["open"])
        if v.get("$fuzz") == "bytes":
            return Raw(bytes.fromhex(v["hex"]))
        return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def to_json(v: object) -> object:
    if isinstance(v, (Deep, Raw)):
        return v.marker()
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    return v


# ---- building a config from a case ----------------------------------------------------


def base_config() -> dict:
    from conftest import default_config

    cfg = default_config()
    cfg["process"]["args"] = ["true"]
    cfg["root"]["readonly"] = False
    return cfg


def apply(cfg: object, op: list) -> object:
    """``cfg`` with one operation applied (in place where it can be); the new root."""
    kind, path = op[0], op[1] if len(op) > 1 else None
    if kind == "file":
        return cfg
    if not path:
        return copy.deepcopy(op[2]) if kind == "set" else {}
    parent = cfg
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if kind == "del":
        del parent[last]
    elif isinstance(parent, list) and last == len(parent):
        parent.append(copy.deepcopy(op[2]))
    else:
        parent[last] = copy.deepcopy(op[2])
    return cfg


def build(ops: list) -> tuple[object, bytes]:
    """(the config, the config.json bytes) of a case."""
    cfg: object = base_config()
    for op in ops:
        cfg = apply(cfg, op)
    return cfg, serialize(cfg, [op[1] for op in ops if op[0] == "file"])


def serialize(cfg: object, file_ops: list[str] = ()) -> bytes:
    specials: list = []

    def walk(v: object) -> object:
        if isinstance(v, (Deep, Raw)):
            specials.append(v)
            return f"@@fuzz-{len(specials) - 1}@@"
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    data = json.dumps(walk(cfg), indent=1).encode()
    for i, v in enumerate(specials):
        raw = v.text()
        data = data.replace(
            f'"@@fuzz-{i}@@"'.encode(), raw if isinstance(raw, bytes) else raw.encode()
        )
    for kind in file_ops:
        if kind == "bom":
            data = b"\xef\xbb\xbf" + data
        elif kind == "bom-twice":
            data = b"\xef\xbb\xbf\xef\xbb\xbf" + data
        elif kind == "truncate":
            data = data[: len(data) // 2]
        elif kind == "trailing-nul":
            data = data + b"\0"
        elif kind == "trailing-garbage":
            data = data + b"\n}"
        elif kind == "utf16":
            data = data.decode(errors="replace").encode("utf-16")
        elif kind == "crlf":
            data = data.replace(b"\n", b"\r\n")
    return data


# ---- the schema's places ----------------------------------------------------------------


def resolve(s: dict) -> dict:
    while "$ref" in s:
        target = CONFIG_SCHEMA
        for part in s["$ref"][2:].split("/"):
            target = target[part]
        s = target
    return s


def _places() -> dict[tuple, dict]:
    out: dict[tuple, dict] = {}

    def walk(s: dict, path: tuple) -> None:
        s = resolve(s)
        out[path] = s
        for k, sub in (s.get("properties") or {}).items():
            walk(sub, (*path, k))
        if isinstance(s.get("items"), dict):
            walk(s["items"], (*path, INDEX))
        if isinstance(s.get("additionalProperties"), dict):
            walk(s["additionalProperties"], (*path, KEY))
        for sub in (s.get("patternProperties") or {}).values():
            walk(sub, (*path, KEY))

    walk(CONFIG_SCHEMA, ())
    return out


PLACES = _places()
# (the root itself is the rare "root" operation: replacing it hides every other)
PLACE_LIST = sorted((p for p in PLACES if p), key=lambda p: (len(p), p))


# ---- values ---------------------------------------------------------------------------

EDGE_INTS = [
    0,
    1,
    -1,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**32 - 1,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    2**64 - 1,
    2**64,
    10**30,
    -(10**30),
]
EDGE_FLOATS = [0.5, 1.0, -0.0, 1e308, 5e-324, float("nan"), float("inf")]
EDGE_STRINGS = [
    "",
    " ",
    "/",
    "//",
    ".",
    "..",
    "../..",
    "/..",
    "/../../../../..",
    "/a/../../b",
    "a" * 300,
    "/" + "a" * 5000,
    "\n",
    "a\nb",
    "\r",
    "\t",
    "\x00",
    "a\x00b",
    "/a\x00",
    "\ud800",
    "x\udfff",
    "\udc00\ud800",
    "\ufffd",
    "é",
    "日本語",
    "\U0001f600",
    "\u202e",
    "\x1b[31m",
    "\x7f",
    "=",
    "=x",
    "x=",
    "-1",
    "0",
    "true",
    "null",
    "%s%n",
    "$HOME",
    "~",
    "*",
    "a b",
    "RLIMIT_",
    "CAP_",
    "SCMP_",
    "/proc/self",
    "/dev/null",
    "/sys",
    "rw",
    "ro",
    "bind",
    "0-",
    ",",
    "-",
    "4294967296",
]
RAW_BYTES = [b"\xff", b"\xed\xa0\x80", b"a\xe2\x82", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80"]
DEPTHS = [50, 998, 999, 1000, 1001, 5000, 9998, 9999, 10000, 10001, 100000]
FILE_OPS = ["bom", "bom-twice", "truncate", "trailing-nul", "trailing-garbage", "utf16", "crlf"]

# characters of any kind, lone surrogates and controls included
any_text = st.text(st.characters(blacklist_categories=()), max_size=12)
key_text = (any_text | st.sampled_from(EDGE_STRINGS)).filter(lambda k: k != "$fuzz")
scalars = (
    st.none()
    | st.booleans()
    | st.sampled_from(EDGE_INTS)
    | st.integers()
    | st.sampled_from(EDGE_FLOATS)
    | st.sampled_from(EDGE_STRINGS)
    | any_text
)
any_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key_text, inner, max_size=4),
    max_leaves=12,
)

# Valid values that make sense at a place (more than the schema says: a
# mount type the kernel knows, a syscall name), by the end of its path.
_paths = st.sampled_from(["/x", "/tmp/x", "/data/a/b", "/dev/fz", "/proc/fz", "/sys/fz", "/etc"])
_MOUNT_OPTIONS = [
    "ro",
    "rw",
    "nosuid",
    "nodev",
    "noexec",
    "bind",
    "rbind",
    "rprivate",
    "rslave",
    "shared",
    "private",
    "size=1m",
    "mode=755",
    "idmap",
    "recursive",
    "strictatime",
    "nosymfollow",
    "rro",
    "x-unknown",
]
_CAPS = [
    "CAP_CHOWN",
    "CAP_KILL",
    "CAP_SYS_ADMIN",
    "CAP_NET_RAW",
    "CAP_SETUID",
    "CAP_BPF",
    "CAP_NOPE",
]
_SYSCALLS = ["getcwd", "mkdir", "chmod", "personality", "nosuchcall", "clone3", "io_uring_setup"]
HINTS: dict[tuple, st.SearchStrategy] = {
    ("mounts", INDEX, "destination"): _paths,
    ("mounts", INDEX, "source"): st.sampled_from(
        ["tmpfs", "proc", "none", "mqueue", "/nonexistent"]
    ),
    ("mounts", INDEX, "type"): st.sampled_from(
        ["tmpfs", "bind", "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2", "none", "fz"]
    ),
    ("mounts", INDEX, "options", INDEX): st.sampled_from(_MOUNT_OPTIONS),
    ("hooks", KEY, INDEX, "path"): st.sampled_from(SAFE_HOOKS),
    ("process", "args"): st.sampled_from([["true"], ["/bin/true"], ["sh", "-c", "exit 0"]]),
    ("process", "cwd"): st.sampled_from(["/", "/tmp", "/nonexistent", "/tmp/new/dir"]),
    ("process", "env", INDEX): st.sampled_from(["A=1", "PATH=/bin", "HOME=/root", "B="]),
    ("process", "capabilities", KEY, INDEX): st.sampled_from(_CAPS),
    ("root", "path"): st.just("rootfs"),
    ("linux", "namespaces", INDEX, "path"): st.just("/nonexistent/ns"),
    ("linux", "sysctl", KEY): st.sampled_from(["1", "0", "100"]),
    ("linux", "cgroupsPath"): st.sampled_from(["/ociruntime-fuzz/a", "ociruntime-fuzz-rel"]),
    ("linux", "resources", "cpu", "cpus"): st.sampled_from(["0", "0-1", "1"]),
    ("linux", "resources", "cpu", "mems"): st.just("0"),
    ("linux", "resources", "devices", INDEX, "type"): st.sampled_from(["a", "b", "c", "x"]),
    ("linux", "resources", "devices", INDEX, "access"): st.sampled_from(["rwm", "r", "m", "z"]),
    ("linux", "resources", "unified", KEY): st.sampled_from(["max", "10", "1 2"]),
    ("linux", "devices", INDEX, "path"): st.sampled_from(["/dev/fz0", "/dev/null", "/dev/a/b"]),
    ("linux", "seccomp", "syscalls", INDEX, "names", INDEX): st.sampled_from(_SYSCALLS),
    ("linux", "seccomp", "listenerPath"): st.just("/nonexistent/seccomp.sock"),
    ("linux", "maskedPaths", INDEX): _paths,
    ("linux", "readonlyPaths", INDEX): _paths,
    ("linux", "personality", "flags", INDEX): st.sampled_from(["ADDR_NO_RANDOMIZE", "NOPE"]),
}
KEY_HINTS: dict[tuple, st.SearchStrategy] = {
    ("linux", "sysctl"): st.sampled_from(
        ["net.ipv4.ip_forward", "kernel.shmmax", "fs.mqueue.msg_max", "vm.swappiness", "net.nope"]
    ),
    ("linux", "resources", "unified"): st.sampled_from(
        ["pids.max", "memory.high", "cpu.weight", "nope.file", "../x"]
    ),
    ("linux", "netDevices"): st.sampled_from(["fzdev0", "fzdev1"]),
    ("linux", "resources", "rdma"): st.sampled_from(["mlx_fz"]),
    ("hooks",): st.sampled_from(
        ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    ),
}
_PATTERN_SAMPLES = {
    "^RLIMIT_[A-Z]+$": ["RLIMIT_NOFILE", "RLIMIT_CORE", "RLIMIT_NPROC", "RLIMIT_AS", "RLIMIT_NOPE"],
    "^[0-9, -]*$": ["0", "0-1", "1", "0,1", ""],
    "^[1-9][0-9]*[KMG]B$": ["2MB", "1GB", "64KB"],
    "^MB:[^\\n]*$": ["MB:0=100"],
}

_valid_cache: dict[tuple, st.SearchStrategy] = {}


def valid(path: tuple, depth: int = 0) -> st.SearchStrategy:
    """Values the schema allows at the place ``path`` (wildcards in it)."""
    key = (path, depth > 3)
    if key not in _valid_cache:
        _valid_cache[key] = _valid(path, depth)
    return _valid_cache[key]


def _valid(path: tuple, depth: int) -> st.SearchStrategy:
    if path in HINTS:
        return HINTS[path]
    s = PLACES[path]
    if "enum" in s:
        return st.sampled_from(s["enum"])
    t = s.get("type")
    if t == "object":
        props = s.get("properties") or {}
        req = [k for k in s.get("required", ()) if k in props]
        required = {k: st.deferred(lambda k=k: valid((*path, k), depth + 1)) for k in req}
        optional = (
            {}
            if depth > 3
            else {
                k: st.deferred(lambda k=k: valid((*path, k), depth + 1))
                for k in props
                if k not in req
            }
        )
        fixed = st.fixed_dictionaries(required, optional=optional)
        if (*path, KEY) in PLACES:
            keys = KEY_HINTS.get(path, key_text)
            return st.dictionaries(keys, valid((*path, KEY), depth + 1), max_size=2)
        return fixed
    if t == "array":
        lo = s.get("minItems", 0)
        return st.lists(valid((*path, INDEX), depth + 1), min_size=lo, max_size=max(lo, 3))
    if t == "string":
        if "pattern" in s:
            return st.sampled_from(_PATTERN_SAMPLES.get(s["pattern"], ["1.2.0", "1.0.0-rc.1"]))
        return any_text
    if t == "integer":
        lo, hi = s.get("minimum"), s.get("maximum")
        edges = [v for v in (lo, hi, 0, 1, 1024) if v is not None]
        edges = [v for v in edges if (lo is None or v >= lo) and (hi is None or v <= hi)]
        return st.sampled_from(edges) | st.integers(lo, hi)
    if t == "boolean":
        return st.booleans()
    return any_json


def edge(path: tuple) -> st.SearchStrategy:
    """Values at or past the edges of what the schema allows at ``path``."""
    s = PLACES.get(path, {})
    t = s.get("type")
    if t == "integer":
        lo, hi = s.get("minimum"), s.get("maximum")
        near = [v for b in (lo, hi) if b is not None for v in (b - 1, b, b + 1)]
        return st.sampled_from(EDGE_INTS + near) | st.sampled_from(EDGE_FLOATS)
    if t == "string":
        return (
            st.sampled_from(EDGE_STRINGS)
            | any_text
            | any_text.map(lambda x: "/" + x)
            | st.sampled_from(RAW_BYTES).map(Raw)
        )
    if t == "array":
        item = valid((*path, INDEX)) if (*path, INDEX) in PLACES else any_json
        return (
            st.just([])
            | st.lists(any_json, min_size=1, max_size=3)
            | st.lists(item, min_size=20, max_size=60)
            | item.map(lambda v: [v] * 200)
        )
    if t == "object":
        return st.just({}) | st.dictionaries(key_text, any_json, min_size=1, max_size=3)
    return any_json


deep = st.builds(Deep, st.sampled_from(DEPTHS), st.sampled_from(["[", "{"]))


def value_at(path: tuple, deep_too: bool = True) -> st.SearchStrategy:
    ways = [valid(path), valid(path), valid(path), edge(path), edge(path), any_json]
    return st.one_of(*ways, deep) if deep_too else st.one_of(*ways)


# ---- cases ----------------------------------------------------------------------------


def _existing(cfg: object, path: tuple = ()) -> list[tuple]:
    """Every path to a value in ``cfg`` (Deep and Raw are leaves)."""
    out = [path]
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            out += _existing(v, (*path, k))
    elif isinstance(cfg, list):
        for i, v in enumerate(cfg):
            out += _existing(v, (*path, i))
    return out


def _template(path: tuple) -> tuple | None:
    """The schema place of a concrete path, or None (an unknown key, a wrong type)."""
    tmpl: tuple = ()
    for part in path:
        if isinstance(part, int):
            nxt = (*tmpl, INDEX)
        elif (*tmpl, part) in PLACES:
            nxt = (*tmpl, part)
        else:
            nxt = (*tmpl, KEY)
        if nxt not in PLACES:
            return None
        tmpl = nxt
    return tmpl


@st.composite
def _set_op(draw, cfg: object, deep_too: bool) -> list[list]:
    """Pick a schema place, reach it (setting valid containers on the way), set a value."""
    tmpl = draw(st.sampled_from(PLACE_LIST))
    ops: list[list] = []
    path: list = []
    cur = cfg
    for n, part in enumerate(tmpl):
        here = tmpl[:n]
        want = list if part == INDEX else dict
        if not isinstance(cur, want):
            v = draw(valid(here))
            if not isinstance(v, want):
                v = [] if want is list else {}
            ops.append(["set", list(path), v])
            cfg = apply(cfg, ops[-1])
            cur = v if not path else _get(cfg, path)
        last = n == len(tmpl) - 1
        if part == INDEX:
            idx = draw(st.integers(0, len(cur)))
            if idx == len(cur) and not last:
                ops.append(["set", [*path, idx], draw(valid(tmpl[: n + 1]))])
                cfg = apply(cfg, ops[-1])
            path.append(idx)
        else:
            if part == KEY:
                keys = list(cur) or ["fz"]
                hint = KEY_HINTS.get(here, key_text)
                part = draw(st.sampled_from(keys) | hint)
            if part not in cur and not last:
                ops.append(["set", [*path, part], draw(valid(tmpl[: n + 1]))])
                cfg = apply(cfg, ops[-1])
            path.append(part)
        if not last:
            cur = _get(cfg, path)
    ops.append(["set", path, draw(value_at(tmpl, deep_too))])
    return ops


def _get(cfg: object, path: list) -> object:
    for p in path:
        cfg = cfg[p]
    return cfg


# the kinds of operation, by weight: for the loader, and for containers (where a
# document that does not parse, or has no config left, tells nothing new)
KINDS = ["set"] * 8 + ["del", "del", "unknown", "deep", "file", "root"]
CONTAINER_KINDS = ["set"] * 12 + ["del", "del", "unknown", "deep"]


@st.composite
def _op(draw, cfg: object, containers: bool) -> list[list]:
    kind = draw(st.sampled_from(CONTAINER_KINDS if containers else KINDS))
    if kind == "set":
        return draw(_set_op(cfg, not containers))
    if kind == "root":
        return [["set", [], draw(any_json | deep)]]
    if kind == "file":
        return [["file", draw(st.sampled_from(FILE_OPS))]]
    paths = [p for p in _existing(cfg) if p]
    containers = [p for p in _existing(cfg) if isinstance(_get(cfg, list(p)), dict)]
    if kind == "del" and paths:
        return [["del", list(draw(st.sampled_from(paths)))]]
    if kind == "unknown" and containers:
        where = list(draw(st.sampled_from(containers)))
        return [
            ["set", [*where, draw(key_text)], draw(any_json if containers else any_json | deep)]
        ]
    if kind == "deep" and containers:
        where = list(draw(st.sampled_from(containers)))
        key = draw(st.sampled_from(list(_get(cfg, where)) or ["fz"]) | st.just("fz"))
        depth = draw(st.sampled_from([50, 1000, 5000, 9990]) if containers else deep)
        return [["set", [*where, key], Deep(depth) if containers else depth]]
    return []


@st.composite
def cases(draw, containers: bool = False, max_ops: int = 3) -> list[list]:
    """A list of operations on :func:`base_config` (see the module's docstring);
    ``containers``: fewer of those the loader refuses anyway."""
    cfg: object = base_config()
    ops: list[list] = []
    for _ in range(draw(st.integers(1, max_ops))):
        new = draw(_op(cfg, containers))
        for op in new:
            cfg = apply(cfg, op)
        ops += new
    return ops


# ---- what counts as a problem ------------------------------------------------------------

_BAD_WORDS = ("Traceback", "internal error", "[Errno", "Error(", "Exception(")


def problem_in_line(line: str) -> str | None:
    """What is wrong with one error line meant for a user, or None."""
    for w in _BAD_WORDS:
        if w in line:
            return f"leaks {w!r}: {line}"
    for c in line:
        o = ord(c)
        if o < 0x20 or 0x7F <= o < 0xA0 or 0xD800 <= o < 0xE000 or c in _UNSAFE:
            return f"unescaped {c!r}: {line!r}"
    return None


# line and paragraph separators, bidirectional controls (as ociruntime.log escapes them)
_UNSAFE = set(
    "\u061c\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def signature(problem: str) -> str:
    """A problem without its particulars (numbers, quoted values), to tell
    one bug from another when the fuzzer finds it many times."""
    out, skip = [], False
    for c in problem.split(":", 1)[-1] if problem.startswith("config") else problem:
        if c in "\"'":
            skip = not skip
            out.append("S" if not skip else "")
        elif not skip:
            out.append("N" if c.isdigit() else c)
    sig = "".join(out)
    while "NN" in sig:
        sig = sig.replace("NN", "N")
    return sig[:160]


def corpus_files() -> list[str]:
    if not os.path.isdir(CORPUS_DIR):
        return []
    return sorted(
        os.path.join(CORPUS_DIR, f) for f in os.listdir(CORPUS_DIR) if f.endswith(".json")
    )


def load_case(path: str) -> dict:
    with open(path) as f:
        entry = json.load(f)
    entry["ops"] = [from_json(op) for op in entry["ops"]]
    return entry


def save_case(ops: list, problem: str, mode: str, source: str) -> str:
    """Write a found case to the corpus; its path (a case already there is kept)."""
    import hashlib

    body = [to_json(op) for op in ops]
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:10]
    os.makedirs(CORPUS_DIR, exist_ok=True)
    path = os.path.join(CORPUS_DIR, f"found-{digest}.json")
    if not os.path.exists(path):
        entry = {"problem": problem[:500], "source": source, "mode": mode, "ops": body}
        with open(path, "w") as f:
            json.dump(entry, f, indent=1, ensure_ascii=True)
            f.write("\n")
    return path


# ---- the fuzz loop ------------------------------------------------------------------------

# make fuzz: FUZZ_EXAMPLES=N random examples (FUZZ_SEED=S to repeat a run), new
# problems saved in the corpus; otherwise (make test) a fixed, bounded set.
FUZZ = int(os.environ.get("FUZZ_EXAMPLES") or 0)


def minimize(ops: list, mode: str, check, sig: str) -> list:
    """``ops`` with every operation dropped that the problem does not need."""
    i = len(ops) - 1
    while i >= 0 and len(ops) > 1:
        candidate = ops[:i] + ops[i + 1 :]
        try:
            build(candidate)
        except (KeyError, IndexError, TypeError):
            i -= 1
            continue
        p = check(candidate, mode)
        if p is not None and signature(p) == sig:
            ops = candidate
        i -= 1
    return ops


def explore(name: str, strategy, check, examples: int) -> None:
    """Draw ``examples`` (ops, mode) pairs from ``strategy`` and ``check`` each
    (None, or what went wrong).  Each distinct problem (by :func:`signature`)
    is minimized; with FUZZ_EXAMPLES it is saved in the corpus.  Fails at the
    end, listing them, if there was any; prints the counts either way."""
    import random
    import time

    from hypothesis import HealthCheck, Phase, given, seed, settings

    found: dict[str, list] = {}  # signature: [ops, mode, problem, times]
    count = [0, 0]  # examples, examples with a problem
    known = set()
    for path in corpus_files():
        with open(path) as f:
            known.add(signature(json.load(f).get("problem", "")))
    run_seed = int(os.environ.get("FUZZ_SEED") or random.getrandbits(32)) if FUZZ else None

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=not FUZZ,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(strategy)
    def one(case) -> None:
        ops, mode = case
        count[0] += 1
        problem = check(ops, mode)
        if problem is None:
            return
        count[1] += 1
        sig = signature(problem)
        if sig in found:
            found[sig][3] += 1
            return
        ops = minimize(ops, mode, check, sig)
        found[sig] = [ops, mode, problem, 1]

    if run_seed is not None:
        one = seed(run_seed)(one)
    t0 = time.monotonic()
    one()
    took = time.monotonic() - t0
    saved = []
    if FUZZ:
        for sig, (ops, mode, problem, _) in found.items():
            if sig not in known:
                saved.append(save_case(ops, problem, mode, f"make fuzz, seed {run_seed}"))
    print(
        f"\nfuzz {name}: {count[0]} examples in {took:.0f}s"
        + (f" (seed {run_seed})" if run_seed is not None else "")
        + f", {count[1]} with a problem, {len(found)} distinct"
        + (f", {len(saved)} new in the corpus" if FUZZ else "")
    )
    for _, _, problem, n in found.values():
        print(f"  {n:4d}x {problem[:200]}")
    if found:
        lines = [
            f"{problem}\n    case ({mode}): {json.dumps([to_json(op) for op in ops])[:2000]}"
            for ops, mode, problem, _ in found.values()
        ]
        raise AssertionError(
            f"{len(found)} distinct problems in {count[0]} fuzzed configs"
            + (f" (saved: {', '.join(map(os.path.basename, saved))})" if saved else "")
            + ":\n"
            + "\n".join(lines)
        )


def check_expectation(entry: dict, stage: str, outcome: str) -> None:
    """A corpus entry may say what must happen: ``"expect": {"load": "ok" |
    "refused", "run": "ok" | "refused", "contains": text}``; ``outcome`` is
    "ok" or the error line."""
    want = (entry.get("expect") or {}).get(stage)
    if want is None:
        return
    if want == "ok":
        assert outcome == "ok", f"{stage}: expected to succeed, got: {outcome}"
    else:
        assert outcome != "ok", f"{stage}: expected to be refused"
        needle = entry["expect"].get("contains")
        assert needle is None or needle in outcome, f"{needle!r} not in {outcome!r}"
