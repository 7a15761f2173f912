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

from app.report.rows import ORDINAL_LABELS, Row, RowError, RowReader, label_order, parse_row, pick
from app.report.stats import cohen_kappa, contingency, spearman_rho
from app.report.top import Top

__all__ = ["Agreement", "AgreementBuilder", "compare"]

HEADLINE_LABEL = "verdict"
HEADLINE_SCORE = "overall"

LineSource = Callable[[], Iterable[bytes]]
MAX_LABEL_VALUES = 60_000
OTHER_VALUE = "(other)"
# Pairs are counted by (A's codes, B's codes) first, one dict update per record, and spread into the
# per-field tables when there are this many distinct ones, or at the end.
FLUSH_PAIRS = 100_000


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
        codes = self.label_codes.get(name)
        if codes is None:
            codes = self.label_codes[name] = {}
        found = codes.get(value)
        if found is None:
            if len(codes) >= MAX_LABEL_VALUES:
                value = OTHER_VALUE  # a label with this many distinct values is not a label any more
                found = codes.get(value)
            if found is None:
                found = codes[value] = len(codes) + 1
        return found

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
            self._column(self.labels, name, "H")[at] = self.code(name, value)
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
        # member_pairs.
        self.members: dict[str, dict[str, Counter[tuple[bool, bool]]]] = {}
        self.member_pairs: Counter[str] = Counter()


