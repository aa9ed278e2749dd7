"""A package, so that pytest imports tests/e2e/conftest.py as e2e.conftest and
the module name ``conftest`` stays tests/conftest.py (tests/integration does
``from conftest import ...``)."""
