"""The judge prompt as the batch job uses it: rendering, the Vertex request builder, the answer model."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from app import logs
from app.batch_job.catalogue import GeminiModel, ModelChoiceError, lookup
from app.batch_job.request_lines import (
    GenerationSettings,
    MessageLike,
    RequestLineBuilder,
    request_labels,
)
from app.batch_job.settings import DEFAULT_MODEL_ID, DEFAULT_STACK_LABEL
from app.batch_job.thinking import ThinkingPlan, plan_thinking
from app.batch_job.vertex_schema import to_vertex_schema
from app.judge.prompt_file import ModelParameters, PromptFile

log = logging.getLogger(__name__)

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
    """A prompt file as the batch job sends it to `model_id` (a Vertex model: the prompt's thinking
    intent and sampling are translated for it, from its catalogue row, when the Vertex request builder
    is first needed; the vLLM path never needs it). `stack_label` is the one billing label every
    request carries (request_lines.request_labels)."""

    def __init__(
        self,
        path: Path,
        file: PromptFile,
        sha256: str,
        model_id: str = DEFAULT_MODEL_ID,
        stack_label: str = DEFAULT_STACK_LABEL,
    ) -> None:
        self.path = path
        self.file = file
        self.sha256 = sha256
        self.model_id = model_id
        self.stack_label = stack_label
        self.json_schema: dict[str, Any] = file.response_schema()
        self.vertex_schema = to_vertex_schema(self.json_schema)
        self.renderer = TemplateRenderer(file)

    @cached_property
    def model(self) -> GeminiModel:
        model = lookup(self.model_id)
        if model is None:
            raise ModelChoiceError(
                f"MODEL_ID {self.model_id} is not in the model catalogue (app/batch_job/gemini_models.yaml): "
                "its thinking control and sampling are unknown, so no request can be built for it; add "
                "its row with the page it comes from, or choose a model listed there"
            )
        return model

    @cached_property
    def thinking(self) -> ThinkingPlan:
        params = self.file.model_parameters
        return plan_thinking(self.model, params.thinking_level, params.thinking_budget)

    @cached_property
    def generation(self) -> GenerationSettings:
        return generation_settings(self.model, self.file.model_parameters, self.thinking)

    @cached_property
    def builder(self) -> RequestLineBuilder:
        return RequestLineBuilder(self.vertex_schema, self.generation, request_labels(self.stack_label))

    @classmethod
    def load(
        cls, path: Path | str, model_id: str = DEFAULT_MODEL_ID, stack_label: str = DEFAULT_STACK_LABEL
    ) -> JudgePrompt:
        path = Path(path)
        file = PromptFile.load(path)  # first: a missing or broken file is a PromptFileError naming it
        return cls(path, file, hashlib.sha256(path.read_bytes()).hexdigest(), model_id, stack_label)

    def render(self, record: Any) -> Sequence[MessageLike]:
        return self.renderer.render({"prompt": record.prompt, "response": record.response})

    @cached_property
    def answer_model(self) -> type[Answer]:
        from app.judge.results import answer_model_for

        return answer_model_for(self.file)

    def describe(self) -> dict[str, Any]:
        return {"path": str(self.path), "sha256": self.sha256, "name": self.file.name}


def load_judge_prompt(
    path: Path | str, model_id: str = DEFAULT_MODEL_ID, stack_label: str = DEFAULT_STACK_LABEL
) -> JudgePrompt:
    return JudgePrompt.load(path, model_id, stack_label)


def generation_settings(
    model: GeminiModel, params: ModelParameters, thinking: ThinkingPlan
) -> GenerationSettings:
    """The prompt's model parameters as `model` takes them: the thinking room added to `maxTokens` (the
    answer's room), `temperature` only where the model honours it (Gemini 3: Google says keep the
    default, and 3.5 Flash-Lite ignores a custom value; the prompt's value still goes to vLLM)."""
    temperature = params.temperature
    if temperature is not None and model.temperature != "honoured":
        logs.log(
            log,
            logging.WARNING,
            f"modelParameters.temperature {temperature} is not sent to {model.name} "
            f"(its catalogue row: temperature {model.temperature}); the self-hosted judge still gets it",
            event="batch.temperature_not_sent",
            model=model.name,
            temperature=temperature,
        )
        temperature = None
    max_tokens = params.max_tokens
    return GenerationSettings(
        temperature=temperature,
        max_output_tokens=None if max_tokens is None else max_tokens + thinking.room,
        top_p=params.top_p,
        thinking=thinking.config,
    )
