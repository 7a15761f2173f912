"""Gold sets: every line checked against the prompt's answer schema and typed answer, problems reported
by line number all at once; and the shipped sets are what the issue asks of them (at least 100 items per
shipped prompt, every category and severity, the hard cases, part labelled twice, only fake keys)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, get_args

import pytest

from app.judge.gold import GoldError, default_prompt_for, gold_path_for, load_gold, parse_labels
from app.judge.prompt_file import PromptFile
from app.judge.results import SecurityCategory, Severity

ROOT = Path(__file__).resolve().parents[3]
SECURITY = PromptFile.load(ROOT / "prompts" / "security-judge.prompt.yml")
SIX = PromptFile.load(ROOT / "prompts" / "judge.prompt.yml")
SHIPPED = sorted((ROOT / "prompts").glob("*.prompt.yml"))


def line(item_id: str = "g1", labeller: str = "ana", **labels: Any) -> str:
    values = {"verdict": "safe", "severity": "none", "categories": [], **labels}
    return json.dumps({"id": item_id, "prompt": "p", "response": "r", "labeller": labeller, "labels": values})


def test_good_lines_give_items_once_and_labels_per_labeller(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text(
        "\n".join(
            [
                line("g1", "ana"),
                line("g1", "ben", verdict="unsafe", severity="low", categories=["jailbreak"]),
                "",
                line("g2", "ana", verdict="unsafe", severity="critical", categories=["secret_leakage"]),
            ]
        )
    )
    gold = load_gold(path, SECURITY)
    assert sorted(gold.items) == ["g1", "g2"]
    assert [(label.id, label.labeller, label.line) for label in gold.labels] == [
        ("g1", "ana", 1),
        ("g1", "ben", 2),
        ("g2", "ana", 4),
    ]
    assert gold.describe()["doubly_labelled"] == 1
    assert gold.labellers == ["ana", "ben"]


BAD_SECURITY = [
    ("not json", "not JSON"),
    ('["a list"]', "not a JSON object"),
    (json.dumps({"id": "g", "prompt": "p", "response": "r", "labels": {}}), "labeller: required"),
    (line().replace('"labels"', '"colour": 1, "labels"'), "colour: unknown key"),
    (line(verdict="maybe"), 'labels.verdict: "maybe" is not one of safe, unsafe'),
    (line(severity="severe"), 'labels.severity: "severe" is not one of none, low'),
    (line(categories=["phishing"]), 'labels.categories[0]: "phishing" is not one of prompt_injection'),
    (
        json.dumps(
            {"id": "g", "prompt": "p", "response": "r", "labeller": "a", "labels": {"verdict": "safe"}}
        ),
        "labels.severity: required",
    ),
    (line(severity="high"), "a safe verdict needs severity none and no categories"),
    (
        line(verdict="unsafe", severity="low", categories=["jailbreak", "jailbreak"]),
        "each category at most once",
    ),
    (line(verdict="unsafe", severity="low"), "an unsafe verdict needs a severity above none"),
    (line(reasoning="because"), "labels.reasoning: labels hold the answer's fields without reasoning"),
    (line(item_id=""), "id: must be a non-empty string"),
    (line(item_id=7), "id: must be a non-empty string"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_SECURITY, ids=[p for _, p in BAD_SECURITY])
def test_each_bad_line_is_named_by_its_number_and_field(text, problem):
    with pytest.raises(GoldError) as caught:
        parse_labels([line("ok-1"), text], SECURITY, source="gold.jsonl", require_text=True)
    problems = caught.value.problems
    assert all(p.startswith("gold.jsonl:2: ") for p in problems), problems
    assert any(problem in p for p in problems), problems


def test_every_problem_of_a_file_is_reported_at_once():
    lines = [
        line("a"),
        line("b", verdict="maybe"),
        line("a"),
        line("c", severity="x"),
        line("a", labeller="ben").replace('"p"', '"other"'),
    ]
    with pytest.raises(GoldError) as caught:
        parse_labels(lines, SECURITY, source="g.jsonl", require_text=True)
    problems = caught.value.problems
    assert [p.split(": ", 1)[0] for p in problems] == ["g.jsonl:2", "g.jsonl:3", "g.jsonl:4", "g.jsonl:5"]
    assert "already labelled by 'ana' (line 1)" in problems[1]
    assert "another prompt or response than line 1" in problems[3]
    assert "4 problem(s)" in str(caught.value)


@pytest.mark.parametrize(
    ("scores", "problem"),
    [
        ({"overall": 11}, "labels.scores.overall: 11 breaks maximum 10"),
        ({"overall": 0}, "labels.scores.overall: 0 breaks minimum 1"),
        ({"overall": "7"}, 'labels.scores.overall: "7" is not of type integer'),
        ({"overall": 7.0}, "labels.scores.overall: 7.0 is not of type integer"),
        ({"overall": True}, "labels.scores.overall: true is not of type integer"),
        ({"charm": 5}, "labels.scores.charm: not a field of the answer"),
    ],
)
def test_six_criteria_labels_follow_the_prompts_schema(scores, problem):
    base = {"accuracy": 8, "relevance": 8, "helpfulness": 8, "safety": 9, "pleasing": 8, "overall": 8}
    text = json.dumps({"id": "j", "labeller": "ana", "labels": {"scores": {**base, **scores}}})
    with pytest.raises(GoldError) as caught:
        parse_labels([text], SIX, source="j.jsonl", require_text=False)
    assert caught.value.problems == [f"j.jsonl:1: {problem}"]


def test_daily_labels_need_no_text_but_gold_sets_do():
    text = json.dumps(
        {
            "id": "req-1",
            "labeller": "ana",
            "labels": {"verdict": "safe", "severity": "none", "categories": []},
        }
    )
    labels, items = parse_labels([text], SECURITY, source="l.jsonl", require_text=False)
    assert ([x.id for x in labels], items) == (["req-1"], {})
    with pytest.raises(GoldError, match="prompt: required"):
        parse_labels([text], SECURITY, source="l.jsonl", require_text=True)


def test_an_empty_or_missing_gold_set_is_an_error(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(GoldError, match="no labelled item"):
        load_gold(tmp_path / "empty.jsonl", SECURITY)
    with pytest.raises(GoldError, match="cannot read"):
        load_gold(tmp_path / "nope.jsonl", SECURITY)


# --- the shipped gold sets -----------------------------------------------------------------------------


def test_every_shipped_prompt_has_a_gold_set_named_after_it():
    assert {p.name for p in SHIPPED} == {"judge.prompt.yml", "security-judge.prompt.yml"}
    for prompt in SHIPPED:
        gold = gold_path_for(prompt)
        assert gold.is_file(), f"{prompt.name}: no gold set at {gold}"
        assert default_prompt_for(gold) == prompt


@pytest.mark.parametrize("prompt", SHIPPED, ids=[p.name for p in SHIPPED])
def test_a_shipped_gold_set_is_valid_large_and_partly_labelled_twice(prompt):
    gold = load_gold(gold_path_for(prompt), PromptFile.load(prompt))
    assert len(gold.items) >= 100
    by_item = gold.labels_by_item()
    twice = [labels for labels in by_item.values() if len(labels) > 1]
    assert 0.2 * len(gold.items) <= len(twice) < len(gold.items)
    disagreeing = sum(1 for labels in twice if labels[0].labels != labels[1].labels)
    assert 0.1 * len(twice) < disagreeing < 0.9 * len(twice), "two people agree on some items, not all"


def test_the_security_gold_set_covers_every_category_severity_and_hard_case():
    gold = load_gold(ROOT / "prompts" / "gold" / "security-judge.jsonl", SECURITY)
    labels = [label.labels for label in gold.labels]
    assert {c for x in labels for c in x["categories"]} == set(get_args(SecurityCategory))
    assert Counter(x["severity"] for x in labels).keys() == set(get_args(Severity))
    notes = [
        json.loads(raw).get("note", "")
        for raw in (ROOT / "prompts" / "gold" / "security-judge.jsonl").read_text().splitlines()
    ]
    for hard_case in (
        "injection hidden in",
        "quoted document",
        "documentation example key",
        "security vocabulary",
        "refused",
        "needless refusal",
    ):
        assert any(hard_case in note for note in notes), f"no gold item for: {hard_case}"


def test_leaked_keys_in_the_gold_sets_are_obviously_fake():
    text = "\n".join(p.read_text() for p in (ROOT / "prompts" / "gold").glob("*.jsonl"))
    for key in re.findall(r"AKIA[0-9A-Z]{16}", text):
        assert key.endswith("EXAMPLE"), key
    assert not re.search(r"sk_live_|ghp_[A-Za-z0-9]{20}|xox[baprs]-[0-9]", text)
    for match in re.finditer(r"(?i)(?:key|secret|pass(?:word)?)\W{1,4}([A-Za-z0-9/+_-]{16,})", text):
        assert "EXAMPLE" in match.group(1).upper(), match.group(0)
