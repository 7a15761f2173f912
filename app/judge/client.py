"""Judge client for any OpenAI-compatible chat endpoint (vLLM's server in production).

One decision logic, two drivers: ``_JudgeCore.steps`` (app/judge/core.py) is a generator that yields what
to do next (send a request, sleep, probe /health) and receives the outcome, so ``JudgeClient`` (sync) and
``AsyncJudgeClient`` (async) share every rule and differ only in how they do I/O. What the client knows
about its server (down since when, how many requests to keep in flight) is one ``ServerState`` per
client (app/judge/server_state.py), shared by its judgements.

The openai SDK's own retry loop is switched off (``max_retries=0``) and replaced by the core's, so a request
is never retried twice over and every pause is the core's to decide: backoff, ``Retry-After``, a per
judgement time budget, waiting through a cold start, fewer requests in flight under overload.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import openai
from pydantic import SecretStr

from app.judge.core import (
    REQUIRED_VARIABLES,
    _Call,
    _Health,
    _JudgeCore,
    _Probe,
    _Result,
    _Sleep,
    parse_retry_after,
)
from app.judge.prompt_file import PromptFile
from app.judge.results import Judgement
from app.judge.server_state import Reporter, ServerState, log_reporter
from app.judge.settings import DEFAULT_PROMPT, JudgeSettings

__all__ = [
    "DEFAULT_PROMPT",
    "REQUIRED_VARIABLES",
    "AsyncJudgeClient",
    "JudgeClient",
    "JudgeSettings",
    "health_url",
    "parse_retry_after",
]


def health_url(base_url: str) -> str:
    """vLLM's ``/health`` lives at the server root, not under the OpenAI ``/v1`` prefix."""
    root = base_url.rstrip("/")
    root = root.removesuffix("/v1")
    return root + "/health"


def _timeout(step: _Call, settings: JudgeSettings) -> float | openai.NotGiven:
    """The per-request timeout, only when it differs from the client's own: passing one costs the SDK
    ~170 us of CPU per request (measured), 7% of a request's client-side cost."""
    return openai.NOT_GIVEN if step.timeout == settings.timeout_s else step.timeout


