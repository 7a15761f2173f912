"""The Gemini model catalogue: the rows of ``gemini_models.yaml`` beside this module, typed and checked.

This is the one reader of that file. The stack's config check (``make plan``), the request builder
(``thinking.py``, ``prompt.py``), the canary and the tests' fake Vertex AI read the catalogue through
this module; nothing else holds a copy of a model's dates, locations or thinking control.

Stable interface (other modules and helpers build on it):

- ``models()``: every row, in the file's order;
- ``lookup(model_id)``: the row of ``publishers/google/models/x``, ``google/x`` or ``x`` (also with a
  ``projects/P/locations/L/`` prefix), None when the catalogue has no row for it;
- on each ``GeminiModel``: ``name``, ``release``, ``retirement`` (None: no date announced),
  ``retirement_announced`` (False: the date is "no earlier than"), ``source`` (the URL of the page
  the dates come from) and ``read_on``.

A row is checked when the file is loaded (dates in order, a source URL, thinking levels known, a room
for every level the model accepts), so a wrong row fails every test that reads the catalogue instead
of a night's job.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "CATALOGUE_PATH",
    "LEVELS",
    "CatalogueError",
    "GeminiModel",
    "Level",
    "ModelChoiceError",
    "Room",
    "Thinking",
    "choice_problems",
    "lookup",
    "model_name",
    "models",
    "usable",
]

CATALOGUE_PATH = Path(__file__).with_name("gemini_models.yaml")

Level = Literal["minimal", "low", "medium", "high"]
# Ordered from least to most thinking: "nearest" is measured along this order.
LEVELS: tuple[Level, ...] = ("minimal", "low", "medium", "high")
Lifecycle = Literal["unreleased", "current", "closed-to-new", "retired"]

_URL = re.compile(r"^https://[^\s]+$")
_PUBLISHER = re.compile(r"^(?:projects/[^/]+/locations/[^/]+/)?publishers/google/models/")


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError(f"must be an https:// URL, got {value!r}")
    return value


Url = Annotated[str, AfterValidator(_url)]


class CatalogueError(ValueError):
    """gemini_models.yaml does not hold valid rows; the message names the row and the field."""


class ModelChoiceError(ValueError):
    """The chosen model or location will not work (or is not in the catalogue); the message names the
    variable and the choices that will."""


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)


class Room(_Row):
    """The tokens reserved for thinking at one level, and what that figure rests on."""

    tokens: int = Field(ge=0, le=65536)
    basis: Literal["published", "third-party", "analogy", "measured"]
    evidence: str = Field(min_length=1)
    source: Url


class Thinking(_Row):
    """How a model's thinking is controlled: Gemini 3's levels, or Gemini 2.5's token budget."""

    control: Literal["level", "budget"]
    levels: tuple[Level, ...] = ()
    default: Level | None = None
    minimum: int | None = Field(default=None, ge=0)
    maximum: int | None = Field(default=None, ge=1)
    can_turn_off: bool
    thinks_by_default: bool = True
    room: dict[Level, Room]

    @model_validator(mode="after")
    def _consistent(self) -> Thinking:
        if self.control == "level":
            if not self.levels:
                raise ValueError("levels: a model controlled by level accepts at least one")
            if list(self.levels) != sorted(self.levels, key=LEVELS.index):
                raise ValueError(f"levels: list them in the order {', '.join(LEVELS)}")
            if self.default not in self.levels:
                raise ValueError(f"default: {self.default!r} is not one of the levels {list(self.levels)}")
            missing = [level for level in self.levels if level not in self.room]
            if missing:
                raise ValueError(f"room: no room for {missing}")
            if self.minimum is not None or self.maximum is not None:
                raise ValueError("minimum/maximum are budgets: a level-controlled model has none")
        else:
            if self.minimum is None or self.maximum is None or self.minimum > self.maximum:
                raise ValueError("minimum and maximum: a budget model needs both, minimum <= maximum")
            if self.levels or self.default is not None:
                raise ValueError("levels/default are Gemini 3's: a budget model has none")
            missing = [level for level in LEVELS if level not in self.room]
            if missing:
                raise ValueError(f"room: a budget model translates every level; none for {missing}")
            for level, room in self.room.items():
                off = room.tokens == 0 and self.can_turn_off
                if not off and not self.minimum <= room.tokens <= self.maximum:
                    raise ValueError(
                        f"room.{level}: {room.tokens} is not a budget this model accepts "
                        f"({'0 or ' if self.can_turn_off else ''}{self.minimum}..{self.maximum})"
                    )
        return self

    def allowed(self) -> str:
        """What a prompt may ask of this model, for error messages."""
        if self.control == "level":
            off = ", off" if self.can_turn_off or self.levels[0] == "minimal" else ""
            return ", ".join(self.levels) + off
        zero = "0 (off), " if self.can_turn_off else ""
        off = ", off" if self.can_turn_off else ""
        return (
            f"thinkingBudget {zero}{self.minimum}..{self.maximum} or -1 (dynamic), "
            f"or thinkingLevel {', '.join(LEVELS)}{off}"
        )


