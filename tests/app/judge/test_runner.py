"""The run engine: bounded concurrency with results in completion order, lazy input, resume helpers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.judge.results import JudgeAnswer, JudgeFailure, Judgement, parse_answer
from app.judge.runner import Item, judge_items, read_judged_ids, repair_tail
from app.judge.summary import RunSummary
from tests.support.fake_openai import REAL_SCORES

ANSWER = parse_answer(JudgeAnswer, json.dumps({"reasoning": "r", "scores": REAL_SCORES}))


class GatedJudge:
    """An in-process judge whose calls finish only when the test releases them."""

    model = "gated"

    def __init__(self) -> None:
        self.running = 0
        self.max_running = 0
        self.gates: dict[str, asyncio.Event] = {}

    def gate(self, prompt: str) -> asyncio.Event:
        return self.gates.setdefault(prompt, asyncio.Event())

    async def judge(self, original_prompt: str, model_response: str, model: str | None = None) -> Judgement:
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if model_response == "boom":
                raise RuntimeError("client bug")
            await self.gate(original_prompt).wait()
            return Judgement(model=model or self.model, latency_ms=1.0, answer=ANSWER)
        finally:
            self.running -= 1


def test_keeps_exactly_n_in_flight_and_pulls_input_lazily() -> None:
    judge = GatedJudge()
    pulled: list[int] = []

    def items():
        for i in range(20):
            pulled.append(i)
            yield (f"id{i}", f"p{i}", "r")

    async def main() -> list[str]:
        seen: list[str] = []
        stream = judge_items(judge, items(), concurrency=5)
        consumer = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.01)
        assert judge.running == 5
        assert len(pulled) == 5  # never reads ahead of the free slots
        for i in range(20):
            judge.gate(f"p{i}").set()
        seen.append((await consumer).id)
        seen.extend([r.id async for r in stream])
        return seen

    seen = asyncio.run(main())
    assert sorted(seen) == sorted(f"id{i}" for i in range(20))
    assert judge.max_running == 5


def test_results_come_in_completion_order() -> None:
    judge = GatedJudge()

    async def main() -> list[str]:
        stream = judge_items(judge, [Item("slow", "slow", "r"), Item("fast", "fast", "r")], concurrency=2)
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.01)
        judge.gate("fast").set()
        order = [(await first).id]
        judge.gate("slow").set()
        order.extend([r.id async for r in stream])
        return order

    assert asyncio.run(main()) == ["fast", "slow"]


def test_an_exception_from_the_client_becomes_a_failure_not_a_crash() -> None:
    judge = GatedJudge()
    judge.gate("p").set()

    async def main():
        return [r async for r in judge_items(judge, [("a", "p", "boom"), ("b", "p", "ok")], concurrency=2)]

    results = {r.id: r.judgement for r in asyncio.run(main())}
    assert results["a"].failure.reason == "internal_error"
    assert results["b"].status == "ok"


def test_an_error_reading_the_items_reaches_the_consumer_after_the_finished_results() -> None:
    judge = GatedJudge()
    judge.gate("p").set()

    def items():
        yield ("a", "p", "r")
        raise OSError("input vanished")

    got: list = []

    async def main() -> None:
        async for r in judge_items(judge, items(), concurrency=2):
            got.append(r.id)

    with pytest.raises(OSError, match="input vanished"):
        asyncio.run(main())
    assert got == ["a"]


def test_accepts_an_async_iterable() -> None:
    judge = GatedJudge()
    judge.gate("p").set()

    async def source():
        for i in range(3):
            yield Item(i, "p", "r")

    async def main():
        return [r.id async for r in judge_items(judge, source(), concurrency=2)]

    assert sorted(asyncio.run(main())) == [0, 1, 2]


def test_stopping_early_cancels_the_requests_in_flight() -> None:
    judge = GatedJudge()
    judge.gate("p0").set()

    async def main() -> None:
        stream = judge_items(judge, [(i, f"p{i}", "r") for i in range(10)], concurrency=4)
        async for _ in stream:
            break
        await stream.aclose()
        await asyncio.sleep(0)
        assert judge.running == 0

    asyncio.run(main())


def test_concurrency_must_be_positive() -> None:
    async def main():
        return [r async for r in judge_items(GatedJudge(), [], concurrency=0)]

    with pytest.raises(ValueError, match="concurrency"):
        asyncio.run(main())


def test_repair_tail_cuts_only_a_torn_last_line(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(b'{"id": 1, "status": "ok"}\n{"id": 2, "sta')
    assert repair_tail(out) == len(b'{"id": 2, "sta')
    assert out.read_bytes() == b'{"id": 1, "status": "ok"}\n'
    assert repair_tail(out) == 0
    torn_only = tmp_path / "torn.jsonl"
    torn_only.write_bytes(b'{"id": 1')
    repair_tail(torn_only)
    assert torn_only.read_bytes() == b""
    assert repair_tail(tmp_path / "missing.jsonl") == 0


def test_read_judged_ids_with_and_without_failures(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    lines = [
        {"id": "a", "status": "ok"},
        {"id": "b", "status": "error"},
        {"id": 3, "status": "ok"},
        {"id": "c", "status": "error"},
        {"id": "c", "status": "ok"},
    ]
    out.write_text("".join(json.dumps(x) + "\n" for x in lines) + "garbage\n\n" + '{"id": "d"')
    every = read_judged_ids(out)
    assert every.ids == {"a", "b", 3, "c"}
    assert every.unreadable_lines == 2
    assert read_judged_ids(out, include_failed=False).ids == {"a", 3, "c"}


def test_summary_counts_means_and_distributions() -> None:
    summary = RunSummary()
    high = parse_answer(JudgeAnswer, json.dumps({"reasoning": "r", "scores": {**REAL_SCORES, "overall": 9}}))
    for answer in (ANSWER, high):
        summary.add(Judgement(model="m", latency_ms=1.0, answer=answer))
    summary.add(Judgement(model="m", latency_ms=1.0, failure=JudgeFailure(reason="timeout", error="t")))
    data = summary.as_dict()
    assert (data["judged"], data["ok"], data["failed"]) == (3, 2, 1)
    assert data["failures"] == {"timeout": 1}
    assert data["mean"]["overall"] == 7.5
    assert data["distribution"]["overall"] == {6: 1, 9: 1}
    assert "overall" in summary.render()
