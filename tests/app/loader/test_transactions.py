"""Transactional producers on the real broker (Tansu): with a transaction left open, the loader's end
offsets are the last stable offsets, so a run reaches them and ends; after the commit, the end includes
the commit marker, which no consumer is given, and the run still reaches it."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer, IsolationLevel, KafkaError, TopicPartition
from confluent_kafka.admin import OffsetSpec

from app.loader.group import snapshot_end_offsets
from app.loader.settings import LoaderSettings
from tests.app.loader.dataset import valid_message
from tests.support.kafka import KafkaBroker

pytestmark = pytest.mark.integration


def list_offsets(broker: KafkaBroker, topic: str, level: IsolationLevel) -> dict[int, int]:
    wanted = {TopicPartition(topic, p): OffsetSpec.latest() for p in (0, 1)}
    futures = broker.admin().list_offsets(wanted, isolation_level=level, request_timeout=15)
    return {tp.partition: future.result().offset for tp, future in futures.items()}


def eofs(consumer: Consumer, partitions: int, seconds: float = 15) -> dict[int, int]:
    """Offset of each partition's end-of-partition event, as the loader's consume loop sees it."""
    found: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    while len(found) < partitions and time.monotonic() < deadline:
        for message in consumer.consume(100, 0.05):
            error = message.error()
            if error is not None and error.code() == KafkaError._PARTITION_EOF:
                found[message.partition() or 0] = message.offset() or 0
    return found


def test_a_transaction_left_open_does_not_hold_the_run_back(kafka_broker) -> None:
    topic = kafka_broker.create_topic(partitions=2)
    kafka_broker.produce(topic, [valid_message(i) for i in range(6)], partition_of=[0, 0, 0, 1, 1, 1])
    producer = kafka_broker.producer(**{"transactional.id": f"tx-{uuid.uuid4().hex[:8]}"})
    producer.init_transactions(15)
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, valid_message(100 + i), partition=0)
    producer.flush(15)  # sent, and the transaction stays open
    settings = LoaderSettings(
        gcs_bucket_name="bucket",
        kafka_brokers=kafka_broker.bootstrap,
        kafka_topic=topic,
        kafka_consumer_group=f"g-{uuid.uuid4().hex[:8]}",
    )
    consumer = Consumer(settings.kafka_config())  # read_committed, partition EOF on, as the loader's
    try:
        ends = snapshot_end_offsets(consumer, topic)
        assert ends == list_offsets(kafka_broker, topic, IsolationLevel.READ_COMMITTED)
        high = list_offsets(kafka_broker, topic, IsolationLevel.READ_UNCOMMITTED)
        assert ends[1] == high[1] == 3
        assert ends[0] < high[0]  # the open transaction is beyond the end
        consumer.assign([TopicPartition(topic, p, 0) for p in (0, 1)])
        reached = eofs(consumer, 2)
        # The loader finishes a partition at its end-of-partition event at or past its end: with the high
        # watermark as the end, partition 0 would wait for the open transaction for ever.
        assert reached[0] >= ends[0], (reached, ends, high)
        assert reached[1] >= ends[1]

        producer.commit_transaction(15)
        ends = snapshot_end_offsets(consumer, topic)
        assert ends == list_offsets(kafka_broker, topic, IsolationLevel.READ_UNCOMMITTED)
        assert ends[0] == 7  # 3 messages, 3 in the transaction, its commit marker
        assert eofs(consumer, 1)[0] == ends[0]  # no message has offset 6: the marker is never given
    finally:
        consumer.close()
        producer.flush(5)
