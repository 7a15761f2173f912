"""How far answers agree with people's labels: a judge against a gold set (``python -m app.judge
calibrate``), a judge against the day's labels (the report's "Agreement with people"), and two people
against each other on the items both labelled (the ceiling a judge is read against).

The input is pairs of the same item's fields, a *reference* (a person) and an *answer* (a judge, or a
second person), each an ``app.report.rows.Row`` (fields split by kind as the report splits answers).
Every field is measured from a contingency table (rows: the reference, columns: the answer) with
``app.report.stats``, the report's one statistics module:

* a label (``verdict``) or ordered label (``severity``): n, accuracy (the share of identical values),
  Cohen's kappa with a bootstrap 95 % interval, the table, precision and recall of each value; ordered
  labels also get the quadratic weighted kappa and its interval;
* a score (a 1-10 criterion): the same, with the weighted kappa as the measure that counts;
* a list (``categories``): per value, the 2x2 table "listed by the reference" x "listed by the answer",
  with precision, recall and kappa (no interval: a category's n is small, and an interval per category
  would be noise reported as a range), and the share of answers whose list is exactly the reference's;
* ``unsafe``: the answer's ``flagged`` (an unsafe verdict; a safety score of 4 or less) against the
  reference's, with precision and recall.

A pair exists only where both sides have an answer: an item the judge failed on is not scored, it is
counted apart by the caller. The bootstrap draws items, not pairs (``stats.bootstrap_kappa_interval``),
from a fixed seed: the same input always gives the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.report.rows import ORDINAL_LABELS, Row, label_order
from app.report.stats import (
    BOOTSTRAP_ROUNDS,
    Weights,
    bootstrap_draws,
    cohen_kappa,
    interval_of,
    precision_recall,
    redrawn_tables,
)

__all__ = [
    "HEADLINE_FIELDS",
    "Pair",
    "headline",
    "labeller_pairs",
    "measure",
    "pool_tables",
]

# The field a judge is summed up by, in order of preference, and the kappa that measures it.
HEADLINE_FIELDS = (("verdict", "kappa"), ("overall", "weighted_kappa"))
UNSAFE = "unsafe"


@dataclass(frozen=True)
class Pair:
    """The same item seen by a reference (a person) and an answer (a judge or another person)."""

    item: str
    reference: Row
    answer: Row


class _Units:
    """Per item, its own small table (most items have one pair, a doubly-labelled item two): the sum is
    the field's table, and the bootstrap redraws items."""

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = list(values)
        self.position = {value: i for i, value in enumerate(self.values)}
        self.items: dict[str, int] = {}
        self.cells: list[tuple[int, int, int]] = []

    def add(self, item: str, reference: Any, answer: Any) -> None:
        unit = self.items.setdefault(item, len(self.items))
        self.cells.append((unit, self.position[reference], self.position[answer]))

    def array(self) -> NDArray[np.int64]:
        k = len(self.values)
        units = np.zeros((len(self.items), k, k), dtype=np.int64)
        if self.cells:
            unit, row, column = np.array(self.cells, dtype=np.int64).T
            np.add.at(units, (unit, row, column), 1)
        return units


class _Draws:
    """The bootstrap draws of one computation, shared by every field over the same number of items (the
    same items, in the same order: fields are filled pair by pair)."""

    MAX_CELLS = 4_000_000  # draws kept for sharing up to this size; larger sets draw per field

    def __init__(self, rounds: int, seed: int) -> None:
        self.rounds = rounds
        self.seed = seed
        self._by_size: dict[int, NDArray[np.float32]] = {}

    def tables(self, units: NDArray[np.int64]) -> NDArray[np.float64] | None:
        m = units.shape[0]
        draws = None
        if m >= 2 and m * self.rounds <= self.MAX_CELLS:
            draws = self._by_size.get(m)
            if draws is None:
                draws = self._by_size[m] = bootstrap_draws(m, self.rounds, self.seed)
        return redrawn_tables(units, rounds=self.rounds, seed=self.seed, draws=draws)


