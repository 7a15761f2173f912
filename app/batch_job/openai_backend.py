"""The self-hosted path: judge a day's records through an OpenAI-compatible server (vLLM) with the judge
library's client and run engine, and write the same judgements/<date>/ files as collect does.

Resumable on Cloud Run (no local disk survives a retry): results are flushed as numbered chunk objects
under judgements/<date>/progress/; a rerun reads them, skips every record already judged successfully
and judges the rest (earlier failures included, so a retry can fix them; the later line wins). When all
records are done, the chunks are folded into results.jsonl and summary.json.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from app.batch_job.build_input import reject_line
from app.batch_job.context import Context
from app.batch_job.gcs import GcsPath, LazyWriter, expand_glob, iter_object_lines
from app.batch_job.judgements import JudgementsWriter, Outcome, check_backend, distribution_fields
from app.batch_job.layout import DayLayout
from app.batch_job.settings import SettingsError

log = logging.getLogger(__name__)

CHUNK_RESULTS = 500
CHUNK_SECONDS = 30.0
_INVALID_REASONS = frozenset({"invalid_json", "invalid_answer", "truncated"})


def outcome_of(judgement: Any) -> Outcome:
    """A judge-library Judgement as a result outcome: no answer ever comes with a failure."""
    if judgement.answer is not None:
        answer = judgement.answer
        return Outcome("ok", answer=answer.model_dump(mode="json"), flagged=bool(answer.flagged()))
    failure = judgement.failure
    status = "invalid" if failure.reason in _INVALID_REASONS else "failed"
    return Outcome(status, reason=failure.reason, error=failure.error)


def outcome_from_line(line: dict[str, Any]) -> Outcome:
    if line["status"] == "ok":
        return Outcome("ok", answer=line["answer"], flagged=bool(line.get("flagged")))
    return Outcome(line["status"], reason=line.get("reason"), error=line.get("error"))


class ProgressChunks:
    """Numbered chunk objects of result lines: the resumable log of a self-hosted run."""

    def __init__(self, ctx: Context, layout: DayLayout) -> None:
        self.ctx = ctx
        self.prefix = layout.progress
        self.names = [
            b.name
            for b in ctx.storage.list_blobs(self.prefix.bucket, prefix=self.prefix.name + "/")
            if b.name.endswith(".jsonl")
        ]
        self.names.sort()
        self._buffer: list[bytes] = []
        self._last_flush = time.monotonic()

    def lines(self) -> Iterator[dict[str, Any]]:
        for name in self.names:
            blob = self.ctx.storage.bucket(self.prefix.bucket).get_blob(name)
            if blob is None:
                continue
            for raw in iter_object_lines(blob):
                if raw.strip():
                    yield json.loads(raw)

    def add(self, line: dict[str, Any]) -> None:
        self._buffer.append(json.dumps(line, separators=(",", ":")).encode() + b"\n")
        if len(self._buffer) >= CHUNK_RESULTS or time.monotonic() - self._last_flush >= CHUNK_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        name = f"{self.prefix.name}/chunk-{len(self.names):06d}.jsonl"
        blob = self.ctx.storage.bucket(self.prefix.bucket).blob(name)
        # Create-only: two concurrent runs of one day cannot overwrite each other's chunk.
        blob.upload_from_string(
            b"".join(self._buffer), content_type="application/jsonl", if_generation_match=0
        )
        self.names.append(name)
        self._buffer = []
        self._last_flush = time.monotonic()


def iter_day_records(ctx: Context, layout: DayLayout, counts: dict[str, int]) -> Iterator[Any]:
    """The day's valid records, in object and line order; bad lines go to the day's rejected.jsonl."""
    from app.records import InvalidRecord, parse_stored_line

    rejects = LazyWriter(ctx.storage, layout.rejected)
    try:
        for blob in expand_glob(ctx.storage, ctx.settings.input_pattern(layout.day)):
            uri = GcsPath.of(blob).uri
            for line_no, raw in enumerate(iter_object_lines(blob), start=1):
                if not raw.strip():
                    continue
                try:
                    record = parse_stored_line(raw)
                except InvalidRecord as exc:
                    rejects.write(reject_line(uri, line_no, exc.reason, exc.detail, raw))
                    counts["rejected"] += 1
                    continue
                yield record
    finally:
        rejects.close()


def judge_day(ctx: Context, day: dt.date, *, force: bool = False) -> dict[str, Any]:
    settings = ctx.settings
    if not settings.openai_base_url:
        raise SettingsError("--backend openai needs --base-url (or OPENAI_BASE_URL)")
    layout = ctx.layout(day)
    check_backend(ctx.storage, layout, "openai", force)
    return asyncio.run(_judge_day(ctx, layout))


async def _judge_day(ctx: Context, layout: DayLayout) -> dict[str, Any]:
    from app.judge.client import AsyncJudgeClient
    from app.judge.runner import judge_items

    settings = ctx.settings
    chunks = ProgressChunks(ctx, layout)
    judged_ok = {line["id"] for line in chunks.lines() if line["status"] == "ok"}
    counts = {"rejected": 0, "resumed": len(judged_ok), "duplicates_skipped": 0}
    seen: set[str] = set()
    in_flight: dict[str, str] = {}

    def items() -> Iterator[tuple[str, str, str]]:
        for record in iter_day_records(ctx, layout, counts):
            if record.id in seen:
                counts["duplicates_skipped"] += 1
                continue
            seen.add(record.id)
            if record.id in judged_ok:
                continue
            in_flight[record.id] = record.source
            yield record.id, record.prompt, record.response

    client = AsyncJudgeClient(
        prompt=ctx.prompt.file,
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        concurrency=settings.judge_concurrency,
    )
    judged = 0
    try:
        async for result in judge_items(client, items(), concurrency=settings.judge_concurrency):
            source = in_flight.pop(str(result.id))
            outcome = outcome_of(result.judgement)
            chunks.add({"id": result.id, "source": source, **_result_fields(outcome)})
            judged += 1
            if judged % 1000 == 0:
                ctx.say(f"[{layout.day}] judged {judged} record(s)")
    finally:
        chunks.flush()
        await client.aclose()

    summary = _fold(ctx, layout, chunks, {**counts, "judged_this_run": judged, "model": client.model})
    c = summary["counts"]
    ctx.say(
        f"[{layout.day}] {summary['records']} record(s) through {settings.openai_base_url}: "
        f"{c['ok']} ok, {c['failed']} failed, {c['invalid']} invalid; {summary['flagged']['count']} flagged "
        f"-> {layout.results.uri}"
    )
    return summary


def _result_fields(outcome: Outcome) -> dict[str, Any]:
    from app.batch_job.judgements import result_line

    line = result_line("", "", outcome)
    del line["id"], line["source"]
    return line


def _fold(ctx: Context, layout: DayLayout, chunks: ProgressChunks, extra: dict[str, Any]) -> dict[str, Any]:
    """Write results.jsonl with the last line of each id (a retried failure is replaced by its retry)."""
    last: dict[str, int] = {}
    for number, line in enumerate(chunks.lines()):
        last[line["id"]] = number
    writer = JudgementsWriter(ctx.storage, layout, distribution_fields(ctx.prompt.vertex_schema))
    for number, line in enumerate(chunks.lines()):
        if last[line["id"]] == number:
            writer.add(line["id"], line["source"], outcome_from_line(line))
    return writer.close(
        {
            "backend": "openai",
            "base_url": ctx.settings.openai_base_url,
            "prompt": ctx.prompt.describe(),
            "rejected_raw_lines": extra.pop("rejected"),
            **extra,
        }
    )
