"""The day's report, written beside the day's results: ``reports/<date>/index.html`` and ``report.json``.

Used by ``python -m app.batch_job report`` and by ``collect`` after it collects, on a bucket, and on a
local directory with the same layout; ``write_file_report`` is the form for loose files (the output of
``python -m app.judge run``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.report.build import LineSource, ReportRequest, build_report
from app.report.page import render_page
from app.report.people import PeopleSettings, flagged_rate_drift, history_points, load_labels, people_trend
from app.report.store import (
    LocalStore,
    ReportStore,
    labelling_config_path,
    report_dir,
    results_path,
    review_tasks_path,
    summary_path,
)
from app.report.trend import load_history

if TYPE_CHECKING:
    from app.judge.prompt_file import PromptFile

__all__ = ["DEFAULT_DAYS", "MAX_DAYS", "NoResults", "WrittenReport", "write_day_report", "write_file_report"]

DEFAULT_DAYS = 14
MAX_DAYS = 366
# Copied from collect's summary.json into the report: what happened before judging, and who judged.
_META_KEYS = (
    "backend",
    "model",
    "prompt",
    "rejected_raw_lines",
    "unparseable_prediction_lines",
    "orphan_predictions",
    "duplicate_predictions",
    # Answers cut at the output cap, and the share of their output tokens spent thinking (collect).
    "truncated",
)


class NoResults(LookupError):
    """The day has no results file to report on."""


@dataclass(frozen=True)
class ReviewRequest:
    """Write the day's review sample beside the report: ``review/<date>/tasks.json`` and the prompt's
    labelling config ``review/labelling-config/<stem>.xml`` (app.review)."""

    prompt: PromptFile
    prompt_stem: str
    per_stratum: int = 50
    random_slice: int = 50


@dataclass(frozen=True)
class WrittenReport:
    page: str
    data: str
    report: dict[str, Any]


def judge_name(summary: dict[str, Any], fallback: str) -> str:
    backend = summary.get("backend")
    model = summary.get("model")
    if backend and model:
        return f"{backend}: {str(model).rsplit('/', 1)[-1]}"
    return str(backend or model or fallback)


def _write(store: ReportStore, directory: str, report: dict[str, Any]) -> WrittenReport:
    page = f"{directory}/index.html" if directory else "index.html"
    data = f"{directory}/report.json" if directory else "report.json"
    # report.json first: a page never links to numbers that are not there yet (and the trend of later
    # days reads report.json).
    store.write(data, json.dumps(report, indent=1, ensure_ascii=False).encode() + b"\n", "application/json")
    store.write(page, render_page(report).encode(), "text/html; charset=utf-8")
    return WrittenReport(store.describe(page), store.describe(data), report)


def write_day_report(
    store: ReportStore,
    day: dt.date,
    *,
    days: int = DEFAULT_DAYS,
    compare: ReportStore | None = None,
    records: LineSource | None = None,
    title: str = "LLM judge report",
    now: Callable[[], dt.datetime] | None = None,
    people: PeopleSettings | None = None,
    review: ReviewRequest | None = None,
) -> WrittenReport:
    """Report on ``judgements/<day>/`` of ``store``; with ``compare``, the same day of a second judge's
    root (e.g. the vLLM run's ``--output``) is joined in as the agreement section when it exists. With
    ``people``, the day's labels (``labels/<day>/``) and the last 30 days' agreement with people are
    added; with ``review``, the day's review sample is written (``review/<day>/``)."""
    results = results_path(day)
    if not store.exists(results):
        raise NoResults(f"{store.describe(results)} does not exist: collect the day first")
    summary = store.read_json(summary_path(day))
    summary = summary if isinstance(summary, dict) else {}
    request = ReportRequest(
        title=f"{title} · {day.isoformat()}",
        day=day,
        results=LineSource(store.describe(results), lambda: store.lines(results)),
        records=records,
        history=lambda point: load_history(store, day, days, lambda: point),
        meta={key: summary[key] for key in _META_KEYS if key in summary},
        judges=(judge_name(summary, "judge"), "second judge"),
    )
    if compare is not None and compare.exists(results):
        other = compare.read_json(summary_path(day))
        request.compare = LineSource(compare.describe(results), lambda: compare.lines(results))
        request.judges = (
            judge_name(summary, "A"),
            judge_name(other if isinstance(other, dict) else {}, "B"),
        )
    if people is not None:
        request.labels, _ = load_labels(store, day)
        request.people = people
    sampler = None
    if review is not None:
        from app.review.labelstudio import controls
        from app.review.sample import ReviewSampler, ReviewSettings

        sampler = ReviewSampler(
            day.isoformat(), ReviewSettings(review.per_stratum, review.random_slice), controls(review.prompt)
        )
        request.review = sampler
    report = build_report(request, now)
    points = history_points(lambda n: load_history(store, day, n, lambda: report["point"]), report["trend"])
    report["drift"] = {"flagged_rate": flagged_rate_drift(points)}
    if report["people"] is not None and people is not None:
        report["people"]["trend"] = people_trend(store, day, report["people"], people)
        report["drift"]["people_kappa"] = report["people"]["trend"]["window"].get("judge")
    written = _write(store, report_dir(day), report)
    if review is not None and sampler is not None and records is not None:
        _write_review(store, day, review, sampler.built)
    return written


def _write_review(
    store: ReportStore, day: dt.date, review: ReviewRequest, tasks: list[dict[str, Any]]
) -> None:
    from app.review.labelstudio import labelling_config

    store.write(
        labelling_config_path(review.prompt_stem),
        labelling_config(review.prompt).encode(),
        "application/xml",
    )
    body = json.dumps(tasks, indent=1, ensure_ascii=False).encode() + b"\n"
    store.write(review_tasks_path(day), body, "application/json")


def _file_lines(path: Path) -> LineSource:
    def lines() -> Any:
        with path.open("rb") as fh:
            for line in fh:
                yield line.rstrip(b"\r\n")

    return LineSource(str(path), lines)


def write_file_report(
    results: Path,
    out: Path,
    *,
    compare: Path | None = None,
    records: Path | None = None,
    day: dt.date | None = None,
    title: str = "LLM judge report",
    now: Callable[[], dt.datetime] | None = None,
) -> WrittenReport:
    """Report on loose files: ``results`` (either line format), optionally a second judge's results of
    the same records and the records themselves (``{"id", "prompt", "response"}`` lines); written to
    ``out/index.html`` and ``out/report.json``."""
    request = ReportRequest(
        title=f"{title} · {results.name}" if day is None else f"{title} · {day.isoformat()}",
        day=day,
        results=_file_lines(results),
        records=_file_lines(records) if records else None,
        compare=_file_lines(compare) if compare else None,
        judges=(str(results), str(compare) if compare else "B"),
    )
    return _write(LocalStore(out), "", build_report(request, now))
