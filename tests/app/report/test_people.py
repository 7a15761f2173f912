"""The report's "Agreement with people", its 30-day trend and pooled kappa, the flagged rate's deviation
from its fortnight, and the day's review sample chosen in the report's one pass.

The days here are small and the tables are worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.judge.gold import Label
from app.judge.prompt_file import PromptFile
from app.report.build import LineSource, ReportRequest, build_report
from app.report.daily import ReviewRequest, write_day_report
from app.report.page import render_page
from app.report.people import PeopleSettings, day_people, flagged_rate_drift, people_trend
from app.report.rows import parse_row
from app.report.store import LocalStore, people_path
from app.review.labelstudio import controls
from app.review.sample import ReviewSampler, ReviewSettings
from tests.app.report.helpers import SAFE, lines, ok, unsafe
from tests.app.report.test_page import SCRIPT, _parse

ROOT = Path(__file__).resolve().parents[3]
SECURITY = PromptFile.load(ROOT / "prompts" / "security-judge.prompt.yml")
DAY = dt.date(2026, 11, 29)
NOW = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)
IDS = [f"r{n:02d}" for n in range(40)]
# Judge A: r00-r19 unsafe, r20-r39 safe. Judge B: the same, and r20-r23 unsafe too.
A = [ok(i, unsafe("high") if n < 20 else SAFE) for n, i in enumerate(IDS)]
B = [ok(i, unsafe("high") if n < 24 else SAFE) for n, i in enumerate(IDS)]
# People: as judge A, except r00-r03 safe.
PEOPLE = [
    Label(
        i,
        "ana",
        {k: v for k, v in (SAFE if n < 4 or n >= 20 else unsafe("high")).items() if k != "reasoning"},
    )
    for n, i in enumerate(IDS)
]


def people_report(
    labels: list[Label], min_labels: int = 30, compare: list[dict[str, Any]] | None = B
) -> dict[str, Any]:
    request = ReportRequest(
        title="t",
        day=DAY,
        results=LineSource("a", lambda: lines(*A)),
        compare=None if compare is None else LineSource("b", lambda: lines(*compare)),
        judges=("vertex: gemini", "openai: qwen"),
        labels=labels,
        people=PeopleSettings(min_labels=min_labels),
    )
    return build_report(request, lambda: NOW)


def test_each_judge_is_measured_against_the_days_labels():
    people = people_report(PEOPLE)["people"]
    a, b = people["judges"]
    # A: people \ judge  safe unsafe  -> p_o 36/40; people 24/16, judge 20/20: p_e 1/2 -> kappa 0.8
    #      safe           20     4
    #      unsafe          0    16
    assert (a["role"], a["name"], a["n"], a["enough"]) == ("judge", "vertex: gemini", 40, True)
    assert a["table"]["table"] == [[20, 4], [0, 16]]
    assert a["headline"]["value"] == pytest.approx(0.8)
    assert a["accuracy"] == pytest.approx(0.9)
    assert a["unsafe"]["recall"] == 1.0
    # B flags r20-r23 too: [[16, 8], [0, 16]]: p_o 32/40; judge 16/24: p_e (24*16 + 16*24)/1600 = 0.48
    # -> kappa 0.32 / 0.52.
    assert (b["role"], b["name"]) == ("second judge", "openai: qwen")
    assert b["headline"]["value"] == pytest.approx(0.32 / 0.52)
    assert (people["labels"], people["items"], people["labellers"]) == (40, 40, ["ana"])


def test_under_the_minimum_a_judge_gets_no_number():
    people = people_report(PEOPLE, min_labels=41)["people"]
    assert people["judges"]
    for judge in people["judges"]:
        assert judge["enough"] is False
        assert not {"headline", "accuracy", "fields", "unsafe"} & set(judge)
        assert judge["n"] == 40  # the count is not a claim about the judge: it is shown


def test_the_section_shows_no_number_under_the_minimum_and_escapes_names():
    """Labellers and a judge named with markup: too few labels for a number, then enough for the judge's
    table of every field (its caption names the judge)."""
    hostile = [Label(x.id, SCRIPT, x.labels) for x in PEOPLE]
    request = ReportRequest(
        title="t",
        day=DAY,
        results=LineSource("a", lambda: lines(*A)),
        judges=(f"{SCRIPT} judge", "b"),
        labels=hostile,
        people=PeopleSettings(min_labels=41),
    )
    html = render_page(build_report(request, lambda: NOW) | {"drift": None})
    start = html.index('<section id="people">')
    section = html[start : html.index("</section>", start)]
    assert "not enough labels (40 of 41)" in section
    assert "0.800" not in section
    assert "90.0 %" not in section
    assert "script" not in _parse(html).tags
    assert section.count("&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;") == 2  # a labeller, a judge

    # With enough labels, the judge's name heads its table of every field, and the trend names it too.
    enough = render_page(
        build_report(replace(request, people=PeopleSettings(min_labels=1)), lambda: NOW) | {"drift": None}
    )
    start = enough.index('<section id="people">')
    section = enough[start : enough.index("</section>", start)]
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; judge: every field" in section
    assert "script" not in _parse(enough).tags


def test_no_labels_yet_says_how_to_add_them():
    request = ReportRequest(title="t", day=DAY, results=LineSource("a", lambda: lines(A[0])), labels=[])
    html = render_page(build_report(request, lambda: NOW) | {"drift": None})
    assert "No labels for this day yet" in html
    assert f"import-labels --date {DAY}" in html


# --- the trend and the pooled kappa -------------------------------------------------------------------------


def _earlier(store: LocalStore, day: dt.date, labels: list[Label]) -> None:
    rows = {line["id"]: parse_row(line) for line in A}
    entry = day_people(day, labels, [("vertex: gemini", rows)], PeopleSettings())
    store.write(people_path(day), json.dumps(entry).encode(), "application/json")


def _two_agreeing_days(root: Path) -> LocalStore:
    """Two earlier labelled days (3 and 6 days back) where people and judge A agree fully:
    [[20, 0], [0, 20]]."""
    store = LocalStore(root)
    agreeing = [
        Label(x.id, "ben", {k: v for k, v in a["answer"].items() if k != "reasoning"})
        for x, a in zip(PEOPLE, A, strict=True)
    ]
    for back in (3, 6):
        _earlier(store, DAY - dt.timedelta(days=back), agreeing)
    return store


def test_the_trend_reads_earlier_imports_and_pools_the_last_labelled_days(tmp_path):
    store = _two_agreeing_days(tmp_path)
    today = people_report(PEOPLE, compare=None)["people"]
    trend = people_trend(store, DAY, today, PeopleSettings(min_labels=30, kappa_days=2))
    labelled = [p for p in trend["points"] if p["judges"]]
    assert [p["day"] for p in labelled] == ["2026-11-23", "2026-11-26", "2026-11-29"]
    assert len(trend["points"]) == 30
    assert labelled[0]["judges"]["judge"]["kappa"] == pytest.approx(1.0)
    # The last two labelled days pooled: [[20, 0], [0, 20]] + [[20, 4], [0, 16]] = [[40, 4], [0, 36]]:
    # p_o 76/80; people 44/36, judge 40/40: p_e 1/2 -> kappa 0.45 / 0.5 = 0.9.
    window = trend["window"]["judge"]
    assert window["days"] == ["2026-11-26", "2026-11-29"]
    assert (window["n"], window["kappa"]) == (80, pytest.approx(0.9))
    few = people_trend(store, DAY, today, PeopleSettings(min_labels=81, kappa_days=2))["window"]["judge"]
    assert (few["enough"], few["kappa"]) == (False, None)


BAD_JUDGES = {
    "no role": lambda j: {k: v for k, v in j.items() if k != "role"},
    "n as text": lambda j: j | {"n": "40"},
    "kappa as text": lambda j: j | {"headline": j["headline"] | {"value": "high"}},
    "table not square": lambda j: j | {"table": j["table"] | {"table": [[20, 0]]}},
    "table counts as text": lambda j: j | {"table": j["table"] | {"table": [["20", 0], [0, 20]]}},
    "table without kind": lambda j: j | {"table": {k: v for k, v in j["table"].items() if k != "kind"}},
}


@pytest.mark.parametrize("change", sorted(BAD_JUDGES))
def test_an_earlier_day_of_another_shape_counts_as_unlabelled(tmp_path, change):
    """An earlier day's agreement.json of another shape (another version's, a hand edit) is a day without
    labels, never a failed report; the days that have this version's shape still count."""
    store = _two_agreeing_days(tmp_path)
    bad_day = DAY - dt.timedelta(days=3)
    entry = store.read_json(people_path(bad_day))
    (judge,) = entry["judges"]
    assert judge["enough"]
    assert {"table", "headline"} <= judge.keys()
    entry["judges"] = [BAD_JUDGES[change](judge)]
    store.write(people_path(bad_day), json.dumps(entry).encode(), "application/json")
    today = people_report(PEOPLE, compare=None)["people"]
    trend = people_trend(store, DAY, today, PeopleSettings(min_labels=30, kappa_days=2))
    assert [p["day"] for p in trend["points"] if p["judges"]] == ["2026-11-23", "2026-11-29"]
    assert trend["window"]["judge"]["days"] == ["2026-11-23", "2026-11-29"]


