"""What the loader needs from a hub, as plain data and a protocol (no huggingface_hub import here, so
the read-only commands `wait`, `list`, `verify` start fast and never touch the library)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.model_loader.digests import DigestBook


@dataclass(frozen=True)
class RemoteFile:
    """One file of a revision as a source states it. A file is checked against its content sha256 when
    the source knows it (the hub's LFS and Xet-backed files, every file of an S3 mirror), else against
    its git blob id (the hub's regular files)."""

    path: str
    size: int
    sha256: str | None
    git_sha1: str | None  # the git blob id of the content (regular files on the hub)
    lfs: bool  # stored in LFS/Xet on the hub (recorded in the manifest as it was)

    def __post_init__(self) -> None:
        if self.sha256 is None and self.git_sha1 is None:
            raise ValueError(f"{self.path}: a remote file needs a sha256 or a git blob id to be verified")


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
    @property
    def endpoint(self) -> str:
        """Where the files come from (recorded in the manifest)."""
        ...

    def resolve(self, repo_id: str, revision: str) -> RemoteSnapshot: ...

    def fetch(self, snapshot: RemoteSnapshot, dest: Path, *, cache_dir: Path, digests: DigestBook) -> None:
        """Put every file of the snapshot at ``dest/<path>``; a file hashed while it arrived goes into
        ``digests`` (the store then does not read it again)."""
        ...
