"""Settings from the seed's environment, flags overriding them, and day selection."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pytest

from app.batch_job.cli import build_parser, resolve_days, settings_from
from app.batch_job.gcs import GcsPath
from app.batch_job.settings import BatchJobSettings, SettingsError
from tests.app.batch_job.conftest import DAY, REPO, record

SEED_ENV = {
    "GCP_PROJECT": "proj-env",
    "GCP_LOCATION": "europe-west4",
    "INPUT_BUCKET": "in-bucket",
    "OUTPUT_BUCKET": "out-bucket",
    "MODEL_ID": "publishers/google/models/gemini-2.5-pro",
    "PROMPT_PATH": "prompts/judge.prompt.yml",
}


def _parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_settings_come_from_the_seed_environment(monkeypatch):
    for key, value in SEED_ENV.items():
        monkeypatch.setenv(key, value)
    settings = settings_from(_parse("submit"), BatchJobSettings)
    assert settings.gcp_project == "proj-env"
    assert settings.gcp_location == "europe-west4"
    assert settings.model_id == "publishers/google/models/gemini-2.5-pro"
    assert str(settings.prompt_path) == "prompts/judge.prompt.yml"
    assert settings.input_pattern(DAY) == GcsPath("in-bucket", f"raw/*/{DAY}/*.jsonl")
    assert settings.output_root == GcsPath("out-bucket", "")


def test_defaults_are_a_current_model_in_a_location_that_serves_it(monkeypatch):
    for key in (*SEED_ENV, "GCS_INPUT_URI", "GCS_OUTPUT_PREFIX"):
        monkeypatch.delenv(key, raising=False)
    settings = BatchJobSettings()
    assert settings.gcp_location == "global"
    assert settings.model_id == "publishers/google/models/gemini-3.5-flash-lite"
    assert str(settings.prompt_path) == "prompts/security-judge.prompt.yml"


def test_flags_override_the_environment(monkeypatch):
    for key, value in SEED_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GCS_OUTPUT_PREFIX", "gs://env-out/x")
    args = _parse(
        "submit",
        "--project", "proj-flag",
        "--location", "us-east1",
        "--input", "gs://other/raw/web/{date}/*.jsonl",
        "--output", "gs://flag-out/judge/",
        "--model", "publishers/google/models/gemini-2.5-flash-lite",
    )  # fmt: skip
    settings = settings_from(args, BatchJobSettings)
    assert settings.gcp_project == "proj-flag"
    assert settings.gcp_location == "us-east1"
    assert settings.model_id == "publishers/google/models/gemini-2.5-flash-lite"
    assert settings.input_pattern(DAY) == GcsPath("other", f"raw/web/{DAY}/*.jsonl")
    assert settings.output_root == GcsPath("flag-out", "judge")


def test_model_flag_names_the_served_model_with_the_openai_backend():
    args = _parse("submit", "--backend", "openai", "--base-url", "http://vllm:8000/v1", "--model", "qwen")
    settings = settings_from(args, BatchJobSettings)
    assert settings.openai_model == "qwen"
    assert settings.model_id == "publishers/google/models/gemini-3.5-flash-lite"


def test_missing_buckets_are_named_in_the_error(monkeypatch):
    for key in ("INPUT_BUCKET", "OUTPUT_BUCKET", "GCS_INPUT_URI", "GCS_OUTPUT_PREFIX"):
        monkeypatch.delenv(key, raising=False)
    settings = BatchJobSettings()
    with pytest.raises(SettingsError, match="INPUT_BUCKET"):
        settings.input_pattern(DAY)
    with pytest.raises(SettingsError, match="OUTPUT_BUCKET"):
        _ = settings.output_root


TODAY = dt.date(2024, 6, 10)


def test_default_day_is_yesterday():
    assert resolve_days(_parse("submit"), TODAY) == [dt.date(2024, 6, 9)]


def test_range_is_inclusive():
    days = resolve_days(_parse("submit", "--from", "2024-06-01", "--to", "2024-06-03"), TODAY)
    assert days == [dt.date(2024, 6, 1), dt.date(2024, 6, 2), dt.date(2024, 6, 3)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--date", "2024-06-01", "--from", "2024-06-01", "--to", "2024-06-02"), "exclude"),
        (("--from", "2024-06-01"), "go together"),
        (("--from", "2024-06-03", "--to", "2024-06-01"), "after"),
        (("--from", "2023-01-01", "--to", "2024-06-01"), "at most"),
    ],
)
def test_bad_day_selections_are_refused(argv, message):
    with pytest.raises(SettingsError, match=message):
        resolve_days(_parse("submit", *argv), TODAY)


@pytest.mark.integration
def test_module_entry_point_runs_a_dry_run_from_the_environment(gcs_server):
    raw = gcs_server.new_bucket("raw")
    out = gcs_server.new_bucket("out")
    raw.blob(f"raw/web/{DAY}/a.jsonl").upload_from_string(record(1).to_json_line())
    env = {
        **{k: v for k, v in os.environ.items() if k not in SEED_ENV},
        **gcs_server.env(),
        "INPUT_BUCKET": raw.name,
        "OUTPUT_BUCKET": out.name,
        "GCP_PROJECT": "proj",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "app.batch_job", "submit", "--date", str(DAY), "--dry-run"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    request = json.loads(proc.stdout[proc.stdout.index("{") : proc.stdout.rindex("}") + 1])
    assert request["model"] == "publishers/google/models/gemini-3.5-flash-lite"
    assert out.blob(f"batch/{DAY}/input/part-00000.jsonl").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("name: x\nmessages: []\n", "invalid prompt file"),
        (
            "name: x\nresponseFormat: json_schema\n"
            'jsonSchema: \'{"name":"a","schema":{"type":"object",'
            '"properties":{"n":{"type":"integer","enum":[1,3]}}}}\'\n'
            "messages:\n  - role: user\n    content: '{{prompt}}'\n",
            "only a contiguous integer enum converts",
        ),
    ],
    ids=["missing", "invalid", "schema-vertex-cannot-take"],
)
def test_a_bad_prompt_file_is_a_clear_error_not_a_traceback(tmp_path, capsys, content, message):
    from app.batch_job.cli import main
    from app.batch_job.context import Context
    from app.batch_job.exits import EXIT_USAGE

    path = tmp_path / "judge.prompt.yml"
    if content is not None:
        path.write_text(content)
    settings = BatchJobSettings(
        gcp_project="proj", input_bucket="in", output_bucket="out", prompt_path=str(path)
    )
    out = []

    class Out:
        def write(self, text: str) -> None:
            out.append(text)

        def flush(self) -> None:
            pass

    code = main(
        ["submit", "--dry-run", "--date", str(DAY)],
        env_settings=lambda **_: settings,
        context_factory=lambda s: Context(s, storage=None, out=Out()),  # type: ignore[arg-type]
    )
    assert code == EXIT_USAGE
    text = "".join(out)
    assert text.startswith(f"error: prompt {path}:")
    assert message in text