class GeminiModel(_Row):
    """One catalogue row: a Gemini model id on Vertex AI and what the judge needs to know about it."""

    name: str = Field(pattern=r"^gemini-[0-9][a-z0-9.-]*$")
    release: dt.date
    retirement: dt.date | None
    retirement_announced: bool
    """True: Google announced the date; False: "no earlier than" (or none when ``retirement`` is None)."""
    new_access_blocked: dt.date | None = None
    """From this day a project that never used the model is refused (HTTP 400 FAILED_PRECONDITION)."""
    locations: tuple[str, ...] = Field(min_length=1)
    batch: bool
    temperature: Literal["honoured", "keep-default", "ignored"]
    """honoured: sent as the prompt sets it; keep-default: Google says keep the default (1.0);
    ignored: the model ignores a custom value. Only ``honoured`` models are sent one."""
    thinking: Thinking
    source: Url
    also_from: tuple[Url, ...] = ()
    read_on: dt.date
    notes: str = ""

    @model_validator(mode="after")
    def _dates(self) -> GeminiModel:
        if self.retirement is not None and self.retirement <= self.release:
            raise ValueError(f"retirement {self.retirement} is not after release {self.release}")
        if self.retirement is None and self.retirement_announced:
            raise ValueError("retirementAnnounced: true needs a retirement date")
        blocked = self.new_access_blocked
        if blocked is not None and (self.retirement is None or not self.release < blocked < self.retirement):
            raise ValueError("newAccessBlocked must fall between release and retirement")
        if self.read_on < self.release:
            raise ValueError(f"readOn {self.read_on} is before the release {self.release}")
        if len(set(self.locations)) != len(self.locations):
            raise ValueError("locations: listed twice")
        return self

    def lifecycle(self, today: dt.date) -> Lifecycle:
        """``retired`` past an announced retirement, ``closed-to-new`` once new access is blocked,
        ``unreleased`` before its release."""
        if today < self.release:
            return "unreleased"
        if self.retirement_announced and self.retirement is not None and today > self.retirement:
            return "retired"
        if self.new_access_blocked is not None and today >= self.new_access_blocked:
            return "closed-to-new"
        return "current"

    def serves(self, location: str) -> bool:
        return location in self.locations

    def retirement_text(self) -> str:
        if self.retirement is None:
            return "no retirement date announced"
        return f"retires {self.retirement}" + ("" if self.retirement_announced else " or later")


def model_name(model_id: str) -> str:
    """``publishers/google/models/gemini-x``, ``google/gemini-x`` or ``gemini-x`` -> ``gemini-x``."""
    return _PUBLISHER.sub("", model_id).removeprefix("google/").removeprefix("models/")


def _load(path: Path) -> tuple[GeminiModel, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = data.get("models") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise CatalogueError(f"{path}: needs a non-empty `models:` list")
    found: list[GeminiModel] = []
    for index, row in enumerate(rows):
        name = row.get("name", "?") if isinstance(row, dict) else "?"
        try:
            found.append(GeminiModel.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "<row>"
            message = first["msg"].removeprefix("Value error, ")
            raise CatalogueError(f"{path}: models[{index}] ({name}): {where}: {message}") from None
    names = [model.name for model in found]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise CatalogueError(f"{path}: a model is listed twice: {duplicates}")
    return tuple(found)


@cache
def _rows() -> tuple[GeminiModel, ...]:
    return _load(CATALOGUE_PATH)


def models() -> list[GeminiModel]:
    """Every row of the catalogue, in the file's order."""
    return list(_rows())


def lookup(model_id: str) -> GeminiModel | None:
    name = model_name(model_id)
    return next((model for model in _rows() if model.name == name), None)


def usable(today: dt.date, *, location: str | None = None, batch: bool = True) -> list[GeminiModel]:
    """The models that will work for a new project on ``today`` (in ``location``, for batch jobs)."""
    return [
        model
        for model in _rows()
        if model.lifecycle(today) == "current"
        and (location is None or model.serves(location))
        and (model.batch or not batch)
    ]


def choice_problems(
    model_id: str,
    location: str,
    today: dt.date,
    *,
    model_key: str = "MODEL_ID",
    location_key: str = "GCP_LOCATION",
) -> list[tuple[str, str]]:
    """``(key, message)`` for each reason the catalogue says ``model_id`` in ``location`` will not run
    batch jobs for a new project on ``today``; each message names the choices that will."""
    model = lookup(model_id)
    here = [m.name for m in usable(today, location=location)]
    works_here = f"models that work in {location}: {', '.join(here)}" if here else _elsewhere(today, location)
    if model is None:
        known = ", ".join(m.name for m in usable(today))
        return [
            (
                model_key,
                f"{model_id} is not in the model catalogue (app/batch_job/gemini_models.yaml): choose one "
                f"of {known}, or add its row with the page it comes from",
            )
        ]
    found: list[tuple[str, str]] = []
    state = model.lifecycle(today)
    if state != "current":
        if state == "retired":
            what = f"retired since {model.retirement}"
        elif state == "unreleased":
            what = f"not released until {model.release}"
        else:
            what = (
                f"closed to projects that never used it since {model.new_access_blocked} "
                f"(it retires {model.retirement})"
            )
        found.append((model_key, f"{model.name} is {what} ({model.source}); {works_here}"))
    if not model.batch:
        found.append((model_key, f"{model.name} does not run batch jobs; {works_here}"))
    if not model.serves(location):
        found.append(
            (
                location_key,
                f"{model.name} is not served in {location} (only in {', '.join(model.locations)}): set "
                f"{location_key} to one of those, or choose a model served in {location}"
                + (f" ({', '.join(here)})" if here else ""),
            )
        )
    return found


def _elsewhere(today: dt.date, location: str) -> str:
    """Where the usable models are served, when none is served in ``location``."""
    by_place: dict[tuple[str, ...], list[str]] = {}
    for model in usable(today):
        by_place.setdefault(model.locations, []).append(model.name)
    places = "; ".join(f"{', '.join(names)} in {', '.join(where)}" for where, names in by_place.items())
    return f"no model in the catalogue runs batch jobs in {location}; {places}"
