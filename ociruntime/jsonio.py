"""JSON through the C accelerator ``_json``, without importing ``json``.

``import json`` pulls in ``re`` and ``enum`` (~5 ms, half of a ``state``
call).  The C scanner and encoder need neither; this module wires them up
the way ``json`` does.  Output is identical to ``json.dumps`` (compact or
indented) for the plain data the runtime writes.

``_json`` itself is an extension module, whose loading (dlopen) costs about
0.5 ms of a call here, so it is loaded on the first ``loads`` or one-line
``dumps``: the indented form (what ``state`` prints) is written in Python,
and the calls that read only the state record (start, state, kill, delete:
state.py keeps it in marshal) never load it.
"""

import sys

_WS = " \t\n\r"
# Go's encoding/json (runc's) refuses a document nested deeper than this;
# config.json is read with this limit (config/load.read_json), the runtime's
# own documents, which hold a config a few levels down, with a little more.
MAX_DEPTH = 10_000
_OWN_DEPTH = MAX_DEPTH + 64


class _Ctx:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


class _NotJSON(ValueError):
    pass


class _GoCtx(_Ctx):
    """As Go's decoder (runc's): NaN and Infinity are not JSON."""

    @staticmethod
    def parse_constant(name: str) -> float:
        raise _NotJSON(f"{name} is not a JSON value")


_scan = _scan_go = _compact = _tight = None


def load_c() -> None:
    """Load the C scanners and encoders now (the module docstring: else on
    first use).  For a process that will read or write JSON after it has
    entered a container's mount namespace, where no extension module can be
    found any more: the container side's sync messages (sync.py)."""
    global _scan, _scan_go, _compact, _tight
    if _scan is not None:
        return
    import _json

    _scan = _json.make_scanner(_Ctx())
    _scan_go = _json.make_scanner(_GoCtx())
    esc = _json.encode_basestring_ascii
    _compact = _json.make_encoder(None, _default, esc, None, ": ", ", ", False, False, True)
    _tight = _json.make_encoder(None, _default, esc, None, ":", ",", False, False, True)


class DecodeError(ValueError):
    """Like json.JSONDecodeError: a message with line and column."""

    def __init__(self, msg: str, doc: str, pos: int) -> None:
        line = doc.count("\n", 0, pos) + 1
        col = pos - doc.rfind("\n", 0, pos)
        super().__init__(f"{msg}: line {line} column {col} (char {pos})")


def loads(data: bytes | str, max_depth: int = _OWN_DEPTH, go: bool = False) -> object:
    """A JSON document, nested at most ``max_depth`` deep (arrays and objects);
    ``go``: without the NaN and Infinity that json (and so this) takes."""
    if isinstance(data, (bytes, bytearray)):
        # a UTF-8 BOM is allowed (editors write one); "utf-8-sig" would import a codec
        doc = (data[3:] if data[:3] == b"\xef\xbb\xbf" else data).decode()
    else:
        doc = data
    i, n = 0, len(doc)
    while i < n and doc[i] in _WS:
        i += 1
    if _scan is None:
        load_c()
    scan = _scan_go if go else _scan
    try:
        try:
            obj, end = scan(doc, i)
        except RecursionError:
            obj, end = _scan_deep(scan, doc, i, max_depth)
    except (DecodeError, _NotJSON):
        raise
    except StopIteration as e:
        raise DecodeError("Expecting value", doc, e.value) from None
    except (ValueError, SystemError):
        # the C scanner reports errors through json.decoder, and only once that
        # is imported (otherwise: SystemError); the error path may pay for it
        import json

        try:
            json.loads(doc)
        except json.JSONDecodeError as e:
            raise DecodeError(e.msg, doc, e.pos) from None
        raise
    finally:
        _Ctx.memo.clear()
    if _raised:  # the recursion limit no longer stops what runc refuses
        _check_depth(obj, doc, i, max_depth)
    while end < n and doc[end] in _WS:
        end += 1
    if end != n:
        raise DecodeError("Extra data", doc, end)
    return obj


