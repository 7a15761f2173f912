"""The judge client's decisions, without I/O: ``_JudgeCore.steps`` is a generator that yields what to do
next and receives the outcome, so the sync and the async client share every rule.

Steps: ``_Call(kwargs, timeout)`` (send one chat completion; the driver answers with ``_Result(outcome,
elapsed_s)`` or the bare outcome), ``_Sleep(seconds)``, and ``_Probe(timeout)`` (GET ``/health``; the
driver answers True for a 200).

Per judgement:
* an attempt lasts at most ``timeout_s``, and the judgement at most ``deadline_s`` over its attempts and
  pauses; waiting for a free slot and waiting for a server that is down do not count against it;
* 408, 429, 5xx, time-outs and connection errors are retried, at most ``max_retries`` times, after an
  exponential backoff with equal jitter, or exactly the ``Retry-After`` (seconds, HTTP date, or
  ``retry-after-ms``) when the server sends one; one longer than ``retry_after_max_s`` ends the judgement
  at once instead of holding a worker for minutes;
* a refused connection, or a 502/503/504 or time-out while ``/health`` does not answer 200 either, means
  the server is down (a cold start): the judgement waits for it, shared with every other judgement of
  the client, for up to ``cold_start_s`` from the start of the outage, without using up its retries or
  its deadline (see ``server_state``). With ``/health`` answering 200 the same failure means overload;
* an answer that is not valid JSON or fails the typed answer is asked for once more, with the
  validation error in a follow-up message; a second bad answer is a failure.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import httpx2
import openai
from openai.types.chat import ChatCompletion

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
from app.judge.server_state import ServerState
from app.judge.settings import JudgeSettings

REQUIRED_VARIABLES = frozenset({"prompt", "response"})
_MAX_ECHOED_ANSWER = 4000
# A health probe answers at once when the server is up, whatever its queue: vLLM serves /health outside
# the engine's request queue. One that took longer than PROBE_SLOW_S was held (by KEDA's interceptor,
# while the judge scaled up) and answers for a server that has only just come up.
PROBE_TIMEOUT_S = 5.0
PROBE_SLOW_S = 1.0
# The shortest attempt worth sending when a judgement's deadline is nearly spent.
_MIN_ATTEMPT_S = 0.05


@dataclass(frozen=True)
class _Call:
    kwargs: dict[str, Any]
    timeout: float


@dataclass(frozen=True)
class _Sleep:
    seconds: float


@dataclass(frozen=True)
class _Probe:
    timeout: float


@dataclass(frozen=True)
class _Result:
    outcome: object
    elapsed_s: float


@dataclass(frozen=True)
class _Health:
    """What a probe found: ``/health`` answered 200 or not, after ``elapsed_s``."""

    ok: bool
    elapsed_s: float = 0.0


_Step = _Call | _Sleep | _Probe
# What a failed attempt says about the server: nothing, it is down, or it is overloaded.
_Signal = Literal["error", "down", "ambiguous", "overload"]


@dataclass
class _Progress:
    started: float
    model: str
    usage: TokenUsage = field(default_factory=TokenUsage)
    attempts: int = 0
    spent: float = 0.0  # of deadline_s: attempts and pauses while the server is up


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
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


class _JudgeCore:
    """Everything but the I/O: request building, retry and wait decisions, answer validation."""

    def __init__(
        self,
        settings: JudgeSettings,
        prompt: PromptFile,
        rng: random.Random | None = None,
        state: ServerState | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
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
            # vLLM reads `max_completion_tokens` first and keeps `max_tokens` only as a deprecated alias
            # (vllm/entrypoints/openai/chat_completion/protocol.py, ChatCompletionRequest).
            self._base_kwargs["max_completion_tokens"] = params.max_tokens
        if params.top_p is not None:
            self._base_kwargs["top_p"] = params.top_p
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.state = state or ServerState(settings)
        self.clock = clock

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
        progress = _Progress(started=self.clock(), model=model or self.default_model)
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
            return self._finish(progress, answer=answer, reply=outcome.choices[0].message.content)
        raise AssertionError("unreachable")

    def _request(
        self, kwargs: dict[str, Any], progress: _Progress
    ) -> Generator[_Step, Any, ChatCompletion | JudgeFailure]:
        settings, state = self.settings, self.state
        retry = 0
        waits = 0  # pauses while the server is down, for the backoff of the next one
        came_up = False  # one free retry for a server seen coming up (not overloaded)
        while True:
            left = settings.deadline_s - progress.spent
            down_for = state.down_for(self.clock())
            if down_for is None and left < _MIN_ATTEMPT_S:
                return JudgeFailure(reason="timeout", error=self._deadline_note("no attempt left"))
            timeout = settings.timeout_s if down_for is not None else min(settings.timeout_s, left)
            epoch, sent = state.epoch, self.clock()
            progress.attempts += 1
            result = yield _Call(kwargs, timeout)
            if not isinstance(result, _Result):
                result = _Result(result, 0.0)  # driven by hand: no time passed
            outcome, elapsed = result.outcome, result.elapsed_s
            if isinstance(outcome, ChatCompletion):
                state.on_answer(elapsed, epoch, self.clock())
                if outcome.usage is not None:
                    u = outcome.usage
                    progress.usage += TokenUsage(u.prompt_tokens, u.completion_tokens, u.total_tokens)
                if outcome.model:
                    progress.model = outcome.model
                return outcome
            reason, retryable, retry_after, signal = _classify(outcome)
            failure = JudgeFailure(reason=reason, error=_describe(outcome))
            if not retryable:
                return failure
            if (
                settings.cold_start_s > 0
                and state.down_since is None
                and sent <= (state.recovered_at or -1.0)
            ):
                continue  # sent while the server was down, and it is up again: try again at once
            if signal == "ambiguous" and settings.cold_start_s > 0:
                if state.down_since is not None:
                    signal = "down"  # known down already: no probe needed
                else:
                    health = _health((yield _Probe(PROBE_TIMEOUT_S)))
                    if health.ok and health.elapsed_s > PROBE_SLOW_S and not came_up:
                        # The probe was held until the server came up (KEDA's interceptor scaling it
                        # from zero): the failure was the outage's, not overload.
                        came_up = True
                        continue
                    signal = "overload" if health.ok else "down"
            if signal == "down" and settings.cold_start_s > 0:
                waited = state.on_down(self.clock(), failure.error[:200])
                budget_left = settings.cold_start_s - waited
                if budget_left <= 0:
                    return JudgeFailure(
                        reason="unavailable",
                        error=f"the judge server did not come up within {settings.cold_start_s:g}s "
                        f"(JUDGE_COLD_START_S): {failure.error}",
                    )
                delay = retry_after if retry_after is not None else self.backoff(waits)
                waits += 1
                yield _Sleep(min(delay, budget_left))
                continue
            if signal == "overload":
                state.on_overload(epoch, self.clock(), failure.error[:200])
            progress.spent += elapsed
            if retry >= settings.max_retries:
                return failure
            if retry_after is not None and retry_after > settings.retry_after_max_s:
                return JudgeFailure(
                    reason=reason,
                    error=f"server asked to retry after {retry_after:.0f}s, more than retry_after_max_s "
                    f"({settings.retry_after_max_s:.0f}s): {failure.error}",
                )
            delay = retry_after if retry_after is not None else self.backoff(retry)
            if progress.spent + delay + _MIN_ATTEMPT_S > settings.deadline_s:
                return JudgeFailure(reason=reason, error=f"{failure.error}; {self._deadline_note('gave up')}")
            progress.spent += delay
            retry += 1
            yield _Sleep(delay)

    def wake(self, interval_s: float) -> Generator[_Step, Any, bool]:
        """Probe ``/health`` until it answers 200 (True) or the server has been down for ``cold_start_s``
        (False), pausing up to ``interval_s`` between probes. Through KEDA's HTTP add-on the probe itself
        is what scales the judge up from zero; elsewhere it waits for whatever does."""
        settings, state = self.settings, self.state
        waits = 0
        while True:
            healthy = _health((yield _Probe(PROBE_TIMEOUT_S))).ok
            now = self.clock()
            if healthy:
                state.on_up(now)
                return True
            waited = state.on_down(now, "GET /health did not answer 200")
            if waited >= settings.cold_start_s:
                return False
            pause = min(interval_s, self.backoff(waits), settings.cold_start_s - waited)
            waits += 1
            yield _Sleep(pause)

    def _deadline_note(self, what: str) -> str:
        budget = f"{self.settings.deadline_s:g}s, JUDGE_DEADLINE_S"
        return f"{what}: the judgement's time budget ({budget}) is spent"

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

    def _finish(
        self,
        progress: _Progress,
        *,
        answer: Answer | None = None,
        failure: JudgeFailure | None = None,
        reply: str | None = None,
    ) -> Judgement:
        return Judgement(
            model=progress.model,
            latency_ms=round((self.clock() - progress.started) * 1000, 1),
            answer=answer,
            failure=failure,
            usage=progress.usage,
            attempts=progress.attempts,
            reply=reply,
        )


def _health(reply: object) -> _Health:
    return reply if isinstance(reply, _Health) else _Health(bool(reply))  # a bare bool: driven by hand


def _classify(exc: object) -> tuple[FailureReason, bool, float | None, _Signal]:
    """(reason, retryable, Retry-After seconds, what it says about the server) for an exception raised by
    the SDK, or for what the SDK returns instead of a ChatCompletion when a 200 body is not JSON (a
    proxy's error page: transient)."""
    if not isinstance(exc, BaseException):
        return "server_error", True, None, "ambiguous"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", True, None, "ambiguous"
    if isinstance(exc, openai.APIConnectionError):
        # Refused (or no such host): nothing listens, the server is down. A connection dropped mid-request
        # may as well be a proxy or a restart of one replica: ask /health.
        refused = isinstance(exc.__cause__, httpx2.ConnectError | httpx.ConnectError)
        return "connection_error", True, None, "down" if refused else "ambiguous"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = parse_retry_after(exc.response.headers)
        if status == 429:
            return "rate_limited", True, retry_after, "overload"
        if status in (502, 503, 504):
            return "server_error", True, retry_after, "ambiguous"
        if status >= 500:
            return "server_error", True, retry_after, "error"
        if status == 408:
            return "timeout", True, retry_after, "error"
        return "request_rejected", False, None, "error"
    return "internal_error", False, None, "error"


def _describe(exc: object) -> str:
    if not isinstance(exc, BaseException):
        return f"the server answered 200 with a body that is not a chat completion: {str(exc)[:200]!r}"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {str(exc.message)[:300]}"
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__
    if isinstance(exc, openai.APIConnectionError) and cause is not None:
        # The SDK's own message is only "Connection error."; the transport's says refused, reset, DNS.
        text += f" ({type(cause).__name__}: {cause})"
    return f"{type(exc).__name__}: {text[:300]}"
