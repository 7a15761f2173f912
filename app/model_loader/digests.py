"""Digests a source computed while the files arrived, handed to the store's verification so that a
file is not read a second time after the download (the hub's path tails huggingface_hub's temporary
files, the S3 path hashes what it writes).

A digest counts only for the very file it was computed on: the store compares the file's device,
inode and size with the ones recorded here before it uses the digest, and hashes the file again when
anything differs (a file resumed from an earlier run, replaced, or missed by the tail).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from app.model_loader.hashing import FileDigest


@dataclass(frozen=True)
class StreamedDigest:
    digest: FileDigest
    device: int
    inode: int
    synced: bool  # fsynced after the last byte was hashed

    @classmethod
    def of(cls, digest: FileDigest, stat: os.stat_result, *, synced: bool) -> StreamedDigest:
        return cls(digest, stat.st_dev, stat.st_ino, synced)


class DigestBook:
    """Thread-safe: sources add digests from their worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: dict[str, StreamedDigest] = {}

    def add(self, path: str, streamed: StreamedDigest) -> None:
        with self._lock:
            self._by_path[path] = streamed

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_path)

    def for_file(self, path: str, file: Path) -> StreamedDigest | None:
        """The digest of ``path`` if ``file`` is still the file it was computed on, else None."""
        with self._lock:
            streamed = self._by_path.get(path)
        if streamed is None:
            return None
        try:
            stat = file.stat()
        except OSError:
            return None
        recorded = (streamed.device, streamed.inode, streamed.digest.size)
        if (stat.st_dev, stat.st_ino, stat.st_size) != recorded:
            return None
        return streamed
