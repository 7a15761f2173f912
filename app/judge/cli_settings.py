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
