"""What each alert policy tells the person it wakes: what broke, what it cannot see, the first commands
to run (with this stack's names filled in), and the docs/runbook.md section with the rest.

Markdown, as ``documentation.content`` takes it (at most 8,192 characters; alert.proto).
``${log.extracted_label.KEY}`` is expanded by Cloud Monitoring in notifications of a log-match policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from pulumi_gcp.monitoring import AlertPolicyDocumentationArgsDict, AlertPolicyDocumentationLinkArgsDict

RUNBOOK_PATH = "docs/runbook.md"
MAX_CONTENT_CHARS = 8192


@dataclass(frozen=True)
class DocContext:
    """The names an operator types: all known before anything is created."""

    stack: str
    project: str
    region: str
    loader_job: str
    judge_job: str
    collect_job: str | None
    schedules: tuple[str, ...]
    runbook_base_url: str | None


@dataclass(frozen=True)
class Section:
    """A section of docs/runbook.md: its heading, and the anchor GitHub (and most renderers) give it."""

    title: str

    @property
    def anchor(self) -> str:
        kept = "".join(c for c in self.title.lower() if c.isalnum() or c in " -")
        return kept.replace(" ", "-")


LOADER_FAILED = Section("Loader execution failed")
JUDGE_FAILED = Section("Judge execution failed")
COLLECT = Section("Collect failed or a day stays uncollected")
SCHEDULER = Section("Cloud Scheduler attempt failed")
LOADER_BEHIND = Section("Loader falling behind")
DEAD_LETTERS = Section("Dead letters above the threshold")
NOT_JUDGED = Section("Records not judged above the threshold")
JUDGE_DRIFT = Section("Judge drifting from people's labels")
FLAGGED_RATE = Section("Flagged rate far from its 14-day mean")
SECTIONS = (LOADER_FAILED, JUDGE_FAILED, COLLECT, SCHEDULER, LOADER_BEHIND, DEAD_LETTERS, NOT_JUDGED)
DRIFT_SECTIONS = (JUDGE_DRIFT, FLAGGED_RATE)


def _where(ctx: DocContext) -> str:
    return f"--region={ctx.region} --project={ctx.project}"


def _logs(ctx: DocContext, job: str, extra: str = "") -> str:
    query = f'resource.type="cloud_run_job" AND resource.labels.job_name="{job}"{extra}'
    return f"gcloud logging read '{query}' --project={ctx.project} --freshness=1d --limit=50"


def _executions(ctx: DocContext, job: str) -> str:
    return (
        f"gcloud run jobs executions list --job={job} {_where(ctx)} --limit=5\n"
        f"gcloud run jobs executions describe EXECUTION {_where(ctx)}"
    )


def _body(ctx: DocContext) -> dict[str, str]:
    """Each section's text: what broke, what to do, what the alert cannot see."""
    collect = ctx.collect_job or "llm-judge-collect"
    collect_summaries = _logs(ctx, collect, ' AND jsonPayload.event="collect.summary"')
    loader_summaries = _logs(ctx, ctx.loader_job, ' AND jsonPayload.message="loader summary"')
    many_dead = _logs(
        ctx, ctx.loader_job, ' AND jsonPayload.message="loader summary" AND jsonPayload.dead_letters>0'
    )
    read_dead = (
        "gcloud storage cat 'gs://BUCKET/deadletter/YYYY-MM-DD/*' "
        "| jq -r '[.partition,.offset,.reason,.detail] | @tsv'"
    )
    resubmit = f"gcloud run jobs execute {ctx.judge_job} {_where(ctx)} --args=submit,--date,YYYY-MM-DD --wait"
    executions_now = "\n".join(
        f"gcloud run jobs executions list --job={job} {_where(ctx)} --limit=3"
        for job in (ctx.loader_job, ctx.judge_job, ctx.collect_job)
        if job is not None
    )
    scheduler_logs = (
        f"gcloud logging read 'resource.type=\"cloud_scheduler_job\" AND severity>=ERROR' "
        f"--project={ctx.project} --freshness=1d --limit=20"
    )
    return {
        LOADER_FAILED.title: (
            f"Every attempt of an execution of `{ctx.loader_job}` failed, so that execution loaded nothing "
            "more. Nothing is lost yet: offsets are committed only behind stored objects and the next "
            "run resumes there, but Kafka keeps messages only for the topic's retention.\n\n"
            "**Do:** find the failed execution and its error (exit code 1: run-time failure such as an "
            "upload or a fatal Kafka error; 2: settings), fix the cause, then run it again:\n\n"
            f"```\n{_executions(ctx, ctx.loader_job)}\n"
            f"{_logs(ctx, ctx.loader_job, ' AND severity>=ERROR')}\n"
            f"gcloud run jobs execute {ctx.loader_job} {_where(ctx)} --wait\n```"
        ),
        JUDGE_FAILED.title: (
            f"An execution of `{ctx.judge_job}` (`submit` for yesterday, UTC) failed: the day's Vertex AI "
            "batch may not have been submitted, and nothing will be collected for it.\n\n"
            "**Do:** read the error (exit code 2: settings or prompt file; 1: failed at run time), fix "
            "it, then submit the day again (a day with live or successful jobs is never submitted twice):"
            f"\n\n```\n{_executions(ctx, ctx.judge_job)}\n"
            f"{_logs(ctx, ctx.judge_job, ' AND severity>=WARNING')}\n"
            f"{resubmit}\n```"
        ),
        COLLECT.title: (
            f"Either an execution of `{collect}` failed (exit code 3: a day's batch ended with no "
            "predictions; 2: settings or a backend mismatch), or a submitted day is still uncollected "
            "longer than the threshold because its Vertex AI batch is still queued or running. Collect "
            "only looks back `--lookback` days: a day older than that is never collected by the "
            "schedule.\n\n"
            "**Do:** read the collect summary (`oldest_uncollected_day`), check that day's batch jobs, "
            "then collect it by date once they have ended (or cancel and resubmit it):\n\n"
            f"```\n{collect_summaries}\n"
            f"{_executions(ctx, collect)}\n"
            f"gcloud run jobs execute {ctx.judge_job} {_where(ctx)} --args=status,--date,YYYY-MM-DD --wait\n"
            f"gcloud run jobs execute {collect} {_where(ctx)} --args=collect,--date,YYYY-MM-DD --wait\n```"
        ),
        SCHEDULER.title: (
            "An attempt of Cloud Scheduler to start a job failed (`${log.extracted_label.job}`, status "
            "`${log.extracted_label.status}`). Scheduler retries a failed `:run` call (`schedules.retry`), "
            "and this alert fires on every failed attempt: **a retry may still have started the "
            "execution**. Typical causes when none did: the invoker account lost `roles/run.invoker`, the "
            "job was deleted or renamed, or the Cloud Run Admin API refused the call.\n\n"
            "**Do:** first check whether the scheduled execution ran after all (a retry's execution and "
            "one started by hand would overlap: two loaders in one consumer group take each other's "
            "partitions). Only if no execution started at the scheduled time, read the attempt's error, "
            "fix it, and trigger the schedule by hand:\n\n"
            f"```\n{executions_now}\n{scheduler_logs}\n"
            f"gcloud scheduler jobs describe SCHEDULE --location={ctx.region} --project={ctx.project}\n"
            f"gcloud scheduler jobs run SCHEDULE --location={ctx.region} --project={ctx.project}\n```\n\n"
            f"Schedules of this stack: {', '.join(f'`{s}`' for s in ctx.schedules)}."
        ),
        LOADER_BEHIND.title: (
            f"`{ctx.loader_job}` is falling behind the topic: either no task has completed a run for the "
            "window (runs fail, stop early, or never start), or a task ended with more messages of its "
            "partitions still unread (`lag_left`; `group_lag_left` is the whole group's) than the "
            "threshold. Past the topic's retention, unread "
            "messages are lost for good.\n\n"
            "**Do:** read the last summaries (`outcome`, `lag_left`, `group_lag_left`, `seconds`); if runs "
            "fail, see the "
            "loader's failed executions; if they complete but cannot keep up, raise "
            "`jobs.loader.taskCount` (up to the partition count) or run them more often, and catch up "
            "by running the job now:\n\n"
            f"```\n{loader_summaries}\n"
            f"{_executions(ctx, ctx.loader_job)}\n"
            f"gcloud run jobs execute {ctx.loader_job} {_where(ctx)} --wait\n```\n\n"
            "An absence condition only fires once the metric has had a point since the policy was "
            "created or changed: right after a deployment, a loader that has never completed is "
            "reported by the execution-failed alert, not by this one."
        ),
        NOT_JUDGED.title: (
            f"A run of `{collect}` collected a day on which more of the records than the threshold got no "
            "answer: the judge ran, but its results are thin. The usual causes: answers cut at the "
            "output cap (`truncated`: the model thinks more than the prompt's room for it), the model "
            "refusing the requests (`vertex_error`), or answers outside the prompt's schema.\n\n"
            "**Do:** read the day's summary (`not_judged_percent` per day in the collect summary, "
            "`failures_by_reason` and `truncated.thought_share` in `summary.json`), send the canary to "
            "see what one request costs now, and lower the prompt's `thinkingLevel`, raise the level's "
            "room in `app/batch_job/gemini_models.yaml` or change the model; then judge the day again:"
            f"\n\n```\n{collect_summaries}\n"
            "gcloud storage cat gs://BUCKET/judgements/YYYY-MM-DD/summary.json "
            "| jq '.not_judged_percent, .failures_by_reason, .truncated'\n"
            f"{_executions(ctx, ctx.judge_job)}\n"
            f"gcloud run jobs execute {ctx.judge_job} {_where(ctx)} --args=check --wait\n"
            f"gcloud run jobs execute {ctx.judge_job} {_where(ctx)} "
            "--args=submit,--date,YYYY-MM-DD,--force --wait\n```"
        ),
        DEAD_LETTERS.title: (
            f"A run of `{ctx.loader_job}` dead-lettered more messages than the threshold: they are not in "
            "`raw/` and will not be judged. Each is kept with its bytes, offset and reason under "
            "`deadletter/<day>/`.\n\n"
            "**Do:** see which reasons dominate (`dead_letters_by_reason` in the summary), read a few, "
            "fix the producer (or the record format), and produce the fixed messages again:\n\n"
            f"```\n{many_dead}\n{read_dead}\n```"
        ),
    }


