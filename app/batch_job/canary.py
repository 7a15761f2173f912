"""The canary: one online request before the night's work, and ``python -m app.batch_job check``.

Vertex AI has no API that says whether a project may use a model in a location with a given request
(the publisher-model GET gives a launch stage, no retirement date and no check of the project's
access), and a batch job refused for any of those reasons fails hours later, or never starts. So before
``submit`` uploads a day's input or creates a job, it sends one ``generateContent`` with the exact
project, location, model and request settings of the day's lines (``online.judge_online``). A refusal
ends the run in one line, the service's message and what to change, with exit code 2: no input is
written and no job is created. ``check`` runs the same request alone (the post-deploy smoke test) and
prints what it cost, ``usageMetadata.thoughtsTokenCount`` included, which is how an operator measures
the thinking room of their prompt on their project.

The canary judges a fixed, tiny, harmless interaction (``CANARY``) rendered through the day's prompt,
not one of the day's records: it needs no read of the day's input (so it runs first, and ``check``
runs without any data), it sends no user's data to the online API (whose price is twice the batch
price), and its answer is known, so a failure is never the record's fault. Everything that decides
whether Vertex accepts the request (project, location, model, system instruction, generation config,
response schema, labels) is the day's own.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from app import logs
from app.batch_job.catalogue import choice_problems, lookup, usable
from app.batch_job.online import Interaction, OnlineAnswer, OnlineFailure, judge_online

if TYPE_CHECKING:
    from app.batch_job.context import Context

log = logging.getLogger(__name__)

CANARY = Interaction(
    prompt="What is the capital of France?",
    response="The capital of France is Paris.",
)


class CanaryRefused(RuntimeError):
    """Vertex AI refused the canary for the settings: one line with its message and the fix (exit 2)."""


class CanaryUnavailable(RuntimeError):
    """Vertex AI could not answer the canary (429, 5xx, no answer): one line (exit 1)."""


def today_utc() -> dt.date:
    """The date the catalogue's lifecycle is read on: now, whatever day the run judges."""
    return dt.datetime.now(dt.UTC).date()


def _works_in(location: str, today: dt.date) -> str:
    here = [m.name for m in usable(today, location=location)]
    if here:
        return f"models that work in {location}: {', '.join(here)} (app/batch_job/gemini_models.yaml)"
    places = sorted({loc for m in usable(today) for loc in m.locations})
    names = ", ".join(m.name for m in usable(today))
    return f"no catalogue model runs batch jobs in {location}; {names} do in {', '.join(places)}"


def what_to_change(failure: OnlineFailure, ctx: Context, today: dt.date | None = None) -> str:
    """The fix for a refused canary, from Google's status and what the catalogue knows."""
    settings = ctx.settings
    today = today or today_utc()
    model, location = settings.model_id, settings.gcp_location
    row = lookup(model)
    if failure.code == "FAILED_PRECONDITION":
        return (
            f"MODEL_ID {model} is closed to project {settings.gcp_project} (retired, or closed to projects "
            f"that never used it): set MODEL_ID to a current model; {_works_in(location, today)}"
        )
    if failure.http_status == 404:
        where = f" (the catalogue lists it in {', '.join(row.locations)})" if row else ""
        return (
            f"MODEL_ID {model} is not served in GCP_LOCATION {location}{where}, or is retired: change "
            f"GCP_LOCATION or MODEL_ID; {_works_in(location, today)}"
        )
    if failure.code == "INVALID_ARGUMENT" or failure.http_status == 400:
        thinking = ctx.prompt.thinking.describe()
        return (
            f"{model} refused the request built from {settings.prompt_path} ({thinking}): fix the prompt's "
            f"modelParameters, or the model's row in app/batch_job/gemini_models.yaml"
        )
    if failure.http_status == 403:
        return (
            f"the job's account needs roles/aiplatform.user on project {settings.gcp_project}, and the "
            "Vertex AI API must be enabled there"
        )
    return "check GCP_PROJECT, GCP_LOCATION, MODEL_ID and the credentials"


def run_vertex_canary(ctx: Context, today: dt.date | None = None) -> OnlineAnswer | OnlineFailure:
    """One ``generateContent`` with the day's request settings. Raises ``CanaryRefused`` or
    ``CanaryUnavailable`` when the service refused or failed; returns the answer, or the failure of an
    answer that came back cut or invalid (the caller decides what that means). ``today`` (default:
    now, UTC) is the date the catalogue's lifecycle is read on."""
    settings = ctx.settings
    today = today or today_utc()
    for key, problem in choice_problems(settings.model_id, settings.gcp_location, today):
        # The service decides (a project that used a model keeps it longer than new ones); say it first.
        logs.log(log, logging.WARNING, f"{key}: {problem}", event="batch.model_choice", key=key)
    result = judge_online(ctx.vertex.client, ctx.prompt, CANARY)
    if isinstance(result, OnlineFailure):
        where = f"{settings.model_id} in {settings.gcp_location} (project {settings.gcp_project})"
        if result.is_configuration:
            status = f"HTTP {result.http_status}" + (f" {result.code}" if result.code else "")
            raise CanaryRefused(
                f"canary refused: Vertex AI generateContent on {where}: {status}: {result.detail} -> "
                f"{what_to_change(result, ctx, today)}"
            )
        if result.reason == "unavailable":
            raise CanaryUnavailable(f"canary failed: {result.message}")
    return result


def describe_answer(result: OnlineAnswer | OnlineFailure, max_output_tokens: int | None, room: int) -> str:
    """One line of what the canary cost: the numbers ``check`` prints and submit logs."""
    usage = result.usage
    cap = f"of maxOutputTokens {max_output_tokens}" if max_output_tokens is not None else "(no output cap)"
    spent = (
        f"usageMetadata: promptTokenCount {usage.prompt_tokens}, candidatesTokenCount "
        f"{usage.output_tokens}, thoughtsTokenCount {usage.thoughts_tokens} (thinking room {room} {cap})"
        if usage is not None
        else "no usageMetadata"
    )
    if isinstance(result, OnlineAnswer):
        return f"answered in {result.seconds:.1f} s (finishReason {result.finish_reason}); {spent}"
    return f"no usable answer: {result.message}; {spent}"
