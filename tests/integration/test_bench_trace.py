"""The bench harness and ``--trace`` run and produce well-formed output.

No timing assertions here: a test only checks that ``bench/bench_run.py``
measures every requested case and writes its JSON and chart, and that
``--trace FILE`` / ``OCIRUNTIME_TRACE=DIR`` write Chrome trace-event JSON
with spans from both sides of the fork.  The bench runs with the smallest
settings (2 runs, no warm-up, no crun, 3 containers in the parallel case),
so the whole module takes about 5 s on a 2-CPU machine (budget: 30 s).
The subprocess timeouts (90 s for the bench, 30 s per command) only turn
a hang into a failure.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import OCI

from ociruntime.cgroups import layout

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "bench_run.py")
# The bench draws with matplotlib, which Debian installs for its own python3.
BENCH_PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
CASES = ["run", "lifecycle", "state", "exec", "parallel", "features", "rss"]
REDUCED = {"parallel", "rss"}  # measured --parallel-runs times, the others --runs times
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.skipif(
    shutil.which("runc") is None or shutil.which(OCI[0]) is None,
    reason="needs runc and ociruntime on PATH",
)


def has_matplotlib() -> bool:
    r = subprocess.run([BENCH_PY, "-c", "import matplotlib"], capture_output=True, timeout=30)
    return r.returncode == 0


def number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def test_bench_harness_writes_json_and_png(tmp_path):
    out_json = tmp_path / "bench.json"
    out_png = tmp_path / "bench.png"
    png = has_matplotlib()
    cmd = [
        BENCH_PY,
        BENCH,
        "--ociruntime",
        shlex.join(OCI),
        "--no-crun",
        "--runs",
        "2",
        "--warmup",
        "0",
        "--parallel",
        "3",
        "--parallel-runs",
        "2",
        "--cases",
        ",".join(CASES),
        "--json",
        str(out_json),
        *(["--png", str(out_png)] if png else []),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "summary" in r.stdout

    report = json.loads(out_json.read_text())
    assert set(report["runtimes"]) == {"ociruntime", "runc"}
    for name, rt in report["runtimes"].items():
        assert rt["version"] and rt["version_line"], name
    machine = report["machine"]
    assert machine["nproc"] >= 1 and machine["kernel"] and machine["cgroup_layout"]
    assert machine["cpu_model"]

    assert list(report["results"]) == CASES
    for case in CASES:
        res = report["results"][case]
        unit = res["unit"].lower()
        want = 2
        for name in ("ociruntime", "runc"):
            s = res[name]
            assert isinstance(s, dict), f"{case}/{name}: {s!r}"
            assert s["n"] == want, (case, name, s["n"])
            for key in ("median", "p10", "p90", "mean", "min", "max"):
                v = s[f"{key}_{unit}"]
                assert number(v) and v > 0, (case, name, key, v)
            assert s[f"p10_{unit}"] <= s[f"median_{unit}"] <= s[f"p90_{unit}"]
            assert len(s[f"samples_{unit}"]) == want
    rows = {row["case"]: row for row in report["summary"]}
    assert list(rows) == CASES
    for case, row in rows.items():
        assert number(row["ratio_vs_runc"]), (case, row)
        assert row["ratio_vs_crun"] is None
        assert row["target_met"] in (None, True, False)
    for case in ("run", "lifecycle", "state", "rss"):
        assert isinstance(rows[case]["target_met"], bool), case

    if png:
        data = out_png.read_bytes()
        assert data[:8] == PNG_MAGIC
        assert data[12:16] == b"IHDR"


def x_events(doc: object) -> list[dict]:
    """The complete ("X") events, after checking the document's shape."""
    assert isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list), doc
    events = doc["traceEvents"]
    assert all(isinstance(e, dict) and isinstance(e.get("ph"), str) for e in events)
    xs = [e for e in events if e["ph"] == "X"]
    assert xs, events
    for e in xs:
        assert isinstance(e.get("name"), str) and e["name"], e
        assert number(e.get("ts")) and number(e.get("dur")) and e["dur"] >= 0, e
        assert isinstance(e.get("pid"), int) and isinstance(e.get("tid"), int), e
    return xs


def test_trace_file_has_spans_from_both_sides(oci, bundle, tmp_path):
    path = tmp_path / "run.json"
    cid = oci.new_id("trace")
    oci.ok("run", "-b", bundle.path, cid, global_args=("--trace", str(path)), timeout=30)
    xs = x_events(json.loads(path.read_text()))
    host = [e for e in xs if e["pid"] != 1]
    container = [e for e in xs if e["pid"] == 1]  # the init, pid 1 in its pid namespace
    assert host, xs
    assert container, f"no span from the container side (pid 1): {xs}"
    assert len({e["pid"] for e in host}) == 1, host  # the runtime process, one pid
    # one clock for both sides: the init's spans fall inside the runtime's
    start = min(e["ts"] for e in host)
    end = max(e["ts"] + e["dur"] for e in host)
    for e in container:
        assert start <= e["ts"] and e["ts"] + e["dur"] <= end, (e, start, end)


