"""The loader's side of the consumer group: offsets and watermarks, group lag, fencing, leaving.

Static membership (``group.instance.id``, KIP-345) changes two things that the run has to handle:

- a member that closes does not leave the group (librdkafka sends no LeaveGroup for a static member
  on close); ``leave_group`` unsubscribes first, which does send it, so a clean end leaves nothing
  behind for the next run;
- a second member with the same instance id (an overlapping execution of the same job) makes the
  broker fence the older one: its heartbeats, syncs and commits fail with FENCED_INSTANCE_ID, which
  librdkafka raises as a fatal error (``is_fenced``).
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

KAFKA_TIMEOUT = 30.0


class TopicUnavailable(RuntimeError):
    pass


def watermarks(consumer: Consumer, topic: str, partition: int) -> tuple[int, int]:
    """``(low, end)`` of a partition, asked of the broker (ListOffsets) with the consumer's own
    ``isolation.level`` (librdkafka's rd_kafka_ListOffsetsRequest takes ``rk_conf.isolation_level``).
    The loader reads ``read_committed``, so ``end`` is the last stable offset, what
    ``AdminClient.list_offsets(..., isolation_level=IsolationLevel.READ_COMMITTED)`` answers, not the high
    watermark: a transaction a producer leaves open holds the high watermark above every offset this
    consumer will be given (and above its partition-EOF), so a run that waited for it would never end.
    Asking the consumer rather than an admin client keeps the end and what is read under one setting."""
    low, high = consumer.get_watermark_offsets(
        TopicPartition(topic, partition), timeout=KAFKA_TIMEOUT, cached=False
    )
    return low, high


def snapshot_end_offsets(consumer: Consumer, topic: str) -> dict[int, int]:
    """The end of every partition of ``topic`` (the last stable offset, see ``watermarks``): where this
    run stops."""
    metadata = consumer.list_topics(topic, timeout=KAFKA_TIMEOUT)
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        raise TopicUnavailable(f"topic {topic!r} is not available: {found.error if found else 'missing'}")
    return {partition: watermarks(consumer, topic, partition)[1] for partition in sorted(found.partitions)}


def lag_left(consumer: Consumer, topic: str, ends: dict[int, int]) -> int | None:
    """Messages below ``ends`` that the group has not committed, over all partitions; None when the
    broker cannot say (the summary after a failed run is computed here: unknown, not a traceback)."""
    if not ends:
        return None
    try:
        committed = consumer.committed([TopicPartition(topic, p) for p in ends], timeout=KAFKA_TIMEOUT)
        lag = 0
        for tp in committed:
            end = ends[tp.partition]
            start = tp.offset if tp.offset >= 0 else watermarks(consumer, topic, tp.partition)[0]
            lag += max(0, end - start)
    except KafkaException:
        return None
    return lag


def is_fenced(error: KafkaError | None) -> bool:
    """FENCED_INSTANCE_ID, as the broker's code or wrapped in librdkafka's fatal error (whose text
    carries the original: "Fatal consumer error: Broker: Static consumer fenced by other consumer with
    same group.instance.id")."""
    if error is None:
        return False
    if error.code() == KafkaError.FENCED_INSTANCE_ID:
        return True
    return error.fatal() and "fenced by other consumer with same group.instance.id" in error.str()


def fenced_exception(exc: BaseException) -> bool:
    return isinstance(exc, KafkaException) and bool(exc.args) and is_fenced(_error_of(exc))


def _error_of(exc: KafkaException) -> KafkaError | None:
    first = exc.args[0]
    return first if isinstance(first, KafkaError) else None


def leave_group(consumer: Consumer, *, timeout: float = 3.0) -> bool:
    """Unsubscribe and serve the consumer (the revocation callback runs here) until librdkafka has
    left the group, which it shows by dropping its member id; ``close()`` alone never sends LeaveGroup
    for a static member. False when that did not happen within ``timeout``."""
    consumer.unsubscribe()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _ in consumer.consume(num_messages=100, timeout=0.05):
            pass  # nothing is assigned any more: only callbacks and errors come through
        if not consumer.memberid():
            return True
    return False
