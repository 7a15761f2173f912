"""The GCP alerting as rendered: nine policies with their channels, metrics and runbook links in both
stacks, condition shapes the Monitoring API accepts, and config that refuses what cannot work."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.config import ConfigError, load_stack_config
from components.gcp.builders.alert_docs import DRIFT_SECTIONS, RUNBOOK_PATH, SECTIONS
from components.gcp.builders.alert_policies import scheduler_filter
from tests.support.cloud_logging import extract, matches
from tools.plan_runtime import REPO_ROOT, SECRET

from .helpers import CREDENTIALS, SERVICE, gcp_block, merged, render_gcp

POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
LOG_METRIC = "gcp:logging/metric:Metric"
METRICS_VISIBLE = "pulumi-python:dynamic/gcp:MetricsVisible"
RUNBOOK = REPO_ROOT / RUNBOOK_PATH
EXECUTIONS = "run.googleapis.com/job/completed_execution_count"
LOADER_RUNS = "logging.googleapis.com/user/llm-judge/loader_runs"


@pytest.fixture(scope="module")
def dev():
    return render_gcp("dev", **CREDENTIALS)


@pytest.fixture(scope="module")
def prod():
    return render_gcp("prod", **CREDENTIALS)


def policies(plan) -> dict[str, dict[str, Any]]:
    return {r.name.removeprefix("gcp-alerts-"): r.inputs for r in plan.of_type(POLICY)}


def conditions(policy: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for condition in policy["conditions"]:
        kinds = [k for k in condition if k.startswith("condition")]
        assert len(kinds) == 1, condition
        out.append((kinds[0], condition[kinds[0]]))
    return out


# --- what the stacks create -----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_both_stacks_create_the_nine_policies_their_metrics_and_channels(stack, dev, prod):
    plan = {"dev": dev, "prod": prod}[stack]
    found = policies(plan)
    assert set(found) == {
        "loader-failed",
        "judge-failed",
        "collect",
        "scheduler-failed",
        "loader-behind",
        "dead-letters",
        "not-judged",
        "judge-drift",
        "flagged-rate",
    }
    emails = gcp_block(stack)["alerts"]["emails"]
    channels = plan.of_type(CHANNEL)
    assert [c.inputs["labels"] for c in channels] == [{"email_address": e} for e in emails]
    assert all(c.inputs["type"] == "email" for c in channels)
    names = plan.outputs["gcp_notification_channels"]
    for key, policy in found.items():
        assert policy["notificationChannels"] == names, key
        assert policy["displayName"].startswith(f"[{stack}] "), key
        assert policy["combiner"] == "OR"
    assert len({p["displayName"] for p in found.values()}) == 9
    assert {m.inputs["name"] for m in plan.of_type(LOG_METRIC)} == {
        "llm-judge/loader_runs",
        "llm-judge/loader_lag_over_threshold",
        "llm-judge/loader_dead_letters_over_threshold",
        "llm-judge/collect_days_uncollected",
        "llm-judge/collect_not_judged_over_threshold",
        "llm-judge/judge_people_kappa_below_floor",
        "llm-judge/flagged_rate_off_its_mean",
    }


def test_the_monitoring_and_logging_apis_are_enabled_before_any_alert_resource(dev):
    services = {s.inputs["service"]: s.urn for s in dev.of_type(SERVICE)}
    assert {"monitoring.googleapis.com", "logging.googleapis.com"} <= set(services)
    for resource in [*dev.of_type(POLICY), *dev.of_type(CHANNEL), *dev.of_type(LOG_METRIC)]:
        assert services["monitoring.googleapis.com"] in resource.depends_on, resource.name


def test_a_policy_is_created_after_the_log_based_metrics_it_reads(dev):
    metric_urns = {m.inputs["name"]: m.urn for m in dev.of_type(LOG_METRIC)}
    reads = 0
    for policy in dev.of_type(POLICY):
        text = str(policy.inputs["conditions"])
        for name, urn in metric_urns.items():
            if f'logging.googleapis.com/user/{name}"' in text:
                assert urn in policy.depends_on, (policy.name, name)
                reads += 1
    assert reads >= len(metric_urns) > 0, "every log-based metric is read by some policy"


def test_a_policy_that_reads_a_log_based_metric_waits_until_monitoring_knows_every_metric(dev):
    # A policy created seconds after its metric gets 404 "Cannot find metric(s)": a dependency alone is not
    # enough, the policies wait for MetricsVisible, which is created after every metric.
    (wait,) = dev.of_type(METRICS_VISIBLE)
    metrics = dev.of_type(LOG_METRIC)
    assert {m.urn for m in metrics} <= set(wait.depends_on)
    assert wait.inputs["metric_types"] == sorted(
        f"logging.googleapis.com/user/{m.inputs['name']}" for m in metrics
    )
    assert wait.inputs["project"] == "llm-judge-dev"
    assert wait.inputs["access_token"] == SECRET  # the gcp provider's token, masked in the plan
    readers = [
        p for p in dev.of_type(POLICY) if "logging.googleapis.com/user/" in str(p.inputs["conditions"])
    ]
    assert {p.name for p in readers} == {
        "gcp-alerts-collect",
        "gcp-alerts-loader-behind",
        "gcp-alerts-dead-letters",
        "gcp-alerts-not-judged",
        "gcp-alerts-judge-drift",
        "gcp-alerts-flagged-rate",
    }
    for policy in dev.of_type(POLICY):
        assert (wait.urn in policy.depends_on) == (policy in readers), policy.name


EXISTING = "projects/llm-judge-dev/notificationChannels/1234567890"
RUNBOOK_URL = "https://github.com/acme/llm-judge/blob/main/docs/runbook.md"


@pytest.fixture(scope="module")
def prefixed():
    """dev with a name prefix, an existing channel and a runbook URL (one render for three tests)."""
    alerts = {"notificationChannels": [EXISTING], "runbookBaseUrl": RUNBOOK_URL}
    return render_gcp("dev", {"namePrefix": "dev-", "alerts": alerts}, **CREDENTIALS)


@pytest.fixture(scope="module")
def quiet_without_collect():
    """dev with nobody to notify and no collect job."""
    overrides = {"alerts": {"emails": []}, "jobs": {"collect": {"enabled": False}}}
    return render_gcp("dev", overrides, **CREDENTIALS)


def test_existing_channels_are_notified_too_and_prefixes_keep_stacks_apart(prefixed):
    plan = prefixed
    for policy in policies(plan).values():
        assert EXISTING in policy["notificationChannels"]
        assert len(policy["notificationChannels"]) == 2
    assert all(m.inputs["name"].startswith("dev-llm-judge/") for m in plan.of_type(LOG_METRIC))
    behind = policies(plan)["loader-behind"]
    assert '"dev-interaction-loader"' in str(policies(plan)["loader-failed"]["conditions"])
    assert "dev-llm-judge/loader_runs" in str(behind["conditions"])
    scheduler = policies(plan)["scheduler-failed"]["conditions"][0]["conditionMatchedLog"]["filter"]
    assert "dev-trigger-loader-hourly" in scheduler


def test_alerts_can_be_switched_off():
    plan = render_gcp("dev", {"alerts": {"enabled": False}}, **CREDENTIALS)
    assert plan.of_type(POLICY) == plan.of_type(CHANNEL) == plan.of_type(LOG_METRIC) == []


def test_without_collect_there_is_no_collect_policy(quiet_without_collect):
    plan = quiet_without_collect
    assert not {"collect", "not-judged", "judge-drift", "flagged-rate"} & set(policies(plan))
    assert "llm-judge-collect" not in str(policies(plan)["scheduler-failed"])
    assert len(plan.of_type(LOG_METRIC)) == 3


def test_alerts_that_notify_nobody_are_a_warning_not_an_error(quiet_without_collect):
    plan = quiet_without_collect
    warnings = [m for sev, m in plan.diagnostics if sev == "warning" and "gcp.alerts" in m]
    assert len(warnings) == 1
    assert "notify nobody" in warnings[0]
    assert all(p["notificationChannels"] == [] for p in policies(plan).values())


# --- condition shapes the API accepts ----------------------------------------------------------------


def test_execution_failures_count_failed_executions_of_each_job(dev):
    found = policies(dev)
    failing = [
        ("loader-failed", "interaction-loader", conditions(found["loader-failed"])),
        ("judge-failed", "llm-judge-trigger", conditions(found["judge-failed"])),
        ("collect", "llm-judge-collect", conditions(found["collect"])[:1]),
    ]
    for key, job, ((kind, cond),) in failing:
        assert kind == "conditionThreshold", key
        series = {
            "metric": {"type": EXECUTIONS, "labels": {"result": "failed"}},
            "resource": {"type": "cloud_run_job", "labels": {"job_name": job}},
        }
        assert matches(cond["filter"], series), key
        succeeded = {**series, "metric": {**series["metric"], "labels": {"result": "succeeded"}}}
        assert not matches(cond["filter"], succeeded), key
        other = {**series, "resource": {"type": "cloud_run_job", "labels": {"job_name": "someone-else"}}}
        assert not matches(cond["filter"], other), key
    (_, stale) = conditions(found["collect"])[1]
    assert "logging.googleapis.com/user/llm-judge/collect_days_uncollected" in stale["filter"]


def test_thresholds_use_the_only_comparisons_the_api_accepts_and_close_when_data_stops(dev, prod):
    checked = 0
    for plan in (dev, prod):
        for key, policy in policies(plan).items():
            for kind, cond in conditions(policy):
                if kind != "conditionThreshold":
                    continue
                checked += 1
                assert cond["comparison"] in ("COMPARISON_GT", "COMPARISON_LT"), key
                assert cond["evaluationMissingData"] == "EVALUATION_MISSING_DATA_INACTIVE", key
                (aggregation,) = cond["aggregations"]
                assert re.fullmatch(r"\d+s", aggregation["alignmentPeriod"])
                assert int(aggregation["alignmentPeriod"][:-1]) >= 60
    assert checked > 0, "no threshold condition in either stack: nothing was checked"


@pytest.mark.parametrize(("stack", "hours"), [("dev", 6), ("prod", 2)])
def test_no_completed_loader_run_is_an_absence_condition_within_the_api_limits(stack, hours, dev, prod):
    behind = policies({"dev": dev, "prod": prod}[stack])["loader-behind"]
    kinds = dict(conditions(behind))
    absent = kinds["conditionAbsent"]
    assert absent["duration"] == f"{hours * 3600}s"
    assert 120 <= hours * 3600 <= 23.5 * 3600
    series = {
        "metric": {"type": LOADER_RUNS, "labels": {"outcome": "completed"}},
        "resource": {"type": "cloud_run_job", "labels": {"job_name": "interaction-loader"}},
    }
    assert matches(absent["filter"], series)
    stopped = {**series, "metric": {**series["metric"], "labels": {"outcome": "stopped"}}}
    assert not matches(absent["filter"], stopped)
    assert "conditionThreshold" in kinds  # lag_left above the threshold, in the same policy


def test_the_derived_absence_window_is_just_longer_than_a_healthy_gap():
    block = merged(gcp_block("dev"), {"alerts": {"loaderNoSuccessHours": None}})
    cfg = load_stack_config({"gcp": block, "aws": {"enabled": False}}).gcp
    assert cfg.loader_no_success_hours == 2  # hourly runs of up to 3000 s: 6600 s + 600 s of slack = 2 h
    slow = merged(block, {"schedules": {"loader": {"cron": "0 */6 * * *"}}})
    cfg = load_stack_config({"gcp": slow, "aws": {"enabled": False}}).gcp
    assert cfg.loader_no_success_hours == 7


def test_scheduler_failures_are_a_log_match_policy_of_its_own_with_a_rate_limit(dev):
    policy = policies(dev)["scheduler-failed"]
    ((kind, cond),) = conditions(policy)
    assert kind == "conditionMatchedLog"  # a log-match condition must be alone in its policy
    assert policy["alertStrategy"]["notificationRateLimit"] == {"period": f"{240 * 60}s"}
    assert policy["alertStrategy"]["autoClose"]
    for schedule in ("trigger-loader-hourly", "trigger-judge-daily", "trigger-collect-daily"):
        assert matches(cond["filter"], scheduler_entry(schedule, failed=True))
        assert not matches(cond["filter"], scheduler_entry(schedule, failed=False))
    assert not matches(cond["filter"], scheduler_entry("someone-elses-schedule", failed=True))
    failed = scheduler_entry("trigger-judge-daily", failed=True)
    assert {k: extract(x, failed) for k, x in cond["labelExtractors"].items()} == {
        "job": "trigger-judge-daily",
        "status": "PERMISSION_DENIED",
    }


def scheduler_entry(job_id: str, *, failed: bool) -> dict[str, Any]:
    """A Cloud Scheduler attempt log entry in the shape Cloud Scheduler writes for an HTTP target: log
    ``cloudscheduler.googleapis.com/executions`` on ``cloud_scheduler_job``, an ``AttemptFinished``
    payload, ERROR with a ``status`` (a google.rpc code name) when the attempt failed."""
    payload = {
        "@type": "type.googleapis.com/google.cloud.scheduler.logging.AttemptFinished",
        "jobName": f"projects/llm-judge-dev/locations/us-central1/jobs/{job_id}",
        "targetType": "HTTP",
        "url": "https://run.googleapis.com/v2/projects/llm-judge-dev/locations/us-central1/jobs/x:run",
    }
    if failed:
        payload["status"] = "PERMISSION_DENIED"
    return {
        "logName": "projects/llm-judge-dev/logs/cloudscheduler.googleapis.com%2Fexecutions",
        "resource": {
            "type": "cloud_scheduler_job",
            "labels": {"job_id": job_id, "location": "us-central1", "project_id": "llm-judge-dev"},
        },
        "severity": "ERROR" if failed else "INFO",
        "httpRequest": {"status": 403 if failed else 200},
        "jsonPayload": payload,
    }


def test_scheduler_filter_is_one_the_parser_reads_back():
    text = scheduler_filter(("a", "b"))
    assert 'resource.labels.job_id=("a" OR "b")' in text


# --- documentation and the runbook --------------------------------------------------------------------


def test_every_policy_says_what_broke_and_names_its_runbook_section(dev):
    lines = RUNBOOK.read_text().splitlines()
    headings = {line.removeprefix("## ").strip() for line in lines if line.startswith("## ")}
    titles = {section.title for section in (*SECTIONS, *DRIFT_SECTIONS)}
    assert titles <= headings, titles - headings
    for key, policy in policies(dev).items():
        doc = policy["documentation"]
        assert doc["mimeType"] == "text/markdown"
        assert "**Do:**" in doc["content"], key
        assert "gcloud " in doc["content"], key
        assert "llm-judge-dev" in doc["content"], key  # the stack's own project in the commands
        section = next(s for s in (*SECTIONS, *DRIFT_SECTIONS) if policy["displayName"].endswith(s.title))
        assert f'{RUNBOOK_PATH}, section "{section.title}" (#{section.anchor})' in doc["content"]
        assert "links" not in doc
        assert len(doc["content"]) <= 8192


def runbook_sections() -> dict[str, str]:
    text = RUNBOOK.read_text()
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_a_failed_scheduler_attempt_is_not_taken_for_a_missed_run(dev):
    # Scheduler retries: the alert fires at the first failed attempt, and starting the job by hand while a
    # retry's execution runs would give two loaders in one consumer group.
    content = policies(dev)["scheduler-failed"]["documentation"]["content"]
    assert "a retry may still have started the execution" in content
    for job in ("interaction-loader", "llm-judge-trigger", "llm-judge-collect"):
        listed = content.index(f"gcloud run jobs executions list --job={job} ")
        assert listed < content.index("gcloud scheduler jobs run"), job
    section = runbook_sections()["Cloud Scheduler attempt failed"]
    assert "a later attempt may\nstill have started the execution" in section
    assert section.index("gcloud run jobs executions list") < section.index("gcloud scheduler jobs run")


def test_every_runbook_section_that_starts_a_job_checks_for_a_running_execution_first():
    starts = re.compile(r"gcloud (run jobs execute|scheduler jobs run) ")
    sections = runbook_sections()
    before = sections["Before you run a job by hand"]
    assert "gcloud run jobs executions list" in before
    assert "run.jobs.runWithOverrides" in before
    assert "roles/run.developer" in before
    for title, body in sections.items():
        if title != "Before you run a job by hand" and starts.search(body) is not None:
            marks = (body.find("executions list"), body.find("(#before-you-run-a-job-by-hand)"))
            found = [i for i in marks if i >= 0]
            assert found, title
            assert min(found) < starts.search(body).start(), title


def test_a_runbook_base_url_becomes_a_link_to_each_section(prefixed):
    assert policies(prefixed)
    for key, policy in policies(prefixed).items():
        (link,) = policy["documentation"]["links"]
        assert link["url"].startswith(RUNBOOK_URL + "#"), key
        assert f"]({link['url']})" in policy["documentation"]["content"]


def test_runbook_anchors_are_the_ones_github_gives_its_headings():
    anchors = {s.title: s.anchor for s in (*SECTIONS, *DRIFT_SECTIONS)}
    collect = "Collect failed or a day stays uncollected"
    assert anchors[collect] == "collect-failed-or-a-day-stays-uncollected"
    assert anchors["Cloud Scheduler attempt failed"] == "cloud-scheduler-attempt-failed"
    text = RUNBOOK.read_text()
    for anchor in anchors.values():
        assert f"(#{anchor})" in text  # the runbook's own table links every section


# --- config ------------------------------------------------------------------------------------------


def problems(alerts: dict[str, Any], **gcp: Any) -> list[str]:
    block = merged(gcp_block("prod"), {"alerts": alerts, **gcp})
    with pytest.raises(ConfigError) as info:
        load_stack_config({"gcp": block, "aws": {"enabled": False}})
    return info.value.problems


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        ({"emails": ["oncall"]}, "gcp.alerts.emails[0]: must be an e-mail address"),
        ({"emails": ["a@b.io", "A@b.io"]}, "gcp.alerts.emails[1]: 'A@b.io' is listed twice"),
        (
            {"notificationChannels": ["1234567890"]},
            "gcp.alerts.notificationChannels[0]: must be a notification channel name",
        ),
        (
            {"notificationChannels": ["projects/p/notificationChannels/123"]},
            "gcp.alerts.notificationChannels[0]: must be a notification channel name",
        ),
        ({"loaderLagLeft": 0}, "gcp.alerts.loaderLagLeft: Input should be greater than or equal to 1"),
        ({"deadLettersPerRun": -5}, "gcp.alerts.deadLettersPerRun: Input should be greater than or equal"),
        (
            {"loaderNoSuccessHours": 24},
            "gcp.alerts.loaderNoSuccessHours: 24 h is longer than Cloud Monitoring watches a metric's "
            "absence (23.5 h): at most 23",
        ),
        ({"schedulerNotifyMinutes": 1}, "gcp.alerts.schedulerNotifyMinutes: Input should be greater than"),
        ({"runbookBaseUrl": "http://example.com/r.md"}, "gcp.alerts.runbookBaseUrl: must be an https:// URL"),
        ({"loaderLagLeft": "100"}, "gcp.alerts.loaderLagLeft: Input should be a valid integer"),
        ({"emial": ["a@b.io"]}, "gcp.alerts.emial: unknown key"),
        ({"peopleKappaFloor": 1.5}, "gcp.alerts.peopleKappaFloor: Input should be less than or equal to 1"),
        ({"peopleKappaDays": 31}, "gcp.alerts.peopleKappaDays: Input should be less than or equal to 30"),
        ({"flaggedRateSigmas": 0}, "gcp.alerts.flaggedRateSigmas: Input should be greater than 0"),
    ],
)
def test_bad_alert_config_is_one_clear_error_naming_the_key(alerts, expected):
    (found,) = problems(alerts)
    assert found.startswith(f"llm-judge:{expected}"), found


def test_a_window_a_healthy_loader_can_exceed_is_refused():
    (found,) = problems({"loaderNoSuccessHours": 1})
    # prod: an hour between runs plus a run that used all three attempts (3 x 1000 s).
    assert found.startswith("llm-judge:gcp.alerts.loaderNoSuccessHours: 1 h leaves -3000 s over 6600 s")


def test_the_absence_window_needs_ten_minutes_over_the_longest_healthy_gap():
    # 2 h over an hour's gap plus 3 x 1100 s leaves 300 s: a late summary would page between healthy runs.
    (found,) = problems({"loaderNoSuccessHours": 2}, jobs={"loader": {"timeoutSeconds": 1100}})
    assert found.startswith(
        "llm-judge:gcp.alerts.loaderNoSuccessHours: 2 h leaves 300 s over 6900 s, the longest a healthy "
        "loader goes without a completed run"
    )
    assert "it needs at least 600 s more" in found
    # Exactly 600 s passes (prod as committed: 3 x 1000 s), and the derived window keeps the slack too.
    assert (
        load_stack_config({"gcp": gcp_block("prod"), "aws": {"enabled": False}}).gcp.loader_no_success_hours
        == 2
    )
    derived = merged(gcp_block("prod"), {"alerts": {"loaderNoSuccessHours": None}})
    derived = merged(derived, {"jobs": {"loader": {"timeoutSeconds": 1100}}})
    assert load_stack_config({"gcp": derived, "aws": {"enabled": False}}).gcp.loader_no_success_hours == 3


def test_a_loader_too_slow_for_an_absence_condition_is_refused():
    (found,) = problems({"loaderNoSuccessHours": None}, schedules={"loader": {"cron": "0 0 * * *"}})
    assert found.startswith("llm-judge:gcp.alerts.loaderNoSuccessHours: a healthy loader can go 89400 s")
    # A 22 h gap plus 3 x 1000 s and the slack is exactly 23 h, the most Monitoring can watch; 3 x 1100 s
    # is not.
    twice_a_day = {"loader": {"cron": "0 0,22 * * *"}}
    block = merged(gcp_block("prod"), {"alerts": {"loaderNoSuccessHours": None}, "schedules": twice_a_day})
    assert load_stack_config({"gcp": block, "aws": {"enabled": False}}).gcp.loader_no_success_hours == 23
    (found,) = problems(
        {"loaderNoSuccessHours": None}, schedules=twice_a_day, jobs={"loader": {"timeoutSeconds": 1100}}
    )
    assert "a healthy loader can go 82500 s" in found


def test_uncollected_days_must_be_below_collects_lookback():
    (found,) = problems({"uncollectedDays": 3})
    assert found.startswith("llm-judge:gcp.alerts.uncollectedDays: 3 is not below the 3 day(s) collect looks")
    (found,) = problems({"uncollectedDays": 1}, jobs={"collect": {"args": ["collect"]}})
    assert "1 day(s)" in found
    assert (
        load_stack_config(
            {"gcp": merged(gcp_block("prod"), {"alerts": {"uncollectedDays": 3, "enabled": False}})}
        ).gcp.alerts.uncollected_days
        == 3
    )


@pytest.mark.parametrize(
    ("review", "expected"),
    [
        (
            {"perStratum": -1},
            "gcp.jobs.collect.review.perStratum: Input should be greater than or equal to 0",
        ),
        ({"minLabels": 0}, "gcp.jobs.collect.review.minLabels: Input should be greater than or equal to 1"),
        ({"randomSlise": 5}, "gcp.jobs.collect.review.randomSlise: unknown key"),
    ],
)
def test_bad_review_config_is_one_clear_error_naming_the_key(review, expected):
    (found,) = problems({}, jobs={"collect": {"review": review}})
    assert found.startswith(f"llm-judge:{expected}"), found


def test_the_drift_thresholds_reach_the_filters_and_the_collect_job():
    plan = render_gcp(
        "dev",
        {"alerts": {"peopleKappaFloor": 0.45, "peopleKappaDays": 5, "flaggedRateSigmas": 2.5}},
        **CREDENTIALS,
    )
    filters = {m.inputs["name"]: m.inputs["filter"] for m in plan.of_type(LOG_METRIC)}
    assert filters["llm-judge/judge_people_kappa_below_floor"].endswith("jsonPayload.people_kappa < 0.45")
    assert filters["llm-judge/flagged_rate_off_its_mean"].endswith("jsonPayload.flagged_rate_sigmas > 2.5")
    (collect,) = [
        j for j in plan.of_type("gcp:cloudrunv2/job:Job") if j.inputs["name"] == "llm-judge-collect"
    ]
    env = {e["name"]: e.get("value") for e in collect.inputs["template"]["template"]["containers"][0]["envs"]}
    assert env["PEOPLE_KAPPA_DAYS"] == "5"
