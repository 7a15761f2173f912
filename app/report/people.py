"""The report's "Agreement with people" and the two drift signals the alerts read.

* The day: each judge (the day's judge, and the second judge when the report compares two) against the
  labels people gave the day's records (``labels/<date>/labels.jsonl``, python -m app.batch_job
  import-labels), field by field (app.report.calibration). Under ``min_labels`` pairs on the headline
  field the judge's entry says "not enough labels" and carries no kappa, no accuracy: a kappa of twelve
  labels is mostly noise, and a number on a page is read as a fact.
* The trend: the last 30 days, one entry per day from ``labels/<date>/agreement.json`` (written by every
  import, so a day labelled late still shows), and the kappa of the last ``kappa_days`` labelled days
  pooled into one table (the drift alert's number: a week of labels is steadier than one day's).
* The flagged rate: how many standard deviations the day's flagged rate is from the mean of the 14
  days before it (at least 7 of them with data). The deviation used is the larger of the 14 days' own
  standard deviation and the binomial standard error of the day's rate (``sqrt(p(1-p)/n)``): a quiet
  fortnight with identical rates, or a small day, must not turn noise into many sigmas.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.judge.gold import Label
from app.report.calibration import Pair, measure, pool_tables
from app.report.rows import Row, answer_row
from app.report.store import ReportStore, labels_path, people_path

__all__ = [
    "FLAGGED_BASELINE_DAYS",
    "PEOPLE_TREND_DAYS",
    "PeopleSettings",
    "UnreadableLabel",
    "day_people",
    "flagged_rate_drift",
    "load_labels",
    "parse_stored_label",
    "people_trend",
]

PEOPLE_TREND_DAYS = 30
FLAGGED_BASELINE_DAYS = 14
MIN_BASELINE_DAYS = 7
ROLES = ("judge", "second judge")


@dataclass(frozen=True)
class PeopleSettings:
    min_labels: int = 30
    """Fewest labelled pairs (on the headline field) a kappa is shown for."""
    kappa_days: int = 7
    """Labelled days pooled into the drift alert's kappa."""


class UnreadableLabel(ValueError):
    """A line of labels.jsonl that is not a stored label (torn, or edited by hand)."""


def parse_stored_label(raw: bytes) -> tuple[Label, dict[str, Any]]:
    """One line of ``labels/<date>/labels.jsonl``: the label and the line's object as stored;
    ``UnreadableLabel`` saying why not. The report and import-labels read the file with it alike."""
    try:
        data = json.loads(raw)
        return Label(str(data["id"]), str(data["labeller"]), dict(data["labels"])), data
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"no {exc} key" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise UnreadableLabel(" ".join(reason.split())[:200]) from None


def load_labels(store: ReportStore, day: dt.date) -> tuple[list[Label], int]:
    """The day's stored labels, and how many stored lines could not be read (none, unless edited)."""
    rel = labels_path(day)
    if not store.exists(rel):
        return [], 0
    labels: list[Label] = []
    unreadable = 0
    for raw in store.lines(rel):
        if not raw.strip():
            continue
        try:
            labels.append(parse_stored_label(raw)[0])
        except UnreadableLabel:
            unreadable += 1
    return labels, unreadable


def _judge_entry(
    labels: Sequence[Label], answers: Mapping[str, Row], role: str, name: str, min_labels: int, seed: int
) -> dict[str, Any]:
    pairs = [
        Pair(label.id, answer_row(label.id, label.labels), answers[label.id])
        for label in labels
        if label.id in answers
    ]
    measured = measure(pairs, seed=seed)
    head = measured["headline"]
    n = head["n"] if head else 0
    entry: dict[str, Any] = {
        "role": role,
        "name": name,
        "labels": len(labels),
        "not_judged": sum(1 for label in labels if label.id not in answers),
        "n": n,
        "enough": bool(head) and n >= min_labels,
    }
    if head:
        field = measured["fields"][head["field"]]
        entry["table"] = {
            "field": head["field"],
            "kind": field["kind"],
            "values": field["values"],
            "table": field["table"],
        }
    if entry["enough"]:
        field = measured["fields"][head["field"]]
        entry["headline"] = head
        entry["accuracy"] = field["accuracy"]
        entry["fields"] = {
            name: {
                "n": f["n"],
                "accuracy": f["accuracy"],
                "kappa": f["kappa"],
                "kappa_ci": f["kappa_ci"],
                "weighted_kappa": f["weighted_kappa"],
                "weighted_kappa_ci": f["weighted_kappa_ci"],
            }
            for name, f in measured["fields"].items()
        }
        entry["unsafe"] = measured["unsafe"]
    return entry


def day_people(
    day: dt.date,
    labels: Sequence[Label],
    judges: Sequence[tuple[str, Mapping[str, Row]]],
    settings: PeopleSettings,
    *,
    seed: int = 0,
) -> dict[str, Any]:
    """Each judge (name, its answers of the labelled ids) against the day's labels."""
    return {
        "day": day.isoformat(),
        "labels": len(labels),
        "items": len({label.id for label in labels}),
        "labellers": sorted({label.labeller for label in labels}),
        "min_labels": settings.min_labels,
        "judges": [
            _judge_entry(labels, answers, ROLES[min(i, len(ROLES) - 1)], name, settings.min_labels, seed)
            for i, (name, answers) in enumerate(judges)
        ],
    }


