"""The report page: one self-contained HTML file from report.json's numbers (Jinja2, autoescaped).

Everything that comes from a record (ids, sources, reasoning, excerpts, error messages, even label
values) is text to the page: Jinja2 escapes it, and the only markup let through unescaped is the SVG
matplotlib draws (``Markup``), whose text matplotlib escapes itself. The page carries a Content Security
Policy that allows no script, no connection and no resource outside the file, so a viewer fetches
nothing, and an escaping bug could not run script or load anything either.
"""

from __future__ import annotations

from itertools import count
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from app.report import charts

__all__ = ["CONTENT_SECURITY_POLICY", "render_page"]

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'"

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    extensions=["jinja2.ext.do"],
)


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f} %"


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


_ENV.filters["pct"] = _pct
_ENV.filters["num"] = _num


def _trusted(svg: str) -> Markup:
    # The one place markup is let through: matplotlib's own SVG, whose text matplotlib escapes.
    return Markup(svg)  # noqa: S704


def _charts(report: dict[str, Any]) -> dict[str, Any]:
    totals = report["totals"]
    by_source = report["by_source"]
    drawn: dict[str, Any] = {"labels": {}, "members": {}, "scores": None, "confusion": {}, "people": None}
    # Keys scope each chart's element ids; they are numbered, since field names come from the lines.
    keys = (f"chart-{n}" for n in count(1))
    if totals["records"]:
        drawn["status"] = _trusted(charts.status_chart(totals["status"]))
    for kind in ("labels", "members"):
        for name, overall in totals[kind].items():
            rows = {"all": overall, **{src: s[kind].get(name, {}) for src, s in by_source.items()}}
            # A list field (categories) is drawn as counts of each member, without the answers that have
            # none: as shares, "(none)" would fill every bar.
            values = [v for v in overall if kind == "labels" or v != "(none)"]
            if not values:
                continue  # every answer has an empty list: nothing to draw, the table says so
            drawn[kind][name] = _trusted(
                charts.label_chart(name, rows, values, key=next(keys), shares=kind == "labels")
            )
    if totals["scores"]:
        drawn["scores"] = _trusted(charts.score_chart(totals["scores"], key=next(keys)))
    if len(report["trend"]) > 1:
        drawn["trend"] = _trusted(charts.trend_chart(report["trend"]))
    trend = (report.get("people") or {}).get("trend")
    if trend and any(p["judges"] for p in trend["points"]):
        roles = [j["role"] for j in report["people"]["judges"]]
        drawn["people"] = _trusted(charts.people_chart(trend["points"], roles, next(keys)))
    agreement = report.get("agreement")
    if agreement:
        for name, stats in agreement["fields"].items():
            drawn["confusion"][name] = _trusted(
                charts.confusion_chart(name, stats["values"], stats["table"], agreement["judges"], next(keys))
            )
    return drawn


def render_page(report: dict[str, Any]) -> str:
    return _ENV.get_template("report.html.j2").render(
        report=report, charts=_charts(report), csp=CONTENT_SECURITY_POLICY
    )
