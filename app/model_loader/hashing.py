"""Streaming file hashes as the Hub states them: sha256 of the content for LFS files, and git's blob
sha1 (`sha1("blob <size>\\0" + content)`) for regular files."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

_BLOCK = 4 * 1024 * 1024


@dataclass(frozen=True)
class FileDigest:
    size: int
    sha256: str
    git_sha1: str | None


def digest_file(path: Path, *, git_sha1: bool = True) -> FileDigest:
    """One read of the file for both hashes. The git sha1 is skipped for LFS files (the Hub states their
    sha256), which doubles the hashing speed of the large weight files. hashlib releases the GIL on
    large blocks, so several files hash in parallel threads."""
    size = Path(path).stat().st_size
    sha256 = hashlib.sha256()
    git = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False) if git_sha1 else None
    read = 0
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            sha256.update(block)
            if git is not None:
                git.update(block)
            read += len(block)
    if read != size:
        # The file changed while it was read: the git header is wrong, so report what was read instead.
        return FileDigest(size=read, sha256=sha256.hexdigest(), git_sha1="")
    return FileDigest(size=size, sha256=sha256.hexdigest(), git_sha1=git.hexdigest() if git else None)