def _setup(
    settings: JudgeSettings | None,
    prompt: PromptFile | str | Path | None,
    overrides: dict[str, Any],
    rng: random.Random | None,
    report: Reporter,
) -> tuple[JudgeSettings, ServerState, _JudgeCore]:
    """What both clients are made of: the settings (keyword arguments that are not None override
    ``settings`` or the environment), the prompt file, the server's state and the I/O-free core."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(given.get("api_key"), str):
        given["api_key"] = SecretStr(given["api_key"])
    if settings is None:
        settings = JudgeSettings(**given)
    elif given:
        settings = settings.model_copy(update=given)
    if not isinstance(prompt, PromptFile):
        prompt = PromptFile.load(prompt if prompt is not None else settings.prompt_path)
    state = ServerState(settings, report)
    return settings, state, _JudgeCore(settings, prompt, rng, state)


def _openai_options(settings: JudgeSettings) -> dict[str, Any]:
    """The SDK client's options: retries are the core's, never the SDK's."""
    return {
        "base_url": settings.base_url,
        "api_key": settings.api_key.get_secret_value(),
        "timeout": settings.timeout_s,
        "max_retries": 0,
    }


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
        report: Reporter = log_reporter,
    ):
        overrides = {
            "base_url": base_url,
            "model": model,
            "api_key": api_key,
            "timeout_s": timeout_s,
            "max_retries": max_retries,
        }
        self.settings, self.state, self._core = _setup(settings, prompt, overrides, rng, report)
        self._client = openai.OpenAI(**_openai_options(self.settings))
        self._http: httpx.Client | None = None

    @property
    def model(self) -> str:
        return self._core.default_model

    @property
    def prompt(self) -> PromptFile:
        return self._core.prompt

    def judge(self, original_prompt: str, model_response: str, model: str | None = None) -> Judgement:
        return self._run(self._core.steps(original_prompt, model_response, model))

    def wake(self, interval_s: float = 2.0) -> bool:
        """Wait until ``/health`` answers 200, for up to ``cold_start_s``; progress goes to the reporter."""
        return self._run(self._core.wake(interval_s))

    def _run(self, steps: Generator[Any, Any, Any]) -> Any:
        outcome: Any = None
        try:
            while True:
                step = steps.send(outcome)
                if isinstance(step, _Sleep):
                    time.sleep(step.seconds)
                    outcome = None
                elif isinstance(step, _Probe):
                    started = time.monotonic()
                    outcome = _Health(self.is_healthy(step.timeout), time.monotonic() - started)
                else:
                    outcome = self._send(step)
        except StopIteration as done:
            return done.value

    def _send(self, step: _Call) -> _Result:
        started = time.monotonic()
        try:
            result: object = self._client.chat.completions.create(
                **step.kwargs, timeout=_timeout(step, self.settings)
            )
        except Exception as exc:  # every failure becomes a typed JudgeFailure in the core
            result = exc
        return _Result(result, time.monotonic() - started)

    def is_healthy(self, timeout_s: float = 5.0) -> bool:
        if self._http is None:
            self._http = httpx.Client()
        try:
            return self._http.get(health_url(self.settings.base_url), timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._client.close()
        if self._http is not None:
            self._http.close()

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
        report: Reporter = log_reporter,
    ):
        overrides = {
            "base_url": base_url,
            "model": model,
            "api_key": api_key,
            "timeout_s": timeout_s,
            "max_retries": max_retries,
            "concurrency": concurrency,
        }
        self.settings, self.state, self._core = _setup(settings, prompt, overrides, rng, report)
        self._client = openai.AsyncOpenAI(**_openai_options(self.settings))
        self._slots = _Slots(self.state)
        self._http: httpx.AsyncClient | None = None

    @property
    def model(self) -> str:
        return self._core.default_model

    @property
    def prompt(self) -> PromptFile:
        return self._core.prompt

    async def judge(self, original_prompt: str, model_response: str, model: str | None = None) -> Judgement:
        return await self._run(self._core.steps(original_prompt, model_response, model))

    async def wake(self, interval_s: float = 2.0) -> bool:
        """Wait until ``/health`` answers 200, for up to ``cold_start_s``; progress goes to the reporter."""
        return await self._run(self._core.wake(interval_s))

    async def _run(self, steps: Generator[Any, Any, Any]) -> Any:
        outcome: Any = None
        try:
            while True:
                step = steps.send(outcome)
                if isinstance(step, _Sleep):
                    await asyncio.sleep(step.seconds)
                    outcome = None
                elif isinstance(step, _Probe):
                    started = time.monotonic()
                    outcome = _Health(await self.is_healthy(step.timeout), time.monotonic() - started)
                else:
                    outcome = await self._send(step)
        except StopIteration as done:
            return done.value

    async def _send(self, step: _Call) -> _Result:
        # A slot is held for the request only, not for pauses: a judgement that backs off or waits for
        # a starting server does not keep another from being sent.
        async with self._slots:
            started = time.monotonic()
            try:
                completions = self._client.chat.completions
                result: object = await completions.create(
                    **step.kwargs, timeout=_timeout(step, self.settings)
                )
            except Exception as exc:  # every failure becomes a typed JudgeFailure in the core
                result = exc
            return _Result(result, time.monotonic() - started)

    async def is_healthy(self, timeout_s: float = 5.0) -> bool:
        # One client for every probe: a new one per probe costs an SSL context each time.
        if self._http is None:
            self._http = httpx.AsyncClient()
        try:
            response = await self._http.get(health_url(self.settings.base_url), timeout=timeout_s)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    async def aclose(self) -> None:
        await self._client.close()
        if self._http is not None:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncJudgeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Slots:
    """At most ``state.slots`` requests in flight; the limit moves as the server state decides."""

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._busy = 0
        self._waiting = 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> None:
        if not self._waiting and self._busy < self._state.slots:
            self._busy += 1  # the common case, without the lock
            return
        async with self._changed:
            self._waiting += 1
            try:
                await self._changed.wait_for(lambda: self._busy < self._state.slots)
            finally:
                self._waiting -= 1
            self._busy += 1

    async def __aexit__(self, *exc: object) -> None:
        self._busy -= 1
        free = self._state.slots - self._busy
        if self._waiting and free > 0:
            async with self._changed:
                self._changed.notify(free)
