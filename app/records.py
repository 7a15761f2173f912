"""The interaction record: the one schema shared by the loader (Kafka -> GCS) and the batch job.

A Kafka message is a JSON object::

    {"id": "req-1", "prompt": "...", "response": "...",          # required strings
     "timestamp": "2025-01-31T12:00:00Z" | 1738324800000,         # RFC 3339 or epoch ms; optional
     "source": "chat-web",                                        # optional, path-safe, "unknown"
     "model": "gpt-x", "metadata": {...}}                         # optional

``parse_message`` turns the message bytes into an ``InteractionRecord`` or raises ``InvalidRecord``
with a short ``reason`` code (used in dead-letter envelopes and counters) and a ``detail`` that names
the offending field. ``to_json_line`` is the canonical stored form under ``raw/`` (every key present,
timestamp in UTC with a ``Z``), and ``parse_stored_line`` reads it back.

Unknown top-level fields are rejected rather than dropped, so that no data silently disappears on the
way to storage: producers put anything extra under ``metadata``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
)
from pydantic_core import PydanticCustomError

# Kafka's default message.max.bytes is about 1 MB; anything larger than this is not an interaction
# we want to send to a judge, and a bound keeps the loader's per-record memory predictable.
MAX_MESSAGE_BYTES = 1_048_576

DEFAULT_SOURCE = "unknown"

# One path segment of gs://bucket/raw/<source>/...: no "/", no "." or "..", nothing that needs
# URL-escaping or that a shell glob would interpret.
SOURCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# RFC 3339 date-time (section 5.6): full date, "T" (or a space, which the RFC allows), full time with
# optional fraction and a mandatory offset. fromisoformat alone would also take offset-less and
# week-date forms, which would put records under a guessed day.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$",
)

# Epoch values outside this window are almost always seconds or microseconds sent as milliseconds;
# storing them would file the record under 1970 or the year 50000.
_EPOCH_MS_MIN = 946_684_800_000  # 2000-01-01T00:00:00Z
_EPOCH_MS_MAX = 4_102_444_800_000  # 2100-01-01T00:00:00Z

_ERROR_REASONS = {
    "json_invalid": "not_json",
    "model_type": "not_object",
    "model_attributes_type": "not_object",
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
}


class InvalidRecord(ValueError):
    """A message that is not a valid interaction record.

    ``reason`` is a short stable code: ``null_value``, ``oversized``, ``not_json``, ``not_object``,
    ``missing_field``, ``wrong_type``, ``empty_field``, ``unknown_field``, ``bad_timestamp``,
    ``bad_source``. ``detail`` is a human-readable explanation naming the field.
    """

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def _epoch_ms_to_datetime(value: int, what: str) -> dt.datetime:
    if not _EPOCH_MS_MIN <= value < _EPOCH_MS_MAX:
        raise PydanticCustomError(
            "bad_timestamp",
            "{what} {value} is not epoch milliseconds between 2000-01-01 and 2100-01-01 "
            "(seconds or microseconds by mistake?)",
            {"what": what, "value": value},
        )
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)


_CONTEXT_KEY = "kafka_timestamp_ms"


def _validate_timestamp(value: Any, info: ValidationInfo) -> dt.datetime:
    context = info.context or {}
    return _to_datetime(value, _CONTEXT_KEY in context, context.get(_CONTEXT_KEY))


def _to_datetime(value: Any, has_kafka_timestamp: bool, kafka_timestamp_ms: Any) -> dt.datetime:
    """The record's point in time; shared by the validator and the fast path, so both agree."""
    if value is None:
        # Absent (or null): the Kafka message timestamp stands in, when parse_message provides one.
        if not has_kafka_timestamp:
            raise PydanticCustomError("missing", "Field required")
        if kafka_timestamp_ms is None:
            raise PydanticCustomError(
                "bad_timestamp", "absent from the message, and the Kafka message has no timestamp either"
            )
        return _epoch_ms_to_datetime(kafka_timestamp_ms, "the Kafka message timestamp")
    if isinstance(value, bool):  # bool is an int subclass; true is not a point in time
        raise PydanticCustomError("wrong_type", "must be an RFC 3339 string or epoch milliseconds")
    if isinstance(value, int):
        return _epoch_ms_to_datetime(value, "epoch")
    if isinstance(value, dt.datetime):  # only reachable from Python callers, never from JSON
        if value.tzinfo is None:
            raise PydanticCustomError("bad_timestamp", "datetime has no timezone")
        return value.astimezone(dt.UTC)
    if not isinstance(value, str):
        raise PydanticCustomError("wrong_type", "must be an RFC 3339 string or epoch milliseconds")
    if not _RFC3339.match(value):
        raise PydanticCustomError(
            "bad_timestamp",
            "'{value}' is not an RFC 3339 date-time with an offset (e.g. 2025-01-31T12:00:00Z)",
            {"value": value[:64]},
        )
    try:
        parsed = dt.datetime.fromisoformat(value.upper().replace(" ", "T"))
    except ValueError as exc:
        raise PydanticCustomError(
            "bad_timestamp", "'{value}': {error}", {"value": value[:64], "error": str(exc)}
        ) from None
    if parsed.utcoffset() == _ZERO:
        return parsed
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is a valid string but no datetime in UTC
        raise PydanticCustomError(
            "bad_timestamp", "'{value}' is outside the range of dates in UTC", {"value": value[:64]}
        ) from None


_ZERO = dt.timedelta(0)


