"""Assemble a report: one streaming pass over the day's results, the history, the second judge, the
excerpts of the listed items; the result is report.json (``build_report``) and the page (``app.report.page``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.report.agreement import AgreementBuilder
from app.report.day import DayAggregate
from app.report.rows import RowReader, pick
from app.report.trend import point_from_aggregate

__all__ = ["SCHEMA_VERSION", "LineSource", "ReportRequest", "build_report"]

SCHEMA_VERSION = 1
EXCERPT_CHARS = 400


@dataclass(frozen=True)
class LineSource:
    """A re-readable sequence of JSONL lines (a local file or an object), with a name for messages."""

    name: str
    open: Callable[[], Iterable[bytes]]


@dataclass
class ReportRequest:
    title: str
    results: LineSource
    day: dt.date | None = None
    # Lines with id, prompt and response (the day's raw records, or an `app.judge run` input file): the
    # excerpts of the listed items come from here.
    records: LineSource | None = None
    # The other judge's results for the same records (the vLLM run of the day, or a second file).
    compare: LineSource | None = None
    judges: tuple[str, str] = ("A", "B")
    # Trend points of the earlier days, given this day's point (app.report.trend.load_history).
    history: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    shown: int = 25
    disagreements: int = 20


def build_report(request: ReportRequest, now: Callable[[], dt.datetime] | None = None) -> dict[str, Any]:
    reader = RowReader(request.results.name)
    aggregate = DayAggregate(request.shown)
    builder = AgreementBuilder(request.judges, request.disagreements) if request.compare else None
    # One pass over the day's results feeds both the aggregate and judge A's side of the agreement.
    for row in reader.rows(request.results.open()):
        aggregate.add(row)
        if builder is not None:
            builder.add_a(row)
    numbers = aggregate.to_dict()
    point = point_from_aggregate(request.day, aggregate) if request.day else None
    agreement = None
    compare_reader = None
    if builder is not None and request.compare is not None:
        compare_reader = RowReader(request.compare.name)
        builder.add_b_rows(compare_reader.rows(request.compare.open()))
        agreement = builder.finish(request.results.open()).to_dict()
    listed = [*numbers["flagged"], *numbers["lowest"]]
    if agreement:
        listed += agreement["disagreements"]
    if request.records is not None and listed:
        _attach_excerpts(request.records, listed)
    clock = now or (lambda: dt.datetime.now(dt.UTC))
    return {
        "schema_version": SCHEMA_VERSION,
        "title": request.title,
        "day": request.day.isoformat() if request.day else None,
        "generated_at": clock().isoformat(timespec="seconds"),
        "inputs": {
            "results": request.results.name,
            "records": request.records.name if request.records else None,
            "compare": request.compare.name if request.compare else None,
        },
        "meta": request.meta,
        "unreadable_lines": {
            "results": {"count": reader.unreadable, "examples": reader.examples},
            "compare": None
            if compare_reader is None
            else {"count": compare_reader.unreadable, "examples": compare_reader.examples},
        },
        **numbers,
        "point": point,
        "trend": request.history(point) if request.history and point else ([point] if point else []),
        "agreement": agreement,
    }


def _excerpt(text: Any) -> str:
    text = text if isinstance(text, str) else ""
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _attach_excerpts(records: LineSource, listed: list[dict[str, Any]]) -> None:
    """One pre-filtered pass over the record lines for the prompt and response of the listed ids."""
    wanted: dict[str, list[dict[str, Any]]] = {}
    for item in listed:
        wanted.setdefault(str(item["id"]), []).append(item)
    for record in pick(records.open(), set(wanted)):
        items = wanted.pop(str(record.get("id")), None)
        if items is None:
            continue  # a record delivered twice: its first copy is shown
        excerpt = {"prompt": _excerpt(record.get("prompt")), "response": _excerpt(record.get("response"))}
        for item in items:
            item["excerpt"] = excerpt
        if not wanted:
            break
