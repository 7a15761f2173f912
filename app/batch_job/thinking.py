"""Gemini's thinking budget, checked against the model family before a single request is sent.

Gemini 2.5 models think before they answer, and the thinking tokens count against `maxOutputTokens`
(Vertex AI's "Thinking" guide; `usageMetadata.thoughtsTokenCount` reports what was spent). 2.5 Flash and
Flash-Lite think with a dynamic budget unless told otherwise, up to thousands of tokens on a judge prompt,
so a prompt's answer-sized cap of 512 or 768 ends most answers at `finishReason: MAX_TOKENS` with empty or
cut text. A prompt file therefore states its budget explicitly (`modelParameters.thinkingBudget`), and
this module turns it into `generationConfig.thinkingConfig` for the job's model, or refuses it with the
fix:

| family                | thinkingBudget                    | turn off | default without a budget |
| --------------------- | --------------------------------- | -------- | ------------------------ |
| gemini-2.5-pro        | 128..32768, or -1 (dynamic)       | no       | dynamic                  |
| gemini-2.5-flash      | 0..24576, or -1 (dynamic)         | 0        | dynamic                  |
| gemini-2.5-flash-lite | 0, 512..24576, or -1 (dynamic)    | 0        | off                      |
| gemini-2.0-*, 1.5-*   | none (no thinking; 0 is accepted) | -        | off                      |

`thinkingLevel` is Gemini 3's control and an error on 2.5, so it is never sent. A model outside the table
(a Gemini 3 model, a tuned endpoint) cannot be checked: its budget is sent as given and a warning says so.
A fixed budget must leave the answer at least `MIN_ANSWER_TOKENS` of `maxTokens`; a dynamic one (-1)
needs room for the family's largest budget.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from app import logs

log = logging.getLogger(__name__)

# The least room an answer keeps after the thinking budget: the judge prompts' answers (a reasoning
# sentence or two and a few labels) take about 60-250 tokens.
MIN_ANSWER_TOKENS = 256
DYNAMIC = -1


class ThinkingConfigError(ValueError):
    """The prompt's thinking budget does not fit the job's model; the message names the key and the fix."""


@dataclass(frozen=True)
class ThinkingFamily:
    name: str
    thinks: bool
    minimum: int = 0
    maximum: int = 0
    can_turn_off: bool = True
    thinks_by_default: bool = True

    def allowed(self) -> str:
        fixed = f"{self.minimum}..{self.maximum}"
        return f"{'0 (off), ' if self.can_turn_off else ''}{fixed} or -1 (dynamic)"


# Longest prefix wins: flash-lite before flash.
FAMILIES = (
    ThinkingFamily("gemini-2.5-flash-lite", True, 512, 24576, can_turn_off=True, thinks_by_default=False),
    ThinkingFamily("gemini-2.5-flash", True, 1, 24576, can_turn_off=True),
    ThinkingFamily("gemini-2.5-pro", True, 128, 32768, can_turn_off=False),
    ThinkingFamily("gemini-2.0", False),
    ThinkingFamily("gemini-1.5", False),
)
_PUBLISHER = re.compile(r"^(?:projects/[^/]+/locations/[^/]+/)?publishers/google/models/")


def model_name(model_id: str) -> str:
    """`publishers/google/models/gemini-2.5-flash-001` and `google/gemini-2.5-flash` -> the model name."""
    return _PUBLISHER.sub("", model_id).removeprefix("google/").removeprefix("models/")


def family_of(model_id: str) -> ThinkingFamily | None:
    name = model_name(model_id)
    matches = [f for f in FAMILIES if name == f.name or name.startswith(f.name + "-")]
    return max(matches, key=lambda f: len(f.name), default=None)


def thinking_config(model_id: str, budget: int | None, max_tokens: int | None) -> dict[str, Any] | None:
    """`generationConfig.thinkingConfig` for `model_id`, None to send none; ThinkingConfigError if the
    prompt's budget does not fit the model."""
    family = family_of(model_id)
    key = "modelParameters.thinkingBudget"
    if family is None:
        if budget is not None:
            logs.log(
                log,
                logging.WARNING,
                f"{model_id!r} is not a model family this job knows: {key} {budget} is sent unchecked",
                event="batch.thinking_unchecked",
                model=model_id,
                budget=budget,
            )
            return {"thinkingBudget": budget}
        return None
    if not family.thinks:
        if budget not in (None, 0):
            raise ThinkingConfigError(f"{key}: {model_id} does not think; remove the key or set it to 0")
        return None
    cap = f"maxTokens {max_tokens}" if max_tokens is not None else "no maxTokens"
    if budget is None:
        if not family.thinks_by_default:
            return None
        off = "0 (no thinking) or " if family.can_turn_off else ""
        raise ThinkingConfigError(
            f"{key}: not set, and {family.name} thinks by default with a dynamic budget that counts "
            f"against {cap}; set it to {off}a fixed budget ({family.allowed()}) "
            "and raise maxTokens by as much"
        )
    if budget == 0:
        if not family.can_turn_off:
            raise ThinkingConfigError(
                f"{key}: {family.name} cannot turn thinking off; set {family.minimum}..{family.maximum} "
                f"and raise maxTokens to at least the budget + {MIN_ANSWER_TOKENS}"
            )
        return {"thinkingBudget": 0}
    if budget == DYNAMIC:
        if max_tokens is not None and max_tokens < family.maximum + MIN_ANSWER_TOKENS:
            raise ThinkingConfigError(
                f"{key}: -1 (dynamic) may think up to {family.maximum} tokens, which {cap} cannot hold "
                f"with an answer; set a fixed budget, or maxTokens of at least "
                f"{family.maximum + MIN_ANSWER_TOKENS}"
            )
        return {"thinkingBudget": DYNAMIC}
    if not family.minimum <= budget <= family.maximum:
        raise ThinkingConfigError(f"{key}: {budget} is outside {family.name}'s range {family.allowed()}")
    if max_tokens is not None and max_tokens - budget < MIN_ANSWER_TOKENS:
        raise ThinkingConfigError(
            f"{key}: {budget} leaves the answer {max_tokens - budget} of {cap} (thinking counts against "
            f"it); raise maxTokens to at least {budget + MIN_ANSWER_TOKENS} or lower the budget"
        )
    return {"thinkingBudget": budget}
