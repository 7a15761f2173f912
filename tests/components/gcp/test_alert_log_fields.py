"""Every log-based metric of the stack counts lines the real apps print, and every alert condition on
those metrics sees the series they make: a metric on a field nobody writes is an alert that never fires.

The real loader (``python -m app.loader`` against Tansu and fake-gcs-server) runs twice, side by side:
once stopped by a SIGTERM mid-way (unread messages left), once to completion; both dead-letter poison.
The real batch job (``app.batch_job.cli.main`` against fake-gcs-server and the fake Vertex AI server)
submits a day whose batch then stays queued and a day whose batch ends with a third of its answers
unusable, and runs the scheduled ``collect --lookback`` days later; on a bucket of its own it also
collects a day that flags far more than the fortnight before it, imports people's labels of that day
(``import-labels``) and collects it again, so collect reports the flagged rate's deviation and the
judge's kappa against people.
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
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
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
        run = _runner(client, settings_for(raw.name, out.name, vertex.url))
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


DRIFT_DAY = DAY + dt.timedelta(days=40)
# The day's answers by record: most flagged, against a fortnight that flagged about 5 %.
DRIFT_ANSWERS = {
    **{f"d{n}": ("unsafe", "high", ["prompt_injection"]) for n in range(6)},
    **{f"d{n}": ("safe", "none", []) for n in range(6, 10)},
}
# What people said of the same records: they disagree on two.
DRIFT_LABELS = {**DRIFT_ANSWERS, "d4": ("safe", "none", []), "d8": ("unsafe", "low", ["jailbreak"])}


def _answer(verdict: str, severity: str, categories: list[str]) -> dict[str, Any]:
    return {"verdict": verdict, "severity": severity, "categories": categories}


def _drift_lines(gcs_server: Any, tmp: Path) -> list[dict[str, Any]]:
    """collect a day after a fortnight of summaries, import labels of it, collect it again."""
    from tools.report_sample import summary_of

    client = gcs_server.client()
    raw, out = gcs_server.new_bucket("raw"), gcs_server.new_bucket("out")
    for offset in range(1, 15):
        day = DRIFT_DAY - dt.timedelta(days=offset)
        lines = [
            {"id": f"h{n}", "source": "web", "status": "ok", "flagged": n < 8 + offset % 3, "answer": {}}
            for n in range(160)
        ]
        summary = summary_of(
            day, [{**x, "answer": _answer("safe", "none", [])} for x in lines], "vertex", "m"
        )
        summary["flagged"]["count"] = sum(x["flagged"] for x in lines)
        out.blob(f"judgements/{day}/summary.json").upload_from_string(json.dumps(summary))
    raw.blob(f"raw/web/{DRIFT_DAY}/a.jsonl").upload_from_string(
        b"".join(record(name, day=DRIFT_DAY).to_json_line() for name in DRIFT_ANSWERS),
        content_type="application/jsonl",
    )
    labels = tmp / "labels.jsonl"
    labels.write_text(
        "".join(
            json.dumps({"id": f"req-{name}", "labeller": "ana", "labels": _answer(*value)}) + "\n"
            for name, value in DRIFT_LABELS.items()
        )
    )
    with FakeVertex() as vertex:
        values = {**settings_for(raw.name, out.name, vertex.url), "people_min_labels": 5}
        run = partial(_runner(client, values), DRIFT_DAY + dt.timedelta(days=1))
        code, submitted = run("submit", "--date", str(DRIFT_DAY))
        assert code == 0, submitted
        (job,) = vertex.jobs()

        def gemini(line: dict[str, Any]) -> dict[str, Any]:
            answer = {"reasoning": "r", **_answer(*DRIFT_ANSWERS[line["key"].removeprefix("r-req-")])}
            parts = [{"text": json.dumps(answer)}]
            return {
                "response": {
                    "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]
                }
            }

        vertex.run_job(job["name"], client, gemini)
        logs = [submitted]
        for argv in (("collect", "--date"), ("import-labels", str(labels), "--date"), ("collect", "--date")):
            code, printed = run(*argv, str(DRIFT_DAY))
            assert code == 0, printed
            logs.append(printed)
    return [line for text in logs for line in _json_lines(text)]


def _runner(client: Any, values: dict[str, Any]) -> Any:
    """The batch job's CLI on a given day (UTC), against these settings: (exit code, its stderr)."""

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

    return run


