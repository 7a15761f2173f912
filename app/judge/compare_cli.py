"""``python -m app.judge compare A.jsonl B.jsonl``: how far two judges agree on the same records.

A and B are result files of either format (``python -m app.judge run`` output, or collect's
``results.jsonl``), joined by id. Printed: the counts (paired, disagreeing, judged by one only, failed),
Cohen's kappa per label, quadratic weighted kappa and Spearman's rho per ordered label and score, the
confusion matrices and the largest disagreements with both judges' reasoning; ``--json`` prints the same
as JSON, ``--out DIR`` also writes the HTML report of A with the agreement section (app.report).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.judge.exits import EXIT_OK, EXIT_PROBLEMS, UsageError

__all__ = ["add_parser", "agreement_problems", "render_text"]


def add_parser(sub: Any, positive_int: Any) -> None:
    p = sub.add_parser("compare", help="how far two judges agree on the same records (two result files)")
    p.add_argument("a", type=Path, help="judge A's results (JSONL)")
    p.add_argument("b", type=Path, help="judge B's results for the same records (JSONL)")
    p.add_argument("--records", type=Path, help='the judged records ({"id", "prompt", "response"} lines)')
    p.add_argument("--out", type=Path, help="also write the HTML report (index.html, report.json) here")
    p.add_argument("--json", action="store_true", help="print the agreement as JSON")
    p.add_argument("--top", type=positive_int, default=10, help="disagreements to list (default 10)")
    p.add_argument(
        "--min-kappa",
        type=float,
        help="exit 1 when a label's kappa (a score's or ordered label's weighted kappa) is below this",
    )
    p.set_defaults(handler=cmd_compare)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _judgement(side: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in side.get("labels", {}).items()]
    parts += [f"{k}=[{','.join(v)}]" for k, v in side.get("members", {}).items()]
    parts += [f"{k}={v}" for k, v in side.get("scores", {}).items()]
    return " ".join(parts) or "(no answer)"


def render_text(agreement: dict[str, Any]) -> str:
    c = agreement["counts"]
    a_name, b_name = agreement["judges"]
    lines = [
        f"A: {a_name}    B: {b_name}",
        f"paired {c['paired']} (answered by both), disagree on {c['disagree']}; judged by one only: "
        f"A {c['only_a']}, B {c['only_b']}; "
        f"failed: A {c['failed_a']}, B {c['failed_b']}, both {c['failed_both']}"
        + (
            f"; duplicate ids: A {c['duplicates_a']}, B {c['duplicates_b']}"
            if c["duplicates_a"] or c["duplicates_b"]
            else ""
        ),
    ]
    fields = agreement["fields"]
    if fields:
        width = max(len(n) for n in fields)
        lines += [
            "",
            f"{'field':<{width}}  {'pairs':>7}  {'exact':>6}  {'kappa':>6}  {'w.kappa':>7}  {'spearman':>8}",
        ]
        for name, f in fields.items():
            lines.append(
                f"{name:<{width}}  {f['n']:>7}  {f['exact_agreement'] * 100:>5.1f}%  {_fmt(f['kappa']):>6}  "
                f"{_fmt(f['weighted_kappa']):>7}  {_fmt(f['spearman']):>8}"
            )
        for name, f in fields.items():
            labels = [str(v) for v in f["values"]]
            cell = max(6, *(len(v) for v in labels), *(len(str(n)) for row in f["table"] for n in row))
            lines += ["", f"{name}: rows A, columns B"]
            lines.append(" " * (cell + 2) + "".join(f"{v:>{cell + 2}}" for v in labels))
            for label, row in zip(labels, f["table"], strict=True):
                lines.append(f"{label:>{cell}}  " + "".join(f"{n:>{cell + 2}}" for n in row))
    for name, per_value in agreement["members"].items():
        lines += ["", f"{name}: both / A only / B only / kappa"]
        for value, s in per_value.items():
            lines.append(
                f"  {value:<24} {s['both']:>6} {s['only_a']:>6} {s['only_b']:>6}  {_fmt(s['kappa'])}"
            )
    if agreement["disagreements"]:
        lines += ["", "largest disagreements:"]
        for d in agreement["disagreements"]:
            lines.append(f"  {d['id']} ({d['source']})")
            lines.append(f"    A: {_judgement(d['a'])}: {(d['a'].get('reasoning') or '')[:300]}")
            lines.append(f"    B: {_judgement(d['b'])}: {(d['b'].get('reasoning') or '')[:300]}")
    return "\n".join(lines)


def agreement_problems(agreement: dict[str, Any], min_kappa: float) -> list[str]:
    """The fields whose agreement is below ``min_kappa`` (kappa for labels, weighted kappa for ordered
    labels and scores); an undefined kappa counts as below: nothing shows the two judges agree."""
    problems = []
    for name, f in agreement["fields"].items():
        measure = "weighted_kappa" if f["kind"] in ("ordinal", "score") else "kappa"
        value = f[measure]
        if value is None or value < min_kappa:
            problems.append(f"{name}: {measure.replace('_', ' ')} {_fmt(value)} < {min_kappa}")
    return problems


def cmd_compare(args: argparse.Namespace) -> int:
    from app.report.agreement import compare
    from app.report.daily import write_file_report
    from app.report.rows import RowReader

    for path in (args.a, args.b, args.records):
        if path is not None and not path.is_file():
            raise UsageError(f"file not found: {path}")
    readers = (RowReader(str(args.a)), RowReader(str(args.b)))
    page: str | None = None
    if args.out is not None:
        written = write_file_report(args.a, args.out, compare=args.b, records=args.records)
        page = written.page
        agreement = written.report["agreement"]
        unreadable = written.report["unreadable_lines"]
        counts = [unreadable["results"]["count"], unreadable["compare"]["count"]]
        examples = unreadable["results"]["examples"] + unreadable["compare"]["examples"]
    else:

        def lines(path: Path) -> Any:
            with path.open("rb") as fh:
                yield from fh

        agreement = compare(
            lambda: lines(args.a),
            lambda: lines(args.b),
            names=(str(args.a), str(args.b)),
            top=args.top,
            readers=readers,
        ).to_dict()
        counts = [readers[0].unreadable, readers[1].unreadable]
        examples = readers[0].examples + readers[1].examples
    agreement["disagreements"] = agreement["disagreements"][: args.top]
    if args.json:
        print(json.dumps(agreement, indent=1))
    else:
        print(render_text(agreement))
        if page is not None:
            print(f"\nreport -> {page}")
    code = EXIT_OK
    for example in examples:
        print(f"unreadable line: {example}", file=sys.stderr)
    if sum(counts):
        print(f"{sum(counts)} unreadable line(s) skipped", file=sys.stderr)
        code = EXIT_PROBLEMS
    if args.min_kappa is not None:
        for problem in agreement_problems(agreement, args.min_kappa):
            print(f"below --min-kappa: {problem}", file=sys.stderr)
            code = EXIT_PROBLEMS
    return code
