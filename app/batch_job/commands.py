"""The subcommands over a list of days; each returns the process exit code.

Every run ends with one ``<command>.summary`` log event (``submit.summary``, ``collect.summary``, ...):
what the command did to which days and its exit code, at INFO (ERROR when the code is not 0). On Cloud
Run it is ``jsonPayload.<field>``; the stack's log-based metrics and alerts read ``collect.summary``'s
``oldest_uncollected_age_days``, ``not_judged_percent_max``, ``flagged_rate_sigmas`` and ``people_kappa``
(components/gcp/builders/log_metrics.py): rename nothing here without them.

``submit`` on Vertex AI starts with the canary (canary.py): one ``generateContent`` with the day's exact
request settings, before any input is written or any job is created; ``check`` runs it alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from app.batch_job.canary import CanaryRefused, CanaryUnavailable
from app.batch_job.catalogue import ModelChoiceError
from app.batch_job.collect import CollectError, collect_day
from app.batch_job.context import Context
from app.batch_job.exits import EXIT_JOB_FAILED, EXIT_NO_PREDICTIONS, EXIT_OK, EXIT_USAGE
from app.batch_job.gcs import read_json
from app.batch_job.judgements import BackendMismatch
from app.batch_job.settings import SettingsError
from app.batch_job.submit import SubmitError, submit_day
from app.batch_job.thinking import ThinkingConfigError
from app.batch_job.vertex import ACTIVE_STATES, FAILED_STATES, JobView, VertexError
from app.batch_job.vertex_schema import SchemaConversionError
from app.batch_job.wait import wait_for_jobs
from app.judge.prompt_file import PromptFileError
from app.logs import log

if TYPE_CHECKING:
    from app.report.daily import WrittenReport

logger = logging.getLogger(__name__)

Summary = dict[str, Any]
"""The fields of a run's summary event; each command adds its own."""


def run(
    command: str,
    ctx: Context,
    days: list[dt.date],
    args: argparse.Namespace,
    *,
    today: dt.date | None = None,
) -> int:
    """Run ``command`` over ``days``; ``today`` (UTC, the run's date) dates the ages in the summary."""
    today = today or dt.datetime.now(dt.UTC).date()
    summary: Summary = {"command": command, "days": [d.isoformat() for d in days]}
    try:
        code = _dispatch(command, ctx, days, args, summary, today)
    except (SubmitError, CollectError, BackendMismatch) as exc:
        print(f"error: {exc}", file=ctx.out)
        code = _failed(summary, exc)
    except VertexError as exc:
        print(f"error: {exc}", file=ctx.out)
        code = _failed(summary, exc, EXIT_USAGE if exc.is_configuration else EXIT_JOB_FAILED)
    except (CanaryRefused, ModelChoiceError) as exc:
        # The model, location or request will not be accepted: one line, nothing written or created.
        print(f"error: {exc}", file=ctx.out)
        code = _failed(summary, exc)
    except CanaryUnavailable as exc:
        print(f"error: {exc}", file=ctx.out)
        code = _failed(summary, exc, EXIT_JOB_FAILED)
    except (PromptFileError, SchemaConversionError, ThinkingConfigError) as exc:
        # A missing or broken PROMPT_PATH is a setup mistake: say which file and field, no traceback.
        print(f"error: prompt {ctx.settings.prompt_path}: {exc}", file=ctx.out)
        code = _failed(summary, exc)
    except Exception as exc:  # a bug or an outage: the traceback follows, the summary still says so
        _log_summary(command, _failed(summary, exc, EXIT_JOB_FAILED), summary)
        raise
    _log_summary(command, code, summary)
    return code


