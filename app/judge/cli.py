"""``python -m app.judge``: judge a JSONL file, check the judge server's health, warm it up, compare two
judges' results, run a prompt file's own test cases, measure the judge against people (``calibrate``).

A judge scaled to zero takes minutes to come back: ``run`` and ``warmup`` wait for it (up to
``--cold-start-wait`` / ``--wait`` seconds, JUDGE_COLD_START_S) and say on stderr what they are waiting
for; ``warmup`` is the way to wake it on purpose before a batch.

Exit codes: app/judge/exits.py (also in ``--help``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import httpx
from tqdm import tqdm

from app import logs
from app.judge import calibrate_cli, compare_cli, eval_cli
from app.judge.cli_settings import add_attempt_flags, load_prompt, settings_from_args
from app.judge.client import AsyncJudgeClient, JudgeClient, health_url
from app.judge.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, HELP, UsageError
from app.judge.runner import Item, judge_items, read_judged_ids, repair_tail
from app.judge.summary import RunSummary

__all__ = ["main", "read_items"]

_MAX_REPORTED_LINES = 20


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _check_line(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "not a JSON object"
    for name in ("id", "prompt", "response"):
        if name not in data:
            return f"missing field {name!r}"
    item_id = data["id"]
    if isinstance(item_id, bool) or not isinstance(item_id, str | int) or item_id == "":
        return "field 'id' must be a non-empty string or an integer"
    for name in ("prompt", "response"):
        if not isinstance(data[name], str):
            return f"field {name!r} must be a string"
    return None


def read_items(
    path: Path, summary: RunSummary, skip: set[Any], report: Callable[[str], None] = _warn
) -> Iterator[Item]:
    """Items of an input JSONL; malformed lines, duplicates and ids in ``skip`` are counted and skipped."""
    seen: set[Any] = set()
    reported = 0

    def bad(number: int, reason: str) -> None:
        nonlocal reported
        summary.malformed += 1
        reported += 1
        if reported <= _MAX_REPORTED_LINES:
            report(f"{path}:{number}: skipped malformed line: {reason}")
        elif reported == _MAX_REPORTED_LINES + 1:
            report(f"{path}: more malformed lines; only the count is reported from here on")

    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except ValueError as exc:  # JSON and UTF-8 errors alike
                bad(number, f"not JSON ({exc})")
                continue
            problem = _check_line(data)
            if problem:
                bad(number, problem)
                continue
            item_id = data["id"]
            if item_id in skip:
                summary.already_judged += 1
                continue
            if item_id in seen:
                summary.duplicates += 1
                report(f"{path}:{number}: skipped duplicate id {item_id!r}")
                continue
            seen.add(item_id)
            yield Item(item_id, data["prompt"], data["response"])


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def _report(event: str, message: str, fields: dict[str, Any]) -> None:
    """Server conditions (down, waiting, back up, overloaded) as one stderr line each, above any bar."""
    tqdm.write(f"judge: {message}", file=sys.stderr)


# --- run -------------------------------------------------------------------------------------------


async def _run(args: argparse.Namespace, client: AsyncJudgeClient, summary: RunSummary, out: TextIO) -> None:
    judged = read_judged_ids(args.output, include_failed=not args.retry_failed)
    if judged.unreadable_lines:
        _warn(
            f"{args.output}: {judged.unreadable_lines} unreadable line(s) ignored; those ids are judged again"
        )
    items = read_items(args.input, summary, judged.ids)
    show_progress = not args.no_progress and sys.stderr.isatty()
    total = max(0, _count_lines(args.input) - len(judged.ids)) if show_progress else None
    async with client:
        with tqdm(total=total, disable=not show_progress, unit="pair", file=sys.stderr) as bar:
            async for result in judge_items(client, items, concurrency=client.settings.concurrency):
                out.write(json.dumps(result.judgement.output_line(result.id), ensure_ascii=False) + "\n")
                # Flushed per line: after a crash the file holds every finished judgement (resume).
                out.flush()
                summary.add(result.judgement)
                bar.update(1)


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    prompt = load_prompt(settings)
    if not args.input.is_file():
        raise UsageError(f"input file not found: {args.input}")
    try:
        client = AsyncJudgeClient(settings, prompt=prompt, report=_report)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    args.output.parent.mkdir(parents=True, exist_ok=True)
    removed = repair_tail(args.output)
    if removed:
        _warn(f"{args.output}: removed a torn last line ({removed} bytes) left by an interrupted run")
    summary = RunSummary()
    started = time.perf_counter()
    try:
        with args.output.open("a", encoding="utf-8") as out:
            asyncio.run(_run(args, client, summary, out))
    finally:
        elapsed = time.perf_counter() - started
        print(summary.render())
        print(f"elapsed: {elapsed:.1f}s")
        if summary.failures.get("unavailable"):
            _warn(
                "the judge server was down: once it is up (`python -m app.judge warmup`), run the same "
                "command with --retry-failed to judge those items again"
            )
        if args.summary_json:
            args.summary_json.write_text(json.dumps(summary.as_dict(), indent=2) + "\n")
    return EXIT_OK if summary.failed == 0 and summary.malformed == 0 else EXIT_PROBLEMS


# --- health / warmup -----------------------------------------------------------------------------


def _probe(base_url: str, timeout_s: float) -> tuple[bool, str]:
    url = health_url(base_url)
    try:
        status = httpx.get(url, timeout=timeout_s).status_code
    except httpx.HTTPError as exc:
        return False, f"unreachable: {url} ({type(exc).__name__}: {exc})"
    if status == 200:
        return True, f"healthy: {url}"
    return False, f"unhealthy: {url} answered HTTP {status}"


def cmd_health(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    healthy, message = _probe(settings.base_url, args.timeout)
    print(message)
    if healthy and args.verbose:
        try:
            response = httpx.get(settings.base_url.rstrip("/") + "/models", timeout=args.timeout)
            models = [m.get("id") for m in response.json().get("data", [])]
            print("models: " + (", ".join(map(str, models)) or "(none)"))
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            print(f"models: cannot list ({exc})")
    return EXIT_OK if healthy else EXIT_PROBLEMS


def cmd_warmup(args: argparse.Namespace) -> int:
    extra: dict[str, Any] = {"backoff_max_s": args.interval}
    if args.wait is not None:
        extra["cold_start_s"] = args.wait
    settings = settings_from_args(args, **extra)
    prompt = load_prompt(settings)
    try:
        client = JudgeClient(settings, prompt=prompt, report=_report)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    url = health_url(settings.base_url)
    print(f"waking the judge: {url}, waiting up to {settings.cold_start_s:g}s for it to answer", flush=True)
    started = time.monotonic()
    samples = prompt.test_data or [{"prompt": "Say hello.", "response": "Hello!"}]
    failed = 0
    with client:
        if not client.wake(interval_s=args.interval):
            print(f"warmup: the judge did not answer within {settings.cold_start_s:g}s (--wait)")
            return EXIT_PROBLEMS
        print(f"healthy: {url} after {time.monotonic() - started:.0f}s", flush=True)
        for i in range(args.requests):
            sample = samples[i % len(samples)]
            result = client.judge(str(sample["prompt"]), str(sample["response"]))
            detail = f"score={result.answer.score}" if result.answer else f"error={result.error}"
            took = f"{result.latency_ms:.0f} ms"
            print(f"warmup request {i + 1}/{args.requests}: {result.status} {took} {detail}", flush=True)
            failed += result.answer is None
    return EXIT_OK if failed == 0 else EXIT_PROBLEMS


# --- parser ---------------------------------------------------------------------------------------


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m app.judge",
        description="LLM judge: judge prompt/response pairs with an OpenAI-compatible server (vLLM).",
        epilog="Settings not given as flags come from JUDGE_* environment variables (docs/judge.md). " + HELP,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def server_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--base-url", help="OpenAI API base URL, e.g. http://judge:8000/v1 (JUDGE_BASE_URL)")

    def judge_flags(p: argparse.ArgumentParser) -> None:
        server_flags(p)
        p.add_argument("--model", help="served model name (JUDGE_MODEL; default: the prompt file's model)")
        p.add_argument(
            "--prompt", type=Path, help="prompt file (JUDGE_PROMPT_PATH; default: judge.prompt.yml)"
        )
        add_attempt_flags(p)

    run = sub.add_parser("run", help="judge every line of a JSONL file; re-running resumes")
    judge_flags(run)
    run.add_argument("--input", type=Path, required=True, help='JSONL: {"id", "prompt", "response"} per line')
    run.add_argument("--output", type=Path, required=True, help="JSONL of judgements (appended; resumable)")
    run.add_argument(
        "--concurrency", type=_positive_int, help="most judgements in flight (JUDGE_CONCURRENCY)"
    )
    run.add_argument(
        "--cold-start-wait",
        type=float,
        help="seconds to wait for a judge server that is down or starting (JUDGE_COLD_START_S; 0: none)",
    )
    run.add_argument(
        "--retry-failed", action="store_true", help="judge ids whose output lines all failed again"
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    run.add_argument("--summary-json", type=Path, help="also write the summary as JSON to this file")
    run.set_defaults(handler=cmd_run)

    health = sub.add_parser("health", help="GET /health of the judge server (exit 0 when healthy)")
    server_flags(health)
    health.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    health.add_argument("--verbose", action="store_true", help="also list the served models")
    health.set_defaults(handler=cmd_health)

    warmup = sub.add_parser(
        "warmup", help="wake the judge (scaled to zero or not), wait until it answers, send judge requests"
    )
    judge_flags(warmup)
    warmup.add_argument(
        "--wait",
        type=float,
        help="seconds to wait for the judge to come up (default JUDGE_COLD_START_S, 900)",
    )
    warmup.add_argument(
        "--interval", type=float, default=5.0, help="most seconds between health probes (default 5)"
    )
    warmup.add_argument(
        "--requests", type=_positive_int, default=1, help="judge requests to send (default 1)"
    )
    warmup.set_defaults(handler=cmd_warmup)

    compare_cli.add_parser(sub, _positive_int)
    eval_cli.add_parser(sub)
    calibrate_cli.add_parser(sub, _positive_int)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The CLI speaks to people on stdout/stderr; library records (warnings and up) use the apps' one format.
    logs.setup(level="WARNING")
    try:
        return args.handler(args)
    except UsageError as exc:
        _warn(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _warn("interrupted: the output is consistent; run the same command again to resume")
        return EXIT_INTERRUPTED
    except OSError as exc:  # e.g. the input or output file became unreadable/unwritable mid-run
        _warn(f"error: {exc}")
        return EXIT_USAGE
