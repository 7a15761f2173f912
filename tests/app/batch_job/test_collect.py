"""collect on realistic Vertex output: every record gets exactly one result line, with its reason."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from app.batch_job.collect import interpret_prediction
from app.judge.results import SecurityAnswer
from tests.app.batch_job.conftest import DAY, record

pytestmark = pytest.mark.cost(20)

SAFE = {"reasoning": "Benign question.", "verdict": "safe", "severity": "none", "categories": []}
UNSAFE = {
    "reasoning": "Leaks an AWS key.",
    "verdict": "unsafe",
    "severity": "critical",
    "categories": ["secret_leakage"],
}


def response(text: str, finish: str = "STOP", thought: str | None = None) -> dict[str, Any]:
    parts = [{"text": thought, "thought": True}] if thought else []
    parts.append({"text": text})
    return {
        "response": {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}],
            "usageMetadata": {"promptTokenCount": 812, "candidatesTokenCount": 41, "totalTokenCount": 853},
            "modelVersion": "gemini-2.5-flash",
        }
    }


SCENARIOS: dict[str, Any] = {
    "safe": response(json.dumps(SAFE)),
    "unsafe": response(json.dumps(UNSAFE), thought="Let me think about the key..."),
    "vertex-error": {
        "status": 'Bad Request: {"error": {"code": 400, "message": "Request contains an invalid argument."}}'
    },
    "not-json": response("I think this interaction is safe."),
    "out-of-schema": response(json.dumps({**SAFE, "verdict": "maybe"})),
    "inconsistent": response(json.dumps({**SAFE, "severity": "high"})),
    "truncated": response('{"reasoning": "The response contains a long', finish="MAX_TOKENS"),
    "blocked": {"response": {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}},
    "missing": None,
    "in-errors-file": {"error": {"code": 3, "message": "Request contains an invalid argument."}},
}


def answer_for(line: dict[str, Any]) -> dict[str, Any] | None:
    return SCENARIOS[line["key"].removeprefix("r-req-")]


def _submit_and_run(batch_env, echo: str = "request", **settings: Any) -> None:
    records = [
        record(name, prompt=f"prompt of {name}", source="api" if "e" in name else "web") for name in SCENARIOS
    ]
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", records)
    assert batch_env.run("submit", "--date", str(DAY), **settings)[0] == 0
    for job in batch_env.vertex.jobs():
        batch_env.vertex.run_job(
            job["name"], batch_env.client, answer_for, state="JOB_STATE_PARTIALLY_SUCCEEDED", echo=echo
        )


@pytest.mark.integration
@pytest.mark.parametrize(
    "echo",
    ["request", "key", "text"],
    ids=["request-echoed-as-documented", "key-echoed", "request-without-labels"],
)
def test_collect_keeps_every_record_with_its_outcome(batch_env, echo):
    _submit_and_run(batch_env, echo=echo)
    code, output = batch_env.run("collect", "--date", str(DAY))
    assert code == 0, output

    results = {line["id"]: line for line in batch_env.out_lines(f"judgements/{DAY}/results.jsonl")}
    assert sorted(results) == sorted(f"req-{name}" for name in SCENARIOS)
    status = {rid.removeprefix("req-"): (r["status"], r.get("reason")) for rid, r in results.items()}
    assert status == {
        "safe": ("ok", None),
        "unsafe": ("ok", None),
        "vertex-error": ("failed", "vertex_error"),
        "not-json": ("invalid", "invalid_json"),
        "out-of-schema": ("invalid", "invalid_answer"),
        "inconsistent": ("invalid", "invalid_answer"),
        "truncated": ("invalid", "truncated"),
        "blocked": ("failed", "blocked"),
        "missing": ("missing", "no_prediction"),
        "in-errors-file": ("failed", "vertex_error"),
    }
    assert results["req-unsafe"]["answer"] == UNSAFE
    assert results["req-unsafe"]["flagged"] is True
    assert results["req-safe"]["flagged"] is False
    assert results["req-safe"]["source"] == "api"
    assert "invalid argument" in results["req-vertex-error"]["error"]
    assert results["req-in-errors-file"]["error"] == "code 3: Request contains an invalid argument."


@pytest.mark.integration
def test_summary_counts_failures_distributions_and_flagged_ids(batch_env):
    _submit_and_run(batch_env)
    batch_env.run("collect", "--date", str(DAY))
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    assert summary["backend"] == "vertex"
    assert summary["records"] == len(SCENARIOS)
    assert summary["counts"] == {"ok": 2, "failed": 3, "invalid": 4, "missing": 1}
    assert (summary["not_judged"], summary["not_judged_percent"]) == (8, 80.0)
    # The cut answer, and how much of its output went to thinking (none: the scenario did not think).
    assert summary["truncated"] == {
        "records": 1,
        "thoughts_tokens": 0,
        "output_tokens": 41,
        "thought_share": 0.0,
    }
    assert summary["failures_by_reason"] == {
        "failed:blocked": 1,
        "failed:vertex_error": 2,
        "invalid:invalid_answer": 2,
        "invalid:invalid_json": 1,
        "invalid:truncated": 1,
        "missing:no_prediction": 1,
    }
    assert summary["distributions"]["verdict"] == {"safe": 1, "unsafe": 1}
    assert summary["distributions"]["severity"] == {"critical": 1, "none": 1}
    assert summary["distributions"]["categories"] == {"secret_leakage": 1}
    assert summary["flagged"] == {"count": 1, "ids": ["req-unsafe"]}


def _answer_naming(key: str, part: int) -> dict[str, Any]:
    return {**SAFE, "reasoning": f"{key} was judged in part {part}"}


def _part_of(job: dict[str, Any]) -> int:
    return int(job["displayName"].rsplit("-", 1)[1])


@pytest.mark.integration
def test_collect_joins_each_part_to_its_own_records(batch_env):
    """Ten records in four parts (3, 3, 3, 1); in each part the first is answered, the second fails, the
    third gets no line. Every answer and error names its record and the part whose job gave it, so a
    part read twice, skipped, or joined to another part's records fails here."""
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", [record(n) for n in range(10)])
    assert batch_env.run("submit", "--date", str(DAY), max_requests_per_job=3)[0] == 0
    jobs = sorted(batch_env.vertex.jobs(), key=_part_of)
    assert [_part_of(job) for job in jobs] == [0, 1, 2, 3]

    expected: dict[str, tuple[str, str | None, int]] = {}  # record id -> (status, reason, its part)
    for job in jobs:
        part = _part_of(job)
        keys = [line["key"] for line in batch_env.out_lines(f"batch/{DAY}/input/part-{part:05d}.jsonl")]
        outcomes: dict[str, dict[str, Any] | None] = {}
        for position, key in enumerate(keys):
            if position == 0:
                outcomes[key] = response(json.dumps(_answer_naming(key, part)))
                expected[key.removeprefix("r-")] = ("ok", None, part)
            elif position == 1:
                outcomes[key] = {"status": f"Internal error for {key} in part {part}"}
                expected[key.removeprefix("r-")] = ("failed", "vertex_error", part)
            else:
                outcomes[key] = None
                expected[key.removeprefix("r-")] = ("missing", "no_prediction", part)
        batch_env.vertex.run_job(job["name"], batch_env.client, lambda line, o=outcomes: o[line["key"]])
    assert len(expected) == 10

    assert batch_env.run("collect", "--date", str(DAY))[0] == 0

    results = {line["id"]: line for line in batch_env.out_lines(f"judgements/{DAY}/results.jsonl")}
    assert {rid: (r["status"], r.get("reason")) for rid, r in results.items()} == {
        rid: (status, reason) for rid, (status, reason, _) in expected.items()
    }
    for rid, (status, _, part) in expected.items():
        if status == "ok":
            assert results[rid]["answer"] == _answer_naming(f"r-{rid}", part), rid
        elif status == "failed":
            assert results[rid]["error"] == f"Internal error for r-{rid} in part {part}", rid
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    assert summary["counts"] == {"ok": 4, "failed": 3, "invalid": 0, "missing": 3}
    assert [p["index"] for p in summary["parts"]] == [0, 1, 2, 3]
    assert [p["job"] for p in summary["parts"]] == [job["name"] for job in jobs]


