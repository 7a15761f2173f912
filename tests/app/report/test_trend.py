"""The trend: each day's point from report.json, else summary.json, else its results; gaps stay gaps."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from app.report.day import DayAggregate
from app.report.rows import RowReader
from app.report.store import LocalStore
from app.report.trend import load_history, point_from_aggregate, point_from_summary
from tests.app.report.helpers import criteria, failed, lines, run_ok

DAY = dt.date(2026, 11, 29)


def test_a_point_from_collects_summary():
    summary = {
        "records": 10,
        "counts": {"ok": 8, "failed": 2, "invalid": 0, "missing": 0},
        "flagged": {"count": 2, "ids": ["a", "b"]},
        "distributions": {"verdict": {"safe": 6, "unsafe": 2}, "scores.overall": {"4": 2, "8": 6}},
    }
    point = point_from_summary(DAY, summary)
    assert point["records"] == 10
    assert point["failure_rate"] == pytest.approx(0.2)
    assert point["flagged_rate"] == pytest.approx(0.25)
    assert point["means"] == {"overall": pytest.approx(7.0)}  # enum counts are not scores


def test_history_reads_the_cheapest_source_and_leaves_gaps(tmp_path):
    store = LocalStore(tmp_path)
    day = lambda n: DAY - dt.timedelta(days=n)  # noqa: E731
    (tmp_path / "reports" / day(1).isoformat()).mkdir(parents=True)
    (tmp_path / "reports" / day(1).isoformat() / "report.json").write_text(
        json.dumps(
            {
                "point": {
                    "day": day(1).isoformat(),
                    "records": 5,
                    "failure_rate": 0.0,
                    "flagged_rate": 0.2,
                    "means": {},
                }
            }
        )
    )
    (tmp_path / "judgements" / day(2).isoformat()).mkdir(parents=True)
    (tmp_path / "judgements" / day(2).isoformat() / "summary.json").write_text(
        json.dumps({"records": 4, "counts": {"ok": 4}, "flagged": {"count": 1}})
    )
    (tmp_path / "judgements" / day(3).isoformat()).mkdir(parents=True)
    (tmp_path / "judgements" / day(3).isoformat() / "results.jsonl").write_bytes(
        b"\n".join(lines(run_ok("a", criteria(4)), run_ok("b", criteria(6)), failed("c")))
    )
    today = {"day": DAY.isoformat(), "records": 1, "failure_rate": 0.0, "flagged_rate": 0.0, "means": {}}
    points = load_history(store, DAY, 5, lambda: today)
    assert [p["day"] for p in points] == [day(n).isoformat() for n in (4, 3, 2, 1, 0)]
    assert points[0]["records"] is None  # nothing that day: a gap, not a zero
    assert points[1]["records"] == 3
    assert points[1]["means"]["overall"] == pytest.approx(5.0)
    assert points[2]["flagged_rate"] == pytest.approx(0.25)
    assert points[3]["records"] == 5
    assert points[4] is today


def test_a_torn_report_json_falls_back_to_the_summary(tmp_path):
    (tmp_path / "reports" / DAY.isoformat()).mkdir(parents=True)
    (tmp_path / "reports" / DAY.isoformat() / "report.json").write_text('{"point": ')
    (tmp_path / "judgements" / DAY.isoformat()).mkdir(parents=True)
    (tmp_path / "judgements" / DAY.isoformat() / "summary.json").write_text(
        json.dumps({"records": 2, "counts": {"ok": 1}})
    )
    assert load_history(LocalStore(tmp_path), DAY, 1)[0]["records"] == 2


GOOD_POINT = {
    "day": DAY.isoformat(),
    "records": 5,
    "failure_rate": 0.0,
    "flagged_rate": 0.2,
    "means": {"x": 3.0},
}


@pytest.mark.parametrize(
    "point",
    [
        {k: v for k, v in GOOD_POINT.items() if k != "records"},  # an older version's point
        GOOD_POINT | {"records": "5"},
        GOOD_POINT | {"records": 5.5},
        GOOD_POINT | {"failure_rate": "0.1"},
        GOOD_POINT | {"flagged_rate": True},
        GOOD_POINT | {"means": {"x": "3"}},
        GOOD_POINT | {"means": []},
        GOOD_POINT | {"day": "<b>2026-11-29</b>"},
        GOOD_POINT | {"day": "2026-11-28"},  # another day's point, copied
    ],
)
def test_a_report_json_point_of_another_shape_falls_back_to_the_summary(tmp_path, point):
    """Before, such a point went to the page as it was: a missing key or a string where a number belongs
    failed today's whole report (KeyError, numpy's UFuncTypeError), naming neither the file nor the day."""
    (tmp_path / "reports" / DAY.isoformat()).mkdir(parents=True)
    (tmp_path / "reports" / DAY.isoformat() / "report.json").write_text(json.dumps({"point": point}))
    (tmp_path / "judgements" / DAY.isoformat()).mkdir(parents=True)
    (tmp_path / "judgements" / DAY.isoformat() / "summary.json").write_text(
        json.dumps({"records": 2, "counts": {"ok": 1}})
    )
    assert load_history(LocalStore(tmp_path), DAY, 1)[0]["records"] == 2


def test_a_report_json_point_of_this_versions_shape_is_read_as_it_is(tmp_path):
    (tmp_path / "reports" / DAY.isoformat()).mkdir(parents=True)
    (tmp_path / "reports" / DAY.isoformat() / "report.json").write_text(json.dumps({"point": GOOD_POINT}))
    assert load_history(LocalStore(tmp_path), DAY, 1) == [GOOD_POINT]


def test_the_point_a_report_writes_is_read_back_as_it_is(tmp_path):
    """The writer's own point (build.py: ``point_from_aggregate``, through JSON) passes the shape check."""
    rows = RowReader("results.jsonl").rows(
        lines(run_ok("a", criteria(4)), run_ok("b", criteria(6)), failed("c"))
    )
    written = json.loads(json.dumps(point_from_aggregate(DAY, DayAggregate(shown=0).add_all(rows))))
    assert written["means"], "a point with scores, so their check is exercised"
    (tmp_path / "reports" / DAY.isoformat()).mkdir(parents=True)
    (tmp_path / "reports" / DAY.isoformat() / "report.json").write_text(json.dumps({"point": written}))
    assert load_history(LocalStore(tmp_path), DAY, 1) == [written]
