"""Assemble a report: one streaming pass over the day's results, the history, the second judge, the
excerpts of the listed items; the result is report.json (``build_report``) and the page (``app.report.page``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.report.agreement import AgreementBuilder
from app.report.day import DayAggregate
from app.report.people import PeopleSettings, day_people, judges_answers
from app.report.rows import Row, RowReader, pick
from app.report.trend import point_from_aggregate

if TYPE_CHECKING:
    from app.judge.gold import Label
    from app.review.sample import ReviewSampler

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
    # The day's review sample, chosen in the same pass (its tasks are on the sampler afterwards).
    review: ReviewSampler | None = None
    # People's labels of the day's records: each judge's agreement with them ("people" in report.json).
    labels: list[Label] | None = None
    people: PeopleSettings = field(default_factory=PeopleSettings)


def build_report(request: ReportRequest, now: Callable[[], dt.datetime] | None = None) -> dict[str, Any]:
    reader = RowReader(request.results.name)
    aggregate = DayAggregate(request.shown)
    sampler = request.review
    # The sample takes the largest disagreements the page lists, and more.
    top = max(request.disagreements, sampler.settings.per_stratum if sampler else 0)
    builder = AgreementBuilder(request.judges, top) if request.compare else None
    labelled = {label.id for label in request.labels or ()}
    answers: tuple[dict[str, Row], dict[str, Row]] = ({}, {})
    rows: Iterable[Row] = reader.rows(request.results.open())
    if labelled:
        rows = judges_answers(rows, labelled, answers[0])
    # One pass over the day's results feeds the aggregate, judge A's side of the agreement, the review
    # sample and the answers people labelled.
    for row in rows:
        aggregate.add(row)
        if builder is not None:
            builder.add_a(row)
        if sampler is not None:
            sampler.add(row)
    numbers = aggregate.to_dict()
    point = point_from_aggregate(request.day, aggregate) if request.day else None
    agreement = None
    compare_reader = None
    disagreements: list[dict[str, Any]] = []
    if builder is not None and request.compare is not None:
        compare_reader = RowReader(request.compare.name)
        compare_rows: Iterable[Row] = compare_reader.rows(request.compare.open())
        # Judge B's answers the people section and the review sample need, kept during B's one pass.
        wanted_b = labelled | (sampler.candidates() if sampler is not None else set())
        if wanted_b:
            compare_rows = judges_answers(compare_rows, wanted_b, answers[1])
        builder.add_b_rows(compare_rows)
        agreement = builder.finish(request.results.open()).to_dict()
        disagreements = agreement["disagreements"]
        agreement["disagreements"] = disagreements[: request.disagreements]
    if sampler is not None:
        sampler.choose(disagreements)
        sampler.take_second_judge(answers[1])
    listed = [*numbers["flagged"], *numbers["lowest"]]
    if agreement:
        listed += agreement["disagreements"]
    texts: dict[str, dict[str, Any]] = {}
    wanted = sampler.ids() if sampler is not None else set()
    if request.records is not None and (listed or wanted):
        texts = _attach_excerpts(request.records, listed, wanted)
    review = None
    if sampler is not None:
        tasks = sampler.tasks(texts, request.judges) if request.records is not None else []
        review = {
            "tasks": len(tasks),
            "without_text": sampler.without_text if request.records is not None else len(wanted),
            "strata": {
                s: sum(s in t["data"]["strata"] for t in tasks) for s in ("flagged", "disagreement", "random")
            },
            "records_read": request.records is not None,
        }
        sampler.built = tasks
    people = None
    if request.labels is not None and request.day is not None:
        judged = [(request.judges[0], answers[0])]
        if request.compare is not None:
            judged.append((request.judges[1], answers[1]))
        people = day_people(request.day, request.labels, judged, request.people)
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
        "people": people,
        "review": review,
    }


def _excerpt(text: Any) -> str:
    text = text if isinstance(text, str) else ""
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "…"


def _attach_excerpts(
    records: LineSource, listed: list[dict[str, Any]], full: set[str]
) -> dict[str, dict[str, Any]]:
    """One pre-filtered pass over the record lines for the prompt and response of the listed ids (an
    excerpt each) and of the ``full`` ids (the whole record, returned by id)."""
    wanted: dict[str, list[dict[str, Any]]] = {}
    for item in listed:
        wanted.setdefault(str(item["id"]), []).append(item)
    whole: dict[str, dict[str, Any]] = {}
    missing = set(full)
    for record in pick(records.open(), set(wanted) | missing):
        record_id = str(record.get("id"))
        if record_id in missing:
            missing.discard(record_id)
            whole[record_id] = record
        items = wanted.pop(record_id, None)
        if items is not None:
            excerpt = {"prompt": _excerpt(record.get("prompt")), "response": _excerpt(record.get("response"))}
            for item in items:
                item["excerpt"] = excerpt
        # A record delivered twice: its first copy is shown.
        if not wanted and not missing:
            break
    return whole
