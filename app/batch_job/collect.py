"""collect: join a day's Vertex predictions to its records and write judgements/<date>/.

Parts are processed one at a time (a part has at most 200,000 records), so memory is bounded by a part's
index, not by the day. Each part is read from the output directory its latest job reports
(`outputInfo.gcsOutputDirectory`), never from whichever folder sorts last: a resubmitted part that failed
before writing anything must not be judged by an earlier attempt's predictions. Both kinds of file there
are read: `predictions*.jsonl` (answers, and failed lines with a `status`) and `errors*.jsonl` (failed
instances followed by an `error` holding a google.rpc.Status), as the BatchPredictionJob output
reference describes them.

A line finds its record by the sibling `key` when Vertex echoes it (observed, not documented), else by
a digest of the echoed request's user text (Google documents that each line echoes the request it ran)
against the part's own input file: identical texts are given one line each, and the text is compared,
not the request's JSON, so an echo that reshapes the request (a one-part list as an object, coerced
numbers) still finds its record.

An answer cut at `maxOutputTokens` (`finishReason: MAX_TOKENS`) that is not a complete answer gets the
reason `truncated` (status `failed` without text, `invalid` with a cut one), its error says how much of
the output the model spent thinking, and the summary's `truncated` block sums that over the day: a
model whose answers get cut is seen, not just counted as failures.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.batch_job.context import Context
from app.batch_job.gcs import GcsPath, iter_object_lines, read_json
from app.batch_job.judgements import JudgementsWriter, Outcome, check_backend, distribution_fields
from app.batch_job.layout import DayLayout
from app.batch_job.parts import IndexEntry
from app.batch_job.request_lines import text_fingerprint
from app.batch_job.vertex import FAILED_STATES, JobView

if TYPE_CHECKING:
    from app.judge.results import Answer

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000


class CollectError(RuntimeError):
    pass


def interpret_prediction(line: Mapping[str, Any], answer_model: type[Answer]) -> Outcome:
    """The outcome of one Vertex prediction line: an answer of the prompt's type, or why there is none."""
    status = line.get("status")
    if status:
        text = status if isinstance(status, str) else json.dumps(status, default=str)
        return Outcome("failed", reason="vertex_error", error=text[:MAX_ERROR_CHARS])
    error = line.get("error")
    if error:
        # An errors_*.jsonl line: the instance, then a google.rpc.Status with only code and message.
        if isinstance(error, Mapping):
            text = f"code {error.get('code', '?')}: {error.get('message') or json.dumps(error, default=str)}"
        else:
            text = str(error)
        return Outcome("failed", reason="vertex_error", error=text[:MAX_ERROR_CHARS])
    response = line.get("response")
    if not isinstance(response, Mapping):
        return Outcome("failed", reason="no_response", error="the prediction has neither response nor status")
    candidates = response.get("candidates") or []
    if not candidates:
        feedback = response.get("promptFeedback")
        block = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
        if block:
            return Outcome("failed", reason="blocked", error=f"prompt blocked: {block}")
        return Outcome("failed", reason="no_candidates", error="the response has no candidates")
    candidate = candidates[0] if isinstance(candidates, list) else None
    content = candidate.get("content") if isinstance(candidate, Mapping) else None
    parts = content.get("parts") if isinstance(content, Mapping) else None
    if not isinstance(candidate, Mapping) or not isinstance(parts, list | None):
        # One odd line must cost its own record, not the whole day's collect.
        return Outcome(
            "failed", reason="malformed_prediction", error=json.dumps(response, default=str)[:MAX_ERROR_CHARS]
        )
    finish = str(candidate.get("finishReason") or "")
    text = _joined_text(parts, skip_thoughts=True)
    if not text.strip():
        if finish == "MAX_TOKENS":
            return Outcome("failed", reason=TRUNCATED, error="no answer text" + _cut_note(response))
        reason = f"finish_{finish.lower()}" if finish and finish != "STOP" else "empty_answer"
        return Outcome("failed", reason=reason, error=f"no answer text (finishReason {finish or 'unset'})")
    outcome = validate_answer(text, answer_model, finish)
    if finish == "MAX_TOKENS" and outcome.status != "ok":
        return Outcome("invalid", reason=TRUNCATED, error=(outcome.error or "") + _cut_note(response))
    return outcome


