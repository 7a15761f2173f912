"""Stream one day's raw records into Vertex batch input parts, quarantining what is not a record.

Memory stays bounded whatever the volume: objects are read in chunks, each line is parsed, rendered and
written at once, and writes are resumable uploads of bounded chunks. The only per-record state is the
set of keys of the current part (at most 200,000), used to drop duplicates within a job.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, cast

from google.cloud import storage

from app.batch_job.gcs import BackgroundWriter, GcsPath, LazyWriter, iter_object_lines, open_for_write
from app.batch_job.layout import DayLayout
from app.batch_job.parts import PartInfo, PartSplitter, index_line
from app.batch_job.request_lines import KEY_PREFIX, MessageLike, RequestLineBuilder

log = logging.getLogger(__name__)

# The raw text kept in a reject is capped so that one huge bad line cannot blow up the quarantine file;
# the object name and line number still point at the full line.
MAX_REJECT_RAW_CHARS = 64 * 1024


ParseLine = Callable[[bytes], Any]
Render = Callable[[Any], Sequence[MessageLike]]


@dataclass
class BuildResult:
    objects: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 0
    records: int = 0
    rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    lone_surrogates: int = 0
    """Surrogate code points the request lines carry as U+FFFD instead (request_lines.py)."""
    parts: list[PartInfo] = field(default_factory=list)

    def to_manifest(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "records": self.records,
            "requests": sum(p.requests for p in self.parts),
            "duplicates_skipped": self.duplicates,
            "rejected": self.rejected,
            "rejected_by_reason": dict(sorted(self.rejected_by_reason.items())),
            "lone_surrogates_replaced": self.lone_surrogates,
            "objects": self.objects,
            "parts": [{"index": p.index, "requests": p.requests, "bytes": p.bytes} for p in self.parts],
        }


def reject_line(obj: str, line_no: int, reason: str, detail: str, raw: bytes) -> bytes:
    entry: dict[str, Any] = {"object": obj, "line": line_no, "reason": reason, "detail": detail}
    try:
        text = raw.decode("utf-8")
        entry["raw"] = text[:MAX_REJECT_RAW_CHARS]
        entry["truncated"] = len(text) > MAX_REJECT_RAW_CHARS
    except UnicodeDecodeError:
        entry["raw_base64"] = base64.b64encode(raw[:MAX_REJECT_RAW_CHARS]).decode()
        entry["truncated"] = len(raw) > MAX_REJECT_RAW_CHARS
    return json.dumps(entry, separators=(",", ":")).encode() + b"\n"


class DayInputBuilder:
    def __init__(
        self,
        client: storage.Client,
        layout: DayLayout,
        builder: RequestLineBuilder,
        render: Render,
        parse_line: ParseLine,
        invalid_error: type[Exception],
        max_requests: int,
        max_bytes: int,
        open_stream: Callable[[GcsPath], IO[bytes]] | None = None,
    ) -> None:
        self.client = client
        self.layout = layout
        self.builder = builder
        self.render = render
        self.parse_line = parse_line
        self.invalid_error = invalid_error
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.open_stream = open_stream or self._open_gcs

    def _open_gcs(self, path: GcsPath) -> IO[bytes]:
        # BackgroundWriter has the part of IO[bytes] the part writers use (write, close).
        return cast(IO[bytes], BackgroundWriter(open_for_write(self.client, path)))

    def _open_part(self, index: int) -> tuple[IO[bytes], IO[bytes]]:
        return self.open_stream(self.layout.input_part(index)), self.open_stream(
            self.layout.index_part(index)
        )

    def build(self, blobs: Iterable[storage.Blob]) -> BuildResult:
        result = BuildResult()
        surrogates_before = self.builder.lone_surrogates  # the builder serves every day of a run
        splitter = PartSplitter(self._open_part, self.max_requests, self.max_bytes)
        rejects = LazyWriter(self.client, self.layout.rejected)
        try:
            for blob in blobs:
                uri = GcsPath.of(blob).uri
                result.objects.append({"name": uri, "generation": blob.generation, "size": blob.size})
                self._read_object(blob, uri, splitter, rejects, result)
        finally:
            rejects.close()
        result.parts = splitter.close()
        result.duplicates = splitter.duplicates
        result.lone_surrogates = self.builder.lone_surrogates - surrogates_before
        if result.lone_surrogates:
            log.warning(
                "%s: %d lone surrogate(s) in the texts replaced by U+FFFD (lone_surrogates_replaced)",
                self.layout.day,
                result.lone_surrogates,
            )
        return result

    def _read_object(
        self,
        blob: storage.Blob,
        uri: str,
        splitter: PartSplitter,
        rejects: LazyWriter,
        result: BuildResult,
    ) -> None:
        # The loop runs once per record of the day: names are bound locally (this is the hot path the
        # benchmark measures against a bare read-and-parse).
        parse, render, build_line, add = self.parse_line, self.render, self.builder.line, splitter.add
        invalid_error = self.invalid_error
        line_no = lines = records = 0
        try:
            for line_no, raw in enumerate(iter_object_lines(blob), start=1):
                if not raw or raw.isspace():
                    continue
                lines += 1
                try:
                    record = parse(raw)
                except invalid_error as exc:
                    reason = getattr(exc, "reason", "invalid")
                    detail = getattr(exc, "detail", str(exc))
                    rejects.write(reject_line(uri, line_no, reason, detail, raw))
                    result.rejected += 1
                    result.rejected_by_reason[reason] += 1
                    continue
                key = KEY_PREFIX + record.id
                if add(build_line(key, render(record)), key, index_line(key, record.id, record.source)):
                    records += 1
        except (OSError, EOFError, zlib.error) as exc:
            # A truncated or corrupt object: what was read stays judged, the rest is reported once.
            log.error("reading %s stopped after line %d: %s", uri, line_no, exc)
            rejects.write(reject_line(uri, line_no + 1, "unreadable_object", str(exc), b""))
            result.rejected += 1
            result.rejected_by_reason["unreadable_object"] += 1
        finally:
            result.lines += lines
            result.records += records


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