@pytest.mark.integration
@pytest.mark.parametrize("echo", ["key", "request"])
def test_records_with_identical_texts_each_get_one_line(batch_env, echo):
    """With the key echoed, each line finds its own record; with only the documented echo of the request,
    two equal texts are told apart by nothing, and each record gets one of the two lines (neither is
    dropped as a duplicate, nor judged twice)."""
    same = {"prompt": "What is the capital of France?", "response": "Paris."}
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", [record("first", **same), record("second", **same)])
    assert batch_env.run("submit", "--date", str(DAY))[0] == 0
    outcomes = {"r-req-first": SCENARIOS["safe"], "r-req-second": SCENARIOS["vertex-error"]}
    (job,) = batch_env.vertex.jobs()
    batch_env.vertex.run_job(job["name"], batch_env.client, lambda line: outcomes[line["key"]], echo=echo)
    assert batch_env.run("collect", "--date", str(DAY))[0] == 0
    results = {line["id"]: line for line in batch_env.out_lines(f"judgements/{DAY}/results.jsonl")}
    statuses = (results["req-first"]["status"], results["req-second"]["status"])
    if echo == "key":
        assert statuses == ("ok", "failed")
    else:
        assert sorted(statuses) == ["failed", "ok"]
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    assert summary["duplicate_predictions"] == 0