def _dispatch(
    command: str,
    ctx: Context,
    days: list[dt.date],
    args: argparse.Namespace,
    summary: Summary,
    today: dt.date,
) -> int:
    if command == "submit":
        return _submit(ctx, days, args, summary)
    if command == "check":
        return _check(ctx, summary)
    if command == "status":
        return _status(ctx, days)
    if command == "collect":
        return _collect(ctx, days, args, summary, today)
    if command == "cancel":
        return _cancel(ctx, days)
    if command == "report":
        from app.batch_job.report_cmd import run_report

        return run_report(ctx, ctx.settings, days, args, summary)
    if command == "import-labels":
        from app.batch_job.report_cmd import import_labels

        return import_labels(ctx, ctx.settings, days, args, summary)
    raise AssertionError(command)


def _failed(summary: Summary, exc: BaseException, code: int = EXIT_USAGE) -> int:
    summary["error"] = f"{type(exc).__name__}: {exc}"
    return code


def _log_summary(command: str, code: int, summary: Summary) -> None:
    log(
        logger,
        logging.INFO if code == EXIT_OK else logging.ERROR,
        f"{command} summary: exit code {code}",
        event=f"{command}.summary",
        exit_code=code,
        **summary,
    )


def _submit(ctx: Context, days: list[dt.date], args: argparse.Namespace, summary: Summary) -> int:
    summary["backend"] = ctx.settings.backend
    if ctx.settings.backend == "openai":
        from app.batch_job.openai_backend import judge_day

        for day in days:
            judge_day(ctx, day, force=args.force)
        return EXIT_OK
    if not args.dry_run:
        summary["canary"] = _canary(ctx)
    jobs: list[JobView] = []
    actions: dict[str, str] = {}
    for day in days:
        outcome = submit_day(ctx, day, force=args.force, dry_run=args.dry_run)
        jobs.extend(outcome.jobs)
        actions[day.isoformat()] = outcome.action
    summary.update(actions=actions, jobs=len(jobs))  # created now or found live
    if args.wait and jobs and not args.dry_run:
        return EXIT_OK if wait_for_jobs(ctx, jobs) else EXIT_JOB_FAILED
    return EXIT_OK


def _canary(ctx: Context) -> str:
    """The canary before the night's work: raises on a refusal; an answer that came back cut or invalid
    is said and logged, and the night goes on (collect's summary and its alert see such answers)."""
    from app.batch_job.canary import describe_answer, run_vertex_canary
    from app.batch_job.online import OnlineAnswer

    result = run_vertex_canary(ctx)
    prompt = ctx.prompt
    note = describe_answer(result, prompt.generation.max_output_tokens, prompt.thinking.room)
    if isinstance(result, OnlineAnswer):
        ctx.say(f"canary: {ctx.settings.model_id} in {ctx.settings.gcp_location} {note}")
        return "ok"
    ctx.say(f"warning: canary: {note}")
    log(logger, logging.WARNING, f"canary: {note}", event="batch.canary_answer", reason=result.reason)
    return result.reason


def _check(ctx: Context, summary: Summary) -> int:
    """The canary alone: the post-deploy smoke test (vertex), or one judgement through vLLM (openai)."""
    settings = ctx.settings
    summary["backend"] = settings.backend
    if settings.backend == "openai":
        return _check_openai(ctx, summary)
    from app.batch_job.canary import describe_answer, run_vertex_canary
    from app.batch_job.online import OnlineAnswer

    prompt = ctx.prompt
    generation = prompt.generation
    ctx.say(
        f"check: {settings.model_id} in {settings.gcp_location} (project {settings.gcp_project}), prompt "
        f"{settings.prompt_path}: {prompt.thinking.describe()}, maxOutputTokens "
        f"{generation.max_output_tokens}"
    )
    result = run_vertex_canary(ctx)
    ctx.say(
        ("ok: " if isinstance(result, OnlineAnswer) else "error: ")
        + describe_answer(result, generation.max_output_tokens, prompt.thinking.room)
    )
    summary["canary"] = "ok" if isinstance(result, OnlineAnswer) else result.reason
    summary["thoughts_tokens"] = result.usage.thoughts_tokens if result.usage is not None else None
    return EXIT_OK if isinstance(result, OnlineAnswer) else EXIT_JOB_FAILED


