"""Validate config.json, a process.json and state documents against our schemas.

This is a small JSON-Schema interpreter that knows only the keywords our
schemas (``schemas/*.json``, compiled into :mod:`.schema_data`) use.  It does
not import ``jsonschema``: that costs 50-100 ms, and this runs on every
``create``.  It stops at the FIRST error and raises
:class:`~ociruntime.errors.SpecError` with an RFC 6901 JSON pointer to the
offending value and a short expectation, e.g.::

    ociruntime: config.json: /process/args: expected a non-empty array

Order of checks, which decides which error is "first": for an object, its
type, then its required fields (in schema order), then its fields in document
order; for an array, its type and length, then its items in order.

Semantics follow JSON Schema 2020-12 for those keywords, except that
``"integer"`` means a JSON number written without a fraction or exponent (a
Python ``int``): ``1.0`` is rejected, as Go's encoding/json (and so runc)
rejects it for integer fields and as the official draft-04 schema does.
Patterns are searched with :mod:`re`, with a final ``$`` anchored at the very
end as in ECMA-262 (jsonschema lets it match before a trailing newline).
"""

from __future__ import annotations

from ..errors import SpecError


# The patterns our schemas use, matched without ``re``: importing it costs
# ~3 ms on every create.  tests/unit/test_schema.py checks each against re.
def _is_num(s: str) -> bool:
    return s.isdigit() and s.isascii() and (s == "0" or s[0] != "0")


def _is_ident(s: str) -> bool:
    return bool(s) and all(c.isascii() and (c.isalnum() or c == "-") for c in s)


def _semver(v: str) -> bool:
    core, plus, build = v.partition("+")
    if plus and not all(_is_ident(x) for x in build.split(".")):
        return False
    core, dash, pre = core.partition("-")
    if dash and not all(_is_ident(x) for x in pre.split(".")):
        return False
    parts = core.split(".")
    return len(parts) == 3 and all(_is_num(x) for x in parts)


FAST_PATTERNS = {
    "^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?"
    "(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$": _semver,
    "^MB:[^\\n]*$": lambda v: v.startswith("MB:") and "\n" not in v,
    "^RLIMIT_[A-Z]+$": lambda v: (
        len(v) > 7
        and v.startswith("RLIMIT_")
        and v[7:].isascii()
        and v[7:].isalpha()
        and v[7:].isupper()
    ),
    "^[0-9, -]*$": lambda v: all(c in "0123456789, -" for c in v),
    "^[1-9][0-9]*[KMG]B$": lambda v: (
        len(v) > 2 and v[-1] == "B" and v[-2] in "KMG" and _is_num(v[:-2]) and v[0] != "0"
    ),
}

# Keywords this module implements; genschema refuses schemas using others.
KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
        "uniqueItems",
        "items",
        "required",
        "properties",
        "patternProperties",
        "additionalProperties",
        "allOf",
        "anyOf",
        "oneOf",
    }
)
# Keywords that never affect validity.  "x-expect" words our error message.
ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "x-expect"}
)

_NOUNS = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


class _Invalid(Exception):
    """Internal: the first error, with the path (list of keys) where it is.

    ``wrong_type`` marks errors where the value is not even of the expected
    JSON type; anyOf/oneOf prefer explaining the other kind.
    """

    def __init__(self, path: list, msg: str, wrong_type: bool = False) -> None:
        self.path = path
        self.msg = msg
        self.wrong_type = wrong_type


def _has_type(value: object, t: str) -> bool:
    vt = type(value)
    if t == "object":
        return vt is dict
    if t == "array":
        return vt is list
    if t == "string":
        return vt is str
    if t == "integer":
        return vt is int
    if t == "number":
        return vt is int or vt is float
    if t == "boolean":
        return vt is bool
    if t == "null":
        return value is None
    raise ValueError(f"unknown type {t!r} in schema")


def _json_equal(a: object, b: object) -> bool:
    """JSON equality: 1 == 1.0, but true != 1."""
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return a == b


