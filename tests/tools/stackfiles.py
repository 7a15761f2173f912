"""Stack files for end-to-end plan tests: the committed config plus every secret a real stack would set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tools.plan_runtime import REPO_ROOT

SECRET_KEYS = ("llm-judge:hfToken", "llm-judge:kafkaSaslUsername", "llm-judge:kafkaSaslPassword")


def stack_config(stack: str) -> dict[str, Any]:
    return yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())


def write_with_secrets(data: dict[str, Any], path: Path) -> Path:
    """``data`` with each secret set as `pulumi config set --secret` stores it (``secure:`` ciphertext)."""
    data = {**data, "config": dict(data.get("config") or {})}
    for key in SECRET_KEYS:
        data["config"][key] = {"secure": "v1:AAAAAAAAAAAAAAAAAAAAAA=="}
    path.write_text(yaml.safe_dump(data))
    return path


def with_secrets(stack: str, tmp: Path) -> Path:
    return write_with_secrets(stack_config(stack), tmp / f"Pulumi.{stack}.yaml")
