"""`python -m app.judge compare A B`: two judges' result files joined by id, printed, as JSON, as a report."""

from __future__ import annotations

import json
from pathlib import Path

from app.judge.cli import main
from tests.app.report.helpers import SAFE, criteria, lines, ok, run_error, run_ok, unsafe


def _write(path: Path, *items: dict) -> Path:
    path.write_bytes(b"\n".join(lines(*items)) + b"\n")
    return path


def _pair(tmp_path: Path) -> tuple[Path, Path]:
    a = _write(
        tmp_path / "gemini.jsonl", ok("1", SAFE), ok("2", unsafe("high")), ok("3", SAFE), ok("4", SAFE)
    )
    b = _write(
        tmp_path / "vllm.jsonl",
        ok("1", SAFE),
        ok("2", SAFE | {"reasoning": "Looks fine to me."}),
        ok("3", SAFE),
        ok("5", SAFE),
    )
    return a, b


def test_compare_prints_counts_kappa_confusion_and_the_disagreements(tmp_path, capsys):
    a, b = _pair(tmp_path)
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "paired 3 (answered by both), disagree on 1; judged by one only: A 1, B 1" in out
    assert "verdict: rows A, columns B" in out
    assert "  2 (web)" in out
    assert "A: verdict=unsafe severity=high categories=[secret_leakage]: Leaks a key." in out
    assert "B: verdict=safe severity=none categories=[]: Looks fine to me." in out


def test_json_and_min_kappa(tmp_path, capsys):
    a, b = _pair(tmp_path)
    assert main(["compare", str(a), str(b), "--json", "--min-kappa", "0.5"]) == 1
    captured = capsys.readouterr()
    agreement = json.loads(captured.out)
    assert agreement["fields"]["verdict"]["table"] == [[2, 0], [1, 0]]
    assert agreement["fields"]["verdict"]["kappa"] == 0.0  # B never says unsafe: no agreement beyond chance
    assert "below --min-kappa: verdict: kappa 0.000 < 0.5" in captured.err


def test_judge_run_outputs_compare_on_scores(tmp_path, capsys):
    a = _write(tmp_path / "a.jsonl", *(run_ok(n, criteria(n % 10 + 1)) for n in range(20)), run_error(99))
    b = _write(
        tmp_path / "b.jsonl", *(run_ok(n, criteria(n % 10 + 1)) for n in range(20)), run_ok(99, criteria(5))
    )
    assert main(["compare", str(a), str(b), "--json"]) == 0
    agreement = json.loads(capsys.readouterr().out)
    overall = agreement["fields"]["overall"]
    assert overall["weighted_kappa"] == 1.0
    assert overall["spearman"] == 1.0
    assert agreement["counts"]["failed_a"] == 1


def test_out_writes_the_report_and_unreadable_lines_exit_1(tmp_path, capsys):
    a, b = _pair(tmp_path)
    with b.open("a") as fh:
        fh.write("{torn\n")
    records = _write(tmp_path / "pairs.jsonl", {"id": "2", "prompt": "key?", "response": "AKIA..."})
    code = main(["compare", str(a), str(b), "--records", str(records), "--out", str(tmp_path / "report")])
    captured = capsys.readouterr()
    assert code == 1
    assert "1 unreadable line(s) skipped" in captured.err
    assert "vllm.jsonl:5: not JSON" in captured.err
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["agreement"]["disagreements"][0]["excerpt"] == {"prompt": "key?", "response": "AKIA..."}
    assert (tmp_path / "report" / "index.html").is_file()


def test_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert main(["compare", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")]) == 2
    assert "file not found" in capsys.readouterr().err
