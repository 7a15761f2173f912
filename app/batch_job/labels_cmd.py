"""``python -m app.batch_job import-labels --date D FILE``: people's labels of a day's records, stored
beside its results (``labels/<date>/labels.jsonl`` under the output root), and each judge's agreement
with them as of this import (``labels/<date>/agreement.json``, which the reports' 30-day trend reads).

FILE is either Label Studio's JSON export of the review tasks (app.review.labelstudio: cancelled
annotations skipped, each annotator kept apart, tasks of other days left out) or gold-format JSONL
(app.judge.gold: ``{"id", "labels", "labeller"}`` per line; ``prompt`` and ``response`` may be there
and are not stored). Either way every label is checked against the prompt's answer schema.

Nothing is stored unless every label is valid and names a record of the day: a label for an id that
``judgements/<date>/results.jsonl`` does not hold (a wrong ``--date``, another project's export) is
refused, with the count and the first ids, and so is an annotation the prompt's judge could not have
given. Labels are merged by (id, labeller), so importing the same file again changes nothing and a
newer export of the same annotations replaces them.

A line of the stored ``labels.jsonl`` that cannot be read (torn, or edited by hand: the report skips and
counts such lines) is kept as it is, byte for byte, after the labels, counted and warned about with its
line number; the import goes on. Nothing a person labelled is lost to a bad neighbour.

One import at a time per day: the file is read, merged and written whole, and the report store has no
generation precondition (app.report.store.ReportStore), so two imports of one day at the same moment
can each write the merge of what it read, and the later write drops the other's new labels (importing
that file again restores them; nothing is lost from the export).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from app.batch_job.exits import EXIT_OK, EXIT_USAGE
from app.batch_job.settings import BatchJobSettings, SettingsError
from app.judge.gold import GoldError, Label, parse_labels
from app.judge.prompt_file import PromptFile, PromptFileError
from app.report.people import PeopleSettings, UnreadableLabel, day_people, parse_stored_label
from app.report.rows import Row, RowError, parse_row, pick
from app.report.store import ReportStore, labels_path, people_path, results_path, summary_path

__all__ = ["LabelsRefused", "add_parser", "import_labels"]

MAX_LISTED = 10


class LabelsRefused(ValueError):
    """The file cannot be imported as it is; the message says what to fix."""


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "import-labels",
        parents=[common],
        help="store people's labels of a day (Label Studio JSON export or gold-format JSONL) under labels/",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit codes: 0 stored; 1 storage failed; 2 usage, or the file was refused (nothing stored).",
    )
    p.add_argument("file", type=Path, help="Label Studio JSON export, or JSONL of {id, labels, labeller}")


def read_labels(path: Path, prompt: PromptFile, day: dt.date) -> tuple[list[Label], dict[str, int]]:
    """The day's labels in ``path``, and what was left out by kind; ``LabelsRefused`` when any is wrong."""
    from app.review.labelstudio import labels_from_export

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsRefused(f"{path}: cannot read ({exc})") from None
    try:
        whole: Any = json.loads(text)
    except ValueError:
        whole = None  # JSONL, or broken JSON: the line-by-line reader says which line
    if isinstance(whole, list):
        try:
            exported = labels_from_export(whole, prompt, day.isoformat())
        except ValueError as exc:
            raise LabelsRefused(f"{path}: {exc}") from None
        if exported.problems:
            raise LabelsRefused(
                f"{path}: {len(exported.problems)} annotation(s) the judge's answer could not be; fix "
                "them in Label Studio and export again (nothing stored):\n"
                + "\n".join(f"  {p}" for p in exported.problems[:MAX_LISTED])
            )
        skipped = {
            "cancelled": exported.cancelled,
            "unannotated_tasks": exported.unannotated,
            "other_days": exported.other_days,
            "replaced_in_file": exported.replaced,
        }
        return exported.labels, skipped
    try:
        labels, _ = parse_labels(text.splitlines(), prompt, source=str(path), require_text=False)
    except GoldError as exc:
        raise LabelsRefused(f"{exc}\n(nothing stored)") from None
    return labels, {}


def _known_ids(store: ReportStore, day: dt.date, ids: set[str]) -> set[str]:
    found: set[str] = set()
    for data in pick(store.lines(results_path(day)), ids):
        found.add(str(data.get("id")))
        if found == ids:
            break
    return found


def _answers(store: ReportStore, day: dt.date, ids: set[str]) -> dict[str, Row]:
    """The judge's answers of ``ids`` (the first ok line of each), from one pre-filtered pass."""
    answers: dict[str, Row] = {}
    if not store.exists(results_path(day)):
        return answers
    for data in pick(store.lines(results_path(day)), ids):
        try:
            row = parse_row(data)
        except RowError:
            continue
        if row.ok and row.id not in answers:
            answers[row.id] = row
    return answers


def _judge_name(store: ReportStore, day: dt.date, fallback: str) -> str:
    from app.report.daily import judge_name

    summary = store.read_json(summary_path(day))
    return judge_name(summary if isinstance(summary, dict) else {}, fallback)