def _check_openai(ctx: Context, summary: Summary) -> int:
    """One judgement of the canary interaction through the self-hosted server, with the prompt's schema
    (the judge library's client, as the vLLM path of submit uses it)."""
    from app.batch_job.canary import CANARY
    from app.judge.client import JudgeClient

    settings = ctx.settings
    if not settings.openai_base_url:
        raise SettingsError("check --backend openai needs --base-url (or OPENAI_BASE_URL)")
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    with JudgeClient(
        prompt=ctx.prompt.file, base_url=settings.openai_base_url, model=settings.openai_model, api_key=key
    ) as client:
        ctx.say(f"check: {client.model} at {settings.openai_base_url}, prompt {settings.prompt_path}")
        judgement = client.judge(CANARY.prompt, CANARY.response)
    usage = judgement.usage
    spent = f"{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens"
    if judgement.failure is not None:
        ctx.say(f"error: no usable answer: {judgement.error} ({spent})")
        summary["canary"] = judgement.failure.reason
        code = EXIT_USAGE if judgement.failure.reason == "request_rejected" else EXIT_JOB_FAILED
        return code
    ctx.say(f"ok: answered in {judgement.latency_ms / 1000:.1f} s ({spent})")
    summary["canary"] = "ok"
    return EXIT_OK


def _status(ctx: Context, days: list[dt.date]) -> int:
    for day in days:
        layout = ctx.layout(day)
        manifest = read_json(ctx.storage, layout.manifest)
        if manifest is None:
            ctx.say(f"[{day}] not built (no {layout.manifest.uri})")
        else:
            ctx.say(
                f"[{day}] built {manifest['built_at']}: {manifest['requests']} request(s) in "
                f"{len(manifest['parts'])} part(s), {manifest['rejected']} rejected line(s)"
            )
        jobs = ctx.vertex.day_jobs(day)
        if not jobs:
            ctx.say(f"[{day}] no Vertex AI job")
        for part, views in jobs.items():
            for n, job in enumerate(views):
                tag = "" if n == 0 else " (earlier attempt)"
                progress = f"{job.state} {job.progress()}".rstrip()
                ctx.say(f"  part {part:05d}: {progress} {job.name} created {job.create_time}{tag}")
                if job.error:
                    ctx.say(f"    error: {job.error}")
        summary = read_json(ctx.storage, layout.summary)
        if summary is not None:
            ctx.say(f"[{day}] collected ({summary.get('backend')}): {summary['counts']}")
    return EXIT_OK


def _cancel(ctx: Context, days: list[dt.date]) -> int:
    for day in days:
        live = [views[0] for views in ctx.vertex.day_jobs(day).values() if views[0].state in ACTIVE_STATES]
        if not live:
            ctx.say(f"[{day}] no queued or running job")
        for job in live:
            ctx.vertex.cancel(job.name)
            ctx.say(f"[{day}] cancel requested: {job.display_name} ({job.name})")
    return EXIT_OK


