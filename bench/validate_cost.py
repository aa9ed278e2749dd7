#!/usr/bin/env python3
"""What validating config.json costs on ``create``: ours vs jsonschema.

Each trial is a fresh interpreter (the import is most of the cost, and a
runtime pays it on every call), timing import + validation of one config:

  ours        import ociruntime.config.validate; validate_config(cfg)
  jsonschema  import jsonschema; Draft202012Validator(our schema).validate(cfg)

The config is ``runc spec`` output when runc is installed, else our own
default spec.  Reading config.json is excluded for both; reading the schema
file is included for jsonschema (ours imports it with the module).

Usage: python3 bench/validate_cost.py [-n TRIALS] [--config FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

OURS = """
import json, sys, time
cfg = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
from ociruntime.config.validate import validate_config
validate_config(cfg)
print((time.perf_counter() - t0) * 1000)
"""

JSONSCHEMA = """
import json, sys, time
cfg = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
import jsonschema
with open(sys.argv[2]) as f:
    schema = json.load(f)
jsonschema.Draft202012Validator(schema).validate(cfg)
print((time.perf_counter() - t0) * 1000)
"""


def runc_spec(tmp: str) -> str | None:
    runc = shutil.which("runc")
    if runc is None:
        return None
    subprocess.run([runc, "spec"], cwd=tmp, check=True)
    return os.path.join(tmp, "config.json")


def default_spec(tmp: str) -> str:
    sys.path.insert(0, str(REPO))
    from ociruntime.config.default import default_config

    path = os.path.join(tmp, "config.json")
    with open(path, "w") as f:
        json.dump(default_config(), f)
    return path


def best_of(code: str, args: list[str], n: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # trials must load .pyc files, as installs do
    times = []
    for _ in range(n):
        out = subprocess.run(
            [sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True
        )
        times.append(float(out.stdout))
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20, help="trials per variant (best is reported)")
    ap.add_argument("--config", help="config.json to validate (default: runc spec output)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = args.config or runc_spec(tmp) or default_spec(tmp)
        schema = str(REPO / "schemas" / "config-schema.json")
        # Warm the .pyc caches so no trial pays for compiling.
        best_of(OURS, [config], 1)
        ours = best_of(OURS, [config], args.n)
        print(f"ours:       {ours:7.2f} ms  (import + validate, best of {args.n})")
        try:
            best_of(JSONSCHEMA, [config, schema], 1)
        except subprocess.CalledProcessError as e:
            print(f"jsonschema: unavailable ({e.stderr.strip().splitlines()[-1]})")
            return 0
        theirs = best_of(JSONSCHEMA, [config, schema], args.n)
        print(f"jsonschema: {theirs:7.2f} ms  (import + validate, best of {args.n})")
        print(f"ratio:      {theirs / ours:7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
