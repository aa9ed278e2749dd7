"""ociruntime: an OCI runtime-spec compatible container runtime in Python.

The lifecycle is usable from Python without the CLI::

    from ociruntime import Container
    c = Container.create("demo", "bundles/busybox", root="/run/ociruntime")
    c.start(); print(c.state()["status"]); c.kill(15); c.delete(force=True)
"""

__version__ = "0.1.0"
SPEC_VERSION = "1.2.0"
ROOTLESS = "auto"  # --rootless: auto (a non-root caller is rootless), true or false
SYSTEMD_CGROUP = False  # --systemd-cgroup: a new container's cgroup is a systemd scope
# where the installed launcher's interpreter copy and code bundle are (codebundle.boot
# sets it from the bundle's path); None: a development run (python -m ociruntime)
BIN_DIR: str | None = None


def __getattr__(name: str):
    # Lazy: the CLI imports this package on every call and must not pay for
    # modules the command does not need.
    if name == "Container":
        from .container import Container

        return Container
    if name == "OCIError":
        from .errors import OCIError

        return OCIError
    raise AttributeError(name)
