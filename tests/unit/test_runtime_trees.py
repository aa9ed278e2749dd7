"""process/runtime.needs_runtime_trees: the check that spares a create the
import of linux/idmap.py must agree with what idmap.prepare acts on."""

from __future__ import annotations

import itertools

import pytest

from ociruntime.linux import idmap
from ociruntime.process import runtime

MAPS = [{"containerID": 0, "hostID": 100000, "size": 65536}]
MOUNTS = [
    {"destination": "/a", "type": "bind", "source": "/x", "options": ["rbind"]},
    {"destination": "/a", "type": "bind", "source": "/x", "options": ["rbind", "idmap"]},
    {"destination": "/a", "type": "bind", "source": "/x", "options": ["ridmap"]},
    {"destination": "/a", "type": "bind", "source": "/x", "uidMappings": MAPS},
    {"destination": "/a", "type": "bind", "source": "/x", "gidMappings": MAPS},
    {"destination": "/a", "type": "bind", "source": "/x", "uidMappings": []},
    {"destination": "/a", "type": "bind", "source": "/x", "options": None},
    {"destination": "/proc", "type": "proc", "source": "proc"},
]


@pytest.mark.parametrize("mount", MOUNTS)
def test_a_mount_needs_the_runtime_exactly_when_idmap_wants_it(mount):
    config = {"mounts": [mount], "linux": {"namespaces": [{"type": "mount"}]}}
    assert runtime.needs_runtime_trees(config) == idmap.wanted(mount)


@pytest.mark.parametrize("user, root", itertools.product([False, True], [False, True]))
def test_a_user_namespace_needs_the_runtime_as_root_only(user, root, monkeypatch):
    monkeypatch.setattr(runtime.os, "geteuid", lambda: 0 if root else 1000)
    nss = [{"type": "mount"}] + ([{"type": "user"}] if user else [])
    config = {"mounts": [MOUNTS[0]], "linux": {"namespaces": nss}}
    assert runtime.needs_runtime_trees(config) == (user and root)


def test_nothing_to_make_leaves_idmap_unimported(monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "ociruntime.linux.idmap")
    assert runtime.runtime_trees({"mounts": [MOUNTS[0]], "linux": {}}, "/nonexistent") == {}
    assert "ociruntime.linux.idmap" not in sys.modules
