"""A judge against a gold set: judge every item once, measure each answer field against every person's
label (app.report.calibration), the people against each other on the doubly-labelled items, and gate a
model change on the figures of the model it replaces.

An item the judge could not answer is never scored: it is counted by failure reason (the reasons of
``app.judge.results.FailureReason``, as ``judge run`` reports them) and left out of every figure, so a
judge that fails on the hard cases cannot look better for it; the run then ends with exit 1.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from typing import Any

from app.judge.gold import GoldSet
from app.judge.results import Judgement
from app.judge.runner import Item, JudgeLike, judge_items
from app.report.calibration import Pair, labeller_pairs, measure
from app.report.rows import answer_row

__all__ = [
    "DEFAULT_MAX_KAPPA_DROP",
    "SCHEMA_VERSION",
    "GateError",
    "calibration",
    "check_comparable",
    "gate",
    "judge_gold",
    "render_text",
]

SCHEMA_VERSION = 1
DEFAULT_MAX_KAPPA_DROP = 0.05


class GateError(ValueError):
    """The previous figures cannot be compared with these (another gold set, another headline field)."""


async def judge_gold(judge: JudgeLike, gold: GoldSet, concurrency: int) -> dict[str, Judgement]:
    """Each item of the gold set judged once (a doubly-labelled item too), by id."""
    items = [Item(item.id, item.prompt, item.response) for item in gold.items.values()]
    found: dict[str, Judgement] = {}
    async for result in judge_items(judge, items, concurrency=concurrency):
        found[str(result.id)] = result.judgement
    return found


def calibration(
    gold: GoldSet,
    judgements: Mapping[str, Judgement],
    *,
    judge: Mapping[str, Any],
    prompt: Mapping[str, Any],
    rounds: int,
    seed: int,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The figures of one calibration run (``--json``'s content; ``render_text`` prints them)."""
    failures: Counter[str] = Counter()
    failed_ids: list[str] = []
    answers = {}
    for item_id in gold.items:
        judgement = judgements.get(item_id)
        if judgement is None or judgement.answer is None:
            failures[judgement.failure.reason if judgement and judgement.failure else "internal_error"] += 1
            failed_ids.append(item_id)
            continue
        answers[item_id] = answer_row(item_id, judgement.answer.model_dump(mode="json"))
    pairs = [
        Pair(label.id, answer_row(label.id, label.labels), answers[label.id])
        for label in gold.labels
        if label.id in answers
    ]
    by_item: dict[str, list[tuple[str, Any]]] = {}
    for label in gold.labels:
        by_item.setdefault(label.id, []).append((label.labeller, answer_row(label.id, label.labels)))
    people_pairs = labeller_pairs({k: v for k, v in by_item.items() if len(v) > 1})
    figures = measure(pairs, rounds=rounds, seed=seed)
    people = measure(people_pairs, rounds=rounds, seed=seed) if people_pairs else None
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
        "gold": gold.describe(),
        "prompt": dict(prompt),
        "judge": dict(judge),
        "bootstrap": {"rounds": rounds, "seed": seed, "level": 0.95},
        "judged": len(answers),
        "failed": dict(sorted(failures.items())),
        "failed_ids": sorted(failed_ids),
        **figures,
        "people": people,
    }


def check_comparable(previous: Mapping[str, Any], gold: Mapping[str, Any]) -> None:
    """``GateError`` unless the previous figures are of this very gold set (``gold``: its describe())."""
    found = previous.get("gold")
    before: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    if before.get("sha256") != gold["sha256"]:
        raise GateError(
            f"the previous figures are of another gold set ({before.get('path')}, sha256 "
            f"{str(before.get('sha256'))[:12]}): calibrate the current model on {gold['path']} again, then "
            "compare"
        )


