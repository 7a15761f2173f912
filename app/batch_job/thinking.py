"""A prompt's thinking intent, translated for the job's model family before a single request is sent.

Prompt files stay model-neutral: they state how much the judge should think
(``modelParameters.thinkingLevel``: ``minimal``, ``low``, ``medium``, ``high`` or ``off``), and may keep
a Gemini 2.5 ``thinkingBudget`` in tokens. The model's row in the catalogue (``catalogue.py``) says how
its thinking is controlled, and this module turns the intent into ``generationConfig.thinkingConfig``
with exactly one control, never both (Vertex answers 400 to both at once, and to ``thinkingBudget`` on
Gemini 3):

- Gemini 3 (``control: level``): ``thinkingLevel``, the prompt's level if the model accepts it, else the
  nearest accepted one at most one step away along minimal < low < medium < high (a tie goes to the
  higher level). No level within a step is a configuration error naming the levels the model accepts.
  ``off``: Gemini 3 cannot turn thinking off; ``off`` becomes ``MINIMAL`` on a model that accepts it
  (Google: "close to no thinking"), and is refused on a model whose lowest level is ``LOW`` (3.7 and
  3.8 Flash), which thinks hundreds of tokens: silently turning "off" into that would be a surprise.
  No level in the prompt: the model's default level, sent explicitly. A ``thinkingBudget`` alone is
  refused with the fix (add a ``thinkingLevel``).
- Gemini 2.5 (``control: budget``): ``thinkingBudget``, the prompt's budget if it sets one (checked
  against the model's range), else its level translated to the row's budget for that level, ``off`` to
  0 where the model can turn thinking off. Neither on a model that thinks by default is refused, as
  before: its dynamic budget is unbounded by the prompt.

Thinking counts against ``maxOutputTokens``, so the room it needs is added to the prompt's
``maxTokens`` (the answer's room): the row's room for the level, the budget itself for a fixed budget,
the model's largest budget for ``-1``. ``usageMetadata.thoughtsTokenCount`` reports what was spent
(``python -m app.batch_job check`` prints it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.batch_job.catalogue import LEVELS, GeminiModel, Level

DYNAMIC = -1
LEVEL_KEY = "modelParameters.thinkingLevel"
BUDGET_KEY = "modelParameters.thinkingBudget"


class ThinkingConfigError(ValueError):
    """The prompt's thinking intent does not fit the job's model; the message names the key and the fix."""


@dataclass(frozen=True)
class ThinkingPlan:
    """What goes into the requests: ``generationConfig.thinkingConfig`` (None: none sent) and the tokens
    added to ``maxOutputTokens`` for the thinking."""

    config: dict[str, Any] | None
    room: int
    level: Level | None = None

    def describe(self) -> str:
        if self.config is None:
            return "no thinking"
        (key, value), *_ = self.config.items()
        return f"{key} {value}, {self.room} tokens of room"


def plan_thinking(model: GeminiModel, level: str | None, budget: int | None) -> ThinkingPlan:
    """The thinking config of ``model`` for a prompt's ``thinkingLevel`` and ``thinkingBudget``."""
    if model.thinking.control == "level":
        return _by_level(model, level, budget)
    return _by_budget(model, level, budget)


def nearest_level(accepted: tuple[Level, ...], wanted: Level) -> Level | None:
    """``wanted`` if accepted, else the accepted level one step away (the higher one on a tie)."""
    if wanted in accepted:
        return wanted
    index = LEVELS.index(wanted)
    for candidate in (index + 1, index - 1):
        if 0 <= candidate < len(LEVELS) and LEVELS[candidate] in accepted:
            return LEVELS[candidate]
    return None


def _by_level(model: GeminiModel, level: str | None, budget: int | None) -> ThinkingPlan:
    thinking = model.thinking
    accepted = ", ".join(thinking.levels)
    if level is None:
        if budget is not None:
            raise ThinkingConfigError(
                f"{BUDGET_KEY}: {budget} is Gemini 2.5's setting and {model.name} refuses it; add "
                f"{LEVEL_KEY} ({accepted}, or off) to the prompt (the budget stays for 2.5 models)"
            )
        assert thinking.default is not None
        chosen: Level = thinking.default
    elif level == "off":
        if thinking.levels[0] != "minimal":
            raise ThinkingConfigError(
                f"{LEVEL_KEY}: off: {model.name} cannot turn thinking off and its lowest level is "
                f"{thinking.levels[0]}; set {LEVEL_KEY} to one of {accepted}"
            )
        chosen = "minimal"
    else:
        found = nearest_level(thinking.levels, _as_level(level))
        if found is None:
            raise ThinkingConfigError(
                f"{LEVEL_KEY}: {level}: {model.name} accepts {accepted}, none of them within one step of "
                f"{level}; set {LEVEL_KEY} to one of them"
            )
        chosen = found
    return ThinkingPlan({"thinkingLevel": chosen.upper()}, thinking.room[chosen].tokens, chosen)


def _as_level(level: str) -> Level:
    for known in LEVELS:
        if level == known:
            return known
    raise ThinkingConfigError(f"{LEVEL_KEY}: {level!r} is not one of {', '.join(LEVELS)}, off")


def _by_budget(model: GeminiModel, level: str | None, budget: int | None) -> ThinkingPlan:
    thinking = model.thinking
    low, high = thinking.minimum, thinking.maximum
    assert low is not None
    assert high is not None
    if budget is not None:
        if budget == 0:
            if not thinking.can_turn_off:
                raise ThinkingConfigError(
                    f"{BUDGET_KEY}: {model.name} cannot turn thinking off; set {low}..{high} "
                    f"(or {LEVEL_KEY} minimal, which becomes {thinking.room['minimal'].tokens})"
                )
            return ThinkingPlan({"thinkingBudget": 0}, 0)
        if budget == DYNAMIC:
            return ThinkingPlan({"thinkingBudget": DYNAMIC}, high)
        if not low <= budget <= high:
            raise ThinkingConfigError(
                f"{BUDGET_KEY}: {budget} is outside {model.name}'s range {thinking.allowed()}"
            )
        return ThinkingPlan({"thinkingBudget": budget}, budget)
    if level is None:
        if not thinking.thinks_by_default:
            return ThinkingPlan(None, 0)
        off = f"{LEVEL_KEY} off or " if thinking.can_turn_off else ""
        raise ThinkingConfigError(
            f"{LEVEL_KEY}: not set, and {model.name} thinks by default with a dynamic budget the prompt's "
            f"maxTokens does not bound; set {off}a level (minimal, low, medium, high), or {BUDGET_KEY}"
        )
    if level == "off":
        if not thinking.can_turn_off:
            raise ThinkingConfigError(
                f"{LEVEL_KEY}: off: {model.name} cannot turn thinking off; set {LEVEL_KEY} minimal "
                f"(a budget of {thinking.room['minimal'].tokens})"
            )
        return ThinkingPlan({"thinkingBudget": 0}, 0)
    chosen = _as_level(level)
    tokens = thinking.room[chosen].tokens
    return ThinkingPlan({"thinkingBudget": tokens}, tokens, chosen)
