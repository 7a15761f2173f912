"""Split one day's request lines into input files (and so jobs) within Vertex's limits.

A Vertex Gemini batch job takes one input file of at most 1 GB and at most 200,000 requests. Lines go to
the current part until the next line would break either limit; then the part is closed and the next one
opened. Each part gets an index file beside it (key -> record id, source) that collect reads part by
part, so joining predictions never needs the whole day in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as quote
from typing import IO

MAX_REQUESTS_PER_JOB = 200_000
MAX_BYTES_PER_FILE = 1_000_000_000


def index_line(key: str, record_id: str, source: str) -> bytes:
    return f'{{"key":{quote(key)},"id":{quote(record_id)},"source":{quote(source)}}}\n'.encode()


@dataclass(frozen=True)
class IndexEntry:
    key: str
    id: str
    source: str

    def to_line(self) -> bytes:
        return index_line(self.key, self.id, self.source)

    @classmethod
    def from_line(cls, line: bytes | str) -> IndexEntry:
        data = json.loads(line)
        return cls(key=data["key"], id=data["id"], source=data["source"])


@dataclass(frozen=True)
class PartInfo:
    index: int
    requests: int
    bytes: int


OpenPart = Callable[[int], tuple[IO[bytes], IO[bytes]]]


class PartSplitter:
    """Writes request lines and index lines to parts opened by `open_part(index)` -> (input, index)."""

    def __init__(
        self,
        open_part: OpenPart,
        max_requests: int = MAX_REQUESTS_PER_JOB,
        max_bytes: int = MAX_BYTES_PER_FILE,
    ) -> None:
        if max_requests < 1 or max_bytes < 1:
            raise ValueError("max_requests and max_bytes must be positive")
        self._open_part = open_part
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.parts: list[PartInfo] = []
        self.duplicates = 0
        self._streams: tuple[IO[bytes], IO[bytes]] | None = None
        self._requests = 0
        self._bytes = 0
        self._keys: set[str] = set()

    def add(self, line: bytes, key: str, index: bytes) -> bool:
        """Add one request (and its index line); False, and counted, if the key is already in this part."""
        if self._streams is not None and (
            self._requests >= self.max_requests or self._bytes + len(line) > self.max_bytes
        ):
            self._close_current()
        if key in self._keys:
            # Duplicates within a part would give two predictions for one key; the loader's at-least-once
            # delivery can repeat a record, and judging it twice in one job buys nothing.
            self.duplicates += 1
            return False
        if self._streams is None:
            self._streams = self._open_part(len(self.parts))
        data_stream, index_stream = self._streams
        data_stream.write(line)
        index_stream.write(index)
        self._keys.add(key)
        self._requests += 1
        self._bytes += len(line)
        return True

    def close(self) -> list[PartInfo]:
        if self._streams is not None:
            self._close_current()
        return list(self.parts)

    def _close_current(self) -> None:
        assert self._streams is not None
        for stream in self._streams:
            stream.close()
        self.parts.append(PartInfo(index=len(self.parts), requests=self._requests, bytes=self._bytes))
        self._streams = None
        self._requests = 0
        self._bytes = 0
        self._keys = set()
