"""collect: join a day's Vertex predictions to its records and write judgements/<date>/.

Parts are processed one at a time (a part has at most 200,000 records), so memory is bounded by a part's
index, not by the day. Each prediction line finds its record by the `key` it echoes; should a line come
back without it, the fingerprint of the echoed user text finds it instead.
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
    text = "".join(
        p["text"]
        for p in parts or ()
        if isinstance(p, Mapping) and isinstance(p.get("text"), str) and not p.get("thought")
    )
    if not text.strip():
        reason = f"finish_{finish.lower()}" if finish and finish != "STOP" else "empty_answer"
        return Outcome("failed", reason=reason, error=f"no answer text (finishReason {finish or 'unset'})")
    return validate_answer(text, answer_model, finish)


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
    for content in reversed(request.get("contents") or []):
        if isinstance(content, Mapping) and content.get("role", "user") == "user":
            parts = content.get("parts") or []
            if isinstance(parts, Mapping):  # some echoes collapse a one-part list
                parts = [parts]
            return "".join(
                p["text"] for p in parts if isinstance(p, Mapping) and isinstance(p.get("text"), str)
            )
    return None


class PartIndex:
    """A part's records by key. Should a prediction line come back without its key, the fingerprint of
    its echoed user text finds the record instead: the map is built from the part's own input file, on
    first need only (Vertex normally echoes the key, and reading the input costs a pass over it)."""

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


def prediction_files(ctx: Context, layout: DayLayout, part: int) -> list[GcsPath]:
    """The newest `prediction-model-*` directory's predictions files of a part (a resubmitted part has
    one directory per job; the newest belongs to the latest job)."""
    prefix = layout.output_prefix(part)
    names = [b.name for b in ctx.storage.list_blobs(prefix.bucket, prefix=prefix.name + "/")]
    dirs: dict[str, list[str]] = {}
    for name in names:
        rest = name[len(prefix.name) + 1 :]
        folder, _, file = rest.partition("/")
        if (
            folder.startswith("prediction-model-")
            and file.startswith("predictions")
            and file.endswith(".jsonl")
        ):
            dirs.setdefault(folder, []).append(name)
    if not dirs:
        return []
    newest = max(dirs)
    return [GcsPath(prefix.bucket, name) for name in sorted(dirs[newest])]


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


def collect_day(ctx: Context, day: dt.date, *, force: bool = False) -> CollectOutcome:
    layout = ctx.layout(day)
    manifest = read_json(ctx.storage, layout.manifest)
    if manifest is None:
        raise CollectError(f"[{day}] {layout.manifest.uri} not found: submit the day first")
    check_backend(ctx.storage, layout, "vertex", force)
    answer_model = ctx.prompt.answer_model
    writer = JudgementsWriter(ctx.storage, layout, distribution_fields(ctx.prompt.vertex_schema))
    stats = {"unparseable_prediction_lines": 0, "orphan_predictions": 0, "duplicate_predictions": 0}
    found_any = False
    parts_report = []
    for part in manifest["parts"]:
        index = PartIndex(ctx, layout, part["index"])
        files = prediction_files(ctx, layout, part["index"])
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
            writer.add(entry.id, entry.source, interpret_prediction(line, answer_model))
        for key in index.order:
            if key not in done:
                entry = index.by_key[key]
                done.add(key)
                writer.add(
                    entry.id,
                    entry.source,
                    Outcome("missing", reason="no_prediction", error="no prediction line for this record"),
                )
        parts_report.append({"index": part["index"], "prediction_files": [p.uri for p in files]})
    summary = writer.close(
        {
            "backend": "vertex",
            "model": manifest.get("model"),
            "prompt": manifest.get("prompt"),
            "rejected_raw_lines": manifest.get("rejected", 0),
            **stats,
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