# --- the flagged rate -----------------------------------------------------------------------------------


def point(rate: float | None, records: int = 1000) -> dict[str, Any]:
    return {"day": "x", "records": records, "failure_rate": 0.0, "flagged_rate": rate}


def test_the_flagged_rate_in_standard_deviations_of_its_fortnight():
    # Baseline 0.10 0.12 0.08 0.10 0.11 0.09 0.10: mean 0.10; squared deviations sum 0.0010 over 6
    # -> sd 0.012910; today's binomial error sqrt(0.1 * 0.9 / 1000) = 0.009487 is smaller, so sigma = sd;
    # today 0.20 -> 0.10 / 0.012910 = 7.746 sigmas.
    points = [point(r) for r in (0.10, 0.12, 0.08, 0.10, 0.11, 0.09, 0.10, 0.20)]
    drift = flagged_rate_drift(points)
    assert drift is not None
    assert drift["mean"] == pytest.approx(0.10)
    assert drift["sd"] == pytest.approx(0.012910, abs=1e-6)
    assert drift["sigmas"] == pytest.approx(0.10 / 0.0129099, rel=1e-4)


def test_a_flat_fortnight_or_a_small_day_does_not_turn_noise_into_sigmas():
    flat = [point(0.10) for _ in range(14)]
    # sd 0: the binomial error of a 50-answer day, sqrt(0.09 / 50) = 0.042426, is the yardstick.
    drift = flagged_rate_drift([*flat, point(0.14, records=50)])
    assert drift is not None
    assert drift["sigmas"] == pytest.approx(0.04 / 0.0424264, rel=1e-4)
    # Only the 14 days before count: a 15th older one is left out.
    assert flagged_rate_drift([point(0.9), *flat, point(0.10)])["baseline_days"] == 14  # type: ignore[index]


