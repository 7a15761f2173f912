"""Killed at any moment (SIGKILL, via the test-only LOADER_CRASH_AT hook) and run again, the loader
stores every valid record exactly once and every invalid message exactly once in the dead letters.

All scenarios run side by side (each with its own topic, group and bucket, its runs one after the
other): a loader run is mostly waiting for the consumer group to form, so running them in parallel
keeps the module short. Most use small chunks, and the runs that get killed a 2 s session timeout (a
SIGKILLed consumer never leaves its group; without static membership the rerun waits until the dead
member's session expires). ``production_defaults`` runs what Cloud Run runs: every default (45 s
session, 4 MiB chunks, 60 s idle exit) and the static membership derived from the Cloud Run task, with
the rerun started at once as a new execution of the same job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.app.loader.dataset import SMALL_MAX_MESSAGE_BYTES, Dataset, dataset
from tests.app.loader.helpers import (
    LoaderRun,
    Stored,
    Target,
    assert_chunks_tile,
    assert_exactly_once,
    cloud_run_task,
    run_concurrently,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.cost(60)]

BASE = {
    "loader_rotation_bytes": 8192,
    "loader_max_buffer_bytes": 32_768,
    "loader_max_message_bytes": SMALL_MAX_MESSAGE_BYTES,
    "loader_upload_concurrency": 2,
}
KILLED_RUN = {"kafka_session_timeout_ms": 2000, "kafka_heartbeat_interval_ms": 200}


@dataclass
class Scenario:
    """Runs in order; every run but the last is expected to be killed by its crash point."""

    name: str
    runs: list[dict]
    production: bool = False  # every default, Cloud Run's task variables, production-sized data
    target: Target | None = None
    data: Dataset | None = None
    results: list[LoaderRun] = field(default_factory=list)
    stored: Stored | None = None
    ends: dict[int, int] = field(default_factory=dict)
    committed: dict[int, int] = field(default_factory=dict)


SCENARIOS = [
    Scenario("after_manifest", [{"loader_crash_at": "after_manifest:3"}, {}]),
    Scenario("before_upload", [{"loader_crash_at": "before_upload:5"}, {}]),
    Scenario("between_upload_and_commit", [{"loader_crash_at": "after_upload:6"}, {}]),
    # gzip here: the rerun must produce byte-identical compressed objects, or they would "conflict".
    Scenario(
        "gzip_before_commit",
        [
            {"loader_crash_at": "before_commit:2", "loader_compression": "gzip"},
            {"loader_compression": "gzip"},
        ],
    ),
    Scenario("mid_batch", [{"loader_crash_at": "mid_batch:200"}, {}]),
    Scenario("twice", [{"loader_crash_at": "after_upload:4"}, {"loader_crash_at": "after_manifest:2"}, {}]),
    # The rerun cuts chunks differently (other rotation size): it must adopt the earlier run's ranges.
    Scenario(
        "rerun_with_smaller_chunks",
        [
            {"loader_crash_at": "before_commit:1", "loader_rotation_bytes": 16_384},
            {"loader_rotation_bytes": 4096},
        ],
    ),
    Scenario(
        "rerun_with_larger_chunks",
        [
            {"loader_crash_at": "after_upload:8", "loader_rotation_bytes": 4096},
            {"loader_rotation_bytes": 24_576, "loader_max_buffer_bytes": 65_536},
        ],
    ),
    # Killed after the 7th of about 30 uploads (some chunks committed, one half stored), then at once
    # a new execution of the job: task 0 again, so the same group.instance.id.
    Scenario(
        "production_defaults",
        [
            {"loader_crash_at": "after_upload:7", **cloud_run_task("interaction-loader", "loader-e1")},
            cloud_run_task("interaction-loader", "loader-e2"),
        ],
        production=True,
    ),
]
# About 5.3 MB per partition: two default (4 MiB) chunks each. No "oversized" poison: it is sized for
# the small limit of the other scenarios, and a message over the default 1 MiB cannot be produced with
# the producer's defaults.
PRODUCTION_DATA = {"valid": 6000, "poison_every": 50, "text_bytes": 2400, "skip_reasons": {"oversized"}}


def _play(scenario: Scenario, kafka, gcs) -> Scenario:
    scenario.target = target = Target(kafka, gcs, kafka.create_topic(partitions=3), gcs.new_bucket().name)
    if scenario.production:
        data = PRODUCTION_DATA
        scenario.data = dataset(
            data["valid"],
            poison_every=data["poison_every"],
            text_bytes=data["text_bytes"],
            skip_reasons=frozenset(data["skip_reasons"]),
        )
    else:
        scenario.data = dataset(300, poison_every=20)
    kafka.produce(target.topic, scenario.data.values, timestamps_ms=scenario.data.timestamps_ms)
    scenario.results = []
    for overrides in scenario.runs:
        if scenario.production:
            # Tansu's first join takes about half the session timeout: ~25 s at the default 45 s.
            run = target.run(timeout=150, production=True, **overrides)
        else:
            killed = KILLED_RUN if "loader_crash_at" in overrides else {}
            run = target.run(timeout=90, **{**BASE, **killed, **overrides})
        scenario.results.append(run)
    scenario.stored = target.stored()
    scenario.ends = kafka.end_offsets(target.topic)
    scenario.committed = target.committed()
    return scenario


@pytest.fixture(scope="module")
def scenarios(kafka_broker, gcs_server) -> dict[str, Scenario]:
    futures = run_concurrently({s.name: (lambda s=s: _play(s, kafka_broker, gcs_server)) for s in SCENARIOS})
    return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_crashed_runs_die_at_their_crash_point_and_the_last_run_completes(scenarios, name: str) -> None:
    scenario = scenarios[name]
    *crashed, last = scenario.results
    for run in crashed:
        assert run.returncode == -9, f"expected a SIGKILL, got {run.returncode}: {run.stdout[-2000:]}"
    assert last.returncode == 0, last.stdout[-3000:] + last.stderr[-3000:]
    assert last.summary["outcome"] == "completed"
    assert last.summary["objects_conflicting"] == 0


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_after_the_rerun_everything_is_stored_exactly_once(scenarios, name: str) -> None:
    scenario = scenarios[name]
    assert_exactly_once(scenario.stored, scenario.data.valid_ids, scenario.data.invalid)
    assert_chunks_tile(scenario.stored, scenario.ends)
    assert scenario.committed == scenario.ends


def test_reruns_reused_what_the_crashed_runs_had_stored(scenarios) -> None:
    # Objects written before the crash are found (412) rather than rewritten, and chunk ranges of the
    # crashed run are adopted by the rerun.
    for name in ("between_upload_and_commit", "gzip_before_commit"):
        assert scenarios[name].results[-1].summary["objects_already_stored"] > 0, name
    for name in ("rerun_with_smaller_chunks", "rerun_with_larger_chunks", "after_manifest"):
        assert scenarios[name].results[-1].summary["chunks_adopted"] > 0, name


def test_with_the_production_defaults_the_immediate_rerun_loads_everything(scenarios) -> None:
    # The failure this guards against: the rerun waited 30 s for partitions that the killed member
    # held for its 45 s session, got none, and exited 0 having loaded nothing.
    scenario = scenarios["production_defaults"]
    killed, rerun = scenario.results
    assert killed.started()["group_instance_id"] == rerun.started()["group_instance_id"]
    assert rerun.started()["group_instance_id"] == "interaction-loader-0"
    summary = rerun.summary
    assert (summary["exit_code"], summary["lag_left"]) == (0, 0)
    assert summary["partitions"] == [0, 1, 2]
    # The kill came mid-run: the rerun found objects of a chunk the killed run had not committed.
    assert summary["objects_already_stored"] > 0
    # Production-sized chunks: more than one per partition.
    assert len(scenario.stored.manifests) > 3


def test_gzip_objects_read_as_jsonl_through_a_normal_download(scenarios) -> None:
    stored = scenarios["gzip_before_commit"].stored
    data_objects = [blob for name, blob in stored.objects.items() if not name.startswith("_loader/")]
    assert data_objects
    assert all(blob.content_encoding == "gzip" for blob in data_objects)
    assert stored.records  # read_bucket parsed them from download_as_bytes()
