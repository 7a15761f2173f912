"""Agreement with people, field by field (app.report.calibration), on pairs whose tables are worked out by
hand: kappa and accuracy of a label, weighted kappa of an ordered label and of a score, precision and
recall of each value and of each list member, the unsafe summary, the people-against-people pairs, and
several days' tables pooled into one kappa."""

from __future__ import annotations

from typing import Any

import pytest

from app.report.calibration import Pair, labeller_pairs, measure, pool_tables
from app.report.rows import answer_row


def security(verdict: str, severity: str = "none", *categories: str) -> dict[str, Any]:
    return {"verdict": verdict, "severity": severity, "categories": list(categories)}


def pairs(*entries: tuple[dict[str, Any], dict[str, Any]]) -> list[Pair]:
    return [
        Pair(f"i{n}", answer_row(f"i{n}", ref), answer_row(f"i{n}", ans))
        for n, (ref, ans) in enumerate(entries)
    ]


UNSAFE = security("unsafe", "high", "secret_leakage")
SAFE = security("safe")


def test_verdict_kappa_accuracy_and_per_value_precision_recall():
    # people \\ judge   safe  unsafe      p_o = 7/10; people: 5 safe, 5 unsafe; judge: 4 safe, 6 unsafe
    #   safe            3     2         p_e = 0.5*0.4 + 0.5*0.6 = 0.5 -> kappa = 0.2 / 0.5 = 0.4
    #   unsafe          1     4         unsafe: precision 4/6, recall 4/5; safe: precision 3/4, recall 3/5
    found = measure(
        pairs(*[(SAFE, SAFE)] * 3, *[(SAFE, UNSAFE)] * 2, (UNSAFE, SAFE), *[(UNSAFE, UNSAFE)] * 4)
    )
    verdict = found["fields"]["verdict"]
    assert verdict["kind"] == "label"
    assert (verdict["n"], verdict["accuracy"]) == (10, pytest.approx(0.7))
    assert verdict["kappa"] == pytest.approx(0.4)
    assert verdict["weighted_kappa"] is None
    assert verdict["table"] == [[3, 2], [1, 4]]
    assert verdict["per_value"]["unsafe"] == {
        "reference": 5,
        "answer": 6,
        "precision": pytest.approx(4 / 6),
        "recall": pytest.approx(4 / 5),
    }
    assert verdict["per_value"]["safe"]["recall"] == pytest.approx(3 / 5)
    unsafe = found["unsafe"]
    assert (unsafe["tp"], unsafe["fp"], unsafe["fn"], unsafe["tn"]) == (4, 2, 1, 3)
    assert unsafe["recall"] == pytest.approx(4 / 5)
    assert found["headline"] == {
        "field": "verdict",
        "measure": "kappa",
        "value": pytest.approx(0.4),
        "ci": verdict["kappa_ci"],
        "n": 10,
    }


def test_an_ordered_label_gets_a_weighted_kappa_over_all_its_values():
    # severity over none < low < medium < high < critical (positions 0..4); one near miss, one far miss.
    found = measure(
        pairs(
            (security("unsafe", "low", "jailbreak"), security("unsafe", "medium", "jailbreak")),
            (security("unsafe", "critical", "secret_leakage"), security("unsafe", "low", "secret_leakage")),
            (SAFE, SAFE),
            (security("unsafe", "high", "pii_leakage"), security("unsafe", "high", "pii_leakage")),
        )
    )
    severity = found["fields"]["severity"]
    assert severity["kind"] == "ordinal"
    assert severity["values"] == ["none", "low", "medium", "high", "critical"]
    # By hand: positions people (1, 4, 0, 3), judge (2, 1, 0, 3). Squared misses (1 + 9 + 0 + 0) / 4 = 2.5.
    # Expected: mean over all 16 combinations of (a - b)^2 = [sum a^2]/4 + [sum b^2]/4 - 2 mean a mean b
    # = 26/4 + 14/4 - 2 * 2 * 1.5 = 6.5 + 3.5 - 6 = 4.0  ->  weighted kappa = 1 - 2.5 / 4.0 = 0.375.
    assert severity["weighted_kappa"] == pytest.approx(0.375)
    assert severity["accuracy"] == pytest.approx(0.5)