def test_too_little_history_gives_no_number():
    assert flagged_rate_drift([point(0.1)] * 6 + [point(0.5)])["sigmas"] is None  # type: ignore[index]
    assert flagged_rate_drift([point(0.1)] * 10 + [point(None)]) is None
    gaps = [{"day": "x", "records": None, "failure_rate": None, "flagged_rate": None}] * 10
    assert flagged_rate_drift([*gaps, point(0.1), point(0.2)])["sigmas"] is None  # type: ignore[index]


# --- the review sample ----------------------------------------------------------------------------------

SEVERE = ["critical", "high", "high", "medium", "low", "low", "low"]


def sample_day(
    order_seed: int | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """30 records: s00-s06 flagged (severities above), the rest safe; judge B disagrees on s05-s12."""
    a = [ok(f"s{n:02d}", unsafe(SEVERE[n]) if n < len(SEVERE) else SAFE) for n in range(30)]
    b = [
        ok(x["id"], unsafe("medium", "jailbreak") if x["answer"] == SAFE else SAFE) if 5 <= n <= 12 else x
        for n, x in enumerate(a)
    ]
    records = [{"id": x["id"], "prompt": f"prompt {x['id']}", "response": f"response {x['id']}"} for x in a]
    if order_seed is not None:
        random.Random(order_seed).shuffle(a)
        random.Random(order_seed + 1).shuffle(b)
    return a, b, records[:-1]  # the last record's text is missing


def review(
    day: dt.date, order_seed: int | None = None, per_stratum: int = 4, random_slice: int = 5
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    a, b, records = sample_day(order_seed)
    sampler = ReviewSampler(day.isoformat(), ReviewSettings(per_stratum, random_slice), controls(SECURITY))
    request = ReportRequest(
        title="t",
        day=day,
        results=LineSource("a", lambda: lines(*a)),
        compare=LineSource("b", lambda: lines(*b)),
        records=LineSource("records", lambda: lines(*records)),
        judges=("vertex: gemini", "openai: qwen"),
        review=sampler,
    )
    return build_report(request, lambda: NOW)["review"], sampler.built


def test_the_sample_takes_the_most_severe_flagged_and_the_largest_disagreements():
    summary, tasks = review(DAY)
    by_id = {t["data"]["record_id"]: t for t in tasks}
    flagged = [i for i, t in by_id.items() if "flagged" in t["data"]["strata"]]
    assert flagged == ["s00", "s01", "s02", "s03"]  # critical, then the highs, then medium: most severe first
    disagreeing = [i for i, t in by_id.items() if "disagreement" in t["data"]["strata"]]
    # B differs on s05-s12; a verdict flip is a larger difference than any other: s05, s06 (unsafe low vs
    # safe) and s07-s12 (safe vs unsafe medium) all flip; the largest total differences come first.
    assert len(disagreeing) == 4
    assert set(disagreeing) <= {f"s{n:02d}" for n in range(5, 13)}
    assert summary["strata"]["flagged"] == 4
    assert summary["strata"]["disagreement"] == 4
    assert 1 <= summary["strata"]["random"] <= 5
    assert len(by_id) == len(tasks)  # each record once, with every stratum it is in
    for entry in tasks:
        versions = [p["model_version"] for p in entry["predictions"]]
        assert versions == ["vertex: gemini", "openai: qwen"]
        assert entry["data"]["prompt"] == f"prompt {entry['data']['record_id']}"


def test_the_sample_is_the_same_on_a_rerun_whatever_the_line_order_and_moves_with_the_date():
    summary, tasks = review(DAY)
    assert review(DAY) == (summary, tasks)
    shuffled = review(DAY, order_seed=3)[1]
    assert [t["data"]["record_id"] for t in shuffled] == [t["data"]["record_id"] for t in tasks]
    randoms = {t["data"]["record_id"] for t in tasks if t["data"]["strata"] == ["random"]}
    later = {
        t["data"]["record_id"]
        for t in review(DAY + dt.timedelta(days=1))[1]
        if t["data"]["strata"] == ["random"]
    }
    assert randoms != later


def test_a_record_without_text_is_left_out_and_counted():
    summary, tasks = review(DAY, per_stratum=0, random_slice=30)
    assert summary["without_text"] == 1
    assert len(tasks) == 29
    assert "s29" not in {t["data"]["record_id"] for t in tasks}


def test_the_day_report_writes_the_review_files_beside_itself(tmp_path):
    store = LocalStore(tmp_path)
    a, b, records = sample_day()
    for root, items in ((tmp_path, a), (tmp_path / "vllm", b)):
        (root / "judgements" / str(DAY)).mkdir(parents=True)
        (root / "judgements" / str(DAY) / "results.jsonl").write_bytes(b"\n".join(lines(*items)))
    source = LineSource("records", lambda: lines(*records))
    review_request = ReviewRequest(SECURITY, "security-judge", per_stratum=2, random_slice=2)
    written = write_day_report(
        store,
        DAY,
        compare=LocalStore(tmp_path / "vllm"),
        records=source,
        review=review_request,
        now=lambda: NOW,
        days=2,
    )
    tasks = json.loads((tmp_path / "review" / str(DAY) / "tasks.json").read_text())
    assert len(tasks) == written.report["review"]["tasks"]
    config = (tmp_path / "review" / "labelling-config" / "security-judge.xml").read_text()
    assert config == (ROOT / "review" / "labelling-config" / "security-judge.xml").read_text()
    assert "Review sample for people" in Path(written.page).read_text()