def _collect(
    ctx: Context, days: list[dt.date], args: argparse.Namespace, summary: Summary, today: dt.date
) -> int:
    code = EXIT_OK
    scheduled = args.lookback is not None
    collected: list[str] = []
    not_submitted: list[str] = []
    running_days: list[dt.date] = []
    without_predictions: list[str] = []
    reported: list[str] = []
    reports: list[tuple[dt.date, WrittenReport]] = []
    report_failed: list[str] = []
    not_judged: dict[str, float] = {}
    summary.update(
        days_reported=reported,
        days_report_failed=report_failed,
        days_collected=collected,
        days_not_submitted=not_submitted,
        days_running=[],
        days_without_predictions=without_predictions,
    )
    for day in days:
        if scheduled and read_json(ctx.storage, ctx.layout(day).manifest) is None:
            ctx.say(f"[{day}] nothing submitted: skipped")
            not_submitted.append(day.isoformat())
            continue
        jobs = ctx.vertex.day_jobs(day)
        running = [views[0] for views in jobs.values() if views[0].state in ACTIVE_STATES]
        if running:
            # Collecting now would write every record of the unfinished parts as `missing`; the next
            # run (or `collect --date`) takes the day once its jobs have ended.
            ctx.say(f"[{day}] {len(running)} job(s) still queued or running: not collected yet")
            running_days.append(day)
            if not scheduled:
                code = EXIT_NO_PREDICTIONS
            continue
        outcome = collect_day(ctx, day, force=args.force, jobs=jobs)
        collected.append(day.isoformat())
        not_judged[day.isoformat()] = outcome.summary["not_judged_percent"]
        if not outcome.predictions_found and outcome.summary["records"]:
            ended = sorted({views[0].state for views in jobs.values() if views[0].state in FAILED_STATES})
            if ended:
                ctx.say(f"[{day}] job(s) ended {', '.join(ended)} without output: `submit` judges them again")
            else:
                ctx.say(f"[{day}] no predictions found yet: is the job still running? (see `status`)")
            without_predictions.append(day.isoformat())
            code = EXIT_NO_PREDICTIONS
        elif not getattr(args, "no_report", False):
            written = _report_after_collect(ctx, day)
            if written is not None:
                reported.append(day.isoformat())
                reports.append((day, written))
            else:
                report_failed.append(day.isoformat())
                code = max(code, EXIT_JOB_FAILED)
    oldest = min(running_days, default=None)
    summary.update(
        days_running=[d.isoformat() for d in running_days],
        oldest_uncollected_day=oldest.isoformat() if oldest else None,
        # Always a number (0: nothing left behind), so the metric filter compares a number on every run.
        oldest_uncollected_age_days=(today - oldest).days if oldest else 0,
        # Per collected day, the share of its records without an answer; the worst of them always a
        # number (0.0: nothing collected), for the "records not judged" alert.
        not_judged_percent=not_judged,
        not_judged_percent_max=max(not_judged.values(), default=0.0),
        **_drift_fields(reports),
    )
    return code


def _report_after_collect(ctx: Context, day: dt.date) -> WrittenReport | None:
    """The day's report and review sample, once its results are written; a failure is reported and fails
    the run (exit 1) but does not undo the collect: `report --date` writes it again."""
    from app.batch_job.report_cmd import ReportError, write_report

    try:
        written = write_report(
            ctx,
            day,
            root=ctx.settings.output_root,
            days=ctx.settings.report_days,
            compare_root=ctx.settings.report_compare_prefix,
            excerpts=True,
            review=True,
        )
    except ReportError as exc:
        ctx.say(f"error: [{day}] report not written: {exc}")
        return None
    ctx.say(f"[{day}] report -> {written.page}")
    review = written.report.get("review")
    if review:
        ctx.say(f"[{day}] review sample: {review['tasks']} task(s) -> {ctx.layout(day).review_tasks.uri}")
    return written


def _drift_fields(reports: list[tuple[dt.date, WrittenReport]]) -> Summary:
    """What the drift alerts read on collect's summary (components/gcp/builders/log_metrics.py): the
    largest flagged-rate deviation of the days reported, and the judge's pooled kappa against people as
    of the latest day reported. A figure that is not defined (too little history, too few labels) is
    left out: an alert compares only numbers the run really has."""
    fields: Summary = {}
    deviations = [
        (d, r.report["drift"]["flagged_rate"]["sigmas"])
        for d, r in reports
        if (r.report.get("drift") or {}).get("flagged_rate")
        and r.report["drift"]["flagged_rate"].get("sigmas") is not None
    ]
    if deviations:
        day, sigmas = max(deviations, key=lambda x: x[1])
        fields["flagged_rate_sigmas"] = round(sigmas, 3)
        fields["flagged_rate_sigmas_day"] = day.isoformat()
    if reports:
        day, latest = max(reports, key=lambda x: x[0])
        window = (latest.report.get("drift") or {}).get("people_kappa")
        if window and window.get("kappa") is not None:
            fields["people_kappa"] = round(window["kappa"], 4)
            fields["people_kappa_labels"] = window["n"]
            fields["people_kappa_days"] = len(window["days"])
    return fields
