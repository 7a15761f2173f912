"""The last N days at a glance: volume, failure rate, flagged rate and mean score per criterion.

A day's point comes from the cheapest file that has it: the day's own ``reports/<date>/report.json``
(its ``point``), else collect's ``judgements/<date>/summary.json``, else (a local tree of ``app.judge
run`` outputs, which has neither) one pass over its ``results.jsonl``. A day with none is a gap, shown
as such, never as a zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from app.report.day import DayAggregate
from app.report.rows import RowReader
from app.report.store import ReportStore, report_dir, results_path, summary_path

__all__ = ["load_history", "point_from_aggregate", "point_from_summary"]


def point_from_aggregate(day: dt.date, aggregate: DayAggregate) -> dict[str, Any]:
    totals = aggregate.all.to_dict()
    return {
        "day": day.isoformat(),
        "records": totals["records"],
        "failure_rate": totals["failure_rate"],
        "flagged_rate": totals["flagged_rate"],
        "means": {name: s["mean"] for name, s in totals["scores"].items()},
    }


def point_from_summary(day: dt.date, summary: Mapping[str, Any]) -> dict[str, Any]:
    """A trend point from collect's summary.json (records, counts, flagged, distributions)."""
    records = int(summary.get("records", 0))
    ok = int((summary.get("counts") or {}).get("ok", 0))
    flagged = int((summary.get("flagged") or {}).get("count", 0))
    means: dict[str, float] = {}
    for path, counts in (summary.get("distributions") or {}).items():
        # Integer fields are counted by value ("7": 12); enums by name; numbers have min/max/mean.
        if isinstance(counts, dict) and counts and all(str(k).lstrip("-").isdigit() for k in counts):
            n = sum(counts.values())
            if n:
                means[path.rsplit(".", 1)[-1]] = sum(int(k) * v for k, v in counts.items()) / n
    return {
        "day": day.isoformat(),
        "records": records,
        "failure_rate": None if records == 0 else (records - ok) / records,
        "flagged_rate": None if ok == 0 else flagged / ok,
        "means": dict(sorted(means.items())),
    }


def load_history(
    store: ReportStore, day: dt.date, days: int, today_point: Callable[[], dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One entry per day from ``day - days + 1`` to ``day``; ``{"day": ..., "records": None}`` for a gap."""
    points: list[dict[str, Any]] = []
    for offset in range(days - 1, -1, -1):
        current = day - dt.timedelta(days=offset)
        if offset == 0 and today_point is not None:
            points.append(today_point())
            continue
        points.append(_point(store, current))
    return points


def _number(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _stored_point(report: object, day: dt.date) -> dict[str, Any] | None:
    """A day's own ``report.json`` ``point``, when it has the shape this version writes; one of another
    shape (another version's, a hand-edited file) is as good as none, as a torn file is: the caller falls
    back to the next source instead of failing today's report on it."""
    point = report.get("point") if isinstance(report, dict) else None
    if not isinstance(point, dict):
        return None
    means = point.get("means")
    if (
        point.get("day") != day.isoformat()
        or not all(_number(point.get(key, "")) for key in ("records", "failure_rate", "flagged_rate"))
        or isinstance(point.get("records"), float)
        or not isinstance(means, dict)
        or not all(isinstance(name, str) and _number(value) for name, value in means.items())
    ):
        return None
    return point


def _point(store: ReportStore, day: dt.date) -> dict[str, Any]:
    point = _stored_point(store.read_json(f"{report_dir(day)}/report.json"), day)
    if point is not None:
        return point
    summary = store.read_json(summary_path(day))
    if isinstance(summary, dict):
        return point_from_summary(day, summary)
    if store.exists(results_path(day)):
        reader = RowReader(store.describe(results_path(day)))
        return point_from_aggregate(
            day, DayAggregate(shown=0).add_all(reader.rows(store.lines(results_path(day))))
        )
    return {"day": day.isoformat(), "records": None, "failure_rate": None, "flagged_rate": None, "means": {}}
