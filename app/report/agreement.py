"""How far two judges agree on the same records (joined by id).

Judge A's rows are read first into a compact index (one small integer per field per record, in arrays,
plus the id -> position map); judge B's rows are then streamed against it. Agreement is accumulated as
contingency tables, so the statistics (app.report.stats) never need per-pair arrays; a third pass over A
fetches the reasoning of the few largest disagreements only. Memory is about 150 bytes per record of A,
nothing per record of B beyond its own line.

Duplicate ids (a record delivered twice and judged twice, or a failed line judged again with
``--retry-failed``) count once per side: an ok line wins over a failed one, otherwise the first line.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from app.report.rows import ORDINAL_LABELS, Row, label_order
from app.report.stats import cohen_kappa, contingency, spearman_rho
from app.report.top import Top

__all__ = ["Agreement", "compare"]

HEADLINE_LABEL = "verdict"
HEADLINE_SCORE = "overall"

RowSource = Callable[[], Iterable[Row]]


@dataclass
class _Disagreement:
    id: str
    source: str
    headline: int
    total: int
    b: dict[str, Any]
    a: dict[str, Any] = field(default_factory=dict)


def _disagreement(row: Row, headline: int, total: int) -> _Disagreement:
    return _Disagreement(row.id, row.source, headline, total, _side(row))


def _side(row: Row) -> dict[str, Any]:
    return {
        "labels": dict(row.labels),
        "members": dict(row.members),
        "scores": dict(row.scores),
        "reasoning": row.reasoning,
        "flagged": row.flagged,
    }


class _Index:
    """Judge A's rows: position by id, and per field one code per position (0: no value)."""

    def __init__(self) -> None:
        self.position: dict[str, int] = {}
        self.ok = bytearray()
        self.labels: dict[str, array[int]] = {}
        self.label_codes: dict[str, dict[str, int]] = {}
        self.scores: dict[str, array[int]] = {}
        self.members: dict[str, array[int]] = {}
        self.member_bits: dict[str, dict[str, int]] = {}
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self.ok)

    def code(self, name: str, value: str) -> int:
        codes = self.label_codes.setdefault(name, {})
        if value not in codes:
            codes[value] = len(codes) + 1
        return codes[value]

    def bits(self, name: str, values: list[str]) -> int:
        positions = self.member_bits.setdefault(name, {})
        mask = 0
        for value in values:
            if value not in positions:
                if len(positions) >= 63:
                    continue  # more than 63 distinct members: the rest are not compared
                positions[value] = len(positions)
            mask |= 1 << positions[value]
        return mask

    def _column(self, store: dict[str, array[int]], name: str, kind: str) -> array[int]:
        column = store.get(name)
        if column is None:
            column = store[name] = array(kind, bytes(array(kind).itemsize * len(self)))
        return column

    def add(self, row: Row) -> None:
        existing = self.position.get(row.id)
        if existing is not None:
            self.duplicates += 1
            if self.ok[existing] or not row.ok:
                return
            self._write(existing, row)
            return
        at = len(self.ok)
        self.position[row.id] = at
        self.ok.append(0)
        for store in (self.labels, self.scores, self.members):
            for column in store.values():
                column.append(0)
        self._write(at, row)

    def _write(self, at: int, row: Row) -> None:
        self.ok[at] = row.ok
        for name, value in row.labels.items():
            self._column(self.labels, name, "B")[at] = self.code(name, value)
        for name, score in row.scores.items():
            self._column(self.scores, name, "i")[at] = score
        for name, values in row.members.items():
            self._column(self.members, name, "Q")[at] = self.bits(name, values)


@dataclass
class Agreement:
    names: tuple[str, str]
    counts: dict[str, int]
    fields: dict[str, dict[str, Any]]
    members: dict[str, dict[str, dict[str, Any]]]
    disagreements: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "judges": list(self.names),
            "counts": self.counts,
            "fields": self.fields,
            "members": self.members,
            "disagreements": self.disagreements,
        }


class _Pairs:
    def __init__(self) -> None:
        self.labels: dict[str, Counter[tuple[str, str]]] = {}
        self.scores: dict[str, Counter[tuple[int, int]]] = {}
        # member name -> value -> Counter of (in A, in B); (False, False) is filled in at the end from
        # member_pairs, so a pair costs one update per member present, not one per member known.
        self.members: dict[str, dict[str, Counter[tuple[bool, bool]]]] = {}
        self.member_pairs: Counter[str] = Counter()


