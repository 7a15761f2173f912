"""What a test needs from the environment: missing, it fails with the way to install it, never skips
(a skipped check is a check nobody runs, and `make test` would still say "passed")."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest

INSTALL_HINT = "`make venv` installs it ({dist} in requirements-dev.txt)"


def require_module(name: str, dist: str) -> ModuleType:
    """``import name``, or fail the test naming the distribution that provides it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        pytest.fail(f"{name} is not installed: {INSTALL_HINT.format(dist=dist)}", pytrace=False)