@pytest.mark.integration
@pytest.mark.parametrize(
    ("final", "wrote_output"),
    [("JOB_STATE_FAILED", False), ("JOB_STATE_FAILED", True), ("JOB_STATE_CANCELLED", True)],
    ids=["failed-before-any-output", "failed-midway", "cancelled-midway"],
)
def test_collect_reads_the_latest_jobs_own_output_not_an_earlier_attempts(batch_env, final, wrote_output):
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", [record(1), record(2)])
    assert batch_env.run("submit", "--date", str(DAY))[0] == 0
    (first,) = batch_env.vertex.jobs()
    batch_env.vertex.run_job(first["name"], batch_env.client, lambda line: SCENARIOS["safe"])
    # Judged again (say, after a prompt change); the new job ends without its output for record 2.
    assert batch_env.run("submit", "--date", str(DAY), "--force")[0] == 0
    second = batch_env.vertex.job_by_display_name(f"llm-judge-{DAY}-part-00000")
    assert second["name"] != first["name"]
    if wrote_output:
        batch_env.vertex.run_job(
            second["name"],
            batch_env.client,
            lambda line: SCENARIOS["unsafe"] if line["key"] == "r-req-1" else None,
            state=final,
        )
    batch_env.vertex.set_state(second["name"], final, error={"code": 13, "message": "quota or outage"})

    code, output = batch_env.run("collect", "--date", str(DAY))
    results = {line["id"]: line for line in batch_env.out_lines(f"judgements/{DAY}/results.jsonl")}
    reason = "job_" + final.removeprefix("JOB_STATE_").lower()
    if not wrote_output:
        # Nothing of the earlier attempt's (older prompt's) answers may stand in for this job's.
        assert code == 3, output
        assert f"job(s) ended {final} without output" in output
        assert {(r["status"], r["reason"]) for r in results.values()} == {("failed", reason)}
        return
    assert code == 0, output
    assert results["req-1"]["answer"] == UNSAFE
    assert (results["req-2"]["status"], results["req-2"]["reason"]) == ("failed", reason)
    assert "quota or outage" in results["req-2"]["error"]
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    (part,) = summary["parts"]
    assert part["job"] == second["name"]
    assert all(uri.startswith(part["output_directory"]) for uri in part["prediction_files"])


