"""Running the real loader (``python -m app.loader`` in a subprocess) and reading back what it stored."""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from confluent_kafka import Consumer
from google.cloud import storage

from app.loader.deadletter import decode_value
from app.loader.runner import Loader
from app.loader.settings import LoaderSettings
from app.records import parse_stored_line
from tests.support.gcs import GcsServer
from tests.support.kafka import FAST_GROUP_SETTINGS, KafkaBroker, Produced

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[3]
OBJECT_NAME = re.compile(
    r"^(?P<prefix>(raw/[^/]+|deadletter)/\d{4}-\d{2}-\d{2}/)(?P<topic>[A-Za-z0-9._-]+)-(?P<partition>\d+)-"
    r"(?P<first>\d{20})-(?P<last>\d{20})\.jsonl$"
)


@dataclass
class Target:
    """One loader deployment under test: its topic, group and bucket."""

    kafka: KafkaBroker
    gcs: GcsServer
    topic: str
    bucket: str
    group: str = field(default_factory=lambda: f"g-{uuid.uuid4().hex[:8]}")

    def env(self, *, production: bool = False, **overrides: object) -> dict[str, str]:
        """The loader's environment. Unless ``production``, with a short session timeout (Tansu's
        first join takes about half the session timeout) and idle exit; ``production`` keeps every
        default but the deployment's identity (topic, group, bucket)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("LOADER_", "KAFKA_", "GCS_", "CLOUD_RUN_"))
        }
        env.update(
            self.gcs.env(),
            GCS_BUCKET_NAME=self.bucket,
            KAFKA_BROKERS=self.kafka.bootstrap,
            KAFKA_TOPIC=self.topic,
            KAFKA_CONSUMER_GROUP=self.group,
            PYTHONPATH=str(REPO),
        )
        if not production:
            env.update(
                KAFKA_SESSION_TIMEOUT_MS=str(FAST_GROUP_SETTINGS["session.timeout.ms"]),
                KAFKA_HEARTBEAT_INTERVAL_MS=str(FAST_GROUP_SETTINGS["heartbeat.interval.ms"]),
                LOADER_IDLE_EXIT_SECONDS="15",
            )
        env.update({k.upper(): str(v) for k, v in overrides.items()})
        return env

    def start(self, *, production: bool = False, **overrides: object) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "app.loader"],
            cwd=REPO,
            env=self.env(production=production, **overrides),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, timeout: float = 60, *, production: bool = False, **overrides: object) -> LoaderRun:
        return finish(self.start(production=production, **overrides), timeout)

    def committed(self) -> dict[int, int]:
        return self.kafka.committed(self.group, self.topic)

    def stored(self) -> Stored:
        return read_bucket(self.gcs.client(), self.bucket)


def cloud_run_task(job: str, execution: str, index: int = 0, attempt: int = 0) -> dict[str, object]:
    """The variables Cloud Run sets in every task of a job execution (container runtime contract)."""
    return {
        "cloud_run_job": job,
        "cloud_run_execution": execution,
        "cloud_run_task_index": index,
        "cloud_run_task_attempt": attempt,
        "cloud_run_task_count": 1,
    }


@dataclass
class LoaderRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def logs(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    @property
    def summary(self) -> dict:
        summaries = [entry for entry in self.logs if entry["message"] == "loader summary"]
        assert summaries, (
            f"no summary line (rc={self.returncode}):\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"
        )
        return summaries[-1]

    def started(self) -> dict:
        return next(entry for entry in self.logs if entry["message"] == "loader started")


class Watched:
    """A loader subprocess whose log lines are read as they come, so a test can wait for one (an event,
    not a guess at how long the loader takes) while it runs; ``finish`` ends like ``finish()``."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self._lines: list[str] = []
        self._err: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(process.stdout, self._lines), daemon=True),
            threading.Thread(target=self._read, args=(process.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(
        self,
        message: str,
        where: Callable[[dict], bool] = lambda entry: True,
        *,
        after: dict | None = None,
        timeout: float = 120,
    ) -> dict:
        """The first log entry with this message (and ``where`` true of it), logged after the entry
        ``after`` if given, waiting for it while the loader runs."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                entries = [json.loads(line) for line in self._lines if line.startswith("{")]
                start = entries.index(after) + 1 if after is not None else 0
                for entry in entries[start:]:
                    if entry.get("message") == message and where(entry):
                        return entry
                left = deadline - time.monotonic()
                if left <= 0 or (
                    self.process.poll() is not None and not any(r.is_alive() for r in self._readers)
                ):
                    raise AssertionError(f"the loader logged no {message!r}:\n{''.join(self._lines)[-3000:]}")
                self._changed.wait(min(left, 0.5))

    def finish(self, timeout: float = 60) -> LoaderRun:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"loader did not exit within {timeout} s:\n{''.join(self._lines)[-3000:]}"
            ) from None
        for reader in self._readers:
            reader.join(10)
        return LoaderRun(self.process.returncode, "".join(self._lines), "".join(self._err))


def finish(process: subprocess.Popen, timeout: float = 60) -> LoaderRun:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(
            f"loader did not exit within {timeout} s:\n{stdout[-3000:]}\n{stderr[-3000:]}"
        ) from None
    return LoaderRun(process.returncode, stdout, stderr)


@dataclass
class StoredLine:
    object_name: str
    partition: int
    first: int
    last: int
    data: dict


@dataclass
class Stored:
    records: list[StoredLine]
    dead_letters: list[StoredLine]
    manifests: list[dict]
    objects: dict[str, storage.Blob]

    def record_ids(self) -> Counter:
        return Counter(line.data["id"] for line in self.records)

    def dead_values(self) -> Counter:
        return Counter(decode_value(json.dumps(line.data)) for line in self.dead_letters)


def read_bucket(client: storage.Client, bucket: str) -> Stored:
    """Every object, read through a normal download (so gzip objects must read as JSONL too)."""
    records: list[StoredLine] = []
    dead: list[StoredLine] = []
    manifests: list[dict] = []
    objects: dict[str, storage.Blob] = {}
    for blob in client.list_blobs(bucket):
        objects[blob.name] = blob
        data = blob.download_as_bytes()
        if blob.name.startswith("_loader/chunks/"):
            manifests.append(json.loads(data))
            continue
        match = OBJECT_NAME.match(blob.name)
        assert match, f"unexpected object name {blob.name}"
        target = dead if match["prefix"].startswith("deadletter/") else records
        for raw in data.splitlines(keepends=True):
            if match["prefix"].startswith("raw/"):
                parsed = parse_stored_line(raw).model_dump(mode="json")
            else:
                parsed = json.loads(raw)
            target.append(
                StoredLine(
                    blob.name, int(match["partition"]), int(match["first"]), int(match["last"]), parsed
                )
            )
    return Stored(records, dead, manifests, objects)


def assert_exactly_once(stored: Stored, valid_ids: list[str], invalid_values: list[bytes | None]) -> None:
    ids = stored.record_ids()
    duplicated = {record_id: n for record_id, n in ids.items() if n > 1}
    assert not duplicated, f"records stored more than once: {dict(list(duplicated.items())[:10])}"
    missing = set(valid_ids) - set(ids)
    assert not missing, f"{len(missing)} records missing, e.g. {sorted(missing)[:10]}"
    assert set(ids) == set(valid_ids)
    assert stored.dead_values() == Counter(invalid_values)


def assert_chunks_tile(stored: Stored, end_offsets: dict[int, int]) -> None:
    """Per partition, the chunk manifests cover [start, end) without gap or overlap, and every data
    object belongs to one of them."""
    ranges: dict[int, list[tuple[int, int]]] = {}
    for manifest in stored.manifests:
        ranges.setdefault(manifest["partition"], []).append((manifest["first"], manifest["last"]))
    for partition, end in end_offsets.items():
        chunks = sorted(ranges.get(partition, []))
        if end == 0:
            assert not chunks
            continue
        assert chunks, f"partition {partition}: no chunk"
        assert chunks[0][0] == 0, f"partition {partition} starts at {chunks[0][0]}"
        for (_, last), (first, _) in itertools.pairwise(chunks):
            assert first == last + 1, f"partition {partition}: chunks {chunks} overlap or leave a gap"
        assert chunks[-1][1] == end - 1, (
            f"partition {partition}: chunks end at {chunks[-1][1]}, not {end - 1}"
        )
    known = {(m["partition"], m["first"], m["last"]) for m in stored.manifests}
    for line in stored.records + stored.dead_letters:
        assert (line.partition, line.first, line.last) in known, f"{line.object_name} has no manifest"


def offsets_of(produced: list[Produced]) -> dict[tuple[int, int], bytes | None]:
    return {(p.partition, p.offset): p.value for p in produced}


def run_concurrently(scenarios: dict[str, Callable[[], T]]) -> dict[str, cf.Future[T]]:
    """Run independent scenarios side by side (a loader run mostly waits for its consumer group to
    form, so this keeps the integration modules short). Each test calls ``.result()`` on its own, so a
    scenario's failure fails only the tests that read it."""
    with cf.ThreadPoolExecutor(max_workers=len(scenarios)) as pool:
        futures = {name: pool.submit(fn) for name, fn in scenarios.items()}
        cf.wait(futures.values())
    return futures


@contextmanager
def loader_on_its_consumer(kafka: KafkaBroker, topic: str) -> Iterator[Loader]:
    """A ``Loader`` of a fresh group on ``topic``, with a real consumer and no store or upload pool: for
    driving its partition and commit methods directly against the broker."""
    settings = LoaderSettings(
        gcs_bucket_name="bucket",
        kafka_brokers=kafka.bootstrap,
        kafka_topic=topic,
        kafka_consumer_group=f"g-{uuid.uuid4().hex[:8]}",
    )
    loader = Loader(settings, store=object(), logger=logging.getLogger("test-loader"))  # type: ignore[arg-type]
    loader._pool.shutdown()
    loader._consumer = Consumer(settings.kafka_config())
    try:
        yield loader
    finally:
        loader._consumer.close()
