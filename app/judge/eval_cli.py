"""``python -m app.judge eval PROMPT``: the prompt file's own test cases through the judge, checked by its
evaluators (app.judge.evaluate), with per-evaluator pass rates; exit 1 below ``--min-pass-rate``.

The judge is the OpenAI-compatible server of ``--base-url``/``--model`` (vLLM). ``llm`` evaluators ask a
grader: by default GitHub Models (``https://models.github.ai/inference``, the models ``gh models eval``
uses, with ``GITHUB_TOKEN``), or any OpenAI-compatible server (``--grader-base-url``, key in
``JUDGE_GRADER_API_KEY``; ``--grader-model`` replaces every evaluator's ``modelId``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.judge.exits import EXIT_OK, EXIT_PROBLEMS, UsageError

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

__all__ = ["GITHUB_MODELS_URL", "add_parser", "make_grader"]

GITHUB_MODELS_URL = "https://models.github.ai/inference"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "eval",
        help="run a prompt file's testData through the judge and apply its evaluators (gh models eval)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes: 0 every evaluator at or above --min-pass-rate; 1 one below it, or a judge or "
        "grader request failed; 2 usage or configuration error (prompt file, unknown variable, built-in "
        "evaluator, no grader key).",
    )
    p.add_argument("prompt", type=Path, help="the .prompt.yml file")
    p.add_argument(
        "--base-url", help="the judge's OpenAI API base URL, e.g. http://judge:8000/v1 (JUDGE_BASE_URL)"
    )
    p.add_argument("--model", help="the judge's served model name (JUDGE_MODEL; default: the prompt's model)")
    p.add_argument("--timeout", type=float, help="per-request timeout in seconds (JUDGE_TIMEOUT_S)")
    p.add_argument("--max-retries", type=int, help="retries per judge request (JUDGE_MAX_RETRIES)")
    p.add_argument(
        "--grader-base-url",
        default=os.environ.get("JUDGE_GRADER_BASE_URL", GITHUB_MODELS_URL),
        help="OpenAI-compatible server of the llm evaluators (JUDGE_GRADER_BASE_URL; default GitHub Models)",
    )
    p.add_argument(
        "--grader-model",
        default=os.environ.get("JUDGE_GRADER_MODEL"),
        help="grader model for every llm evaluator, instead of its modelId (JUDGE_GRADER_MODEL)",
    )
    p.add_argument(
        "--skip-evaluator", action="append", default=[], metavar="NAME", help="do not run this evaluator"
    )
    p.add_argument(
        "--min-pass-rate",
        type=float,
        default=100.0,
        metavar="PERCENT",
        help="lowest pass rate, in percent, each evaluator must reach (default 100: every case passes)",
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON (gh models eval --json)")
    p.add_argument("--json-file", type=Path, help="also write the JSON results to this file")
    p.set_defaults(handler=cmd_eval)


def _chat_message(message: dict[str, str]) -> ChatCompletionMessageParam:
    """An evaluator's message (system or user only: evaluate._llm_result builds them) in the SDK's type."""
    if message["role"] == "system":
        return {"role": "system", "content": message["content"]}
    return {"role": "user", "content": message["content"]}


def make_grader(base_url: str, api_key: str, timeout_s: float) -> Any:
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=2)

    def grade(model: str, messages: list[dict[str, str]]) -> str:
        completion = client.chat.completions.create(
            model=model, messages=[_chat_message(m) for m in messages], temperature=0.0
        )
        return completion.choices[0].message.content or ""

    return grade


def _grader_key(base_url: str) -> str | None:
    key = os.environ.get("JUDGE_GRADER_API_KEY")
    if key:
        return key
    if base_url.rstrip("/") == GITHUB_MODELS_URL:
        return os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    return "EMPTY"  # a self-hosted vLLM checks no key unless started with --api-key


def _print_case(case: Any, total: int) -> None:
    mark = "✓ PASSED" if case.passed else "✗ FAILED"
    print(f"test case {case.index + 1}/{total}: {mark}")
    width = max((len(r.name) for r in case.results), default=0)
    for r in case.results:
        print(f"  {r.name:<{width}}  {'✓' if r.passed else '✗'}  {r.score:.2f}  {r.details}")
    if not case.passed:
        preview = (
            case.model_response if len(case.model_response) <= 100 else case.model_response[:100] + "..."
        )
        print(f"  judge response: {preview or '(none: ' + str(case.judge_error) + ')'}")


def cmd_eval(args: argparse.Namespace) -> int:
    from app.judge.cli_settings import load_prompt, settings_from_args
    from app.judge.client import JudgeClient
    from app.judge.evaluate import EvalError, check_evaluators, run_eval

    if not 0.0 <= args.min_pass_rate <= 100.0:
        raise UsageError(f"--min-pass-rate {args.min_pass_rate}: give a percentage from 0 to 100")
    settings = settings_from_args(args, prompt_path=args.prompt)
    prompt = load_prompt(settings)
    try:
        evaluators = check_evaluators(prompt, args.skip_evaluator)
    except EvalError as exc:
        raise UsageError(f"cannot evaluate {args.prompt}:\n{exc}") from None
    grader = None
    if any(e.llm is not None for e in evaluators):
        key = _grader_key(args.grader_base_url)
        if not key:
            raise UsageError(
                "llm evaluators need a grader: set GITHUB_TOKEN for GitHub Models, or --grader-base-url and "
                "JUDGE_GRADER_API_KEY for another OpenAI-compatible server, or --skip-evaluator NAME"
            )
        grader = make_grader(args.grader_base_url, key, settings.timeout_s)
    try:
        client = JudgeClient(settings, prompt=prompt)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not args.json:
        print(f"Running evaluation: {prompt.name}")
        print(f"Model: {client.model}   judge: {settings.base_url}")
        print(f"Test cases: {len(prompt.test_data)}\n")
    with client:
        run = run_eval(
            prompt,
            lambda p, r: client.judge(p, r),
            grader,
            model=client.model,
            skip=args.skip_evaluator,
            grader_model=args.grader_model,
            progress=None if args.json else _print_case,
        )
    result = run.to_dict(args.min_pass_rate)
    if args.json_file:
        args.json_file.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        rates = run.evaluator_rates()
        width = max([len("all evaluators (test cases)"), *(len(n) for n in rates)])
        print("\nEvaluation summary")
        for name, (passed, total, rate) in rates.items():
            print(f"  {name:<{width}}  {passed:>3}/{total:<3}  {rate:6.2f}%")
        label = "all evaluators (test cases)"
        print(f"  {label:<{width}}  {run.passed_cases:>3}/{len(run.cases):<3}  {run.pass_rate():6.2f}%")
        if run.skipped:
            print(f"  skipped: {', '.join(run.skipped)}")
    below = run.below(args.min_pass_rate)
    if below:
        print(f"below --min-pass-rate {args.min_pass_rate:g}%: {', '.join(below)}")
    if run.errors:
        print(f"{run.errors} judge or grader request(s) failed: see the details above")
    if not below and not run.errors and not args.json:
        print(f"all evaluators at or above {args.min_pass_rate:g}%")
    return EXIT_PROBLEMS if below or run.errors else EXIT_OK
