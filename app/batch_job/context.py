"""What every subcommand works with: settings, a storage client, and lazily the prompt and Vertex."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, TextIO

from google.cloud import storage

from app.batch_job.layout import DayLayout
from app.batch_job.settings import BatchJobSettings

if TYPE_CHECKING:
    from app.batch_job.prompt import JudgePrompt
    from app.batch_job.vertex import VertexJobs


@dataclass
class Context:
    settings: BatchJobSettings
    storage: storage.Client
    out: TextIO = field(default_factory=lambda: sys.stdout)
    sleep: Callable[[float], None] = time.sleep

    def layout(self, day: dt.date) -> DayLayout:
        return DayLayout(self.settings.output_root, day)

    @cached_property
    def prompt(self) -> JudgePrompt:
        from app.batch_job.prompt import load_judge_prompt

        settings = self.settings
        return load_judge_prompt(settings.prompt_path, settings.model_id, settings.stack_label)

    @cached_property
    def vertex(self) -> VertexJobs:
        # Created on first use only: --dry-run and collect never need Vertex AI or its credentials.
        from app.batch_job.vertex import VertexJobs, make_client

        settings = self.settings
        return VertexJobs(
            make_client(settings), settings.model_id, settings.job_name_prefix, settings.vertex_attempts
        )

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)


def make_storage_client(settings: BatchJobSettings) -> storage.Client:
    """ADC in production; with STORAGE_EMULATOR_HOST set the library uses anonymous credentials."""
    return storage.Client(project=settings.gcp_project or None)
