"""What the loader needs from a hub, as plain data and a protocol (no huggingface_hub import here, so
the read-only commands `wait`, `list`, `verify` start fast and never touch the library)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    lfs_sha256: str | None  # LFS (incl. Xet-backed) files: sha256 of the content
    git_sha1: str | None  # regular files: git blob id of the content

    @property
    def is_lfs(self) -> bool:
        return self.lfs_sha256 is not None


@dataclass(frozen=True)
class RemoteSnapshot:
    repo_id: str
    revision: str  # as requested: branch, tag or commit
    commit: str  # what it resolved to
    files: tuple[RemoteFile, ...]

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


class Hub(Protocol):
    endpoint: str

    def resolve(self, repo_id: str, revision: str) -> RemoteSnapshot: ...

    def fetch(self, snapshot: RemoteSnapshot, dest: Path, *, cache_dir: Path) -> None: ...
