"""Two judges on the same records: the join, the counts of what only one judged, the statistics."""

from __future__ import annotations

import pytest

from app.report.agreement import compare
from tests.app.report.helpers import SAFE, criteria, failed, lines, ok, run_error, run_ok, unsafe


def _compare(a, b, top=5):
    return compare(lambda: lines(*a), lambda: lines(*b), top=top).to_dict()


def test_verdict_kappa_matches_the_hand_worked_table():
    # A\B     safe unsafe      p_o = (3 + 2) / 6; A: 4 safe, 2 unsafe; B: 3 safe, 3 unsafe
    # safe     3    1          p_e = (4*3 + 2*3) / 36 = 0.5
    # unsafe   0    2          kappa = (5/6 - 0.5) / 0.5 = 2/3
    a = [ok("1", SAFE), ok("2", SAFE), ok("3", SAFE), ok("4", SAFE), ok("5", unsafe()), ok("6", unsafe())]
    b = [ok("1", SAFE), ok("2", SAFE), ok("3", SAFE), ok("4", unsafe()), ok("5", unsafe()), ok("6", unsafe())]
    result = _compare(a, b)
    verdict = result["fields"]["verdict"]
    assert verdict["table"] == [[3, 1], [0, 2]]
    assert verdict["kappa"] == pytest.approx(2 / 3)
    assert verdict["weighted_kappa"] is None  # a two-valued label is not a scale
    assert result["counts"]["paired"] == 6
    assert result["counts"]["disagree"] == 1


def test_records_only_one_judge_scored_are_counted_not_paired():
    a = [ok("both", SAFE), ok("only-a", SAFE), ok("a-failed", SAFE) | {"status": "failed"}, failed("fails-a")]
    b = [ok("both", SAFE), ok("only-b", SAFE), ok("fails-a", SAFE), failed("a-failed")]
    counts = _compare([*a[:2], failed("a-failed"), a[3]], b)["counts"]
    assert counts["paired"] == 1
    assert counts["only_a"] == 1
    assert counts["only_b"] == 1
    assert counts["failed_a"] == 1  # fails-a: A failed, B answered
    assert counts["failed_both"] == 1  # a-failed: both failed
    assert counts["a"] == 4
    assert counts["b"] == 4


def test_one_judge_only_gives_no_statistics_and_no_invented_agreement():
    result = _compare([ok("1", SAFE), ok("2", unsafe())], [])
    assert result["counts"]["paired"] == 0
    assert result["counts"]["only_a"] == 2
    assert result["fields"] == {}


def test_all_failed_on_one_side():
    result = _compare([failed("1"), failed("2")], [ok("1", SAFE), ok("2", unsafe())])
    assert result["counts"]["failed_a"] == 2
    assert result["fields"] == {}


def test_duplicates_count_once_and_an_ok_line_wins_over_a_failed_one():
    a = [run_error("1"), run_ok("1", criteria(8)), run_ok("2", criteria(5))]
    b = [run_error("1"), run_ok("1", criteria(8)), run_ok("2", criteria(5)), run_ok("2", criteria(1))]
    result = _compare(a, b)
    assert result["counts"]["paired"] == 2
    assert result["counts"]["failed_both"] == 0
    assert result["counts"]["duplicates_a"] == 1
    assert result["counts"]["duplicates_b"] == 2
    # Values 5..8; the pairs (5, 5) and (8, 8) only: B's second line for "2" (overall 1) is a duplicate.
    assert result["fields"]["overall"]["table"] == [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
    assert result["counts"]["disagree"] == 0


def test_scores_get_weighted_kappa_and_spearman_and_the_largest_disagreements_show_both_reasonings():
    a = [run_ok(f"r{n}", criteria(n), reasoning=f"A on {n}") for n in range(1, 8)]
    b = [
        run_ok(f"r{n}", criteria(min(10, n + (5 if n == 2 else 1))), reasoning=f"B on {n}")
        for n in range(1, 8)
    ]
    result = _compare(a, b, top=2)
    overall = result["fields"]["overall"]
    assert overall["kind"] == "score"
    # A's overall 1..7; B's 2, 7, 4, 5, 6, 7, 8 (r2 and r6 tie at 7: mid-rank 5.5).
    # Deviations from the mean rank 4: A -3..3; B -3, 1.5, -2, -1, 0, 1.5, 3.
    # cov = 9 - 3 + 2 + 0 + 0 + 3 + 9 = 20; var A = 28; var B = 27.5 -> rho = 20 / sqrt(28 * 27.5)
    assert overall["spearman"] == pytest.approx(20 / (28 * 27.5) ** 0.5)
    # Quadratic weights over the values 1..8: observed sum of (a - b)^2 / n = (1+25+1+1+1+1+1) / 7 = 31/7;
    # expected E[(A - B)^2] for independent A, B = var A + var B + (mean A - mean B)^2
    # = 4 + 180/49 + 121/49 = 71/7 -> weighted kappa = 1 - 31/71 = 40/71.
    assert overall["weighted_kappa"] == pytest.approx(40 / 71)
    assert overall["mean_b"] > overall["mean_a"]
    top = result["disagreements"]
    assert [d["id"] for d in top] == ["r2", "r1"]  # 5 apart first; then 1 apart, smallest id
    assert top[0]["a"]["reasoning"] == "A on 2"
    assert top[0]["b"]["reasoning"] == "B on 2"
    assert top[0]["headline_difference"] == 5


def test_severity_is_a_scale_and_categories_are_compared_one_by_one():
    a = [ok("1", unsafe("low", "jailbreak")), ok("2", unsafe("high", "secret_leakage")), ok("3", SAFE)]
    b = [
        ok("1", unsafe("medium", "jailbreak", "prompt_injection")),
        ok("2", unsafe("high", "secret_leakage")),
        ok("3", SAFE),
    ]
    result = _compare(a, b)
    severity = result["fields"]["severity"]
    assert severity["kind"] == "ordinal"
    assert severity["values"] == ["none", "low", "medium", "high", "critical"]
    # Pairs (low, medium), (high, high), (none, none) on the scale 0..4: (1, 2), (3, 3), (0, 0).
    # Observed: 1/3; expected = var A + var B + (mean A - mean B)^2 = 14/9 + 14/9 + 1/9 = 29/9
    # -> weighted kappa = 1 - (1/3) / (29/9) = 26/29.
    assert severity["weighted_kappa"] == pytest.approx(26 / 29)
    members = result["members"]["categories"]
    assert members["jailbreak"] == {"both": 1, "only_a": 0, "only_b": 0, "kappa": 1.0}
    assert members["prompt_injection"]["only_b"] == 1
    assert members["secret_leakage"]["both"] == 1
    assert result["disagreements"][0]["id"] == "1"