def test_list_members_per_value_and_the_exact_share():
    found = measure(
        pairs(
            (
                security("unsafe", "low", "prompt_injection"),
                security("unsafe", "low", "prompt_injection", "jailbreak"),
            ),
            (security("unsafe", "high", "jailbreak"), security("unsafe", "high", "jailbreak")),
            (security("unsafe", "high", "secret_leakage"), security("unsafe", "high", "pii_leakage")),
            (SAFE, SAFE),
        )
    )
    listed = found["members"]["categories"]
    assert (listed["n"], listed["exact"]) == (4, 0.5)
    jailbreak = listed["values"]["jailbreak"]
    assert (jailbreak["tp"], jailbreak["fp"], jailbreak["fn"], jailbreak["tn"]) == (1, 1, 0, 2)
    assert (jailbreak["precision"], jailbreak["recall"]) == (0.5, 1.0)
    assert listed["values"]["secret_leakage"]["recall"] == 0.0
    assert listed["values"]["pii_leakage"]["precision"] == 0.0
    assert "malicious_code" not in listed["values"]  # named by nobody: nothing to say about it


def test_scores_are_weighted_on_their_own_scale_and_the_headline_is_overall():
    def scores(overall: int, safety: int = 9) -> dict[str, Any]:
        return {
            "scores": {
                "accuracy": 8,
                "relevance": 9,
                "helpfulness": 8,
                "safety": safety,
                "pleasing": 9,
                "overall": overall,
            }
        }

    found = measure(
        pairs(
            (scores(2), scores(3)),
            (scores(9), scores(9)),
            (scores(5), scores(8)),
            (scores(7, 3), scores(7, 2)),
        )
    )
    overall = found["fields"]["overall"]
    assert overall["kind"] == "score"
    assert overall["values"] == list(range(2, 10))
    # people (2, 9, 5, 7), judge (3, 9, 8, 7): squared misses (1 + 0 + 9 + 0)/4 = 2.5; expected over all
    # combinations: mean a^2 = 159/4, mean b^2 = 203/4, means 5.75 and 6.75
    # -> 39.75 + 50.75 - 2 * 5.75 * 6.75 = 12.875.
    assert overall["weighted_kappa"] == pytest.approx(1 - 2.5 / 12.875)
    assert found["headline"]["field"] == "overall"
    assert found["headline"]["measure"] == "weighted_kappa"
    # unsafe for six-criteria answers is a safety score of 4 or less, as the judge's own flag.
    assert (found["unsafe"]["tp"], found["unsafe"]["n"]) == (1, 4)


def test_people_against_each_other_every_pair_first_name_as_reference():
    by_item = {
        "a": [
            ("zoe", answer_row("a", UNSAFE)),
            ("ana", answer_row("a", SAFE)),
            ("ben", answer_row("a", SAFE)),
        ],
        "b": [("ben", answer_row("b", SAFE)), ("ana", answer_row("b", SAFE))],
    }
    found = labeller_pairs(by_item)
    assert len(found) == 4  # a: ana-ben, ana-zoe, ben-zoe; b: ana-ben
    first = found[1]
    assert (first.item, first.reference.labels["verdict"], first.answer.labels["verdict"]) == (
        "a",
        "safe",
        "unsafe",
    )
    measured = measure(found)
    assert measured["pairs"] == 4
    assert measured["items"] == 2


def test_days_pool_into_one_table_whatever_values_each_day_saw():
    day1 = {"values": ["safe", "unsafe"], "table": [[8, 1], [1, 10]]}
    day2 = {"values": ["safe"], "table": [[5]]}
    pooled = pool_tables([day1, day2], "label")
    # safe/safe 13, safe/unsafe 1, unsafe/safe 1, unsafe/unsafe 10: p_o = 23/25; marginals 14/25 and 11/25
    # both ways: p_e = (14*14 + 11*11)/625 = 317/625 -> kappa = (575 - 317) / (625 - 317) = 258/308.
    assert pooled == {"n": 25, "kappa": pytest.approx(258 / 308), "measure": "kappa"}
    scores = pool_tables(
        [{"values": [3, 4], "table": [[1, 0], [0, 1]]}, {"values": [7], "table": [[2]]}], "score"
    )
    assert scores is not None
    assert scores["measure"] == "weighted_kappa"
    assert scores["kappa"] == pytest.approx(1.0)
    assert pool_tables([], "label") is None


def test_nothing_to_measure():
    empty = measure([])
    assert (empty["pairs"], empty["fields"], empty["unsafe"], empty["headline"]) == (0, {}, None, None)
