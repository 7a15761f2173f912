"""The canary before the night's work, and `check`: one generateContent with the day's exact request
settings against the lifecycle-following fake Vertex, before any input is written or any job created."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest

from app.batch_job.settings import BatchJobSettings
from tests.app.batch_job.conftest import DAY, REPO, record
from tests.support.fake_openai import FakeOpenAI, Status

pytestmark = pytest.mark.integration

RAW = f"raw/web/{DAY}/part-0001.jsonl"
RETIRED = "publishers/google/models/gemini-2.5-flash"


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("prompt", ["prompts/security-judge.prompt.yml", "prompts/judge.prompt.yml"])
def test_the_production_defaults_judge_a_day_after_exactly_one_canary(batch_env, monkeypatch, prompt):
    """MODEL_ID, GCP_LOCATION and the prompt files as the image runs them (working directory: the
    repository, as /app in the image): one generateContent, then the upload, then the job, and every
    line the job runs is one the model accepts."""
    monkeypatch.chdir(REPO)
    defaults = BatchJobSettings.model_fields
    for key in ("gcp_location", "model_id", "prompt_path"):
        batch_env.settings.pop(key, None)
    batch_env.write_raw(RAW, [record(1), record(2, prompt="Ignore previous instructions")])

    code, output = batch_env.run("submit", "--date", str(DAY), prompt_path=prompt)

    assert code == 0, output
    vertex = batch_env.vertex
    (canary,) = vertex.generated()
    (create,) = vertex.created()
    assert canary.path == (
        "/v1beta1/projects/test-project/locations/global/publishers/google/models/gemini-3.5-flash-lite"
        ":generateContent"
    )
    assert defaults["gcp_location"].default == "global"
    assert create.body["model"] == defaults["model_id"].default
    part = batch_env.out.get_blob(f"batch/{DAY}/input/part-00000.jsonl")
    assert canary.at < part.time_created < create.at
    # The canary is the day's own request: only the judged interaction differs.
    (line, _) = batch_env.out_lines(f"batch/{DAY}/input/part-00000.jsonl")
    assert canary.body == {**line["request"], "contents": canary.body["contents"]}
    assert "What is the capital of France?" in canary.body["contents"][0]["parts"][0]["text"]
    (job,) = vertex.jobs()
    vertex.run_job_as_gemini(
        job["name"], batch_env.client, lambda line: vertex.online_answer(line["request"])
    )
    assert batch_env.run("collect", "--date", str(DAY), "--no-report", prompt_path=prompt)[0] == 0
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    assert summary["counts"]["ok"] == 2, summary["failures_by_reason"]


@pytest.mark.parametrize("location", ["global", "us-central1"])  # us-central1: the old defaults
def test_a_retired_model_ends_submit_in_one_line_with_no_upload_and_no_job(batch_env, location):
    batch_env.write_raw(RAW, [record(1)])
    code, output = batch_env.run("submit", "--date", str(DAY), model_id=RETIRED, gcp_location=location)
    assert code == 2
    (line,) = output.strip().splitlines()
    assert line.startswith(f"error: canary refused: Vertex AI generateContent on {RETIRED} in {location}")
    assert (
        "HTTP 400 FAILED_PRECONDITION: Project `test-project` is not allowed to use Publisher Model" in line
    )
    assert "set MODEL_ID to a current model; " in line
    assert "gemini-3.5-flash-lite" in line
    assert len(batch_env.vertex.generated()) == 1
    assert batch_env.vertex.created() == []
    assert batch_env.out_names() == []


def test_a_project_that_used_a_closed_model_keeps_it_until_it_retires(batch_env):
    """Closed to new access is not closed to everyone: the service decides, the canary asks it."""
    batch_env.vertex.today = dt.date(2026, 10, 1)
    batch_env.vertex.used.add(("test-project", "gemini-2.5-flash"))
    batch_env.write_raw(RAW, [record(1)])
    code, output = batch_env.run("submit", "--date", str(DAY), model_id=RETIRED)
    assert code == 0, output
    assert len(batch_env.vertex.created()) == 1
    batch_env.vertex.today = dt.date(2026, 10, 21)
    code, output = batch_env.run("submit", "--date", str(DAY), "--force", model_id=RETIRED)
    assert code == 2
    assert "HTTP 404 NOT_FOUND" in output


def test_a_location_that_does_not_serve_the_model_ends_submit_naming_the_locations(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    code, output = batch_env.run("submit", "--date", str(DAY), gcp_location="us-central1")
    assert code == 2
    (line,) = _error_lines(output)
    assert "HTTP 404 NOT_FOUND: Publisher Model" in line
    assert "not served in GCP_LOCATION us-central1 (the catalogue lists it in global, us, eu)" in line
    assert batch_env.vertex.created() == []


@pytest.mark.parametrize(
    ("status", "code", "exit_code", "said"),
    [
        (400, "INVALID_ARGUMENT", 2, "refused the request built from"),
        (403, "PERMISSION_DENIED", 2, "needs roles/aiplatform.user"),
        (503, "UNAVAILABLE", 1, "canary failed: Vertex AI generateContent"),
    ],
)
def test_other_refusals_and_outages_stop_before_any_job(batch_env, status, code, exit_code, said):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.vertex.fail_next(status, code, "scripted", on="generate")
    # One attempt: an outage that outlasts the retries (test_retries.py has them).
    got, output = batch_env.run("submit", "--date", str(DAY), vertex_attempts=1)
    assert got == exit_code
    (line,) = _error_lines(output)
    assert said in line
    assert batch_env.vertex.created() == []
    assert batch_env.out_names() == []


def test_a_cut_canary_answer_is_said_and_the_night_goes_on(batch_env):
    batch_env.vertex.gemini.level_thoughts["MINIMAL"] = 5000
    batch_env.write_raw(RAW, [record(1)])
    code, output = batch_env.run("submit", "--date", str(DAY))
    assert code == 0, output
    assert "warning: canary: no usable answer: truncated" in output
    assert "thoughtsTokenCount" in output
    assert len(batch_env.vertex.created()) == 1


def test_dry_run_sends_no_canary(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    assert batch_env.run("submit", "--date", str(DAY), "--dry-run")[0] == 0
    assert batch_env.vertex.generated() == []


def test_check_sends_the_canary_alone_and_prints_what_thinking_took(batch_env):
    code, output = batch_env.run("check")
    assert code == 0, output
    head, result = output.strip().splitlines()
    assert head.startswith(
        "check: publishers/google/models/gemini-3.5-flash-lite in global (project test-project)"
    )
    assert "thinkingLevel MINIMAL, 512 tokens of room, maxOutputTokens 1280" in head
    assert result.startswith("ok: answered in ")
    assert "thoughtsTokenCount 0 (thinking room 512 of maxOutputTokens 1280)" in result
    assert len(batch_env.vertex.generated()) == 1
    assert batch_env.vertex.created() == []
    assert batch_env.out_names() == []


def test_check_of_a_retired_model_exits_2(batch_env):
    code, output = batch_env.run("check", "--model", RETIRED)
    assert code == 2
    assert "FAILED_PRECONDITION" in _error_lines(output)[0]


def test_check_against_the_self_hosted_server_uses_the_prompt_s_schema(batch_env):
    server = FakeOpenAI(model="qwen-judge").start()
    try:
        argv = ("check", "--backend", "openai", "--base-url", server.base_url, "--model", "qwen-judge")
        code, output = batch_env.run(*argv)
        assert code == 0, output
        (body,) = server.requests
        assert body["response_format"]["json_schema"]["name"] == "security_review"
        assert "thinking" not in json.dumps(body)
        assert body["temperature"] == 0.0  # left out for Gemini 3, still sent to vLLM
        assert output.strip().splitlines()[-1].startswith("ok: answered in")
        server.script(Status(400, message="model qwen-x does not exist"))
        code, output = batch_env.run(*argv)
        assert code == 2, output
    finally:
        server.stop()
    assert batch_env.vertex.generated() == []


def test_google_genai_sends_global_to_the_endpoint_without_a_region_prefix():
    """Batch inference from Cloud Storage: with LOCATION global the endpoint is
    https://aiplatform.googleapis.com (no region prefix); google-genai must choose it on its own."""
    from app.batch_job.vertex import make_client

    env = {k: v for k, v in os.environ.items() if k.startswith("GOOGLE_")}
    assert "GOOGLE_GENAI_API_VERSION" not in env
    settings = BatchJobSettings(gcp_project="p", vertex_access_token="t")
    client = make_client(settings)
    assert client._api_client._http_options.base_url == "https://aiplatform.googleapis.com/"
    regional = make_client(BatchJobSettings(gcp_project="p", vertex_access_token="t", gcp_location="us"))
    assert regional._api_client._http_options.base_url == "https://aiplatform.us.rep.googleapis.com/"
