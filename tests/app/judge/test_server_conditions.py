"""The client's decisions when its server is down or overloaded, driven by hand with a fake clock: the
core (app/judge/core.py) and the shared server state (app/judge/server_state.py) are I/O-free, so every
rule is checked here step by step, exactly, and without waiting."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from app.judge.core import _Call, _JudgeCore, _Probe, _Result, _Sleep
from app.judge.prompt_file import PromptFile
from app.judge.server_state import REPORT_INTERVAL_S, ServerState
from app.judge.settings import JudgeSettings
from tests.support.fake_openai import scored_completion

ROOT = Path(__file__).resolve().parents[3]
PROMPT = PromptFile.load(ROOT / "prompts" / "judge.prompt.yml")
REQUEST = httpx2.Request("POST", "http://judge/v1/chat/completions")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, event: str, message: str, fields: dict[str, Any]) -> None:
        self.seen.append((event, message))

    @property
    def names(self) -> list[str]:
        return [event for event, _ in self.seen]


def status(code: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    response = httpx2.Response(code, headers=headers or {}, request=REQUEST)
    return openai.APIStatusError("scripted", response=response, body=None)


def timed_out() -> openai.APITimeoutError:
    return openai.APITimeoutError(request=REQUEST)


def refused() -> openai.APIConnectionError:
    error = openai.APIConnectionError(request=REQUEST)
    error.__cause__ = httpx2.ConnectError("[Errno 111] Connection refused")
    return error


def dropped() -> openai.APIConnectionError:
    error = openai.APIConnectionError(request=REQUEST)
    error.__cause__ = httpx2.RemoteProtocolError("Server disconnected without sending a response.")
    return error


def make(clock: Clock, events: Events | None = None, **settings: Any) -> _JudgeCore:
    base: dict[str, Any] = {
        "model": "m",
        "timeout_s": 10.0,
        "deadline_s": 60.0,
        "max_retries": 4,
        "backoff_initial_s": 1.0,
        "backoff_max_s": 4.0,
        "cold_start_s": 300.0,
        "concurrency": 16,
    }
    config = JudgeSettings(**{**base, **settings})
    state = ServerState(config, events or Events())
    return _JudgeCore(config, PROMPT, random.Random(7), state, clock)


Attempt = Callable[[_Call], tuple[object, float]]


def drive(core: _JudgeCore, clock: Clock, attempt: Attempt, healthy: Callable[[], bool] = lambda: True):
    """Run one judgement; ``attempt(call)`` returns (outcome, seconds it took). Returns the Judgement and
    the steps taken."""
    steps = core.steps("p", "r")
    taken: list[Any] = []
    reply: Any = None
    try:
        while True:
            step = steps.send(reply)
            taken.append(step)
            if isinstance(step, _Sleep):
                clock.now += step.seconds
                reply = None
            elif isinstance(step, _Probe):
                reply = healthy()
            else:
                outcome, took = attempt(step)
                clock.now += took
                reply = _Result(outcome, took)
    except StopIteration as done:
        return done.value, taken


def script(*attempts: tuple[object, float]) -> Attempt:
    feed = iter(attempts)
    return lambda call: next(feed)


# --- the time budget of one judgement -------------------------------------------------------------


def test_a_judgement_never_outlasts_its_time_budget_whatever_max_retries_allows() -> None:
    clock = Clock()
    core = make(clock, timeout_s=10.0, deadline_s=25.0, max_retries=20)
    started = clock.now
    result, taken = drive(core, clock, lambda call: (timed_out(), call.timeout))
    assert result.failure.reason == "timeout"
    assert "JUDGE_DEADLINE_S" in result.failure.error
    assert clock.now - started <= 25.0
    calls = [s for s in taken if isinstance(s, _Call)]
    assert len(calls) == 3  # 10 s + pause + 10 s + pause + what is left, not 21 attempts of 10 s
    assert calls[-1].timeout < 10.0  # the last attempt only gets the budget that is left


def test_the_old_per_attempt_rule_would_have_taken_five_times_the_timeout() -> None:
    """Control: with a budget as large as retries allow, the same server costs every attempt in full."""
    clock = Clock()
    core = make(clock, timeout_s=10.0, deadline_s=1000.0, max_retries=4)
    drive(core, clock, lambda call: (timed_out(), call.timeout))
    assert clock.now - 1000.0 > 50.0


# --- down (a cold start) versus overloaded -----------------------------------------------------------


def test_refused_connections_wait_for_the_server_without_using_retries_or_the_deadline() -> None:
    clock, events = Clock(), Events()
    core = make(clock, events, max_retries=1, deadline_s=5.0, cold_start_s=300.0)
    up_at = clock.now + 200.0

    def attempt(call: _Call) -> tuple[object, float]:
        return (scored_completion(), 0.5) if clock.now >= up_at else (refused(), 0.001)

    result, taken = drive(core, clock, attempt)
    assert result.status == "ok"
    assert not any(isinstance(s, _Probe) for s in taken)  # a refusal needs no probe
    assert result.attempts > 10
    assert events.names[0] == "judge.server_down"
    assert events.names[-1] == "judge.server_up"
    assert "judge.server_waiting" in events.names  # progress while it waits
    assert core.state.down_since is None


def test_a_server_that_never_comes_up_fails_as_unavailable_after_the_cold_start_budget() -> None:
    clock, events = Clock(), Events()
    core = make(clock, events, cold_start_s=120.0)
    result, _ = drive(core, clock, lambda call: (refused(), 0.001))
    assert result.failure.reason == "unavailable"
    assert "did not come up within 120s" in result.failure.error
    assert "Connection refused" in result.failure.error
    assert 120.0 <= clock.now - 1000.0 <= 121.0
    assert events.names.count("judge.server_gave_up") == 1
    # The next judgement of the same client does not wait all over again.
    before = clock.now
    again, _ = drive(core, clock, lambda call: (refused(), 0.001))
    assert again.failure.reason == "unavailable"
    assert clock.now - before < 1.0


@pytest.mark.parametrize("code", [502, 503, 504])
def test_a_gateway_error_with_health_down_is_a_cold_start(code: int) -> None:
    clock = Clock()
    core = make(clock, max_retries=0)
    up_at = clock.now + 90.0
    up = lambda: clock.now >= up_at  # noqa: E731
    result, taken = drive(
        core, clock, lambda call: (scored_completion(), 1.0) if up() else (status(code), 0.01), healthy=up
    )
    assert result.status == "ok"  # max_retries=0, yet it waited: the server was down, not failing
    assert any(isinstance(s, _Probe) for s in taken)


@pytest.mark.parametrize("code", [502, 503, 504])
def test_a_gateway_error_with_health_up_is_overload_and_uses_the_retries(code: int) -> None:
    clock, events = Clock(), Events()
    core = make(clock, events, max_retries=2)
    result, _ = drive(core, clock, lambda call: (status(code), 0.01), healthy=lambda: True)
    assert result.failure.reason == "server_error"
    assert result.attempts == 3
    assert core.state.down_since is None
    assert "judge.server_down" not in events.names
    assert core.state.slots < 16  # fewer requests in flight from now on


def test_a_connection_held_until_the_timeout_while_health_is_held_too_is_a_cold_start() -> None:
    """KEDA's interceptor holds every request, /health included, while the judge scales from zero."""
    clock = Clock()
    core = make(clock, timeout_s=30.0, max_retries=0, cold_start_s=600.0)
    up_at = clock.now + 400.0

    def attempt(call: _Call) -> tuple[object, float]:
        if clock.now + call.timeout < up_at:
            return timed_out(), call.timeout
        return scored_completion(), max(0.0, up_at - clock.now) + 1.0

    result, _ = drive(core, clock, attempt, healthy=lambda: clock.now >= up_at)
    assert result.status == "ok"


