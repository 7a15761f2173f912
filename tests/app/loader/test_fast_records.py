"""The loader's fast path agrees with app.records (pydantic) on every message: same stored line, byte for
byte, same reason and detail for an invalid one; and it really takes the common valid message."""

from __future__ import annotations

import json
import random

from app.loader.fast_records import _epoch_ms_fields, fast_storage, parse_message_for_storage
from app.records import (
    _EPOCH_MS_MAX,
    _EPOCH_MS_MIN,
    MAX_MESSAGE_BYTES,
    InvalidRecord,
    _serialize_timestamp,
    _to_datetime,
    parse_message_to_line,
)

KAFKA_MS = 1_738_324_800_000  # 2025-01-31T12:00:00Z


def message(**fields: object) -> bytes:
    base: dict[str, object] = {"id": "req-1", "prompt": "hi", "response": "hello"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


_TEXTS = [
    "",
    "plain ascii",
    'quote " backslash \\ slash / tab \t newline \n cr \r',
    "controls \x00\x01\x1f\x7f and \u2028\u2029",
    "unicode: café, 日本語, emoji 🤖👍🏽, combining é, rtl שלום",
    "x" * 5000,
]
_NUMBERS = [
    0,
    -1,
    2**31,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64 - 1,
    2**64,
    -(2**63),
    -(2**63) - 1,
    10**30,
    -(10**30),
    0.0,
    -0.0,
    0.1,
    1.5e-300,
    5e-324,
    1e16,
    1.7976931348623157e308,
    9.2e18,
    1.8446744073709552e19,
    -123.456,
    True,
    False,
    None,
]
_TIMESTAMPS = [
    ...,  # absent
    None,
    KAFKA_MS,
    KAFKA_MS + 999,
    946_684_800_000,
    946_684_799_999,
    4_102_444_799_999,
    4_102_444_800_000,
    1_738_324_800,  # seconds by mistake
    "2025-01-31T12:00:00Z",
    "2025-01-31t12:00:00z",
    "2025-01-31 12:00:00.123456789Z",
    "2025-01-31T23:30:00-05:00",
    "2025-01-31T00:30:00+01:00",
    "2025-01-31T12:00:00+00:00",
    "2025-01-31T12:00:00",
    "2025-02-30T12:00:00Z",
    "2025-01-31T12:00:00Z\n",
    "31/01/2025",
    1.7383248e12,
    True,
    [],
]
# Unhashable ones too: the fast path's cache of valid sources must not be asked about them.
_SOURCES = [
    ...,
    None,
    "chat-web",
    "a" * 128,
    "a" * 129,
    "../etc",
    "chat\n",
    "",
    ".hidden",
    "ok_1.2-x",
    7,
    ["chat-web"],
    {"s": 1},
]


def _metadata(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if depth < 4 and roll < 0.3:
        return {rng.choice(_TEXTS)[:20] + str(i): _metadata(rng, depth + 1) for i in range(rng.randint(0, 3))}
    if depth < 4 and roll < 0.4:
        return [_metadata(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if roll < 0.7:
        return rng.choice(_NUMBERS)
    return rng.choice(_TEXTS)


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _corpus() -> list[tuple[bytes | None, int | None]]:
    """Valid and invalid messages of every kind, as text a producer could really send."""
    rng = random.Random(20250131)
    corpus: list[tuple[bytes | None, int | None]] = []
    for i in range(3000):
        if i % 3:  # valid, in all the forms a valid message can take
            fields: dict[str, object] = {
                "id": f"req-{i}",
                "prompt": rng.choice(_TEXTS),
                "response": rng.choice(_TEXTS),
                "timestamp": rng.choice(
                    [..., None, KAFKA_MS + i, *[t for t in _TIMESTAMPS if str(t)[:3] == "202"]]
                ),
                "source": rng.choice([..., None, "chat-web", "a" * 128, "ok_1.2-x"]),
                "model": rng.choice([..., None, "gpt-x", ""]),
                "metadata": rng.choice([..., None, {}, {"k": _metadata(rng)}, {"a": [_metadata(rng)]}]),
            }
        else:
            fields = {
                "id": rng.choice(["req-1", "", "日本-1", 42, None, ...]),
                "prompt": rng.choice([*_TEXTS, None, 1, ["x"], ...]),
                "response": rng.choice(_TEXTS),
                "timestamp": rng.choice(_TIMESTAMPS),
                "source": rng.choice(_SOURCES),
                "model": rng.choice([..., None, "gpt-x", "", 3]),
                "metadata": rng.choice([..., None, [], "x", _metadata(rng), {"k": _metadata(rng)}]),
            }
        if i % 50 == 0:
            fields["extra"] = 1
        body = {k: v for k, v in fields.items() if v is not ...}
        text = json.dumps(body, ensure_ascii=rng.random() < 0.5, separators=rng.choice([None, (",", ":")]))
        corpus.append((text.encode(), rng.choice([KAFKA_MS, KAFKA_MS, None, 1_000])))
    raw = [
        None,
        b"",
        b"   ",
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"null",
        b'{"id": "a", "prompt": "p", "response": "r"',
        b'{"id": "a", "prompt": "p", "response": "r"}   \n',
        b'\xef\xbb\xbf{"id": "a", "prompt": "p", "response": "r"}',
        b'{"id": "a", "prompt": "p\xff", "response": "r"}',
        b'{"id": "a", "prompt": "\\ud800", "response": "r"}',
        b'{"id": "a", "prompt": "\xed\xa0\x80", "response": "r"}',
        b'{"id": "a", "prompt": "\\ud83e\\udd16 \\u00e9 \\/", "response": "r"}',
        b'{"id": "a", "prompt": "p", "response": "r", "metadata": {"x": NaN}}',
        b'{"id": "a", "prompt": "p", "response": "r", "metadata": {"x": -Infinity}}',
        b'{"id": "a", "prompt": "p", "response": "r", "metadata": {"x": 1e400}}',
        b'{"id": "a", "prompt": "p", "response": "r", "metadata": {"x": 1E2, "y": 1.0e-0, "z": -0}}',
        b'{"id": "a", "prompt": "p", "response": "r", "metadata": {"x": 123456789012345678901234567890}}',
        b'{"id": "a", "prompt": "p", "response": "r", "metadata": {"x": 18446744073709551616.0}}',
        b'{"id": "a", "prompt": "p", "response": "r", "metadata": {"x": 1, "x": 2, "y": 3}}',
        b'{"id": 5, "id": "a", "prompt": "p", "response": "r"}',
        b'{"id": "a", "id": 5, "prompt": "p", "response": "r"}',
        b'{"id": "a", "prompt": "p", "response": "r", "timestamp": 1738324800000.0}',
        b'{"id": "a", "prompt": "p", "response": "r", "timestamp": 1738324800000e0}',
        b'{"id": "a", "prompt": "p", "response": "r", "timestamp": "9999-12-31T23:59:59-01:00"}',
        b'{"id": "a", "prompt": "p", "response": "r", "timestamp": "0001-01-01T00:00:00+01:00"}',
    ]
    for depth in (10, 60, 70, 150, 300):
        raw.append(
            b'{"id": "a", "prompt": "p", "response": "r", "metadata": ' + _nested(depth).encode() + b"}"
        )
    corpus += [(value, KAFKA_MS) for value in raw]
    corpus.append((message(prompt="p" * (MAX_MESSAGE_BYTES + 1)), KAFKA_MS))
    return corpus


def _slow(value: bytes | None, kafka_ms: int | None) -> tuple:
    try:
        record, line = parse_message_to_line(value, kafka_timestamp_ms=kafka_ms)
    except InvalidRecord as invalid:
        return ("invalid", invalid.reason, invalid.detail)
    return ("ok", record.source, record.day(), line)


def _fast(value: bytes | None, kafka_ms: int | None) -> tuple:
    try:
        source, day, line = parse_message_for_storage(value, kafka_timestamp_ms=kafka_ms)
    except InvalidRecord as invalid:
        return ("invalid", invalid.reason, invalid.detail)
    return ("ok", source, day, line)


def test_fast_path_gives_the_same_lines_and_reasons_as_pydantic() -> None:
    corpus = _corpus()
    outcomes = [(_slow(value, ms), _fast(value, ms)) for value, ms in corpus]
    assert [fast for _, fast in outcomes] == [slow for slow, _ in outcomes]
    reasons = {slow[1] for slow, _ in outcomes if slow[0] == "invalid"}
    assert reasons == {
        "null_value",
        "oversized",
        "not_json",
        "not_object",
        "missing_field",
        "wrong_type",
        "empty_field",
        "unknown_field",
        "bad_timestamp",
        "bad_source",
    }
    # The corpus really exercises the fast path, not only the fallback.
    assert sum(slow[0] == "ok" for slow, _ in outcomes) > 1000
    assert sum(value is not None and fast_storage(value, ms) is not None for value, ms in corpus) > 1000


def test_fast_path_takes_common_messages_and_leaves_doubtful_ones_to_pydantic() -> None:
    for value, ms in _corpus():
        if value is None or len(value) > MAX_MESSAGE_BYTES:  # refused before the fast path
            continue
        fast = fast_storage(value, ms)
        if fast is not None:  # whatever the fast path accepts, pydantic accepts identically
            assert _slow(value, ms) == ("ok", *fast)
    common = message(timestamp=KAFKA_MS, source="chat-web", model="m", metadata={"tokens": {"in": 3}})
    assert fast_storage(common, KAFKA_MS) is not None
    assert fast_storage(message(timestamp="2025-01-31T12:00:00+01:00"), None) is not None
    assert fast_storage(message(), KAFKA_MS) is not None
    big_int = b'{"id": "a", "prompt": "p", "response": "r", "metadata": {"x": 18446744073709551616}}'
    assert fast_storage(big_int, KAFKA_MS) is None
    assert fast_storage(message(source="chat\n"), KAFKA_MS) is None
    assert fast_storage(message(metadata=json.loads(_nested(100))), KAFKA_MS) is None


def test_epoch_milliseconds_are_stored_as_pydantic_stores_them() -> None:
    rng = random.Random(7)
    values = [_EPOCH_MS_MIN, _EPOCH_MS_MAX - 1, KAFKA_MS, KAFKA_MS - 1, 951_782_400_000]  # 2000-02-29
    values += [rng.randrange(_EPOCH_MS_MIN, _EPOCH_MS_MAX) for _ in range(30_000)]
    values += [KAFKA_MS + milli for milli in range(2_000)]  # every millisecond of two seconds
    for value in values:
        when = _to_datetime(value, True, None)
        assert _epoch_ms_fields(value) == (_serialize_timestamp(when), when.date()), value
