"""Log-based metrics on the apps' JSON summary lines, and the Cloud Logging filters they count.

On Cloud Run a JSON line on stdout/stderr becomes a LogEntry whose ``jsonPayload`` holds the line's
fields; ``severity`` and ``time`` are lifted into the entry itself (Cloud Logging, "Structured logging",
special fields). The entry's monitored resource is ``cloud_run_job`` with the label ``job_name``. So a
loader summary is ``jsonPayload.message="loader summary"`` with ``jsonPayload.lag_left`` and
``jsonPayload.dead_letters`` (app/loader/runner.py), and collect's is
``jsonPayload.event="collect.summary"`` with ``jsonPayload.oldest_uncollected_age_days`` and
``jsonPayload.not_judged_percent_max`` (app/batch_job/commands.py).
tests/components/gcp/test_alert_log_fields.py runs the real apps, turns their lines into such entries
and checks every metric here against them, by parsing these filters: a metric on a field nobody
writes would be an alert that never fires.

Thresholds sit in the filters (``jsonPayload.lag_left > 100000``): the Logging query language compares
a JSON number numerically, so the counter counts exactly the runs past the threshold, and the alert
fires on any count above zero. (A distribution metric with a percentile aligner would blur the
threshold to a bucket's width.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from components.config.gcp_alerts import GcpAlertsConfig

from .names import Names

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_gcp.logging import MetricMetricDescriptorArgsDict, MetricMetricDescriptorLabelArgsDict

CLOUD_RUN_JOB = "cloud_run_job"
USER_METRIC_PREFIX = "logging.googleapis.com/user/"
# What the apps write (the test above proves it against their real output).
LOADER_SUMMARY_MESSAGE = "loader summary"
COLLECT_SUMMARY_EVENT = "collect.summary"


def quoted(value: str) -> str:
    """A string literal of the Logging query language (double quotes, backslash escapes)."""
    return json.dumps(value)


def all_of(*clauses: str) -> str:
    return " AND ".join(clauses)


def job_entries(job_name: str) -> str:
    """Every log entry of one Cloud Run job (all executions, all tasks)."""
    return all_of(f"resource.type={quoted(CLOUD_RUN_JOB)}", f"resource.labels.job_name={quoted(job_name)}")


def loader_summaries(loader_job: str) -> str:
    return all_of(job_entries(loader_job), f"jsonPayload.message={quoted(LOADER_SUMMARY_MESSAGE)}")


def collect_summaries(collect_job: str) -> str:
    return all_of(job_entries(collect_job), f"jsonPayload.event={quoted(COLLECT_SUMMARY_EVENT)}")


@dataclass(frozen=True)
class LogMetric:
    """A counter (DELTA, INT64) of the log entries that match ``filter``."""

    key: str
    name: str
    display_name: str
    description: str
    filter: str
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Metric label -> (extractor expression, description)."""

    @property
    def metric_type(self) -> str:
        return USER_METRIC_PREFIX + self.name

    def descriptor(self) -> MetricMetricDescriptorArgsDict:
        labels: list[MetricMetricDescriptorLabelArgsDict] = [
            {"key": key, "value_type": "STRING", "description": description}
            for key, (_, description) in sorted(self.labels.items())
        ]
        descriptor: MetricMetricDescriptorArgsDict = {
            "metric_kind": "DELTA",
            "value_type": "INT64",
            "unit": "1",
            "display_name": self.display_name,
        }
        if labels:
            descriptor["labels"] = labels
        return descriptor

    def label_extractors(self) -> dict[str, str]:
        return {key: extractor for key, (extractor, _) in sorted(self.labels.items())}


@dataclass(frozen=True)
class LogMetrics:
    loader_runs: LogMetric
    loader_lag: LogMetric
    loader_dead_letters: LogMetric
    collect_stale: LogMetric | None
    collect_not_judged: LogMetric | None = None
    drift: DriftMetrics | None = None

    def all(self) -> list[LogMetric]:
        found = [
            self.loader_runs,
            self.loader_lag,
            self.loader_dead_letters,
            self.collect_stale,
            self.collect_not_judged,
        ]
        if self.drift is not None:
            found += [self.drift.people_kappa, self.drift.flagged_rate]
        return [m for m in found if m is not None]


