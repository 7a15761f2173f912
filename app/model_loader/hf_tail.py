"""Hash the hub's files while huggingface_hub writes them, so that verification costs no second read.

huggingface_hub 2.4 writes every file of a ``snapshot_download(local_dir=...)`` into a temporary file
``<local_dir>/.cache/huggingface/download/<dir of path>/<short hash>.<etag>.<8 hex>.incomplete``
(``_download_to_tmp_and_move`` in file_download.py; ``<short hash>`` is the url-safe base64 of the sha1 of
``<file name>.metadata``, ``_local_folder.py``), appends to it strictly in order (``http_get`` writes the
body as it comes; hf-xet's file reconstruction uses an in-order writer), then renames it to
``<local_dir>/<path>`` or unlinks it on failure. ``IncompleteTail`` opens each such file as it appears,
hashes the bytes already written (they are in the page cache), and when the temporary name is gone and
``<local_dir>/<path>`` is the same inode, reads to the end, fsyncs it and records the digest.

Nothing here decides whether a file is good: the store compares the digests with the hub's and hashes
from disk any file the tail missed (a name this code does not recognise after a library upgrade, a file
too small to be seen between two polls, a file resumed from an earlier run). A restarted transfer that
truncates the file (a resume the server answered with 200) is seen as a shrinking size and hashed again
from the start.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from app.model_loader.digests import DigestBook, StreamedDigest
from app.model_loader.hashing import RunningDigest
from app.model_loader.remote import RemoteFile

log = logging.getLogger("model_loader.hub")

DOWNLOAD_DIR = (".cache", "huggingface", "download")
_READ = 4 * 1024 * 1024
WRITE_BACK_BYTES = 64 * 1024 * 1024


def short_hash(name: str) -> str:
    """huggingface_hub's ``_short_hash`` of a metadata file name (``_local_folder.py``)."""
    return base64.urlsafe_b64encode(hashlib.sha1(name.encode(), usedforsecurity=False).digest()).decode()


@dataclass
class _Tail:
    remote: RemoteFile
    temp: Path
    fd: int
    device: int
    inode: int
    running: RunningDigest = field(init=False)
    synced: int = 0
    """Bytes already handed to an early write-back (``IncompleteTail._write_back``)."""
    write_back: Future[None] | None = None

    def __post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.running = RunningDigest(expected_size=self.remote.size, git_sha1=self.remote.sha256 is None)

    def catch_up(self) -> None:
        """Hash what has been written since the last call (from the start if the file shrank)."""
        size = os.fstat(self.fd).st_size
        if size < self.running.size:
            self.restart()
        while self.running.size < size:
            block = os.pread(self.fd, min(_READ, size - self.running.size), self.running.size)
            if not block:
                break
            self.running.update(block)


class IncompleteTail:
    """A thread polling the temporary files of one ``snapshot_download`` (a context manager)."""

    def __init__(
        self, dest: Path, files: tuple[RemoteFile, ...], book: DigestBook, poll: float = 0.02
    ) -> None:
        self.dest = Path(dest)
        self.root = self.dest.joinpath(*DOWNLOAD_DIR)
        self.book = book
        self.poll = poll
        # (directory relative to the download dir, short hash) -> the file huggingface_hub writes there.
        self._expected: dict[tuple[str, str], RemoteFile] = {}
        for remote in files:
            pure = PurePosixPath(remote.path)
            self._expected[(pure.parent.as_posix(), short_hash(f"{pure.name}.metadata"))] = remote
        self._tails: dict[Path, _Tail] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="download-tail", daemon=True)
        # fsync waits for the disk, not the CPU: done beside the hashing, one file after another.
        self._sync = ThreadPoolExecutor(max_workers=1, thread_name_prefix="download-fsync")
        self._pending: list[Future[None]] = []

    def __enter__(self) -> IncompleteTail:
        self._thread.start()
        return self

    def __exit__(self, exc_type: object, exc: object, _tb: object) -> None:
        self._stop.set()
        self._thread.join()
        try:
            if exc is None:
                self._safe_pass()  # every file is renamed by now: read each to its end
        finally:
            for future in self._pending:
                with contextlib.suppress(Exception):
                    future.result()
            self._sync.shutdown(wait=True)
            for tail in self._tails.values():
                os.close(tail.fd)
            self._tails.clear()

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            if not self._safe_pass():
                return

    def _safe_pass(self) -> bool:
        try:
            self._pass()
        except Exception:  # the tail is an optimisation: the store hashes whatever it missed
            log.debug("the download tail failed; files will be hashed after the download", exc_info=True)
            return False
        return True

    def _pass(self) -> None:
        self._discover()
        for temp, tail in list(self._tails.items()):
            tail.catch_up()
            self._write_back(tail)
            if not temp.exists():
                self._finish(tail)
                del self._tails[temp]

    def _discover(self) -> None:
        if not self.root.is_dir():
            return
        for dirpath, _dirs, names in os.walk(self.root):
            relative = Path(dirpath).relative_to(self.root).as_posix()
            for name in names:
                if not name.endswith(".incomplete"):
                    continue
                temp = Path(dirpath) / name
                remote = self._expected.get((relative, name.split(".", 1)[0]))
                if remote is None or temp in self._tails:
                    continue
                try:
                    fd = os.open(temp, os.O_RDONLY)
                except FileNotFoundError:
                    continue
                stat = os.fstat(fd)
                self._tails[temp] = _Tail(remote, temp, fd, stat.st_dev, stat.st_ino)

    def _write_back(self, tail: _Tail) -> None:
        """Start writing what has arrived to disk while the rest is still on the wire, every
        ``WRITE_BACK_BYTES``, so that the fsync that makes the file durable at its end waits only for the
        last of it (the kernel's own writeback would start only once gigabytes are dirty)."""
        if tail.running.size - tail.synced < WRITE_BACK_BYTES or tail.write_back is not None:
            return
        tail.synced = tail.running.size
        fd = os.dup(tail.fd)

        def flush() -> None:
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)

        tail.write_back = self._sync.submit(flush)
        tail.write_back.add_done_callback(lambda _f: setattr(tail, "write_back", None))

    def _finish(self, tail: _Tail) -> None:
        """The temporary name is gone: renamed into place (success) or unlinked (a failed transfer)."""
        final = self.dest / tail.remote.path
        try:
            stat = final.stat()
        except OSError:
            return
        if (stat.st_dev, stat.st_ino) != (tail.device, tail.inode):
            return
        tail.catch_up()
        digest = tail.running.result()
        if digest.size != tail.remote.size:
            return
        fd = os.dup(tail.fd)

        def sync() -> None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self.book.add(tail.remote.path, StreamedDigest.of(digest, stat, synced=True))

        self._pending.append(self._sync.submit(sync))
