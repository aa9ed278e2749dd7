"""jsonio (json through ``_json`` without importing ``json``) against the
standard library's json: the same text out, the same values in, for every
kind of JSON value, unicode, floats and deep nesting; and the same errors."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociruntime import jsonio

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=40,
)

CORPUS = [
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**64) - 1,
    0.1,
    -0.0,
    1e300,
    5e-324,
    1.0,
    "",
    "ascii",
    "ünïcödé ✓ 日本語",
    "\U0001f600 astral",
    "\ud800 lone surrogate",
    "\x00\x1f\x7f control",
    '"quotes" and \\backslashes\\ and /slash',
    [],
    {},
    [[[[[]]]]],
    {"a": {"b": {"c": [1, 2, {"d": None}]}}},
    {"": "empty key", "k": [True, False, None, 1.5, "x"]},
    {"linux": {"seccomp": {"syscalls": [{"names": ["read"] * 3, "action": "SCMP_ACT_ALLOW"}]}}},
]


@pytest.mark.parametrize("value", CORPUS, ids=range(len(CORPUS)))
def test_corpus_dumps_like_json(value):
    assert jsonio.dumps(value) == json.dumps(value)
    assert jsonio.dumps(value, compact=True) == json.dumps(value, separators=(",", ":"))
    assert jsonio.dumps(value, indent=2) == json.dumps(value, indent=2)


@pytest.mark.parametrize("value", CORPUS, ids=range(len(CORPUS)))
def test_corpus_round_trips(value):
    text = json.dumps(value)
    assert same(jsonio.loads(text), json.loads(text))
    assert same(jsonio.loads(text.encode()), value)


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_value_dumps_and_loads_like_json(value):
    assert jsonio.dumps(value) == json.dumps(value)
    assert jsonio.dumps(value, indent=2) == json.dumps(value, indent=2)
    assert same(jsonio.loads(json.dumps(value)), json.loads(json.dumps(value)))


def test_non_finite_floats_as_json_writes_them():
    for v in (math.inf, -math.inf):
        assert jsonio.dumps([v]) == json.dumps([v])
    assert jsonio.loads("[NaN, Infinity, -Infinity]")[1:] == [math.inf, -math.inf]


def test_deep_nesting():
    deep = "[" * 500 + "]" * 500
    assert jsonio.loads(deep) == json.loads(deep)
    assert jsonio.dumps(json.loads(deep)) == json.dumps(json.loads(deep))


@pytest.mark.parametrize("depth", [999, 1000, 5000, 10000])
def test_deeper_than_the_recursion_limit(depth):
    """The C scanner takes one frame a level: past ~990 it raised
    RecursionError (an internal error); up to 10,000 levels, as Go's
    encoding/json (runc) takes, the limit is raised and the parse redone."""
    for doc in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        v = jsonio.loads(doc, jsonio.MAX_DEPTH)
        assert jsonio.loads(jsonio.dumps(v), jsonio.MAX_DEPTH) == v


@pytest.mark.parametrize(
    "doc",
    [
        "[" * 10001 + "]" * 10001,
        "[" * 10**6,
        '{"a":' * 20000,
        "[" * 10001 + "]" * 10001,  # again, with the limit raised
    ],
)
def test_deeper_than_runc_takes_is_refused(doc):
    with pytest.raises(ValueError, match="^nested deeper than 10000 levels"):
        jsonio.loads(doc, jsonio.MAX_DEPTH)


def test_own_documents_hold_a_deep_config():
    """State and sync messages hold a config a few levels down: they may go
    a little deeper than a user's document."""
    doc = '{"config": ' + "[" * 10000 + "]" * 10000 + "}"
    assert jsonio.loads(doc)["config"]
    with pytest.raises(ValueError, match="nested deeper"):
        jsonio.loads(doc, jsonio.MAX_DEPTH)


@pytest.mark.parametrize(
    "doc",
    ["[" * 5000 + "]" * 2000, "[" * 5000 + "1,", "[" * 3000 + '"x' + "]" * 3000, "[" * 2000 + "}"],
)
def test_deep_and_malformed_is_a_decode_error(doc):
    """A deep document cut short raised SystemError from the C scanner
    (found by the fuzzer)."""
    with pytest.raises(jsonio.DecodeError) as e:
        jsonio.loads(doc, jsonio.MAX_DEPTH)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(doc)
    assert str(e.value) == str(theirs.value)


def test_a_bom_is_allowed_in_bytes():
    assert jsonio.loads(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


@pytest.mark.parametrize("bad", ["", "{", '{"a": }', "[1,]", "nul", '{"a": 1} x', "'single'"])
def test_errors_are_json_s_with_position(bad):
    with pytest.raises(ValueError) as ours:
        jsonio.loads(bad)
    with pytest.raises(json.JSONDecodeError) as theirs:
        json.loads(bad)
    assert str(ours.value) == str(theirs.value)


def test_not_serializable_is_a_type_error():
    with pytest.raises(TypeError):
        jsonio.dumps({"a": object()})


def same(a: object, b: object) -> bool:
    """Equal, with -0.0 and 0.0 told apart and NaN equal to itself."""
    if isinstance(a, float) and isinstance(b, float):
        return math.copysign(1, a) == math.copysign(1, b) and (a == b or a != a and b != b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_indented_strings_are_escaped_as_the_c_encoder_does():
    """The indented form is written in Python (state output without loading
    _json): every code point, alone and among others, as _json escapes it."""
    import _json

    for start in range(0, 0x110000, 512):
        chunk = "".join(map(chr, range(start, min(start + 512, 0x110000))))
        assert jsonio._string(chunk) == _json.encode_basestring_ascii(chunk)
        for c in chunk[::37]:
            assert jsonio._string(c) == _json.encode_basestring_ascii(c)


def test_indented_dumps_and_no_process_loads_c_until_needed():
    """_json (an extension: ~0.5 ms to load) only on loads or one-line dumps."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ociruntime import jsonio\n"
        "jsonio.dumps({'a': [1, 2.5, None, 'x'], 'b': {}}, indent=2)\n"
        "print('_json' in sys.modules, end=' ')\n"
        "jsonio.loads('{}')\n"
        "print('_json' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False True\n"


def test_sync_loads_the_c_codec_at_import():
    """The container side encodes sync messages after it has joined the
    container's mount namespace, where _json could no longer be found: a
    rootless exec (forked late, nothing having loaded it) hung there."""
    import subprocess
    import sys

    code = "import sys\nfrom ociruntime import sync\nprint('_json' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "True\n"
