"""Regenerate ``ociruntime/config/schema_data.py`` from ``schemas/*.json``.

Run ``python3 -m ociruntime.config.genschema`` from a source checkout after
editing ``schemas/config-schema.json`` or ``schemas/state-schema.json``, then
commit both.  The installed package only contains ``ociruntime/`` (not the
top-level ``schemas/`` directory), so the validator imports the schemas as a
Python literal: loading it from the ``.pyc`` is a single unmarshal, faster
than reading and parsing JSON.  ``tests/unit/test_schema.py`` fails when the
generated module is out of date.

The generator refuses keywords the validator does not implement, so a schema
edit cannot silently weaken validation.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / "schemas"
OUTPUT = Path(__file__).resolve().with_name("schema_data.py")

# name in schema_data.py -> file in schemas/
SCHEMAS = {
    "CONFIG_SCHEMA": "config-schema.json",
    "STATE_SCHEMA": "state-schema.json",
}

HEADER = '''\
"""The runtime-spec schemas as Python literals.  GENERATED: do not edit.

Source: schemas/{files}.
Regenerate with ``python3 -m ociruntime.config.genschema``.
"""

# fmt: off
'''


def load_schemas(schema_dir: Path = SCHEMA_DIR) -> dict[str, dict]:
    """Read the JSON schema files, keyed by their name in schema_data.py."""
    out = {}
    for name, file in SCHEMAS.items():
        with open(schema_dir / file, encoding="utf-8") as f:
            out[name] = json.load(f)
    return out


def check_keywords(schema: object, where: str = "#") -> None:
    """Raise ValueError if ``schema`` uses a keyword validate.py lacks."""
    from .validate import ANNOTATIONS, KEYWORDS

    if not isinstance(schema, dict):
        raise ValueError(f"{where}: a schema must be an object")
    for key, value in schema.items():
        here = f"{where}/{key}"
        if key in ANNOTATIONS:
            continue
        if key not in KEYWORDS:
            raise ValueError(f"{here}: keyword not supported by ociruntime.config.validate")
        if key == "$ref":
            if not (isinstance(value, str) and value.startswith("#/")):
                raise ValueError(f"{here}: only local references (#/...) are supported")
        elif key in ("properties", "patternProperties"):
            for prop, sub in value.items():
                check_keywords(sub, f"{here}/{prop}")
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            check_keywords(value, here)
        elif key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(value):
                check_keywords(sub, f"{here}/{i}")
    for name, sub in schema.get("$defs", {}).items():
        check_keywords(sub, f"{where}/$defs/{name}")


def _literal(value: object, indent: int) -> str:
    """Format ``value`` as a Python literal, one item per line."""
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{json.dumps(k)}: {_literal(v, indent + 4)},\n" for k, v in value.items()]
        return "{\n" + "".join(items) + " " * indent + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{pad}{_literal(v, indent + 4)},\n" for v in value]
        return "[\n" + "".join(items) + " " * indent + "]"
    if value is True or value is False or value is None:
        return repr(value)
    if isinstance(value, (str, int, float)):
        # JSON string escapes are a subset of Python's.
        return json.dumps(value)
    raise TypeError(f"cannot render {type(value).__name__}")


def render(schemas: dict[str, dict]) -> str:
    files = ", ".join(SCHEMAS[name] for name in schemas)
    parts = [HEADER.format(files=files)]
    for name, schema in schemas.items():
        parts.append(f"{name} = {_literal(schema, 0)}\n")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--schemas", type=Path, default=SCHEMA_DIR, help="directory of *.json")
    ap.add_argument("--output", type=Path, default=OUTPUT, help="module to write")
    ap.add_argument("--check", action="store_true", help="exit 1 if the output is stale")
    args = ap.parse_args(argv)
    schemas = load_schemas(args.schemas)
    for name, schema in schemas.items():
        try:
            check_keywords(schema)
        except ValueError as e:
            print(f"{SCHEMAS[name]}: {e}", file=sys.stderr)
            return 1
    text = render(schemas)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run python3 -m ociruntime.config.genschema")
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
