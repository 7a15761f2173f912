"""Label Studio round trip: the labelling configs, the review tasks with the judges' answers as
predictions, and labels out of an export.

The formats follow Label Studio's pages labelstud.io/guide/task_format (tasks: ``data`` and
``predictions``), /guide/predictions (``model_version``, ``result`` of ``from_name``, ``to_name``,
``type``, ``value``), /guide/export (JSON export: ``annotations`` with ``result``, ``was_cancelled``,
``completed_by``) and /tags/choices, /tags/rating. ``data/label-studio-1.23-export.json`` is a real
export: Label Studio 1.23.2 (``pip install label-studio``) started locally, a project created with
review/labelling-config/security-judge.xml, ``data/tasks-imported.json`` imported (11 predictions
accepted), annotated through its API by two users (user 1 skipped req-3, nobody labelled req-5, req-9 is
of another day) and exported with ``GET /api/projects/1/export?exportType=JSON&download_all_tasks=true``.
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from app.judge.gold import prompt_stem
from app.judge.prompt_file import PromptFile
from app.report.rows import answer_row
from app.review.labelstudio import controls, labelling_config, labels_from_export, prediction, task

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(__file__).with_name("data")
SECURITY = PromptFile.load(ROOT / "prompts" / "security-judge.prompt.yml")
SIX = PromptFile.load(ROOT / "prompts" / "judge.prompt.yml")
SHIPPED = sorted((ROOT / "prompts").glob("*.prompt.yml"))
DAY = "2024-05-01"


def export() -> list[dict[str, Any]]:
    return json.loads((DATA / "label-studio-1.23-export.json").read_text())


@pytest.mark.parametrize("prompt", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_committed_labelling_configs_are_the_prompts_own(prompt):
    committed = ROOT / "review" / "labelling-config" / f"{prompt_stem(prompt)}.xml"
    assert committed.read_text() == labelling_config(PromptFile.load(prompt)), (
        f"{committed} is stale: run python -m app.review.labelstudio"
    )


def parsed_config(prompt: PromptFile) -> tuple[dict[str, ET.Element], set[str]]:
    """The controls (by name) and the object tags' names of a prompt's labelling config, as XML."""
    root = ET.fromstring(labelling_config(prompt))  # noqa: S314 - our own generated config
    assert root.tag == "View"
    objects = {e.get("name") for e in root.iter("Text")}
    assert {e.get("value") for e in root.iter("Text")} == {"$prompt", "$response"}
    found = {e.get("name"): e for e in root if e.tag in ("Choices", "Rating", "Number")}
    return found, {name for name in objects if name}


def check_prediction(prompt: PromptFile, pred: dict[str, Any]) -> None:
    found, objects = parsed_config(prompt)
    assert isinstance(pred["model_version"], str)
    assert pred["model_version"]
    for result in pred["result"]:
        control = found.get(result["from_name"])
        assert control is not None, f"{result['from_name']}: no such control"
        assert result["to_name"] == control.get("toName")
        assert result["to_name"] in objects
        assert result["type"] == control.tag.lower()
        if control.tag == "Choices":
            allowed = {c.get("value") for c in control.iter("Choice")}
            assert set(result["value"]["choices"]) <= allowed
            if control.get("choice") != "multiple":
                assert len(result["value"]["choices"]) == 1
        else:
            assert 1 <= result["value"]["rating"] <= int(control.get("maxRating", "5"))


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        (SECURITY, {"verdict": "unsafe", "severity": "high", "categories": ["jailbreak", "other"]}),
        (SECURITY, {"verdict": "safe", "severity": "none", "categories": []}),
        (
            SIX,
            {
                "scores": {
                    "accuracy": 7,
                    "relevance": 9,
                    "helpfulness": 6,
                    "safety": 10,
                    "pleasing": 8,
                    "overall": 7,
                }
            },
        ),
    ],
)
def test_every_prediction_names_a_control_of_the_config(prompt, answer):
    row = answer_row("r1", {"reasoning": "r", **answer})
    pred = prediction(controls(prompt), row.labels, row.members, row.scores, "vertex: gemini")
    check_prediction(prompt, pred)
    assert len(pred["result"]) == len(controls(prompt))


def test_the_imported_tasks_are_in_the_import_format_and_predict_with_the_config():
    tasks = json.loads((DATA / "tasks-imported.json").read_text())
    for entry in tasks:
        assert set(entry) == {"data", "predictions"}
        assert {"record_id", "day", "prompt", "response", "source", "strata"} <= set(entry["data"])
        for pred in entry["predictions"]:
            check_prediction(SECURITY, pred)
    again = task(tasks[0]["data"], tasks[0]["predictions"])
    assert again == tasks[0]


def labels_by(found) -> dict[tuple[str, str], dict[str, Any]]:
    return {(label.id, label.labeller): label.labels for label in found.labels}


def test_labels_out_of_a_real_export_each_annotator_apart_cancelled_skipped():
    found = labels_from_export(export(), SECURITY, DAY)
    assert found.problems == []
    assert labels_by(found) == {
        ("req-1", "label-studio:user-1"): {
            "verdict": "unsafe",
            "severity": "high",
            "categories": ["secret_leakage"],
        },
        ("req-1", "label-studio:user-2"): {
            "verdict": "unsafe",
            "severity": "critical",
            "categories": ["secret_leakage"],
        },
        ("req-2", "label-studio:user-1"): {"verdict": "safe", "severity": "none", "categories": []},
        ("req-2", "label-studio:user-2"): {"verdict": "safe", "severity": "none", "categories": []},
        ("req-3", "label-studio:user-2"): {
            "verdict": "unsafe",
            "severity": "high",
            "categories": ["pii_leakage"],
        },
        ("req-4", "label-studio:user-1"): {
            "verdict": "unsafe",
            "severity": "low",
            "categories": ["jailbreak", "policy_evasion"],
        },
    }
    assert (found.cancelled, found.unannotated, found.other_days, found.replaced) == (1, 1, 1, 0)
    assert {label.id for label in labels_from_export(export(), SECURITY, "2024-04-30").labels} == {"req-9"}


def test_an_annotator_is_the_same_labeller_in_both_export_shapes():
    """/guide/export: ``completed_by`` is the user's id, or ``{"id", "email", ...}`` in an export that
    expands users. Named by email in one and by id in the other, one person's labels would be stored
    twice and counted as two people's."""
    minimal = export()
    expanded = copy.deepcopy(minimal)
    for entry in expanded:
        for annotation in entry.get("annotations") or ():
            user = annotation["completed_by"]
            annotation["completed_by"] = {
                "id": user,
                "email": f"user{user}@example.com",
                "first_name": "",
                "last_name": "",
            }
    assert labels_by(labels_from_export(expanded, SECURITY, DAY)) == labels_by(
        labels_from_export(minimal, SECURITY, DAY)
    )
    assert ("req-1", "label-studio:user-1") in labels_by(labels_from_export(expanded, SECURITY, DAY))


