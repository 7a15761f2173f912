"""The loader against a real broker (Tansu) and fake-gcs-server: what a normal run stores, where, and
how it ends (end offsets, SIGTERM, several tasks in one group).

Every scenario runs in the module fixture, side by side with the others (each has its own topic,
group and bucket); the tests then check one property each.
"""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.records import parse_message
from tests.app.loader.dataset import SMALL_MAX_MESSAGE_BYTES, Dataset, dataset, valid_message
from tests.app.loader.helpers import (
    LoaderRun,
    Stored,
    Target,
    Watched,
    assert_chunks_tile,
    assert_exactly_once,
    finish,
    run_concurrently,
)
from tests.support.kafka import KafkaBroker, Produced

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.cost(22)]

SMALL_CHUNKS = {
    "loader_rotation_bytes": 16_384,
    "loader_max_buffer_bytes": 65_536,
    "loader_max_message_bytes": SMALL_MAX_MESSAGE_BYTES,
}


@dataclass
class Outcome:
    target: Target
    runs: list[LoaderRun]
    data: Dataset | None = None
    produced: list[Produced] = field(default_factory=list)
    stored: Stored | None = None
    committed: dict[int, int] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _new_target(kafka: KafkaBroker, gcs, partitions: int = 3) -> Target:
    return Target(kafka, gcs, kafka.create_topic(partitions=partitions), gcs.new_bucket().name)


def _finish_outcome(outcome: Outcome) -> Outcome:
    outcome.stored = outcome.target.stored()
    outcome.committed = outcome.target.committed()
    outcome.ends = outcome.target.kafka.end_offsets(outcome.target.topic)
    return outcome


def _mixed(kafka, gcs) -> Outcome:
    """600 valid records and 60 poison messages of every kind, on 3 partitions, one run."""
    target = _new_target(kafka, gcs)
    data = dataset(600, poison_every=10)
    produced = kafka.produce(target.topic, data.values, timestamps_ms=data.timestamps_ms)
    return _finish_outcome(Outcome(target, [target.run(**SMALL_CHUNKS)], data, produced))


def _arriving(kafka, gcs) -> Outcome:
    """Messages keep arriving during the run."""
    target = _new_target(kafka, gcs)
    kafka.produce(target.topic, [valid_message(i) for i in range(300)])
    stop = threading.Event()
    producer = kafka.producer()

    def keep_producing() -> None:
        i = 10_000
        while not stop.is_set():
            producer.produce(target.topic, valid_message(i), partition=i % 3)
            producer.poll(0)
            i += 1
            time.sleep(0.002)
        producer.flush(10)

    thread = threading.Thread(target=keep_producing, daemon=True)
    thread.start()
    try:
        run = target.run(**SMALL_CHUNKS)
    finally:
        stop.set()
        thread.join(15)
    return _finish_outcome(Outcome(target, [run]))


def _sigterm(kafka, gcs) -> Outcome:
    """SIGTERM as the 4th object upload completes (uploads in flight, chunks open), then a rerun."""
    target = _new_target(kafka, gcs)
    data = dataset(900, poison_every=30)
    produced = kafka.produce(target.topic, data.values, timestamps_ms=data.timestamps_ms)
    stopped = target.run(**SMALL_CHUNKS, loader_crash_at="after_upload:4:TERM", loader_upload_concurrency=2)
    outcome = Outcome(target, [stopped], data, produced)
    outcome.extra["committed_after_stop"] = target.committed()
    outcome.extra["stored_after_stop"] = target.stored()
    outcome.runs.append(target.run(**SMALL_CHUNKS))
    return _finish_outcome(outcome)


def _two_loaders(kafka, gcs) -> Outcome:
    target = _new_target(kafka, gcs, partitions=4)
    data = dataset(2400, poison_every=50)
    kafka.produce(target.topic, data.values, timestamps_ms=data.timestamps_ms)
    settings = {**SMALL_CHUNKS, "loader_rotation_bytes": 8192}
    first, second = target.start(**settings), target.start(**settings)
    return _finish_outcome(Outcome(target, [finish(first), finish(second)], data))


