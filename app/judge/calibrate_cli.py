"""``python -m app.judge calibrate --gold FILE``: how far a judge agrees with people, on a gold set.

Every item of the gold set (``prompts/gold/<prompt stem>.jsonl``, app.judge.gold) is judged once, online;
then, per answer field: n, accuracy, Cohen's kappa with a bootstrap 95 % interval, the quadratic weighted
kappa for ordered fields (severity, scores), the confusion matrix, precision and recall of ``unsafe`` and
of each category, and the people's own kappa on the items two of them labelled (the ceiling).

Backends: ``openai`` (default) judges through the judge client, against any OpenAI-compatible server
(vLLM; ``--base-url``, ``--model``, ``--concurrency`` as in ``run``); ``vertex`` sends one
``generateContent`` per item to Vertex AI with exactly the nightly batch job's request (its
generationConfig, system instruction and labels: app.judge.calibrate_vertex), with the batch job's
settings (``GCP_PROJECT``/``--project``, ``GCP_LOCATION``/``--location``, ``MODEL_ID``/``--model``,
``VERTEX_ATTEMPTS``/``--max-retries`` N for N + 1 attempts, ``--timeout`` per attempt). ``--deadline``,
``--cold-start-wait`` and ``--base-url`` are the judge client's and are refused with ``vertex``.

The model-change gate: ``--against PREVIOUS.json`` (the ``--json`` of the current model on the same gold
set) exits 1 when kappa on the headline field (verdict; overall for the six-criteria prompt, weighted)
drops by more than ``--max-kappa-drop`` (default 0.05), or when unsafe recall drops at all.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from app.judge.exits import EXIT_OK, EXIT_PROBLEMS, UsageError

__all__ = ["add_parser", "cmd_calibrate"]


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError("a kappa difference from 0 to 2")
    return value


def add_parser(sub: Any, positive_int: Any) -> None:
    from app.judge.calibrate import DEFAULT_MAX_KAPPA_DROP
    from app.judge.cli_settings import add_attempt_flags
    from app.report.stats import BOOTSTRAP_ROUNDS

    p = sub.add_parser(
        "calibrate",
        help="how far the judge agrees with people: judge a gold set, kappa per field, the model-change gate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes: 0 every item judged (and the gate passed); 1 an item could not be judged, or the "
        "gate failed; 2 usage or configuration error (gold set, prompt file, --against of another gold set).",
    )
    p.add_argument("--gold", type=Path, required=True, help="the gold set, prompts/gold/<prompt stem>.jsonl")
    p.add_argument(
        "--prompt", type=Path, help="prompt file (default: the gold set's, prompts/<stem>.prompt.yml)"
    )
    p.add_argument(
        "--backend",
        choices=["openai", "vertex"],
        default="openai",
        help="openai (default): the judge client; vertex: generateContent with the batch job's request",
    )
    p.add_argument("--base-url", help="OpenAI API base URL, e.g. http://judge:8000/v1 (JUDGE_BASE_URL)")
    p.add_argument(
        "--model",
        help="openai: served model name (JUDGE_MODEL; default: the prompt's model); vertex: the Vertex model "
        "(MODEL_ID, e.g. publishers/google/models/gemini-3.5-flash-lite)",
    )
    p.add_argument("--project", help="vertex: GCP project (GCP_PROJECT)")
    p.add_argument("--location", help="vertex: Vertex AI location (GCP_LOCATION, default global)")
    p.add_argument("--concurrency", type=positive_int, help="most judgements in flight (JUDGE_CONCURRENCY)")
    add_attempt_flags(p)
    p.add_argument(
        "--cold-start-wait",
        type=float,
        help="seconds to wait for a judge that is starting (JUDGE_COLD_START_S)",
    )
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON to this file")
    p.add_argument(
        "--against", type=Path, metavar="PREVIOUS.json", help="the --json of the current model: the gate"
    )
    p.add_argument(
        "--max-kappa-drop",
        type=_fraction,
        default=DEFAULT_MAX_KAPPA_DROP,
        help=f"largest drop of the headline kappa --against allows (default {DEFAULT_MAX_KAPPA_DROP})",
    )
    p.add_argument(
        "--rounds",
        type=positive_int,
        default=BOOTSTRAP_ROUNDS,
        help=f"bootstrap rounds (default {BOOTSTRAP_ROUNDS})",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed: the same seed, the same intervals")
    p.set_defaults(handler=cmd_calibrate)


def _previous(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"--against {path}: cannot read the previous figures ({exc})") from None
    if not isinstance(data, dict) or "headline" not in data or "gold" not in data:
        raise UsageError(f"--against {path}: not the --json of python -m app.judge calibrate")
    return data


VERTEX_BACKEND = "app.batch_job.calibrate_vertex"
# Most --max-retries on Vertex: VERTEX_ATTEMPTS is 1 to 10 attempts.
VERTEX_MAX_RETRIES = 9
# Flags the vertex backend has no use for, and what to do instead: refused, never ignored.
_NOT_ON_VERTEX = {
    "deadline": "google-genai retries inside one call and cannot stop at a deadline; bound each item with "
    "--max-retries and --timeout instead (at most (retries + 1) x timeout, plus back-off of 1, 2, 4... s)",
    "cold_start_wait": "Vertex AI does not scale from zero",
    "base_url": "set VERTEX_BASE_URL for another Vertex endpoint",
}


def _vertex_flags(args: argparse.Namespace) -> tuple[int | None, float | None]:
    """--max-retries and --timeout for the vertex backend; a flag it cannot honour is a usage error."""
    for name, instead in _NOT_ON_VERTEX.items():
        if getattr(args, name, None) is not None:
            flag = "--" + name.replace("_", "-")
            raise UsageError(f"{flag} is not supported with --backend vertex: {instead}")
    retries = args.max_retries
    if retries is not None and not 0 <= retries <= VERTEX_MAX_RETRIES:
        raise UsageError(
            f"--max-retries {retries} with --backend vertex: 0 to {VERTEX_MAX_RETRIES} (VERTEX_ATTEMPTS is "
            "1 to 10 attempts)"
        )
    return retries, args.timeout


def _judge_on_vertex(
    args: argparse.Namespace, gold: Any, prompt_path: Path, concurrency: int
) -> tuple[Any, Any]:
    """The vertex backend, imported by name: it is the batch job's code (its request builder, google-genai),
    which the judge image does not carry."""
    retries, timeout_s = _vertex_flags(args)
    try:
        backend = importlib.import_module(VERTEX_BACKEND)
    except ImportError as exc:
        raise UsageError(
            f"--backend vertex needs the batch job's code and google-genai ({exc}): run it in the batch-job "
            "image (--entrypoint python ... -m app.judge calibrate) or from a checkout"
        ) from None
    try:
        return backend.judge_gold_on_vertex(
            gold,
            prompt_path,
            concurrency,
            project=args.project,
            location=args.location,
            model=args.model,
            max_retries=retries,
            timeout_s=timeout_s,
        )
    except backend.VertexSetupError as exc:
        raise UsageError(f"--backend vertex: {exc}") from None


def cmd_calibrate(args: argparse.Namespace) -> int:
    from app.judge.calibrate import GateError, calibration, check_comparable, gate, judge_gold, render_text
    from app.judge.cli_settings import load_prompt, settings_from_args
    from app.judge.client import AsyncJudgeClient
    from app.judge.gold import GoldError, default_prompt_for, load_gold

    prompt_path = args.prompt or default_prompt_for(args.gold)
    settings = settings_from_args(args, prompt_path=prompt_path)
    prompt = load_prompt(settings)
    previous = _previous(args.against)
    try:
        gold = load_gold(args.gold, prompt)
    except (GoldError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    if previous is not None:
        try:
            check_comparable(previous, gold.describe())  # before a single request is sent
        except GateError as exc:
            raise UsageError(f"--against {args.against}: {exc}") from None
    if args.backend == "vertex":
        judgements, judge = _judge_on_vertex(args, gold, Path(prompt_path), settings.concurrency)
    else:
        try:
            client = AsyncJudgeClient(settings, prompt=prompt)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

        async def judged() -> Any:
            async with client:
                return await judge_gold(client, gold, settings.concurrency)

        judgements = asyncio.run(judged())
        judge = {"backend": "openai", "model": client.model, "base_url": settings.base_url}
    result = calibration(
        gold,
        judgements,
        judge=judge,
        prompt={
            "path": str(prompt_path),
            "name": prompt.name,
            "sha256": hashlib.sha256(Path(prompt_path).read_bytes()).hexdigest(),
        },
        rounds=args.rounds,
        seed=args.seed,
    )
    print(render_text(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nfigures -> {args.json}")
    code = EXIT_OK
    if result["failed"]:
        print(
            f"\n{len(result['failed_ids'])} item(s) not judged and not scored: "
            + ", ".join(result["failed_ids"][:10]),
            file=sys.stderr,
        )
        code = EXIT_PROBLEMS
    if previous is not None:
        try:
            problems, notes = gate(result, previous, args.max_kappa_drop)
        except GateError as exc:
            raise UsageError(f"--against {args.against}: {exc}") from None
        print(f"\ngate against {args.against}:")
        for note in notes:
            print(f"  ok: {note}")
        for problem in problems:
            print(f"  FAILED: {problem}")
        if problems:
            code = EXIT_PROBLEMS
    return code
