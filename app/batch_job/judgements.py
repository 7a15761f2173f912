"""judgements/<date>/results.jsonl and summary.json, the same for the Gemini batch and the vLLM path.

One result line per record:
    {"id": ..., "source": ..., "status": "ok", "flagged": false, "answer": {...}}
    {"id": ..., "source": ..., "status": "failed" | "invalid" | "missing", "reason": ..., "error": ...}
`failed`: the judge gave no answer (Vertex line status, blocked prompt, no candidate, a request the
server refused or never answered); `invalid`: it answered, but not JSON (`invalid_json`), not the
prompt's typed answer (`invalid_answer`) or cut off at the token limit (`truncated`), the reason codes
of app.judge.results; `missing`: no prediction line at all (`no_prediction`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from google.cloud import storage

from app.batch_job.gcs import open_for_write, read_json, write_json
from app.batch_job.layout import DayLayout

STATUSES = ("ok", "failed", "invalid", "missing")


@dataclass(frozen=True)
class Outcome:
    status: str
    answer: dict[str, Any] | None = None
    flagged: bool = False
    reason: str | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r} is not one of {STATUSES}")
        if (self.status == "ok") != (self.answer is not None):
            raise ValueError("an answer goes with status ok, and only with it")


def result_line(record_id: str, source: str, outcome: Outcome) -> dict[str, Any]:
    line: dict[str, Any] = {"id": record_id, "source": source, "status": outcome.status}
    if outcome.status == "ok":
        line["flagged"] = outcome.flagged
        line["answer"] = outcome.answer
    else:
        line["reason"] = outcome.reason
        line["error"] = outcome.error
    return line


def distribution_fields(vertex_schema: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Answer fields worth a distribution: booleans, integers and enums (counts of each value), lists of
    enum values (counts of each member), numbers (min/max/mean). Free text has none."""
    fields: dict[str, str] = {}
    for name, sub in vertex_schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        kind = sub.get("type")
        if kind == "OBJECT":
            fields.update(distribution_fields(sub, f"{path}."))
        elif kind in ("BOOLEAN", "INTEGER") or (kind == "STRING" and "enum" in sub):
            fields[path] = "counts"
        elif kind == "ARRAY" and "enum" in sub.get("items", {}):
            fields[path] = "members"
        elif kind == "NUMBER":
            fields[path] = "numeric"
    return fields


def _lookup(answer: Mapping[str, Any], path: str) -> Any:
    value: Any = answer
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def not_judged_percent(not_judged: int, total: int) -> float:
    """The share of a day's records left without an answer, in percent (two decimals; 0.0 for no records)."""
    return round(100.0 * not_judged / total, 2) if total else 0.0


class SummaryBuilder:
    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        self.counts: Counter[str] = Counter({status: 0 for status in STATUSES})
        self.failures: Counter[str] = Counter()
        self.by_source: dict[str, Counter[str]] = {}
        self.values: dict[str, Counter[str]] = {
            p: Counter() for p, k in self.fields.items() if k in ("counts", "members")
        }
        self._numeric: dict[str, tuple[int, float, float, float]] = {}
        self.flagged: list[str] = []

    def add(self, record_id: str, source: str, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        self.by_source.setdefault(source, Counter())[outcome.status] += 1
        if outcome.status != "ok":
            self.failures[f"{outcome.status}:{outcome.reason}"] += 1
            return
        assert outcome.answer is not None
        if outcome.flagged:
            self.flagged.append(record_id)
        for path, kind in self.fields.items():
            value = _lookup(outcome.answer, path)
            if value is None:
                continue
            if kind == "counts":
                self.values[path][json.dumps(value) if isinstance(value, bool) else str(value)] += 1
            elif kind == "members" and isinstance(value, list):
                self.values[path].update(str(member) for member in value)
            elif isinstance(value, int | float):
                n, lo, hi, total = self._numeric.get(path, (0, float(value), float(value), 0.0))
                self._numeric[path] = (n + 1, min(lo, value), max(hi, value), total + value)

    def to_dict(self) -> dict[str, Any]:
        distributions: dict[str, Any] = {
            path: dict(sorted(counter.items())) for path, counter in self.values.items()
        }
        for path, (n, lo, hi, total) in self._numeric.items():
            distributions[path] = {"count": n, "min": lo, "max": hi, "mean": round(total / n, 6)}
        total = sum(self.counts.values())
        not_judged = total - self.counts["ok"]
        return {
            "records": total,
            "counts": dict(self.counts),
            # Records without an answer, and their share: what the stack's "records not judged" alert reads.
            "not_judged": not_judged,
            "not_judged_percent": not_judged_percent(not_judged, total),
            "failures_by_reason": dict(sorted(self.failures.items())),
            "by_source": {src: dict(c) for src, c in sorted(self.by_source.items())},
            "distributions": distributions,
            "flagged": {"count": len(self.flagged), "ids": sorted(self.flagged)},
        }


class JudgementsWriter:
    """Streams result lines to judgements/<date>/results.jsonl and writes summary.json on close."""

    def __init__(self, client: storage.Client, layout: DayLayout, fields: Mapping[str, str]) -> None:
        self.client = client
        self.layout = layout
        self.summary = SummaryBuilder(fields)
        self._stream: IO[bytes] = open_for_write(client, layout.results)

    def add(self, record_id: str, source: str, outcome: Outcome) -> None:
        self._stream.write(
            json.dumps(result_line(record_id, source, outcome), separators=(",", ":")).encode() + b"\n"
        )
        self.summary.add(record_id, source, outcome)

    def close(self, extra: Mapping[str, Any]) -> dict[str, Any]:
        self._stream.close()
        summary = {
            "day": self.layout.day.isoformat(),
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **extra,
            **self.summary.to_dict(),
        }
        write_json(self.client, self.layout.summary, summary)
        return summary


class BackendMismatch(RuntimeError):
    pass


def check_backend(client: storage.Client, layout: DayLayout, backend: str, force: bool) -> None:
    """Refuse to overwrite one judge's results with the other's unless forced: compare them side by side
    by giving the second run its own output root (--output) instead."""
    existing = read_json(client, layout.summary)
    if existing and existing.get("backend") not in (None, backend) and not force:
        raise BackendMismatch(
            f"{layout.summary.uri} holds results of the {existing['backend']!r} backend; "
            f"write the {backend!r} results under another --output root, or pass --force to replace them"
        )
