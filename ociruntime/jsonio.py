"""JSON through the C accelerator ``_json``, without importing ``json``.

``import json`` pulls in ``re`` and ``enum`` (~5 ms, half of a ``state``
call).  The C scanner and encoder need neither; this module wires them up
the way ``json`` does.  Output is identical to ``json.dumps`` (compact or
indented) for the plain data the runtime writes.
"""

import _json

_WS = " \t\n\r"


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


_scan = _json.make_scanner(_Ctx())


class DecodeError(ValueError):
    """Like json.JSONDecodeError: a message with line and column."""

    def __init__(self, msg: str, doc: str, pos: int) -> None:
        line = doc.count("\n", 0, pos) + 1
        col = pos - doc.rfind("\n", 0, pos)
        super().__init__(f"{msg}: line {line} column {col} (char {pos})")


def loads(data: bytes | str) -> object:
    if isinstance(data, (bytes, bytearray)):
        # a UTF-8 BOM is allowed (editors write one); "utf-8-sig" would import a codec
        doc = (data[3:] if data[:3] == b"\xef\xbb\xbf" else data).decode()
    else:
        doc = data
    i, n = 0, len(doc)
    while i < n and doc[i] in _WS:
        i += 1
    try:
        obj, end = _scan(doc, i)
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
    while end < n and doc[end] in _WS:
        end += 1
    if end != n:
        raise DecodeError("Extra data", doc, end)
    return obj


def _default(o: object) -> object:
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


_compact = _json.make_encoder(
    None, _default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True
)
_tight = _json.make_encoder(
    None, _default, _json.encode_basestring_ascii, None, ":", ",", False, False, True
)


def dumps(obj: object, indent: int | None = None, compact: bool = False) -> str:
    """json.dumps(obj) / json.dumps(obj, indent=N); compact drops the spaces."""
    if indent is None:
        return "".join((_tight if compact else _compact)(obj, 0))
    return _pretty(obj, indent, 0)


def _pretty(o: object, step: int, level: int) -> str:
    if isinstance(o, dict) and o:
        pad = "\n" + " " * (step * (level + 1))
        items = [
            pad + _json.encode_basestring_ascii(str(k)) + ": " + _pretty(v, step, level + 1)
            for k, v in o.items()
        ]
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
    return "".join(_compact(o, 0))