def _kappa_with_interval(
    units: NDArray[np.int64],
    weights: Weights,
    values: Sequence[float] | None,
    redrawn: Callable[[], NDArray[np.float64] | None],
) -> tuple[float | None, list[float] | None]:
    table = units.sum(axis=0)
    kappa = cohen_kappa(table, weights, values)
    if kappa is None:
        return None, None
    tables = redrawn()
    interval = None if tables is None else interval_of(tables, weights, values)
    return kappa, None if interval is None else [interval[0], interval[1]]


def _once(make: Callable[[], NDArray[np.float64] | None]) -> Callable[[], NDArray[np.float64] | None]:
    """``make`` called at most once, on first need (a field whose kappas are undefined redraws nothing)."""
    kept: list[NDArray[np.float64] | None] = []

    def get() -> NDArray[np.float64] | None:
        if not kept:
            kept.append(make())
        return kept[0]

    return get


def _table_stats(
    units: _Units, kind: str, draws: _Draws, numeric: Sequence[float] | None = None
) -> dict[str, Any]:
    array = units.array()
    table = array.sum(axis=0)
    n = int(table.sum())
    redrawn = _once(lambda: draws.tables(array))
    kappa, kappa_ci = _kappa_with_interval(array, "none", None, redrawn)
    out: dict[str, Any] = {
        "kind": kind,
        "n": n,
        "items": len(units.items),
        "accuracy": float(np.trace(table) / n),
        "kappa": kappa,
        "kappa_ci": kappa_ci,
        "weighted_kappa": None,
        "weighted_kappa_ci": None,
        "values": units.values,
        "table": table.tolist(),
    }
    if kind in ("ordinal", "score"):
        out["weighted_kappa"], out["weighted_kappa_ci"] = _kappa_with_interval(
            array, "quadratic", numeric, redrawn
        )
    if kind != "score":
        out["per_value"] = {
            str(value): {
                "reference": int(table[i].sum()),
                "answer": int(table[:, i].sum()),
                "precision": precision,
                "recall": recall,
            }
            for i, (value, (precision, recall)) in enumerate(
                zip(units.values, precision_recall(table), strict=True)
            )
        }
    return out


def _binary(units: _Units, draws: _Draws | None) -> dict[str, Any]:
    """A yes/no table (values False, True) as counts, precision, recall and kappa of "yes" (with its
    interval when ``draws`` are given)."""
    array = units.array()
    table = array.sum(axis=0)
    if draws is None:
        kappa, kappa_ci = cohen_kappa(table), None
    else:
        kappa, kappa_ci = _kappa_with_interval(array, "none", None, lambda: draws.tables(array))
    precision, recall = precision_recall(table)[1]
    return {
        "n": int(table.sum()),
        "tp": int(table[1, 1]),
        "fp": int(table[0, 1]),
        "fn": int(table[1, 0]),
        "tn": int(table[0, 0]),
        "precision": precision,
        "recall": recall,
        "kappa": kappa,
        "kappa_ci": kappa_ci,
    }