def _kappa_of(entry: Mapping[str, Any]) -> float | None:
    head = entry.get("headline")
    return head.get("value") if entry.get("enough") and isinstance(head, Mapping) else None


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _stored_table(table: object) -> Mapping[str, Any] | None:
    """A stored day's agreement table (``field``, ``kind``, ``values`` and a square ``table`` of counts
    over them) when it has the shape ``_judge_entry`` writes, else None."""
    if not isinstance(table, Mapping):
        return None
    values, rows = table.get("values"), table.get("table")
    if (
        not isinstance(table.get("field"), str)
        or not isinstance(table.get("kind"), str)
        or not isinstance(values, list)
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)
        or not isinstance(rows, list)
        or len(rows) != len(values)
        or not all(isinstance(r, list) and len(r) == len(values) and all(map(_count, r)) for r in rows)
    ):
        return None
    return table


def _stored_judge(judge: object) -> Mapping[str, Any] | None:
    """One judge of an earlier day's ``agreement.json``, when it has the shape this version writes (a
    role, a count, a kappa that is a number if any); one of another shape (another version's, a hand
    edit) counts as no labels that day instead of failing today's report on it."""
    if not isinstance(judge, Mapping) or not isinstance(judge.get("role"), str) or not _count(judge.get("n")):
        return None
    head = judge.get("headline")
    kappa = head.get("value") if isinstance(head, Mapping) else None
    accuracy = judge.get("accuracy")
    for value in (kappa, accuracy):
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            return None
    if "table" in judge and _stored_table(judge["table"]) is None:
        return None
    return judge


def people_trend(
    store: ReportStore,
    day: dt.date,
    today: Mapping[str, Any],
    settings: PeopleSettings,
    days: int = PEOPLE_TREND_DAYS,
) -> dict[str, Any]:
    """The last ``days`` days (oldest first: n and kappa per judge role; a day without labels has none),
    and the pooled kappa of each role over its last ``kappa_days`` labelled days."""
    points: list[dict[str, Any]] = []
    tables: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for offset in range(days - 1, -1, -1):
        current = day - dt.timedelta(days=offset)
        entry = today if offset == 0 else store.read_json(people_path(current))
        judges = entry.get("judges") if isinstance(entry, Mapping) else None
        point: dict[str, Any] = {"day": current.isoformat(), "judges": {}}
        for found in judges if isinstance(judges, list) else ():
            judge = found if offset == 0 else _stored_judge(found)
            if not isinstance(judge, Mapping) or not judge.get("n"):
                continue
            point["judges"][judge["role"]] = {
                "name": judge.get("name"),
                "n": judge["n"],
                "kappa": _kappa_of(judge),
                "accuracy": judge.get("accuracy") if judge.get("enough") else None,
            }
            if isinstance(judge.get("table"), Mapping):
                tables.setdefault(judge["role"], []).append((current.isoformat(), judge["table"]))
        points.append(point)
    window: dict[str, Any] = {}
    for role, entries in tables.items():
        recent = entries[-settings.kappa_days :]
        fields = {t["field"] for _, t in recent}
        if len(fields) != 1:
            recent = [(d, t) for d, t in recent if t["field"] == entries[-1][1]["field"]]
        pooled = pool_tables((t for _, t in recent), recent[-1][1]["kind"])
        if pooled is None:
            continue
        enough = pooled["n"] >= settings.min_labels
        window[role] = {
            "days": [d for d, _ in recent],
            "field": recent[-1][1]["field"],
            "measure": pooled["measure"],
            "n": pooled["n"],
            "enough": enough,
            "kappa": pooled["kappa"] if enough else None,
        }
    return {"days": days, "kappa_days": settings.kappa_days, "points": points, "window": window}


def flagged_rate_drift(points: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The last point's flagged rate against the ``FLAGGED_BASELINE_DAYS`` points before it (trend
    points of app.report.trend, oldest first); None without a rate today or enough days before it."""
    if not points:
        return None
    today = points[-1]
    rate = today.get("flagged_rate")
    records, failure = today.get("records"), today.get("failure_rate")
    if rate is None or not records or failure is None:
        return None
    answered = round(records * (1 - failure))
    baseline = [
        p["flagged_rate"]
        for p in points[-1 - FLAGGED_BASELINE_DAYS : -1]
        if p.get("flagged_rate") is not None
    ]
    if len(baseline) < MIN_BASELINE_DAYS or answered <= 0:
        return {"today": rate, "baseline_days": len(baseline), "sigmas": None}
    mean = sum(baseline) / len(baseline)
    sd = math.sqrt(sum((r - mean) ** 2 for r in baseline) / (len(baseline) - 1))
    se = math.sqrt(mean * (1 - mean) / answered)
    sigma = max(sd, se)
    sigmas = abs(rate - mean) / sigma if sigma > 0 else (0.0 if rate == mean else None)
    return {
        "today": rate,
        "mean": mean,
        "sd": sd,
        "standard_error": se,
        "baseline_days": len(baseline),
        "sigmas": sigmas,
    }


def judges_answers(rows: Iterable[Row], wanted: set[str], into: dict[str, Row]) -> Iterable[Row]:
    """Pass ``rows`` through, keeping the first ok answer of each ``wanted`` id in ``into`` (a tap on a
    pass that is made anyway)."""
    for row in rows:
        if row.id in wanted and row.ok and row.id not in into:
            into[row.id] = row
        yield row


def history_points(
    load: Callable[[int], list[dict[str, Any]]], trend: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The trend's points when they reach back far enough for the flagged-rate baseline, else ``load``'s."""
    needed = FLAGGED_BASELINE_DAYS + 1
    return trend if len(trend) >= needed else load(needed)