def test_retry_after_is_honoured_while_the_server_is_down_within_the_budget() -> None:
    clock = Clock()
    core = make(clock, cold_start_s=100.0)
    answers = iter([(status(503, {"Retry-After": "30"}), 0.0), (status(503, {"Retry-After": "500"}), 0.0)])
    result, taken = drive(
        core, clock, lambda call: next(answers, (scored_completion(), 0.1)), healthy=lambda: False
    )
    assert result.status == "ok"
    assert [s.seconds for s in taken if isinstance(s, _Sleep)] == [30.0, 70.0]  # the second, capped


def test_a_dropped_connection_asks_health_before_calling_the_server_down() -> None:
    clock, events = Clock(), Events()
    core = make(clock, events, max_retries=1)
    result, taken = drive(
        core, clock, script((dropped(), 0.1), (scored_completion(), 0.1)), healthy=lambda: True
    )
    assert result.status == "ok"
    assert any(isinstance(s, _Probe) for s in taken)
    assert "judge.server_down" not in events.names


def test_without_a_cold_start_budget_a_down_server_is_retried_like_any_failure() -> None:
    clock = Clock()
    core = make(clock, cold_start_s=0, max_retries=2)
    result, taken = drive(core, clock, lambda call: (refused(), 0.001))
    assert result.failure.reason == "connection_error"
    assert result.attempts == 3
    assert not any(isinstance(s, _Probe) for s in taken)


