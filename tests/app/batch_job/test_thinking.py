"""The prompt's thinking intent, translated per model family from the catalogue: thinkingLevel for
Gemini 3, thinkingBudget for 2.5, never both; the room for thinking added to the output cap; temperature
left out where the model does not honour it; and, end to end against the fake Vertex's Gemini (which
counts thinking against maxOutputTokens as the real one does), the shipped prompts' answers fit."""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.batch_job.catalogue import LEVELS, lookup, models
from app.batch_job.collect import interpret_prediction
from app.batch_job.prompt import generation_settings
from app.batch_job.thinking import ThinkingConfigError, nearest_level, plan_thinking
from app.judge.prompt_file import ModelParameters
from app.judge.results import SecurityAnswer
from tests.app.batch_job.conftest import DAY, PROMPT, record
from tests.support.fake_vertex import GeminiThinking, request_problem

SAFE = {"reasoning": "A benign question.", "verdict": "safe", "severity": "none", "categories": []}


def _model(name: str):
    model = lookup(name)
    assert model is not None, name
    return model


LITE35, FLASH38 = _model("gemini-3.5-flash-lite"), _model("gemini-3.8-flash")
FLASH25, PRO25, LITE25 = _model("gemini-2.5-flash"), _model("gemini-2.5-pro"), _model("gemini-2.5-flash-lite")


@pytest.mark.parametrize(
    ("model", "level", "budget", "sent", "room"),
    [
        (LITE35, "minimal", None, {"thinkingLevel": "MINIMAL"}, 512),
        (LITE35, "off", None, {"thinkingLevel": "MINIMAL"}, 512),  # off: as close to none as 3.x goes
        (LITE35, None, None, {"thinkingLevel": "MINIMAL"}, 512),  # the model's default, sent explicitly
        (LITE35, "high", 0, {"thinkingLevel": "HIGH"}, 24576),  # the 2.5 budget is left for 2.5
        (FLASH38, "minimal", None, {"thinkingLevel": "LOW"}, 2048),  # nearest accepted, one step up
        (FLASH38, None, None, {"thinkingLevel": "MEDIUM"}, 8192),
        (FLASH25, "minimal", None, {"thinkingBudget": 0}, 0),
        (FLASH25, "off", None, {"thinkingBudget": 0}, 0),
        (FLASH25, "low", None, {"thinkingBudget": 1024}, 1024),
        (FLASH25, "minimal", 512, {"thinkingBudget": 512}, 512),  # a budget wins on 2.5
        (FLASH25, None, -1, {"thinkingBudget": -1}, 24576),  # dynamic: room for the largest budget
        (PRO25, "minimal", None, {"thinkingBudget": 128}, 128),
        (LITE25, None, None, None, 0),  # 2.5 Flash-Lite does not think unless asked to
    ],
)
def test_the_intent_becomes_the_family_s_own_control(model, level, budget, sent, room) -> None:
    plan = plan_thinking(model, level, budget)
    assert (plan.config, plan.room) == (sent, room)


@pytest.mark.parametrize(
    ("model", "level", "budget", "message"),
    [
        (LITE35, None, 0, "thinkingBudget: 0 is Gemini 2.5's setting and gemini-3.5-flash-lite refuses it"),
        (FLASH38, "off", None, "cannot turn thinking off and its lowest level is low; set"),
        (PRO25, "off", None, "gemini-2.5-pro cannot turn thinking off"),
        (PRO25, None, 0, "gemini-2.5-pro cannot turn thinking off; set 128..32768"),
        (PRO25, None, 64, "64 is outside gemini-2.5-pro's range"),
        (FLASH25, None, None, "not set, and gemini-2.5-flash thinks by default"),
    ],
)
def test_an_intent_the_model_cannot_take_is_a_configuration_error_with_the_fix(model, level, budget, message):
    with pytest.raises(ThinkingConfigError) as raised:
        plan_thinking(model, level, budget)
    assert message in str(raised.value)
    assert str(raised.value).startswith("modelParameters.thinking")


def test_no_level_within_a_step_names_the_levels_the_model_accepts() -> None:
    only_high = FLASH38.model_copy(
        update={"thinking": FLASH38.thinking.model_copy(update={"levels": ("high",), "default": "high"})}
    )
    with pytest.raises(ThinkingConfigError, match=r"accepts high, none of them within one step of low"):
        plan_thinking(only_high, "low", None)


@pytest.mark.parametrize(
    ("accepted", "wanted", "chosen"),
    [
        (("minimal", "low", "medium", "high"), "medium", "medium"),
        (("low", "medium", "high"), "minimal", "low"),
        (("minimal", "medium"), "low", "medium"),  # a tie goes to the higher level
        (("minimal",), "medium", None),
        (("high",), "minimal", None),
    ],
)
def test_the_nearest_level_is_at_most_one_step_away(accepted, wanted, chosen) -> None:
    assert nearest_level(accepted, wanted) == chosen