TRUNCATED = "truncated"


def thought_counts(response: Mapping[str, Any]) -> tuple[int, int]:
    """(thoughtsTokenCount, candidatesTokenCount) of a response; absent counts are 0 (proto3 JSON)."""
    usage = response.get("usageMetadata")
    if not isinstance(usage, Mapping):
        return 0, 0
    counts = [usage.get("thoughtsTokenCount"), usage.get("candidatesTokenCount")]
    thoughts, output = (c if isinstance(c, int) and not isinstance(c, bool) else 0 for c in counts)
    return thoughts, output


def _cut_note(response: Mapping[str, Any]) -> str:
    """What a cut answer says about why: how much of the output cap went to thinking, and what to change."""
    thoughts, output = thought_counts(response)
    spent = thoughts + output
    head = "; cut at maxOutputTokens (finishReason MAX_TOKENS)"
    if spent == 0:
        return head
    share = f"thinking took {thoughts} of {spent} output tokens ({100 * thoughts / spent:.0f} %)"
    if thoughts * 2 >= spent:
        fix = (
            "lower modelParameters.thinkingLevel in the prompt, or raise that level's room in "
            "app/batch_job/gemini_models.yaml (measure it with python -m app.batch_job check)"
        )
    else:
        fix = "raise modelParameters.maxTokens in the prompt"
    return f"{head}: {share}: {fix}"


class TruncationStats:
    """The day's answers cut at the output cap, and the share of their output tokens spent thinking."""

    def __init__(self) -> None:
        self.records = 0
        self.thoughts = 0
        self.output = 0

    def add(self, line: Mapping[str, Any], outcome: Outcome) -> None:
        if outcome.reason != TRUNCATED:
            return
        self.records += 1
        response = line.get("response")
        if isinstance(response, Mapping):
            thoughts, output = thought_counts(response)
            self.thoughts += thoughts
            self.output += output

    def to_dict(self) -> dict[str, Any]:
        spent = self.thoughts + self.output
        return {
            "records": self.records,
            "thoughts_tokens": self.thoughts,
            "output_tokens": self.output,
            "thought_share": round(self.thoughts / spent, 4) if spent else None,
        }


# usageMetadata fields (GenerateContentResponse) -> the names of summary.json's `usage`.
USAGE_FIELDS = {
    "promptTokenCount": "prompt_tokens",
    "candidatesTokenCount": "output_tokens",
    "thoughtsTokenCount": "thoughts_tokens",
    "totalTokenCount": "total_tokens",
}


def new_usage() -> dict[str, int]:
    return {"predictions": 0, **{name: 0 for name in USAGE_FIELDS.values()}}


def add_usage(totals: dict[str, int], line: Mapping[str, Any]) -> None:
    """Add a prediction's token counts; absent counts are zero (proto3 JSON leaves zeros out)."""
    response = line.get("response")
    usage = response.get("usageMetadata") if isinstance(response, Mapping) else None
    if not isinstance(usage, Mapping):
        return
    totals["predictions"] += 1
    for field, name in USAGE_FIELDS.items():
        value = usage.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            totals[name] += value


def _joined_text(parts: object, *, skip_thoughts: bool = False) -> str:
    """The text of a `parts` list (Gemini's thought summaries left out when asked)."""
    texts: list[str] = []
    for part in parts if isinstance(parts, list) else ():
        if isinstance(part, Mapping):
            text = part.get("text")
            if isinstance(text, str) and not (skip_thoughts and part.get("thought")):
                texts.append(text)
    return "".join(texts)