def _quote(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def _ecma_anchor(pattern: str) -> str:
    """Make a final ``$`` match only at the very end, as in ECMA-262.

    Python's ``$`` also matches before a trailing newline, so "1.2.0\\n"
    would pass ``^...$``.  (jsonschema has that quirk; we do not.)
    """
    if pattern.endswith("$"):
        backslashes = len(pattern) - 1 - len(pattern[:-1].rstrip("\\"))
        if backslashes % 2 == 0:
            return pattern[:-1] + r"\Z"
    return pattern


def _escape(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def pointer(path: list) -> str:
    """RFC 6901 pointer for a list of object keys / array indexes."""
    return "".join("/" + _escape(p) for p in path)


class _Fast:
    """Quacks like a compiled pattern: ``search`` gives None on no match."""

    __slots__ = ("fn",)

    def __init__(self, fn) -> None:
        self.fn = fn

    def search(self, value: str) -> bool | None:
        return True if self.fn(value) else None


class Validator:
    """Validates documents against one root schema with local ``$ref``s."""

    def __init__(self, root: dict) -> None:
        self.root = root
        self._refs: dict[str, dict] = {}
        self._regexes: dict[str, object] = {}

    # -- helpers ------------------------------------------------------------

    def resolve(self, ref: str) -> dict:
        s = self._refs.get(ref)
        if s is None:
            if not ref.startswith("#"):
                raise ValueError(f"only local $refs are supported: {ref}")
            s = self.root
            for part in ref[1:].split("/")[1:]:
                part = part.replace("~1", "/").replace("~0", "~")
                s = s[int(part)] if isinstance(s, list) else s[part]
            self._refs[ref] = s
        return s

    def _regex(self, pattern: str):
        """An object whose ``search(value)`` is truthy when ``value`` matches."""
        rx = self._regexes.get(pattern)
        if rx is None:
            fast = FAST_PATTERNS.get(pattern)
            if fast is not None:
                rx = _Fast(fast)
            else:
                import re

                rx = re.compile(_ecma_anchor(pattern))
            self._regexes[pattern] = rx
        return rx

    def describe(self, s: dict) -> str:
        """What a value must look like to satisfy ``s``, e.g. 'an integer >= 1'."""
        if "x-expect" in s:
            return s["x-expect"]
        if "enum" in s:
            return "one of " + ", ".join(_quote(v) for v in s["enum"])
        if "const" in s:
            return _quote(s["const"])
        t = s.get("type")
        if t is None and ("minimum" in s or "maximum" in s):
            t = "number"
        if t is None:
            if "$ref" in s:
                return self.describe(self.resolve(s["$ref"]))
            for key in ("anyOf", "oneOf"):
                if key in s:
                    return " or ".join(self.describe(sub) for sub in s[key])
            return "a valid value"
        if isinstance(t, list):
            return " or ".join(_NOUNS[x] for x in t)
        noun = _NOUNS[t]
        if t == "array":
            lo, hi = s.get("minItems", 0), s.get("maxItems")
            if hi is not None:
                return (
                    f"an array of {lo} to {hi} items" if lo else f"an array of at most {hi} items"
                )
            if lo == 1:
                return "a non-empty array"
            if lo:
                return f"an array of at least {lo} items"
            if s.get("uniqueItems"):
                return "an array of unique items"
        elif t in ("integer", "number"):
            lo, hi = s.get("minimum"), s.get("maximum")
            if lo is not None and hi is not None:
                return f"{noun} between {lo} and {hi}"
            if lo is not None:
                return f"{noun} >= {lo}"
            if hi is not None:
                return f"{noun} <= {hi}"
        elif t == "string":
            if "pattern" in s:
                return f"a string matching {s['pattern']}"
            lo, hi = s.get("minLength", 0), s.get("maxLength")
            if hi is not None:
                return f"a string of {lo} to {hi} characters"
            if lo == 1:
                return "a non-empty string"
            if lo:
                return f"a string of at least {lo} characters"
        return noun

    def _fail(self, s: dict, path: list, wrong_type: bool = False) -> None:
        raise _Invalid(path[:], "expected " + self.describe(s), wrong_type)

    # -- the interpreter ----------------------------------------------------

    def check(self, s: dict, value: object, path: list) -> None:
        """Raise _Invalid for the first way ``value`` violates ``s``.

        ``path`` is the location of ``value``; it is extended and restored
        while descending, and copied into the exception on failure.
        """
        ref = s.get("$ref")
        if ref is not None:
            self.check(self.resolve(ref), value, path)
        t = s.get("type")
        if t is not None:
            if type(t) is list:
                if not any(_has_type(value, x) for x in t):
                    self._fail(s, path, True)
            elif not _has_type(value, t):
                self._fail(s, path, True)
        if "enum" in s:
            if type(value) is str:
                if value not in s["enum"]:
                    self._fail(s, path)
            elif not any(_json_equal(value, v) for v in s["enum"]):
                self._fail(s, path)
        if "const" in s and not _json_equal(value, s["const"]):
            self._fail(s, path)

        vt = type(value)
        if vt is dict:
            self._check_object(s, value, path)
        elif vt is list:
            self._check_array(s, value, path)
        elif vt is str:
            if "pattern" in s and self._regex(s["pattern"]).search(value) is None:
                self._fail(s, path)
            if ("minLength" in s or "maxLength" in s) and not (
                s.get("minLength", 0) <= len(value) <= s.get("maxLength", len(value))
            ):
                self._fail(s, path)
        elif vt is int or vt is float:
            if "minimum" in s and value < s["minimum"]:
                self._fail(s, path)
            if "maximum" in s and value > s["maximum"]:
                self._fail(s, path)

        if "allOf" in s:
            for sub in s["allOf"]:
                self.check(sub, value, path)
        if "anyOf" in s:
            self._check_any(s, s["anyOf"], value, path)
        if "oneOf" in s:
            self._check_one(s, s["oneOf"], value, path)

    def _check_object(self, s: dict, value: dict, path: list) -> None:
        for name in s.get("required", ()):
            if name not in value:
                raise _Invalid(path[:], f"missing required field {_quote(name)}")
        props = s.get("properties")
        patterns = s.get("patternProperties")
        extra = s.get("additionalProperties")
        if props is None and patterns is None and extra is None:
            return
        if props is None:
            props = {}
        for key, item in value.items():
            sub = props.get(key)
            matched = sub is not None
            if matched:
                path.append(key)
                self.check(sub, item, path)
                path.pop()
            if patterns is not None:
                for pattern, psub in patterns.items():
                    if self._regex(pattern).search(key) is not None:
                        matched = True
                        path.append(key)
                        self.check(psub, item, path)
                        path.pop()
            if not matched and extra is not None:
                path.append(key)
                if extra is False:
                    raise _Invalid(path[:], f"unknown field {_quote(key)}")
                if extra is not True:
                    self.check(extra, item, path)
                path.pop()

    def _check_array(self, s: dict, value: list, path: list) -> None:
        n = len(value)
        if n < s.get("minItems", 0) or n > s.get("maxItems", n):
            self._fail(s, path)
        items = s.get("items")
        if items is not None and n:
            if len(items) == 1 and items.get("type") == "string":
                # Fast path for the many arrays of strings (env, seccomp names).
                for i, item in enumerate(value):
                    if type(item) is not str:
                        path.append(i)
                        self._fail(items, path)
            else:
                for i, item in enumerate(value):
                    path.append(i)
                    self.check(items, item, path)
                    path.pop()
        if s.get("uniqueItems"):
            for i in range(1, n):
                for j in range(i):
                    if _json_equal(value[i], value[j]):
                        path.append(i)
                        raise _Invalid(path[:], f"duplicate of item {j}")

    def _check_any(self, s: dict, subs: list, value: object, path: list) -> None:
        depth = len(path)
        errors = []
        for sub in subs:
            try:
                self.check(sub, value, path)
                return
            except _Invalid as e:
                del path[depth:]
                errors.append(e)
        self._best_error(s, errors, path)

    def _check_one(self, s: dict, subs: list, value: object, path: list) -> None:
        depth = len(path)
        errors = []
        matches = 0
        for sub in subs:
            try:
                self.check(sub, value, path)
                matches += 1
            except _Invalid as e:
                del path[depth:]
                errors.append(e)
        if matches == 1:
            return
        if matches > 1:
            raise _Invalid(path[:], "expected exactly one of the alternatives to match")
        self._best_error(s, errors, path)

    def _best_error(self, s: dict, errors: list, path: list) -> None:
        # The alternative that got furthest into the value explains best, and
        # one whose type matched beats one whose type did not; if no
        # alternative even had the right type, list what was expected.
        best = max(errors, key=lambda e: (len(e.path), not e.wrong_type))
        if len(best.path) > len(path) or not best.wrong_type:
            raise best
        self._fail(s, path, True)

    def validate(self, doc: object, file: str, schema: dict | None = None) -> None:
        """Raise SpecError(pointer, msg, file) for the first error in ``doc``."""
        try:
            self.check(self.root if schema is None else schema, doc, [])
        except _Invalid as e:
            raise SpecError(pointer(e.path), e.msg, file) from None


def _nul_at(value: object, path: list) -> bool:
    """Whether a string (or object key) in ``value`` holds a NUL; if so, its
    path is appended to ``path``, innermost first."""
    if type(value) is dict:
        for k, x in value.items():
            tx = type(x)
            if "\0" in k or (
                (tx is str and "\0" in x) or ((tx is dict or tx is list) and _nul_at(x, path))
            ):
                path.append(k)
                return True
    elif type(value) is list:
        for i, x in enumerate(value):
            tx = type(x)
            if (tx is str and "\0" in x) or ((tx is dict or tx is list) and _nul_at(x, path)):
                path.append(i)
                return True
    return False


def check_no_nul(doc: object, file: str, base: tuple = ()) -> None:
    """No string anywhere in ``doc`` may hold a NUL byte: C strings end there,
    so a path, a cgroupsPath, an argument or an env entry would reach the
    kernel cut short (or, in Python, not at all: ``ValueError: embedded null
    byte`` half-way through a create).  One walk over the whole document, so
    no field that reaches a system call can be forgotten (~0.1 ms for a
    config with a 400-syscall seccomp profile)."""
    path: list = []
    if _nul_at(doc, path):
        path.reverse()
        where = pointer([*base, *path]).replace("\0", "\\u0000")
        raise SpecError(where, "contains a NUL byte (\\u0000)", file)


_validators: dict[str, Validator] = {}


def _validator(name: str) -> Validator:
    v = _validators.get(name)
    if v is None:
        from . import schema_data

        v = _validators[name] = Validator(getattr(schema_data, name))
    return v


def validate_config(doc: object, file: str = "config.json") -> None:
    """Validate a whole config.json document (already parsed from JSON)."""
    _validator("CONFIG_SCHEMA").validate(doc, file)
    # Beyond the schema: this runtime implements runtime-spec 1.x only.
    version = doc["ociVersion"]
    if version.split(".", 1)[0] != "1":
        raise SpecError("/ociVersion", f'expected version 1.x.y, got "{version}"', file)
    check_no_nul(doc, file)


def validate_process(doc: object, file: str) -> None:
    """Validate a bare ``process`` object (``exec --process process.json``)."""
    v = _validator("CONFIG_SCHEMA")
    v.validate(doc, file, v.resolve("#/$defs/Process"))
    check_no_nul(doc, file)


def validate_resources(doc: object, file: str = "resources") -> None:
    """Validate a bare ``linux.resources`` object (``update --resources``)."""
    v = _validator("CONFIG_SCHEMA")
    v.validate(doc, file, v.resolve("#/$defs/Resources"))
    check_no_nul(doc, file)


def validate_state(doc: object) -> None:
    """Validate a container state document (runtime.md "State")."""
    _validator("STATE_SCHEMA").validate(doc, "state.json")