def test_no_intent_on_any_catalogue_model_sends_both_controls_or_a_refused_one() -> None:
    """Every (model, level, budget) the translation accepts is a request the model takes (the fake's
    reading of Google's rules), with exactly one control."""
    assert models()
    for model, level, budget in itertools.product(models(), (None, "off", *LEVELS), (None, 0, -1, 512)):
        try:
            plan = plan_thinking(model, level, budget)
        except ThinkingConfigError:
            continue
        if plan.config is not None:
            assert len(plan.config) == 1, (model.name, level, budget, plan.config)
        request = {"generationConfig": {"thinkingConfig": plan.config or {}}}
        assert request_problem(model.name, request) is None, (model.name, level, budget, plan.config)


def test_the_thinking_room_is_added_to_the_answer_s_cap_and_temperature_kept_for_2_5(caplog) -> None:
    params = ModelParameters.model_validate({"maxTokens": 768, "temperature": 0.0, "thinkingLevel": "low"})
    with caplog.at_level(logging.WARNING):
        gemini3 = generation_settings(LITE35, params, plan_thinking(LITE35, "low", None))
    assert (gemini3.max_output_tokens, gemini3.temperature) == (768 + 2048, None)
    assert "modelParameters.temperature 0.0 is not sent to gemini-3.5-flash-lite" in caplog.text
    caplog.clear()
    gemini25 = generation_settings(FLASH25, params, plan_thinking(FLASH25, "low", None))
    assert (gemini25.max_output_tokens, gemini25.temperature) == (768 + 1024, 0.0)
    assert caplog.text == ""


def test_a_cut_answer_says_how_much_of_the_cap_thinking_took() -> None:
    request = {
        "contents": [],
        "generationConfig": {"maxOutputTokens": 480, "thinkingConfig": {"thinkingLevel": "LOW"}},
    }
    line = GeminiThinking().respond(request, LITE35.name, json.dumps(SAFE))
    outcome = interpret_prediction(line, SecurityAnswer)
    assert (outcome.status, outcome.reason) == ("invalid", "truncated")
    assert "thinking took 466 of 480 output tokens (97 %)" in outcome.error
    assert "lower modelParameters.thinkingLevel" in outcome.error


# --- end to end against the fake Vertex's Gemini ----------------------------------------------------


def _prompt(tmp_path: Path, source: Path = PROMPT, **parameters: Any) -> Path:
    data = yaml.safe_load(source.read_text())
    data["modelParameters"] = {"temperature": 0.0, **parameters}
    path = tmp_path / "variant.prompt.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _judge_day(batch_env, **settings: Any) -> tuple[int, str]:
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", [record(n) for n in range(4)])
    code, output = batch_env.run("submit", "--date", str(DAY), **settings)
    if code != 0:
        return code, output
    (job,) = batch_env.vertex.jobs()
    batch_env.vertex.run_job_as_gemini(job["name"], batch_env.client, lambda line: json.dumps(SAFE))
    return batch_env.run("collect", "--date", str(DAY), **settings)


@pytest.mark.integration
def test_a_low_level_prompt_gets_its_room_and_its_thinking_is_counted(batch_env, tmp_path):
    prompt = _prompt(tmp_path, maxTokens=768, thinkingLevel="low")
    code, output = _judge_day(batch_env, prompt_path=prompt)
    assert code == 0, output
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    assert summary["counts"]["ok"] == 4, summary["failures_by_reason"]
    assert summary["usage"]["thoughts_tokens"] == 4 * 466
    (line, *_) = batch_env.out_lines(f"batch/{DAY}/input/part-00000.jsonl")
    config = line["request"]["generationConfig"]
    assert (config["maxOutputTokens"], config["thinkingConfig"]) == (768 + 2048, {"thinkingLevel": "LOW"})
    assert "temperature" not in config


@pytest.mark.integration
def test_a_budget_only_prompt_is_refused_for_gemini_3_before_anything_is_sent(batch_env, tmp_path, capsys):
    prompt = _prompt(tmp_path, maxTokens=768, thinkingBudget=0)
    code, output = _judge_day(batch_env, prompt_path=prompt)
    assert code == 2
    assert "modelParameters.thinkingBudget: 0 is Gemini 2.5's setting" in output
    assert batch_env.vertex.generated() == []
    assert batch_env.vertex.jobs() == []
    assert "Traceback" not in output + capsys.readouterr().err


def test_the_old_request_shape_is_refused_by_a_gemini_3_model_line_by_line(batch_env):
    """What the seed's lines (thinkingBudget 0, temperature 0, a 768 cap) get from 3.5 Flash-Lite: every
    line fails with 400 INVALID_ARGUMENT, the failure the translation prevents."""
    old = {
        "generationConfig": {
            "temperature": 0.0,
            "maxOutputTokens": 768,
            "thinkingConfig": {"thinkingBudget": 0},
        }
    }
    line = GeminiThinking().respond(old, LITE35.name, json.dumps(SAFE))
    assert line["status"].startswith("Bad Request: 400 INVALID_ARGUMENT: Thinking budget is not supported")
    assert interpret_prediction(line, SecurityAnswer).reason == "vertex_error"
