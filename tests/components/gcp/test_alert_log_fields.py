"""Every log-based metric of the stack counts lines the real apps print, and every alert condition on
those metrics sees the series they make: a metric on a field nobody writes is an alert that never fires.

The real loader (``python -m app.loader`` against Tansu and fake-gcs-server) runs twice, side by side:
once stopped by a SIGTERM mid-way (unread messages left), once to completion; both dead-letter poison.
The real batch job (``app.batch_job.cli.main`` against fake-gcs-server and the fake Vertex AI server)
submits a day whose batch then stays queued and a day whose batch ends with a third of its answers
unusable, and runs the scheduled ``collect --lookback`` days later.
Their JSON lines become the LogEntries Cloud Run would write (tests/support/cloud_logging.py), and the
stack is rendered with thresholds just below, then exactly at, the values the runs reported: the
filters, extractors and condition filters are read from the rendered plan and evaluated, never
restated here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from app.batch_job.cli import main as batch_job_main
from app.batch_job.context import Context
from app.batch_job.settings import BatchJobSettings
from components.gcp.builders.log_metrics import USER_METRIC_PREFIX
from tests.app.batch_job.conftest import DAY, record, settings_for
from tests.app.loader.dataset import dataset
from tests.app.loader.helpers import Target, finish, run_concurrently
from tests.support.cloud_logging import cloud_run_entry, comparisons, extract, field_value, matches
from tests.support.fake_vertex import FakeVertex
from tools.mock_outputs_gcp import REGION
from tools.plan_runtime import Plan

from .helpers import CREDENTIALS, gcp_block, render_gcp

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.cost(9)]

LOG_METRIC = "gcp:logging/metric:Metric"
ALERT_POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
PROJECT = gcp_block("dev")["project"]
COLLECT_LOOKBACK = 5
AGE_DAYS = 4  # the collect run is this many days after the day it leaves uncollected
JUDGED_DAY = DAY + dt.timedelta(days=1)  # collected, with one of its three records not judged
SAFE = '{"reasoning": "benign", "verdict": "safe", "severity": "none", "categories": []}'


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _loader_lines(kafka_broker: Any, gcs_server: Any) -> list[dict[str, Any]]:
    """Two loaders side by side on topics of their own: one stopped by a SIGTERM as its 4th object
    lands (messages left unread), one run to completion; both meet poison messages."""

    def target() -> Target:
        topic, bucket = kafka_broker.create_topic(partitions=3), gcs_server.new_bucket().name
        data = dataset(900, poison_every=10)
        kafka_broker.produce(topic, data.values, timestamps_ms=data.timestamps_ms)
        return Target(kafka_broker, gcs_server, topic, bucket)

    small = {"loader_rotation_bytes": 16_384, "loader_max_buffer_bytes": 65_536}
    stopping = target().start(**small, loader_crash_at="after_upload:4:TERM", loader_upload_concurrency=2)
    completing = target().start(**small)
    stopped, completed = finish(stopping), finish(completing)
    assert stopped.summary["outcome"] == "stopped", stopped.stdout[-2000:]
    assert completed.summary["outcome"] == "completed", completed.stdout[-2000:]
    return [*stopped.logs, *completed.logs]


def _collect_lines(gcs_server: Any) -> list[dict[str, Any]]:
    """submit DAY on DAY+1 (its batch is created and stays queued) and JUDGED_DAY (its batch answers
    two of three records), then collect on DAY+AGE_DAYS."""
    client = gcs_server.client()
    raw, out = gcs_server.new_bucket("raw"), gcs_server.new_bucket("out")
    raw.blob(f"raw/web/{DAY}/a.jsonl").upload_from_string(
        b"".join(record(i).to_json_line() for i in range(5)), content_type="application/jsonl"
    )
    raw.blob(f"raw/web/{JUDGED_DAY}/a.jsonl").upload_from_string(
        b"".join(record(i, day=JUDGED_DAY).to_json_line() for i in range(3)), content_type="application/jsonl"
    )
    with FakeVertex() as vertex:
        values = settings_for(raw.name, out.name, vertex.url)

        def run(today: dt.date, *argv: str) -> tuple[int, str]:
            stderr = io.StringIO()
            with contextlib.redirect_stderr(stderr):
                code = batch_job_main(
                    list(argv),
                    env_settings=partial(lambda base, **o: BatchJobSettings(**{**base, **o}), values),
                    today=lambda: today,
                    context_factory=lambda s: Context(s, client, out=io.StringIO(), sleep=lambda _s: None),
                )
            return code, stderr.getvalue()

        code, submitted = run(DAY + dt.timedelta(days=1), "submit", "--date", str(DAY))
        assert code == 0, submitted
        code, judged = run(JUDGED_DAY + dt.timedelta(days=1), "submit", "--date", str(JUDGED_DAY))
        assert code == 0, judged
        job = vertex.job_by_display_name(f"llm-judge-{JUDGED_DAY}-part-00000")
        vertex.run_job_as_gemini(
            job["name"], client, lambda line: SAFE if line["key"] != "r-req-0" else "not an answer"
        )
        later = DAY + dt.timedelta(days=AGE_DAYS)
        code, collected = run(later, "collect", "--lookback", str(COLLECT_LOOKBACK), "--no-report")
        assert code == 0, collected
    return _json_lines(submitted) + _json_lines(judged) + _json_lines(collected)


@pytest.fixture(scope="module")
def entries(kafka_broker: Any, gcs_server: Any) -> list[dict[str, Any]]:
    """Every JSON line both apps printed, as Cloud Run's LogEntries of their jobs."""
    runs = run_concurrently(
        {
            "loader": lambda: _loader_lines(kafka_broker, gcs_server),
            "batch": lambda: _collect_lines(gcs_server),
        }
    )
    loader, batch = runs["loader"].result(), runs["batch"].result()
    names = gcp_block("dev")
    prefix = names.get("namePrefix", "")
    to_entry = partial(cloud_run_entry, project=PROJECT, region=REGION)
    return [to_entry(line, job=f"{prefix}interaction-loader") for line in loader] + [
        to_entry(line, job=f"{prefix}llm-judge-collect", stream="stderr") for line in batch
    ]


