"""``python -m app.judge eval``: a prompt file's own test cases, run through the judge and checked by its
evaluators, as ``gh models eval`` (github/gh-models ``cmd/eval``) does it.

Semantics kept from gh-models:

* every ``testData`` item is one test case; it passes when every evaluator passes;
* ``string`` evaluators: ``equals`` is exact and case-sensitive; ``contains``, ``startsWith`` and
  ``endsWith`` compare lower-cased text; the expected text is templated with the test case's variables;
* ``llm`` evaluators: their ``prompt`` is templated with the test case's variables plus ``completion``
  (the judge's answer), sent after the unchanged ``systemPrompt`` to the grader model; the grader's
  reply, trimmed and lower-cased, is matched against the ``choices`` in file order, the first choice
  contained in it wins, and it passes when that choice's score is above 0; no match scores 0;
* the evaluators read the model's reply as it wrote it, trimmed of surrounding white space (gh-models'
  ``cmd/eval/eval.go``, ``callModelWithRetry``: ``strings.TrimSpace`` of the streamed content, handed to
  ``runEvaluators`` as ``response``), so ``contains: '"overall": 8'`` passes on ``{"overall": 8}`` here as
  there; the JSON output has gh-models' shape (``name``, ``description``, ``model``, ``testResults``,
  ``summary`` with ``passRate`` in percent).

Where this departs, and why:

* the test case goes through the judge client itself (retries, strict typed answer, ask-once-more): the
  eval checks the judge the nightly job runs, not a bare completion, and a reply the client refuses is
  not evaluated. A judgement that fails fails every evaluator of its case (gh-models stops the run);
* placeholders are replaced in one pass (gh-models replaces key by key, so a value holding
  ``{{other}}`` would be replaced again), and a placeholder with no variable is an error before any
  request is sent, not literal text sent to a model;
* ``uses: github/...`` built-in evaluators are not run (their prompts live in gh-models): the run stops
  with a usage error unless they are skipped with ``--skip-evaluator``;
* the grader gets ``temperature: 0`` (an eval must not change its mind between runs; vLLM would
  otherwise apply the model's generation defaults), and grader or judge errors are reported per case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.judge.prompt_file import Evaluator, LlmEvaluator, PromptFile, StringEvaluator
from app.judge.results import Judgement

__all__ = [
    "CaseResult",
    "EvalError",
    "EvalRun",
    "EvaluatorResult",
    "Grader",
    "check_evaluators",
    "render_template",
    "run_eval",
]

_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
COMPLETION = "completion"


class EvalError(ValueError):
    """The prompt file cannot be evaluated as asked (no test data, unknown variable, built-in evaluator)."""


class Grader(Protocol):
    def __call__(self, model: str, messages: list[dict[str, str]]) -> str: ...


def _go_value(value: Any) -> str:
    """A test-data value as gh-models writes it into a template (Go's ``%v``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_template(text: str, variables: Mapping[str, Any]) -> str:
    """Replace every ``{{name}}`` in one pass; a missing name is an error (checked before the run)."""
    return _PLACEHOLDER.sub(lambda m: _go_value(variables[m.group(1)]), text)


@dataclass
class EvaluatorResult:
    name: str
    score: float
    passed: bool
    details: str
    error: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "evaluatorName": self.name,
            "score": self.score,
            "passed": self.passed,
            "details": self.details,
        }
        if self.error:
            out["error"] = True
        return out


@dataclass
class CaseResult:
    index: int
    test_case: dict[str, Any]
    model_response: str
    judge_error: str | None
    results: list[EvaluatorResult]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "testCase": self.test_case,
            "modelResponse": self.model_response,
            "evaluationResults": [r.to_dict() for r in self.results],
        }
        if self.judge_error:
            out["judgeError"] = self.judge_error
        return out


