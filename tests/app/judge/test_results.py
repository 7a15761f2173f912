"""Typed answers: strict validation, flags, and failures that never carry a score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.judge.prompt_file import PromptFile
from app.judge.results import (
    AnswerError,
    JudgeAnswer,
    JudgeFailure,
    Judgement,
    SecurityAnswer,
    TokenUsage,
    answer_model_for,
    parse_answer,
)

ROOT = Path(__file__).resolve().parents[3]
SCORES = {"accuracy": 8, "relevance": 9, "helpfulness": 7, "safety": 10, "pleasing": 6, "overall": 8}


def judge_text(**scores) -> str:
    return json.dumps({"reasoning": "ok", "scores": {**SCORES, **scores}})


def security_text(**fields) -> str:
    base = {"reasoning": "r", "verdict": "safe", "severity": "none", "categories": []}
    return json.dumps({**base, **fields})


def test_valid_judge_answer_parses() -> None:
    answer = parse_answer(JudgeAnswer, judge_text())
    assert answer.score == 8
    assert answer.fields() == SCORES


@pytest.mark.parametrize("value", [0, 11, -1, 7.0, 7.5, "7", True, None])
def test_each_criterion_must_be_an_integer_from_1_to_10(value) -> None:
    with pytest.raises(AnswerError) as info:
        parse_answer(JudgeAnswer, judge_text(overall=value))
    assert info.value.reason == "invalid_answer"
    assert "scores.overall" in info.value.detail


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "invalid_json"),
        ("Sure! Here is the JSON: {}", "invalid_json"),
        ('{"reasoning": "x", "reasoning": "y", "scores": {}}', "invalid_json"),
        ('{"reasoning": "x", "scores": {"accuracy": NaN}}', "invalid_json"),
        ('{"scores": ' + json.dumps(SCORES) + "}", "invalid_answer"),
        ('{"reasoning": "", "scores": ' + json.dumps(SCORES) + "}", "invalid_answer"),
        ('{"reasoning": "x", "extra": 1, "scores": ' + json.dumps(SCORES) + "}", "invalid_answer"),
        ("[1, 2]", "invalid_answer"),
    ],
)
def test_malformed_answers_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(AnswerError) as info:
        parse_answer(JudgeAnswer, text)
    assert info.value.reason == reason


def test_judge_answer_is_flagged_by_a_low_safety_score() -> None:
    assert parse_answer(JudgeAnswer, judge_text(safety=3)).flagged()
    assert not parse_answer(JudgeAnswer, judge_text(safety=9)).flagged()


def test_security_answer_flagged_when_unsafe() -> None:
    unsafe = parse_answer(
        SecurityAnswer, security_text(verdict="unsafe", severity="high", categories=["secret_leakage"])
    )
    assert unsafe.flagged()
    assert unsafe.score is None
    assert unsafe.fields() == {"verdict": "unsafe", "severity": "high", "categories": ["secret_leakage"]}
    assert not parse_answer(SecurityAnswer, security_text()).flagged()


@pytest.mark.parametrize(
    "fields",
    [
        {"verdict": "safe", "severity": "high"},
        {"verdict": "safe", "categories": ["jailbreak"]},
        {"verdict": "unsafe", "severity": "none", "categories": ["jailbreak"]},
        {"verdict": "unsafe", "severity": "low", "categories": []},
        {"verdict": "unsafe", "severity": "low", "categories": ["jailbreak", "jailbreak"]},
        {"verdict": "unsafe", "severity": "low", "categories": ["made_up"]},
        {"verdict": "secure"},
        {"severity": "extreme"},
    ],
)
def test_inconsistent_or_unknown_security_answers_are_refused(fields: dict) -> None:
    with pytest.raises(AnswerError):
        parse_answer(SecurityAnswer, security_text(**fields))


@pytest.mark.parametrize(
    ("file", "model"), [("judge.prompt.yml", JudgeAnswer), ("security-judge.prompt.yml", SecurityAnswer)]
)
def test_answer_model_matches_the_prompt_schema(file: str, model: type) -> None:
    prompt = PromptFile.load(ROOT / "prompts" / file)
    assert answer_model_for(prompt) is model
    schema = prompt.response_schema()
    assert set(schema["properties"]) == set(model.model_fields)
    assert set(schema["required"]) == set(model.model_fields)


def test_security_schema_enums_match_the_typed_answer() -> None:
    schema = PromptFile.load(ROOT / "prompts" / "security-judge.prompt.yml").response_schema()
    props = schema["properties"]
    for category in props["categories"]["items"]["enum"]:
        parse_answer(SecurityAnswer, security_text(verdict="unsafe", severity="low", categories=[category]))
    for severity in props["severity"]["enum"]:
        verdict = "safe" if severity == "none" else "unsafe"
        categories = [] if severity == "none" else ["other"]
        parse_answer(SecurityAnswer, security_text(verdict=verdict, severity=severity, categories=categories))


def test_failure_has_no_scores_in_either_dict_form() -> None:
    failure = Judgement(model="m", latency_ms=1.0, failure=JudgeFailure(reason="timeout", error="slow"))
    seed = failure.to_dict()
    assert (seed["score"], seed["categories"], seed["reasoning"]) == (None, None, None)
    assert (seed["status"], seed["error"]) == ("error", "timeout: slow")
    line = failure.output_line("a1")
    assert line == {
        "id": "a1",
        "status": "error",
        "score": None,
        "scores": None,
        "reasoning": None,
        "error": "timeout: slow",
        "model": "m",
        "latency_ms": 1.0,
    }


def test_success_dict_forms_keep_the_seed_keys() -> None:
    answer = parse_answer(JudgeAnswer, judge_text())
    ok = Judgement(model="m", latency_ms=2.5, answer=answer, usage=TokenUsage(10, 5, 15), attempts=1)
    assert ok.to_dict() == {
        "score": 8,
        "reasoning": "ok",
        "categories": SCORES,
        "model": "m",
        "latency_ms": 2.5,
        "status": "ok",
        "error": None,
    }
    assert list(ok.output_line("x")) == [
        "id",
        "status",
        "score",
        "scores",
        "reasoning",
        "error",
        "model",
        "latency_ms",
    ]


def test_judgement_holds_exactly_one_of_answer_and_failure() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Judgement(model="m", latency_ms=0.0)


def test_failure_reason_is_a_known_code() -> None:
    with pytest.raises(ValueError, match="reason"):
        JudgeFailure(reason="whatever", error="x")
