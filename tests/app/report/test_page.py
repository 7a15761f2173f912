"""The page: judged text is text, the file is self-contained, the charts are drawn for every kind of day."""

from __future__ import annotations

import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from app.report.build import LineSource, ReportRequest, build_report
from app.report.daily import write_day_report, write_file_report
from app.report.page import CONTENT_SECURITY_POLICY, render_page
from app.report.store import LocalStore
from tests.app.report.helpers import SAFE, criteria, failed, lines, ok, run_error, run_ok, unsafe

NOW = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)
SCRIPT = "<script>alert('xss')</script>"
CLOSE = "</div></section></main><h1>owned</h1>"
LINK = '<a href="javascript:alert(1)">javascript:alert(1)</a>'
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = [SCRIPT, CLOSE, LINK, IMG]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A report where every field a record can fill is filled with markup (rendered once)."""
    tmp_path = tmp_path_factory.mktemp("hostile")
    return tmp_path, _hostile_report(tmp_path)


def _hostile_report(tmp_path: Path) -> str:
    a = [
        ok(SCRIPT, unsafe("critical", reasoning=f"{SCRIPT} {CLOSE}"), source="web"),
        ok("r-2", unsafe("high", reasoning=LINK), source="$x^2$ and a stray $"),
        ok("r-3", SAFE | {"verdict": IMG}, source="api"),  # a label value no model has
        failed("r-4") | {"error": f"{CLOSE}{SCRIPT}"},
    ]
    b = [ok(SCRIPT, SAFE | {"reasoning": IMG}), ok("r-2", SAFE | {"reasoning": CLOSE}), ok("r-3", SAFE)]
    records = [
        {"id": SCRIPT, "prompt": CLOSE, "response": SCRIPT + LINK},
        {"id": "r-2", "prompt": IMG, "response": LINK},
    ]
    for name, items in (("a.jsonl", a), ("b.jsonl", b), ("records.jsonl", records)):
        (tmp_path / name).write_bytes(b"\n".join(lines(*items)))
    written = write_file_report(
        tmp_path / "a.jsonl",
        tmp_path / "out",
        compare=tmp_path / "b.jsonl",
        records=tmp_path / "records.jsonl",
        now=lambda: NOW,
    )
    return Path(written.page).read_text()


def test_record_text_is_shown_as_text_never_as_markup(hostile):
    html = hostile[1]
    parsed = _parse(html)
    assert "script" not in parsed.tags
    assert "a" not in parsed.tags
    assert "img" not in parsed.tags
    assert parsed.tags.count("h1") == 1  # the report's own title only
    assert not [(t, n) for t, n, _ in parsed.attrs if n.startswith("on")]
    assert "javascript:" not in " ".join(str(v) for _, _, v in parsed.attrs)
    # ...and each string is there, escaped, for a person to read.
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in html
    assert "&lt;/div&gt;&lt;/section&gt;&lt;/main&gt;&lt;h1&gt;owned&lt;/h1&gt;" in html
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;javascript:alert(1)&lt;/a&gt;" in html


def test_the_page_is_self_contained_and_forbids_script_and_network(hostile):
    html = hostile[1]
    parsed = _parse(html)
    csp = [v for t, n, v in parsed.attrs if t == "meta" and n == "content" and v and "default-src" in v]
    assert csp == [CONTENT_SECURITY_POLICY]
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY  # no script at all
    # No resource outside the file: the only references are matplotlib's in-document ones (#id) and
    # the heatmaps' own pixels (data: PNG).
    refs = [v for _, n, v in parsed.attrs if n in ("src", "href", "xlink:href")]
    assert refs
    assert all(v is not None and v.startswith(("#", "data:image/png;base64,")) for v in refs), refs
    assert "http://" not in html.replace('"http://www.w3.org/2000/svg"', "").replace(
        '"http://www.w3.org/1999/xlink"', ""
    )
    assert "https://" not in html
    ids = [v for _, n, v in parsed.attrs if n == "id"]
    assert len(ids) == len(set(ids)), "duplicate element ids between inlined charts"


def _render(*items, day=None, compare=None, history=None) -> tuple[dict, str]:
    request = ReportRequest(
        title="t",
        day=day,
        results=LineSource("r", lambda: lines(*items)),
        compare=None if compare is None else LineSource("c", lambda: lines(*compare)),
        history=history,
    )
    report = build_report(request, lambda: NOW)
    return report, render_page(report)


def _svg_count(html: str) -> int:
    return _parse(html).tags.count("svg")


def test_an_empty_day_renders_without_charts_and_says_so():
    report, html = _render(day=dt.date(2026, 11, 29))
    assert report["totals"]["records"] == 0
    assert "There are no result lines for this day" in html
    assert _svg_count(html) == 0


def test_answers_cut_at_the_token_limit_are_counted_with_their_share_of_thinking():
    request = ReportRequest(
        title="t",
        day=dt.date(2026, 11, 29),
        results=LineSource("r", lambda: lines(failed("a", reason="truncated"), ok("b", SAFE))),
        meta={
            "truncated": {"records": 1, "thoughts_tokens": 466, "output_tokens": 14, "thought_share": 0.9708}
        },
    )
    html = render_page(build_report(request, lambda: NOW))
    assert "Cut at the output token limit: 1 record(s); thinking took 97.1" in html


def test_a_day_where_everything_failed_shows_the_outcomes_only():
    report, html = _render(failed("a"), run_error("b"))
    assert report["totals"]["ok"] == 0
    assert _svg_count(html) == 1  # the outcome chart; no distribution of answers that do not exist
    assert "error:timeout" in html


def test_six_criteria_days_get_score_histograms_trend_and_agreement():
    a = [run_ok(f"r{n}", criteria(1 + n % 10, safety=2 + n % 8)) for n in range(40)]
    b = [run_ok(f"r{n}", criteria(1 + (n + n % 3) % 10)) for n in range(40)]
    day = dt.date(2026, 11, 29)

    def history(point):
        earlier = {
            "day": "2026-11-28",
            "records": 30,
            "failure_rate": 0.1,
            "flagged_rate": 0.2,
            "means": {"overall": 5.0},
        }
        return [earlier, point]

    report, html = _render(*a, day=day, compare=b, history=history)
    assert report["agreement"]["fields"]["overall"]["kind"] == "score"
    assert report["trend"][-1]["means"]["overall"] == pytest.approx(
        report["totals"]["scores"]["overall"]["mean"]
    )
    # outcomes, scores, trend, and one confusion matrix per criterion
    assert _svg_count(html) == 3 + 6
    assert "Lowest overall scores" in html


def test_the_same_input_renders_the_same_bytes():
    items = [ok("a", SAFE), ok("b", unsafe()), failed("c")]
    assert _render(*items)[1] == _render(*items)[1]


def test_report_json_is_the_numbers_behind_the_page(hostile):
    data = json.loads((hostile[0] / "out" / "report.json").read_text())
    assert data["schema_version"] == 1
    assert data["totals"]["records"] == 4
    assert data["agreement"]["counts"]["paired"] == 3
    assert data["flagged"][0]["excerpt"]["prompt"] == CLOSE


def _leak(field: str) -> str:
    """Markup that names its field: a tag ``<x-leak-FIELD>`` on the page means that field was not escaped.
    The leading quote and bracket close an attribute value first, for the fields shown inside one."""
    return f'"><x-leak-{field}>{field}</x-leak-{field}>'


def _leaked(html: str) -> list[str]:
    return sorted({tag.removeprefix("x-leak-") for tag in _parse(html).tags if tag.startswith("x-leak-")})


def test_every_string_the_inputs_can_set_is_escaped(tmp_path):
    """Beyond the record's text: sources, ids, failure reasons, field names and values of the answers,
    file and store names, the summary's model and prompt, unreadable lines and the title, each filled
    with markup that names it, in the day report of a bucket-like tree with a second judge. A field
    let through unescaped (``| safe``, ``Markup``, autoescape off) shows up as its tag."""
    day = dt.date(2026, 11, 29)

    def answer(verdict: str) -> dict[str, Any]:
        return {
            "reasoning": _leak("reasoning"),
            "verdict": verdict,
            _leak("label-name"): "x",
            _leak("score-name"): 3,
            "categories": [_leak("member-value")],
            _leak("member-name"): ["y"],
        }

    def unreadable(side: str) -> dict[str, Any]:
        return {"id": "u", "status": _leak(f"status-{side}"), "answer": {}}  # the reason quotes the status

    a = [
        {
            "id": _leak("id"),
            "source": _leak("source"),
            "status": "ok",
            "flagged": True,
            "answer": answer(_leak("label-value")),
        },
        {"id": _leak("failed-id"), "source": _leak("failed-source"), "status": "failed"}
        | {"reason": _leak("reason"), "error": _leak("error")},
        unreadable("a"),
    ]
    b = [
        {"id": _leak("id"), "source": _leak("b-source"), "status": "ok", "answer": answer("safe")},
        unreadable("b"),
    ]
    prompt = {"name": _leak("prompt"), "path": _leak("prompt-path"), "sha256": "<x-leak-sha>"}
    summaries = {"a": {"backend": _leak("backend"), "model": _leak("model"), "prompt": prompt}}
    summaries["b"] = {"backend": _leak("judge-b"), "model": "m"}
    roots = {}
    for name, items in (("a", a), ("b", b)):
        root = tmp_path / _leak(f"store-{name}").replace("/", "|")
        (root / "judgements" / day.isoformat()).mkdir(parents=True)
        (root / "judgements" / day.isoformat() / "results.jsonl").write_bytes(b"\n".join(lines(*items)))
        (root / "judgements" / day.isoformat() / "summary.json").write_text(json.dumps(summaries[name]))
        roots[name] = root
    records = [{"id": _leak("id"), "prompt": _leak("prompt-text"), "response": _leak("response-text")}]

    written = write_day_report(
        LocalStore(roots["a"]),
        day,
        compare=LocalStore(roots["b"]),
        records=LineSource("records", lambda: lines(*records)),
        title=_leak("title"),
        now=lambda: NOW,
    )
    html = Path(written.page).read_text()
    # A prompt named by a plain string (an older summary.json), on the same numbers.
    older = render_page({**written.report, "meta": {"prompt": _leak("prompt-string")}})

    fields = {"id", "source", "failed-id", "failed-source", "reason", "error", "reasoning", "title"}
    fields |= {"label-name", "label-value", "score-name", "member-name", "member-value", "b-source"}
    fields |= {"status-a", "status-b", "backend", "model", "judge-b", "prompt", "prompt-path"}
    fields |= {"store-a", "store-b", "prompt-text", "response-text"}
    absent = sorted(f for f in fields if f"&lt;x-leak-{f}&gt;" not in html)
    assert not absent, f"not on the page at all, so their escaping is not tested: {absent}"
    assert "&lt;x-leak-sha&gt;" in html
    assert "&lt;x-leak-prompt-string&gt;" in older
    assert _leaked(html) == [], "shown unescaped"
    assert _leaked(older) == [], "shown unescaped"