class AgreementBuilder:
    """Feed judge A's rows (``add_a``, e.g. in the same pass as the day's aggregate), then stream judge
    B's (``add_b_rows``), then ``finish`` with A's lines to fetch the reasoning of the largest
    disagreements (a pre-filtered pass: only lines holding one of those ids are parsed)."""

    def __init__(self, names: tuple[str, str] = ("A", "B"), top: int = 20) -> None:
        self.names = names
        self.index = _Index()
        self.pairs = _Pairs()
        self.counts: Counter[str] = Counter()
        self.largest: Top[_Disagreement] = Top(top)
        self._only_b: set[str] = set()
        self._seen_b = bytearray()
        self._columns: list[tuple[str, str, array[int]]] = []
        self._pair_counts: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
        self._decode: dict[str, dict[int, str]] = {}

    def add_a(self, row: Row) -> None:
        self.index.add(row)

    def add_b_rows(self, rows: Iterable[Row]) -> None:
        index, counts = self.index, self.counts
        columns: list[tuple[str, str, array[int]]] = [
            *(("label", n, c) for n, c in index.labels.items()),
            *(("score", n, c) for n, c in index.scores.items()),
            *(("member", n, c) for n, c in index.members.items()),
        ]
        self._columns = columns
        # Per position of A: 0 not seen in B, 1 seen with a failed B line, 2 seen with an ok B line.
        seen_b = self._seen_b = bytearray(len(index))
        only_b = self._only_b
        pair_counts = self._pair_counts
        differences: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[int, int]] = {}
        for row in rows:
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
            key = (tuple([c[at] for _, _, c in columns]), self._encode(row))
            pair_counts[key] = pair_counts.get(key, 0) + 1
            difference = differences.get(key)
            if difference is None:
                difference = differences[key] = self._difference(*key)
                if len(differences) >= FLUSH_PAIRS:
                    differences.clear()
            headline, total = difference
            if total:
                counts["disagree"] += 1
                self.largest.offer((headline, total), row.id, partial(_disagreement, row, headline, total))
            if len(pair_counts) >= FLUSH_PAIRS:
                self._flush_pairs()

    def _encode(self, row: Row) -> tuple[int, ...]:
        """Judge B's answer in A's codes, column by column (0: no value)."""
        index = self.index
        out: list[int] = []
        for kind, name, _ in self._columns:
            if kind == "label":
                value = row.labels.get(name)
                out.append(0 if value is None else index.code(name, value))
            elif kind == "score":
                out.append(row.scores.get(name, 0))
            else:
                members = row.members.get(name)
                out.append(0 if not members else index.bits(name, members))
        return tuple(out)

    def _decoded(self, kind: str, name: str, code: int) -> Any:
        if kind == "label":
            return self._label_values(name)[code]
        if kind == "member":
            return [value for value, bit in self.index.member_bits.get(name, {}).items() if code >> bit & 1]
        return code

    def _label_values(self, name: str) -> dict[int, str]:
        values = self._decode.get(name)
        if values is None or len(values) != len(self.index.label_codes[name]):
            values = self._decode[name] = {c: v for v, c in self.index.label_codes[name].items()}
        return values

    def _difference(self, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, int]:
        """(headline difference, total difference) of one pair of answers (see _tally)."""
        a_labels: dict[str, str] = {}
        b_labels: dict[str, str] = {}
        a_scores: dict[str, int] = {}
        b_scores: dict[str, int] = {}
        a_members: dict[str, list[str]] = {}
        b_members: dict[str, list[str]] = {}
        for (kind, name, _), ca, cb in zip(self._columns, a, b, strict=True):
            if kind == "label":
                if ca and cb:
                    a_labels[name], b_labels[name] = (
                        self._decoded(kind, name, ca),
                        self._decoded(kind, name, cb),
                    )
            elif kind == "score":
                if ca and cb:
                    a_scores[name], b_scores[name] = ca, cb
            else:
                a_members[name], b_members[name] = (
                    self._decoded(kind, name, ca),
                    self._decoded(kind, name, cb),
                )
        return _difference(a_labels, a_scores, a_members, b_labels, b_scores, b_members)

    def _flush_pairs(self) -> None:
        pairs = self.pairs
        for (a, b), n in self._pair_counts.items():
            for (kind, name, _), ca, cb in zip(self._columns, a, b, strict=True):
                if kind == "member":
                    pairs.member_pairs[name] += n
                    per_value = pairs.members.setdefault(name, {})
                    for value, bit in self.index.member_bits.get(name, {}).items():
                        in_a, in_b = bool(ca >> bit & 1), bool(cb >> bit & 1)
                        if in_a or in_b:
                            per_value.setdefault(value, Counter())[(in_a, in_b)] += n
                elif ca and cb:
                    va, vb = self._decoded(kind, name, ca), self._decoded(kind, name, cb)
                    store = pairs.labels if kind == "label" else pairs.scores
                    store.setdefault(name, Counter())[(va, vb)] += n
        self._pair_counts.clear()

    def finish(self, a_lines: Iterable[bytes] | None) -> Agreement:
        self._flush_pairs()
        counts, index = self.counts, self.index
        # Records A judged that B never saw, and the reverse.
        counts["only_a"] = self._seen_b.count(0) if self._seen_b else len(index)
        counts["only_b"] = len(self._only_b)
        counts["a"] = len(index)
        counts["b"] = len(index) - counts["only_a"] + len(self._only_b)
        counts["duplicates_a"] = index.duplicates
        ordered = self.largest.items()
        wanted = {entry.id: entry for entry in ordered}
        if wanted and a_lines is not None:
            for data in pick(a_lines, set(wanted)):
                try:
                    row = parse_row(data)
                except RowError:
                    continue
                entry = wanted[row.id]
                if row.ok and not entry.a:
                    entry.a = _side(row)
        return Agreement(
            names=self.names,
            counts={k: counts[k] for k in _COUNT_KEYS},
            fields=_field_stats(self.pairs),
            members=_member_stats(self.pairs),
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


def compare(
    a: LineSource,
    b: LineSource,
    names: tuple[str, str] = ("A", "B"),
    top: int = 20,
    readers: tuple[RowReader, RowReader] | None = None,
) -> Agreement:
    """Join judge A's and judge B's result lines by id and measure their agreement (module doc); the
    readers, if given, count each file's unreadable lines."""
    reader_a, reader_b = readers or (RowReader("A"), RowReader("B"))
    builder = AgreementBuilder(names, top)
    for row in reader_a.rows(a()):
        builder.add_a(row)
    builder.add_b_rows(reader_b.rows(b()))
    return builder.finish(a())


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


def _difference(
    a_labels: dict[str, str],
    a_scores: dict[str, int],
    a_members: dict[str, list[str]],
    b_labels: dict[str, str],
    b_scores: dict[str, int],
    b_members: dict[str, list[str]],
) -> tuple[int, int]:
    """How far two answers are apart: (headline, total). The headline is the verdict (0 or 1) or the
    overall score's distance; the total adds every field: steps apart on an ordered label, 1 for a
    different plain label, the score distances, and the members only one answer lists."""
    headline = 0
    total = 0
    for name in a_labels.keys() & b_labels.keys():
        va, vb = a_labels[name], b_labels[name]
        if va != vb:
            if name in ORDINAL_LABELS:
                order = label_order(name, (va, vb))
                total += abs(order.index(va) - order.index(vb))
            else:
                total += 1
            if name == HEADLINE_LABEL:
                headline = 1
    for name in a_scores.keys() & b_scores.keys():
        distance = abs(a_scores[name] - b_scores[name])
        total += distance
        if name == HEADLINE_SCORE:
            headline = distance
    for name in a_members.keys() & b_members.keys():
        total += len(set(a_members[name]) ^ set(b_members[name]))
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
