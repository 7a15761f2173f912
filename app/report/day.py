"""One day's (or one file's) results, aggregated in a single streaming pass.

Memory does not grow with the number of records: counters per source and per value, and bounded heaps
of the items worth showing (the most severe flagged ones, the lowest scores, a few examples per failure
reason). A million result lines cost the same few MiB as a thousand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from app.report.rows import Row, label_order
from app.report.top import Top

__all__ = ["DayAggregate", "Shown", "severity_key"]

HEADLINE_SCORE = "overall"
FAILURE_EXAMPLES = 3


@dataclass
class Shown:
    """An item listed in the report: why it is listed and what the judge said."""

    id: str
    source: str
    reasoning: str | None
    labels: dict[str, str]
    members: dict[str, list[str]]
    scores: dict[str, int]
    excerpt: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "labels": self.labels,
            "members": self.members,
            "scores": self.scores,
            "reasoning": self.reasoning,
            "excerpt": self.excerpt,
        }


def _shown(row: Row) -> Shown:
    return Shown(row.id, row.source, row.reasoning, dict(row.labels), dict(row.members), dict(row.scores))


# What a row contributes to the counters: (status key, flagged, labels, members, scores) as tuples.
Signature = tuple[
    str,
    bool,
    tuple[tuple[str, str], ...],
    tuple[tuple[str, tuple[str, ...]], ...],
    tuple[tuple[str, int], ...],
]
# Rows are counted by signature first (one dict update per row, not one per field), and the signatures
# are spread into the per-field counters when there are this many distinct ones, or at the end: memory
# stays bounded whatever the number of distinct answers.
FLUSH_SIGNATURES = 100_000


def signature(row: Row) -> Signature:
    if not row.ok:
        return (row.failure_key, False, (), (), ())
    return (
        "ok",
        row.flagged,
        tuple(row.labels.items()),
        tuple((name, tuple(values)) for name, values in row.members.items()),
        tuple(row.scores.items()),
    )


class _Counts:
    """Counters of one scope (the whole day, or one source)."""

    def __init__(self) -> None:
        self.records = 0
        self.status: Counter[str] = Counter()
        self.flagged = 0
        self.labels: dict[str, Counter[str]] = {}
        self.members: dict[str, Counter[str]] = {}
        self.scores: dict[str, Counter[int]] = {}

    def add(self, signature: Signature, n: int) -> None:
        status, flagged, labels, members, scores = signature
        self.records += n
        self.status[status] += n
        if status != "ok":
            return
        self.flagged += n if flagged else 0
        for name, value in labels:
            counter = self.labels.get(name)
            if counter is None:
                counter = self.labels[name] = Counter()
            counter[value] += n
        for name, values in members:
            counter = self.members.get(name)
            if counter is None:
                counter = self.members[name] = Counter()
            for value in values or ("(none)",):
                counter[value] += n
        for name, score in scores:
            score_counter = self.scores.get(name)
            if score_counter is None:
                score_counter = self.scores[name] = Counter()
            score_counter[score] += n

    @property
    def ok(self) -> int:
        return self.status["ok"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "ok": self.ok,
            "not_ok": self.records - self.ok,
            "flagged": self.flagged,
            "failure_rate": _rate(self.records - self.ok, self.records),
            "flagged_rate": _rate(self.flagged, self.ok),
            "status": dict(sorted(self.status.items(), key=lambda kv: (kv[0] != "ok", -kv[1], kv[0]))),
            "labels": {n: _ordered(n, c) for n, c in sorted(self.labels.items())},
            "members": {n: _ordered(n, c) for n, c in sorted(self.members.items())},
            "scores": {n: _score_summary(c) for n, c in sorted(self.scores.items())},
        }


@cache
def _severity_ranks() -> dict[str, int]:
    return {value: rank for rank, value in enumerate(label_order("severity"))}


def severity_key(row: Row) -> tuple[int, int, int]:
    """How severe a flagged answer is, for "most severe first": its severity's rank, then more categories,
    then (six-criteria answers) the lower safety score."""
    rank = _severity_ranks().get(row.labels.get("severity", ""), 0)
    return (rank, len(row.members.get("categories", ())), -row.scores.get("safety", 0))


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


def _ordered(name: str, counter: Counter[str]) -> dict[str, int]:
    return {value: counter[value] for value in label_order(name, counter) if counter[value]}


def _score_summary(counter: Counter[int]) -> dict[str, Any]:
    n = sum(counter.values())
    return {
        "count": n,
        "mean": None if n == 0 else sum(v * c for v, c in counter.items()) / n,
        "counts": {str(v): counter[v] for v in sorted(counter)},
    }


class DayAggregate:
    """Feed it every Row of a day; ``to_dict`` is the numbers of the report (see report.json)."""

    def __init__(self, shown: int = 25) -> None:
        self._all = _Counts()
        self._by_source: dict[str, _Counts] = {}
        self._pending: dict[tuple[str, Signature], int] = {}
        self.flagged_top: Top[Shown] = Top(shown)
        self.lowest_top: Top[Shown] = Top(shown)
        self.failure_examples: dict[str, list[dict[str, str | None]]] = {}

    def _flush(self) -> None:
        for (source, sig), n in self._pending.items():
            self._all.add(sig, n)
            scope = self._by_source.get(source)
            if scope is None:
                scope = self._by_source[source] = _Counts()
            scope.add(sig, n)
        self._pending.clear()

    @property
    def all(self) -> _Counts:
        self._flush()
        return self._all

    @property
    def by_source(self) -> dict[str, _Counts]:
        self._flush()
        return self._by_source

    def add(self, row: Row) -> None:
        key = (row.source, signature(row))
        pending = self._pending
        pending[key] = pending.get(key, 0) + 1
        if len(pending) >= FLUSH_SIGNATURES:
            self._flush()
        if not row.ok:
            examples = self.failure_examples.setdefault(row.failure_key, [])
            if len(examples) < FAILURE_EXAMPLES:
                examples.append({"id": row.id, "source": row.source, "error": row.error})
            return
        if row.flagged:
            self.flagged_top.offer(severity_key(row), row.id, lambda: _shown(row))
        headline = row.scores.get(HEADLINE_SCORE)
        if headline is not None:
            # The lowest overall first: negate, since the heap keeps the largest keys.
            self.lowest_top.offer((-headline, -min(row.scores.values())), row.id, lambda: _shown(row))

    def add_all(self, rows: Iterable[Row]) -> DayAggregate:
        for row in rows:
            self.add(row)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "totals": self.all.to_dict(),
            "by_source": {name: counts.to_dict() for name, counts in sorted(self.by_source.items())},
            "flagged": [item.to_dict() for item in self.flagged_top.items()],
            "lowest": [item.to_dict() for item in self.lowest_top.items()],
            "failure_examples": dict(sorted(self.failure_examples.items())),
        }
