"""One module per resource controller: how linux.resources becomes file writes.

Each module has ``v1(res, has)`` -> ``[(subsystem, file, value)]`` and
``v2(res, has)`` -> ``[(file, value)]``: pure translations, unit-tested
without a cgroup.  ``has(subsystem, file)`` tells whether the kernel offers
a file (v2 passes subsystem ""), for the few choices that depend on it.
The managers (``v1.py``, ``v2.py``) do the writing, in the order given.
"""

from . import blkio, cpu, hugetlb, memory, network, pids, rdma, unified

# devices is not in this list: its rules also depend on linux.devices, and on
# v2 it is an eBPF program, not a file (see devices.py)
ALL = (memory, cpu, pids, blkio, hugetlb, network, rdma, unified)


def writes_v1(res: dict, has) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    for c in ALL:
        out += c.v1(res, has)
    return out


def writes_v2(res: dict, has) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for c in ALL:
        out += c.v2(res, has)
    return out
