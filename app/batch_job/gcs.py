"""The few Cloud Storage operations the batch job needs, on google-cloud-storage.

Reads stream in bounded chunks (an object may be gzip-compressed with Content-Encoding, as the loader
writes them: the raw bytes are downloaded and decompressed here, so reading does not depend on
decompressive transcoding), and writes go through resumable uploads of bounded chunks, so memory stays
flat whatever the size of a day.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from google.cloud import storage

READ_CHUNK_BYTES = 8 * 1024 * 1024
# Resumable upload chunks must be multiples of 256 KiB; one buffer of this size per open writer.
WRITE_CHUNK_BYTES = 8 * 1024 * 1024
_WILDCARDS = frozenset("*?[")


@dataclass(frozen=True)
class GcsPath:
    bucket: str
    name: str

    @classmethod
    def parse(cls, uri: str) -> GcsPath:
        if not uri.startswith("gs://"):
            raise ValueError(f"{uri!r} is not a gs:// URI")
        bucket, _, name = uri[len("gs://") :].partition("/")
        if not bucket:
            raise ValueError(f"{uri!r} names no bucket")
        return cls(bucket, name)

    @classmethod
    def of(cls, blob: storage.Blob) -> GcsPath:
        """Where a listed object lives (google-cloud-storage types both names optional; a listed
        object always has them)."""
        if blob.bucket.name is None or blob.name is None:
            raise ValueError(f"not a stored object: {blob!r}")
        return cls(blob.bucket.name, blob.name)

    @property
    def uri(self) -> str:
        return f"gs://{self.bucket}/{self.name}"

    def join(self, *parts: str) -> GcsPath:
        name = "/".join(p.strip("/") for p in (self.name, *parts) if p.strip("/"))
        return GcsPath(self.bucket, name)


def has_wildcard(text: str) -> bool:
    return any(ch in _WILDCARDS for ch in text)


def expand_glob(client: storage.Client, pattern: GcsPath) -> list[storage.Blob]:
    """Objects matching `pattern` (`*`, `?`, `[...]` within one path segment), sorted by name.

    Wildcard directory segments are expanded with delimiter listings, so `raw/*/2024-05-01/*.jsonl` lists
    the source folders and then one day's folder of each, never the whole history under raw/.
    """
    segments = pattern.name.split("/")
    prefixes = [""]
    for segment in segments[:-1]:
        if not has_wildcard(segment):
            prefixes = [f"{p}{segment}/" for p in prefixes]
            continue
        expanded: list[str] = []
        for prefix in prefixes:
            iterator = client.list_blobs(pattern.bucket, prefix=prefix, delimiter="/")
            for _page in iterator.pages:
                pass
            for sub in sorted(iterator.prefixes):  # pyright: ignore[reportAttributeAccessIssue] list_blobs sets it
                if fnmatch.fnmatchcase(sub[len(prefix) :].rstrip("/"), segment):
                    expanded.append(sub)
        prefixes = expanded
    last = segments[-1]
    literal = _literal_head(last)
    blobs: list[storage.Blob] = []
    for prefix in prefixes:
        for blob in client.list_blobs(pattern.bucket, prefix=prefix + literal, delimiter="/"):
            if fnmatch.fnmatchcase(blob.name[len(prefix) :], last):
                blobs.append(blob)
    return sorted(blobs, key=lambda b: b.name or "")


def _literal_head(segment: str) -> str:
    for index, ch in enumerate(segment):
        if ch in _WILDCARDS:
            return segment[:index]
    return segment


def open_for_read(blob: storage.Blob) -> IO[bytes]:
    """A binary stream of an object's content, gunzipped when it was stored with Content-Encoding gzip."""
    # blob.open is typed for every mode at once; "rb" returns a BlobReader, a binary stream.
    reader = cast(IO[bytes], blob.open("rb", chunk_size=READ_CHUNK_BYTES, raw_download=True))
    if blob.content_encoding == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=reader, mode="rb"))  # a binary stream too
    return reader


def iter_lines(stream: IO[bytes], chunk_bytes: int = 1024 * 1024) -> Iterator[bytes]:
    """The lines of a stream without their newline, read in fixed chunks (a last unterminated line too)."""
    pending = b""
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        yield from lines
    if pending:
        yield pending


def iter_object_lines(blob: storage.Blob) -> Iterator[bytes]:
    with open_for_read(blob) as stream:
        yield from iter_lines(stream)


def open_for_write(
    client: storage.Client, path: GcsPath, content_type: str = "application/jsonl"
) -> IO[bytes]:
    """A streaming writer (resumable upload): the object appears only when the writer is closed."""
    blob = client.bucket(path.bucket).blob(path.name, chunk_size=WRITE_CHUNK_BYTES)
    # blob.open is typed for every mode at once; "wb" returns a BlobWriter, a binary stream.
    return cast(IO[bytes], blob.open("wb", content_type=content_type, ignore_flush=True))


def write_json(client: storage.Client, path: GcsPath, value: Any) -> None:
    blob = client.bucket(path.bucket).blob(path.name)
    blob.upload_from_string(
        json.dumps(value, indent=2, sort_keys=False) + "\n", content_type="application/json"
    )


def read_json(client: storage.Client, path: GcsPath) -> Any | None:
    blob = client.bucket(path.bucket).blob(path.name)
    if not blob.exists():
        return None
    return json.loads(blob.download_as_bytes())


class BackgroundWriter:
    """Hands writes to a thread that feeds the upload stream, so building the next lines overlaps the
    upload of the previous ones (socket I/O releases the GIL). At most `max_pending` blocks of about
    `block_bytes` wait in the queue: memory stays bounded, and a slow upload slows the producer down."""

    def __init__(self, stream: IO[bytes], block_bytes: int = 1024 * 1024, max_pending: int = 8) -> None:
        self._stream = stream
        self._block_bytes = block_bytes
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="gcs-upload", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            block = self._queue.get()
            if block is None:
                return
            if self._error is None:
                try:
                    self._stream.write(block)
                except BaseException as exc:  # surfaced to the producer on its next call
                    self._error = exc

    def write(self, data: bytes) -> int:
        if self._error is not None:
            raise self._error
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= self._block_bytes:
            self._queue.put(b"".join(self._buffer))
            self._buffer = []
            self._buffered = 0
        return len(data)

    def close(self) -> None:
        if self._buffer:
            self._queue.put(b"".join(self._buffer))
            self._buffer = []
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._stream.close()


class LazyWriter:
    """Opens its object on the first write, so nothing is created for e.g. a day without rejects."""

    def __init__(self, client: storage.Client, path: GcsPath) -> None:
        self.client = client
        self.path = path
        self.count = 0
        self._stream: IO[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._stream is None:
            self._stream = open_for_write(self.client, self.path)
        self._stream.write(data)
        self.count += 1

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
