"""`python -m app.judge eval`: a prompt file's testData through the judge, checked by its evaluators the
way gh-models' `cmd/eval` does it; the grader is a second OpenAI-compatible server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from app.judge.cli import main
from app.judge.evaluate import EvalError, check_evaluators, render_template, run_eval
from app.judge.prompt_file import PromptFile
from app.judge.results import JudgeFailure, Judgement, SecurityAnswer
from tests.support.fake_openai import FakeOpenAI, Reply

ROOT = Path(__file__).resolve().parents[3]
SECURITY = ROOT / "prompts" / "security-judge.prompt.yml"
JUDGE = ROOT / "prompts" / "judge.prompt.yml"


def _prompt(evaluators: list[dict], test_data: list[dict] | None = None) -> PromptFile:
    data = yaml.safe_load(SECURITY.read_text())
    data["evaluators"] = evaluators
    if test_data is not None:
        data["testData"] = test_data
    return PromptFile.from_mapping(data)


def _answer(verdict: str = "unsafe") -> Judgement:
    fields = (
        {"severity": "high", "categories": ["secret_leakage"]}
        if verdict == "unsafe"
        else {"severity": "none", "categories": []}
    )
    answer = SecurityAnswer(reasoning="Leaks A KEY.", verdict=verdict, **fields)
    # As a model writes it: spaces after the separators, white space around.
    reply = "\n  " + json.dumps({"reasoning": "Leaks A KEY.", "verdict": verdict, **fields}) + "  \n"
    return Judgement("m", 1.0, answer=answer, reply=reply)


CASE = [{"prompt": "p", "response": "r", "expected_verdict": "unsafe"}]


def test_string_evaluators_compare_as_gh_models_does():
    prompt = _prompt(
        [
            {"name": "contains-any-case", "string": {"contains": "LEAKS a key"}},
            {"name": "equals-is-exact", "string": {"equals": '{"reasoning":"leaks a key."}'}},
            {"name": "starts", "string": {"startsWith": '{"REASONING"'}},
            {"name": "ends", "string": {"endsWith": '"SECRET_LEAKAGE"]}'}},
            {"name": "templated", "string": {"contains": '"verdict": "{{expected_verdict}}"'}},
        ],
        CASE,
    )
    run = run_eval(prompt, lambda p, r: _answer(), None, model="m")
    results = {r.name: r for r in run.cases[0].results}
    assert {n: r.passed for n, r in results.items()} == {
        "contains-any-case": True,
        "equals-is-exact": False,
        "starts": True,  # the reply is trimmed first, as gh-models trims it
        "ends": True,
        "templated": True,
    }
    assert results["templated"].details == """Expected to contain: '"verdict": "unsafe"'"""
    assert run.cases[0].model_response.startswith('{"reasoning": "Leaks A KEY.", "verdict": "unsafe"')


def test_evaluators_read_the_reply_as_the_model_wrote_it_not_the_answer_serialised_again():
    # gh-models evaluates strings.TrimSpace(content) (cmd/eval/eval.go): `"verdict": "unsafe"` with its
    # space passes there, and must pass here; the compact model_dump_json() has no space.
    reply = _answer().reply
    assert reply is not None
    prompt = _prompt(
        [
            {"name": "spaced", "string": {"contains": '"verdict": "unsafe"'}},
            {"name": "whole-reply", "string": {"equals": reply.strip()}},
        ],
        CASE,
    )
    run = run_eval(prompt, lambda p, r: _answer(), None, model="m")
    assert [r.passed for r in run.cases[0].results] == [True, True]
    answer = _answer().answer
    assert answer is not None
    assert '"verdict": "unsafe"' not in answer.model_dump_json()


def test_llm_evaluators_take_the_first_choice_the_reply_contains():
    asked: list[tuple[str, list[dict]]] = []
    replies = iter(["  Yes, it matches. ", "NO", "I cannot say", "unsure", "maybe"])

    def grader(model: str, messages: list[dict]) -> str:
        asked.append((model, messages))
        return next(replies)

    evaluator = {
        "name": "verdict-ok",
        "llm": {
            "modelId": "openai/gpt-4o-mini",
            "systemPrompt": "You check {{expected_verdict}}.",
            "prompt": "Expected {{expected_verdict}}. Output: {{completion}}",
            "choices": [
                {"choice": "yes", "score": 1.0},
                {"choice": "no", "score": 0.0},
                {"choice": "maybe", "score": 0.5},
            ],
        },
    }
    prompt = _prompt([evaluator], CASE * 5)
    run = run_eval(prompt, lambda p, r: _answer(), grader, model="m")
    outcomes = [(c.results[0].score, c.results[0].passed, c.results[0].details) for c in run.cases]
    assert outcomes == [
        (1.0, True, "LLM evaluation matched choice: 'yes'"),
        (0.0, False, "LLM evaluation matched choice: 'no'"),
        # gh-models matches by substring, in file order: "cannot" contains "no".
        (0.0, False, "LLM evaluation matched choice: 'no'"),
        (0.0, False, "LLM evaluation response 'unsure' did not match any defined choices"),
        (0.5, True, "LLM evaluation matched choice: 'maybe'"),  # any score above 0 passes
    ]
    model, messages = asked[0]
    assert model == "openai/gpt-4o-mini"
    assert messages[0] == {"role": "system", "content": "You check {{expected_verdict}}."}  # not templated
    assert messages[1]["content"].startswith('Expected unsafe. Output: {"reasoning": "Leaks A KEY."')


def test_templates_are_filled_in_one_pass_and_values_print_like_go():
    variables = {"a": "{{b}}", "b": "x", "t": True, "f": 2.0, "g": 0.5}
    assert render_template("{{a}} {{t}} {{f}} {{g}}", variables) == "{{b}} true 2 0.5"


def test_a_failed_judgement_fails_every_evaluator_of_its_case_and_counts_as_an_error():
    failure = Judgement("m", 1.0, failure=JudgeFailure(reason="timeout", error="no answer"))
    prompt = _prompt([{"name": "has-verdict", "string": {"contains": "verdict"}}], CASE * 2)
    answers = iter([failure, _answer()])
    run = run_eval(prompt, lambda p, r: next(answers), None, model="m")
    assert [c.passed for c in run.cases] == [False, True]
    assert run.cases[0].results[0].details == "judge failed: timeout: no answer"
    assert run.errors == 1
    assert run.evaluator_rates() == {"has-verdict": (1, 2, 50.0)}
    assert run.below(100.0) == ["has-verdict"]
    assert run.below(50.0) == []


@pytest.mark.parametrize(
    ("evaluators", "skip", "message"),
    [
        ([{"name": "sim", "uses": "github/similarity"}], (), "uses github/similarity, a gh-models built-in"),
        (
            [{"name": "x", "string": {"contains": "{{nope}}"}}],
            (),
            "{{nope}} is not a variable of testData[0]",
        ),
        ([{"name": "x", "string": {"contains": "a"}}], ("y",), "--skip-evaluator y: the prompt has no such"),
        ([{"name": "x", "string": {"contains": "a"}}], ("x",), "no evaluator left to run"),
    ],
)
def test_what_cannot_be_evaluated_is_refused_before_any_request(evaluators, skip, message):
    with pytest.raises(EvalError, match=message.replace("{", r"\{").replace("[", r"\[")):
        check_evaluators(_prompt(evaluators, CASE), skip)


def test_a_skipped_builtin_lets_the_rest_run():
    prompt = _prompt(
        [{"name": "sim", "uses": "github/similarity"}, {"name": "x", "string": {"contains": "a"}}], CASE
    )
    assert [e.name for e in check_evaluators(prompt, ["sim"])] == ["x"]


# --- the CLI against the fake judge server and a fake grader server -----------------------------------


@pytest.fixture(scope="module")
def grader_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(model="grader").start()
    yield server
    server.stop()


@pytest.fixture
def grader(grader_server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    grader_server.reset()
    monkeypatch.setenv("JUDGE_GRADER_API_KEY", "grader-key")
    yield grader_server
    grader_server.reset()


def _eval(fake: FakeOpenAI, grader: FakeOpenAI, prompt: Path, *extra: str) -> int:
    return main(
        [
            "eval",
            str(prompt),
            "--base-url",
            fake.base_url,
            "--model",
            "fake-judge",
            "--grader-base-url",
            grader.base_url,
            "--grader-model",
            "grader",
            *extra,
        ]
    )


@pytest.mark.integration
def test_the_security_prompts_own_cases_through_judge_and_grader(fake_openai, grader, capsys):
    cases = yaml.safe_load(SECURITY.read_text())["testData"]
    # The grader says yes where the naive fake judge got the expected verdict (it flags "ignore" only).
    naive = ["unsafe" if "ignore" in (c["prompt"] + c["response"]).lower() else "safe" for c in cases]
    grader.script(
        *(Reply("yes" if v == c["expected_verdict"] else "no") for v, c in zip(naive, cases, strict=True))
    )
    code = _eval(fake_openai, grader, SECURITY)
    out = " ".join(capsys.readouterr().out.split())
    assert code == 1  # the default --min-pass-rate is 100 and the naive judge misses some cases
    right = sum(v == c["expected_verdict"] for v, c in zip(naive, cases, strict=True))
    assert f"answers-with-verdict {len(cases)}/{len(cases)} 100.00%" in out
    assert f"verdict-matches-expectation {right}/{len(cases)} {100 * right / len(cases):.2f}%" in out
    assert "below --min-pass-rate 100%: verdict-matches-expectation" in out
    # Every grader request: the configured model, temperature 0, the evaluator's system prompt.
    assert len(grader.requests) == len(cases)
    first = grader.requests[0]
    assert first["model"] == "grader"
    assert first["temperature"] == 0.0
    assert first["messages"][0]["role"] == "system"
    assert '"verdict"' in first["messages"][1]["content"]
    # And the judge got the prompt's own rendering with its schema, once per case.
    assert len(fake_openai.requests) == len(cases)
    assert fake_openai.requests[0]["response_format"]["json_schema"]["name"] == "security_review"


@pytest.mark.integration
def test_a_lower_threshold_passes_and_json_has_gh_models_shape(fake_openai, grader, capsys, tmp_path):
    grader.script(*[Reply("yes")] * 6, Reply("no"))
    code = _eval(
        fake_openai,
        grader,
        SECURITY,
        "--min-pass-rate",
        "80",
        "--json",
        "--json-file",
        str(tmp_path / "r.json"),
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result == json.loads((tmp_path / "r.json").read_text())
    assert set(result) >= {"name", "description", "model", "testResults", "summary"}
    assert result["summary"] == {
        "totalTests": 7,
        "passedTests": 6,
        "failedTests": 1,
        "passRate": pytest.approx(600 / 7),
    }
    assert result["evaluators"][1] == {
        "name": "verdict-matches-expectation",
        "passed": 6,
        "total": 7,
        "passRate": pytest.approx(600 / 7),
    }
    assert set(result["testResults"][0]) == {"testCase", "modelResponse", "evaluationResults"}
    assert set(result["testResults"][0]["evaluationResults"][0]) == {
        "evaluatorName",
        "score",
        "passed",
        "details",
    }


@pytest.mark.integration
def test_a_grader_error_is_reported_and_fails_the_run(fake_openai, grader, capsys):
    from tests.support.fake_openai import Status

    grader.script(*[Status(400, message="model not found")] * 7)
    code = _eval(fake_openai, grader, SECURITY, "--min-pass-rate", "0")
    out = capsys.readouterr().out
    assert code == 1
    assert "grader error: BadRequestError" in out
    assert "7 judge or grader request(s) failed" in out


@pytest.mark.integration
def test_string_evaluators_alone_need_no_grader(fake_openai, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.delenv("JUDGE_GRADER_API_KEY", raising=False)
    argv = ["eval", str(JUDGE), "--base-url", fake_openai.base_url, "--model", "fake-judge"]
    assert main([*argv, "--skip-evaluator", "overall-matches-expectation"]) == 0
    assert "all evaluators at or above 100%" in capsys.readouterr().out
    # ...while an llm evaluator with no key for GitHub Models is a usage error, before any request.
    fake_openai.reset()
    assert main(argv) == 2
    assert "llm evaluators need a grader: set GITHUB_TOKEN" in capsys.readouterr().err
    assert fake_openai.requests == []


@pytest.mark.integration
def test_the_cli_evaluates_the_judges_raw_reply(fake_openai, tmp_path, capsys):
    data = yaml.safe_load(SECURITY.read_text())
    data["testData"] = data["testData"][:1]
    data["evaluators"] = [{"name": "spaced", "string": {"contains": '"severity": "none"'}}]
    prompt = tmp_path / "spaced.prompt.yml"
    prompt.write_text(yaml.safe_dump(data))
    raw = '\n{"reasoning": "fine",\n "verdict": "safe", "severity": "none", "categories": []}\n\n'
    fake_openai.script(Reply(raw))
    argv = ["eval", str(prompt), "--base-url", fake_openai.base_url, "--model", "fake-judge", "--json"]
    assert main(argv) == 0
    (case,) = json.loads(capsys.readouterr().out)["testResults"]
    assert case["modelResponse"] == raw.strip()
    assert case["evaluationResults"][0]["passed"] is True


def test_usage_errors_exit_2(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing.prompt.yml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["eval", str(SECURITY), "--min-pass-rate", "120"]) == 2
    assert "--min-pass-rate 120.0: give a percentage from 0 to 100" in capsys.readouterr().err
