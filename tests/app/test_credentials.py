"""Without Google credentials every app that talks to Google Cloud ends in one line that says how to
provide them (`gcloud auth application-default login`, `GOOGLE_APPLICATION_CREDENTIALS`), exit 2.

Run as a user runs them: the real entry points in a child process whose environment has no
credentials anywhere google-auth looks (no key file variable, an empty gcloud config directory, no
metadata server check)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from google.api_core.exceptions import Forbidden

from app.batch_job.cli import main as batch_job_main
from app.credentials import MISSING_CREDENTIALS
from tools.plan_runtime import REPO_ROOT

BATCH_FLAGS = [
    "--project=proj",
    "--location=us-central1",
    "--input=gs://some-bucket/raw/{date}/*.jsonl",
    "--output=gs://some-bucket",
    "--prompt=prompts/security-judge.prompt.yml",
    "--date=2026-11-01",
]
RUNS = {
    "loader": ["app.loader", "--bucket=some-bucket", "--brokers=127.0.0.1:9", "--topic=t"],
    "batch-job-submit": ["app.batch_job", "submit", *BATCH_FLAGS],
    "batch-job-collect": ["app.batch_job", "collect", *BATCH_FLAGS],
}


def _no_credentials_env(tmp_path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "STORAGE_EMULATOR", "CLOUDSDK"))
    }
    env.update(
        HOME=str(tmp_path),  # ~/.config/gcloud/application_default_credentials.json is not there
        CLOUDSDK_CONFIG=str(tmp_path / "gcloud"),
        NO_GCE_CHECK="true",  # google-auth's switch: do not probe for a metadata server
        PYTHONPATH=str(REPO_ROOT),
        LOG_FORMAT="text",
    )
    return env


@pytest.mark.parametrize("argv", RUNS.values(), ids=RUNS.keys())
def test_missing_google_credentials_is_one_line_saying_how_to_provide_them(argv, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=REPO_ROOT,
        env=_no_credentials_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )

    output = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert len(output) == 1, output
    assert "gcloud auth application-default login" in output[0]
    assert "GOOGLE_APPLICATION_CREDENTIALS" in output[0]


def test_a_refused_google_call_is_one_line_without_a_traceback(capsys):
    def refused(_settings):
        raise Forbidden(
            "GET https://storage.googleapis.com/b: sa@p does not have\nstorage.objects.list access"
        )

    code = batch_job_main(["status", *BATCH_FLAGS], context_factory=refused)

    err = capsys.readouterr().err
    assert code == 1
    assert (
        err
        == "error: 403 GET https://storage.googleapis.com/b: sa@p does not have storage.objects.list access\n"
    )


def test_the_message_names_both_ways():
    assert "gcloud auth application-default login" in MISSING_CREDENTIALS
    assert "GOOGLE_APPLICATION_CREDENTIALS" in MISSING_CREDENTIALS
