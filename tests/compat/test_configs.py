"""The corpus run through both runtimes: what the process sees must match."""

from __future__ import annotations

import pytest

from . import corpus


def run_probe(side):
    side.run()


def ran(cmp) -> None:
    cmp.assert_ok("run c")


def test_runc_spec(both, runc_spec):
    """``runc spec`` as it comes: a terminal, a read-only root."""
    cmp = both(corpus.from_runc_spec(runc_spec), lambda s: s.run(tty=True))
    cmp.assert_same(corpus.DELIBERATE)
    ran(cmp)


def test_runc_spec_no_terminal(both, runc_spec):
    cmp = both(corpus.no_terminal(runc_spec), run_probe)
    cmp.assert_same(corpus.DELIBERATE)
    ran(cmp)


@pytest.mark.parametrize("name", sorted(corpus.RUNC_SPEC_VARIANTS))
def test_runc_spec_variant(both, runc_spec, name):
    cmp = both(corpus.variant(runc_spec, name), run_probe)
    cmp.assert_same(corpus.DELIBERATE)
    ran(cmp)


@pytest.mark.parametrize("name", corpus.captured_names())
def test_captured(both, name):
    cmp = both(corpus.captured(name), run_probe)
    cmp.assert_same(corpus.DELIBERATE)
    ran(cmp)


@pytest.mark.parametrize("suffix", ["", "-runtimedefault"], ids=["unconfined", "runtimedefault"])
def test_cri_pod(both, suffix):
    """A CRI pod: the sandbox (pause) container, then the app container
    joining its IPC, UTS and network namespaces by path, as containerd
    writes them."""
    sandbox = corpus.captured("cri-sandbox" + suffix, ["sh", "-c", "echo ready; exec sleep 1000"])
    joins = {"ipc": "sandbox", "uts": "sandbox", "network": "sandbox"}
    app = corpus.captured("cri-container" + suffix, namespace_paths=joins)

    def scenario(s):
        s.run_detached("sandbox")
        s.wait_output("sandbox", "ready")
        s.run("c")
        s.state("sandbox")
        s.delete("sandbox", "--force")

    cmp = both({"sandbox": sandbox, "c": app}, scenario)
    cmp.assert_same(corpus.DELIBERATE, ok=("run -d sandbox", "run c"))
