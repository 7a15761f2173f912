"""The report in a real browser (headless Chromium, installed by tools/ensure_chromium.sh where missing):
a person would see a page that is not blank, with its charts, and the browser reports no console error.
The report is the production path: the day's results in a tree laid out as the bucket, the second judge,
the raw records for excerpts, fourteen days of history, a month of people's labels and the review
sample, every default."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.report.daily import write_day_report
from app.report.store import LocalStore
from tools.browser import dump_dom, screenshot
from tools.report_sample import production_extras, write_sample_tree

pytestmark = [pytest.mark.integration, pytest.mark.cost(8)]

DAY = dt.date(2026, 11, 29)
WHITE_ISH = 235
# Colours the charts draw with (app.report.charts): the ok bar, the volume bars, unsafe, a severity.
CHART_COLOURS = {
    "ok green": (0x2E, 0x7D, 0x32),
    "volume blue": (0x15, 0x65, 0xC0),
    "unsafe red": (0xC6, 0x28, 0x28),
}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report-tree")
    write_sample_tree(root, DAY, records=300)
    from app.batch_job.report_cmd import _local_records

    written = write_day_report(
        LocalStore(root),
        DAY,
        compare=LocalStore(root / "vllm"),
        records=_local_records(root, DAY),
        **production_extras(),
    )
    return Path(written.page)


def problems_a_person_would_see(png: Path) -> list[str]:
    """What is wrong with the screenshot: (nearly) blank, too few colours for text and charts, or a
    chart colour missing."""
    pixels = np.asarray(Image.open(png).convert("RGB"), dtype=np.int32).reshape(-1, 3)
    problems = []
    # A blank page is the background alone (the header bar is about 3 % of this window).
    inked = float((pixels.min(axis=1) < WHITE_ISH).mean())
    if inked < 0.08:
        problems.append(f"the page is (nearly) blank: {inked:.1%} inked")
    colours = len(np.unique((pixels[:, 0] << 16) | (pixels[:, 1] << 8) | pixels[:, 2]))
    if colours < 500:
        problems.append(f"{colours} colours: too few for text and charts")
    for name, colour in CHART_COLOURS.items():
        found = int((np.abs(pixels - np.array(colour)).max(axis=1) <= 6).sum())
        if found < 300:
            problems.append(f"no {name} on screen ({found} pixels): the charts are not drawn")
    return problems


def test_the_page_looks_like_a_report_and_logs_no_console_error(page: Path, tmp_path: Path):
    # The first 2000 px: totals, the trend, the outcomes and the first distributions.
    run = screenshot(page, tmp_path / "report.png", width=1280, height=2000)
    assert run.console == [], f"console messages: {run.console}"
    assert Image.open(run.png).size == (1280, 2000)
    assert problems_a_person_would_see(run.png) == []


def test_the_look_check_fails_on_a_page_without_charts(tmp_path: Path):
    empty = tmp_path / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body><h1>LLM judge report</h1><p>No results.</p></body></html>")
    run = screenshot(empty, tmp_path / "empty.png", width=1280, height=2000)
    problems = problems_a_person_would_see(run.png)
    assert any("blank" in p for p in problems)
    assert sum("charts are not drawn" in p for p in problems) == len(CHART_COLOURS)


def test_judged_markup_stays_text_in_the_parsed_page(page: Path):
    dom = dump_dom(page)
    # The browser parsed no element out of a record: the sample's hostile response is a text node.
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;alert('xss')&lt;/script&gt;" in dom
    assert "&lt;/div&gt;&lt;/section&gt;&lt;h1&gt;owned&lt;/h1&gt;" in dom
    assert re.search(r"<a[\s>]", dom) is None  # the link is not an element...
    assert '&lt;a href="javascript:alert(1)"&gt;' in dom
    assert dom.count("<h1") == 1
    # The agreement with people is there, with a labeller named in markup shown as text.
    assert "Agreement with people" in dom
    assert "&lt;b&gt;carol&lt;/b&gt;" in dom
    assert re.search(r"<b>\s*carol", dom) is None
