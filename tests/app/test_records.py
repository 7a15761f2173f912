"""The record schema shared by the loader and the batch job: what is accepted, how it is stored, and
the reason code every kind of bad message gets."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from app.records import (
    MAX_MESSAGE_BYTES,
    InteractionRecord,
    InvalidRecord,
    parse_message,
    parse_stored_line,
    raw_prefix,
)

KAFKA_MS = 1_738_324_800_000  # 2025-01-31T12:00:00Z


def message(**fields: object) -> bytes:
    base: dict[str, object] = {"id": "req-1", "prompt": "hi", "response": "hello"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def reason_of(value: bytes | None, **kwargs: object) -> InvalidRecord:
    with pytest.raises(InvalidRecord) as info:
        parse_message(value, kafka_timestamp_ms=kwargs.pop("kafka_timestamp_ms", KAFKA_MS), **kwargs)
    return info.value


def test_minimal_message_takes_kafka_timestamp_and_unknown_source() -> None:
    record = parse_message(message(), kafka_timestamp_ms=KAFKA_MS)
    assert record.timestamp == dt.datetime(2025, 1, 31, 12, tzinfo=dt.UTC)
    assert record.source == "unknown"
    assert record.day() == dt.date(2025, 1, 31)


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2025-02-01T00:30:00+02:00", dt.datetime(2025, 1, 31, 22, 30, tzinfo=dt.UTC)),
        ("2025-02-01T23:59:59.123456789Z", dt.datetime(2025, 2, 1, 23, 59, 59, 123456, tzinfo=dt.UTC)),
        ("2025-02-01 10:00:00z", dt.datetime(2025, 2, 1, 10, tzinfo=dt.UTC)),
        (1_738_368_000_500, dt.datetime(2025, 2, 1, 0, 0, 0, 500000, tzinfo=dt.UTC)),
    ],
)
def test_timestamp_accepts_rfc3339_and_epoch_ms_and_files_by_utc_day(
    timestamp: object, expected: dt.datetime
) -> None:
    record = parse_message(message(timestamp=timestamp), kafka_timestamp_ms=KAFKA_MS)
    assert record.timestamp == expected
    assert record.day() == expected.date()


def test_stored_line_is_compact_complete_and_reads_back_identically() -> None:
    record = parse_message(
        message(timestamp=1_738_368_000_000, source="chat-web", model="m", metadata={"k": [1, "é", None]}),
        kafka_timestamp_ms=None,
    )
    line = record.to_json_line()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line) == {
        "id": "req-1",
        "prompt": "hi",
        "response": "hello",
        "timestamp": "2025-02-01T00:00:00.000000Z",
        "source": "chat-web",
        "model": "m",
        "metadata": {"k": [1, "é", None]},
    }
    assert parse_stored_line(line) == record
    assert parse_stored_line(line.decode()).to_json_line() == line


def test_newlines_in_text_never_split_a_stored_line() -> None:
    record = parse_message(message(prompt="a\nb\r\nc", response="\u2028"), kafka_timestamp_ms=KAFKA_MS)
    assert record.to_json_line().count(b"\n") == 1


@pytest.mark.parametrize(
    ("value", "reason", "names"),
    [
        (None, "null_value", "no value"),
        (b"not json", "not_json", "Invalid JSON"),
        (b'{"id": "a", "prompt": "p", "response": "r"', "not_json", "Invalid JSON"),
        (b"\xff\xfe{}", "not_json", "Invalid JSON"),
        (b'"a string"', "not_object", "object"),
        (b"[1, 2]", "not_object", "object"),
        (message(id=...), "missing_field", "id"),
        (message(response=...), "missing_field", "response"),
        (message(id=42), "wrong_type", "id"),
        (message(prompt=["x"]), "wrong_type", "prompt"),
        (message(metadata="x"), "wrong_type", "metadata"),
        (message(model=1), "wrong_type", "model"),
        (message(id=""), "empty_field", "id"),
        (message(user="bob"), "unknown_field", "user"),
        (message(timestamp="yesterday"), "bad_timestamp", "timestamp"),
        (message(timestamp="2025-01-31T12:00:00"), "bad_timestamp", "offset"),
        (message(timestamp="2025-02-30T12:00:00Z"), "bad_timestamp", "timestamp"),
        (message(timestamp=1_738_324_800), "bad_timestamp", "seconds"),
        # Valid RFC 3339, but the instant falls outside datetime's range once converted to UTC.
        (message(timestamp="9999-12-31T23:59:59-01:00"), "bad_timestamp", "timestamp"),
        (message(timestamp="0001-01-01T00:00:00+01:00"), "bad_timestamp", "timestamp"),
        (message(timestamp=True), "wrong_type", "timestamp"),
        (message(timestamp=1.7e12), "wrong_type", "timestamp"),
        (message(source="../etc"), "bad_source", "source"),
        (message(source="a b"), "bad_source", "source"),
        (message(source=""), "bad_source", "source"),
        (b'{"id":"a","prompt":"p","response":"r","metadata":{"x":[NaN]}}', "not_json", "metadata.x[0]"),
        (b'{"id":"a","prompt":"p","response":"r","metadata":{"x":1e999}}', "not_json", "metadata.x"),
        (b'{"id":"a","prompt":"p\\ud800","response":"r"}', "not_json", "Invalid JSON"),
    ],
)
def test_invalid_messages_get_a_reason_and_a_detail_naming_the_problem(
    value: bytes | None, reason: str, names: str
) -> None:
    error = reason_of(value)
    assert error.reason == reason
    assert names in error.detail


def test_missing_timestamp_without_kafka_timestamp_is_rejected() -> None:
    error = reason_of(message(), kafka_timestamp_ms=None)
    assert error.reason == "bad_timestamp"
    assert "Kafka" in error.detail


def test_all_problems_are_named_not_only_the_first() -> None:
    error = reason_of(message(id=1, source="a/b"))
    assert error.reason == "wrong_type"
    assert "id" in error.detail
    assert "source" in error.detail


def test_oversized_is_checked_on_bytes_before_parsing() -> None:
    assert reason_of(b"x" * (MAX_MESSAGE_BYTES + 1)).reason == "oversized"
    big = message(prompt="p" * 200)
    assert reason_of(big, max_bytes=100).reason == "oversized"
    assert parse_message(big, kafka_timestamp_ms=KAFKA_MS, max_bytes=len(big)).prompt == "p" * 200


def test_stored_line_requires_a_timestamp() -> None:
    with pytest.raises(InvalidRecord) as info:
        parse_stored_line(b'{"id":"a","prompt":"p","response":"r"}')
    assert info.value.reason == "missing_field"


def test_raw_prefix_is_source_and_utc_day() -> None:
    assert raw_prefix("chat-web", dt.date(2025, 1, 31)) == "raw/chat-web/2025-01-31/"
    with pytest.raises(ValueError, match="path-safe"):
        raw_prefix("../x", dt.date(2025, 1, 31))


def test_records_are_immutable() -> None:
    record = InteractionRecord(
        id="a", prompt="p", response="r", timestamp=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    )
    with pytest.raises(ValueError, match="frozen"):
        record.id = "b"  # type: ignore[misc]