def test_a_429_keeps_its_retry_after_and_lowers_the_requests_in_flight() -> None:
    clock = Clock()
    core = make(clock)
    result, taken = drive(
        core, clock, script((status(429, {"Retry-After": "3"}), 0.01), (scored_completion(), 0.1))
    )
    assert result.status == "ok"
    assert [s.seconds for s in taken if isinstance(s, _Sleep)] == [3.0]
    assert core.state.slots == 8


# --- how many requests in flight ---------------------------------------------------------------------


def _state(**settings: Any) -> tuple[ServerState, Events]:
    events = Events()
    base = {"model": "m", "concurrency": 16, "timeout_s": 10.0}
    return ServerState(JudgeSettings(**{**base, **settings}), events), events


def test_overload_halves_the_slots_once_per_round_and_answers_on_target_grow_them_back() -> None:
    state, events = _state()
    epoch = state.epoch
    for _ in range(5):  # five requests of the same round time out: one decrease, not five
        state.on_overload(epoch, 0.0, "timeout")
    assert state.slots == 8
    assert events.names == ["judge.overloaded"]
    for _ in range(8):  # one round of answers within the latency target (5 s: half the timeout)
        state.on_answer(1.0, state.epoch, 1.0)
    assert state.slots == 9
    state.on_answer(6.0, state.epoch, 2.0)  # over the target
    assert state.slots == 4


def test_the_slots_never_exceed_the_configured_concurrency_or_fall_below_one() -> None:
    state, _ = _state(concurrency=4)
    for _ in range(100):
        state.on_answer(0.1, state.epoch, 0.0)
    assert state.slots == 4
    for n in range(10):
        state.on_overload(state.epoch, float(n), "timeout")
    assert state.slots == 1


def test_after_an_outage_one_request_probes_and_the_slots_restart_slowly() -> None:
    state, events = _state()
    state.on_down(0.0, "refused")
    assert state.slots == 1
    state.on_answer(1.0, state.epoch, 50.0)
    assert events.names == ["judge.server_down", "judge.server_up"]
    assert state.slots == 1
    grown = []
    for _ in range(4):
        for _ in range(state.slots):
            state.on_answer(1.0, state.epoch, 51.0)
        grown.append(state.slots)
    assert grown == [2, 4, 8, 16]  # doubling per round back to where it was


def test_progress_while_down_is_reported_at_most_once_per_interval() -> None:
    state, events = _state(cold_start_s=600)
    for second in range(0, 100):
        state.on_down(float(second), "refused")
    waiting = events.names.count("judge.server_waiting")
    assert 100 // REPORT_INTERVAL_S - 1 <= waiting <= 100 // REPORT_INTERVAL_S


def test_adaptive_concurrency_can_be_turned_off() -> None:
    state, _ = _state(adaptive_concurrency=False)
    state.on_overload(state.epoch, 0.0, "timeout")
    assert state.slots == 16


def test_the_latency_target_must_be_below_the_timeout() -> None:
    with pytest.raises(ValueError, match="latency_target_s"):
        JudgeSettings(timeout_s=10, latency_target_s=10)
