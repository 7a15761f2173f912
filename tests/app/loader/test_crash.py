"""Killed at any moment (SIGKILL, via the test-only LOADER_CRASH_AT hook) and run again, the loader
stores every valid record exactly once and every invalid message exactly once in the dead letters.

All scenarios run side by side (each with its own topic, group and bucket): a loader run is mostly
waiting for the consumer group to form, so running them in parallel keeps the module short. The runs
that get killed use a 2 s session timeout: a SIGKILLed consumer never leaves its group, and the rerun's
join waits until the dead member's session expires.
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
    finish,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

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
]


@pytest.fixture(scope="module")
def scenarios(kafka_broker, gcs_server) -> dict[str, Scenario]:
    for scenario in SCENARIOS:
        scenario.target = Target(
            kafka_broker, gcs_server, kafka_broker.create_topic(partitions=3), gcs_server.new_bucket().name
        )
        scenario.data = dataset(300, poison_every=20)
        kafka_broker.produce(
            scenario.target.topic, scenario.data.values, timestamps_ms=scenario.data.timestamps_ms
        )
        scenario.results = []
    for phase in range(max(len(s.runs) for s in SCENARIOS)):
        running = []
        for scenario in SCENARIOS:
            if phase < len(scenario.runs):
                overrides = scenario.runs[phase]
                killed = KILLED_RUN if "loader_crash_at" in overrides else {}
                running.append((scenario, scenario.target.start(**{**BASE, **killed, **overrides})))
        for scenario, process in running:
            scenario.results.append(finish(process, timeout=90))
    for scenario in SCENARIOS:
        scenario.stored = scenario.target.stored()
        scenario.ends = kafka_broker.end_offsets(scenario.target.topic)
        scenario.committed = scenario.target.committed()
    return {scenario.name: scenario for scenario in SCENARIOS}


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


def test_gzip_objects_read_as_jsonl_through_a_normal_download(scenarios) -> None:
    stored = scenarios["gzip_before_commit"].stored
    data_objects = [blob for name, blob in stored.objects.items() if not name.startswith("_loader/")]
    assert data_objects
    assert all(blob.content_encoding == "gzip" for blob in data_objects)
    assert stored.records  # read_bucket parsed them from download_as_bytes()
