"""The processes that bring a container's process into being, one file each,
named after the process its code runs in (docs/create-start.md, docs/exec.md):

* ``runtime.py``: the ``ociruntime create``/``run``/``exec`` process (R):
  starts the first child, answers it, records the state, commits.
* ``first_child.py``: the container's first child (C1, exec's C): how R
  makes it (forked at entry, forked late, or executed from the read-only
  interpreter clone), and its own work: the pid, time and user namespaces
  and the forks into them, the birth in the container's cgroup.
* ``init.py``: the container side, in the process that goes on: the
  namespaces, mounts, pivot_root, the process's settings, and execve; the
  init of create (I), the set-up of exec (C) and its process (E).
* ``args.py``: what R hands the first child (InitArgs), in memory or as JSON.

The layers point one way: runtime -> first_child -> init -> args and the
lower layers (linux/, cgroups/, state, sync, errors).
"""