def validate_answer(text: str, answer_model: type[Answer], finish: str = "") -> Outcome:
    """Validate the answer text with the prompt's typed answer model (app.judge.results)."""
    from app.judge.results import AnswerError, parse_answer

    try:
        answer = parse_answer(answer_model, text)
    except AnswerError as exc:
        reason = "truncated" if finish == "MAX_TOKENS" and exc.reason == "invalid_json" else exc.reason
        return Outcome("invalid", reason=reason, error=exc.detail[:MAX_ERROR_CHARS])
    return Outcome("ok", answer=answer.model_dump(mode="json"), flagged=bool(answer.flagged()))


def echoed_user_text(line: Mapping[str, Any]) -> str | None:
    request = line.get("request")
    if not isinstance(request, Mapping):
        return None
    contents = request.get("contents")
    for content in reversed(contents) if isinstance(contents, list) else ():
        if isinstance(content, Mapping) and content.get("role", "user") == "user":
            parts = content.get("parts") or []
            if isinstance(parts, Mapping):  # some echoes collapse a one-part list
                parts = [parts]
            return _joined_text(parts)
    return None


class PartIndex:
    """A part's records by key, by key label, and (built from the part's own input file on first need
    only, since reading it costs a pass) by the fingerprint of the user text."""

    def __init__(self, ctx: Context, layout: DayLayout, part: int) -> None:
        self.ctx = ctx
        self.input_path = layout.input_part(part)
        path = layout.index_part(part)
        blob = ctx.storage.bucket(path.bucket).get_blob(path.name)
        if blob is None:
            raise CollectError(f"index {path.uri} is missing: was the day submitted from this output root?")
        self.by_key: dict[str, IndexEntry] = {}
        self.order: list[str] = []
        for raw in iter_object_lines(blob):
            if raw.strip():
                entry = IndexEntry.from_line(raw)
                self.by_key[entry.key] = entry
                self.order.append(entry.key)
        self._by_fp: dict[str, list[str]] | None = None

    def _fingerprints(self) -> dict[str, list[str]]:
        if self._by_fp is None:
            self._by_fp = {}
            blob = self.ctx.storage.bucket(self.input_path.bucket).get_blob(self.input_path.name)
            for raw in iter_object_lines(blob) if blob is not None else ():
                if raw.strip():
                    line = json.loads(raw)
                    text = echoed_user_text(line)
                    if text is not None:
                        self._by_fp.setdefault(text_fingerprint(text), []).append(line["key"])
        return self._by_fp

    def resolve(self, line: Mapping[str, Any], taken: set[str]) -> str | None:
        key = line.get("key")
        if isinstance(key, str) and key in self.by_key:
            return key
        text = echoed_user_text(line)
        if text is None:
            return None
        # Identical texts get identical judgements; give each such record one of the lines.
        candidates = self._fingerprints().get(text_fingerprint(text), [])
        return next((k for k in candidates if k not in taken), candidates[0] if candidates else None)


_OUTPUT_FILES = ("predictions", "errors")


def output_files(ctx: Context, job: JobView) -> list[GcsPath]:
    """The `predictions*.jsonl` and `errors*.jsonl` files directly in the job's own output directory."""
    if not job.output_directory:
        return []
    directory = GcsPath.parse(job.output_directory.rstrip("/"))
    found = []
    for blob in ctx.storage.list_blobs(directory.bucket, prefix=directory.name + "/", delimiter="/"):
        file = blob.name.rsplit("/", 1)[-1]
        if file.endswith(".jsonl") and file.startswith(_OUTPUT_FILES):
            found.append(GcsPath(directory.bucket, blob.name))
    return sorted(found, key=lambda path: path.name)