def test_trace_dir_gets_one_file_per_command(oci, bundle, tmp_path):
    trace_dir = tmp_path / "traces"
    trace_dir.mkdir()
    env = dict(os.environ, OCIRUNTIME_TRACE=str(trace_dir))
    cid = oci.new_id("tracedir")
    commands = ["create", "start", "state", "delete"]
    oci.cli_ok("create", "-b", bundle.path, cid, env=env)
    oci.cli_ok("start", cid, env=env)
    oci.cli_ok("state", cid, env=env)
    oci.cli_ok("delete", "--force", cid, env=env)

    files = sorted(os.listdir(trace_dir))
    assert len(files) == len(commands), files
    by_cmd = {f.split("-", 1)[0]: trace_dir / f for f in files}
    assert sorted(by_cmd) == sorted(commands), files
    for cmd, f in by_cmd.items():
        assert f.name.endswith(".json"), f
        xs = x_events(json.loads(f.read_text()))
        if cmd == "create":  # the container's set-up happens during create
            assert any(e["pid"] == 1 for e in xs), xs


def test_grace_period_bench_measures_every_way_in():
    script = os.path.join(os.path.dirname(BENCH), "grace_period.py")
    r = subprocess.run(
        [BENCH_PY, script, "--runs", "2"], capture_output=True, text=True, timeout=90
    )
    assert r.returncode == 0, r.stderr
    rows = {line.split(" median ")[0].strip(): line for line in r.stdout.splitlines()[1:]}
    from ociruntime.cgroups import layout

    want = {"v1": ["cgroup.procs (v1)", "tasks"], "v2": ["cgroup.procs (cgroup2)", "clone3"]}
    want["hybrid"] = want["v1"] + want["v2"]
    assert sorted(rows) == sorted(want[layout()]), r.stdout
    for line in rows.values():
        assert line.split(" median ")[1].split()[0].replace(".", "").isdigit(), line


@pytest.mark.skipif(shutil.which("py-spy") is None, reason="py-spy is not installed (make deps)")
def test_profile_reports_phases_and_functions_per_command():
    script = os.path.join(os.path.dirname(BENCH), "profile.py")
    r = subprocess.run(
        [
            BENCH_PY,
            script,
            "--runs",
            "4",
            "--commands",
            "state,delete",
            "--ociruntime",
            shlex.join(OCI),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    sections = r.stdout.split("\n== ")[1:]
    assert [s.split(":")[0] for s in sections] == ["state", "delete"], r.stdout
    for s in sections:
        assert "interpreter start-up" in s and "imports" in s and "our code" in s, s
        shares = [float(line.split("%")[0].split()[-1]) for line in s.splitlines() if "%" in line]
        assert len(shares) == 3 and abs(sum(shares) - 100.0) < 0.5, s
        assert "top 12 inclusive" in s and "top 12 self" in s, s


def test_trace_names_every_step_of_run(oci, bundle, tmp_path):
    # issue 7: parse, validate, cgroup, each namespace, each mount, pivot_root, hooks, the wait
    path = tmp_path / "run.json"
    oci.ok("run", "-b", bundle.path, oci.new_id("steps"), global_args=("--trace", str(path)))
    names = [e["name"] for e in x_events(json.loads(path.read_text()))]
    config = json.loads((Path(bundle.path) / "config.json").read_text())
    for want in (
        "imports and argument parsing",
        "load and validate bundle",
        "cgroup: create",
        "cgroup: apply resources",
        "createRuntime hooks (runtime)",
        "pivot_root",
        "wait for set-up in the container",
        "container process runs",
    ):
        assert want in names, (want, names)
    if layout() != "v2":  # v1 hierarchies: the init joins them itself, a span of its own
        assert "cgroup: join (v1 tasks)" in names, names
    assert any(n.startswith("unshare: new ") for n in names), names
    mounts = [m["destination"] for m in config["mounts"]]
    for dest in mounts:
        assert f"mount {dest}" in names, (dest, names)


def test_create_takes_the_early_path(oci, bundle, tmp_path):
    """create hands its arguments to the child forked at entry instead of
    forking one late: a silent fall back to the late fork (which costs the
    child's imports on the critical path) fails here."""
    path = tmp_path / "create.json"
    cid = oci.new_id("early")
    oci.cli_ok("create", "-b", bundle.path, cid, global_args=("--trace", str(path)))
    names = {e["name"] for e in x_events(json.loads(path.read_text())) if e["pid"] != 1}
    assert "hand the arguments to the first child (forked early)" in names, sorted(names)
    assert "fork" not in names, sorted(names)
