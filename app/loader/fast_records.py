"""The loader's fast path to a stored line: orjson and plain type checks for the common valid message.

``parse_message_for_storage`` gives what the loader needs of a Kafka message, ``(source, UTC day,
line)``, with the very result of ``app.records.parse_message_to_line`` (same line byte for byte, same
``InvalidRecord`` reason and detail; tests/app/loader/test_fast_records.py compares them over every kind
of message). pydantic stays the authority: whatever the fast path is not certain about goes to it.

It lives with the loader, not in ``app.records``, because only the loader image installs orjson (the
batch job reuses ``app.records`` for reading stored lines back, where speed matters less).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import orjson
from pydantic_core import PydanticCustomError

from app.records import (
    _EPOCH_MS_MAX,
    _EPOCH_MS_MIN,
    DEFAULT_SOURCE,
    MAX_MESSAGE_BYTES,
    SOURCE_PATTERN,
    InteractionRecord,
    _serialize_timestamp,
    _to_datetime,
    parse_message_to_line,
)


def parse_message_for_storage(
    value: bytes | None, *, kafka_timestamp_ms: int | None, max_bytes: int = MAX_MESSAGE_BYTES
) -> tuple[str, dt.date, bytes]:
    """What the loader needs of a message: ``(source, UTC day, to_json_line())``. Raises ``InvalidRecord``.

    Same result, byte for byte, as ``parse_message_to_line`` (the tests compare them over every kind of
    message), but the common valid message takes a fast path: orjson and plain type checks, about a
    third of the cost. Anything the fast path is not certain about (a parse error, a type or value it
    does not expect, a float that may be a big integer, deep nesting) goes through pydantic, which
    stays the only judge of invalid messages and the author of their reasons.
    """
    if value is not None and len(value) <= max_bytes:
        fast = fast_storage(value, kafka_timestamp_ms)
        if fast is not None:
            return fast
    record, line = parse_message_to_line(value, kafka_timestamp_ms=kafka_timestamp_ms, max_bytes=max_bytes)
    return record.source, record.day(), line


_FIELDS = frozenset(InteractionRecord.model_fields)
# fullmatch: Python's "$" also matches before a final newline, pydantic-core's regex does not.
_SOURCE_FULLMATCH = re.compile(SOURCE_PATTERN.pattern.removeprefix("^").removesuffix("$")).fullmatch
# orjson reads integers beyond 64 bits as floats where pydantic keeps them integers: any float this
# large is left to pydantic.
_FLOAT_LIMIT = 2.0**63
# Far below both parsers' nesting limits; deeper metadata is left to pydantic.
_MAX_FAST_DEPTH = 64
_MILLIS = tuple(f"{milli:03d}000Z" for milli in range(1000))
_SECONDS: dict[int, tuple[str, dt.date]] = {}
# Sources already matched against SOURCE_PATTERN: a topic has a handful, each seen a million times.
_VALID_SOURCES: set[str] = set()


def _epoch_ms_fields(epoch_ms: int) -> tuple[str, dt.date]:
    """The stored timestamp text and UTC day of an in-range epoch-milliseconds value: what
    ``_serialize_timestamp`` and ``.date()`` give for it, without a datetime per record (datetime's
    isoformat alone costs more than parsing the whole message). Consecutive records share a second."""
    second, milli = divmod(epoch_ms, 1000)
    cached = _SECONDS.get(second)
    if cached is None:
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        when = dt.datetime.fromtimestamp(second, dt.UTC)
        cached = _SECONDS[second] = (when.isoformat()[:-6] + ".", when.date())
    return cached[0] + _MILLIS[milli], cached[1]


def fast_storage(value: bytes, kafka_timestamp_ms: int | None) -> tuple[str, dt.date, bytes] | None:
    """The fast path of ``parse_message_for_storage`` for a message within the size limit: its result
    when the message is certainly valid, None when pydantic must decide. The loader's consume loop
    calls it directly (one call less per message) and falls back to ``parse_message_for_storage``."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or not obj.keys() <= _FIELDS:
        return None
    get = obj.get
    id_, prompt, response = get("id"), get("prompt"), get("response")
    if type(id_) is not str or not id_ or type(prompt) is not str or type(response) is not str:
        return None
    source = get("source")
    if source is None:
        source = DEFAULT_SOURCE
    elif type(source) is not str:
        return None
    elif source not in _VALID_SOURCES:
        if _SOURCE_FULLMATCH(source) is None:
            return None
        if len(_VALID_SOURCES) >= 4096:
            _VALID_SOURCES.clear()
        _VALID_SOURCES.add(source)
    model = get("model")
    if model is not None and type(model) is not str:
        return None
    metadata = get("metadata")
    if metadata is not None and (type(metadata) is not dict or not _plain_json(metadata, 0)):
        return None
    timestamp = get("timestamp")
    if timestamp is None and type(kafka_timestamp_ms) is int:
        timestamp = kafka_timestamp_ms  # absent: the Kafka timestamp stands in, as in app.records
    if type(timestamp) is int and _EPOCH_MS_MIN <= timestamp < _EPOCH_MS_MAX:
        stamp, day = _epoch_ms_fields(timestamp)
    elif type(timestamp) is str:
        try:
            when = _to_datetime(timestamp, True, kafka_timestamp_ms)
        except (PydanticCustomError, TypeError, ValueError, OverflowError):
            return None
        stamp, day = _serialize_timestamp(when), when.date()
    else:
        return None
    line = orjson.dumps(
        {
            "id": id_,
            "prompt": prompt,
            "response": response,
            "timestamp": stamp,
            "source": source,
            "model": model,
            "metadata": metadata,
        },
        option=orjson.OPT_APPEND_NEWLINE,
    )
    return source, day, line


def _plain_json(value: Any, depth: int) -> bool:
    """True when orjson's reading of ``value`` is certainly pydantic's too."""
    if depth > _MAX_FAST_DEPTH:
        return False
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if kind is dict or kind is list:
            if not _plain_json(item, depth + 1):
                return False
        elif kind is float and not -_FLOAT_LIMIT < item < _FLOAT_LIMIT:
            return False
    return True