def unanswered(job: JobView | None) -> Outcome:
    """The outcome of a record that no output line of its part's latest job answers."""
    if job is None:
        return Outcome("missing", reason="no_prediction", error="no Vertex AI job for this part")
    if job.state in FAILED_STATES:
        # A terminated job exports the rows it completed; the others failed with the job, for its reason.
        reason = "job_" + job.state.removeprefix("JOB_STATE_").lower()
        return Outcome("failed", reason=reason, error=f"{job.state}: {job.error or 'no error message'}")
    if not job.output_directory:
        return Outcome("missing", reason="no_prediction", error=f"{job.name} reports no output directory")
    return Outcome("missing", reason="no_prediction", error="no prediction line for this record")


def iter_predictions(ctx: Context, paths: list[GcsPath], stats: dict[str, int]) -> Iterator[dict[str, Any]]:
    for path in paths:
        blob = ctx.storage.bucket(path.bucket).get_blob(path.name)
        if blob is None:
            continue
        for raw in iter_object_lines(blob):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                stats["unparseable_prediction_lines"] += 1
                log.error("%s: a prediction line is not JSON: %r", path.uri, raw[:200])
                continue
            if isinstance(line, dict):
                yield line
            else:
                stats["unparseable_prediction_lines"] += 1


@dataclass
class CollectOutcome:
    day: dt.date
    summary: dict[str, Any]
    predictions_found: bool


def collect_day(
    ctx: Context, day: dt.date, *, force: bool = False, jobs: Mapping[int, list[JobView]] | None = None
) -> CollectOutcome:
    """Collect one day; `jobs` are the day's jobs by part, newest first (listed here when not given)."""
    layout = ctx.layout(day)
    manifest = read_json(ctx.storage, layout.manifest)
    if manifest is None:
        raise CollectError(f"[{day}] {layout.manifest.uri} not found: submit the day first")
    check_backend(ctx.storage, layout, "vertex", force)
    if jobs is None:
        jobs = ctx.vertex.day_jobs(day)
    answer_model = ctx.prompt.answer_model
    writer = JudgementsWriter(ctx.storage, layout, distribution_fields(ctx.prompt.vertex_schema))
    stats = {"unparseable_prediction_lines": 0, "orphan_predictions": 0, "duplicate_predictions": 0}
    found_any = False
    parts_report = []
    usage = new_usage()
    truncated = TruncationStats()
    for part in manifest["parts"]:
        index = PartIndex(ctx, layout, part["index"])
        job = next(iter(jobs.get(part["index"], ())), None)
        files = output_files(ctx, job) if job is not None else []
        found_any = found_any or bool(files)
        done: set[str] = set()
        for line in iter_predictions(ctx, files, stats):
            key = index.resolve(line, done)
            if key is None:
                stats["orphan_predictions"] += 1
                continue
            if key in done:
                stats["duplicate_predictions"] += 1
                continue
            done.add(key)
            entry = index.by_key[key]
            outcome = interpret_prediction(line, answer_model)
            writer.add(entry.id, entry.source, outcome)
            add_usage(usage, line)
            truncated.add(line, outcome)
        left = unanswered(job)
        for key in index.order:
            if key not in done:
                entry = index.by_key[key]
                done.add(key)
                writer.add(entry.id, entry.source, left)
        parts_report.append(
            {
                "index": part["index"],
                "job": job.name if job else None,
                "job_state": job.state if job else None,
                "output_directory": job.output_directory if job else None,
                "prediction_files": [p.uri for p in files],
            }
        )
    summary = writer.close(
        {
            "backend": "vertex",
            "model": manifest.get("model"),
            "prompt": manifest.get("prompt"),
            "rejected_raw_lines": manifest.get("rejected", 0),
            **stats,
            "usage": usage,
            "truncated": truncated.to_dict(),
            "parts": parts_report,
        }
    )
    counts = summary["counts"]
    ctx.say(
        f"[{day}] {summary['records']} record(s): "
        + ", ".join(f"{counts[s]} {s}" for s in ("ok", "failed", "invalid", "missing"))
        + f"; {summary['flagged']['count']} flagged -> {layout.results.uri}"
    )
    return CollectOutcome(day, summary, found_any)