@dataclass(frozen=True)
class DriftMetrics:
    """The judge drifting, from the numbers collect's summary carries after it reports a day
    (app/batch_job/commands.py ``_drift_fields``): the kappa against people's labels over the last
    labelled days, and the flagged rate's distance from its 14-day mean in standard deviations. A run
    without the number (too few labels, too little history) writes no field, and no filter counts it."""

    people_kappa: LogMetric
    flagged_rate: LogMetric


def drift_metrics(names: Names, alerts: GcpAlertsConfig, collect_job: str) -> DriftMetrics:
    summaries = collect_summaries(collect_job)
    return DriftMetrics(
        people_kappa=LogMetric(
            key="people-kappa-low",
            name=names.log_metric("judge_people_kappa_below_floor"),
            display_name="Collect runs where the judge agrees too little with people",
            description=(
                f"{collect_job} runs whose judge-people kappa, pooled over the last "
                f"{alerts.people_kappa_days} labelled day(s), is below {alerts.people_kappa_floor:g}."
            ),
            filter=all_of(summaries, f"jsonPayload.people_kappa < {alerts.people_kappa_floor:g}"),
        ),
        flagged_rate=LogMetric(
            key="flagged-rate-drift",
            name=names.log_metric("flagged_rate_off_its_mean"),
            display_name="Collect runs where a day's flagged rate left its 14-day range",
            description=(
                f"{collect_job} runs that reported a day whose flagged rate is more than "
                f"{alerts.flagged_rate_sigmas:g} standard deviations from the mean of the 14 days before it."
            ),
            filter=all_of(summaries, f"jsonPayload.flagged_rate_sigmas > {alerts.flagged_rate_sigmas:g}"),
        ),
    )


def log_metrics(
    names: Names, alerts: GcpAlertsConfig, *, loader_job: str, collect_job: str | None
) -> LogMetrics:
    summaries = loader_summaries(loader_job)
    collect_stale = collect_not_judged = None
    if collect_job is not None:
        collect_not_judged = LogMetric(
            key="collect-not-judged",
            name=names.log_metric("collect_not_judged_over_threshold"),
            display_name="Collect runs with a day's records largely not judged",
            description=(
                f"{collect_job} runs that collected a day with more than {alerts.not_judged_percent:g} % "
                "of its records without an answer (failed, invalid, cut at the token limit or missing)."
            ),
            filter=all_of(
                collect_summaries(collect_job),
                f"jsonPayload.not_judged_percent_max > {alerts.not_judged_percent:g}",
            ),
        )
        collect_stale = LogMetric(
            key="collect-stale",
            name=names.log_metric("collect_days_uncollected"),
            display_name="Collect runs that left a day uncollected too long",
            description=(
                f"{collect_job} runs whose oldest submitted but uncollected day (Vertex AI batch still "
                f"queued or running) is more than {alerts.uncollected_days} day(s) old."
            ),
            filter=all_of(
                collect_summaries(collect_job),
                f"jsonPayload.oldest_uncollected_age_days > {alerts.uncollected_days}",
            ),
        )
    return LogMetrics(
        loader_runs=LogMetric(
            key="loader-runs",
            name=names.log_metric("loader_runs"),
            display_name="Loader runs by outcome",
            description=f"{loader_job} task runs, by how they ended (completed, stopped or failed).",
            filter=summaries,
            labels={"outcome": ("EXTRACT(jsonPayload.outcome)", "completed, stopped or failed")},
        ),
        loader_lag=LogMetric(
            key="loader-lag",
            name=names.log_metric("loader_lag_over_threshold"),
            display_name="Loader runs that ended far behind the topic",
            description=(
                f"{loader_job} task runs that ended with more than {alerts.loader_lag_left} messages of "
                "their partitions still unread (lag_left)."
            ),
            filter=all_of(summaries, f"jsonPayload.lag_left > {alerts.loader_lag_left}"),
        ),
        loader_dead_letters=LogMetric(
            key="loader-dead-letters",
            name=names.log_metric("loader_dead_letters_over_threshold"),
            display_name="Loader runs with many dead letters",
            description=(
                f"{loader_job} task runs that dead-lettered more than {alerts.dead_letters_per_run} messages."
            ),
            filter=all_of(summaries, f"jsonPayload.dead_letters > {alerts.dead_letters_per_run}"),
        ),
        collect_stale=collect_stale,
        collect_not_judged=collect_not_judged,
        drift=drift_metrics(names, alerts, collect_job) if collect_job is not None else None,
    )
