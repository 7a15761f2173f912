"""Artifact Registry addresses and cleanup policies of the images the stack builds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config.gcp_images import ImagesConfig

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_gcp.artifactregistry import RepositoryCleanupPolicyArgsDict

DAY_SECONDS = 86400


def registry_host(location: str) -> str:
    return f"{location}-docker.pkg.dev"


def image_name(location: str, project: str, repository: str, image: str) -> str:
    """``us-central1-docker.pkg.dev/<project>/flash-cache-repo/loader`` (no tag)."""
    return f"{registry_host(location)}/{project}/{repository}/{image}"


def pinned(tag_ref: str, digest: str) -> str:
    """``NAME:TAG@sha256:...``: the job runs exactly the pushed build, and a new build changes it."""
    if not digest.startswith("sha256:"):
        raise ValueError(f"not an image digest: {digest!r}")
    return f"{tag_ref}@{digest}"


def cleanup_policies(cfg: ImagesConfig) -> list[RepositoryCleanupPolicyArgsDict]:
    """Keep the newest versions; delete untagged ones (builds a newer push replaced) once old.
    Keep wins over delete in Artifact Registry, and each stack's tag always points at what it runs."""
    return [
        {
            "id": "keep-recent",
            "action": "KEEP",
            "most_recent_versions": {"keep_count": cfg.keep_recent_versions},
        },
        {
            "id": "delete-old-untagged",
            "action": "DELETE",
            "condition": {
                "tag_state": "UNTAGGED",
                "older_than": f"{cfg.delete_untagged_after_days * DAY_SECONDS}s",
            },
        },
    ]
