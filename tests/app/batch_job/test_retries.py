"""Vertex AI's transient errors (429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE, in Google's error body: the fake
follows https://cloud.google.com/apis/design/errors) through the real submit: reads and the canary are
retried (VERTEX_ATTEMPTS), a job's create only on 429, so a lost answer never starts the day's job twice."""

from __future__ import annotations

import datetime as dt

import pytest

from app.batch_job.settings import BatchJobSettings
from tests.app.batch_job.conftest import DAY, record

pytestmark = pytest.mark.integration

RAW = f"raw/web/{DAY}/part-0001.jsonl"


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_with_the_defaults_the_canary_survives_a_429_and_the_day_is_created_once(batch_env, capsys):
    """What production runs: the default attempts and google-genai's default back-off (1 s, doubling,
    jitter); the test waits that second for real."""
    assert BatchJobSettings.model_fields["vertex_attempts"].default == 4
    assert "vertex_attempts" not in batch_env.settings
    batch_env.write_raw(RAW, [record(1)])
    batch_env.vertex.quota_exhausted(on="generate")

    code, output = batch_env.run("submit", "--date", str(DAY))

    assert code == 0, output
    refused, canary = batch_env.vertex.generated()
    assert canary.at - refused.at >= dt.timedelta(seconds=1)  # the default initial delay
    (retried,) = [line for line in capsys.readouterr().err.splitlines() if "Retrying" in line]
    assert "429" in retried  # google-genai's own line, let through at INFO; its other INFO lines are not
    assert len(batch_env.vertex.created()) == 1
    assert len(batch_env.vertex.jobs()) == 1


def test_a_503_on_create_is_sent_once_and_the_next_submit_finds_the_job(batch_env):
    """The service created the job and the answer was lost: a retry would start it twice."""
    batch_env.write_raw(RAW, [record(1)])
    batch_env.vertex.unavailable(on="create", after_doing=True)

    code, output = batch_env.run("submit", "--date", str(DAY))

    assert code == 1, output
    assert len(batch_env.vertex.created()) == 1
    (line,) = _error_lines(output)
    assert f"Vertex AI create job llm-judge-{DAY}-part-00000: HTTP 503 UNAVAILABLE" in line
    assert "not retried, since the job may have been created" in line
    code, output = batch_env.run("submit", "--date", str(DAY))
    assert code == 0, output
    assert len(batch_env.vertex.created()) == 1
    assert len(batch_env.vertex.jobs()) == 1


def test_a_429_on_create_is_retried_and_the_job_created_once(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.vertex.quota_exhausted(on="create")

    code, output = batch_env.run("submit", "--date", str(DAY))

    assert code == 0, output
    assert len(batch_env.vertex.created()) == 2
    assert len(batch_env.vertex.jobs()) == 1


def test_one_attempt_makes_a_single_429_fail_the_canary(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.vertex.quota_exhausted(on="generate")

    code, output = batch_env.run("submit", "--date", str(DAY), vertex_attempts=1)

    assert code == 1, output
    (line,) = _error_lines(output)
    assert "canary failed: Vertex AI generateContent" in line
    assert "HTTP 429 RESOURCE_EXHAUSTED: Resource exhausted." in line
    assert len(batch_env.vertex.generated()) == 1
    assert batch_env.vertex.created() == []
    assert batch_env.out_names() == []
