"""submit: build a day's Vertex batch input and start one job per part, at most once per day."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from app.batch_job.build_input import DayInputBuilder, utc_now
from app.batch_job.context import Context
from app.batch_job.gcs import expand_glob, read_json, write_json
from app.batch_job.layout import DayLayout
from app.batch_job.vertex import (
    ACTIVE_STATES,
    DONE_STATES,
    FAILED_STATES,
    JobView,
    create_request_preview,
    job_display_name,
)


class SubmitError(RuntimeError):
    """The day cannot be submitted as asked; the message says why and what to do."""


@dataclass
class DayOutcome:
    day: dt.date
    action: str  # submitted | resubmitted | skipped | empty | dry-run
    records: int = 0
    rejected: int = 0
    jobs: list[JobView] = field(default_factory=list)


def submit_day(ctx: Context, day: dt.date, *, force: bool = False, dry_run: bool = False) -> DayOutcome:
    layout = ctx.layout(day)
    if not dry_run:
        outcome = _reuse_existing(ctx, layout, force)
        if outcome is not None:
            return outcome

    manifest = build_day(ctx, layout)
    records = manifest["records"]
    if records == 0:
        ctx.say(f"[{day}] no records to judge ({manifest['rejected']} rejected lines): nothing submitted")
        return DayOutcome(day, "empty", 0, manifest["rejected"])

    parts = [p["index"] for p in manifest["parts"]]
    if dry_run:
        for part in parts:
            preview = create_request_preview(
                ctx.settings.model_id,
                job_display_name(ctx.settings.job_name_prefix, day, part),
                layout.input_part(part).uri,
                layout.output_prefix(part).uri + "/",
            )
            ctx.say(json.dumps(preview, indent=2))
        ctx.say(f"[{day}] dry run: {records} requests in {len(parts)} part(s) written; no job submitted")
        return DayOutcome(day, "dry-run", records, manifest["rejected"])

    jobs = [_create(ctx, layout, part) for part in parts]
    return DayOutcome(day, "submitted", records, manifest["rejected"], jobs)


def _reuse_existing(ctx: Context, layout: DayLayout, force: bool) -> DayOutcome | None:
    """Skip the day, or resubmit only its failed parts, when it already has jobs; None to build afresh."""
    day = layout.day
    latest = {part: views[0] for part, views in ctx.vertex.day_jobs(day).items() if views}
    active = [job for job in latest.values() if job.state in ACTIVE_STATES]
    if force:
        if active:
            names = ", ".join(f"{j.display_name} ({j.state}, {j.name})" for j in active)
            raise SubmitError(
                f"[{day}] --force would rewrite the input of jobs still running: {names}. "
                "Cancel them first (python -m app.batch_job cancel --date DAY), then rerun."
            )
        return None
    if not any(job.state in ACTIVE_STATES | DONE_STATES for job in latest.values()):
        return None  # no job, or every job failed: judge the day afresh

    manifest = read_json(ctx.storage, layout.manifest)
    if manifest is None:
        ctx.say(f"[{day}] jobs exist but {layout.manifest.uri} is missing: not submitting again")
        return DayOutcome(day, "skipped", jobs=list(latest.values()))
    todo = [
        p["index"]
        for p in manifest["parts"]
        if p["index"] not in latest or latest[p["index"]].state in FAILED_STATES
    ]
    for job in latest.values():
        ctx.say(f"[{day}] {job.display_name}: {job.state} {job.progress()}".rstrip())
    if not todo:
        ctx.say(f"[{day}] already submitted: nothing to do (use --force to judge the day again)")
        return DayOutcome(day, "skipped", manifest["records"], manifest["rejected"], list(latest.values()))
    # The input files of the failed parts are still the ones the earlier jobs read.
    jobs = [_create(ctx, layout, part) for part in todo]
    kept = [job for part, job in latest.items() if part not in todo]
    return DayOutcome(day, "resubmitted", manifest["records"], manifest["rejected"], kept + jobs)


def _create(ctx: Context, layout: DayLayout, part: int) -> JobView:
    job = ctx.vertex.create(
        layout.day, part, layout.input_part(part).uri, layout.output_prefix(part).uri + "/"
    )
    ctx.say(f"[{layout.day}] submitted {job.display_name}: {job.name} ({job.state})")
    return job


def build_day(ctx: Context, layout: DayLayout) -> dict[str, Any]:
    """Write the day's input parts, index files, rejects and manifest; return the manifest."""
    from app.records import InvalidRecord, parse_stored_line

    settings = ctx.settings
    prompt = ctx.prompt
    pattern = settings.input_pattern(layout.day)
    blobs = expand_glob(ctx.storage, pattern)
    builder = DayInputBuilder(
        ctx.storage,
        layout,
        prompt.builder,
        prompt.render,
        parse_stored_line,
        InvalidRecord,
        settings.max_requests_per_job,
        settings.max_bytes_per_file,
    )
    result = builder.build(blobs)
    manifest = {
        "day": layout.day.isoformat(),
        "built_at": utc_now(),
        "input_pattern": pattern.uri,
        "model": settings.model_id,
        "prompt": prompt.describe(),
        **result.to_manifest(),
    }
    write_json(ctx.storage, layout.manifest, manifest)
    ctx.say(
        f"[{layout.day}] {len(blobs)} object(s), {result.records} request(s) in {len(result.parts)} part(s), "
        f"{result.rejected} rejected line(s), {result.duplicates} duplicate(s) skipped"
        + (f", {result.lone_surrogates} lone surrogate(s) replaced" if result.lone_surrogates else "")
    )
    return manifest
