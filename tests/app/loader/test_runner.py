"""The loader's per-message conversion, without a broker: whatever a message holds, it becomes a stored
line or a dead letter, never an exception that would stop every run at the same offset."""

from __future__ import annotations

import json
import logging
import time

import pytest
from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, KafkaError, KafkaException, TopicPartition

from app.loader import convert
from app.loader.convert import Converter
from app.loader.deadletter import decode_value
from app.loader.exits import EXIT_CODES, ExitCode, Outcome
from app.loader.group import is_fenced, lag_left
from app.loader.runner import Fenced, Loader
from app.loader.settings import LoaderSettings
from tests.app.loader.dataset import valid_message
from tests.app.loader.helpers import loader_on_its_consumer


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

    monkeypatch.setattr(convert, "parse_message_for_storage", broken)
    converter = Converter("t", 1024, logging.getLogger("test-loader"))
    prefix, line, dead = converter.convert(_Message(b'{"id": "a"}'), 41)  # type: ignore[arg-type]
    assert dead
    assert prefix == "deadletter/2025-01-31/"
    envelope = json.loads(line)
    assert (envelope["reason"], envelope["offset"], envelope["partition"]) == ("parser_error", 41, 3)
    assert "RecursionError" in envelope["detail"]
    assert decode_value(line) == b'{"id": "a"}'
    assert converter.dead_by_reason == {"parser_error": 1}


def test_the_loader_counts_dead_letters_where_the_summary_reads_them() -> None:
    settings = LoaderSettings(gcs_bucket_name="bucket", kafka_brokers="127.0.0.1:9")
    loader = Loader(settings, store=object(), logger=logging.getLogger("test-loader"))  # type: ignore[arg-type]
    loader._pool.shutdown()
    loader._converter.convert(_Message(b"not json"), 7)  # type: ignore[arg-type]
    assert loader.stats.dead_by_reason == {"not_json": 1}


class _BrokerGone:
    """A consumer whose broker answers the committed offsets, then goes away."""

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition(tp.topic, tp.partition, -1001) for tp in partitions]

    def get_watermark_offsets(self, *_args: object, **_kwargs: object) -> tuple[int, int]:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))


def test_lag_left_is_unknown_not_a_crash_when_the_broker_is_gone() -> None:
    # lag_left runs after the try of Loader.run, for the summary: an exception there would end the
    # run with a traceback and no summary.
    assert lag_left(_BrokerGone(), "t", {0: 10, 1: 5}) is None  # type: ignore[arg-type]


# What librdkafka hands over when the broker fences a static member: the broker's code, or (from a
# consume after the fatal error) its _FATAL wrapper, whose text carries the original.
FENCED_ERRORS = [
    KafkaError(KafkaError.FENCED_INSTANCE_ID, fatal=True),
    KafkaError(
        KafkaError._FATAL,
        "Fatal consumer error: Broker: Static consumer fenced by other consumer with same group.instance.id",
        fatal=True,
    ),
]


@pytest.mark.parametrize("error", FENCED_ERRORS)
def test_fencing_is_recognised(error: KafkaError) -> None:
    assert is_fenced(error)


def test_other_fatal_errors_are_not_fencing() -> None:
    assert not is_fenced(KafkaError(KafkaError._FATAL, "Fatal error: something else", fatal=True))
    assert not is_fenced(KafkaError(KafkaError._TRANSPORT))
    assert not is_fenced(None)


class _ErrorMessage:
    def __init__(self, error: KafkaError) -> None:
        self._error = error

    def error(self) -> KafkaError:
        return self._error


@pytest.mark.parametrize("error", FENCED_ERRORS)
def test_a_fenced_loader_stops_and_commits_nothing_more(error: KafkaError) -> None:
    settings = LoaderSettings(gcs_bucket_name="bucket", kafka_brokers="127.0.0.1:9")
    loader = Loader(settings, store=object(), logger=logging.getLogger("test-loader"))  # type: ignore[arg-type]
    loader._pool.shutdown()
    with pytest.raises(Fenced):
        loader._handle(_ErrorMessage(error))  # type: ignore[arg-type]
    loader._fenced = True
    loader._commit({0: 10})  # no consumer is needed: nothing is sent
    assert loader.stats.commits == 0


def test_a_fenced_task_exits_0_so_that_cloud_run_does_not_retry_it_against_its_successor() -> None:
    # A retry would fence the newer task in turn, and so on, until both executions ran out of retries.
    assert EXIT_CODES[Outcome.FENCED] is ExitCode.OK
    assert EXIT_CODES[Outcome.UNASSIGNED] is ExitCode.UNASSIGNED
    assert {int(code) for code in ExitCode} == {0, 1, 2, 3}


@pytest.mark.integration
def test_a_partition_finished_then_assigned_again_with_work_left_is_read_again(kafka_broker) -> None:
    # Seen with two members under one instance id: a partition read to its end (and paused) was lost
    # before its last chunks were committed, came back, and was never read again: the run hung.
    topic = kafka_broker.create_topic(partitions=1)
    kafka_broker.produce(topic, [valid_message(i) for i in range(10)])
    with loader_on_its_consumer(kafka_broker, topic) as loader:
        consumer = loader._consumer
        assert consumer is not None
        loader._ends = {0: 10}
        # An earlier assignment: read to the end, so the loader paused it; then it was lost.
        consumer.assign([TopicPartition(topic, 0, 0)])
        assert _offsets_read(consumer, 10) == list(range(10))
        consumer.pause([TopicPartition(topic, 0)])
        consumer.unassign()
        loader._on_assign(consumer, [TopicPartition(topic, 0)])  # back, nothing committed
        assert _offsets_read(consumer, 10) == list(range(10))


def _offsets_read(consumer: Consumer, count: int, seconds: float = 10) -> list[int]:
    read: list[int] = []
    deadline = time.monotonic() + seconds
    while len(read) < count and time.monotonic() < deadline:
        read += [m.offset() or 0 for m in consumer.consume(100, 0.2) if m.error() is None]
    return read