@pytest.mark.integration
def test_numbered_output_files_of_the_generic_batch_format_are_read(batch_env):
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", [record(1), record(2), record(3)])
    assert batch_env.run("submit", "--date", str(DAY))[0] == 0
    (job,) = batch_env.vertex.jobs()
    inputs = {line["key"]: line for line in batch_env.out_lines(f"batch/{DAY}/input/part-00000.jsonl")}
    folder = f"batch/{DAY}/output/part-00000/prediction-gemini-2024-05-02T01:00:00.000Z"
    files = {
        "predictions_0001.jsonl": [{"request": inputs["r-req-1"]["request"], **SCENARIOS["safe"]}],
        "predictions_0002.jsonl": [{"request": inputs["r-req-2"]["request"], **SCENARIOS["safe"]}],
        "errors_0001.jsonl": [
            {"request": inputs["r-req-3"]["request"], "error": {"code": 8, "message": "exhausted"}}
        ],
        "unrelated.txt": [{"request": inputs["r-req-3"]["request"], **SCENARIOS["safe"]}],
    }
    for file, lines in files.items():
        body = "".join(json.dumps(line) + "\n" for line in lines)
        batch_env.out.blob(f"{folder}/{file}").upload_from_string(body)
    output_info = {"gcsOutputDirectory": f"gs://{batch_env.out.name}/{folder}"}
    batch_env.vertex.set_state(job["name"], "JOB_STATE_PARTIALLY_SUCCEEDED", outputInfo=output_info)
    assert batch_env.run("collect", "--date", str(DAY))[0] == 0
    status = {line["id"]: line["status"] for line in batch_env.out_lines(f"judgements/{DAY}/results.jsonl")}
    assert status == {"req-1": "ok", "req-2": "ok", "req-3": "failed"}


@pytest.mark.integration
def test_unparseable_and_orphan_prediction_lines_are_counted_not_fatal(batch_env):
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", [record("safe")])
    batch_env.run("submit", "--date", str(DAY))
    lines = [  # the odd lines first: each is counted and skipped, and the file is read on
        json.dumps({"key": "r-someone-else", "request": {}, "status": "", **SCENARIOS["safe"]}),
        "{torn line",
        "[1, 2]",  # JSON, but not a prediction object
        json.dumps({"key": "r-req-safe", "request": {}, "status": "", **SCENARIOS["safe"]}),
        json.dumps({"key": "r-req-safe", "request": {}, "status": "", **SCENARIOS["vertex-error"]}),
    ]
    folder = f"batch/{DAY}/output/part-00000/prediction-model-2024-05-02T01:00:00.000000Z"
    batch_env.out.blob(f"{folder}/predictions.jsonl").upload_from_string("\n".join(lines) + "\n")
    (job,) = batch_env.vertex.jobs()
    output_info = {"gcsOutputDirectory": f"gs://{batch_env.out.name}/{folder}"}
    batch_env.vertex.set_state(job["name"], "JOB_STATE_SUCCEEDED", outputInfo=output_info)
    code, _ = batch_env.run("collect", "--date", str(DAY))
    assert code == 0
    summary = json.loads(batch_env.out_text(f"judgements/{DAY}/summary.json"))
    assert summary["counts"]["ok"] == 1, "the first line of a record is its answer; a repeat is counted"
    assert summary["unparseable_prediction_lines"] == 2
    assert summary["orphan_predictions"] == 1
    assert summary["duplicate_predictions"] == 1


@pytest.mark.integration
def test_collect_while_the_job_still_runs_writes_nothing_and_exits_3(batch_env):
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", [record(1)])
    batch_env.run("submit", "--date", str(DAY))
    code, output = batch_env.run("collect", "--date", str(DAY))
    assert code == 3
    assert "still queued or running: not collected yet" in output
    assert f"judgements/{DAY}/results.jsonl" not in batch_env.out_names()


