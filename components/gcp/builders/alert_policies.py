"""The seven alert policies of the GCP half, as plain data (``AlertPolicyConditionArgsDict`` & co.).

Which condition type for which signal, and why (field semantics from Google's alert.proto; limits from
"Types of alerting policies"):

- A failed execution is an event: ``run.googleapis.com/job/completed_execution_count`` (DELTA, on
  ``cloud_run_job``, label ``result`` = ``succeeded``/``failed``) summed over 5 minutes, above 0. An
  execution fails once every retry of a task has failed, so one alert per failed execution, not per
  attempt. ``EVALUATION_MISSING_DATA_INACTIVE``: no point means nothing failed, and the incident closes.
- Threshold alerts on the apps' log-based counters work the same way (see log_metrics.py).
- "No completed loader run for N hours" must fire when nothing runs at all, so it is a
  metric-absence condition (``condition_absent``: 120 s to 23.5 h), which needs a point to have been
  seen since the policy was created or changed; a counter "at zero" would never be written.
- A failed Cloud Scheduler attempt is a log line of Cloud Scheduler itself (``AttemptFinished`` with
  severity ERROR in ``cloudscheduler.googleapis.com/executions`` on ``cloud_scheduler_job``): a log-match
  condition (``condition_matched_log``), which must be alone in its policy and rate-limit its
  notifications.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from components.config.gcp_alerts import GcpAlertsConfig

from . import alert_docs
from .alert_docs import DocContext, Section
from .log_metrics import CLOUD_RUN_JOB, DriftMetrics, LogMetric, LogMetrics, all_of, quoted

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_gcp.monitoring import (
        AlertPolicyAlertStrategyArgsDict,
        AlertPolicyConditionArgsDict,
        AlertPolicyConditionConditionThresholdAggregationArgsDict,
        AlertPolicyDocumentationArgsDict,
    )

EXECUTIONS_METRIC = "run.googleapis.com/job/completed_execution_count"
SCHEDULER_RESOURCE = "cloud_scheduler_job"
SCHEDULER_LOG = "cloudscheduler.googleapis.com/executions"
SCHEDULER_ATTEMPT_FINISHED = "type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished"
EVENT_WINDOW_SECONDS = 300
# How long an incident of a log-match policy stays open without a new match.
LOG_MATCH_AUTO_CLOSE_SECONDS = 86400


@dataclass(frozen=True)
class PolicySpec:
    key: str
    display_name: str
    severity: str
    conditions: list[AlertPolicyConditionArgsDict]
    documentation: AlertPolicyDocumentationArgsDict
    alert_strategy: AlertPolicyAlertStrategyArgsDict | None = None
    metrics: list[LogMetric] = field(default_factory=list)
    """The log-based metrics its conditions read (created first)."""


def seconds(n: int) -> str:
    return f"{n}s"


def _events(
    window_seconds: int = EVENT_WINDOW_SECONDS,
) -> list[AlertPolicyConditionConditionThresholdAggregationArgsDict]:
    """Count the events of the window, over every series the filter selects."""
    return [
        {
            "alignment_period": seconds(window_seconds),
            "per_series_aligner": "ALIGN_SUM",
            "cross_series_reducer": "REDUCE_SUM",
        }
    ]


def _any_event(display_name: str, metric_filter: str) -> AlertPolicyConditionArgsDict:
    return {
        "display_name": display_name,
        "condition_threshold": {
            "filter": metric_filter,
            "aggregations": _events(),
            "comparison": "COMPARISON_GT",
            "threshold_value": 0,
            "duration": "0s",
            "trigger": {"count": 1},
            "evaluation_missing_data": "EVALUATION_MISSING_DATA_INACTIVE",
        },
    }


def execution_failed(job_name: str) -> AlertPolicyConditionArgsDict:
    return _any_event(
        f"{job_name}: an execution failed",
        all_of(
            f"metric.type={quoted(EXECUTIONS_METRIC)}",
            f"resource.type={quoted(CLOUD_RUN_JOB)}",
            f"resource.labels.job_name={quoted(job_name)}",
            f"metric.labels.result={quoted('failed')}",
        ),
    )


def log_metric_filter(metric: LogMetric, **labels: str) -> str:
    clauses = [f"metric.type={quoted(metric.metric_type)}", f"resource.type={quoted(CLOUD_RUN_JOB)}"]
    clauses += [f"metric.labels.{key}={quoted(value)}" for key, value in sorted(labels.items())]
    return all_of(*clauses)


def log_metric_counted(display_name: str, metric: LogMetric) -> AlertPolicyConditionArgsDict:
    return _any_event(display_name, log_metric_filter(metric))


def no_completed_run(loader_job: str, metric: LogMetric, hours: int) -> AlertPolicyConditionArgsDict:
    return {
        "display_name": f"{loader_job}: no completed run for {hours} h",
        "condition_absent": {
            "filter": log_metric_filter(metric, outcome="completed"),
            "aggregations": _events(),
            "duration": seconds(hours * 3600),
            "trigger": {"count": 1},
        },
    }


def scheduler_filter(schedules: tuple[str, ...]) -> str:
    jobs = " OR ".join(quoted(s) for s in schedules)
    return all_of(
        f"resource.type={quoted(SCHEDULER_RESOURCE)}",
        f"log_id({quoted(SCHEDULER_LOG)})",
        f'jsonPayload."@type"={quoted(SCHEDULER_ATTEMPT_FINISHED)}',
        "severity>=ERROR",
        f"resource.labels.job_id=({jobs})",
    )


def scheduler_attempt_failed(schedules: tuple[str, ...]) -> AlertPolicyConditionArgsDict:
    return {
        "display_name": "A Cloud Scheduler attempt to start a job failed",
        "condition_matched_log": {
            "filter": scheduler_filter(schedules),
            # Shown in the notification (${log.extracted_label.job} in the documentation).
            "label_extractors": {
                "job": "EXTRACT(resource.labels.job_id)",
                "status": "EXTRACT(jsonPayload.status)",
            },
        },
    }


def alert_policies(
    alerts: GcpAlertsConfig, metrics: LogMetrics, ctx: DocContext, *, loader_no_success_hours: int
) -> list[PolicySpec]:
    def doc(section: Section) -> AlertPolicyDocumentationArgsDict:
        return alert_docs.documentation(section, ctx)

    def title(section: Section) -> str:
        return f"[{ctx.stack}] {section.title}"

    collect_conditions: list[AlertPolicyConditionArgsDict] = []
    collect_metrics: list[LogMetric] = []
    if ctx.collect_job is not None and metrics.collect_stale is not None:
        collect_conditions = [
            execution_failed(ctx.collect_job),
            log_metric_counted(
                f"{ctx.collect_job}: a day uncollected more than {alerts.uncollected_days} day(s)",
                metrics.collect_stale,
            ),
        ]
        collect_metrics = [metrics.collect_stale]

    policies = [
        PolicySpec(
            "loader-failed",
            title(alert_docs.LOADER_FAILED),
            "ERROR",
            [execution_failed(ctx.loader_job)],
            doc(alert_docs.LOADER_FAILED),
        ),
        PolicySpec(
            "judge-failed",
            title(alert_docs.JUDGE_FAILED),
            "ERROR",
            [execution_failed(ctx.judge_job)],
            doc(alert_docs.JUDGE_FAILED),
        ),
    ]
    if collect_conditions:
        policies.append(
            PolicySpec(
                "collect",
                title(alert_docs.COLLECT),
                "ERROR",
                collect_conditions,
                doc(alert_docs.COLLECT),
                metrics=collect_metrics,
            )
        )
    policies += [
        PolicySpec(
            "scheduler-failed",
            title(alert_docs.SCHEDULER),
            "ERROR",
            [scheduler_attempt_failed(ctx.schedules)],
            doc(alert_docs.SCHEDULER),
            alert_strategy={
                "notification_rate_limit": {"period": seconds(alerts.scheduler_notify_minutes * 60)},
                "auto_close": seconds(LOG_MATCH_AUTO_CLOSE_SECONDS),
            },
        ),
        PolicySpec(
            "loader-behind",
            title(alert_docs.LOADER_BEHIND),
            "CRITICAL",
            [
                no_completed_run(ctx.loader_job, metrics.loader_runs, loader_no_success_hours),
                log_metric_counted(
                    f"{ctx.loader_job}: a run ended with more than {alerts.loader_lag_left} messages unread",
                    metrics.loader_lag,
                ),
            ],
            doc(alert_docs.LOADER_BEHIND),
            metrics=[metrics.loader_runs, metrics.loader_lag],
        ),
        PolicySpec(
            "dead-letters",
            title(alert_docs.DEAD_LETTERS),
            "WARNING",
            [
                log_metric_counted(
                    f"{ctx.loader_job}: a run dead-lettered more than {alerts.dead_letters_per_run} messages",
                    metrics.loader_dead_letters,
                )
            ],
            doc(alert_docs.DEAD_LETTERS),
            metrics=[metrics.loader_dead_letters],
        ),
    ]
    if ctx.collect_job is not None and metrics.collect_not_judged is not None:
        policies.append(
            PolicySpec(
                "not-judged",
                title(alert_docs.NOT_JUDGED),
                "ERROR",
                [
                    log_metric_counted(
                        f"{ctx.collect_job}: a day with more than {alerts.not_judged_percent:g} % of its "
                        "records not judged",
                        metrics.collect_not_judged,
                    )
                ],
                doc(alert_docs.NOT_JUDGED),
                metrics=[metrics.collect_not_judged],
            )
        )
    if ctx.collect_job is not None and metrics.drift is not None:
        policies += drift_policies(alerts, metrics.drift, ctx.collect_job, title, doc)
    return policies


def drift_policies(
    alerts: GcpAlertsConfig,
    drift: DriftMetrics,
    collect_job: str,
    title: Callable[[Section], str],
    doc: Callable[[Section], AlertPolicyDocumentationArgsDict],
) -> list[PolicySpec]:
    """The judge drifting: from people's labels, and in how much it flags (both from collect's summary)."""
    return [
        PolicySpec(
            "judge-drift",
            title(alert_docs.JUDGE_DRIFT),
            "WARNING",
            [
                log_metric_counted(
                    f"{collect_job}: judge-people kappa over the last {alerts.people_kappa_days} labelled "
                    f"day(s) below {alerts.people_kappa_floor:g}",
                    drift.people_kappa,
                )
            ],
            doc(alert_docs.JUDGE_DRIFT),
            metrics=[drift.people_kappa],
        ),
        PolicySpec(
            "flagged-rate",
            title(alert_docs.FLAGGED_RATE),
            "WARNING",
            [
                log_metric_counted(
                    f"{collect_job}: a day's flagged rate more than {alerts.flagged_rate_sigmas:g} sigma "
                    "from its 14-day mean",
                    drift.flagged_rate,
                )
            ],
            doc(alert_docs.FLAGGED_RATE),
            metrics=[drift.flagged_rate],
        ),
    ]
