"""submit end to end: fake-gcs-server for the data, the fake Vertex server for the jobs."""

from __future__ import annotations

import json

import orjson
import pytest
import yaml

from app.batch_job.prompt import load_judge_prompt
from tests.app.batch_job.conftest import DAY, PROMPT, record

pytestmark = pytest.mark.integration

RAW = f"raw/web/{DAY}/part-0001.jsonl"


def test_submit_writes_input_and_sends_the_create_request(batch_env):
    batch_env.write_raw(RAW, [record(1), record(2)])
    batch_env.write_raw(f"raw/api/{DAY}/part-0001.jsonl", [record(3, source="api")], gz=True)
    batch_env.write_raw("raw/web/2024-05-02/part-0001.jsonl", [record(9, day=DAY.replace(day=2))])

    code, output = batch_env.run("submit", "--date", str(DAY))

    assert code == 0, output
    (create,) = batch_env.vertex.created()
    assert create.path == "/v1beta1/projects/test-project/locations/global/batchPredictionJobs"
    assert create.headers["Authorization"] == "Bearer test-token"
    assert create.body == {
        "displayName": f"llm-judge-{DAY}-part-00000",
        "model": "publishers/google/models/gemini-3.5-flash-lite",
        "inputConfig": {
            "instancesFormat": "jsonl",
            "gcsSource": {"uris": [f"gs://{batch_env.out.name}/batch/{DAY}/input/part-00000.jsonl"]},
        },
        "outputConfig": {
            "predictionsFormat": "jsonl",
            "gcsDestination": {
                "outputUriPrefix": f"gs://{batch_env.out.name}/batch/{DAY}/output/part-00000/"
            },
        },
    }
    lines = batch_env.out_lines(f"batch/{DAY}/input/part-00000.jsonl")
    # The gzip object of source "api" sorts first; the other day's record is not included.
    assert [line["key"] for line in lines] == ["r-req-3", "r-req-1", "r-req-2"]
    prompt = load_judge_prompt(PROMPT)
    assert lines[1] == prompt.builder.line_dict("r-req-1", prompt.render(record(1)))


def test_lone_surrogates_are_replaced_and_counted_in_the_days_manifest(batch_env, tmp_path):
    # A prompt file may hold "\ud800" (YAML escapes it); stored records cannot (the record parser refuses
    # them), but whatever the text came from, every input line must stay valid UTF-8 JSON.
    data = yaml.safe_load(PROMPT.read_text())
    data["messages"][0]["content"] = data["messages"][0]["content"].replace("reviewer", "\ud800reviewer", 1)
    prompt = tmp_path / "surrogate.prompt.yml"
    prompt.write_text(yaml.safe_dump(data))
    batch_env.write_raw(RAW, [record(1), record(2)])

    code, output = batch_env.run("submit", "--date", str(DAY), prompt_path=prompt)

    assert code == 0, output
    assert "2 lone surrogate(s) replaced" in output
    manifest = json.loads(batch_env.out_text(f"batch/{DAY}/manifest.json"))
    assert manifest["lone_surrogates_replaced"] == 2
    for raw in batch_env.out_text(f"batch/{DAY}/input/part-00000.jsonl").splitlines():
        system = orjson.loads(raw)["request"]["systemInstruction"]["parts"][0]["text"]
        assert "\ufffdreviewer" in system


def test_every_input_line_has_the_same_keys(batch_env):
    batch_env.write_raw(RAW, [record(1), record(2, prompt="", response="")])
    batch_env.run("submit", "--date", str(DAY))
    lines = batch_env.out_lines(f"batch/{DAY}/input/part-00000.jsonl")
    assert len({json.dumps(_skeleton(line)) for line in lines}) == 1


