"""report: written by collect after each collected day, by `report` for a day (with a second judge's
root), on a local tree, and on loose files; its errors and exit codes."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from app.batch_job.cli import main
from tests.app.batch_job.conftest import DAY, REPO
from tests.app.batch_job.test_collect import SAFE, UNSAFE, _submit_and_run
from tools.report_sample import write_sample_tree


def _upload_lines(batch_env, name: str, lines: list[dict]) -> None:
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    batch_env.out.blob(name).upload_from_string(data, content_type="application/jsonl")


@pytest.mark.integration
def test_collect_writes_the_days_report_with_excerpts_from_the_raw_records(batch_env):
    _submit_and_run(batch_env)
    code, output = batch_env.run("collect", "--date", str(DAY))
    assert code == 0, output
    assert f"report -> gs://{batch_env.out.name}/reports/{DAY}/index.html" in output
    page = batch_env.out.get_blob(f"reports/{DAY}/index.html")
    assert page.content_type == "text/html; charset=utf-8"
    report = json.loads(batch_env.out_text(f"reports/{DAY}/report.json"))
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    assert report["totals"]["records"] == summary["records"]
    assert report["totals"]["ok"] == summary["counts"]["ok"]
    assert report["meta"]["backend"] == "vertex"
    assert [item["id"] for item in report["flagged"]] == summary["flagged"]["ids"]
    assert report["flagged"][0]["excerpt"] == {
        "prompt": "prompt of unsafe",
        "response": "response number unsafe",
    }
    assert report["point"]["day"] == str(DAY)
    assert len(report["trend"]) == 14
    assert "<svg" in page.download_as_text()
    # ...and the day's review sample for people, with the prompt's labelling config.
    tasks = json.loads(batch_env.out_text(f"review/{DAY}/tasks.json"))
    assert [t["data"]["record_id"] for t in tasks if "flagged" in t["data"]["strata"]] == ["req-unsafe"]
    assert tasks[0]["data"]["response"] == "response number unsafe"
    assert tasks[0]["predictions"][0]["result"][0] == {
        "from_name": "verdict",
        "to_name": "response",
        "type": "choices",
        "value": {"choices": ["unsafe"]},
    }
    config = batch_env.out_text("review/labelling-config/security-judge.xml")
    assert config == (REPO / "review" / "labelling-config" / "security-judge.xml").read_text()
    assert (
        f"review sample: {len(tasks)} task(s) -> gs://{batch_env.out.name}/review/{DAY}/tasks.json" in output
    )


@pytest.mark.integration
def test_collect_no_report_writes_no_report(batch_env):
    _submit_and_run(batch_env)
    assert batch_env.run("collect", "--date", str(DAY), "--no-report")[0] == 0
    assert not [n for n in batch_env.out_names() if n.startswith("reports/")]


@pytest.mark.integration
def test_report_joins_a_second_judges_results_of_the_same_day(batch_env):
    results = [
        {"id": "a", "source": "web", "status": "ok", "flagged": False, "answer": SAFE},
        {"id": "b", "source": "web", "status": "ok", "flagged": True, "answer": UNSAFE},
        {"id": "c", "source": "api", "status": "ok", "flagged": False, "answer": SAFE},
    ]
    _upload_lines(batch_env, f"judgements/{DAY}/results.jsonl", results)
    second = [
        results[0],
        {**results[1], "flagged": False, "answer": SAFE},
        {"id": "d", "source": "api", "status": "ok", "flagged": False, "answer": SAFE},
    ]
    _upload_lines(batch_env, f"vllm/judgements/{DAY}/results.jsonl", second)
    code, output = batch_env.run(
        "report", "--date", str(DAY), "--compare-output", f"gs://{batch_env.out.name}/vllm"
    )
    assert code == 0, output
    agreement = json.loads(batch_env.out_text(f"reports/{DAY}/report.json"))["agreement"]
    assert agreement["counts"]["paired"] == 2
    assert agreement["counts"]["only_a"] == 1
    assert agreement["counts"]["only_b"] == 1
    assert agreement["fields"]["verdict"]["table"] == [[1, 0], [1, 0]]
    assert agreement["disagreements"][0]["id"] == "b"
    assert not [n for n in batch_env.out_names() if n.startswith("review/")]  # collect's, not report's


@pytest.mark.integration
def test_the_trend_reads_the_earlier_days_reports(batch_env):
    earlier = DAY - dt.timedelta(days=1)
    line = {"id": "a", "source": "web", "status": "ok", "flagged": False, "answer": SAFE}
    _upload_lines(batch_env, f"judgements/{earlier}/results.jsonl", [line] * 3)
    _upload_lines(batch_env, f"judgements/{DAY}/results.jsonl", [line])
    assert batch_env.run("report", "--date", str(earlier), "--no-excerpts")[0] == 0
    assert batch_env.run("report", "--date", str(DAY), "--days", "3", "--no-excerpts")[0] == 0
    trend = json.loads(batch_env.out_text(f"reports/{DAY}/report.json"))["trend"]
    assert [(p["day"], p["records"]) for p in trend] == [
        (str(DAY - dt.timedelta(days=2)), None),
        (str(earlier), 3),
        (str(DAY), 1),
    ]


@pytest.mark.integration
def test_a_day_without_results_fails_when_asked_for_and_is_skipped_by_lookback(batch_env):
    code, output = batch_env.run("report", "--date", str(DAY))
    assert code == 1
    assert (
        f"gs://{batch_env.out.name}/judgements/{DAY}/results.jsonl does not exist: collect the day first"
        in output
    )
    code, output = batch_env.run("report", "--lookback", "2")
    assert code == 0, output
    assert output.count("no results: skipped") == 2


def _no_bucket(settings):
    raise AssertionError("a local report must not need a storage client")


def test_a_local_tree_is_reported_without_any_bucket(tmp_path, capsys):
    write_sample_tree(tmp_path, DAY, records=60, days=3, label_days=0)
    code = main(
        ["report", "--date", str(DAY), "--output", str(tmp_path), "--compare-output", str(tmp_path / "vllm")],
        context_factory=_no_bucket,
    )
    assert code == 0, capsys.readouterr()
    report = json.loads((tmp_path / "reports" / str(DAY) / "report.json").read_text())
    assert report["agreement"]["counts"]["paired"] > 0
    assert report["flagged"][0]["excerpt"]["prompt"]
    assert [p["records"] is not None for p in report["trend"]][-3:] == [True, True, True]


def test_loose_files_from_judge_run(tmp_path, capsys):
    results = tmp_path / "judged.jsonl"
    results.write_text(
        json.dumps(
            {
                "id": 1,
                "status": "ok",
                "score": None,
                "scores": {"verdict": "safe", "severity": "none", "categories": []},
                "reasoning": "fine",
                "error": None,
                "model": "m",
                "latency_ms": 3,
            }
        )
        + "\n"
    )
    code = main(
        ["report", "--results", str(results), "--out", str(tmp_path / "out")], context_factory=_no_bucket
    )
    assert code == 0, capsys.readouterr()
    assert (tmp_path / "out" / "index.html").is_file()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["totals"]["ok"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "--results", "x.jsonl", "--out", "o"], "--results x.jsonl: no such file"),
        (
            ["report", "--compare", "b.jsonl"],
            "--compare, --records and --out go with --results (loose files)",
        ),
        (["report", "--date", "2026-11-29", "--days", "0"], "--days 0: give 1 to 366 days"),
        (
            ["report", "--lookback", "2", "--date", "2026-11-29"],
            "--lookback and --date/--from/--to exclude each other",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv, context_factory=_no_bucket) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: {message}"


def test_results_needs_out(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    path.write_text("")
    assert main(["report", "--results", str(path)], context_factory=_no_bucket) == 2
    assert "--results needs --out DIR" in capsys.readouterr().err


def test_the_report_help_names_its_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "Exit codes: 0 written; 1 a day has no results" in " ".join(capsys.readouterr().out.split())
