"""Judge client for any OpenAI-compatible chat endpoint (vLLM's server in production).

One decision logic, two drivers: ``_JudgeCore.steps`` is a generator that yields what to do next (send a
request, or sleep) and receives the outcome, so ``JudgeClient`` (sync) and ``AsyncJudgeClient`` (async)
share every rule and differ only in how they do I/O.

Retries: the openai SDK's own retry loop is switched off (``max_retries=0``) and replaced by ours, so a
request is never retried twice over (SDK inside us) and the backoff is ours to configure: exponential
from ``backoff_initial_s`` up to ``backoff_max_s`` with equal jitter, on 408/429/5xx, timeouts and
connection errors, at most ``max_retries`` times. A ``Retry-After`` (or ``retry-after-ms``) header is
honoured exactly; one longer than ``retry_after_max_s`` ends the judgement at once as ``rate_limited``
instead of holding a worker for minutes. An answer that is not valid JSON or fails the typed answer is
asked for once more, with the validation error in a follow-up message; a second bad answer is a failure.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
from openai.types.chat import ChatCompletion
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.judge.prompt_file import PromptFile
from app.judge.results import (
    Answer,
    AnswerError,
    FailureReason,
    JudgeFailure,
    Judgement,
    TokenUsage,
    answer_model_for,
    parse_answer,
)

__all__ = ["AsyncJudgeClient", "JudgeClient", "JudgeSettings", "health_url"]

DEFAULT_PROMPT = Path(__file__).resolve().parents[2] / "prompts" / "judge.prompt.yml"
REQUIRED_VARIABLES = frozenset({"prompt", "response"})
_MAX_ECHOED_ANSWER = 4000


class JudgeSettings(BaseSettings):
    """Judge client settings; each field reads ``JUDGE_<NAME>`` from the environment unless given."""

    model_config = SettingsConfigDict(env_prefix="JUDGE_", extra="ignore", frozen=True)

    # The seed's in-cluster service (judge-inference-service:8000); vLLM serves the OpenAI API under /v1.
    base_url: str = "http://judge-inference-service:8000/v1"
    # None: the prompt file's `model`. vLLM answers to its --served-model-name (or the model path).
    model: str | None = None
    # vLLM accepts any key unless started with --api-key; the SDK insists on a non-empty one.
    api_key: SecretStr = SecretStr("EMPTY")
    prompt_path: Path = DEFAULT_PROMPT
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    concurrency: int = Field(default=16, ge=1, le=4096)
    backoff_initial_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    retry_after_max_s: float = Field(default=60.0, ge=0)
    # Used only when the prompt file sets no temperature: vLLM would otherwise apply the model's
    # generation_config defaults, so a temperature is always sent.
    temperature: float = Field(default=0.0, ge=0, le=2)


def health_url(base_url: str) -> str:
    """vLLM's ``/health`` lives at the server root, not under the OpenAI ``/v1`` prefix."""
    root = base_url.rstrip("/")
    root = root.removesuffix("/v1")
    return root + "/health"


def _parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class _Call:
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class _Sleep:
    seconds: float


@dataclass
class _Progress:
    started: float
    model: str
    usage: TokenUsage = field(default_factory=TokenUsage)
    attempts: int = 0


_Step = _Call | _Sleep


