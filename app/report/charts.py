"""The report's charts: matplotlib figures saved as SVG, inlined in the page.

Only matplotlib's object-oriented API is used (``Figure`` + the SVG canvas, no pyplot): no global
figure state, no GUI backend, nothing fetched (matplotlib ships its fonts). Text stays text
(``svg.fonttype: none``; matplotlib escapes it), so labels are searchable and the SVG is small. Each
chart gets its own ``svg.hashsalt``, so the ids matplotlib generates (clip paths) are unique in a page
holding many charts; no metadata block (no date) keeps the output byte-identical run to run.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.ticker
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = [
    "confusion_chart",
    "label_chart",
    "people_chart",
    "score_chart",
    "status_chart",
    "trend_chart",
]

_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial"],
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10.0,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "legend.frameon": False,
    "figure.dpi": 72.0,
    # Record text (sources, labels) must never be read as mathtext: `$x$` would render as maths, and an
    # unbalanced `$` would raise and cost the whole report.
    "text.parse_math": False,
}
_OK = "#2e7d32"
_PALETTE = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#558b2f", "#4e342e", "#37474f", "#f9a825"]
# Colours that mean something: safe/none green-grey, then the severities from yellow to dark red.
_SEMANTIC = {
    "safe": _OK,
    "unsafe": "#c62828",
    "none": "#90a4ae",
    "low": "#fbc02d",
    "medium": "#fb8c00",
    "high": "#e53935",
    "critical": "#8e0000",
    "(none)": "#b0bec5",
}


# No RDF metadata block: no creation date (the same numbers give the same bytes) and nothing but the
# chart in the page.
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def _short(text: object, limit: int = 32) -> str:
    """A label as drawn: long ones are cut (the tables beside the charts show them whole)."""
    label = str(text)
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _colour(value: str, index: int) -> str:
    return _SEMANTIC.get(value, _PALETTE[index % len(_PALETTE)])


_KEY = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
_ID_REFERENCES = re.compile(r'( id="| xlink:href="#| href="#|url\(#)')


def _svg(fig: Figure, key: str) -> str:
    """The figure as an ``<svg>`` element (the XML prolog and doctype are for standalone files), its
    element ids scoped by ``key``: matplotlib numbers its groups per figure (``axes_1``, ``patch_1``), so
    two charts in one page would otherwise share ids."""
    if not _KEY.match(key):
        raise ValueError(f"chart key {key!r}: lower-case letters, digits and -")
    buffer = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"llm-judge-report-{key}"}):
        FigureCanvasSVG(fig)
        fig.savefig(buffer, format="svg", metadata=_NO_METADATA, bbox_inches="tight")
    text = buffer.getvalue()
    return _ID_REFERENCES.sub(lambda m: f"{m.group(1)}{key}-", text[text.index("<svg") :])


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), layout="constrained")


def status_chart(status: Mapping[str, int], key: str = "status") -> str:
    """Records by outcome: ok, then each failure reason, as horizontal bars with their counts."""
    with matplotlib.rc_context(_RC):
        names = list(status)
        counts = [status[n] for n in names]
        fig = _figure(6.4, 0.5 + 0.32 * max(1, len(names)))
        ax = fig.add_subplot()
        colours = [_OK if n == "ok" else _PALETTE[(i + 1) % len(_PALETTE)] for i, n in enumerate(names)]
        bars = ax.barh(range(len(names)), counts, color=colours)
        ax.set_yticks(range(len(names)), [_short(n) for n in names])
        ax.invert_yaxis()
        ax.bar_label(bars, labels=[f"{c:,}" for c in counts], padding=3, fontsize=8)
        ax.set_xlabel("records")
        ax.set_title("Outcome of each record")
        ax.margins(x=0.12)
        return _svg(fig, key)


def label_chart(
    name: str, rows: Mapping[str, Mapping[str, int]], values: Sequence[str], key: str, shares: bool = True
) -> str:
    """Each value of a label (verdict, severity) per row (all, then each source) as 100 % stacked
    horizontal bars, or (``shares=False``, for list members such as categories) as stacked counts; the
    numbers are in the table beside the chart."""
    with matplotlib.rc_context(_RC):
        labels = list(rows)
        fig = _figure(6.4, 0.9 + 0.3 * len(labels))
        ax = fig.add_subplot()
        left = [0.0] * len(labels)
        totals = [(sum(rows[r].get(v, 0) for v in values) or 1) if shares else 1 for r in labels]
        for i, value in enumerate(values):
            widths = [rows[r].get(value, 0) / t for r, t in zip(labels, totals, strict=True)]
            ax.barh(
                range(len(labels)),
                widths,
                left=left,
                color=_colour(value, i),
                label=_short(value),
                height=0.7,
            )
            left = [a + b for a, b in zip(left, widths, strict=True)]
        ax.set_yticks(range(len(labels)), [_short(label) for label in labels])
        ax.invert_yaxis()
        if shares:
            ax.set_xlim(0, 1)
            ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        else:
            ax.set_xlabel("answers naming it")
        ax.set_title(f"{_short(name)} by source")
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(0, -0.16 if shares else -0.3),
            ncols=min(len(values), 5),
            fontsize=8,
        )
        return _svg(fig, key)


def score_chart(scores: Mapping[str, Mapping[str, Any]], key: str) -> str:
    """One small histogram per criterion (the count of each score), with its mean marked."""
    with matplotlib.rc_context(_RC):
        names = list(scores)
        columns = min(3, max(1, len(names)))
        rows = (len(names) + columns - 1) // columns
        fig = _figure(6.8, 1.7 * rows + 0.2)
        axes = fig.subplots(rows, columns, squeeze=False)
        for i, ax in enumerate(axes.flat):
            if i >= len(names):
                ax.set_visible(False)
                continue
            summary = scores[names[i]]
            values = [int(v) for v in summary["counts"]]
            counts = list(summary["counts"].values())
            ax.bar(values, counts, color=_PALETTE[0], width=0.8)
            if summary.get("mean") is not None:
                ax.axvline(summary["mean"], color=_SEMANTIC["unsafe"], linewidth=1.2)
            ax.set_xticks(range(1, 11))
            ax.set_xlim(0.4, 10.6)
            mean = summary.get("mean")
            title = _short(names[i], 20)
            ax.set_title(f"{title}  (mean {mean:.2f})" if mean is not None else title, fontsize=9)
        return _svg(fig, key)


def trend_chart(points: Sequence[Mapping[str, Any]], key: str = "trend") -> str:
    """Volume, failure and flagged rates, and mean score per criterion over the last days; a day with
    no data is a gap in the lines and an empty slot in the bars."""
    with matplotlib.rc_context(_RC):
        days = [p["day"][5:] for p in points]  # MM-DD
        x = list(range(len(points)))
        means = sorted({name for p in points for name in (p.get("means") or {})})
        panels = 3 if means else 2
        fig = _figure(6.8, 1.9 * panels)
        axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]

        volume = axes[0]
        volume.bar(x, [p["records"] or 0 for p in points], color=_PALETTE[0])
        volume.set_title("Records judged per day")
        volume.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))

        rates = axes[1]
        for label, field, colour in (
            ("failure rate", "failure_rate", _PALETTE[1]),
            ("flagged rate", "flagged_rate", _SEMANTIC["unsafe"]),
        ):
            series = [float("nan") if p.get(field) is None else p[field] for p in points]
            rates.plot(x, series, marker="o", markersize=3, color=colour, label=label)
        rates.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        rates.set_ylim(bottom=0)
        rates.set_title("Failure rate (of records) and flagged rate (of answers)")
        rates.legend(loc="upper left", ncols=2, fontsize=8)

        if means:
            ax = axes[2]
            for i, name in enumerate(means):
                series = [(p.get("means") or {}).get(name) for p in points]
                ax.plot(
                    x,
                    [float("nan") if v is None else v for v in series],
                    marker="o",
                    markersize=3,
                    color=_PALETTE[i % len(_PALETTE)],
                    label=name,
                )
            ax.set_ylim(1, 10)
            ax.set_title("Mean score per criterion")
            ax.legend(loc="lower left", ncols=min(len(means), 6), fontsize=7)
        axes[-1].set_xticks(x, days, rotation=45 if len(days) > 8 else 0)
        return _svg(fig, key)


def confusion_chart(
    name: str, values: Sequence[object], table: Sequence[Sequence[int]], judges: Sequence[str], key: str
) -> str:
    """The confusion matrix of one field as a heatmap, each cell annotated with its count."""
    with matplotlib.rc_context(_RC):
        k = len(values)
        size = min(6.0, 1.6 + 0.45 * k)
        fig = _figure(size, size)
        ax = fig.add_subplot()
        ax.imshow(table, cmap="Blues")
        labels = [_short(v, 16) for v in values]
        ax.set_xticks(range(k), labels, rotation=45 if k > 4 else 0)
        ax.set_yticks(range(k), labels)
        ax.set_xlabel(f"judge B: {_short(judges[1], 48)}")
        ax.set_ylabel(f"judge A: {_short(judges[0], 48)}")
        ax.spines[:].set_visible(False)
        peak = max((max(row) for row in table), default=0) or 1
        for i, row in enumerate(table):
            for j, count in enumerate(row):
                if count:
                    colour = "white" if count > peak / 2 else "black"
                    ax.text(j, i, f"{count:,}", ha="center", va="center", fontsize=7, color=colour)
        # No colour bar: every cell is labelled with its count.
        ax.set_title(_short(name))
        return _svg(fig, key)


def people_chart(points: Sequence[Mapping[str, Any]], roles: Sequence[str], key: str = "people") -> str:
    """Each judge's kappa against people per day (a day without labels, or with too few, is a gap), and
    the number of labels per day as bars underneath."""
    with matplotlib.rc_context(_RC):
        days = [p["day"][5:] for p in points]
        x = list(range(len(points)))
        fig = _figure(6.8, 3.6)
        kappa_ax, count_ax = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1), squeeze=True)
        for i, role in enumerate(roles):
            series = [(p.get("judges") or {}).get(role) or {} for p in points]
            values = [float("nan") if s.get("kappa") is None else s["kappa"] for s in series]
            kappa_ax.plot(x, values, marker="o", markersize=3, color=_PALETTE[i % len(_PALETTE)], label=role)
            count_ax.bar(
                [v + (i - (len(roles) - 1) / 2) * 0.35 for v in x],
                [s.get("n") or 0 for s in series],
                width=0.35,
                color=_PALETTE[i % len(_PALETTE)],
            )
        kappa_ax.set_ylim(min(0.0, *(v for v in kappa_ax.get_ylim())), 1.0)
        kappa_ax.axhline(0, color="#90a4ae", linewidth=0.6)
        kappa_ax.set_title("Kappa against people's labels, per day")
        kappa_ax.legend(loc="lower left", ncols=max(1, len(roles)), fontsize=8)
        count_ax.set_title("Labels compared", fontsize=9)
        count_ax.set_xticks(x[::3], days[::3], rotation=45)
        return _svg(fig, key)
