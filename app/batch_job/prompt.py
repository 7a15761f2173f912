"""The judge prompt as the batch job uses it: rendering, the Vertex request builder, the answer model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from app.batch_job.request_lines import GenerationSettings, MessageLike, RequestLineBuilder
from app.batch_job.settings import DEFAULT_MODEL_ID
from app.batch_job.thinking import thinking_config
from app.batch_job.vertex_schema import to_vertex_schema
from app.judge.prompt_file import PromptFile

if TYPE_CHECKING:
    from app.judge.results import Answer


class RenderedMessage(NamedTuple):
    role: str
    content: str


class TemplateRenderer:
    """PromptFile.render, split once into literal pieces and placeholders so a million records do not
    re-scan the (long, constant) system message each time.

    The pieces come from PromptFile.render itself (called once with sentinel values), and each value goes
    through PromptFile.neutralise, so the output is the same text, one pass, no value substituted twice;
    test_prompt.py checks it against PromptFile.render on hostile values.
    """

    def __init__(self, file: PromptFile) -> None:
        self.file = file
        names = sorted(file.variables())
        sentinels = {name: f"\x00{index}\x00" for index, name in enumerate(names)}
        self._fallback = any("\x00" in m.content for m in file.messages)
        split = re.compile("(" + "|".join(re.escape(s) for s in sentinels.values()) + ")") if names else None
        by_sentinel = {s: name for name, s in sentinels.items()}
        # Each message becomes a str.format template: literal braces doubled, placeholders as {name}.
        self._templates: list[tuple[str, str | None, str]] = []
        for message in file.render(sentinels):
            pieces = split.split(message.content) if split else [message.content]
            template = "".join(
                "{" + by_sentinel[piece] + "}"
                if piece in by_sentinel
                else piece.replace("{", "{{").replace("}", "}}")
                for piece in pieces
            )
            constant = None if any(piece in by_sentinel for piece in pieces) else message.content
            self._templates.append((message.role, constant, template))

    def render(self, variables: Mapping[str, str]) -> list[RenderedMessage]:
        if self._fallback:
            return [RenderedMessage(m.role, m.content) for m in self.file.render(variables)]
        neutralise = self.file.neutralise
        # neutralise only rewrites tags, and every tag starts with "<": text without one is returned as is.
        safe = {name: (value if "<" not in value else neutralise(value)) for name, value in variables.items()}
        return [
            RenderedMessage(role, constant if constant is not None else template.format_map(safe))
            for role, constant, template in self._templates
        ]


class JudgePrompt:
    """A prompt file as the batch job sends it to `model_id` (a Vertex model: the thinking budget is
    checked against it when the Vertex request builder is first needed; the vLLM path never needs it)."""

    def __init__(self, path: Path, file: PromptFile, sha256: str, model_id: str = DEFAULT_MODEL_ID) -> None:
        self.path = path
        self.file = file
        self.sha256 = sha256
        self.model_id = model_id
        self.json_schema: dict[str, Any] = file.response_schema()
        self.vertex_schema = to_vertex_schema(self.json_schema)
        self.renderer = TemplateRenderer(file)

    @cached_property
    def generation(self) -> GenerationSettings:
        params = self.file.model_parameters
        return GenerationSettings(
            temperature=params.temperature,
            max_output_tokens=params.max_tokens,
            top_p=params.top_p,
            thinking=thinking_config(self.model_id, params.thinking_budget, params.max_tokens),
        )

    @cached_property
    def builder(self) -> RequestLineBuilder:
        return RequestLineBuilder(self.vertex_schema, self.generation)

    @classmethod
    def load(cls, path: Path | str, model_id: str = DEFAULT_MODEL_ID) -> JudgePrompt:
        path = Path(path)
        return cls(path, PromptFile.load(path), hashlib.sha256(path.read_bytes()).hexdigest(), model_id)

    def render(self, record: Any) -> Sequence[MessageLike]:
        return self.renderer.render({"prompt": record.prompt, "response": record.response})

    @cached_property
    def answer_model(self) -> type[Answer]:
        from app.judge.results import answer_model_for

        return answer_model_for(self.file)

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "name": self.file.name}


def load_judge_prompt(path: Path | str, model_id: str = DEFAULT_MODEL_ID) -> JudgePrompt:
    return JudgePrompt.load(path, model_id)