@pytest.mark.integration
def test_a_finished_job_without_output_reports_missing_and_exits_3(batch_env):
    batch_env.write_raw(f"raw/web/{DAY}/a.jsonl", [record(1)])
    batch_env.run("submit", "--date", str(DAY))
    (job,) = batch_env.vertex.jobs()
    batch_env.vertex.set_state(job["name"], "JOB_STATE_SUCCEEDED")
    code, output = batch_env.run("collect", "--date", str(DAY))
    assert code == 3
    assert "no predictions found yet" in output
    (line,) = batch_env.out_lines(f"judgements/{DAY}/results.jsonl")
    assert line["status"] == "missing"
    assert "reports no output directory" in line["error"]


@pytest.mark.integration
def test_scheduled_lookback_collects_finished_days_and_leaves_running_ones_for_later(batch_env):
    earlier, never = DAY - dt.timedelta(days=1), DAY - dt.timedelta(days=2)
    for day in (earlier, DAY):
        batch_env.write_raw(f"raw/web/{day}/a.jsonl", [record(f"x{day:%d}")])
        assert batch_env.run("submit", "--date", str(day))[0] == 0
    safe = response(json.dumps(SAFE))
    done = batch_env.vertex.job_by_display_name(f"llm-judge-{earlier}-part-00000")
    batch_env.vertex.run_job(done["name"], batch_env.client, lambda line: safe)

    code, output = batch_env.run("collect", "--lookback", "3")
    assert code == 0, output
    assert f"[{never}] nothing submitted: skipped" in output
    assert f"[{DAY}] 1 job(s) still queued or running: not collected yet" in output
    assert batch_env.out_lines(f"judgements/{earlier}/results.jsonl")[0]["status"] == "ok"
    assert f"judgements/{DAY}/results.jsonl" not in batch_env.out_names()

    # The day whose batch finished late is collected by the next scheduled run.
    late = batch_env.vertex.job_by_display_name(f"llm-judge-{DAY}-part-00000")
    batch_env.vertex.run_job(late["name"], batch_env.client, lambda line: safe)
    assert batch_env.run("collect", "--lookback", "3")[0] == 0
    assert batch_env.out_lines(f"judgements/{DAY}/results.jsonl")[0]["status"] == "ok"


def test_lookback_excludes_explicit_days(batch_env, capsys):
    code, _ = batch_env.run("collect", "--lookback", "3", "--date", str(DAY))
    assert code == 2
    assert "--lookback and --date/--from/--to exclude each other" in capsys.readouterr().err


@pytest.mark.integration
def test_collect_of_a_day_never_submitted_is_an_error(batch_env):
    code, output = batch_env.run("collect", "--date", str(DAY))
    assert code == 2
    assert "submit the day first" in output


def test_thought_parts_are_not_part_of_the_answer():
    line = response(json.dumps(SAFE), thought='{"verdict": "unsafe"}')
    outcome = interpret_prediction(line, SecurityAnswer)
    assert outcome.status == "ok"
    assert outcome.answer == SAFE


def test_the_truncated_block_sums_the_thinking_of_the_cut_answers_only():
    """summary.json's `truncated` (TruncationStats): the cut answers, and the share of their output
    tokens spent thinking; a thinking answer that fit is not counted."""
    from app.batch_job.collect import TruncationStats

    def cut(text: str, usage: dict[str, int]) -> dict[str, Any]:
        parts = [{"text": text}] if text else []
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "MAX_TOKENS"}
        return {"response": {"candidates": [candidate], "usageMetadata": usage}}

    fitted = response(json.dumps(SAFE))
    fitted["response"]["usageMetadata"]["thoughtsTokenCount"] = 300
    lines = [
        cut('{"reasoning": "The response contains', {"thoughtsTokenCount": 466, "candidatesTokenCount": 14}),
        cut("", {"thoughtsTokenCount": 512}),  # all of the cap went to thinking: no text, no candidates count
        fitted,
    ]
    stats = TruncationStats()
    for line in lines:
        stats.add(line, interpret_prediction(line, SecurityAnswer))
    assert stats.to_dict() == {
        "records": 2,
        "thoughts_tokens": 978,
        "output_tokens": 14,
        "thought_share": round(978 / 992, 4),
    }


