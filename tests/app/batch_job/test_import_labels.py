"""import-labels on a local output root (the same code as on a bucket: tests/components/gcp/
test_alert_log_fields.py runs it against fake-gcs-server): a real Label Studio export and gold-format
JSONL stored under labels/<date>/, idempotent, refused as a whole when a label names an id the day does
not hold or could not be the judge's answer, and each judge's agreement with the labels written beside
them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from app.batch_job.cli import main
from app.report.people import load_labels
from app.report.store import LocalStore

DAY = "2024-05-01"
EXPORT = Path(__file__).resolve().parents[1] / "review" / "data" / "label-studio-1.23-export.json"
ANSWERS = {
    "req-1": ("unsafe", "critical", ["secret_leakage"]),
    "req-2": ("safe", "none", []),
    "req-3": ("unsafe", "high", ["pii_leakage"]),
    "req-4": ("unsafe", "medium", ["jailbreak"]),
    "req-5": ("safe", "none", []),
}


def _no_bucket(settings: Any) -> Any:
    raise AssertionError("a local output root must not need a storage client")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    day = tmp_path / "judgements" / DAY
    day.mkdir(parents=True)
    lines = [
        {
            "id": record_id,
            "source": "web",
            "status": "ok",
            "flagged": verdict == "unsafe",
            "answer": {"reasoning": "r", "verdict": verdict, "severity": severity, "categories": categories},
        }
        for record_id, (verdict, severity, categories) in ANSWERS.items()
    ]
    lines.append({"id": "req-6", "source": "web", "status": "failed", "reason": "vertex_error", "error": "x"})
    (day / "results.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (day / "summary.json").write_text(
        json.dumps({"backend": "vertex", "model": "publishers/google/models/gemini-9"})
    )
    return tmp_path


def import_labels(root: Path, path: Path, *extra: str, date: str = DAY) -> int:
    argv = ["import-labels", "--date", date, "--output", str(root), str(path), *extra]
    return main(argv, context_factory=_no_bucket)


def stored(root: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (root / "labels" / DAY / "labels.jsonl").read_text().splitlines()]


def test_a_label_studio_export_is_stored_once_per_annotator_and_again_unchanged(root, capsys):
    assert import_labels(root, EXPORT) == 0
    out = capsys.readouterr().out
    assert "6 label(s) read: 6 new, 0 replaced, 0 unchanged; 6 stored" in out
    assert "left out: cancelled 1, unannotated_tasks 1, other_days 1" in out
    lines = stored(root)
    assert [(x["id"], x["labeller"]) for x in lines] == [
        ("req-1", "label-studio:user-1"),
        ("req-1", "label-studio:user-2"),
        ("req-2", "label-studio:user-1"),
        ("req-2", "label-studio:user-2"),
        ("req-3", "label-studio:user-2"),
        ("req-4", "label-studio:user-1"),
    ]
    first = (root / "labels" / DAY / "labels.jsonl").read_bytes()
    assert import_labels(root, EXPORT) == 0
    assert "0 new, 0 replaced, 6 unchanged; 6 stored" in capsys.readouterr().out
    assert (root / "labels" / DAY / "labels.jsonl").read_bytes() == first


def test_the_agreement_with_the_labels_is_written_beside_them(root, capsys):
    assert import_labels(root, EXPORT) == 0
    agreement = json.loads((root / "labels" / DAY / "agreement.json").read_text())
    (judge,) = agreement["judges"]
    assert judge["name"] == "vertex: gemini-9"
    # The judge's verdict matches all six labels; its severity only user 2's on req-1 and req-3.
    assert judge["table"] == {
        "field": "verdict",
        "kind": "label",
        "values": ["safe", "unsafe"],
        "table": [[2, 0], [0, 4]],
    }
    assert (judge["n"], judge["enough"]) == (6, False)  # fewer than PEOPLE_MIN_LABELS (30): no kappa
    assert "headline" not in judge
    assert agreement["labellers"] == ["label-studio:user-1", "label-studio:user-2"]
    assert "fewer than 30: no kappa yet" in capsys.readouterr().out


def test_with_enough_labels_the_kappa_is_said(root, capsys, monkeypatch):
    monkeypatch.setenv("PEOPLE_MIN_LABELS", "5")
    assert import_labels(root, EXPORT) == 0
    out = capsys.readouterr().out
    assert "vertex: gemini-9: kappa 1.000 on verdict over 6 label(s), accuracy 100.0%" in out


def test_a_newer_export_replaces_an_annotators_labels(root, tmp_path, capsys):
    assert import_labels(root, EXPORT) == 0
    export = json.loads(EXPORT.read_text())
    export[0]["annotations"][0]["result"][1]["value"]["choices"] = ["medium"]
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(export))
    assert import_labels(root, newer) == 0
    assert "0 new, 1 replaced, 5 unchanged" in capsys.readouterr().out
    assert stored(root)[0]["labels"]["severity"] == "medium"


def gold_lines(path: Path, *ids: str) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {
                    "id": i,
                    "labeller": "ana",
                    "labels": {"verdict": "safe", "severity": "none", "categories": []},
                }
            )
            + "\n"
            for i in ids
        )
    )
    return path


def test_gold_format_jsonl_is_accepted_and_merged(root, tmp_path, capsys):
    assert import_labels(root, EXPORT) == 0
    assert import_labels(root, gold_lines(tmp_path / "more.jsonl", "req-5", "req-6")) == 0
    assert "2 new" in capsys.readouterr().out
    assert len(stored(root)) == 8
    agreement = json.loads((root / "labels" / DAY / "agreement.json").read_text())
    assert agreement["judges"][0]["not_judged"] == 1  # req-6 failed: its label is kept, never scored


def test_labels_for_ids_the_day_does_not_hold_are_refused_with_a_count(root, tmp_path, capsys):
    path = gold_lines(tmp_path / "labels.jsonl", "req-1", "req-77", "req-78")
    assert import_labels(root, path) == 2
    err = capsys.readouterr().out
    assert "2 label(s) for 2 id(s) that" in err
    assert "is --date 2024-05-01 right?" in err
    assert "first: req-77, req-78" in err
    assert not (root / "labels").exists()  # nothing stored


def test_an_export_of_another_day_is_refused(root, tmp_path, capsys):
    other = tmp_path / "other" / "judgements" / "2024-05-02"
    other.mkdir(parents=True)
    (other / "results.jsonl").write_text((root / "judgements" / DAY / "results.jsonl").read_text())
    assert import_labels(tmp_path / "other", EXPORT, date="2024-05-02") == 2
    assert "no task of 2024-05-02 in the export" in capsys.readouterr().out


def test_an_annotation_the_judge_could_not_give_refuses_the_whole_file(root, tmp_path, capsys):
    export = json.loads(EXPORT.read_text())
    export[1]["annotations"][0]["result"][1]["value"]["choices"] = ["high"]  # req-2: safe but severity high
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(export))
    assert import_labels(root, bad) == 2
    out = capsys.readouterr().out
    assert "task 2 (req-2), label-studio:user-1: labels: a safe verdict needs severity none" in out
    assert not (root / "labels").exists()


def test_a_bad_jsonl_line_is_named(root, tmp_path, capsys):
    path = tmp_path / "labels.jsonl"
    path.write_text(
        gold_lines(path, "req-1").read_text()
        + '{"id": "req-2", "labeller": "ana", "labels": {"verdict": "maybe"}}\n'
    )
    assert import_labels(root, path) == 2
    assert f"{path}:2: labels.verdict" in capsys.readouterr().out


def test_import_labels_needs_one_day_and_a_collected_one(root, capsys):
    code = main(["import-labels", "--output", str(root), str(EXPORT)], context_factory=_no_bucket)
    assert code == 2
    assert "import-labels takes one day: --date YYYY-MM-DD" in capsys.readouterr().err
    assert import_labels(root, EXPORT, date="2024-06-01") == 2
    assert "collect 2024-06-01 first" in capsys.readouterr().out


def test_an_unreadable_stored_line_is_kept_counted_and_named(root, tmp_path, capsys):
    """The report skips and counts such a line; import-labels keeps it byte for byte and goes on."""
    assert import_labels(root, EXPORT) == 0
    path = root / "labels" / DAY / "labels.jsonl"
    good = path.read_bytes().splitlines()
    torn, foreign = b'{"id": "req-9", "labeller": "ana", "labe', b'{"id": "req-8", "note": "caf\xc3\xa9"}'
    path.write_bytes(b"\n".join([good[0], torn, *good[1:], foreign]) + b"\n")
    capsys.readouterr()

    assert import_labels(root, gold_lines(tmp_path / "more.jsonl", "req-5")) == 0

    out = capsys.readouterr().out
    assert f"warning: {path} line 2: not a stored label (JSONDecodeError: " in out
    assert f"warning: {path} line 8: not a stored label (no 'labeller' key); kept as it is" in out
    assert "1 new, 0 replaced, 0 unchanged; 7 stored" in out
    assert "(and 2 unreadable line(s) kept)" in out
    assert path.read_bytes().splitlines() == [*sorted([*good, json_line("req-5")]), torn, foreign]
    labels, unreadable = load_labels(LocalStore(root), dt.date.fromisoformat(DAY))
    assert (len(labels), unreadable) == (7, 2)  # what the report reads: the same lines, counted alike


def json_line(record_id: str) -> bytes:
    labels = {"verdict": "safe", "severity": "none", "categories": []}
    return json.dumps(
        {"id": record_id, "labeller": "ana", "labels": labels}, separators=(",", ":"), sort_keys=True
    ).encode()
