"""The dead-letter envelope: one JSON line per invalid message, holding the original bytes."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence

EPOCH_DAY = dt.date(1970, 1, 1)


def kafka_day(timestamp_ms: int | None) -> dt.date:
    """The UTC day a dead letter is filed under: its Kafka timestamp's, never the wall clock's (a rerun
    on another day must produce the same object names)."""
    if timestamp_ms is None:
        return EPOCH_DAY
    try:
        return dt.datetime.fromtimestamp(timestamp_ms / 1000, tz=dt.UTC).date()
    except (OverflowError, OSError, ValueError):
        return EPOCH_DAY


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def envelope_line(
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
    reason: str,
    detail: str,
) -> bytes:
    timestamp = None
    if timestamp_ms is not None:
        try:
            timestamp = (
                dt.datetime.fromtimestamp(timestamp_ms / 1000, tz=dt.UTC).isoformat().replace("+00:00", "Z")
            )
        except (OverflowError, OSError, ValueError):
            timestamp = None
    envelope = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "timestamp": timestamp,
        "timestamp_ms": timestamp_ms,
        "reason": reason,
        "detail": detail,
        "key_base64": _b64(key),
        "value_base64": _b64(value),
        "value_bytes": None if value is None else len(value),
        "headers": [[name, _b64(data)] for name, data in headers or ()],
    }
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode_value(line: bytes | str) -> bytes | None:
    """The original message bytes of one dead-letter line (for replays and tests)."""
    encoded = json.loads(line)["value_base64"]
    return None if encoded is None else base64.b64decode(encoded)
