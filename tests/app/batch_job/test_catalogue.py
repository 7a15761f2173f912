"""The model catalogue: every row is checked when it is read (a wrong row fails here, not at night), the
interface other modules build on, and the lifecycle and location rules the config check reads."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.batch_job import catalogue
from app.batch_job.catalogue import LEVELS, CatalogueError, _load, choice_problems, lookup, models, usable

ROWS = yaml.safe_load(catalogue.CATALOGUE_PATH.read_text())


def test_every_row_has_its_source_the_day_it_was_read_and_dates_in_order() -> None:
    rows = models()
    assert len(rows) >= 3
    for model in rows:
        assert model.source.startswith("https://"), model.name
        assert model.release <= model.read_on, model.name
        if model.retirement is not None:
            assert model.release < model.retirement, model.name
        for level, room in model.thinking.room.items():
            assert level in LEVELS
            assert room.source.startswith("https://"), (model.name, level)
            assert room.evidence, (model.name, level)


def test_the_interface_the_lifecycle_table_reads() -> None:
    model = lookup("gemini-3.5-flash-lite")
    assert model is not None
    for spelling in (
        "publishers/google/models/gemini-3.5-flash-lite",
        "google/gemini-3.5-flash-lite",
        "projects/p/locations/global/publishers/google/models/gemini-3.5-flash-lite",
    ):
        assert lookup(spelling) is model
    assert lookup("gemini-3.5-flash-lite-preview") is None
    assert (model.name, model.release, model.retirement) == (
        "gemini-3.5-flash-lite",
        dt.date(2026, 7, 21),
        dt.date(2027, 7, 21),
    )
    assert model.retirement_announced is False  # "July 21, 2027 or later"
    assert model.read_on == dt.date(2026, 12, 5)
    assert isinstance(model.source, str)


@pytest.mark.parametrize(
    ("day", "state"),
    [
        (dt.date(2025, 6, 16), "unreleased"),
        (dt.date(2026, 9, 19), "current"),
        (dt.date(2026, 9, 20), "closed-to-new"),  # one month before retirement
        (dt.date(2026, 10, 20), "closed-to-new"),  # the last day it is served
        (dt.date(2026, 10, 21), "retired"),
    ],
)
def test_the_lifecycle_follows_the_announced_dates(day, state) -> None:
    model = lookup("gemini-2.5-flash")
    assert model is not None
    assert model.lifecycle(day) == state


def test_a_no_earlier_than_date_never_retires_a_model() -> None:
    model = lookup("gemini-3.5-flash-lite")
    assert model is not None
    assert model.lifecycle(dt.date(2030, 1, 1)) == "current"


def test_usable_models_are_current_batch_capable_and_served_where_asked() -> None:
    today = dt.date(2026, 12, 6)
    names = [m.name for m in usable(today, location="global")]
    assert names[0] == "gemini-3.5-flash-lite"
    assert "gemini-2.5-flash" not in names  # retired
    assert "gemini-3.5-flash" not in names  # no batch
    assert usable(today, location="us-central1") == []
    assert choice_problems("publishers/google/models/gemini-3.5-flash-lite", "eu", today) == []


def _write(tmp_path: Path, change: dict[str, Any], thinking: dict[str, Any] | None = None) -> Path:
    row = dict(ROWS["models"][0])
    row.update(change)
    if thinking is not None:
        row["thinking"] = {**row["thinking"], **thinking}
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump({"models": [row]}, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("change", "thinking", "message"),
    [
        ({"retirement": dt.date(2026, 7, 1)}, None, "retirement 2026-07-01 is not after release"),
        ({"retirement": None, "retirementAnnounced": True}, None, "needs a retirement date"),
        ({"newAccessBlocked": dt.date(2028, 1, 1)}, None, "newAccessBlocked must fall between"),
        ({"readOn": dt.date(2026, 1, 1)}, None, "readOn 2026-01-01 is before the release"),
        ({"source": "docs.example.com/page"}, None, "must be an https:// URL"),
        ({"source": None}, None, "source"),
        ({}, {"levels": ["minimal", "extreme"]}, "levels.1"),
        ({}, {"levels": ["low", "minimal"]}, "list them in the order minimal, low, medium, high"),
        ({}, {"default": "medium", "levels": ["minimal", "low"]}, "default: 'medium' is not one of"),
        ({}, {"room": {"minimal": ROWS["models"][0]["thinking"]["room"]["minimal"]}}, "no room for"),
        ({"locations": ["global", "global"]}, None, "listed twice"),
        ({"name": "claude-4"}, None, "name"),
    ],
)
def test_a_wrong_row_is_refused_naming_the_row_and_the_field(tmp_path, change, thinking, message) -> None:
    with pytest.raises(CatalogueError) as raised:
        _load(_write(tmp_path, change, thinking))
    assert "models[0] (" in str(raised.value)
    assert message in str(raised.value)


def test_a_budget_row_must_translate_every_level_within_its_range(tmp_path) -> None:
    row = next(r for r in ROWS["models"] if r["name"] == "gemini-2.5-pro")
    row = {**row, "thinking": {**row["thinking"], "room": {**row["thinking"]["room"]}}}
    row["thinking"]["room"]["minimal"] = {**row["thinking"]["room"]["minimal"], "tokens": 0}
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump({"models": [row]}, sort_keys=False))
    with pytest.raises(
        CatalogueError, match=r"room.minimal: 0 is not a budget this model accepts \(128..32768\)"
    ):
        _load(path)