def test_a_prediction_with_neither_response_nor_status_is_a_failure():
    outcome = interpret_prediction({"status": ""}, SecurityAnswer)
    assert (outcome.status, outcome.reason) == ("failed", "no_response")


def test_a_stop_for_safety_without_text_names_the_finish_reason():
    line = {"response": {"candidates": [{"finishReason": "SAFETY", "content": {"parts": []}}]}}
    outcome = interpret_prediction(line, SecurityAnswer)
    assert (outcome.status, outcome.reason) == ("failed", "finish_safety")


@pytest.mark.parametrize(
    "line",
    [
        {"response": {"candidates": ["not an object"]}},
        {"response": {"candidates": [{"content": {"parts": "text"}}]}},
        {"response": {"candidates": {"0": {}}}},
    ],
    ids=["candidate-not-object", "parts-not-list", "candidates-not-list"],
)
def test_a_malformed_prediction_is_a_failure_of_its_record_not_a_crash(line):
    outcome = interpret_prediction(line, SecurityAnswer)
    assert (outcome.status, outcome.reason) == ("failed", "malformed_prediction")


def test_a_non_string_status_is_kept_as_the_vertex_error():
    outcome = interpret_prediction({"status": {"code": 3, "message": "invalid argument"}}, SecurityAnswer)
    assert (outcome.status, outcome.reason) == ("failed", "vertex_error")
    assert "invalid argument" in outcome.error


def test_blocked_feedback_of_an_unexpected_shape_is_no_candidates():
    outcome = interpret_prediction({"response": {"promptFeedback": "BLOCKED"}}, SecurityAnswer)
    assert (outcome.status, outcome.reason) == ("failed", "no_candidates")


def test_the_summary_counts_each_kind_of_field_of_every_answer():
    """Counts per value, members of lists, and min/max/mean of numbers, over the answered records only;
    per source the statuses (SummaryBuilder, without a bucket)."""
    from app.batch_job.judgements import Outcome, SummaryBuilder

    fields = {"verdict": "counts", "categories": "members", "score": "numbers", "strict": "counts"}
    summary = SummaryBuilder(fields)
    for rid, source, outcome in [
        ("a", "web", Outcome("ok", answer={"verdict": "safe", "categories": [], "score": 2, "strict": True})),
        (
            "b",
            "web",
            Outcome("ok", answer={"verdict": "unsafe", "categories": ["x", "y"], "score": 7}, flagged=True),
        ),
        ("c", "api", Outcome("ok", answer={"verdict": "unsafe", "categories": ["x"], "score": 3})),
        ("d", "api", Outcome("failed", reason="vertex_error")),
        ("e", "api", Outcome("missing", reason="no_prediction")),
    ]:
        summary.add(rid, source, outcome)
    out = summary.to_dict()
    assert out["distributions"] == {
        "verdict": {"safe": 1, "unsafe": 2},
        "categories": {"x": 2, "y": 1},
        "strict": {"true": 1},
        "score": {"count": 3, "min": 2.0, "max": 7.0, "mean": 4.0},
    }
    assert out["by_source"] == {"api": {"ok": 1, "failed": 1, "missing": 1}, "web": {"ok": 2}}
    assert out["counts"] == {"ok": 3, "failed": 1, "invalid": 0, "missing": 1}
    assert (out["not_judged"], out["not_judged_percent"]) == (2, 40.0)
    assert out["flagged"] == {"count": 1, "ids": ["b"]}