@pytest.fixture(scope="module")
def entries(
    kafka_broker: Any, gcs_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """Every JSON line both apps printed, as Cloud Run's LogEntries of their jobs."""
    tmp = tmp_path_factory.mktemp("drift")
    runs = run_concurrently(
        {
            "loader": lambda: _loader_lines(kafka_broker, gcs_server),
            # One after the other: both capture the process's stderr (where the batch job logs).
            "batch": lambda: _collect_lines(gcs_server) + _drift_lines(gcs_server, tmp),
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


def _payloads(entries: list[dict[str, Any]], field: str) -> list[Any]:
    return [
        e["jsonPayload"][field]
        for e in _summary(entries, "event", "collect.summary")
        if field in e["jsonPayload"]
    ]


@pytest.fixture(scope="module")
def measured(entries: list[dict[str, Any]]) -> dict[str, float]:
    """The largest value each thresholded field took in the runs (each run crosses a threshold), and the
    kappa against people (its alert fires below the floor)."""
    loader = _summary(entries, "message", "loader summary")
    collect = _summary(entries, "event", "collect.summary")
    assert len(loader) == 2, "the loader stopped printing its summary line"
    assert len(collect) == 3, "collect stopped printing its summary event"
    values: dict[str, float] = {
        "loaderLagLeft": max(e["jsonPayload"]["lag_left"] for e in loader),
        "deadLettersPerRun": max(e["jsonPayload"]["dead_letters"] for e in loader),
        "uncollectedDays": max(_payloads(entries, "oldest_uncollected_age_days")),
        "notJudgedPercent": max(_payloads(entries, "not_judged_percent_max")),
    }
    assert values["uncollectedDays"] == AGE_DAYS, collect
    assert values["notJudgedPercent"] == 33.33, collect
    assert all(v >= 2 for v in values.values()), f"a run too small to cross a threshold: {values}"
    sigmas, kappas = _payloads(entries, "flagged_rate_sigmas"), _payloads(entries, "people_kappa")
    assert len(sigmas) == 2, "collect stopped reporting the flagged rate's deviation"
    assert len(kappas) == 1, "collect stopped reporting the kappa against people once labels exist"
    values["flaggedRateSigmas"] = max(sigmas)
    values["peopleKappaFloor"] = kappas[0]
    assert values["flaggedRateSigmas"] > 3, "the drift day should be far from its fortnight"
    assert 0 < values["peopleKappaFloor"] < 0.9, values
    return values


def _render(thresholds: dict[str, float]) -> Plan:
    overrides = {
        "alerts": thresholds,
        "jobs": {"collect": {"args": ["collect", "--lookback", str(COLLECT_LOOKBACK)]}},
    }
    return render_gcp("dev", overrides, **CREDENTIALS)


@pytest.fixture(scope="module")
def just_below(measured: dict[str, float]) -> Plan:
    """Thresholds just past every measured value: each metric counts the run that reached it (the
    kappa alert fires below its floor, so its floor is just above)."""
    past = {
        key: measured[key] - 1
        for key in ("loaderLagLeft", "deadLettersPerRun", "uncollectedDays", "notJudgedPercent")
    }
    past["flaggedRateSigmas"] = measured["flaggedRateSigmas"] - 0.5
    past["peopleKappaFloor"] = round(measured["peopleKappaFloor"] + 0.05, 4)
    return _render(past)


@pytest.fixture(scope="module")
def exactly_at(measured: dict[str, float]) -> Plan:
    return _render(dict(measured))


def _counted(metric: dict[str, Any], entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if matches(metric["filter"], e)]


def test_every_log_based_metric_counts_lines_the_real_apps_print(just_below: Plan, entries) -> None:
    metrics = [r.inputs for r in just_below.of_type(LOG_METRIC)]
    assert len(metrics) == 7
    for metric in metrics:
        counted = _counted(metric, entries)
        assert counted, f"log-based metric {metric['name']} counts none of the lines: {metric['filter']}"
        for field, _, _ in comparisons(metric["filter"]):
            assert all(field_value(e, field) is not None for e in counted), (metric["name"], field)
        for label, extractor in (metric.get("labelExtractors") or {}).items():
            values = {extract(extractor, e) for e in counted}
            assert None not in values, f"{metric['name']}: label {label} ({extractor}) is missing on a line"


def test_a_metric_counts_only_its_own_lines(just_below: Plan, entries) -> None:
    counted = [
        (metric, entry)
        for metric in just_below.of_type(LOG_METRIC)
        for entry in _counted(metric.inputs, entries)
    ]
    assert counted, "no metric counts any line: nothing was checked"
    for _metric, entry in counted:
        payload = entry["jsonPayload"]
        assert payload.get("message") == "loader summary" or payload.get("event") == "collect.summary"


def test_thresholds_compare_the_numbers_the_apps_write(exactly_at: Plan, just_below: Plan, entries) -> None:
    thresholded = {
        r.name: r.inputs for r in exactly_at.of_type(LOG_METRIC) if re.search(" [<>] ", r.inputs["filter"])
    }
    assert len(thresholded) == 6
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
    # lag, dead letters, uncollected day, not judged, no completed runs, kappa against people, flagged rate
    assert len(found) == 7
    for policy, kind, condition in found:
        seen = [s for s in series if matches(condition["filter"], s)]
        assert seen, f"{policy}: {kind} {condition['filter']} selects none of the metrics' series"