def _skeleton(value):
    if isinstance(value, dict):
        return {k: _skeleton(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_skeleton(v) for v in value[:1]]
    return type(value).__name__


def test_yesterday_utc_is_the_default_day(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    code, _ = batch_env.run("submit")  # the runner's "today" is DAY + 1
    assert code == 0
    assert batch_env.vertex.created()[0].body["displayName"] == f"llm-judge-{DAY}-part-00000"


def test_submitting_twice_creates_one_job(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    assert batch_env.run("submit", "--date", str(DAY))[0] == 0
    code, output = batch_env.run("submit", "--date", str(DAY))
    assert code == 0
    assert len(batch_env.vertex.created()) == 1
    assert "already submitted" in output


def test_a_succeeded_day_is_not_judged_again_without_force(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.run("submit", "--date", str(DAY))
    job = batch_env.vertex.jobs()[0]
    batch_env.vertex.set_state(job["name"], "JOB_STATE_SUCCEEDED")
    batch_env.run("submit", "--date", str(DAY))
    assert len(batch_env.vertex.created()) == 1
    code, _ = batch_env.run("submit", "--date", str(DAY), "--force")
    assert code == 0
    assert len(batch_env.vertex.created()) == 2


def test_a_failed_day_is_submitted_again(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.run("submit", "--date", str(DAY))
    batch_env.vertex.set_state(batch_env.vertex.jobs()[0]["name"], "JOB_STATE_FAILED")
    assert batch_env.run("submit", "--date", str(DAY))[0] == 0
    assert len(batch_env.vertex.created()) == 2


def test_force_refuses_while_a_job_still_reads_the_input(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.run("submit", "--date", str(DAY))
    code, output = batch_env.run("submit", "--date", str(DAY), "--force")
    assert code == 2
    assert "Cancel them first" in output
    assert len(batch_env.vertex.created()) == 1


def test_cancel_then_force_judges_the_day_again(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.run("submit", "--date", str(DAY))
    code, output = batch_env.run("cancel", "--date", str(DAY))
    assert code == 0
    assert "cancel requested" in output
    assert batch_env.vertex.jobs()[0]["state"] == "JOB_STATE_CANCELLED"
    assert batch_env.run("submit", "--date", str(DAY), "--force")[0] == 0
    assert len(batch_env.vertex.created()) == 2


def test_large_day_is_split_into_parts_and_jobs(batch_env):
    batch_env.write_raw(RAW, [record(n) for n in range(5)])
    code, _ = batch_env.run("submit", "--date", str(DAY), max_requests_per_job=2)
    assert code == 0
    names = sorted(r.body["displayName"] for r in batch_env.vertex.created())
    assert names == [f"llm-judge-{DAY}-part-{n:05d}" for n in range(3)]
    counts = [len(batch_env.out_lines(f"batch/{DAY}/input/part-{n:05d}.jsonl")) for n in range(3)]
    assert counts == [2, 2, 1]
    manifest = json.loads(batch_env.out_text(f"batch/{DAY}/manifest.json"))
    assert [p["requests"] for p in manifest["parts"]] == [2, 2, 1]


def test_only_the_failed_part_is_resubmitted(batch_env):
    batch_env.write_raw(RAW, [record(n) for n in range(4)])
    batch_env.run("submit", "--date", str(DAY), max_requests_per_job=2)
    part0 = batch_env.vertex.job_by_display_name(f"llm-judge-{DAY}-part-00000")
    part1 = batch_env.vertex.job_by_display_name(f"llm-judge-{DAY}-part-00001")
    batch_env.vertex.set_state(part0["name"], "JOB_STATE_SUCCEEDED")
    batch_env.vertex.set_state(part1["name"], "JOB_STATE_EXPIRED")
    code, _ = batch_env.run("submit", "--date", str(DAY), max_requests_per_job=2)
    assert code == 0
    created = [r.body["displayName"] for r in batch_env.vertex.created()]
    assert created[2:] == [f"llm-judge-{DAY}-part-00001"]


def test_empty_day_submits_nothing(batch_env):
    code, output = batch_env.run("submit", "--date", str(DAY))
    assert code == 0
    assert "nothing submitted" in output
    assert batch_env.vertex.created() == []


def test_malformed_raw_lines_are_quarantined_and_the_rest_judged(batch_env):
    bad = [b"not json\n", b'{"id": "x"}\n', b"[1, 2]\n", b"\xff\xfe\n", b"\n"]
    batch_env.write_raw(RAW, [record(1), record(2)], extra=bad)
    code, output = batch_env.run("submit", "--date", str(DAY))
    assert code == 0, output
    keys = [line["key"] for line in batch_env.out_lines(f"batch/{DAY}/input/part-00000.jsonl")]
    assert keys == ["r-req-1", "r-req-2"]
    rejected = batch_env.out_lines(f"batch/{DAY}/rejected.jsonl")
    assert [(r["line"], r["reason"]) for r in rejected] == [
        (3, "not_json"),
        (4, "missing_field"),
        (5, "not_object"),
        (6, "not_json"),
    ]
    assert rejected[0]["raw"] == "not json"
    assert rejected[0]["object"] == f"gs://{batch_env.raw.name}/{RAW}"
    assert "raw_base64" in rejected[3]
    manifest = json.loads(batch_env.out_text(f"batch/{DAY}/manifest.json"))
    assert manifest["rejected"] == 4
    assert manifest["records"] == 2


def test_a_day_of_only_bad_lines_submits_nothing(batch_env):
    batch_env.write_raw(RAW, [], extra=[b"garbage\n"])
    code, _ = batch_env.run("submit", "--date", str(DAY))
    assert code == 0
    assert batch_env.vertex.created() == []
    assert len(batch_env.out_lines(f"batch/{DAY}/rejected.jsonl")) == 1


def test_dry_run_writes_input_and_prints_the_request_without_calling_vertex(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    code, output = batch_env.run("submit", "--date", str(DAY), "--dry-run")
    assert code == 0
    assert batch_env.vertex.state.requests == []
    assert f"batch/{DAY}/input/part-00000.jsonl" in batch_env.out_names()
    request = json.loads(output[output.index("{") : output.rindex("}") + 1])
    assert request["displayName"] == f"llm-judge-{DAY}-part-00000"
    assert request["inputConfig"]["gcsSource"]["uris"] == [
        f"gs://{batch_env.out.name}/batch/{DAY}/input/part-00000.jsonl"
    ]


def test_wait_exits_non_zero_when_the_job_fails(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.vertex.script_states(f"llm-judge-{DAY}-part-00000", ["JOB_STATE_RUNNING", "JOB_STATE_FAILED"])
    code, output = batch_env.run("submit", "--date", str(DAY), "--wait")
    assert code == 1
    assert "JOB_STATE_RUNNING" in output
    assert "ended JOB_STATE_FAILED" in output


@pytest.mark.parametrize("final", ["JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"])
def test_wait_exits_zero_when_the_job_produced_output(batch_env, final):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.vertex.script_states(
        f"llm-judge-{DAY}-part-00000", ["JOB_STATE_PENDING", "JOB_STATE_RUNNING", final]
    )
    code, output = batch_env.run("submit", "--date", str(DAY), "--wait")
    assert code == 0, output
    assert final in output


def test_backfill_range_submits_one_job_per_day(batch_env):
    for day in ("2024-05-01", "2024-05-02", "2024-05-03"):
        batch_env.write_raw(f"raw/web/{day}/a.jsonl", [record(day)])
    code, _ = batch_env.run("submit", "--from", "2024-05-01", "--to", "2024-05-03")
    assert code == 0
    names = sorted(r.body["displayName"] for r in batch_env.vertex.created())
    assert names == [f"llm-judge-2024-05-0{d}-part-00000" for d in (1, 2, 3)]


def test_status_shows_the_state_of_the_days_jobs(batch_env):
    batch_env.write_raw(RAW, [record(1)])
    batch_env.run("submit", "--date", str(DAY))
    job = batch_env.vertex.jobs()[0]
    batch_env.vertex.set_state(job["name"], "JOB_STATE_RUNNING", completionStats={"successfulCount": "1"})
    code, output = batch_env.run("status", "--date", str(DAY))
    assert code == 0
    assert "1 request(s) in 1 part(s)" in output
    assert f"part 00000: JOB_STATE_RUNNING 1/1 done, 0 failed {job['name']}" in output
