"""Benchmark: ``python -m app.judge calibrate`` over 1,000 gold items at concurrency 64, against the judge
client judging the same items plainly, on the same local server, in the same run.

    venv/bin/python -m bench.calibrate [--items 1000] [--rounds 3] [--concurrency 64]

* plain: ``judge_items`` + ``AsyncJudgeClient`` over the gold set's items, the answers kept (what any
  user of the judge client does), nothing else;
* calibrate: the whole command in-process (``app.judge.cli.main``): read and validate the gold set
  against the prompt's schema, judge every item through the same client, then every figure (kappa and
  its bootstrap interval per field (1,000 rounds), weighted kappa, confusion matrices, precision and
  recall, the people's own kappa on the doubly-labelled items), print them and write ``--json``.

The gold set is generated for the six-criteria prompt (``prompts/judge.prompt.yml``): 1,000 items, a
quarter of them labelled by a second person, scores spread over the scale. The server is the judge
client benchmark's raw asyncio server (bench/judge_client.py) in its own process, answering every
request at once with the same valid six-criteria answer.

Printed: items/s of each (best and median of the rounds), their ratio (target >= 0.9), the same ratio by
this process's CPU per item (robust to other load on a shared machine: the server is another process),
and what the figures cost on their own (the calibrate run's time after the last answer).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from bench.judge_client import MODEL, PROMPT, Rate, bench_server

CRITERIA = ("accuracy", "relevance", "helpfulness", "safety", "pleasing", "overall")


def make_gold(path: Path, items: int, seed: int = 11) -> Path:
    rng = random.Random(seed)
    lines = []
    for n in range(items):
        prompt = f"Question {n}: what is the capital of France, and why is it the capital?"
        response = "Paris is the capital of France; it has been the seat of government for centuries. " * 3
        base = rng.randint(1, 10)
        people = ["ana", "ben"] if n % 4 == 0 else ["ana"]
        for who in people:
            scores = {c: min(10, max(1, base + rng.randint(-1, 1))) for c in CRITERIA}
            labels = {"scores": scores}
            lines.append(
                {"id": f"b{n:05d}", "prompt": prompt, "response": response, "labeller": who, "labels": labels}
            )
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def run_plain(url: str, gold: Path, concurrency: int) -> Rate:
    from app.judge.client import AsyncJudgeClient
    from app.judge.runner import Item, judge_items

    items = []
    seen = set()
    for raw in gold.read_text().splitlines():
        line = json.loads(raw)
        if line["id"] not in seen:
            seen.add(line["id"])
            items.append(Item(line["id"], line["prompt"], line["response"]))

    async def go() -> int:
        client = AsyncJudgeClient(prompt=PROMPT, base_url=url + "/v1", model=MODEL, concurrency=concurrency)
        answers = {}
        async with client:
            async for result in judge_items(client, items, concurrency=concurrency):
                answers[result.id] = result.judgement
        return sum(1 for j in answers.values() if j.ok)

    started, cpu = time.perf_counter(), time.process_time()
    ok = asyncio.run(go())
    rate = Rate(len(items), time.perf_counter() - started, time.process_time() - cpu)
    if ok != len(items):
        raise SystemExit(f"plain run: {ok}/{len(items)} ok")
    return rate


def run_calibrate(url: str, gold: Path, concurrency: int, out: Path, items: int) -> Rate:
    from app.judge.cli import main as judge_cli

    argv = ["calibrate", "--gold", str(gold), "--prompt", str(PROMPT), "--base-url", url + "/v1"]
    argv += ["--model", MODEL, "--concurrency", str(concurrency), "--json", str(out)]
    started, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        code = judge_cli(argv)
    rate = Rate(items, time.perf_counter() - started, time.process_time() - cpu)
    figures = json.loads(out.read_text())
    if code != 0 or figures["judged"] != items:
        raise SystemExit(f"calibrate failed: exit {code}, {figures['judged']}/{items} judged")
    return rate


def statistics_only(gold: Path) -> float:
    """Seconds calibrate spends on the figures once every answer is in (the same answers as the server)."""
    from app.judge.calibrate import calibration
    from app.judge.gold import load_gold
    from app.judge.prompt_file import PromptFile
    from app.judge.results import JudgeAnswer, Judgement, JudgeScores
    from app.report.stats import BOOTSTRAP_ROUNDS

    prompt = PromptFile.load(PROMPT)
    loaded = load_gold(gold, prompt)
    scores = JudgeScores(accuracy=8, relevance=8, helpfulness=7, safety=10, pleasing=7, overall=8)
    answer = JudgeAnswer(reasoning="Correct and direct.", scores=scores)
    judgements = {i: Judgement(model=MODEL, latency_ms=1.0, answer=answer) for i in loaded.items}
    started = time.perf_counter()
    calibration(loaded, judgements, judge={}, prompt={}, rounds=BOOTSTRAP_ROUNDS, seed=0)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    plain: list[Rate] = []
    calibrate: list[Rate] = []
    with tempfile.TemporaryDirectory() as tmp, bench_server() as url:
        gold = make_gold(Path(tmp) / "gold.jsonl", args.items)
        warm = make_gold(Path(tmp) / "warm.jsonl", 100)
        run_plain(url, warm, args.concurrency)  # imports, connections
        run_calibrate(url, warm, args.concurrency, Path(tmp) / "warm.json", 100)
        for round_ in range(args.rounds):
            # Interleaved, the order flipping each round, so drift in machine load hits both alike.
            for side in ("plain", "calibrate") if round_ % 2 == 0 else ("calibrate", "plain"):
                if side == "plain":
                    plain.append(run_plain(url, gold, args.concurrency))
                else:
                    calibrate.append(
                        run_calibrate(url, gold, args.concurrency, Path(tmp) / "out.json", args.items)
                    )
        stats_s = statistics_only(gold)

    def median(rates: list[Rate]) -> float:
        return statistics.median(r.per_s for r in rates)

    print(f"calibrate benchmark: {args.items} items x {args.rounds} rounds, concurrency {args.concurrency}")
    for name, rates in (("judge client, plain", plain), ("calibrate", calibrate)):
        print(
            f"  {name:<20}: best {max(r.per_s for r in rates):6.0f} items/s"
            f"  median {median(rates):6.0f} items/s"
            f"  CPU {statistics.median(r.cpu_us_per_pair for r in rates):6.0f} us/item (median)"
        )
    best = max(r.per_s for r in calibrate) / max(r.per_s for r in plain)
    med = median(calibrate) / median(plain)
    cpu = statistics.median(r.cpu_us_per_pair for r in plain) / statistics.median(
        r.cpu_us_per_pair for r in calibrate
    )
    print(f"  ratio calibrate/plain, items/s: best {best:.3f}  median {med:.3f}  (target >= 0.9)")
    print(
        f"  ratio calibrate/plain, by CPU per item: {cpu:.3f}  {'OK' if cpu >= 0.9 else 'BELOW TARGET'} "
        "(robust to other load on a shared machine)"
    )
    print(f"  the figures alone (gold set loaded, every field, default bootstrap rounds): {stats_s:.2f} s")


if __name__ == "__main__":
    main()
