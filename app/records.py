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
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
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


class _KafkaTimestamp(int):
    """The Kafka message timestamp standing in for an absent ``timestamp`` field."""


_NO_TIMESTAMP = object()


def _validate_timestamp(value: Any) -> dt.datetime:
    if isinstance(value, _KafkaTimestamp):
        return _epoch_ms_to_datetime(int(value), "the Kafka message timestamp")
    if value is _NO_TIMESTAMP:
        raise PydanticCustomError(
            "bad_timestamp", "absent from the message, and the Kafka message has no timestamp either"
        )
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
    return parsed.astimezone(dt.UTC)


def _serialize_timestamp(value: dt.datetime) -> str:
    # Fixed form so the same record always serialises to the same bytes.
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Timestamp = Annotated[
    dt.datetime,
    PlainValidator(_validate_timestamp, json_schema_input_type=str | int),
    PlainSerializer(_serialize_timestamp, return_type=str),
]


def _reject_non_finite(value: Any, path: str) -> None:
    # JSON has no NaN/Infinity, but parsers accept them (and 1e400 overflows to inf); stored back
    # they would become null or invalid JSON, so the record is refused instead.
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError(
            "not_json", "{path} holds NaN or Infinity, which JSON has no value for", {"path": path}
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _reject_non_finite(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_non_finite(item, f"{path}[{index}]")


class InteractionRecord(BaseModel):
    """One judged interaction, as stored under ``raw/<source>/<YYYY-MM-DD>/``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str = Field(min_length=1)
    prompt: str
    response: str
    timestamp: Timestamp
    source: str = DEFAULT_SOURCE
    model: str | None = None
    metadata: dict[str, JsonValue] | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_envelope(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        context = info.context or {}
        if data.get("timestamp") is None and "kafka_timestamp_ms" in context:
            # Handed to the field validator (rather than raised here) so that the other fields'
            # problems are reported too.
            kafka_ms = context["kafka_timestamp_ms"]
            data = dict(data)
            data["timestamp"] = _NO_TIMESTAMP if kafka_ms is None else _KafkaTimestamp(kafka_ms)
        if "source" in data and data["source"] is None:
            data = dict(data)
            data["source"] = DEFAULT_SOURCE
        return data

    @field_validator("source")
    @classmethod
    def _source_is_path_safe(cls, value: str) -> str:
        if not SOURCE_PATTERN.match(value):
            raise PydanticCustomError(
                "bad_source",
                "'{value}' is not a path-safe name (letters, digits, '.', '_', '-'; starts with a "
                "letter or digit; at most 128 characters)",
                {"value": value[:64]},
            )
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_is_finite(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if value is not None:
            _reject_non_finite(value, "metadata")
        return value

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
            if code in ("bad_timestamp", "bad_source", "not_json", "wrong_type"):
                item_reason = code
            elif code == "string_too_short":
                item_reason = "empty_field"
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
    if value is None:
        raise InvalidRecord("null_value", "the message has no value (a tombstone or an empty produce)")
    if len(value) > max_bytes:
        raise InvalidRecord(
            "oversized", f"the message is {len(value)} bytes, more than the {max_bytes} allowed"
        )
    try:
        return InteractionRecord.model_validate_json(
            value, context={"kafka_timestamp_ms": kafka_timestamp_ms}
        )
    except ValidationError as exc:
        raise _invalid_from(exc) from None


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
