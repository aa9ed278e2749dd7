"""ociruntime check: probes run without side effects; a missing requirement fails."""

from __future__ import annotations

import json
import os
import re

import pytest

from ociruntime import check, cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="probes cgroups and namespaces as root")


def test_every_check_has_a_name_and_detail():
    results = check.checks()
    names = [r.name for r in results]
    assert len(names) == len(set(names))
    for must in (
        "openat2",
        "mount_setattr",
        "pidfd",
        "cgroup layout",
        "libseccomp",
        "namespace: pid",
    ):
        assert any(n.startswith(must) for n in names), must
    for r in results:
        assert r.detail
        assert r.ok or r.fix or not r.required, r.name


def test_libseccomp_reports_its_version():
    """The probe reads seccomp_version() through the same loader the init uses."""
    (r,) = [r for r in check.checks() if r.name == "libseccomp"]
    assert r.ok, r.detail
    assert re.fullmatch(r"2\.\d+\.\d+", r.detail), r.detail


def test_json_output_is_one_document(capsys):
    code = cli.main(["check", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"ok", "checks"}
    assert code == (0 if doc["ok"] else 1)
    assert all({"name", "ok", "detail", "required", "fix"} == set(c) for c in doc["checks"])


def test_missing_requirement_exits_1_and_says_how_to_fix(monkeypatch, capsys):
    fake = [
        check.Result(
            "openat2 (mount targets confined to the rootfs)",
            False,
            "not implemented",
            True,
            "Linux 5.6",
        ),
        check.Result("AppArmor", False, "not enabled", False),
    ]
    monkeypatch.setattr(check, "checks", lambda: fake)
    assert cli.main(["check"]) == 1
    out = capsys.readouterr()
    assert "MISSING" in out.out and "fix: Linux 5.6" in out.out
    assert (
        out.err
        == "ociruntime: required: openat2 (mount targets confined to the rootfs): not implemented (fix: Linux 5.6)\n"
    )


def test_optional_missing_still_exits_0(monkeypatch, capsys):
    monkeypatch.setattr(
        check, "checks", lambda: [check.Result("AppArmor", False, "not enabled", False)]
    )
    assert cli.main(["check"]) == 0
    assert capsys.readouterr().err == ""