@dataclass
class EvalRun:
    prompt: PromptFile
    model: str
    cases: list[CaseResult] = field(default_factory=list)
    evaluators: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def passed_cases(self) -> int:
        return sum(c.passed for c in self.cases)

    def pass_rate(self) -> float:
        """Percent of test cases whose evaluators all passed (gh-models' passRate; 100 with no cases)."""
        return 100.0 if not self.cases else 100.0 * self.passed_cases / len(self.cases)

    def evaluator_rates(self) -> dict[str, tuple[int, int, float]]:
        """Per evaluator: (passed, total, percent)."""
        rates: dict[str, tuple[int, int, float]] = {}
        for name in self.evaluators:
            outcomes = [r.passed for c in self.cases for r in c.results if r.name == name]
            passed = sum(outcomes)
            rates[name] = (passed, len(outcomes), 100.0 * passed / len(outcomes) if outcomes else 100.0)
        return rates

    @property
    def errors(self) -> int:
        return sum(1 for c in self.cases if c.judge_error) + sum(
            1 for c in self.cases for r in c.results if r.error and not c.judge_error
        )

    def below(self, threshold: float) -> list[str]:
        """Evaluators whose pass rate is under ``threshold`` percent."""
        return [name for name, (_, _, rate) in self.evaluator_rates().items() if rate < threshold]

    def to_dict(self, threshold: float) -> dict[str, Any]:
        total = len(self.cases)
        return {
            "name": self.prompt.name,
            "description": self.prompt.description,
            "model": self.model,
            "testResults": [c.to_dict() for c in self.cases],
            "summary": {
                "totalTests": total,
                "passedTests": self.passed_cases,
                "failedTests": total - self.passed_cases,
                "passRate": self.pass_rate(),
            },
            "evaluators": [
                {"name": name, "passed": passed, "total": n, "passRate": rate}
                for name, (passed, n, rate) in self.evaluator_rates().items()
            ],
            "skippedEvaluators": self.skipped,
            "threshold": threshold,
            "errors": self.errors,
            "belowThreshold": self.below(threshold),
        }


def _templates(evaluator: Evaluator) -> list[tuple[str, str]]:
    if evaluator.string is not None:
        s = evaluator.string
        return [
            (f"string.{key}", value)
            for key, value in (
                ("equals", s.equals),
                ("contains", s.contains),
                ("startsWith", s.starts_with),
                ("endsWith", s.ends_with),
            )
            if value is not None
        ]
    if evaluator.llm is not None:
        return [("llm.prompt", evaluator.llm.prompt)]
    return []


def check_evaluators(prompt: PromptFile, skip: Sequence[str]) -> list[Evaluator]:
    """The evaluators to run; ``EvalError`` names the evaluator, field and test case that cannot run."""
    problems: list[str] = []
    names = [e.name for e in prompt.evaluators]
    for name in skip:
        if name not in names:
            problems.append(f"--skip-evaluator {name}: the prompt has no such evaluator ({', '.join(names)})")
    if not prompt.test_data:
        problems.append("the prompt file has no testData: nothing to evaluate")
    chosen: list[Evaluator] = []
    for i, evaluator in enumerate(prompt.evaluators):
        if evaluator.name in skip:
            continue
        if evaluator.uses is not None:
            problems.append(
                f"evaluators[{i}] {evaluator.name}: uses {evaluator.uses}, a gh-models built-in evaluator "
                f"not run here (run `gh models eval`), or pass --skip-evaluator {evaluator.name}"
            )
            continue
        extra = {COMPLETION} if evaluator.llm is not None else set()
        for where, template in _templates(evaluator):
            needed = set(_PLACEHOLDER.findall(template))
            for n, case in enumerate(prompt.test_data):
                missing = needed - set(case) - extra
                if missing:
                    problems.append(
                        f"evaluators[{i}].{where} ({evaluator.name}): "
                        + ", ".join("{{" + m + "}}" for m in sorted(missing))
                        + f" is not a variable of testData[{n}] (it has {', '.join(sorted(case))})"
                    )
        chosen.append(evaluator)
    if not chosen and prompt.test_data:
        problems.append("no evaluator left to run")
    if problems:
        raise EvalError("\n".join(problems))
    return chosen


