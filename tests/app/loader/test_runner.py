"""The loader's per-message conversion, without a broker: whatever a message holds, it becomes a stored
line or a dead letter, never an exception that would stop every run at the same offset."""

from __future__ import annotations

import json
import logging

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, KafkaError, KafkaException, TopicPartition

from app.loader import runner
from app.loader.deadletter import decode_value
from app.loader.runner import Loader
from app.loader.settings import LoaderSettings


class _Message:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, 1_738_324_800_000

    def partition(self) -> int:
        return 3

    def key(self) -> None:
        return None

    def headers(self) -> None:
        return None


def test_a_parser_failure_on_one_message_dead_letters_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(runner, "parse_message_for_storage", broken)
    settings = LoaderSettings(gcs_bucket_name="bucket", kafka_brokers="127.0.0.1:9")
    loader = Loader(settings, store=object(), logger=logging.getLogger("test-loader"))  # type: ignore[arg-type]
    try:
        prefix, line, dead = loader._convert(_Message(b'{"id": "a"}'), 41)  # type: ignore[arg-type]
    finally:
        loader._pool.shutdown()
    assert dead
    assert prefix == "deadletter/2025-01-31/"
    envelope = json.loads(line)
    assert (envelope["reason"], envelope["offset"], envelope["partition"]) == ("parser_error", 41, 3)
    assert "RecursionError" in envelope["detail"]
    assert decode_value(line) == b'{"id": "a"}'
    assert loader.stats.dead_by_reason == {"parser_error": 1}


class _BrokerGone:
    """A consumer whose broker answers the committed offsets, then goes away."""

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, -1001) for tp in partitions]

    def get_watermark_offsets(self, *_args: object, **_kwargs: object) -> tuple[int, int]:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))


def test_lag_left_is_unknown_not_a_crash_when_the_broker_is_gone() -> None:
    # _lag_left runs after the try of Loader.run, for the summary: an exception there would end the
    # run with a traceback and no summary.
    settings = LoaderSettings(gcs_bucket_name="bucket", kafka_brokers="127.0.0.1:9")
    loader = Loader(settings, store=object(), logger=logging.getLogger("test-loader"))  # type: ignore[arg-type]
    loader._pool.shutdown()
    loader._consumer = _BrokerGone()  # type: ignore[assignment]
    loader._ends = {0: 10, 1: 5}
    assert loader._lag_left() is None
