"""What every judge subcommand reads from its flags: the judge settings (flags over ``JUDGE_*``) and the
prompt file they name. A bad value is a ``UsageError`` (exit 2) with one line, never a traceback."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from app.judge.exits import UsageError
from app.judge.prompt_file import PromptFile, PromptFileError
from app.judge.settings import JudgeSettings


def settings_from_args(args: argparse.Namespace, **extra: Any) -> JudgeSettings:
    given = {
        "base_url": getattr(args, "base_url", None),
        "model": getattr(args, "model", None),
        "prompt_path": getattr(args, "prompt", None),
        "concurrency": getattr(args, "concurrency", None),
        "timeout_s": getattr(args, "timeout", None),
        "deadline_s": getattr(args, "deadline", None),
        "cold_start_s": getattr(args, "cold_start_wait", None),
        "max_retries": getattr(args, "max_retries", None),
        **extra,
    }
    try:
        return JudgeSettings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"invalid settings: {problems}") from None


def load_prompt(settings: JudgeSettings) -> PromptFile:
    try:
        return PromptFile.load(settings.prompt_path)
    except PromptFileError as exc:
        raise UsageError(str(exc)) from None


def add_attempt_flags(p: argparse.ArgumentParser) -> None:
    """How long and how hard each judgement is tried (``JUDGE_TIMEOUT_S``, ``JUDGE_MAX_RETRIES``,
    ``JUDGE_DEADLINE_S``): the flags of every command that judges through the client."""
    p.add_argument("--timeout", type=float, help="per-attempt timeout in seconds (JUDGE_TIMEOUT_S)")
    p.add_argument("--max-retries", type=int, help="retries per judgement (JUDGE_MAX_RETRIES)")
    p.add_argument(
        "--deadline", type=float, help="seconds per judgement over all its attempts (JUDGE_DEADLINE_S)"
    )