def _member_leaves(kafka, gcs) -> Outcome:
    """Two loaders in one group; once both hold their partitions, one is stopped (SIGTERM, as Cloud Run
    stops a task) as soon as it is reading its own (its first dead letter there) and leaves the group.
    The other's partitions are then revoked mid-run (uploads in flight, chunks open) and it is given
    all four, including what the leaver had read but not committed. Tiny chunks, one upload at a time,
    keep it busy through the rebalance. (Reruns adopting a SIGKILLed run's chunks: test_crash.py.)

    Nothing here is a guess at how fast the processes go:
    - the stop waits for the group to hold both members (events in their logs): Tansu loses a group
      whose only member leaves while another's join is under way (see test_membership.py), and a leaver
      stopped by a message count could, on a loaded machine, get every partition and stop before the
      other's join ended; the other was then never assigned anything;
    - partitions 0 and 1 hold four times the messages of 2 and 3, and the leaver is whichever loader the
      range assignor gave 2 and 3: the survivor has most of the work still to do when the rebalance
      reaches it (up to 19 s after the leave on a loaded machine, longer than an even share of the work
      took);
    - the tests' usual 6 s sessions: with 2 s ones, a loaded machine sometimes never let the second
      loader's join complete, and the first loaded everything alone.
    No shutdown grace, so a revocation never waits for uploads. The survivor's limit is 240 s (20-50 s
    of work, idle to loaded)."""
    target = _new_target(kafka, gcs, partitions=4)
    data = dataset(2000, poison_every=40)
    heavy = [0, 1, 0, 1, 0, 1, 0, 1, 2, 3]  # 800 messages each on 0 and 1, 200 on 2 and 3
    partition_of = [heavy[i % len(heavy)] for i in range(len(data.values))]
    kafka.produce(target.topic, data.values, partition_of=partition_of, timestamps_ms=data.timestamps_ms)
    settings = {
        **SMALL_CHUNKS,
        "loader_rotation_bytes": 1024,
        "loader_max_buffer_bytes": 2048,
        "loader_upload_concurrency": 1,
        "loader_shutdown_grace_seconds": 0,
    }
    loaders = [Watched(target.start(**settings)), Watched(target.start(**settings))]
    # Four partitions, two members: two each once the group is whole.
    holds = [
        loader.wait_for("partitions assigned", where=lambda entry: len(entry["partitions"]) == 2)
        for loader in loaders
    ]
    leaver = next(i for i, entry in enumerate(holds) if set(entry["partitions"]) == {"2", "3"})
    victim, survivor = loaders[leaver], loaders[1 - leaver]
    victim.wait_for("invalid message sent to dead letters", after=holds[leaver])  # reading its own
    victim.process.send_signal(signal.SIGTERM)
    return _finish_outcome(Outcome(target, [victim.finish(120), survivor.finish(240)], data))


def _nothing_new(kafka, gcs) -> Outcome:
    target = _new_target(kafka, gcs)
    kafka.produce(target.topic, [valid_message(i) for i in range(30)])
    outcome = Outcome(target, [target.run()])
    outcome.extra["objects_after_first"] = set(target.stored().objects)
    outcome.runs.append(target.run())
    return _finish_outcome(outcome)


MANY_PARTITIONS = 12
TIGHT = {"loader_rotation_bytes": 16_384, "loader_max_buffer_bytes": 40_960}


def _many_partitions(kafka, gcs) -> Outcome:
    """12 partitions with room for 12 x 16 KiB open chunks, under a 40 KiB global bound."""
    target = _new_target(kafka, gcs, partitions=MANY_PARTITIONS)
    data = dataset(1500)
    kafka.produce(target.topic, data.values, timestamps_ms=data.timestamps_ms)
    run = target.run(**{**SMALL_CHUNKS, **TIGHT})
    return _finish_outcome(Outcome(target, [run], data))


def _missing_bucket(kafka, gcs) -> Outcome:
    target = Target(kafka, gcs, kafka.create_topic(partitions=2), "no-such-bucket-here")
    kafka.produce(target.topic, [valid_message(i) for i in range(20)])
    outcome = Outcome(target, [target.run()])
    outcome.committed = target.committed()
    return outcome


def _unknown_topic(kafka, gcs) -> Outcome:
    target = Target(kafka, gcs, "no-such-topic", gcs.new_bucket().name)
    return Outcome(target, [target.run()])


@pytest.fixture(scope="module")
def outcomes(kafka_broker, gcs_server):
    scenarios = {
        "mixed": _mixed,
        "arriving": _arriving,
        "sigterm": _sigterm,
        "two_loaders": _two_loaders,
        "member_leaves": _member_leaves,
        "nothing_new": _nothing_new,
        "unknown_topic": _unknown_topic,
        "many_partitions": _many_partitions,
        "missing_bucket": _missing_bucket,
    }
    return run_concurrently(
        {name: (lambda fn=fn: fn(kafka_broker, gcs_server)) for name, fn in scenarios.items()}
    )


@pytest.fixture
def mixed(outcomes) -> Outcome:
    return outcomes["mixed"].result()


