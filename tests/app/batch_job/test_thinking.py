"""Gemini's thinking budget: checked per model family before anything is sent, sent as thinkingConfig,
and, end to end against a fake Vertex whose Gemini counts thinking against maxOutputTokens as the real one
does, the reason the shipped prompts' answers are not cut off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.batch_job.collect import interpret_prediction
from app.batch_job.thinking import MIN_ANSWER_TOKENS, ThinkingConfigError, family_of, thinking_config
from app.judge.results import SecurityAnswer
from tests.app.batch_job.conftest import DAY, PROMPT, record
from tests.support.fake_vertex import GeminiThinking

FLASH = "publishers/google/models/gemini-2.5-flash"
PRO = "publishers/google/models/gemini-2.5-pro"
LITE = "publishers/google/models/gemini-2.5-flash-lite"
SAFE = {"reasoning": "A benign question.", "verdict": "safe", "severity": "none", "categories": []}


@pytest.mark.parametrize(
    ("model", "family"),
    [
        (FLASH, "gemini-2.5-flash"),
        ("publishers/google/models/gemini-2.5-flash-001", "gemini-2.5-flash"),
        ("google/gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ("projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini-2.0-flash-001", "gemini-2.0"),
        ("gemini-3-pro-preview", None),
        ("projects/p/locations/us-central1/endpoints/123", None),
        ("gemini-2.50-flash", None),
    ],
)
def test_model_ids_map_to_their_family(model: str, family: str | None) -> None:
    found = family_of(model)
    assert (found.name if found else None) == family


@pytest.mark.parametrize(
    ("model", "budget", "max_tokens", "sent"),
    [
        (FLASH, 0, 768, {"thinkingBudget": 0}),
        (FLASH, 512, 512 + MIN_ANSWER_TOKENS, {"thinkingBudget": 512}),
        (PRO, 128, 1024, {"thinkingBudget": 128}),
        (PRO, -1, None, {"thinkingBudget": -1}),
        (LITE, None, 768, None),
        (LITE, 0, 768, {"thinkingBudget": 0}),
        ("gemini-2.0-flash-001", 0, 768, None),
        ("gemini-2.0-flash-001", None, 768, None),
        ("gemini-3-pro-preview", 1024, 2048, {"thinkingBudget": 1024}),
        ("gemini-3-pro-preview", None, 2048, None),
    ],
)
def test_a_budget_that_fits_becomes_the_thinking_config(model, budget, max_tokens, sent) -> None:
    assert thinking_config(model, budget, max_tokens) == sent


@pytest.mark.parametrize(
    ("model", "budget", "max_tokens", "message"),
    [
        (FLASH, None, 768, "not set, and gemini-2.5-flash thinks by default"),
        (PRO, None, 768, "thinks by default"),
        (PRO, 0, 768, "gemini-2.5-pro cannot turn thinking off; set 128..32768"),
        (PRO, 64, 768, "64 is outside gemini-2.5-pro's range"),
        (LITE, 100, 768, "outside gemini-2.5-flash-lite's range"),
        (FLASH, 30000, None, "outside gemini-2.5-flash's range"),
        (
            FLASH,
            600,
            768,
            "leaves the answer 168 of maxTokens 768 (thinking counts against it); raise maxTokens to "
            "at least 856",
        ),
        (FLASH, -1, 768, "-1 (dynamic) may think up to 24576 tokens"),
        ("gemini-2.0-flash-001", 256, 768, "does not think; remove the key or set it to 0"),
    ],
)
def test_a_budget_that_does_not_fit_is_refused_naming_the_key_and_the_fix(
    model, budget, max_tokens, message
) -> None:
    with pytest.raises(ThinkingConfigError) as raised:
        thinking_config(model, budget, max_tokens)
    assert str(raised.value).startswith("modelParameters.thinkingBudget: ")
    assert message in str(raised.value)


def test_a_cap_hit_after_thinking_says_so() -> None:
    line = GeminiThinking(thoughts=750).respond(
        {"contents": [], "generationConfig": {"maxOutputTokens": 768}}, FLASH, json.dumps(SAFE)
    )
    outcome = interpret_prediction(line, SecurityAnswer)
    assert outcome.status == "invalid"
    assert outcome.reason == "truncated"
    assert "thinking used 750 tokens of maxOutputTokens" in outcome.error
    assert "modelParameters.thinkingBudget" in outcome.error


# --- end to end against the fake Vertex's Gemini ----------------------------------------------------


def _prompt(tmp_path: Path, **parameters: Any) -> Path:
    data = yaml.safe_load(PROMPT.read_text())
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
def test_the_shipped_prompt_on_gemini_2_5_flash_answers_within_its_cap(batch_env):
    code, output = _judge_day(batch_env)
    assert code == 0, output
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    assert summary["counts"]["ok"] == 4, summary["failures_by_reason"]
    (line, *_) = batch_env.out_lines(f"batch/{DAY}/input/part-00000.jsonl")
    config = line["request"]["generationConfig"]
    assert (config["maxOutputTokens"], config["thinkingConfig"]) == (768, {"thinkingBudget": 0})
    assert summary["usage"]["predictions"] == 4
    assert summary["usage"]["thoughts_tokens"] == 0
    assert summary["usage"]["output_tokens"] > 0


@pytest.mark.integration
def test_a_fixed_budget_on_gemini_2_5_pro_is_sent_and_its_thinking_counted(batch_env, tmp_path):
    prompt = _prompt(tmp_path, maxTokens=1280, thinkingBudget=512)
    code, output = _judge_day(batch_env, prompt_path=prompt, model_id=PRO)
    assert code == 0, output
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    assert summary["counts"]["ok"] == 4, summary["failures_by_reason"]
    assert summary["usage"]["thoughts_tokens"] == 4 * 512


@pytest.mark.integration
def test_a_prompt_without_a_budget_is_refused_before_anything_is_submitted(batch_env, tmp_path, capsys):
    prompt = _prompt(tmp_path, maxTokens=768)
    code, output = _judge_day(batch_env, prompt_path=prompt)
    assert code == 2
    assert "modelParameters.thinkingBudget: not set, and gemini-2.5-flash thinks by default" in output
    assert batch_env.vertex.jobs() == []
    assert "Traceback" not in output + capsys.readouterr().err


@pytest.mark.integration
def test_the_shipped_prompt_on_gemini_2_5_pro_is_refused_with_the_fix(batch_env):
    code, output = _judge_day(batch_env, model_id=PRO)
    assert code == 2
    assert "gemini-2.5-pro cannot turn thinking off" in output
    assert batch_env.vertex.jobs() == []


@pytest.mark.integration
def test_without_a_budget_gemini_thinks_the_answer_out_of_its_cap(batch_env, tmp_path):
    """What the old requests (no thinkingConfig) got from the fake's Gemini: the failure this prevents."""
    request = {"contents": [], "generationConfig": {"maxOutputTokens": 768}}
    line = GeminiThinking().respond(request, FLASH, json.dumps(SAFE))
    outcome = interpret_prediction(line, SecurityAnswer)
    assert (outcome.status, outcome.reason) == ("failed", "finish_max_tokens")
    assert line["response"]["usageMetadata"]["thoughtsTokenCount"] == 768
