"""The loader in its consumer group: static membership, a task with no partition, and what a run
leaves behind for the next one (real broker: Tansu; fake-gcs-server).

What Tansu (v0.6.0-510f3e2, the test broker) does with ``group.instance.id``, found by hand (see
docs/loader.md): a member that rejoins with the id of a killed member gets its partitions back after a
normal join; a static member that is killed or closes without leaving is never dropped (real Kafka
drops it after its session timeout); two members with the same id both get the partitions (real Kafka
fences the older one); and a group of two or more static members with different ids never settles
(assignments are revoked every few seconds). So the scenarios with several members in one group run
with dynamic membership, as the loader does outside Cloud Run; the static ones have one member at a
time, or one id twice. Each holds on real Kafka too.

All scenarios run side by side in the module fixture, with 2 s sessions (Tansu's join takes about half
the session timeout); each test checks one property.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, TopicPartition

from tests.app.loader.dataset import SMALL_MAX_MESSAGE_BYTES, Dataset, dataset
from tests.app.loader.helpers import (
    LoaderRun,
    Stored,
    Target,
    assert_exactly_once,
    finish,
    run_concurrently,
)
from tests.support.kafka import KafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.cost(15)]

SHORT = {
    "kafka_session_timeout_ms": 2000,
    "kafka_heartbeat_interval_ms": 200,
    "loader_max_message_bytes": SMALL_MAX_MESSAGE_BYTES,
    "loader_rotation_bytes": 8192,
    "loader_max_buffer_bytes": 32_768,
}
# The shortest wait the settings allow with a 2 s session and no shutdown grace.
QUICK_GIVE_UP = {"loader_shutdown_grace_seconds": 0, "loader_idle_exit_seconds": 3}
# The standby must see the group's lag fall at least once per idle limit, from commits the test makes at
# its own pace: 12 commits per idle limit, so a stall of the committing thread (a loaded machine) of
# most of the limit is still no idle limit without progress.
STANDBY = {"loader_shutdown_grace_seconds": 0, "loader_idle_exit_seconds": 6}
STANDBY_PACE = STANDBY["loader_idle_exit_seconds"] / 12


@dataclass
class Outcome:
    target: Target
    data: Dataset
    runs: list[LoaderRun] = field(default_factory=list)
    stored: Stored | None = None
    committed: dict[int, int] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _target(kafka: KafkaBroker, gcs, partitions: int) -> Target:
    return Target(kafka, gcs, kafka.create_topic(partitions=partitions), gcs.new_bucket().name)


def _finish(outcome: Outcome) -> Outcome:
    outcome.stored = outcome.target.stored()
    outcome.committed = outcome.target.committed()
    outcome.ends = outcome.target.kafka.end_offsets(outcome.target.topic)
    return outcome


def _assigned_member(kafka: KafkaBroker, target: Target, client_id: str) -> Consumer:
    """A plain consumer in the loader's group (short session, no auto-commit), once it holds partitions.
    Member ids start with the client id, so one that sorts before "llm-judge-loader-..." is listed
    first by the range assignor."""
    member = Consumer(
        {
            "bootstrap.servers": kafka.bootstrap,
            "group.id": target.group,
            "client.id": client_id,
            "session.timeout.ms": 2000,
            "heartbeat.interval.ms": 200,
            "enable.auto.commit": False,
        }
    )
    member.subscribe([target.topic])
    deadline = time.monotonic() + 30
    while not member.assignment() and time.monotonic() < deadline:
        member.consume(100, 0.1)
    assert member.assignment(), f"{client_id} was not assigned a partition"
    return member


def _hog(kafka: KafkaBroker, target: Target) -> tuple[Consumer, threading.Event, threading.Thread]:
    """A live member of the loader's group that reads and never commits, polling on a thread until
    the returned event is set. It joins first, so the range assignor lists it first (member ids start
    with the client id: "a-hog-..." comes before the loader's "llm-judge-loader-...")."""
    hog = _assigned_member(kafka, target, "a-hog")
    stop = threading.Event()

    def keep_polling() -> None:  # alive, in the group, reading nothing it commits
        while not stop.is_set():
            hog.consume(100, 0.1)

    poller = threading.Thread(target=keep_polling, daemon=True)
    poller.start()
    return hog, stop, poller


def _hogged(kafka, gcs) -> Outcome:
    """A live member holds the only partition and never commits: the loader, assigned nothing, gives
    up with exit 3. Once that member has left, the retry loads everything."""
    target = _target(kafka, gcs, partitions=1)
    data = dataset(200, poison_every=20)
    kafka.produce(target.topic, data.values, timestamps_ms=data.timestamps_ms)
    hog, stop, poller = _hog(kafka, target)
    outcome = Outcome(target, data)
    try:
        outcome.runs.append(target.run(**SHORT, **QUICK_GIVE_UP))
    finally:
        stop.set()
        poller.join(10)
    # The loader's leaving started a rebalance: let the hog get its partition back before it leaves in
    # turn (Tansu loses a group whose last member leaves in the middle of a rebalance: the next member
    # is never assigned anything). The loader has exited, so its leave is with the broker: the group is
    # rebalancing (not Stable) until the hog has rejoined.
    _wait_until_settled(kafka, target, hog)
    hog.close()  # a dynamic member leaves the group on close
    outcome.runs.append(target.run(**SHORT))
    return _finish(outcome)


def _wait_until_settled(kafka: KafkaBroker, target: Target, member: Consumer, timeout: float = 60) -> None:
    """Poll ``member`` until the broker reports its group Stable and the member holds partitions."""
    admin = kafka.admin()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        member.consume(100, 0.1)
        group = admin.describe_consumer_groups([target.group])[target.group].result(timeout=10)
        if group.state == ConsumerGroupState.STABLE and member.assignment():
            return
    raise AssertionError(f"group {target.group} did not settle with {member} assigned in {timeout} s")


def _shares_the_group(kafka, gcs) -> Outcome:
    """Two partitions, one held by a member that never commits: the loader loads the other and ends
    "completed" while the group still has lag. Its ``lag_left`` is what it leaves itself (0), so the
    lag alert does not fire on a task that finished early in an execution of several; the group's is
    ``group_lag_left``."""
    target = _target(kafka, gcs, partitions=2)
    data = dataset(200, poison_every=50)
    kafka.produce(target.topic, data.values, timestamps_ms=data.timestamps_ms)
    hog, stop, poller = _hog(kafka, target)
    outcome = Outcome(target, data)
    try:
        outcome.runs.append(target.run(**SHORT, **QUICK_GIVE_UP))
    finally:
        stop.set()
        poller.join(10)
        hog.close()
    outcome.committed = target.committed()
    outcome.ends = kafka.end_offsets(target.topic)
    return outcome


def _next_run_after_a_clean_end(kafka, gcs) -> Outcome:
    """A completed run leaves the group: the next one is assigned at once even under another instance
    id (a changed task count, a renamed job). Tansu never drops a static member that did not leave, so
    without the leave this second run would get nothing."""
    target = _target(kafka, gcs, partitions=2)
    data = dataset(300, poison_every=30)
    half = len(data.values) // 2
    kafka.produce(target.topic, data.values[:half], timestamps_ms=data.timestamps_ms[:half])
    outcome = Outcome(target, data)
    outcome.runs.append(target.run(**SHORT, kafka_group_instance_id="loader-0"))
    kafka.produce(target.topic, data.values[half:], timestamps_ms=data.timestamps_ms[half:])
    outcome.runs.append(target.run(**SHORT, kafka_group_instance_id="other-job-0"))
    return _finish(outcome)


def _same_id_twice(kafka, gcs) -> Outcome:
    """Two executions of one job overlap: task 0 of each, one instance id. Real Kafka fences one of
    them (it ends with outcome "fenced", exit 0); Tansu lets both read the same partitions. Either
    way every record is stored once: both cut the same chunks, and create-only writes make the second
    copy a no-op."""
    target = _target(kafka, gcs, partitions=2)
    data = dataset(600, poison_every=40)
    kafka.produce(target.topic, data.values, timestamps_ms=data.timestamps_ms)
    settings = {**SHORT, "kafka_group_instance_id": "interaction-loader-0", "loader_upload_concurrency": 1}
    first, second = target.start(**settings), target.start(**settings)
    return _finish(Outcome(target, data, [finish(first, 90), finish(second, 90)]))


def _standby(kafka, gcs) -> Outcome:
    """One partition, held by another member that commits its way through the messages over several
    seconds (a plain consumer standing in for a busy loader: the group sees the same commits). The
    loader, assigned nothing, keeps waiting past its idle limit while the group's lag falls, and ends
    with exit 0 once everything is committed. (The rule itself, on a clock the test sets: test_idle.py.)"""
    target = _target(kafka, gcs, partitions=1)
    data = dataset(200, poison_every=50)
    kafka.produce(target.topic, data.values, timestamps_ms=data.timestamps_ms)
    end = kafka.end_offsets(target.topic)[0]
    # "a-busy" is first in member id order: the range assignor gives it the partition.
    busy = _assigned_member(kafka, target, "a-busy")
    standby = target.start(**SHORT, **STANDBY)
    lines: list[str] = []
    joined = threading.Event()

    def read_stdout() -> None:  # the busy member must keep polling meanwhile: no blocking reads here
        assert standby.stdout is not None
        for line in standby.stdout:
            lines.append(line)
            if '"message": "partitions assigned"' in line:
                joined.set()

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    # Small commits while the standby starts and joins (progress, whatever its start-up takes), then,
    # once it has its (empty) assignment, the rest in 16 commits STANDBY_PACE apart: it must wait 8 s,
    # 2 s past its idle limit, and it sees the lag fall 12 times per idle limit.
    committed, after_join = 0, 0
    while standby.poll() is None and committed < end:
        pause = time.monotonic() + STANDBY_PACE
        while time.monotonic() < pause:
            busy.consume(100, 0.1)
        if joined.is_set():
            after_join += 1
            committed += -(-(end - committed) // max(1, 17 - after_join))
        elif committed + 2 < end // 2:
            committed += 1
        else:
            continue
        busy.commit(offsets=[TopicPartition(target.topic, 0, committed)], asynchronous=False)
    returncode = standby.wait(60)
    reader.join(10)
    assert standby.stderr is not None
    run = LoaderRun(returncode, "".join(lines), standby.stderr.read())
    busy.close()
    outcome = Outcome(target, data, [run])
    outcome.committed = target.committed()
    outcome.ends = kafka.end_offsets(target.topic)
    return outcome


@pytest.fixture(scope="module")
def outcomes(kafka_broker, gcs_server):
    scenarios = {
        "hogged": _hogged,
        "shares_the_group": _shares_the_group,
        "next_run": _next_run_after_a_clean_end,
        "same_id_twice": _same_id_twice,
        "standby": _standby,
    }
    return run_concurrently(
        {name: (lambda fn=fn: fn(kafka_broker, gcs_server)) for name, fn in scenarios.items()}
    )


def test_a_task_that_finished_its_partitions_reports_its_own_lag_and_the_groups_apart(outcomes) -> None:
    outcome = outcomes["shares_the_group"].result()
    (run,) = outcome.runs
    summary = run.summary
    assert (run.returncode, summary["outcome"]) == (0, "completed"), run.stderr
    assert summary["partitions"] == [1]
    assert summary["lag_left"] == 0
    assert summary["group_lag_left"] == outcome.ends[0] > 0
    assert outcome.committed.get(1) == outcome.ends[1]


def test_a_task_assigned_nothing_while_nobody_loads_exits_3_naming_why(outcomes) -> None:
    outcome = outcomes["hogged"].result()
    run = outcome.runs[0]
    assert run.returncode == 3, run.stdout[-3000:] + run.stderr[-2000:]
    summary = run.summary
    assert (summary["outcome"], summary["exit_code"], summary["severity"]) == ("unassigned", 3, "ERROR")
    assert summary["partitions"] == []
    assert summary["lag_left"] == len(outcome.data.values)
    errors = [entry["message"] for entry in run.logs if entry["severity"] == "ERROR"]
    assert any("no partition assigned for" in message for message in errors), errors


def test_once_the_partition_is_free_the_retried_task_loads_everything(outcomes) -> None:
    outcome = outcomes["hogged"].result()
    retry = outcome.runs[1]
    assert retry.returncode == 0, retry.stdout[-3000:]
    assert_exactly_once(outcome.stored, outcome.data.valid_ids, outcome.data.invalid)
    assert outcome.committed == outcome.ends


def test_a_completed_run_leaves_the_group_so_the_next_is_assigned_under_any_instance_id(outcomes) -> None:
    outcome = outcomes["next_run"].result()
    first, second = outcome.runs
    assert first.returncode == 0, first.stdout[-3000:]
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-2000:]
    assert second.summary["partitions"] == [0, 1]
    assert second.summary["records"] > 0
    assert_exactly_once(outcome.stored, outcome.data.valid_ids, outcome.data.invalid)
    assert outcome.committed == outcome.ends


def test_two_overlapping_tasks_with_one_instance_id_store_everything_once(outcomes) -> None:
    outcome = outcomes["same_id_twice"].result()
    for run in outcome.runs:
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        assert run.summary["outcome"] in {"completed", "fenced"}
        assert run.summary["objects_conflicting"] == 0
    assert_exactly_once(outcome.stored, outcome.data.valid_ids, outcome.data.invalid)
    assert outcome.committed == outcome.ends


def test_a_task_without_a_partition_waits_while_another_loads_and_exits_0(outcomes) -> None:
    outcome = outcomes["standby"].result()
    standby = outcome.runs[0]
    assert standby.returncode == 0, standby.stdout[-3000:] + standby.stderr[-2000:]
    summary = standby.summary
    assert (summary["outcome"], summary["lag_left"], summary["records"]) == ("completed", 0, 0)
    assert outcome.committed == outcome.ends
    # It really was without a partition for longer than its idle limit (else this proves nothing).
    assignments = _assignments(standby)
    assert assignments
    assert not any(entry["partitions"] for entry in assignments)
    waited = _seconds_between(assignments[0]["time"], summary["time"])
    assert waited > STANDBY["loader_idle_exit_seconds"] + 1, waited


def _assignments(run: LoaderRun) -> list[dict]:
    return [entry for entry in run.logs if entry["message"] == "partitions assigned"]


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
