"""What the run keeps per partition and in total, and what it reports at the end."""

from __future__ import annotations

import concurrent.futures as cf
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from app.loader.chunk import OpenChunk
from app.loader.storage import PutResult


@dataclass
class PendingChunk:
    """A sealed chunk whose objects are being uploaded. Holds no data: the futures do, until done."""

    first: int
    last: int
    bytes: int
    messages: int
    records: int
    dead_letters: int
    futures: list[cf.Future[PutResult]]

    def done(self) -> bool:
        return all(future.done() for future in self.futures)


@dataclass
class PartitionState:
    partition: int
    end: int  # exclusive: the high watermark seen when the run started
    position: int  # next offset this run expects
    chunk: OpenChunk
    done: bool = False
    pending: deque[PendingChunk] = field(default_factory=deque)


@dataclass
class Stats:
    messages: int = 0
    records: int = 0
    dead_letters: int = 0
    bytes: int = 0
    objects_created: int = 0
    objects_existing: int = 0
    objects_conflicting: int = 0
    chunks: int = 0
    chunks_adopted: int = 0
    commits: int = 0
    peak_buffered_bytes: int = 0  # open chunks + uploads in flight, at their highest
    upload_wait_seconds: float = 0.0  # the consume loop blocked on uploads (memory bound, final drain)
    dead_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Summary:
    outcome: str  # an exits.Outcome
    exit_code: int
    fields: dict[str, Any]
