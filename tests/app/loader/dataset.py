"""Test messages: valid records over two sources and two UTC days, and every kind of poison."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

DAY1_MS = 1_738_324_800_000  # 2025-01-31T12:00:00Z
DAY_MS = 86_400_000
SMALL_MAX_MESSAGE_BYTES = 4096  # the loader runs of these tests use this limit, so "oversized" is cheap

# (expected reason, value); {i} makes each one unique, so a dead letter can be traced to its message.
POISON: list[tuple[str, str | None]] = [
    ("not_json", "this is not json {i}"),
    ("not_json", '{{"id": "x{i}", "prompt": "p", "response": '),
    ("not_object", '["array", {i}]'),
    ("not_object", '"just a string {i}"'),
    ("missing_field", '{{"id": "m{i}", "prompt": "p"}}'),
    ("wrong_type", '{{"id": {i}, "prompt": "p", "response": "r"}}'),
    ("wrong_type", '{{"id": "w{i}", "prompt": "p", "response": "r", "metadata": [1]}}'),
    ("bad_timestamp", '{{"id": "t{i}", "prompt": "p", "response": "r", "timestamp": "31/01/2025 {i}"}}'),
    ("bad_timestamp", '{{"id": "s{i}", "prompt": "p", "response": "r", "timestamp": 1738324800}}'),
    ("bad_source", '{{"id": "b{i}", "prompt": "p", "response": "r", "source": "../../etc/{i}"}}'),
    ("unknown_field", '{{"id": "u{i}", "prompt": "p", "response": "r", "user": "{i}"}}'),
    ("oversized", '{{"id": "o{i}", "prompt": "' + "x" * SMALL_MAX_MESSAGE_BYTES + '", "response": "r"}}'),
    ("null_value", None),
]


def valid_message(i: int, *, text_bytes: int = 150) -> bytes:
    record: dict[str, object] = {
        "id": f"rec-{i:07d}",
        "prompt": f"question {i}: " + "lorem ipsum " * (text_bytes // 24),
        "response": f"answer {i}: " + "dolor sit amet " * (text_bytes // 30),
        "source": ("chat-web", "code-assist")[i % 2],
    }
    kind = i % 3
    if kind == 0:
        record["timestamp"] = (
            dt.datetime(2025, 1, 31, 23, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=i % 120)
        ).isoformat()
    elif kind == 1:
        record["timestamp"] = DAY1_MS + DAY_MS + i
    # kind 2: no timestamp; the Kafka timestamp (day 1) is used
    if i % 5 == 0:
        record["model"] = "judge-me-v1"
        record["metadata"] = {"tokens": i, "tags": ["a", "b"]}
    return json.dumps(record).encode()


@dataclass
class Dataset:
    values: list[bytes | None]
    timestamps_ms: list[int]
    valid_ids: list[str]
    invalid: list[bytes | None]
    reasons: dict[bytes | None, str]


def dataset(
    valid: int,
    *,
    poison_every: int = 0,
    start: int = 0,
    text_bytes: int = 150,
    skip_reasons: frozenset[str] = frozenset(),
) -> Dataset:
    """``valid`` records; with ``poison_every``, one poison message (cycling through every kind but
    ``skip_reasons``) after each ``poison_every`` valid ones."""
    poisons = [(reason, template) for reason, template in POISON if reason not in skip_reasons]
    values: list[bytes | None] = []
    ids: list[str] = []
    invalid: list[bytes | None] = []
    reasons: dict[bytes | None, str] = {}
    poison_index = 0
    for i in range(start, start + valid):
        values.append(valid_message(i, text_bytes=text_bytes))
        ids.append(f"rec-{i:07d}")
        if poison_every and (i - start + 1) % poison_every == 0:
            reason, template = poisons[poison_index % len(poisons)]
            value = None if template is None else template.format(i=i).encode()
            values.append(value)
            invalid.append(value)
            reasons[value] = reason
            poison_index += 1
    timestamps = [DAY1_MS + index for index in range(len(values))]
    return Dataset(values, timestamps, ids, invalid, reasons)
