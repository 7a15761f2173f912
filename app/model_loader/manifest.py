"""The completion marker: a manifest written into a revision tree after every file was verified.

A tree counts as present only if its marker parses, names the repo and commit the tree is stored under,
and every listed file exists with the listed size (`verify --deep` also re-hashes). The marker is written
to the temporary tree before the atomic rename, so a tree under `.store/` never exists without it.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.model_loader import layout
from app.model_loader.errors import ModelInvalidError

SCHEMA_VERSION = 1


def check_repo_path(path: str) -> str:
    """A repo file path must stay inside the tree: relative, posix, no '..', not our marker dir."""
    pure = PurePosixPath(path)
    if (
        not path
        or "\\" in path
        or pure.is_absolute()
        or any(part in ("", ".", "..") for part in path.split("/"))
        or pure.parts[0] == layout.MARKER_DIRNAME
    ):
        raise ValueError(f"unsafe repo file path {path!r}")
    return path


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    size: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    # The git blob id the Hub lists for a regular file; None for LFS files (their blob is the pointer).
    git_sha1: str | None = Field(default=None, pattern=r"^[0-9a-f]{40}$")
    lfs: bool

    _check_path = field_validator("path")(check_repo_path)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    repo_id: str
    revision: str
    commit: str
    files: list[ManifestFile]
    total_size: int = Field(ge=0)
    completed_at: datetime
    loader_version: str
    endpoint: str

    @field_validator("repo_id")
    @classmethod
    def _repo(cls, value: str) -> str:
        return layout.validate_repo_id(value)

    @field_validator("commit")
    @classmethod
    def _commit(cls, value: str) -> str:
        return layout.validate_commit(value)

    @property
    def short_commit(self) -> str:
        return self.commit[:12]


def read_manifest(tree: Path) -> Manifest:
    """Parse a tree's marker; ModelInvalidError (naming the problem) when absent or malformed."""
    marker = layout.marker_path(tree)
    try:
        raw = marker.read_bytes()
    except FileNotFoundError:
        raise ModelInvalidError(f"{tree}: no completion marker ({layout.MARKER_RELPATH})") from None
    except OSError as exc:
        raise ModelInvalidError(f"{tree}: cannot read the completion marker: {exc}") from None
    try:
        return Manifest.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise ModelInvalidError(f"{tree}: invalid completion marker: {where}: {first['msg']}") from None


def write_json_atomic(path: Path, payload: object) -> None:
    """Write JSON via a temp file + fsync + rename, so readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_manifest(tree: Path, manifest: Manifest) -> None:
    write_json_atomic(layout.marker_path(tree), manifest.model_dump(mode="json"))


def fsync_dir(path: Path) -> None:
    """Make a rename or create in `path` durable (the directory entry itself)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
