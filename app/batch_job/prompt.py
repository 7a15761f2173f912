"""The judge prompt as the batch job uses it: rendering, the Vertex request builder, the answer model."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from app.batch_job.request_lines import GenerationSettings, MessageLike, RequestLineBuilder
from app.batch_job.vertex_schema import to_vertex_schema
from app.judge.prompt_file import PromptFile


class JudgePrompt:
    def __init__(self, path: Path, file: PromptFile, sha256: str) -> None:
        self.path = path
        self.file = file
        self.sha256 = sha256
        self.json_schema: dict[str, Any] = file.response_schema()
        self.vertex_schema = to_vertex_schema(self.json_schema)
        params = file.model_parameters
        self.generation = GenerationSettings(
            temperature=params.temperature, max_output_tokens=params.max_tokens, top_p=params.top_p
        )
        self.builder = RequestLineBuilder(self.vertex_schema, self.generation)

    @classmethod
    def load(cls, path: Path | str) -> JudgePrompt:
        path = Path(path)
        return cls(path, PromptFile.load(path), hashlib.sha256(path.read_bytes()).hexdigest())

    def render(self, record: Any) -> Sequence[MessageLike]:
        return self.file.render({"prompt": record.prompt, "response": record.response})

    @cached_property
    def answer_model(self) -> type:
        from app.judge.results import answer_model_for

        return answer_model_for(self.file)

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "name": self.file.name}


def load_judge_prompt(path: Path | str) -> JudgePrompt:
    return JudgePrompt.load(path)