def compare(a: RowSource, b: RowSource, names: tuple[str, str] = ("A", "B"), top: int = 20) -> Agreement:
    """Join judge A's and judge B's rows by id and measure their agreement (see the module doc)."""
    index = _Index()
    for row in a():
        index.add(row)
    decode = {
        name: {code: value for value, code in codes.items()} for name, codes in index.label_codes.items()
    }
    member_names = {
        name: {bit: value for value, bit in bits.items()} for name, bits in index.member_bits.items()
    }

    pairs = _Pairs()
    counts: Counter[str] = Counter()
    # Per position of A: 0 not seen in B, 1 seen with a failed B line, 2 seen with an ok B line (final).
    seen_b = bytearray(len(index))
    only_b: set[str] = set()
    largest: Top[_Disagreement] = Top(top)

    for row in b():
        at = index.position.get(row.id)
        if at is None:
            if row.id in only_b:
                counts["duplicates_b"] += 1
            else:
                only_b.add(row.id)
            continue
        state = seen_b[at]
        if state == 2 or (state == 1 and not row.ok):
            counts["duplicates_b"] += 1
            continue
        if state == 1:  # a failed B line, now judged ok: it replaces the failure
            counts["duplicates_b"] += 1
            counts["failed_b" if index.ok[at] else "failed_both"] -= 1
        seen_b[at] = 2 if row.ok else 1
        a_ok = bool(index.ok[at])
        if not row.ok:
            counts["failed_b" if a_ok else "failed_both"] += 1
            continue
        if not a_ok:
            counts["failed_a"] += 1
            continue
        counts["paired"] += 1
        a_labels = {n: decode[n][c[at]] for n, c in index.labels.items() if c[at]}
        a_scores = {n: c[at] for n, c in index.scores.items() if c[at]}
        a_members = {
            n: [member_names[n][bit] for bit in member_names[n] if c[at] >> bit & 1]
            for n, c in index.members.items()
        }
        headline, total = _tally(pairs, a_labels, a_scores, a_members, row)
        if total:
            counts["disagree"] += 1
            largest.offer((headline, total), row.id, partial(_disagreement, row, headline, total))

    # Records A judged that B never saw (or saw only as failures) and the reverse.
    counts["only_a"] = seen_b.count(0)
    counts["only_b"] = len(only_b)
    counts["a"] = len(index)
    counts["b"] = len(index) - counts["only_a"] + len(only_b)
    counts["duplicates_a"] = index.duplicates

    ordered = largest.items()
    wanted = {entry.id: entry for entry in ordered}
    if wanted:
        for row in a():
            entry = wanted.get(row.id)
            if entry is not None and row.ok and not entry.a:
                entry.a = _side(row)
    return Agreement(
        names=names,
        counts={k: counts[k] for k in _COUNT_KEYS},
        fields=_field_stats(pairs),
        members=_member_stats(pairs),
        disagreements=[
            {
                "id": e.id,
                "source": e.source,
                "headline_difference": e.headline,
                "total_difference": e.total,
                "a": e.a,
                "b": e.b,
            }
            for e in ordered
        ],
    )


_COUNT_KEYS = (
    "a",
    "b",
    "paired",
    "disagree",
    "only_a",
    "only_b",
    "failed_a",
    "failed_b",
    "failed_both",
    "duplicates_a",
    "duplicates_b",
)


def _tally(
    pairs: _Pairs,
    a_labels: dict[str, str],
    a_scores: dict[str, int],
    a_members: dict[str, list[str]],
    row: Row,
) -> tuple[int, int]:
    """Count one paired record into the tables; return (headline difference, total difference)."""
    headline = 0
    total = 0
    for name in a_labels.keys() & row.labels.keys():
        va, vb = a_labels[name], row.labels[name]
        pairs.labels.setdefault(name, Counter())[(va, vb)] += 1
        if va != vb:
            if name in ORDINAL_LABELS:
                order = label_order(name, (va, vb))
                total += abs(order.index(va) - order.index(vb))
            else:
                total += 1
            if name == HEADLINE_LABEL:
                headline = 1
    for name in a_scores.keys() & row.scores.keys():
        va_s, vb_s = a_scores[name], row.scores[name]
        pairs.scores.setdefault(name, Counter())[(va_s, vb_s)] += 1
        total += abs(va_s - vb_s)
        if name == HEADLINE_SCORE:
            headline = abs(va_s - vb_s)
    for name in a_members.keys() & row.members.keys():
        in_a, in_b = set(a_members[name]), set(row.members[name])
        per_value = pairs.members.setdefault(name, {})
        pairs.member_pairs[name] += 1
        for value in in_a | in_b:
            per_value.setdefault(value, Counter())[(value in in_a, value in in_b)] += 1
        total += len(in_a ^ in_b)
    return headline, total


def _field_stats(pairs: _Pairs) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, counter in sorted(pairs.labels.items()):
        values = label_order(name, {v for pair in counter for v in pair})
        table = contingency(counter, values)
        ordinal = name in ORDINAL_LABELS
        out[name] = {
            "kind": "ordinal" if ordinal else "label",
            "n": int(table.sum()),
            "values": values,
            "table": table.tolist(),
            "exact_agreement": float(table.trace() / table.sum()),
            "kappa": cohen_kappa(table),
            "weighted_kappa": cohen_kappa(table, "quadratic") if ordinal else None,
            "spearman": spearman_rho(table) if ordinal else None,
        }
    for name, score_counter in sorted(pairs.scores.items()):
        seen = {v for pair in score_counter for v in pair}
        score_values = list(range(min(seen), max(seen) + 1))
        table = contingency(score_counter, score_values)
        out[name] = {
            "kind": "score",
            "n": int(table.sum()),
            "values": score_values,
            "table": table.tolist(),
            "exact_agreement": float(table.trace() / table.sum()),
            "kappa": cohen_kappa(table),
            "weighted_kappa": cohen_kappa(table, "quadratic", score_values),
            "spearman": spearman_rho(table),
            "mean_a": float(sum(a * n for (a, _), n in score_counter.items()) / table.sum()),
            "mean_b": float(sum(b * n for (_, b), n in score_counter.items()) / table.sum()),
        }
    return out


def _member_stats(pairs: _Pairs) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, per_value in sorted(pairs.members.items()):
        stats: dict[str, dict[str, Any]] = {}
        total = pairs.member_pairs[name]
        for value in label_order(name, per_value):
            if value not in per_value:
                continue
            counter = per_value[value]
            counter[(False, False)] = total - sum(n for key, n in counter.items() if key != (False, False))
            table = contingency(counter, [False, True])
            stats[value] = {
                "both": int(table[1, 1]),
                "only_a": int(table[1, 0]),
                "only_b": int(table[0, 1]),
                "kappa": cohen_kappa(table),
            }
        out[name] = stats
    return out
