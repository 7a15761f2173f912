"""Computed outputs and data-source results that the AWS provider would return, for the offline plan.

``RESOURCES``: resource type token -> fn(name, inputs) -> extra outputs (merged over the inputs).
``CALLS``: function token -> fn(args) -> result. See tools/mocks.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RESOURCES: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {}
CALLS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