def _drift_body(ctx: DocContext) -> dict[str, str]:
    """The two policies on the judge itself (collect's summary after it reports a day)."""
    collect = ctx.collect_job or "llm-judge-collect"
    kappas = _logs(ctx, collect, ' AND jsonPayload.event="collect.summary" AND jsonPayload.people_kappa<1')
    rates = _logs(
        ctx, collect, ' AND jsonPayload.event="collect.summary" AND jsonPayload.flagged_rate_sigmas>0'
    )
    agreement = (
        "gcloud storage cat gs://BUCKET/labels/YYYY-MM-DD/agreement.json "
        "| jq '.judges[] | {name, n, headline}'"
    )
    calibrate = (
        "python -m app.judge calibrate --gold prompts/gold/security-judge.jsonl --base-url URL "
        "--json now.json --against last-good.json"
    )
    return {
        JUDGE_DRIFT.title: (
            "The judge agrees less with people than it should: its kappa against the labels people gave the "
            "review samples, pooled over its last labelled days (`people_kappa`, `people_kappa_days` and "
            "`people_kappa_labels` on collect's summary), is below the floor. The judge changed (a new model "
            "or prompt, a provider's update), the traffic did (requests it was never calibrated on), or the "
            "labellers did (new people, new guidelines).\n\n"
            '**Do:** open the latest day\'s report, section "Agreement with people" (per field, per day), '
            "read the labelled records where judge and people differ, then measure the judge on the gold "
            "set against its last good figures:\n\n"
            f"```\n{kappas}\n"
            f"{agreement}\n"
            f"{calibrate}\n```\n\n"
            "Days with fewer labels than `jobs.collect.review.minLabels` write no kappa: a team that stops "
            "labelling silences this alert, it does not trip it."
        ),
        FLAGGED_RATE.title: (
            "A day's flagged rate (flagged answers over answers) is further from the mean of the 14 days "
            "before it than the threshold, in standard deviations (`flagged_rate_sigmas` and "
            "`flagged_rate_sigmas_day` on collect's summary). Real: an attack wave, a new client or feature "
            "sending other traffic. Or the judge: a new model or prompt flags differently.\n\n"
            "**Do:** open that day's report (its trend section gives the rate, the mean and the deviation), "
            "read the flagged records and the categories by source, compare with the second judge if there "
            "is one; if the judge changed that day, calibrate it on the gold set:\n\n"
            f"```\n{rates}\n"
            f"gcloud run jobs execute {ctx.judge_job} {_where(ctx)} --args=status,--date,YYYY-MM-DD --wait\n"
            f"{calibrate}\n```"
        ),
    }


def documentation(section: Section, ctx: DocContext) -> AlertPolicyDocumentationArgsDict:
    """``documentation`` of the policy that ``section`` of the runbook explains."""
    body = {**_body(ctx), **_drift_body(ctx)}[section.title]
    if ctx.runbook_base_url:
        link = f"{ctx.runbook_base_url}#{section.anchor}"
        tail = f"Runbook: [{section.title}]({link})"
    else:
        tail = f'Runbook: {RUNBOOK_PATH}, section "{section.title}" (#{section.anchor}).'
    content = f"{body}\n\n{tail}"
    if len(content) > MAX_CONTENT_CHARS:
        raise ValueError(f"{section.title}: documentation is {len(content)} characters, over the API's limit")
    doc: AlertPolicyDocumentationArgsDict = {
        "content": content,
        "mime_type": "text/markdown",
        "subject": f"[{ctx.stack}] {section.title}",
    }
    if ctx.runbook_base_url:
        links: list[AlertPolicyDocumentationLinkArgsDict] = [
            {"display_name": "Runbook", "url": f"{ctx.runbook_base_url}#{section.anchor}"}
        ]
        doc["links"] = links
    return doc
