"""Reading result lines of both producers, and the day's aggregate."""

from __future__ import annotations

import random

import pytest

from app.report.day import DayAggregate
from app.report.rows import RowError, RowReader, label_order, parse_row
from tests.app.report.helpers import SAFE, criteria, failed, lines, ok, run_error, run_ok, unsafe


def test_a_collect_line_and_a_judge_run_line_become_the_same_row():
    from_collect = parse_row(ok("r1", unsafe("critical", "secret_leakage", "pii_leakage")))
    from_run = parse_row(
        run_ok(
            "r1",
            {"verdict": "unsafe", "severity": "critical", "categories": ["secret_leakage", "pii_leakage"]},
            "Leaks a key.",
        )
    )
    for row in (from_collect, from_run):
        assert row.ok
        assert row.flagged
        assert row.labels == {"verdict": "unsafe", "severity": "critical"}
        assert row.members == {"categories": ["secret_leakage", "pii_leakage"]}
        assert row.reasoning == "Leaks a key."
    assert from_run.source == "unknown"  # app.judge run lines carry no source


def test_six_criteria_answers_are_scores_and_flagged_by_the_safety_threshold():
    nested = parse_row(ok("a", {"reasoning": "x", "scores": criteria(3, safety=4)}))
    flat = parse_row(run_ok(7, criteria(8, safety=5)))
    assert nested.scores["overall"] == 3
    assert nested.flagged  # safety 4 <= SAFETY_FLAG_THRESHOLD
    assert flat.id == "7"
    assert not flat.flagged


def test_failures_keep_their_status_and_reason():
    row = parse_row(failed("x", "invalid", "invalid_json"))
    assert (row.ok, row.failure_key) == (False, "invalid:invalid_json")
    run = parse_row(run_error("y", "rate_limited"))
    assert run.failure_key == "error:rate_limited"
    assert run.error == "the request timed out"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not a JSON object"),
        ({"status": "ok"}, "no id"),
        ({"id": "", "status": "ok", "answer": {}}, "no id"),
        ({"id": "a", "status": "done", "answer": {}}, "unknown status"),
        ({"id": "a", "status": "ok", "reason": "x"}, "without an answer"),
        ({"id": "a", "status": "ok"}, "neither"),
    ],
)
def test_lines_of_neither_format_are_refused_with_the_reason(data, message):
    with pytest.raises(RowError, match=message):
        parse_row(data)


def test_unreadable_lines_are_counted_and_skipped_not_fatal():
    reader = RowReader("results.jsonl")
    rows = list(reader.rows([lines(ok("a", SAFE))[0], b"", b"{torn", b'{"id": 1}', b"\xff\xfe"]))
    assert [r.id for r in rows] == ["a"]
    assert reader.unreadable == 3
    assert reader.examples[0] == "results.jsonl:3: not JSON"


def test_label_order_comes_from_the_answer_models_then_unknown_values_sorted():
    assert label_order("severity") == ["none", "low", "medium", "high", "critical"]
    assert label_order("verdict", {"unsafe", "maybe"}) == ["safe", "unsafe", "maybe"]


def _aggregate(*items):
    return DayAggregate(shown=3).add_all(RowReader("t").rows(lines(*items)))


def test_an_empty_day_has_zero_records_and_undefined_rates():
    totals = _aggregate().to_dict()["totals"]
    assert totals["records"] == 0
    assert totals["failure_rate"] is None
    assert totals["flagged_rate"] is None


def test_a_day_where_everything_failed_has_no_answers_and_no_invented_scores():
    data = _aggregate(failed("a"), failed("b", "missing", "no_prediction"), failed("c")).to_dict()
    assert data["totals"]["status"] == {"failed:vertex_error": 2, "missing:no_prediction": 1}
    assert data["totals"]["failure_rate"] == 1.0
    assert data["totals"]["flagged_rate"] is None  # no answers: not 0 %
    assert data["totals"]["labels"] == {}
    assert data["flagged"] == []
    assert [e["id"] for e in data["failure_examples"]["failed:vertex_error"]] == ["a", "c"]


def test_counts_by_source_and_value():
    data = _aggregate(
        ok("a", SAFE, "web"),
        ok("b", unsafe("low", "jailbreak"), "api"),
        ok("c", unsafe("high"), "api"),
        failed("d"),
    ).to_dict()
    totals = data["totals"]
    assert totals["records"] == 4
    assert totals["flagged"] == 2
    assert totals["flagged_rate"] == pytest.approx(2 / 3)
    assert totals["labels"]["severity"] == {"none": 1, "low": 1, "high": 1}  # scale order, zeros left out
    assert totals["members"]["categories"] == {"jailbreak": 1, "secret_leakage": 1, "(none)": 1}
    assert data["by_source"]["api"]["labels"]["verdict"] == {"unsafe": 2}
    assert data["by_source"]["web"]["status"] == {"ok": 1, "failed:vertex_error": 1}


def test_flagged_list_is_most_severe_first_and_does_not_depend_on_line_order():
    items = [
        ok("m1", unsafe("medium")),
        ok("c1", unsafe("critical")),
        ok("l1", unsafe("low")),
        ok("h2", unsafe("high")),
        ok("h1", unsafe("high")),
        ok("s", SAFE),
    ]
    expected = ["c1", "h1", "h2"]  # shown=3; equal severity: the smaller id first
    for seed in range(5):
        random.Random(seed).shuffle(items)
        assert [i["id"] for i in _aggregate(*items).to_dict()["flagged"]] == expected


def test_lowest_scores_are_listed_for_six_criteria_answers():
    data = _aggregate(*(run_ok(f"r{n}", criteria(n)) for n in range(1, 8))).to_dict()
    assert [i["id"] for i in data["lowest"]] == ["r1", "r2", "r3"]
    assert data["totals"]["scores"]["overall"]["mean"] == pytest.approx(4.0)
    assert data["totals"]["scores"]["overall"]["counts"] == {str(n): 1 for n in range(1, 8)}