def _summary(entries: list[dict[str, Any]], key: str, value: str) -> list[dict[str, Any]]:
    return [e for e in entries if field_value(e, f"jsonPayload.{key}") == value]


@pytest.fixture(scope="module")
def measured(entries: list[dict[str, Any]]) -> dict[str, int]:
    """The largest value each thresholded field took in the runs (each run crosses a threshold)."""
    loader = _summary(entries, "message", "loader summary")
    collect = _summary(entries, "event", "collect.summary")
    assert len(loader) == 2, "the loader stopped printing its summary line"
    assert len(collect) == 1, "collect stopped printing its summary event"
    values = {
        "loaderLagLeft": max(e["jsonPayload"]["lag_left"] for e in loader),
        "deadLettersPerRun": max(e["jsonPayload"]["dead_letters"] for e in loader),
        "uncollectedDays": collect[0]["jsonPayload"]["oldest_uncollected_age_days"],
        "notJudgedPercent": collect[0]["jsonPayload"]["not_judged_percent_max"],
    }
    assert values["uncollectedDays"] == AGE_DAYS, collect[0]
    assert values["notJudgedPercent"] == 33.33, collect[0]
    assert all(v >= 2 for v in values.values()), f"a run too small to cross a threshold: {values}"
    return values


def _render(thresholds: dict[str, int]) -> Plan:
    overrides = {
        "alerts": thresholds,
        "jobs": {"collect": {"args": ["collect", "--lookback", str(COLLECT_LOOKBACK)]}},
    }
    return render_gcp("dev", overrides, **CREDENTIALS)


@pytest.fixture(scope="module")
def just_below(measured: dict[str, int]) -> Plan:
    return _render({key: value - 1 for key, value in measured.items()})


@pytest.fixture(scope="module")
def exactly_at(measured: dict[str, int]) -> Plan:
    return _render(dict(measured))


def _counted(metric: dict[str, Any], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if matches(metric["filter"], e)]


def test_every_log_based_metric_counts_lines_the_real_apps_print(just_below: Plan, entries) -> None:
    metrics = [r.inputs for r in just_below.of_type(LOG_METRIC)]
    assert len(metrics) == 5
    for metric in metrics:
        counted = _counted(metric, entries)
        assert counted, f"log-based metric {metric['name']} counts none of the lines: {metric['filter']}"
        for field, _, _ in comparisons(metric["filter"]):
            assert all(field_value(e, field) is not None for e in counted), (metric["name"], field)
        for label, extractor in (metric.get("labelExtractors") or {}).items():
            values = {extract(extractor, e) for e in counted}
            assert None not in values, f"{metric['name']}: label {label} ({extractor}) is missing on a line"


def test_a_metric_counts_only_its_own_lines(just_below: Plan, entries) -> None:
    for metric in just_below.of_type(LOG_METRIC):
        for entry in _counted(metric.inputs, entries):
            payload = entry["jsonPayload"]
            assert payload.get("message") == "loader summary" or payload.get("event") == "collect.summary"


def test_thresholds_compare_the_numbers_the_apps_write(exactly_at: Plan, just_below: Plan, entries) -> None:
    thresholded = {r.name: r.inputs for r in exactly_at.of_type(LOG_METRIC) if ">" in r.inputs["filter"]}
    assert len(thresholded) == 4
    for name, metric in thresholded.items():
        assert not _counted(metric, entries), f"{name}: counts a run whose value only equals the threshold"
        assert _counted(just_below.one(LOG_METRIC, name).inputs, entries)


def _series(plan: Plan, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The time series the log-based metrics would write from these entries (resource + labels)."""
    out = []
    for metric in plan.of_type(LOG_METRIC):
        for entry in _counted(metric.inputs, entries):
            labels = {k: extract(x, entry) for k, x in (metric.inputs.get("labelExtractors") or {}).items()}
            out.append(
                {
                    "metric": {"type": USER_METRIC_PREFIX + metric.inputs["name"], "labels": labels},
                    "resource": entry["resource"],
                }
            )
    return out


def _conditions(plan: Plan) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for policy in plan.of_type(ALERT_POLICY):
        for condition in policy.inputs["conditions"]:
            for kind in ("conditionThreshold", "conditionAbsent"):
                if kind in condition and USER_METRIC_PREFIX in condition[kind]["filter"]:
                    yield policy.inputs["displayName"], kind, condition[kind]


def test_every_alert_condition_on_a_log_metric_sees_the_series_the_apps_make(just_below: Plan, entries):
    series = _series(just_below, entries)
    found = list(_conditions(just_below))
    assert {kind for _, kind, _ in found} == {"conditionThreshold", "conditionAbsent"}
    assert len(found) == 5  # lag, dead letters, uncollected day, not judged, and no completed runs
    for policy, kind, condition in found:
        seen = [s for s in series if matches(condition["filter"], s)]
        assert seen, f"{policy}: {kind} {condition['filter']} selects none of the metrics' series"
