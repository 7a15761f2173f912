"""The base of every stack-config model, and the one place that turns validation failures into
messages that name the Pulumi config key (``llm-judge:aws.nodeGroup.minSize: ...``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

NAMESPACE = "llm-judge"


class ConfigModel(BaseModel):
    """Stack config section: camelCase keys in Pulumi.<stack>.yaml, snake_case in Python.

    ``extra="forbid"`` turns a typo into an error instead of a silently ignored key; ``strict``
    (applied to JSON input, see ``validate_section``) turns ``minSize: "3"`` into a type error
    instead of a guess. Models are frozen: components receive config, they never change it.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        strict=True,
        validate_default=True,
    )


def pattern(regex: re.Pattern[str], what: str) -> Callable[[str], str]:
    """An ``AfterValidator`` that accepts strings matching ``regex`` and names what is expected."""

    def check(value: str) -> str:
        if not regex.match(value):
            raise ValueError(f"must be {what}")
        return value

    return check


class ConfigProblems(ValueError):
    """Raised by a model validator that found one or more cross-field problems.

    Each problem is ``(relative_key, message)``; the key is relative to the model that raised it
    (``"minSize"``, ``"scaling.desiredSize"``), so the final message names the full config key.
    """

    def __init__(self, problems: Sequence[tuple[str, str]]):
        self.problems = list(problems)
        super().__init__("; ".join(f"{key}: {msg}" for key, msg in self.problems))


class Problems:
    """Collects cross-field problems inside a model validator, then raises them all at once."""

    def __init__(self) -> None:
        self._items: list[tuple[str, str]] = []

    def add(self, key: str, message: str) -> None:
        self._items.append((key, message))

    def check(self, ok: bool, key: str, message: str) -> None:
        if not ok:
            self.add(key, message)

    def raise_if_any(self) -> None:
        if self._items:
            raise ConfigProblems(self._items)


class ConfigError(Exception):
    """The stack config is invalid. ``problems`` holds one human-readable line per problem."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("invalid stack config:\n" + "\n".join(f"  - {p}" for p in self.problems))


def _key(loc: Iterable[Any], namespace: str) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif parts:
            parts.append(f".{item}")
        else:
            parts.append(str(item))
    return f"{namespace}:{''.join(parts)}" if parts else namespace


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def format_validation_error(exc: ValidationError, namespace: str = NAMESPACE) -> list[str]:
    """One line per problem, each naming the full config key."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigProblems):
            for rel, msg in cause.problems:
                lines.append(f"{_key((*loc, *rel.split('.')), namespace)}: {msg}")
            continue
        if err["type"] == "extra_forbidden":
            lines.append(f"{_key(loc, namespace)}: unknown key (check the spelling; keys are camelCase)")
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] not in ("missing",) and "input" in err:
            msg = f"{msg} (got {_shown(err['input'])})"
        lines.append(f"{_key(loc, namespace)}: {msg}")
    return lines
