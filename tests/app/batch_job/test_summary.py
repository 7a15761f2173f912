"""Every batch-job command ends with one ``<command>.summary`` event: what it did per day and its exit
code. The stack's "day uncollected too long" alert reads collect's (see components/gcp/builders)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from tests.app.batch_job.conftest import DAY, record

pytestmark = pytest.mark.integration


def summaries(err: str, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def test_collect_reports_days_collected_running_and_the_oldest_left_behind(batch_env, capsys, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    earlier = DAY - dt.timedelta(days=1)
    for day in (earlier, DAY):
        batch_env.write_raw(f"raw/web/{day}/a.jsonl", [record(f"{day}-{i}", day=day) for i in range(3)])
        assert batch_env.run("submit", "--date", str(day))[0] == 0
    earlier_job = next(j for j in batch_env.vertex.jobs() if str(earlier) in j["displayName"])
    batch_env.vertex.run_job(earlier_job["name"], batch_env.client, lambda line: None)
    capsys.readouterr()

    code, _ = batch_env.run("collect", "--lookback", "3")  # run on DAY + 1

    assert code == 0
    (summary,) = summaries(capsys.readouterr().err, "collect.summary")
    assert summary["severity"] == "INFO"
    assert summary["exit_code"] == 0
    assert summary["days_collected"] == [str(earlier)]
    assert summary["days_running"] == [str(DAY)]
    assert summary["days_not_submitted"] == [str(DAY - dt.timedelta(days=2))]
    assert summary["oldest_uncollected_day"] == str(DAY)
    assert summary["oldest_uncollected_age_days"] == 1


def test_nothing_left_behind_is_an_age_of_zero_not_a_missing_field(batch_env, capsys, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert batch_env.run("collect", "--lookback", "2")[0] == 0
    (summary,) = summaries(capsys.readouterr().err, "collect.summary")
    assert summary["oldest_uncollected_day"] is None
    assert summary["oldest_uncollected_age_days"] == 0


def test_a_failed_command_still_ends_with_its_summary_at_error(batch_env, capsys, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    code, output = batch_env.run("collect", "--date", str(DAY))  # never submitted
    assert code == 2, output
    (summary,) = summaries(capsys.readouterr().err, "collect.summary")
    assert summary["severity"] == "ERROR"
    assert summary["exit_code"] == 2
    assert "submit the day first" in summary["error"]


def test_submit_reports_what_it_did_per_day(batch_env, capsys, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", [record(i) for i in range(3)])
    assert batch_env.run("submit", "--date", str(DAY))[0] == 0
    assert batch_env.run("submit", "--date", str(DAY))[0] == 0
    first, second = summaries(capsys.readouterr().err, "submit.summary")
    assert first["actions"] == {str(DAY): "submitted"}
    assert first["jobs"] == 1
    assert second["actions"] == {str(DAY): "skipped"}
    assert second["jobs"] == 1  # the live job it found instead of submitting another
