"""One module per resource controller: how linux.resources becomes file writes.

Each module has ``v1(res, has)`` -> ``[(subsystem, file, value)]`` and
``v2(res, has)`` -> ``[(file, value)]``: pure translations, unit-tested
without a cgroup.  ``has(subsystem, file)`` tells whether the kernel offers
a file (v2 passes subsystem ""), for the few choices that depend on it.
The managers (``v1.py``, ``v2.py``) do the writing, in the order given.
"""

# linux.resources key -> the module that translates it, imported only when the
# config has that key (a create pays for the controllers it uses).  devices is
# not here: its rules also depend on linux.devices, and on v2 it is an eBPF
# program, not a file (see devices.py)
MODULES = {
    "memory": "memory",
    "cpu": "cpu",
    "pids": "pids",
    "blockIO": "blkio",
    "hugepageLimits": "hugetlb",
    "network": "network",
    "rdma": "rdma",
    "unified": "unified",
}


def _used(res: dict) -> list:
    return [
        __import__(f"{__name__}.{mod}", fromlist=["v1"])
        for key, mod in MODULES.items()
        if res.get(key) is not None
    ]


def writes_v1(res: dict, has) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for c in _used(res):
        out += c.v1(res, has)
    return out


def writes_v2(res: dict, has) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for c in _used(res):
        out += c.v2(res, has)
    return out
