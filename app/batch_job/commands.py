"""The three subcommands over a list of days; each returns the process exit code."""

from __future__ import annotations

import argparse
import datetime as dt
import logging

from app.batch_job.cli import EXIT_JOB_FAILED, EXIT_NO_PREDICTIONS, EXIT_OK, EXIT_USAGE
from app.batch_job.collect import CollectError, collect_day
from app.batch_job.context import Context
from app.batch_job.gcs import read_json
from app.batch_job.judgements import BackendMismatch
from app.batch_job.submit import SubmitError, submit_day
from app.batch_job.vertex import ACTIVE_STATES, JobView
from app.batch_job.vertex_schema import SchemaConversionError
from app.batch_job.wait import wait_for_jobs
from app.judge.prompt_file import PromptFileError

log = logging.getLogger(__name__)


def run(command: str, ctx: Context, days: list[dt.date], args: argparse.Namespace) -> int:
    try:
        if command == "submit":
            return _submit(ctx, days, args)
        if command == "status":
            return _status(ctx, days)
        if command == "collect":
            return _collect(ctx, days, args)
        if command == "cancel":
            return _cancel(ctx, days)
    except (SubmitError, CollectError, BackendMismatch) as exc:
        print(f"error: {exc}", file=ctx.out)
        return EXIT_USAGE
    except (PromptFileError, SchemaConversionError) as exc:
        # A missing or broken PROMPT_PATH is a setup mistake: say which file and field, no traceback.
        print(f"error: prompt {ctx.settings.prompt_path}: {exc}", file=ctx.out)
        return EXIT_USAGE
    raise AssertionError(command)


def _submit(ctx: Context, days: list[dt.date], args: argparse.Namespace) -> int:
    if ctx.settings.backend == "openai":
        from app.batch_job.openai_backend import judge_day

        for day in days:
            judge_day(ctx, day, force=args.force)
        return EXIT_OK
    jobs: list[JobView] = []
    for day in days:
        outcome = submit_day(ctx, day, force=args.force, dry_run=args.dry_run)
        jobs.extend(outcome.jobs)
    if args.wait and jobs and not args.dry_run:
        return EXIT_OK if wait_for_jobs(ctx, jobs) else EXIT_JOB_FAILED
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


def _collect(ctx: Context, days: list[dt.date], args: argparse.Namespace) -> int:
    code = EXIT_OK
    scheduled = args.lookback is not None
    for day in days:
        if scheduled and read_json(ctx.storage, ctx.layout(day).manifest) is None:
            ctx.say(f"[{day}] nothing submitted: skipped")
            continue
        running = [views[0] for views in ctx.vertex.day_jobs(day).values() if views[0].state in ACTIVE_STATES]
        if running:
            # Collecting now would write every record of the unfinished parts as `missing`; the next
            # run (or `collect --date`) takes the day once its jobs have ended.
            ctx.say(f"[{day}] {len(running)} job(s) still queued or running: not collected yet")
            if not scheduled:
                code = EXIT_NO_PREDICTIONS
            continue
        outcome = collect_day(ctx, day, force=args.force)
        if not outcome.predictions_found and outcome.summary["records"]:
            ctx.say(f"[{day}] no predictions found yet: is the job still running? (see `status`)")
            code = EXIT_NO_PREDICTIONS
    return code