def test_run_exits_zero_with_a_summary_of_what_it_stored(mixed) -> None:
    run, stored = mixed.runs[0], mixed.stored
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    summary = run.summary
    assert summary["severity"] == "INFO"
    assert summary["outcome"] == "completed"
    assert summary["records"] == len(mixed.data.valid_ids)
    assert summary["dead_letters"] == len(mixed.data.invalid)
    assert summary["objects"] == len(stored.objects) - len(stored.manifests)
    assert summary["bytes"] == sum(
        blob.size for name, blob in stored.objects.items() if not name.startswith("_")
    )
    assert summary["partitions"] == [0, 1, 2]
    assert summary["lag_left"] == 0
    assert summary["exit_code"] == 0
    assert summary["group_instance_id"] is None  # not on Cloud Run: dynamic membership
    assert 0 < summary["cpu_seconds"] < 60


def test_every_log_line_is_json_with_a_severity(mixed) -> None:
    lines = [line for line in mixed.runs[0].stdout.splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert json.loads(line)["severity"] in {"DEBUG", "INFO", "WARNING", "ERROR"}


def test_every_valid_record_is_stored_once_and_every_invalid_message_is_dead_lettered_once(mixed) -> None:
    assert_exactly_once(mixed.stored, mixed.data.valid_ids, mixed.data.invalid)
    assert_chunks_tile(mixed.stored, mixed.ends)
    assert mixed.committed == mixed.ends


def test_records_are_filed_by_source_and_utc_day_in_canonical_form(mixed) -> None:
    expected = {}
    for item, timestamp in zip(mixed.produced, mixed.data.timestamps_ms, strict=True):
        if item.value is not None and item.value.startswith(b'{"id": "rec-'):
            record = parse_message(item.value, kafka_timestamp_ms=timestamp)
            expected[record.id] = record
    days = Counter()
    for line in mixed.stored.records:
        record = expected[line.data["id"]]
        assert line.object_name.startswith(f"raw/{record.source}/{record.day().isoformat()}/")
        assert line.data == record.model_dump(mode="json")
        days[line.object_name.split("/")[2]] += 1
    assert set(days) == {"2025-01-31", "2025-02-01"}  # the data crosses midnight UTC


def test_objects_are_named_by_topic_partition_and_chunk_offsets(mixed) -> None:
    origin = {
        json.loads(p.value)["id"]: p
        for p in mixed.produced
        if p.value and p.value.startswith(b'{"id": "rec-')
    }
    for line in mixed.stored.records:
        produced = origin[line.data["id"]]
        assert f"/{mixed.target.topic}-{produced.partition}-" in line.object_name
        assert line.partition == produced.partition
        assert line.first <= produced.offset <= line.last
    blob = next(b for name, b in mixed.stored.objects.items() if name.startswith("raw/"))
    assert blob.content_type == "application/jsonl"
    assert blob.metadata["kafka-topic"] == mixed.target.topic


def test_dead_letters_keep_the_original_bytes_offset_and_reason(mixed) -> None:
    origin = {(p.partition, p.offset): p.value for p in mixed.produced}
    reasons = Counter()
    for line in mixed.stored.dead_letters:
        envelope = line.data
        assert envelope["topic"] == mixed.target.topic
        value = origin[(envelope["partition"], envelope["offset"])]
        encoded = envelope["value_base64"]
        assert (None if encoded is None else base64.b64decode(encoded)) == value
        assert envelope["reason"] == mixed.data.reasons[value]
        assert envelope["detail"]
        assert envelope["timestamp"].startswith("2025-01-31T")
        assert line.object_name.startswith("deadletter/2025-01-31/")
        reasons[envelope["reason"]] += 1
    assert set(reasons) == set(mixed.data.reasons.values())
    assert len(reasons) >= 9  # every kind of poison is represented


def test_run_stops_at_the_end_offsets_seen_at_start_while_messages_keep_arriving(outcomes) -> None:
    outcome = outcomes["arriving"].result()
    run = outcome.runs[0]
    assert run.returncode == 0, run.stdout[-2000:]
    start_ends = {int(p): end for p, end in run.started()["end_offsets"].items()}
    assert outcome.committed == start_ends
    assert outcome.ends != start_ends  # messages did arrive during the run
    assert sum(outcome.stored.record_ids().values()) == sum(start_ends.values())
    assert all(line.last < start_ends[line.partition] for line in outcome.stored.records)


def test_sigterm_stops_cleanly_and_commits_only_what_is_durable(outcomes) -> None:
    outcome = outcomes["sigterm"].result()
    stopped = outcome.runs[0]
    assert stopped.returncode == 0, stopped.stdout[-2000:] + stopped.stderr[-2000:]
    assert stopped.summary["outcome"] == "stopped"
    assert stopped.summary["stopped_by"] == "SIGTERM"
    assert stopped.summary["lag_left"] > 0
    committed = outcome.extra["committed_after_stop"]
    stored_ids = outcome.extra["stored_after_stop"].record_ids()
    checked = 0
    for item in outcome.produced:
        if item.offset < committed[item.partition] and item.value and item.value.startswith(b'{"id": "rec-'):
            assert stored_ids[json.loads(item.value)["id"]] == 1, f"{item.partition}/{item.offset} not stored"
            checked += 1
    assert checked > 0  # the stop came after some commits


def test_after_a_sigterm_the_next_run_stores_the_rest_exactly_once(outcomes) -> None:
    outcome = outcomes["sigterm"].result()
    assert outcome.runs[1].returncode == 0
    assert_exactly_once(outcome.stored, outcome.data.valid_ids, outcome.data.invalid)
    assert outcome.committed == outcome.ends


def test_two_loaders_in_one_group_share_the_partitions_and_store_everything_once(outcomes) -> None:
    outcome = outcomes["two_loaders"].result()
    runs = outcome.runs
    assert [run.returncode for run in runs] == [0, 0], [
        run.stdout[-3000:] + run.stderr[-2000:] for run in runs
    ]
    assert all(run.summary["partitions"] for run in runs), "one loader got no partition"
    assert set().union(*(run.summary["partitions"] for run in runs)) == {0, 1, 2, 3}
    assert sum(run.summary["records"] for run in runs) == len(outcome.data.valid_ids)
    assert_exactly_once(outcome.stored, outcome.data.valid_ids, outcome.data.invalid)
    assert outcome.committed == outcome.ends


def test_a_rebalance_mid_run_loses_and_duplicates_nothing(outcomes) -> None:
    outcome = outcomes["member_leaves"].result()
    victim, survivor = outcome.runs
    assert victim.returncode == 0, victim.stdout[-2000:]
    assert victim.summary["outcome"] == "stopped"
    assert survivor.returncode == 0, survivor.stdout[-3000:] + survivor.stderr[-2000:]
    # The scenario really happened: the survivor was revoked and assigned again before its end.
    assignments = [entry for entry in survivor.logs if entry["message"] == "partitions assigned"]
    assert len(assignments) >= 2, [entry["message"] for entry in survivor.logs][:40]
    assert len(assignments[-1]["partitions"]) == 4
    assert_exactly_once(outcome.stored, outcome.data.valid_ids, outcome.data.invalid)
    assert_chunks_tile(outcome.stored, outcome.ends)
    assert outcome.committed == outcome.ends


def test_a_run_with_nothing_new_writes_nothing(outcomes) -> None:
    outcome = outcomes["nothing_new"].result()
    assert [run.returncode for run in outcome.runs] == [0, 0]
    assert outcome.runs[1].summary["records"] == 0
    assert set(outcome.stored.objects) == outcome.extra["objects_after_first"]


def test_memory_stays_under_the_global_bound_whatever_the_partition_count(outcomes) -> None:
    outcome = outcomes["many_partitions"].result()
    run = outcome.runs[0]
    assert run.returncode == 0, run.stdout[-2000:]
    largest_line = max(len(value) for value in outcome.data.values) + 200  # canonical form adds keys
    assert run.summary["peak_buffered_bytes"] <= TIGHT["loader_max_buffer_bytes"] + largest_line
    # Without the bound, every partition would fill a chunk first: far more than the bound.
    assert MANY_PARTITIONS * TIGHT["loader_rotation_bytes"] > 4 * TIGHT["loader_max_buffer_bytes"]
    assert_exactly_once(outcome.stored, outcome.data.valid_ids, outcome.data.invalid)
    assert outcome.committed == outcome.ends


def test_unknown_topic_fails_with_a_clear_error(outcomes) -> None:
    run = outcomes["unknown_topic"].result().runs[0]
    assert run.returncode == 1
    errors = [entry["message"] for entry in run.logs if entry["severity"] == "ERROR"]
    assert any("no-such-topic" in message for message in errors), errors


def test_a_missing_bucket_fails_the_run_at_start_naming_it_and_commits_nothing(outcomes) -> None:
    outcome = outcomes["missing_bucket"].result()
    run = outcome.runs[0]
    assert run.returncode == 1, run.stdout[-2000:]
    assert run.summary["outcome"] == "failed"
    assert any(
        "gs://no-such-bucket-here does not exist" in entry["message"]
        for entry in run.logs
        if entry["severity"] == "ERROR"
    )
    assert run.summary["records"] == 0  # checked before anything was consumed
    assert all(offset < 0 for offset in outcome.committed.values())


def test_invalid_settings_exit_2_naming_the_variable(kafka_broker, gcs_server) -> None:
    run = Target(kafka_broker, gcs_server, "t", "bucket-x").run(loader_rotation_bytes="lots")
    assert run.returncode == 2
    assert "LOADER_ROTATION_BYTES (--rotation-bytes)" in run.stdout