def _scan_deep(scan, doc: str, i: int, max_depth: int) -> tuple[object, int]:
    """A document nested deeper than the interpreter's recursion limit
    (1,000 frames, of which the C scanner takes one per level): accepted up to
    MAX_DEPTH, as runc does, with the limit raised for the rest of the process,
    since the runtime validates, stores and hands on what it has read.  Deeper
    is a clean error, never a RecursionError: the limit also keeps the C stack
    bounded (~1 MiB for 10,000 levels; the default stack is 8 MiB).  Only such
    a document pays for this."""
    global _raised
    need = _OWN_DEPTH + 200 + _frames()
    if sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)
        _raised = True
    try:
        obj, end = scan(doc, i)
    except RecursionError:
        raise _too_deep(doc, i, max_depth) from None
    _check_depth(obj, doc, i, max_depth)
    return obj, end


_raised = False


def _too_deep(doc: str, i: int, max_depth: int) -> DecodeError:
    return DecodeError(f"nested deeper than {max_depth} levels", doc, i)


def _check_depth(obj: object, doc: str, i: int, max_depth: int) -> None:
    if _depth(obj) > max_depth:
        raise _too_deep(doc, i, max_depth)


def _frames() -> int:
    f, n = sys._getframe(), 0
    while f is not None:
        f, n = f.f_back, n + 1
    return n


def _depth(obj: object) -> int:
    """How deeply arrays and objects nest in ``obj`` (a scalar: 0), without recursion."""
    deepest, todo = 0, [(obj, 1)]
    while todo:
        o, d = todo.pop()
        kids = o.values() if type(o) is dict else o if type(o) is list else None
        if kids is None:
            continue
        deepest = max(deepest, d)
        todo.extend((k, d + 1) for k in kids if type(k) is dict or type(k) is list)
    return deepest


def _default(o: object) -> object:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def dumps(obj: object, indent: int | None = None, compact: bool = False) -> str:
    """json.dumps(obj) / json.dumps(obj, indent=N); compact drops the spaces."""
    if indent is None:
        if _compact is None:
            load_c()
        return "".join((_tight if compact else _compact)(obj, 0))
    return _pretty(obj, indent, 0)


def _pretty(o: object, step: int, level: int) -> str:
    if isinstance(o, dict) and o:
        pad = "\n" + " " * (step * (level + 1))
        items = [pad + _string(str(k)) + ": " + _pretty(v, step, level + 1) for k, v in o.items()]
        return "{" + ",".join(items) + "\n" + " " * (step * level) + "}"
    if isinstance(o, (list, tuple)) and o:
        pad = "\n" + " " * (step * (level + 1))
        return (
            "["
            + ",".join(pad + _pretty(v, step, level + 1) for v in o)
            + "\n"
            + " " * (step * level)
            + "]"
        )
    return _scalar(o)


def _scalar(o: object) -> str:
    """A scalar (or an empty array or object) as json.dumps writes it."""
    if isinstance(o, str):
        return _string(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        if o != o:
            return "NaN"
        if o == _INF or o == -_INF:
            return "Infinity" if o > 0 else "-Infinity"
        return float.__repr__(o)
    if isinstance(o, (dict, list, tuple)):  # empty: _pretty takes the others
        return "{}" if isinstance(o, dict) else "[]"
    return _default(o)


_INF = float("inf")
# json's escapes for encode_basestring_ascii; any other character outside
# ' '..'~' is written as \uXXXX (a surrogate pair above U+FFFF)
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def _string(s: str) -> str:
    """``_json.encode_basestring_ascii(s)`` in Python: the same text."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return '"' + s + '"'
    out = []
    for c in s:
        e = _ESCAPES.get(c)
        if e is None:
            if " " <= c <= "~":
                e = c
            else:
                n = ord(c)
                if n < 0x10000:
                    e = f"\\u{n:04x}"
                else:
                    n -= 0x10000
                    e = f"\\u{0xD800 | (n >> 10) & 0x3FF:04x}\\u{0xDC00 | n & 0x3FF:04x}"
        out.append(e)
    return '"' + "".join(out) + '"'