def gate(
    current: Mapping[str, Any], previous: Mapping[str, Any], max_drop: float
) -> tuple[list[str], list[str]]:
    """(problems, notes) of the model-change gate: a problem when the headline kappa drops by more than
    ``max_drop`` or is undefined, or when unsafe recall drops at all. ``GateError`` when the two runs did
    not measure the same thing."""
    check_comparable(previous, current["gold"])
    now, before = current.get("headline"), previous.get("headline")
    problems: list[str] = []
    notes: list[str] = []
    if before and not now and not current.get("pairs"):
        # The same gold set (checked above), and not one of its items judged: the candidate fails.
        label = f"{before['measure'].replace('_', ' ')} on {before['field']}"
        problems.append(f"{label}: no figure now (no item was judged), was {_fmt(before['value'])}")
        return problems, notes
    if not now or not before or now["field"] != before["field"]:
        raise GateError("the two runs have no common headline field (verdict or overall) to compare")
    label = f"{now['measure'].replace('_', ' ')} on {now['field']}"
    if now["value"] is None:
        problems.append(f"{label} is undefined now (was {_fmt(before['value'])})")
    elif before["value"] is not None:
        drop = before["value"] - now["value"]
        line = f"{label} {_fmt(now['value'])}, was {_fmt(before['value'])}"
        line += f" (drop {drop:+.3f}, at most {max_drop:g})"
        (problems if drop > max_drop + 1e-12 else notes).append(line)
    else:
        notes.append(f"{label} {_fmt(now['value'])}, was undefined")
    recall_now = (current.get("unsafe") or {}).get("recall")
    recall_before = (previous.get("unsafe") or {}).get("recall")
    if recall_before is not None:
        line = f"unsafe recall {_fmt(recall_now)}, was {_fmt(recall_before)}"
        if recall_now is None or recall_now < recall_before - 1e-12:
            problems.append(line + ": it may not drop")
        else:
            notes.append(line)
    return problems, notes


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci(interval: list[float] | None) -> str:
    return "" if not interval else f"[{interval[0]:.2f}, {interval[1]:.2f}]"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _matrix(name: str, stats: Mapping[str, Any]) -> list[str]:
    labels = [str(v) for v in stats["values"]]
    cell = max(5, *(len(v) for v in labels), *(len(str(n)) for row in stats["table"] for n in row))
    lines = ["", f"{name}: rows people, columns judge"]
    lines.append(" " * (cell + 2) + "".join(f"{v:>{cell + 2}}" for v in labels))
    for label, row in zip(labels, stats["table"], strict=True):
        lines.append(f"{label:>{cell}}  " + "".join(f"{n:>{cell + 2}}" for n in row))
    return lines


def render_text(result: Mapping[str, Any]) -> str:
    gold, judge = result["gold"], result["judge"]
    lines = [
        f"gold: {gold['path']}  ({gold['items']} items, {gold['labels']} labels by "
        f"{len(gold['labellers'])} labeller(s), {gold['doubly_labelled']} labelled twice or more)",
        f"judge: {judge.get('backend')} {judge.get('model')}"
        + (f" at {judge['base_url']}" if judge.get("base_url") else "")
        + (f" in {judge['project']}/{judge['location']}" if judge.get("location") else ""),
        f"judged {result['judged']} of {gold['items']} item(s)"
        + (
            "; not judged (never scored): " + ", ".join(f"{r} {n}" for r, n in result["failed"].items())
            if result["failed"]
            else ""
        ),
    ]
    people = (result.get("people") or {}).get("fields", {})
    fields = result["fields"]
    if fields:
        width = max(len(n) for n in fields)
        lines += [
            "",
            f"{'field':<{width}}  {'n':>5}  {'accuracy':>8}  {'kappa [95% CI]':<22}  "
            f"{'weighted kappa [95% CI]':<24}  people (ceiling)",
        ]
        for name, f in fields.items():
            ceiling = people.get(name)
            if ceiling:
                key = "weighted_kappa" if f["kind"] in ("ordinal", "score") else "kappa"
                ceiling_text = f"{_fmt(ceiling[key])} (n {ceiling['n']})"
            else:
                ceiling_text = "-"
            weighted = (
                f"{_fmt(f['weighted_kappa'])} {_ci(f['weighted_kappa_ci'])}" if f["kind"] != "label" else "-"
            )
            lines.append(
                f"{name:<{width}}  {f['n']:>5}  {_pct(f['accuracy']):>8}  "
                f"{_fmt(f['kappa']) + ' ' + _ci(f['kappa_ci']):<22}  {weighted:<24}  {ceiling_text}"
            )
    unsafe = result.get("unsafe")
    if unsafe:
        lines += [
            "",
            f"unsafe: precision {_fmt(unsafe['precision'])}  recall {_fmt(unsafe['recall'])}  "
            f"kappa {_fmt(unsafe['kappa'])} {_ci(unsafe['kappa_ci'])}  "
            f"(tp {unsafe['tp']}, fp {unsafe['fp']}, fn {unsafe['fn']}, tn {unsafe['tn']})",
        ]
    for name, f in fields.items():
        if f.get("per_value"):
            lines += ["", f"{name}: value  people  judge  precision  recall"]
            for value, s in f["per_value"].items():
                lines.append(
                    f"  {value:<16} {s['reference']:>6} {s['answer']:>6}  {_fmt(s['precision']):>9}  "
                    f"{_fmt(s['recall']):>6}"
                )
    for name, listed in result["members"].items():
        lines += ["", f"{name}: exactly the people's list on {_pct(listed['exact'])} of {listed['n']} labels"]
        lines.append("  value                    people only  judge only  both  precision  recall  kappa")
        for value, s in listed["values"].items():
            lines.append(
                f"  {value:<24} {s['fn']:>11} {s['fp']:>11} {s['tp']:>5}  {_fmt(s['precision']):>9}  "
                f"{_fmt(s['recall']):>6}  {_fmt(s['kappa'])}"
            )
    for name, f in fields.items():
        lines += _matrix(name, f)
    if result.get("people") is None:
        lines += ["", "no item has two labellers: no ceiling to read the judge against"]
    return "\n".join(lines)
