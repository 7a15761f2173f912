"""Streaming file hashes as the Hub states them: sha256 of the content for LFS files, and git's blob
sha1 (`sha1("blob <size>\\0" + content)`) for regular files. ``RunningDigest`` takes the bytes in order
as they arrive (a download being written), ``digest_file`` reads a file that is already complete."""

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


class RunningDigest:
    """sha256 of bytes fed in order, and the git blob sha1 when asked for: git's header holds the size,
    so that hash needs the size the file is expected to have; a different final size is reported as an
    empty git sha1 (never equal to a real one)."""

    def __init__(self, *, expected_size: int | None = None, git_sha1: bool = False) -> None:
        if git_sha1 and expected_size is None:
            raise ValueError("the git blob sha1 needs the expected size")
        self.expected_size = expected_size
        self.size = 0
        self._sha256 = hashlib.sha256()
        self._git = hashlib.sha1(b"blob %d\0" % expected_size, usedforsecurity=False) if git_sha1 else None

    def update(self, data: bytes | memoryview) -> None:
        # hashlib releases the GIL on large blocks, so several files hash in parallel threads.
        self._sha256.update(data)
        if self._git is not None:
            self._git.update(data)
        self.size += len(data)

    def result(self) -> FileDigest:
        git = None
        if self._git is not None:
            git = self._git.hexdigest() if self.size == self.expected_size else ""
        return FileDigest(size=self.size, sha256=self._sha256.hexdigest(), git_sha1=git)


def digest_file(path: Path, *, git_sha1: bool = True) -> FileDigest:
    """One read of the file for both hashes. The git sha1 is skipped where the sha256 is known (LFS
    files), which doubles the hashing speed of the large weight files."""
    size = Path(path).stat().st_size
    running = RunningDigest(expected_size=size, git_sha1=git_sha1)
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            running.update(block)
    # A file that changed while it was read has a wrong git header: reported as what was read.
    return running.result()
