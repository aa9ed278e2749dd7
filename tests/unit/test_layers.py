"""The package's layers point one way (issue 17): no import cycle, function-
level imports included, and no lower layer importing an upper one.

    cli -> commands -> container -> process/runtime (process/restore) -> process/first_child
        -> process/init -> process/args, linux/, cgroups/, config/, state,
           sync, errors and the other leaves
"""

from __future__ import annotations

import ast
import os

import pytest

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "ociruntime")


def graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports anywhere in its source."""
    mods = {}
    for d, _, files in os.walk(PKG):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), os.path.dirname(PKG))[:-3]
                name = rel.replace(os.sep, ".")
                mods[name.removesuffix(".__init__")] = os.path.join(d, f)

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        is_pkg = path.endswith("__init__.py")
        with open(path) as f:
            tree = ast.parse(f.read(), path)
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = m.split(".") if is_pkg else m.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for t in targets:
                r = resolve(t) if t.startswith("ociruntime") else None
                if r and r != m and not m.startswith(r + "."):
                    edges[m].add(r)
    # first_child.import_shared imports these by name (__import__): edges all the same
    from ociruntime.process.first_child import SHARED

    edges["ociruntime.process.first_child"] |= {resolve(n) for n in SHARED}
    return edges


EDGES = graph()


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for n in EDGES[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def test_no_import_cycle():
    cycles = sorted(m for m in EDGES if m in reachable(m))
    assert cycles == [], f"modules in import cycles: {cycles}"


UPPER = {
    "ociruntime.__main__": -2,  # python -m ociruntime
    "ociruntime.entry": -1,  # the launcher's entry: forks the first child, runs the CLI
    "ociruntime.cli": 0,
    "ociruntime.commands": 1,
    "ociruntime.container": 2,
    "ociruntime.process.runtime": 3,
    "ociruntime.process.restore": 3,  # restore's runtime side, beside create's (its helpers)
    "ociruntime.process.first_child": 4,
    "ociruntime.process.init": 5,
}


@pytest.mark.parametrize("module", sorted(EDGES))
def test_imports_only_point_down(module):
    """A module imports nothing above its own layer; the lower modules
    (linux/, cgroups/, config/, state, sync, ...) nothing of the upper ones."""

    def layer(m: str) -> int:
        if m == "ociruntime":  # the package: its lazy ``Container`` is the API's front door
            return -1
        for name, n in UPPER.items():
            if m == name or m.startswith(name + "."):
                return n
        return 99

    mine = layer(module)
    up = sorted(t for t in EDGES[module] if layer(t) < mine)
    assert up == [], f"{module} imports upward: {up}"


def test_the_graph_is_read():
    """The parser sees the edges it must (a broken one would pass everything)."""
    assert "ociruntime.process.runtime" in EDGES["ociruntime.container"]
    assert "ociruntime.process.first_child" in EDGES["ociruntime.process.runtime"]
    assert "ociruntime.process.init" in EDGES["ociruntime.process.first_child"]
    assert "ociruntime.commands.lifecycle" in EDGES["ociruntime.cli"]