def test_an_annotation_without_a_user_id_is_a_problem_not_a_labeller():
    data = export()
    data[0]["annotations"][0]["completed_by"] = {"email": "ana@example.com"}
    found = labels_from_export(data, SECURITY, DAY)
    assert any("without its annotator's user id" in problem for problem in found.problems)


def test_the_latest_annotation_of_one_annotator_wins():
    data = export()
    later = copy.deepcopy(data[0]["annotations"][0])  # user 1 on req-1, labelled again later
    later["updated_at"] = "2026-12-07T09:00:00Z"
    later["result"][1]["value"]["choices"] = ["medium"]
    data[0]["annotations"].insert(0, later)
    found = labels_from_export(data, SECURITY, DAY)
    assert found.replaced == 1
    assert labels_by(found)[("req-1", "label-studio:user-1")]["severity"] == "medium"


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda r: r[1]["value"].update(choices=["none"]), "an unsafe verdict needs a severity above none"),
        (lambda r: r.pop(0), "verdict: not labelled"),
        (lambda r: r[0]["value"].update(choices=["safe", "unsafe"]), "verdict: exactly one choice expected"),
        (lambda r: r[1].update(type="labels"), "severity: result of type 'labels', the config has choices"),
        (
            lambda r: r[2]["value"].update(choices=["phishing"]),
            'labels.categories[0]: "phishing" is not one of',
        ),
    ],
)
def test_a_label_the_judge_could_not_give_is_a_problem_named_by_task_and_annotator(edit, problem):
    data = export()
    edit(data[0]["annotations"][0]["result"])
    found = labels_from_export(data, SECURITY, DAY)
    assert len(found.problems) == 1
    assert found.problems[0].startswith("task 1 (req-1), label-studio:user-1: ")
    assert problem in found.problems[0]


def test_results_of_controls_the_prompt_lacks_are_left_out():
    data = export()
    comment = {"from_name": "comment", "to_name": "response", "type": "textarea", "value": {"text": ["hm"]}}
    data[0]["annotations"][0]["result"].append(comment)
    assert (
        labels_by(labels_from_export(data, SECURITY, DAY))[("req-1", "label-studio:user-1")]["verdict"]
        == "unsafe"
    )


def test_ratings_come_back_as_the_six_criteria():
    scores = {"accuracy": 7, "relevance": 9, "helpfulness": 6, "safety": 10, "pleasing": 8, "overall": 7}
    result = [
        {"from_name": name, "to_name": "response", "type": "rating", "value": {"rating": value}}
        for name, value in scores.items()
    ]
    data = [
        {
            "id": 4,
            "data": {"record_id": "r1", "day": DAY},
            "annotations": [{"completed_by": 3, "result": result, "was_cancelled": False}],
        }
    ]
    found = labels_from_export(data, SIX, DAY)
    assert labels_by(found) == {("r1", "label-studio:user-3"): {"scores": scores}}
    result[0]["value"]["rating"] = 0  # Label Studio's Rating allows 0; the prompt's scale starts at 1
    assert "labels.scores.accuracy: 0 breaks minimum 1" in labels_from_export(data, SIX, DAY).problems[0]


def test_not_an_export():
    with pytest.raises(ValueError, match="expected a list of tasks"):
        labels_from_export({"tasks": []}, SECURITY, DAY)
    found = labels_from_export([{"id": 3, "data": {"text": "x"}, "annotations": []}], SECURITY, DAY)
    assert found.problems == ["task 3: no data.record_id (a task of another project?)"]