def import_labels(
    store: ReportStore,
    day: dt.date,
    path: Path,
    prompt: PromptFile,
    settings: BatchJobSettings,
    *,
    compare: ReportStore | None = None,
    summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store the day's labels from ``path`` and the agreement with them; returns what was done.
    ``LabelsRefused`` (nothing stored) when the file cannot be imported as it is."""
    summary = summary if summary is not None else {}
    if not store.exists(results_path(day)):
        raise LabelsRefused(f"{store.describe(results_path(day))} does not exist: collect {day} first")
    labels, skipped = read_labels(path, prompt, day)
    if not labels and skipped.get("other_days"):
        raise LabelsRefused(
            f"{path}: no task of {day} in the export, {skipped['other_days']} task(s) of other days "
            "(is --date right?), nothing stored"
        )
    ids = {label.id for label in labels}
    unknown = sorted(ids - _known_ids(store, day, ids)) if ids else []
    if unknown:
        unknown_labels = sum(1 for label in labels if label.id in set(unknown))
        raise LabelsRefused(
            f"{path}: {unknown_labels} label(s) for {len(unknown)} id(s) that "
            f"{store.describe(results_path(day))} does not hold (is --date {day} right?), nothing stored; "
            f"first: {', '.join(unknown[:MAX_LISTED])}"
        )
    stored: dict[tuple[str, str], dict[str, Any]] = {}  # each line as it is written
    merged: dict[tuple[str, str], Label] = {}
    unreadable: list[tuple[int, str]] = []  # (line number, why) of stored lines kept as they are
    kept: list[bytes] = []
    rel = labels_path(day)
    if store.exists(rel):
        for number, raw in enumerate(store.lines(rel), 1):
            if not raw.strip():
                continue
            try:
                label, line = parse_stored_label(raw)
            except UnreadableLabel as exc:
                unreadable.append((number, str(exc)))
                kept.append(raw)
                continue
            stored[(label.id, label.labeller)] = line
            merged[(label.id, label.labeller)] = label
    new = replaced = unchanged = 0
    for label in labels:
        key = (label.id, label.labeller)
        line = label.to_dict()
        before = stored.get(key)
        if before is None:
            new += 1
        elif before == line:
            unchanged += 1
        else:
            replaced += 1
        stored[key] = line
        merged[key] = label
    body = b"".join(
        json.dumps(stored[key], ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        for key in sorted(stored)
    ) + b"".join(raw + b"\n" for raw in kept)
    store.write(rel, body, "application/jsonl")
    every = list(merged.values())
    wanted = {label.id for label in every}
    judges = [(_judge_name(store, day, "judge"), _answers(store, day, wanted))]
    if compare is not None and compare.exists(results_path(day)):
        judges.append((_judge_name(compare, day, "second judge"), _answers(compare, day, wanted)))
    agreement = day_people(
        day, every, judges, PeopleSettings(settings.people_min_labels, settings.people_kappa_days)
    )
    store.write(
        people_path(day),
        json.dumps(agreement, indent=1, ensure_ascii=False).encode() + b"\n",
        "application/json",
    )
    summary.update(
        labels_in_file=len(labels),
        labels_new=new,
        labels_replaced=replaced,
        labels_unchanged=unchanged,
        labels_stored=len(stored),
        labels_unreadable_kept=len(unreadable),
        **{f"skipped_{k}": v for k, v in skipped.items()},
    )
    return {"labels": store.describe(rel), "agreement": agreement, "unreadable": unreadable, **summary}


def run_import(
    store: ReportStore,
    compare: ReportStore | None,
    settings: BatchJobSettings,
    days: list[dt.date],
    args: argparse.Namespace,
    say: Any,
    summary: dict[str, Any] | None = None,
) -> int:
    if len(days) != 1 or args.date is None:
        raise SettingsError("import-labels takes one day: --date YYYY-MM-DD")
    day = days[0]
    try:
        prompt = PromptFile.load(settings.prompt_path)
    except PromptFileError as exc:
        raise SettingsError(f"prompt {settings.prompt_path}: {exc}") from None
    try:
        done = import_labels(store, day, args.file, prompt, settings, compare=compare, summary=summary)
    except LabelsRefused as exc:
        say(f"error: {exc}")
        if summary is not None:
            summary["error"] = str(exc).splitlines()[0]
        return EXIT_USAGE
    for number, why in done["unreadable"][:MAX_LISTED]:
        say(f"warning: {done['labels']} line {number}: not a stored label ({why}); kept as it is")
    if len(done["unreadable"]) > MAX_LISTED:
        say(f"warning: {done['labels']}: {len(done['unreadable']) - MAX_LISTED} more unreadable line(s) kept")
    left_out = {k: v for k, v in done.items() if k.startswith("skipped_") and v}
    say(
        f"[{day}] {done['labels_in_file']} label(s) read: {done['labels_new']} new, "
        f"{done['labels_replaced']} replaced, {done['labels_unchanged']} unchanged; "
        f"{done['labels_stored']} stored -> {done['labels']}"
        + (f" (and {len(done['unreadable'])} unreadable line(s) kept)" if done["unreadable"] else "")
        + (
            "; left out: " + ", ".join(f"{k.removeprefix('skipped_')} {v}" for k, v in left_out.items())
            if left_out
            else ""
        )
    )
    for judge in done["agreement"]["judges"]:
        if judge["enough"]:
            head = judge["headline"]
            say(
                f"[{day}] {judge['name']}: {head['measure'].replace('_', ' ')} {head['value']:.3f} on "
                f"{head['field']} over {judge['n']} label(s), accuracy {judge['accuracy'] * 100:.1f}%"
            )
        else:
            say(
                f"[{day}] {judge['name']}: {judge['n']} label(s) compared, "
                f"fewer than {settings.people_min_labels}: no kappa yet"
            )
    say(f"[{day}] `python -m app.batch_job report --date {day}` shows them in the day's report")
    return EXIT_OK
