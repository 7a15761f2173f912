"""``images``: the Artifact Registry repository the stack pushes the images it builds to, its cleanup
policy and the platform built for."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from .base import ConfigModel, pattern

_REPOSITORY_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")


class ImagesConfig(ConfigModel):
    """``images``: the Artifact Registry repository the stack pushes the images it builds to."""

    repository_id: Annotated[
        str, AfterValidator(pattern(_REPOSITORY_ID, "a repository id: a-z 0-9 -, starting with a letter"))
    ] = "flash-cache-repo"
    keep_recent_versions: int = Field(default=10, ge=1, le=1000)
    """Cleanup policy: always keep this many newest versions of each image."""
    delete_untagged_after_days: int = Field(default=30, ge=1, le=3650)
    """Cleanup policy: delete untagged versions (replaced builds) older than this."""
    build_on_preview: bool = True
    """Build during ``pulumi preview`` too (catches a broken Dockerfile before ``up``; needs Docker)."""
    platform: Literal["linux/amd64", "linux/arm64"] = "linux/amd64"
    """Cloud Run runs linux/amd64; arm64 only for a custom runtime."""