def _serialize_timestamp(value: dt.datetime) -> str:
    # One fixed form (UTC, microseconds, "Z"), so the same record always serialises to the same bytes.
    # The validator has already converted to UTC; isoformat is C code, unlike strftime.
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


# Validated in Python: RFC 3339 only, epoch milliseconds, the Kafka timestamp when absent.
Timestamp = Annotated[
    dt.datetime,
    PlainValidator(_validate_timestamp),
    PlainSerializer(_serialize_timestamp, return_type=str),
]


def _none_is_unknown(value: Any) -> Any:
    return DEFAULT_SOURCE if value is None else value


# Checked by pydantic-core's regex engine: no Python call per record.
Source = Annotated[str, BeforeValidator(_none_is_unknown), Field(pattern=SOURCE_PATTERN.pattern)]


def _non_finite_path(value: Any, path: str) -> str | None:
    """Where in ``value`` a NaN or an infinity sits, if anywhere."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _non_finite_path(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found:
            return found
    return None


class InteractionRecord(BaseModel):
    """One judged interaction, as stored under ``raw/<source>/<YYYY-MM-DD>/``."""

    # Non-finite floats serialise as the NaN/Infinity tokens (not JSON), so that parse_message can see
    # them in the line it produces and refuse the record, instead of storing them as null.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, ser_json_inf_nan="constants")

    id: str = Field(min_length=1)
    prompt: str
    response: str
    timestamp: Timestamp = Field(default=None, validate_default=True)
    source: Source = DEFAULT_SOURCE
    model: str | None = None
    metadata: dict[str, JsonValue] | None = None

    def day(self) -> dt.date:
        """The UTC date the record is filed under."""
        return self.timestamp.astimezone(dt.UTC).date()

    def to_json_line(self) -> bytes:
        """Compact JSON plus a newline: the form stored under ``raw/``."""
        return self.__pydantic_serializer__.to_json(self) + b"\n"


def _invalid_from(error: ValidationError) -> InvalidRecord:
    details = []
    reason = None
    for item in error.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in item["loc"]) or "message"
        code = item["type"]
        item_reason = _ERROR_REASONS.get(code)
        if item_reason is None:
            if code in ("bad_timestamp", "not_json", "wrong_type"):
                item_reason = code
            elif code == "string_too_short":
                item_reason = "empty_field"
            elif code == "string_pattern_mismatch" and item["loc"] == ("source",):
                item_reason = "bad_source"
                item["msg"] = (
                    "not a path-safe name (letters, digits, '.', '_', '-'; starts with a letter or digit; "
                    "at most 128 characters)"
                )
            else:
                item_reason = "wrong_type"
        reason = reason or item_reason
        details.append(f"{field}: {item['msg']}")
    return InvalidRecord(reason or "invalid", "; ".join(details))


def parse_message(
    value: bytes | None, *, kafka_timestamp_ms: int | None, max_bytes: int = MAX_MESSAGE_BYTES
) -> InteractionRecord:
    """Validate one Kafka message value; a missing ``timestamp`` falls back to the Kafka timestamp.

    ``kafka_timestamp_ms`` is None when the broker has none (librdkafka's TIMESTAMP_NOT_AVAILABLE).
    Raises ``InvalidRecord``.
    """
    return parse_message_to_line(value, kafka_timestamp_ms=kafka_timestamp_ms, max_bytes=max_bytes)[0]


def parse_message_to_line(
    value: bytes | None, *, kafka_timestamp_ms: int | None, max_bytes: int = MAX_MESSAGE_BYTES
) -> tuple[InteractionRecord, bytes]:
    """``parse_message`` plus the record's ``to_json_line()``, serialised once (the loader's hot path)."""
    if value is None:
        raise InvalidRecord("null_value", "the message has no value (a tombstone or an empty produce)")
    if len(value) > max_bytes:
        raise InvalidRecord(
            "oversized", f"the message is {len(value)} bytes, more than the {max_bytes} allowed"
        )
    try:
        record = InteractionRecord.model_validate_json(value, context={_CONTEXT_KEY: kafka_timestamp_ms})
    except ValidationError as exc:
        raise _invalid_from(exc) from None
    line = record.to_json_line()
    # JSON has no NaN/Infinity, but parsers accept them (and 1e400 overflows to inf): refuse the record
    # rather than store null or invalid JSON. The token search is cheap; the walk runs only on a hit.
    if b"NaN" in line or b"Infinity" in line:
        where = _non_finite_path(record.metadata, "metadata")
        if where:
            raise InvalidRecord("not_json", f"{where} holds NaN or Infinity, which JSON has no value for")
    return record, line


def parse_stored_line(line: bytes | str) -> InteractionRecord:
    """Read back one line written by ``to_json_line`` (the timestamp is required here). Raises
    ``InvalidRecord``."""
    try:
        return InteractionRecord.model_validate_json(line)
    except ValidationError as exc:
        raise _invalid_from(exc) from None


def raw_prefix(source: str, day: dt.date) -> str:
    """``raw/<source>/<YYYY-MM-DD>/``: where the records of one source and UTC day are stored."""
    if not SOURCE_PATTERN.match(source):
        raise ValueError(f"source {source!r} is not path-safe")
    return f"raw/{source}/{day.isoformat()}/"


def deadletter_prefix(day: dt.date) -> str:
    """``deadletter/<YYYY-MM-DD>/``: where invalid messages of one (UTC, Kafka-timestamp) day go."""
    return f"deadletter/{day.isoformat()}/"
