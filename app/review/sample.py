"""The day's review sample: which records people should label, chosen in the report's one pass.

Three strata, each record once (a record in two strata says so in ``data.strata``):

* ``flagged``: every record the judge flagged, the most severe first, up to ``per_stratum``;
* ``disagreement``: every record the two judges answered differently, the largest differences first
  (the report's own ranking of disagreements), up to ``per_stratum``; only with a second judge;
* ``random``: ``random_slice`` records among those the judge answered, whatever it said: the records
  whose ``blake2b(day/id)`` is largest, so the slice depends on the day and the ids alone, not on the
  order of the lines, and a rerun of the same day picks the same records. It is the stratum that says
  how the judge does on an ordinary day; the other two say how it does where it matters.

Each task carries the judged prompt and response in full (from the day's raw records; a record whose
text cannot be found is left out and counted), and the judges' answers as Label Studio predictions
(app.review.labelstudio), ``model_version`` the judge's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from hashlib import blake2b
from typing import Any

from app.report.day import severity_key
from app.report.rows import Row
from app.report.top import Top
from app.review.labelstudio import Control, prediction, task

__all__ = ["ReviewSampler", "ReviewSettings"]

STRATA = ("flagged", "disagreement", "random")


@dataclass(frozen=True)
class ReviewSettings:
    per_stratum: int = 50
    random_slice: int = 50


@dataclass
class _Chosen:
    id: str
    source: str
    strata: list[str]
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)  # judge index (0: A, 1: B) -> fields


def _fields(row: Row) -> dict[str, Any]:
    return {"labels": dict(row.labels), "members": dict(row.members), "scores": dict(row.scores)}


class ReviewSampler:
    """Feed it judge A's rows (``add``), then ``choose`` with the agreement's disagreements,
    ``take_second_judge`` with judge B's answers of the ``candidates`` (kept in B's pass), then ``tasks``
    with the records' texts."""

    def __init__(self, day: str, settings: ReviewSettings, controls: Sequence[Control]) -> None:
        self.day = day
        self.settings = settings
        self.controls = list(controls)
        self.flagged: Top[_Chosen] = Top(settings.per_stratum)
        self.random: Top[_Chosen] = Top(settings.random_slice)
        self.chosen: list[_Chosen] = []
        self.without_text = 0
        self.built: list[dict[str, Any]] = []  # the tasks, once the report has read the texts
        self._prefix = f"{day}/".encode()
        self._floor: int | None = None

    def add(self, row: Row) -> None:
        if not row.ok:
            return
        if row.flagged:
            self.flagged.offer(
                severity_key(row), row.id, lambda: _Chosen(row.id, row.source, ["flagged"], {0: _fields(row)})
            )
        # Every answered row is hashed (a million a day): the cheap comparison with the slice's current
        # floor first, the heap only for a row that may get in.
        key = int.from_bytes(blake2b(self._prefix + row.id.encode(), digest_size=8).digest(), "big")
        if self._floor is not None and key < self._floor:
            return
        self.random.offer((key,), row.id, lambda: _Chosen(row.id, row.source, ["random"], {0: _fields(row)}))
        floor = self.random.floor()
        self._floor = None if floor is None else floor[0]

    def choose(self, disagreements: Sequence[Mapping[str, Any]]) -> list[_Chosen]:
        """The sample, in stratum order, each record once."""
        by_id: dict[str, _Chosen] = {}
        order: list[str] = []

        def take(entry: _Chosen) -> None:
            known = by_id.get(entry.id)
            if known is None:
                by_id[entry.id] = entry
                order.append(entry.id)
                return
            known.strata += [s for s in entry.strata if s not in known.strata]
            for judge, answer in entry.answers.items():
                known.answers.setdefault(judge, answer)

        for entry in self.flagged.items():
            take(entry)
        for d in list(disagreements)[: self.settings.per_stratum]:
            answers = {0: _side(d.get("a")), 1: _side(d.get("b"))}
            take(
                _Chosen(
                    str(d["id"]),
                    str(d.get("source", "")),
                    ["disagreement"],
                    {k: v for k, v in answers.items() if v},
                )
            )
        for entry in self.random.items():
            take(entry)
        self.chosen = [by_id[i] for i in order]
        return self.chosen

    def ids(self) -> set[str]:
        return {entry.id for entry in self.chosen}

    def candidates(self) -> set[str]:
        """The ids the flagged and random strata hold once judge A's pass is over (final by then): judge
        B's answers of these are kept during B's pass (the disagreements bring both sides themselves)."""
        return {entry.id for entry in (*self.flagged.items(), *self.random.items())}

    def take_second_judge(self, rows: Mapping[str, Row]) -> None:
        """Judge B's answers (by id, ok rows) of the chosen records the disagreements did not bring."""
        for entry in self.chosen:
            row = rows.get(entry.id)
            if 1 not in entry.answers and row is not None and row.ok:
                entry.answers[1] = _fields(row)

    def tasks(self, texts: Mapping[str, Mapping[str, Any]], judges: Sequence[str]) -> list[dict[str, Any]]:
        """Label Studio tasks of the chosen records whose text is known (``texts``: id -> record)."""
        out = []
        self.without_text = 0
        for entry in self.chosen:
            record = texts.get(entry.id)
            if record is None:
                self.without_text += 1
                continue
            data = {
                "record_id": entry.id,
                "day": self.day,
                "source": entry.source,
                "strata": entry.strata,
                "prompt": str(record.get("prompt") or ""),
                "response": str(record.get("response") or ""),
            }
            predictions = [
                prediction(self.controls, a["labels"], a["members"], a["scores"], judges[judge])
                for judge, a in sorted(entry.answers.items())
                if judge < len(judges)
            ]
            out.append(task(data, predictions))
        return out


def _side(side: Any) -> dict[str, Any] | None:
    if not isinstance(side, Mapping) or not (side.get("labels") or side.get("scores") or side.get("members")):
        return None
    return {
        "labels": dict(side.get("labels") or {}),
        "members": dict(side.get("members") or {}),
        "scores": dict(side.get("scores") or {}),
    }
