"""The batch job against Vertex AI's documented API: the list filter it sends, and what a user sees when
Vertex refuses a call (one line with the HTTP status and what to check, never a traceback)."""

from __future__ import annotations

import pytest

from tests.app.batch_job.conftest import DAY, record

pytestmark = pytest.mark.integration

RAW = f"raw/web/{DAY}/a.jsonl"


def _list_filters(batch_env) -> list[str]:
    return [
        r.query["filter"][0]
        for r in batch_env.vertex.state.requests
        if r.method == "GET" and r.path.endswith("/batchPredictionJobs")
    ]


def test_the_days_jobs_are_listed_with_the_documented_filter_field(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    assert batch_env.run("submit", "--date", str(DAY))[0] == 0
    code, output = batch_env.run("status", "--date", str(DAY))
    assert code == 0, output
    assert set(_list_filters(batch_env)) == {f'display_name:"llm-judge-{DAY}-part-*"'}


def test_the_fake_refuses_a_filter_field_the_api_does_not_document(batch_env):
    """What the real service does with an unknown field, so the test above can fail."""
    from google import genai
    from google.genai import errors, types

    client = genai.Client(
        vertexai=True,
        project="test-project",
        location="us-central1",
        credentials=_token(),
        http_options=types.HttpOptions(base_url=batch_env.vertex.url),
    )
    with pytest.raises(errors.ClientError) as raised:
        list(client.batches.list(config=types.ListBatchJobsConfig(filter='displayName:"x*"')))
    assert raised.value.code == 400


def _token():
    from google.oauth2.credentials import Credentials

    return Credentials(token="test-token")


@pytest.mark.parametrize(
    ("command", "status", "code", "exit_code", "hint"),
    [
        ("submit", 403, "PERMISSION_DENIED", 2, "roles/aiplatform.user"),
        ("status", 404, "NOT_FOUND", 2, "GCP_PROJECT, GCP_LOCATION and MODEL_ID"),
        ("collect", 401, "UNAUTHENTICATED", 2, "application default credentials"),
        ("cancel", 429, "RESOURCE_EXHAUSTED", 1, "quota"),
        ("status", 503, "UNAVAILABLE", 1, "retry later"),
    ],
)
def test_a_refused_call_is_one_line_with_the_http_status(
    batch_env, capsys, command, status, code, exit_code, hint
):
    batch_env.write_raw(RAW, [record(1)])
    if command == "collect":
        assert batch_env.run("submit", "--date", str(DAY))[0] == 0
    batch_env.vertex.fail_next(status, code, f"scripted {code.lower()} message")
    # One attempt: a 429 or 5xx that outlasts the retries (test_retries.py has them).
    exit_status, output = batch_env.run(command, "--date", str(DAY), vertex_attempts=1)
    assert exit_status == exit_code, output
    (line,) = [text for text in output.splitlines() if text.startswith("error:")]
    assert f"HTTP {status} {code}: scripted {code.lower()} message" in line
    assert hint in line
    assert "Traceback" not in output + capsys.readouterr().err


def test_a_refused_create_leaves_the_input_for_the_next_run(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.vertex.fail_next(403, "PERMISSION_DENIED", "denied", on="create")
    code, output = batch_env.run("submit", "--date", str(DAY))
    assert code == 2
    assert "Vertex AI create job llm-judge-" in output
    assert batch_env.vertex.jobs() == []
    code, output = batch_env.run("submit", "--date", str(DAY))
    assert code == 0, output
    assert len(batch_env.vertex.jobs()) == 1


def test_an_unreachable_endpoint_is_one_line(batch_env):
    # One attempt: google-genai retries a connection error (1 + 2 + 4 s of back-off by default).
    code, output = batch_env.run(
        "status", "--date", str(DAY), vertex_base_url="http://127.0.0.1:9/", vertex_attempts=1
    )
    assert code == 1
    assert "cannot reach the endpoint" in output
    assert "VERTEX_BASE_URL" in output