def measure(pairs: Sequence[Pair], *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> dict[str, Any]:
    """Every field's agreement over ``pairs`` (see the module doc); the same input and seed give the same
    figures."""
    labels: dict[str, list[tuple[str, str, str]]] = {}
    scores: dict[str, list[tuple[str, int, int]]] = {}
    members: dict[str, list[tuple[str, list[str], list[str]]]] = {}
    for pair in pairs:
        ref, ans = pair.reference, pair.answer
        for name in ref.labels.keys() & ans.labels.keys():
            labels.setdefault(name, []).append((pair.item, ref.labels[name], ans.labels[name]))
        for name in ref.scores.keys() & ans.scores.keys():
            scores.setdefault(name, []).append((pair.item, ref.scores[name], ans.scores[name]))
        for name in ref.members.keys() & ans.members.keys():
            members.setdefault(name, []).append((pair.item, ref.members[name], ans.members[name]))
    draws = _Draws(rounds, seed)
    fields: dict[str, dict[str, Any]] = {}
    for name, seen in sorted(labels.items()):
        units = _Units(label_order(name, {v for _, a, b in seen for v in (a, b)}))
        for item, a, b in seen:
            units.add(item, a, b)
        fields[name] = _table_stats(units, "ordinal" if name in ORDINAL_LABELS else "label", draws)
    for name, score_pairs in sorted(scores.items()):
        present = {v for _, a, b in score_pairs for v in (a, b)}
        values = list(range(min(present), max(present) + 1))
        units = _Units(values)
        for item, a, b in score_pairs:
            units.add(item, a, b)
        fields[name] = _table_stats(units, "score", draws, values)
    lists: dict[str, dict[str, Any]] = {}
    for name, member_pairs in sorted(members.items()):
        every = label_order(name, {v for _, a, b in member_pairs for v in (*a, *b)})
        per_value: dict[str, Any] = {}
        for value in every:
            units = _Units([False, True])
            for item, a, b in member_pairs:
                units.add(item, value in a, value in b)
            stats = _binary(units, None)  # one kappa per member: no interval each (n per member is small)
            if stats["tp"] + stats["fp"] + stats["fn"]:
                per_value[value] = stats
        exact = sum(set(a) == set(b) for _, a, b in member_pairs)
        lists[name] = {"n": len(member_pairs), "exact": exact / len(member_pairs), "values": per_value}
    flagged = _Units([False, True])
    for pair in pairs:
        flagged.add(pair.item, pair.reference.flagged, pair.answer.flagged)
    out: dict[str, Any] = {
        "pairs": len(pairs),
        "items": len({pair.item for pair in pairs}),
        "fields": fields,
        "members": lists,
        UNSAFE: _binary(flagged, draws) if pairs else None,
    }
    out["headline"] = headline(out)
    return out


def headline(measured: Mapping[str, Any]) -> dict[str, Any] | None:
    """The one number a judge is summed up by: kappa on ``verdict``, else weighted kappa on ``overall``."""
    fields = measured.get("fields") or {}
    for name, kind in HEADLINE_FIELDS:
        if name in fields:
            f = fields[name]
            return {"field": name, "measure": kind, "value": f[kind], "ci": f[f"{kind}_ci"], "n": f["n"]}
    return None


def labeller_pairs(labels_by_item: Mapping[str, Sequence[tuple[str, Row]]]) -> list[Pair]:
    """Two people on the same item: every pair of its labellers, the first by name as the reference."""
    pairs: list[Pair] = []
    for item, labelled in sorted(labels_by_item.items()):
        for (_, a), (_, b) in combinations(sorted(labelled, key=lambda x: x[0]), 2):
            pairs.append(Pair(item, a, b))
    return pairs


def pool_tables(tables: Iterable[Mapping[str, Any]], kind: str) -> dict[str, Any] | None:
    """Several days' tables of one field (``values`` and ``table`` each) added up: the kappa of the whole
    window (weighted for a score or an ordered label), and its n. Values missing on a day count zero."""
    merged: dict[tuple[Any, Any], int] = {}
    order: list[Any] = []
    for entry in tables:
        values = list(entry["values"])
        for value in values:
            if value not in order:
                order.append(value)
        for i, row in enumerate(entry["table"]):
            for j, count in enumerate(row):
                if count:
                    key = (values[i], values[j])
                    merged[key] = merged.get(key, 0) + int(count)
    if not merged:
        return None
    if all(isinstance(v, int) for v in order):
        order = list(range(min(order), max(order) + 1))
    else:
        order = sorted(order, key=order.index)
    position = {value: i for i, value in enumerate(order)}
    table = np.zeros((len(order), len(order)), dtype=np.int64)
    for (a, b), count in merged.items():
        table[position[a], position[b]] += count
    weighted = kind in ("ordinal", "score")
    numeric = order if kind == "score" else None
    kappa = cohen_kappa(table, "quadratic" if weighted else "none", numeric)
    return {"n": int(table.sum()), "kappa": kappa, "measure": "weighted_kappa" if weighted else "kappa"}