class _JudgeCore:
    """Everything but the I/O: request building, retry decisions, answer validation."""

    def __init__(self, settings: JudgeSettings, prompt: PromptFile, rng: random.Random | None = None):
        missing = REQUIRED_VARIABLES - prompt.variables()
        extra = prompt.variables() - REQUIRED_VARIABLES
        if missing or extra:
            raise ValueError(
                f"prompt {prompt.name!r} must use exactly the placeholders "
                "{{prompt}} and {{response}}"
                f" (missing: {sorted(missing)}, unknown: {sorted(extra)})"
            )
        self.settings = settings
        self.prompt = prompt
        self.answer_model: type[Answer] = answer_model_for(prompt)
        default_model = settings.model or prompt.model
        if not default_model:
            raise ValueError("no judge model: set JUDGE_MODEL / --model or `model` in the prompt file")
        self.default_model: str = default_model
        params = prompt.model_parameters
        self._base_kwargs: dict[str, Any] = {
            "temperature": params.temperature if params.temperature is not None else settings.temperature,
            "response_format": prompt.openai_response_format(),
        }
        if params.max_tokens is not None:
            self._base_kwargs["max_tokens"] = params.max_tokens
        if params.top_p is not None:
            self._base_kwargs["top_p"] = params.top_p
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography

    def messages(self, original_prompt: str, model_response: str) -> list[dict[str, str]]:
        rendered = self.prompt.render({"prompt": original_prompt, "response": model_response})
        return [m.to_openai() for m in rendered]

    def backoff(self, retry: int) -> float:
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_initial_s * (2**retry))
        # Equal jitter: at least half the ceiling (so retries do back off), spread over the other half
        # (so a burst of 429s does not come back in lockstep).
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def steps(
        self, original_prompt: str, model_response: str, model: str | None = None
    ) -> Generator[_Step, Any, Judgement]:
        progress = _Progress(started=time.perf_counter(), model=model or self.default_model)
        messages = self.messages(original_prompt, model_response)
        kwargs = {"model": progress.model, "messages": messages, **self._base_kwargs}
        for answer_try in range(2):
            outcome = yield from self._request(kwargs, progress)
            if isinstance(outcome, JudgeFailure):
                return self._finish(progress, failure=outcome)
            try:
                answer = self._answer(outcome)
            except AnswerError as exc:
                if answer_try == 1:
                    return self._finish(progress, failure=JudgeFailure(reason=exc.reason, error=exc.detail))
                kwargs = {**kwargs, "messages": messages + self._correction(outcome, exc)}
                continue
            return self._finish(progress, answer=answer)
        raise AssertionError("unreachable")

    def _request(
        self, kwargs: dict[str, Any], progress: _Progress
    ) -> Generator[_Step, Any, ChatCompletion | JudgeFailure]:
        retry = 0
        while True:
            progress.attempts += 1
            outcome = yield _Call(kwargs)
            if isinstance(outcome, ChatCompletion):
                if outcome.usage is not None:
                    u = outcome.usage
                    progress.usage += TokenUsage(u.prompt_tokens, u.completion_tokens, u.total_tokens)
                if outcome.model:
                    progress.model = outcome.model
                return outcome
            reason, retryable, retry_after = _classify(outcome)
            failure = JudgeFailure(reason=reason, error=_describe(outcome))
            if not retryable or retry >= self.settings.max_retries:
                return failure
            if retry_after is not None:
                if retry_after > self.settings.retry_after_max_s:
                    return JudgeFailure(
                        reason=reason,
                        error=f"server asked to retry after {retry_after:.0f}s, more than retry_after_max_s "
                        f"({self.settings.retry_after_max_s:.0f}s): {failure.error}",
                    )
                delay = retry_after
            else:
                delay = self.backoff(retry)
            retry += 1
            yield _Sleep(delay)

    def _answer(self, completion: ChatCompletion) -> Answer:
        if not completion.choices:
            raise AnswerError("invalid_json", "the completion has no choices")
        choice = completion.choices[0]
        if choice.message is None:
            raise AnswerError("invalid_json", "the completion's first choice has no message")
        if choice.message.refusal:
            raise AnswerError("invalid_answer", f"the model refused: {choice.message.refusal[:200]}")
        if choice.finish_reason == "length":
            # Cut off at max_tokens: whatever JSON is there is incomplete. Reported as `truncated` so an
            # operator raises maxTokens instead of chasing a "bad JSON" model.
            try:
                return parse_answer(self.answer_model, choice.message.content)
            except AnswerError as exc:
                raise AnswerError("truncated", f"answer hit max_tokens ({exc.detail})") from None
        return parse_answer(self.answer_model, choice.message.content)

    @staticmethod
    def _correction(completion: ChatCompletion, exc: AnswerError) -> list[dict[str, str]]:
        content = ""
        if completion.choices and completion.choices[0].message is not None:
            content = (completion.choices[0].message.content or "")[:_MAX_ECHOED_ANSWER]
        follow_up = [{"role": "assistant", "content": content}] if content.strip() else []
        follow_up.append(
            {
                "role": "user",
                "content": f"Your previous reply was rejected ({exc.reason}: {exc.detail[:500]}). "
                "Reply again with exactly one JSON object that follows the required schema, "
                "and nothing else.",
            }
        )
        return follow_up

    @staticmethod
    def _finish(
        progress: _Progress, *, answer: Answer | None = None, failure: JudgeFailure | None = None
    ) -> Judgement:
        return Judgement(
            model=progress.model,
            latency_ms=round((time.perf_counter() - progress.started) * 1000, 1),
            answer=answer,
            failure=failure,
            usage=progress.usage,
            attempts=progress.attempts,
        )


def _classify(exc: object) -> tuple[FailureReason, bool, float | None]:
    """(reason, retryable, Retry-After seconds) for an exception raised by the SDK, or for what the SDK
    returns instead of a ChatCompletion when a 200 body is not JSON (a proxy's error page: transient)."""
    if not isinstance(exc, BaseException):
        return "server_error", True, None
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", True, None
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error", True, None
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = _parse_retry_after(exc.response.headers)
        if status == 429:
            return "rate_limited", True, retry_after
        if status >= 500:
            return "server_error", True, retry_after
        if status == 408:
            return "timeout", True, retry_after
        return "request_rejected", False, None
    return "internal_error", False, None


