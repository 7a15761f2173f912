"""``python -m app.judge calibrate --backend vertex``: the gold set judged by Gemini on Vertex AI with
exactly the nightly batch job's request, one ``generateContent`` per item (``online.judge_online``: the
same contents, system instruction, labels and generationConfig as a batch line, the answer validated as
collect validates one).

It lives with the batch job, whose request builder and google-genai client it uses: the judge CLI
imports it by name when asked for this backend, so the judge image (which has neither) still runs every
other calibration, and says where this one runs (the batch-job image, or a checkout).

``VertexJudge`` has the judge client's surface (``model``, ``async judge(prompt, response)`` returning
a ``Judgement``), so ``calibrate`` runs it through the same ``judge_items`` engine; the google-genai
client is synchronous, so each request runs in a worker thread, at most ``concurrency`` at once. A
failure keeps its reason in the judge's vocabulary (``app.judge.results.FailureReason``), with the
online reason and the service's message in its text: an item that fails is never scored.

Settings are the batch job's (``GCP_PROJECT``, ``GCP_LOCATION``, ``MODEL_ID``, ``LLM_JUDGE_STACK``,
``VERTEX_BASE_URL``, ``VERTEX_ACCESS_TOKEN``, ``VERTEX_ATTEMPTS``; ``--project``, ``--location`` and
``--model`` override them): the figures describe the model and request settings the night runs with.
Each request is tried as the night's canary is (google-genai's retry on 408, 429 and 5xx:
vertex.make_client); ``--max-retries N`` makes that N + 1 attempts and ``--timeout`` bounds each attempt.
A deadline over the attempts cannot be honoured (google-genai's retry runs inside one call), so the CLI
refuses ``--deadline`` with this backend.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.judge.results import FailureReason, JudgeFailure, Judgement

if TYPE_CHECKING:
    from app.batch_job.online import OnlineAnswer, OnlineFailure
    from app.batch_job.settings import BatchJobSettings

__all__ = ["VertexJudge", "VertexSetupError", "judge_gold_on_vertex"]

# The online reasons (app.batch_job.online.FailureReason) in the judge's vocabulary.
_REASONS: dict[str, FailureReason] = {
    "refused": "request_rejected",
    "truncated": "truncated",
    "invalid_json": "invalid_json",
    "invalid_answer": "invalid_answer",
    "blocked": "invalid_answer",
    "no_candidates": "invalid_answer",
    "empty_answer": "invalid_answer",
    "other": "invalid_answer",
}


def failure_of(failure: OnlineFailure) -> JudgeFailure:
    if failure.reason == "unavailable":
        reason: FailureReason = (
            "rate_limited"
            if failure.http_status == 429
            else "server_error"
            if failure.http_status
            else "connection_error"
        )
    else:
        reason = _REASONS.get(failure.reason, "invalid_answer")
    return JudgeFailure(reason=reason, error=f"{failure.reason}: {failure.message}"[:2000])


class VertexJudge:
    """A judge that answers through Vertex AI's ``generateContent`` with the batch job's request."""

    def __init__(
        self, settings: BatchJobSettings, prompt_path: Path, concurrency: int, timeout_s: float | None = None
    ) -> None:
        from app.batch_job.prompt import load_judge_prompt
        from app.batch_job.vertex import make_client

        self.settings = settings
        self.prompt = load_judge_prompt(prompt_path, settings.model_id, settings.stack_label)
        # The request builder translates the prompt's thinking and sampling for the model; a pair that
        # does not fit is refused here, before any request (ThinkingConfigError, ModelChoiceError).
        _ = self.prompt.builder
        self.client = make_client(settings, timeout_s=timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="calibrate-vertex")
        self.missing_credentials: str | None = None

    @property
    def model(self) -> str:
        return self.settings.model_id

    async def judge(self, original_prompt: str, model_response: str, model: str | None = None) -> Judgement:
        from app.batch_job.online import Interaction, judge_online
        from app.credentials import is_missing_credentials

        started = time.monotonic()
        interaction = Interaction(original_prompt, model_response)
        try:
            result: OnlineAnswer | OnlineFailure = await asyncio.get_running_loop().run_in_executor(
                self._pool, judge_online, self.client, self.prompt, interaction
            )
        except Exception as exc:
            if not is_missing_credentials(exc):
                raise  # a bug: judge_items records it as internal_error
            self.missing_credentials = str(exc)
            failure = JudgeFailure(reason="request_rejected", error=f"no Google credentials: {exc}"[:500])
            return Judgement(self.model, (time.monotonic() - started) * 1000, failure=failure, attempts=1)
        latency = round(result.seconds * 1000, 1)
        from app.batch_job.online import OnlineAnswer

        if isinstance(result, OnlineAnswer):
            return Judgement(result.model_version or self.model, latency, answer=result.answer, attempts=1)
        return Judgement(self.model, latency, failure=failure_of(result), attempts=1)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class VertexSetupError(ValueError):
    """The backend cannot start as configured (no project, a model the prompt does not fit, no
    credentials): one line naming the setting, a usage error."""


def judge_gold_on_vertex(
    gold: Any,
    prompt_path: Path,
    concurrency: int,
    *,
    project: str | None = None,
    location: str | None = None,
    model: str | None = None,
    max_retries: int | None = None,
    timeout_s: float | None = None,
) -> tuple[dict[str, Judgement], dict[str, Any]]:
    """Every item of ``gold`` judged on Vertex AI (flags over the batch job's environment), and what
    judged them; ``VertexSetupError`` for what the user must change. ``max_retries`` (N: N + 1 attempts)
    overrides ``VERTEX_ATTEMPTS``; ``timeout_s`` bounds each attempt (default: none, as at night)."""
    from pydantic import ValidationError

    from app.batch_job.catalogue import ModelChoiceError
    from app.batch_job.settings import BatchJobSettings, SettingsError
    from app.batch_job.thinking import ThinkingConfigError
    from app.credentials import MISSING_CREDENTIALS
    from app.judge.calibrate import judge_gold
    from app.judge.prompt_file import PromptFileError

    given = {"gcp_project": project, "gcp_location": location, "model_id": model}
    # Flags over the environment (GCP_PROJECT, ...): the constructor reads it, as the batch job's does.
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v}
    if max_retries is not None:
        overrides["vertex_attempts"] = max_retries + 1
    try:
        settings = BatchJobSettings(**overrides, prompt_path=prompt_path)
        judge = VertexJudge(settings, prompt_path, concurrency, timeout_s)
    except (SettingsError, ValidationError, ThinkingConfigError, ModelChoiceError, PromptFileError) as exc:
        raise VertexSetupError(str(exc)) from None
    try:
        judgements = asyncio.run(judge_gold(judge, gold, concurrency))
    finally:
        judge.close()
    if judge.missing_credentials:
        raise VertexSetupError(MISSING_CREDENTIALS)
    info = {
        "backend": "vertex",
        "model": settings.model_id,
        "project": settings.gcp_project,
        "location": settings.gcp_location,
        "attempts": settings.vertex_attempts,
    }
    return judgements, info
