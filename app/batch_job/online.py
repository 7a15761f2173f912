"""One online Gemini request built exactly as the batch job builds a line: ``judge_online``.

``judge_online(client, prompt, interaction)`` sends one ``generateContent`` to Vertex AI (the
``google-genai`` client of ``vertex.make_client``: its project, location and credentials) with the
request the batch job would write for that interaction: the same ``contents`` and
``systemInstruction`` (the prompt rendered by ``JudgePrompt.render``), the same ``labels`` and the same
``generationConfig`` (``JudgePrompt.builder``: the thinking translated for the model, the output cap
with its thinking room, the response schema). It returns an ``OnlineAnswer`` (the prompt's typed
answer, validated as collect validates a batch line) or an ``OnlineFailure`` (why not: refused by the
service, unreachable, or an answer that is cut, not JSON or not the prompt's answer). It never raises
for what the service or the model did.

Users: the canary before each ``submit`` and ``python -m app.batch_job check`` (canary.py), and the
judge's calibration against people on Vertex (``python -m app.judge calibrate --backend vertex``),
which judges gold items one by one with exactly the nightly job's request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from app.batch_job.collect import interpret_prediction
from app.batch_job.vertex import VertexError, calling

if TYPE_CHECKING:
    from google import genai

    from app.batch_job.prompt import JudgePrompt
    from app.judge.results import Answer

FailureReason = Literal[
    "refused",  # the service refused the request: 4xx other than 429 (model, location, permission, config)
    "unavailable",  # 429, 5xx, or no answer at all: try again later
    "truncated",  # cut at maxOutputTokens
    "invalid_json",
    "invalid_answer",
    "blocked",
    "no_candidates",
    "empty_answer",
    "other",
]


# collect's reasons for a line without a usable answer -> the online failure reason.
_FAILURES: dict[str, FailureReason] = {
    "truncated": "truncated",
    "invalid_json": "invalid_json",
    "invalid_answer": "invalid_answer",
    "blocked": "blocked",
    "no_candidates": "no_candidates",
    "empty_answer": "empty_answer",
}


class InteractionLike(Protocol):
    @property
    def prompt(self) -> str: ...

    @property
    def response(self) -> str: ...


@dataclass(frozen=True)
class Interaction:
    """One judged interaction: the user's prompt and the model's response."""

    prompt: str
    response: str


@dataclass(frozen=True)
class Usage:
    """``usageMetadata`` of the answer (absent counts are 0, as proto3 JSON leaves zeros out)."""

    prompt_tokens: int = 0
    output_tokens: int = 0
    thoughts_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def of(cls, response: dict[str, Any]) -> Usage:
        usage = response.get("usageMetadata") or {}

        def count(key: str) -> int:
            value = usage.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        return cls(
            count("promptTokenCount"),
            count("candidatesTokenCount"),
            count("thoughtsTokenCount"),
            count("totalTokenCount"),
        )


@dataclass(frozen=True)
class OnlineAnswer:
    answer: Answer
    flagged: bool
    finish_reason: str
    usage: Usage
    model_version: str | None
    seconds: float
    request: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class OnlineFailure:
    reason: FailureReason
    message: str
    http_status: int = 0
    code: str = ""
    """Google's status name of a refusal (FAILED_PRECONDITION, NOT_FOUND, INVALID_ARGUMENT, ...)."""
    detail: str = ""
    """The service's own message of a refusal."""
    usage: Usage | None = None
    seconds: float = 0.0
    request: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_configuration(self) -> bool:
        """Refused for the settings (model, location, prompt, permissions): retrying will not help."""
        return self.reason == "refused"


def online_request(prompt: JudgePrompt, interaction: InteractionLike) -> dict[str, Any]:
    """The request of one interaction, as a batch line's ``request`` holds it."""
    return prompt.builder.request("online", prompt.render(interaction))


def judge_online(
    client: genai.Client, prompt: JudgePrompt, interaction: InteractionLike
) -> OnlineAnswer | OnlineFailure:
    """Judge one interaction with one ``generateContent`` carrying the batch job's exact request."""
    from google.genai import types

    request = online_request(prompt, interaction)
    # The request goes as the batch line holds it, through the client's documented `extra_body` (which
    # the SDK merges into the body as is): its own typed config would re-spell nested keys
    # (`thinking_level`, `property_ordering`), which the service accepts but which would no longer be
    # byte for byte the night's request.
    config = types.GenerateContentConfig(http_options=types.HttpOptions(extra_body=request))
    started = time.monotonic()
    try:
        response = calling(
            f"generateContent on {prompt.model_id}",
            lambda: client.models.generate_content(
                model=prompt.model_id, contents=request["contents"], config=config
            ),
        )
    except VertexError as exc:
        reason: FailureReason = "refused" if exc.is_configuration else "unavailable"
        return OnlineFailure(
            reason,
            str(exc),
            exc.status,
            exc.code,
            exc.detail,
            seconds=time.monotonic() - started,
            request=request,
        )
    seconds = time.monotonic() - started
    body = response.model_dump(mode="json", by_alias=True, exclude_none=True)
    body.pop("sdkHttpResponse", None)
    usage = Usage.of(body)
    outcome = interpret_prediction({"response": body}, prompt.answer_model)
    if outcome.status == "ok":
        assert outcome.answer is not None
        candidate = (body.get("candidates") or [{}])[0]
        return OnlineAnswer(
            answer=prompt.answer_model.model_validate(outcome.answer),
            flagged=outcome.flagged,
            finish_reason=str(candidate.get("finishReason") or ""),
            usage=usage,
            model_version=body.get("modelVersion"),
            seconds=seconds,
            request=request,
        )
    return OnlineFailure(
        _FAILURES.get(outcome.reason or "", "other"),
        f"{outcome.reason}: {outcome.error}",
        usage=usage,
        seconds=seconds,
        request=request,
    )