def _describe(exc: object) -> str:
    if not isinstance(exc, BaseException):
        return f"the server answered 200 with a body that is not a chat completion: {str(exc)[:200]!r}"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {str(exc.message)[:300]}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


def _resolve(
    settings: JudgeSettings | None, prompt: PromptFile | str | Path | None, overrides: dict[str, Any]
) -> tuple[JudgeSettings, PromptFile]:
    given = {k: v for k, v in overrides.items() if v is not None}
    if settings is None:
        settings = JudgeSettings(**given)
    elif given:
        settings = settings.model_copy(update=given)
    if isinstance(prompt, PromptFile):
        return settings, prompt
    return settings, PromptFile.load(prompt if prompt is not None else settings.prompt_path)


class JudgeClient:
    """Synchronous judge client. ``judge(original_prompt, model_response, model=None)`` keeps the seed's
    call shape; ``.to_dict()`` of the result has the seed's keys plus ``status`` and ``error``."""

    def __init__(
        self,
        settings: JudgeSettings | None = None,
        *,
        prompt: PromptFile | str | Path | None = None,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        rng: random.Random | None = None,
    ):
        overrides = {"base_url": base_url, "model": model, "timeout_s": timeout_s, "max_retries": max_retries}
        if api_key is not None:
            overrides["api_key"] = SecretStr(api_key)
        self.settings, prompt_file = _resolve(settings, prompt, overrides)
        self._core = _JudgeCore(self.settings, prompt_file, rng)
        self._client = openai.OpenAI(
            base_url=self.settings.base_url,
            api_key=self.settings.api_key.get_secret_value(),
            timeout=self.settings.timeout_s,
            max_retries=0,
        )

    @property
    def model(self) -> str:
        return self._core.default_model

    @property
    def prompt(self) -> PromptFile:
        return self._core.prompt

    def judge(self, original_prompt: str, model_response: str, model: str | None = None) -> Judgement:
        steps = self._core.steps(original_prompt, model_response, model)
        outcome: Any = None
        try:
            while True:
                step = steps.send(outcome)
                if isinstance(step, _Sleep):
                    time.sleep(step.seconds)
                    outcome = None
                    continue
                try:
                    outcome = self._client.chat.completions.create(**step.kwargs)
                except Exception as exc:  # every failure becomes a typed JudgeFailure in the core
                    outcome = exc
        except StopIteration as done:
            return done.value

    def is_healthy(self, timeout_s: float = 5.0) -> bool:
        try:
            return httpx.get(health_url(self.settings.base_url), timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> JudgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncJudgeClient:
    """Asyncio judge client; at most ``settings.concurrency`` judgements run at once per client."""

    def __init__(
        self,
        settings: JudgeSettings | None = None,
        *,
        prompt: PromptFile | str | Path | None = None,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        concurrency: int | None = None,
        rng: random.Random | None = None,
    ):
        overrides = {
            "base_url": base_url,
            "model": model,
            "timeout_s": timeout_s,
            "max_retries": max_retries,
            "concurrency": concurrency,
        }
        if api_key is not None:
            overrides["api_key"] = SecretStr(api_key)
        self.settings, prompt_file = _resolve(settings, prompt, overrides)
        self._core = _JudgeCore(self.settings, prompt_file, rng)
        self._client = openai.AsyncOpenAI(
            base_url=self.settings.base_url,
            api_key=self.settings.api_key.get_secret_value(),
            timeout=self.settings.timeout_s,
            max_retries=0,
        )
        self._slots = asyncio.Semaphore(self.settings.concurrency)

    @property
    def model(self) -> str:
        return self._core.default_model

    @property
    def prompt(self) -> PromptFile:
        return self._core.prompt

    async def judge(self, original_prompt: str, model_response: str, model: str | None = None) -> Judgement:
        async with self._slots:
            steps = self._core.steps(original_prompt, model_response, model)
            outcome: Any = None
            try:
                while True:
                    step = steps.send(outcome)
                    if isinstance(step, _Sleep):
                        await asyncio.sleep(step.seconds)
                        outcome = None
                        continue
                    try:
                        outcome = await self._client.chat.completions.create(**step.kwargs)
                    except Exception as exc:  # every failure becomes a typed JudgeFailure in the core
                        outcome = exc
            except StopIteration as done:
                return done.value

    async def is_healthy(self, timeout_s: float = 5.0) -> bool:
        try:
            async with httpx.AsyncClient(timeout=timeout_s) as http:
                return (await http.get(health_url(self.settings.base_url))).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> AsyncJudgeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
