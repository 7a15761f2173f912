"""A stack file's config blocks, and overrides merged into them: what component tests render."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tools.plan_runtime import REPO_ROOT


def stack_block(stack: str, key: str) -> dict[str, Any]:
    """A fresh copy of ``llm-judge:<key>`` from ``Pulumi.<stack>.yaml``."""
    data = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(data["config"][f"llm-judge:{key}"])


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in depth (a non-empty dict merges, anything else replaces)."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if value and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