def _string_result(
    name: str, check: StringEvaluator, variables: Mapping[str, Any], response: str
) -> EvaluatorResult:
    if check.equals is not None:
        expected = render_template(check.equals, variables)
        return _result(name, response == expected, f"Expected exact match: '{expected}'")
    lowered = response.lower()
    if check.contains is not None:
        expected = render_template(check.contains, variables)
        return _result(name, expected.lower() in lowered, f"Expected to contain: '{expected}'")
    if check.starts_with is not None:
        expected = render_template(check.starts_with, variables)
        return _result(name, lowered.startswith(expected.lower()), f"Expected to start with: '{expected}'")
    assert check.ends_with is not None
    expected = render_template(check.ends_with, variables)
    return _result(name, lowered.endswith(expected.lower()), f"Expected to end with: '{expected}'")


def _result(name: str, passed: bool, details: str) -> EvaluatorResult:
    return EvaluatorResult(name, 1.0 if passed else 0.0, passed, details)


def _llm_result(
    name: str,
    check: LlmEvaluator,
    variables: Mapping[str, Any],
    response: str,
    grader: Grader,
    grader_model: str | None,
) -> EvaluatorResult:
    messages = []
    if check.system_prompt:
        messages.append({"role": "system", "content": check.system_prompt})
    messages.append(
        {"role": "user", "content": render_template(check.prompt, {**variables, COMPLETION: response})}
    )
    try:
        reply = grader(grader_model or check.model_id, messages)
    except Exception as exc:  # the grader is a remote model: any failure is this evaluator's, reported
        return EvaluatorResult(
            name, 0.0, False, f"grader error: {type(exc).__name__}: {exc}"[:500], error=True
        )
    text = reply.strip().lower()
    for choice in check.choices:
        if choice.choice.lower() in text:
            return EvaluatorResult(
                name, choice.score, choice.score > 0, f"LLM evaluation matched choice: '{choice.choice}'"
            )
    return EvaluatorResult(
        name, 0.0, False, f"LLM evaluation response '{text}' did not match any defined choices"
    )


def completion_text(judgement: Judgement) -> str:
    """What the evaluators read: the reply that gave the validated answer, as the model wrote it, trimmed
    (gh-models: ``strings.TrimSpace`` of the content, cmd/eval/eval.go). Not the answer re-serialised:
    ``model_dump_json()`` is compact, so ``contains: '"overall": 8'`` would fail on a reply that has it."""
    if judgement.reply is None:
        raise ValueError("a judgement without the model's reply cannot be evaluated (judge with JudgeClient)")
    return judgement.reply.strip()


def run_eval(
    prompt: PromptFile,
    judge: Callable[[str, str], Judgement],
    grader: Grader | None,
    *,
    model: str,
    skip: Sequence[str] = (),
    grader_model: str | None = None,
    progress: Callable[[CaseResult, int], None] | None = None,
) -> EvalRun:
    """Judge every test case and apply the evaluators; ``judge(prompt, response)`` is the judge client."""
    evaluators = check_evaluators(prompt, skip)
    run = EvalRun(prompt, model, evaluators=[e.name for e in evaluators], skipped=list(skip))
    for index, case in enumerate(prompt.test_data):
        judgement = judge(_go_value(case["prompt"]), _go_value(case["response"]))
        if judgement.answer is None:
            error = judgement.error or "judge failed"
            results = [
                EvaluatorResult(e.name, 0.0, False, f"judge failed: {error}"[:500], error=True)
                for e in evaluators
            ]
            result = CaseResult(index, dict(case), "", error, results)
        else:
            response = completion_text(judgement)
            results = []
            for evaluator in evaluators:
                if evaluator.string is not None:
                    results.append(_string_result(evaluator.name, evaluator.string, case, response))
                else:
                    assert evaluator.llm is not None
                    assert grader is not None, "llm evaluators need a grader"
                    results.append(
                        _llm_result(evaluator.name, evaluator.llm, case, response, grader, grader_model)
                    )
            result = CaseResult(index, dict(case), response, None, results)
        run.cases.append(result)
        if progress is not None:
            progress(result, len(prompt.test_data))
    return run
