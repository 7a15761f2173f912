"""One result line, of either producer, as the report sees it.

Two line formats exist and both are read, one line at a time:

* ``python -m app.batch_job collect`` (``judgements/<date>/results.jsonl``)::

    {"id", "source", "status": "ok", "flagged", "answer": {"reasoning", ...}}
    {"id", "source", "status": "failed" | "invalid" | "missing", "reason", "error"}

* ``python -m app.judge run``::

    {"id", "status": "ok" | "error", "score", "scores": {...}, "reasoning", "error": "<reason>: ...", ...}

An answer's fields are split by kind: integers are *scores* (the six criteria), strings are *labels*
(verdict, severity), lists are *members* (categories). The order of a label's values, and which of them
is worst, come from the typed answers in ``app.judge.results`` (their ``Literal`` types), the one place
that defines them.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson

from app.judge.results import ANSWER_MODELS, SAFETY_FLAG_THRESHOLD

__all__ = [
    "ORDINAL_LABELS",
    "Row",
    "RowError",
    "RowReader",
    "answer_row",
    "label_order",
    "parse_row",
    "pick",
]

UNKNOWN_SOURCE = "unknown"
# Labels whose values form a scale (none < low < medium < high < critical), so that a weighted kappa and
# "how far apart" mean something; the order itself comes from the answer model.
ORDINAL_LABELS = frozenset({"severity"})
MAX_TEXT_CHARS = 2000


class RowError(ValueError):
    """A line that is not a result line of either format; the message says what is wrong with it."""


@dataclass(slots=True)
class Row:
    id: str
    source: str
    # ok, or the producer's failure status: failed / invalid / missing (collect), error (judge run).
    status: str
    reason: str | None = None
    error: str | None = None
    flagged: bool = False
    reasoning: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    scores: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failure_key(self) -> str:
        """``status:reason``, the key of summary.json's ``failures_by_reason``."""
        return f"{self.status}:{self.reason or 'unknown'}"


@cache
def _literal_orders() -> dict[str, tuple[str, ...]]:
    orders: dict[str, tuple[str, ...]] = {}
    for model in ANSWER_MODELS.values():
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if typing.get_origin(annotation) is list:
                annotation = typing.get_args(annotation)[0]
            if typing.get_origin(annotation) is typing.Literal:
                orders[name] = tuple(str(v) for v in typing.get_args(annotation))
    return orders


def label_order(name: str, seen: Iterable[str] = ()) -> list[str]:
    """The values of a label (or member) field in the answer model's order, then any others seen, sorted:
    a value no model declares (an older prompt's) is still shown, never dropped."""
    known = list(_literal_orders().get(name, ()))
    return known + sorted(set(seen) - set(known))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_TEXT_CHARS]


def _split_fields(row: Row, answer: dict[str, Any]) -> None:
    # `type(...) is` rather than isinstance: this runs for every field of every line (a million lines
    # a day), and JSON values come in exactly these types.
    for name, value in answer.items():
        kind = type(value)
        if kind is str:
            if name != "reasoning":
                row.labels[name] = value
        elif kind is int:
            row.scores[name] = value
        elif kind is list:
            row.members[name] = [v if type(v) is str else str(v) for v in value]
        elif kind is dict:  # the six-criteria answer nests its scores
            _split_fields(row, value)
        elif kind is bool:
            row.labels[name] = "true" if value else "false"


def _flagged_from_fields(row: Row) -> bool:
    # `app.judge run` lines carry no `flagged`: the same rule as Answer.flagged() of the two answers.
    if "verdict" in row.labels:
        return row.labels["verdict"] == "unsafe"
    safety = row.scores.get("safety")
    return safety is not None and safety <= SAFETY_FLAG_THRESHOLD


def answer_row(item_id: str, answer: dict[str, Any], source: str = UNKNOWN_SOURCE) -> Row:
    """An answer (or a person's labels of one item: the same fields without reasoning) as an ok Row, its
    fields split by kind and ``flagged`` by the answers' own rule."""
    row = Row(id=item_id, source=source, status="ok")
    row.reasoning = _text(answer.get("reasoning"))
    _split_fields(row, answer)
    row.flagged = _flagged_from_fields(row)
    return row


