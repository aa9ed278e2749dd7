"""Fuzzed configs through the config loader, in-process (issue 18, item 6).

The cheap half of tests/integration/test_fuzz.py: the same cases
(tests/fuzzconfig.py), many more of them, through ``load_bundle`` (read,
parse, validate, the checks beyond the schema) without a container.  Each
must load, or fail with an OCIError whose text is one clean line; any other
exception is a bug.  The corpus (tests/fuzz_corpus/) is replayed here too.
"""

from __future__ import annotations

import os
import traceback

import fuzzconfig as fz
import pytest

from ociruntime import log
from ociruntime.config.load import load_bundle
from ociruntime.errors import OCIError

EXAMPLES = fz.FUZZ * 10 if fz.FUZZ else int(os.environ.get("FUZZ_LOAD_EXAMPLES") or 800)


@pytest.fixture
def bundle_dir(tmp_path):
    (tmp_path / "rootfs").mkdir()
    return str(tmp_path)


def load(bundle_dir: str, ops: list) -> tuple[str | None, str]:
    """(what went wrong or None, "ok" or the error's text)."""
    _, data = fz.build(ops)
    with open(os.path.join(bundle_dir, "config.json"), "wb") as f:
        f.write(data)
    try:
        load_bundle(bundle_dir)
    except OCIError as e:
        text = log.one_line(e.text)  # as the CLI writes it
        return fz.problem_in_line(text), text
    except Exception as e:  # noqa: BLE001 - what the test is for
        where = traceback.extract_tb(e.__traceback__)[-1]
        place = f"{os.path.basename(where.filename)}:{where.lineno} {where.name}"
        return f"{type(e).__name__} at {place}: {str(e)[:200]}", "exception"
    return None, "ok"


def test_fuzzed_configs_load_or_fail_cleanly(bundle_dir):
    from hypothesis import strategies as st

    fz.explore(
        "loader",
        st.tuples(fz.cases(), st.just("load")),
        lambda ops, mode: load(bundle_dir, ops)[0],
        EXAMPLES,
    )


@pytest.mark.parametrize(
    "path", fz.corpus_files(), ids=[os.path.basename(p)[:-5] for p in fz.corpus_files()]
)
def test_corpus(bundle_dir, path):
    entry = fz.load_case(path)
    problem, outcome = load(bundle_dir, entry["ops"])
    assert problem is None, f"{path}: {problem}"
    fz.check_expectation(entry, "load", outcome)