def parse_row(data: Any) -> Row:
    """A parsed JSON line as a Row; ``RowError`` names what makes it neither format."""
    if not isinstance(data, dict):
        raise RowError("not a JSON object")
    raw_id = data.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or raw_id == "":
        raise RowError("no id (a non-empty string or an integer)")
    status = data.get("status")
    source = data.get("source")
    row = Row(
        id=str(raw_id),
        source=source if isinstance(source, str) and source else UNKNOWN_SOURCE,
        status=status if isinstance(status, str) else "",
    )
    if "answer" in data or "reason" in data:  # collect's results.jsonl
        if status == "ok":
            answer = data.get("answer")
            if not isinstance(answer, dict):
                raise RowError("status ok without an answer object")
            row.reasoning = _text(answer.get("reasoning"))
            _split_fields(row, answer)
            row.flagged = bool(data.get("flagged"))
        elif status in ("failed", "invalid", "missing"):
            row.reason = _text(data.get("reason")) or "unknown"
            row.error = _text(data.get("error"))
        else:
            raise RowError(f"unknown status {status!r} (ok, failed, invalid, missing)")
        return row
    if "scores" in data:  # app.judge run output
        if status == "ok":
            scores = data.get("scores")
            if not isinstance(scores, dict):
                raise RowError("status ok without a scores object")
            row.reasoning = _text(data.get("reasoning"))
            _split_fields(row, scores)
            row.flagged = _flagged_from_fields(row)
        elif status == "error":
            error = str(data.get("error") or "")
            reason, _, detail = error.partition(": ")
            row.reason = reason or "unknown"
            row.error = _text(detail or error)
        else:
            raise RowError(f"unknown status {status!r} (ok, error)")
        return row
    raise RowError("neither a collect result line (answer/reason) nor an app.judge run line (scores)")


_LEADING_ID = re.compile(rb'\{\s*"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?[0-9]+)\s*[,}]')


def pick(lines: Iterable[bytes], ids: set[str]) -> Iterator[dict[str, Any]]:
    """The parsed lines whose ``id`` is one of ``ids`` (every such line: a caller that needs one per id
    stops when it has them), in one pass that parses only the lines holding one of the ids' JSON
    spellings (a byte search), not every line: the listed items' reasoning and excerpts cost a scan of
    the file, not a second parse of it."""
    wanted = set(ids)
    tokens: set[bytes] = set()
    # Every producer here writes the id first (collect, `app.judge run`, the loader's raw records), so a
    # line's id is read from its start without parsing; other lines fall back to a search for the ids.
    for item_id in wanted:
        tokens.add(orjson.dumps(item_id))  # "req-1", UTF-8 as written by orjson
        tokens.add(json.dumps(item_id).encode())  # "req-\u00e9", as written by json.dumps
        if item_id.isdigit():
            tokens.add(item_id.encode())  # an integer id of an `app.judge run` line
    for raw in lines:
        leading = _LEADING_ID.match(raw)
        if leading is not None:
            if leading.group(1) not in tokens:
                continue
        elif not any(token in raw for token in tokens):
            continue
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        item_id = data.get("id")
        key = item_id if isinstance(item_id, str) else str(item_id)
        if key in wanted:
            yield data


class RowReader:
    """Rows of an iterable of raw lines; blank lines are skipped, unreadable ones counted (with the first
    few line numbers and reasons kept), never fatal: one torn line must not cost the day's report."""

    MAX_EXAMPLES = 5

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines = 0
        self.unreadable = 0
        self.examples: list[str] = []

    def rows(self, lines: Iterable[bytes]) -> Iterator[Row]:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            self.lines += 1
            try:
                yield parse_row(orjson.loads(raw))
            except (orjson.JSONDecodeError, RowError) as exc:
                self.unreadable += 1
                if len(self.examples) < self.MAX_EXAMPLES:
                    reason = "not JSON" if isinstance(exc, orjson.JSONDecodeError) else str(exc)
                    self.examples.append(f"{self.name}:{number}: {reason}")
