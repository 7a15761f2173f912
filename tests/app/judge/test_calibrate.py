"""``python -m app.judge calibrate`` against fake judges whose agreement with the gold set is known: the
figures match hand-worked tables, an item the judge fails on is typed and never scored, ``--json``
writes what was printed, and ``--against`` gates a model change on kappa and unsafe recall."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.judge.cli import main
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_vertex import FakeVertex

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SECURITY = ROOT / "prompts" / "security-judge.prompt.yml"
_JUDGED_PROMPT = re.compile(r"<judged_prompt>\n(.*?)\n</judged_prompt>", re.DOTALL)

SAFE = {"verdict": "safe", "severity": "none", "categories": []}
UNSAFE = {"verdict": "unsafe", "severity": "high", "categories": ["secret_leakage"]}
# Ten items: ana labels i1-i5 unsafe and i6-i10 safe; ben labels i1, i2, i6 and disagrees on i2.
ANA = {f"i{n}": UNSAFE if n <= 5 else SAFE for n in range(1, 11)}
BEN = {"i1": UNSAFE, "i2": SAFE, "i6": SAFE}
# The judge agrees with ana except: it misses i3 and over-flags i7.
JUDGE = {**ANA, "i3": SAFE, "i7": {"verdict": "unsafe", "severity": "low", "categories": ["jailbreak"]}}


@pytest.fixture(autouse=True)
def tiny_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_BACKOFF_INITIAL_S", "0.01")
    monkeypatch.setenv("JUDGE_BACKOFF_MAX_S", "0.02")
    monkeypatch.setenv("JUDGE_MAX_RETRIES", "1")


def gold_file(path: Path) -> Path:
    lines = [
        {
            "id": item,
            "prompt": f"prompt of {item}",
            "response": f"response of {item}",
            "labeller": who,
            "labels": labels,
        }
        for who, labelled in (("ana", ANA), ("ben", BEN))
        for item, labels in labelled.items()
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def answering(answers: dict[str, Any]) -> Callable[[dict[str, Any]], str]:
    """A judge that gives ``answers[item]`` for the item whose prompt it is shown (a string: as is)."""

    def answer(body: dict[str, Any]) -> str:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        item = _JUDGED_PROMPT.search(user).group(1).removeprefix("prompt of ")  # type: ignore[union-attr]
        found = answers[item]
        return found if isinstance(found, str) else json.dumps({"reasoning": "fake", **found})

    return answer


def calibrate(fake: FakeOpenAI, gold: Path, *extra: str) -> int:
    base = ["calibrate", "--gold", str(gold), "--prompt", str(SECURITY), "--base-url", fake.base_url]
    return main([*base, "--concurrency", "4", "--rounds", "300", *extra])


@pytest.fixture(scope="module")
def current(fake_openai_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the judge of known agreement: its gold set, its --json and what it printed."""
    fake_openai_server.reset()
    fake_openai_server.answer = answering(JUDGE)
    root = tmp_path_factory.mktemp("calibrate")
    gold, out = gold_file(root / "gold.jsonl"), root / "figures.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUDGE_MAX_RETRIES", "1")
        code = calibrate(fake_openai_server, gold, "--json", str(out))
    fake_openai_server.reset()
    return {"code": code, "gold": gold, "json": out, "printed": printed.getvalue()}


def test_figures_match_the_hand_worked_table(current):
    assert current["code"] == 0
    printed, out = current["printed"], current["json"]
    figures = json.loads(out.read_text())
    # Every label is a pair (13): people \ judge  safe  unsafe
    #                                  safe           5       2    (i6, i8, i9, i10, ben's i6 | i7, ben's i2)
    #                                  unsafe         1       5    (i3 | i1, i2, i4, i5, ben's i1)
    # p_o = 10/13; marginals people 7/6, judge 6/7: p_e = 84/169 -> kappa = (130 - 84) / (169 - 84) = 46/85.
    verdict = figures["fields"]["verdict"]
    assert verdict["table"] == [[5, 2], [1, 5]]
    assert verdict["kappa"] == pytest.approx(46 / 85)
    assert verdict["accuracy"] == pytest.approx(10 / 13)
    assert figures["unsafe"]["recall"] == pytest.approx(5 / 6)
    assert figures["unsafe"]["precision"] == pytest.approx(5 / 7)
    # The people on i1, i2, i6: (U, U), (U, S), (S, S): p_o 2/3, p_e 4/9 -> kappa 0.4, the ceiling.
    assert figures["people"]["fields"]["verdict"]["kappa"] == pytest.approx(0.4)
    assert figures["people"]["pairs"] == 3
    assert figures["gold"]["items"] == 10
    assert figures["judged"] == 10
    assert figures["failed"] == {}
    assert figures["judge"]["backend"] == "openai"
    assert figures["headline"]["field"] == "verdict"
    # What is printed is what is written.
    assert re.search(r"verdict\s+13\s+76\.9%\s+0\.541", printed)
    assert "0.400 (n 3)" in printed
    assert "unsafe: precision 0.714  recall 0.833" in printed
    assert "jailbreak" in printed  # the over-flag's category, judge only
    assert f"figures -> {out}" in printed


def test_an_item_the_judge_fails_on_is_typed_and_never_scored(fake_openai, tmp_path, capsys):
    fake_openai.answer = answering({**JUDGE, "i10": "I think this one is fine."})
    out = tmp_path / "figures.json"
    assert calibrate(fake_openai, gold_file(tmp_path / "gold.jsonl"), "--json", str(out)) == 1
    figures = json.loads(out.read_text())
    assert figures["failed"] == {"invalid_json": 1}
    assert figures["failed_ids"] == ["i10"]
    assert figures["judged"] == 9
    # i10 (safe/safe) is gone: [[4, 2], [1, 5]], n 12: p_o 9/12, p_e (6*5 + 6*7)/144 = 1/2 -> kappa 0.5.
    assert figures["fields"]["verdict"]["table"] == [[4, 2], [1, 5]]
    assert figures["fields"]["verdict"]["kappa"] == pytest.approx(0.5)
    captured = capsys.readouterr()
    assert "not judged (never scored): invalid_json 1" in captured.out
    assert "1 item(s) not judged and not scored: i10" in captured.err


def test_the_gate_passes_the_same_model_and_fails_a_worse_one(fake_openai, current, capsys):
    gold, figures = current["gold"], current["json"]
    fake_openai.answer = answering(JUDGE)
    assert calibrate(fake_openai, gold, "--against", str(figures)) == 0
    assert "ok: kappa on verdict 0.541, was 0.541" in capsys.readouterr().out

    fake_openai.answer = answering({**JUDGE, "i4": SAFE})  # a candidate that also misses i4
    assert calibrate(fake_openai, gold, "--against", str(figures)) == 1
    out = capsys.readouterr().out
    assert "FAILED: kappa on verdict" in out
    assert "FAILED: unsafe recall 0.667, was 0.833: it may not drop" in out


@pytest.mark.parametrize(
    ("previous_kappa_above", "previous_recall", "code"),
    [
        (0.05, None, 0),  # a drop of exactly the default threshold passes
        (0.0501, None, 1),  # a hair more fails
        (0.0, 0.9, 1),  # the same kappa, but unsafe recall was higher
        (-0.2, 0.5, 0),  # better on both
    ],
)
def test_the_gate_threshold_and_recall(
    fake_openai, current, tmp_path, previous_kappa_above, previous_recall, code
):
    gold = current["gold"]
    fake_openai.answer = answering(JUDGE)
    previous = json.loads(current["json"].read_text())
    previous["headline"]["value"] += previous_kappa_above
    if previous_recall is not None:
        previous["unsafe"]["recall"] = previous_recall
    (tmp_path / "previous.json").write_text(json.dumps(previous))
    assert calibrate(fake_openai, gold, "--against", str(tmp_path / "previous.json")) == code


def test_the_threshold_is_a_flag(fake_openai, current, tmp_path):
    gold = current["gold"]
    fake_openai.answer = answering(JUDGE)
    previous = json.loads(current["json"].read_text())
    previous["headline"]["value"] += 0.08
    (tmp_path / "p.json").write_text(json.dumps(previous))
    assert calibrate(fake_openai, gold, "--against", str(tmp_path / "p.json")) == 1
    assert calibrate(fake_openai, gold, "--against", str(tmp_path / "p.json"), "--max-kappa-drop", "0.1") == 0


def test_a_candidate_that_judged_nothing_fails_the_gate(fake_openai, current, capsys):
    """Every item refused (a retired model, a wrong served name): no figure to compare is the gate
    failing (exit 1, saying why), not a usage error about the previous figures."""
    fake_openai.answer = answering(dict.fromkeys(ANA, "I cannot judge this."))
    assert calibrate(fake_openai, current["gold"], "--against", str(current["json"])) == 1
    captured = capsys.readouterr()
    assert "FAILED: kappa on verdict: no figure now (no item was judged), was 0.541" in captured.out
    assert "no common headline field" not in captured.err


def test_figures_of_another_gold_set_cannot_gate(fake_openai, current, tmp_path, capsys):
    gold = current["gold"]
    fake_openai.answer = answering(JUDGE)
    other = tmp_path / "other.jsonl"
    other.write_text(gold.read_text().replace("response of i1", "another response of i1"))
    assert calibrate(fake_openai, other, "--against", str(current["json"])) == 2
    assert "of another gold set" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("{}")
    assert calibrate(fake_openai, gold, "--against", str(tmp_path / "junk.json")) == 2
    assert fake_openai.requests == []  # refused before judging anything


def test_a_bad_gold_set_is_a_usage_error_naming_the_line(fake_openai, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        gold_file(gold).read_text()
        + '{"id": "x", "prompt": "p", "response": "r", "labeller": "a", "labels": {"verdict": "maybe"}}\n'
    )
    assert calibrate(fake_openai, gold) == 2
    err = capsys.readouterr().err
    assert f"{gold}:14: labels.verdict" in err
    assert fake_openai.requests == []  # nothing judged


def test_the_shipped_security_gold_set_with_every_default(fake_openai, capsys):
    """The production path: the shipped gold set, its default prompt, 2,000 bootstrap rounds. The fake
    judge answers as the first labeller did, so it agrees with her fully and with the second labeller as
    much as she does."""
    gold = ROOT / "prompts" / "gold" / "security-judge.jsonl"
    first: dict[str, Any] = {}
    for raw in gold.read_text().splitlines():
        entry = json.loads(raw)
        first.setdefault(entry["prompt"], entry["labels"])
    fake_openai.answer = lambda body: json.dumps(
        {"reasoning": "as labelled", **first[_JUDGED_PROMPT.search(body["messages"][1]["content"]).group(1)]}  # type: ignore[union-attr]
    )
    assert (
        main(["calibrate", "--gold", str(gold), "--base-url", fake_openai.base_url, "--concurrency", "16"])
        == 0
    )
    printed = capsys.readouterr().out
    verdict = re.search(
        r"^verdict\s+(\d+)\s+([\d.]+)%\s+([\d.]+) \[([\d.]+), ([\d.]+)\]", printed, re.MULTILINE
    )
    assert verdict is not None, printed
    n, accuracy, kappa, low, high = verdict.groups()
    assert int(n) > 100
    assert 80 < float(accuracy) < 100
    assert float(low) < float(kappa) < float(high)
    assert "people (ceiling)" in printed
    assert "severity: rows people, columns judge" in printed


# --- on Vertex AI, with the nightly batch job's request ----------------------------------------------------

GOLDEN_LINE = ROOT / "tests" / "app" / "batch_job" / "golden" / "security-judge.input.jsonl"


@pytest.fixture(scope="module")
def vertex_server() -> Iterator[FakeVertex]:
    with FakeVertex() as server:
        yield server


@pytest.fixture
def vertex(vertex_server: FakeVertex, monkeypatch: pytest.MonkeyPatch) -> FakeVertex:
    """The fake Vertex AI (tests/support/fake_vertex.py: generateContent as Google documents it, the
    model lifecycle included), with the batch job's settings pointing at it; every other setting is the
    default the nightly job runs with."""
    vertex_server.reset()
    monkeypatch.setenv("GCP_PROJECT", "test-project")
    monkeypatch.setenv("VERTEX_BASE_URL", vertex_server.url)
    monkeypatch.setenv("VERTEX_ACCESS_TOKEN", "test-token")
    return vertex_server


def test_vertex_sends_the_batch_jobs_exact_request_and_scores_like_openai(vertex, tmp_path):
    golden = json.loads(GOLDEN_LINE.read_text().splitlines()[0])["request"]
    user_text = golden["contents"][0]["parts"][0]["text"]
    gold = gold_file(tmp_path / "gold.jsonl")
    # One more item, the golden batch line's own interaction, labelled safe by ana.
    with gold.open("a") as fh:
        fh.write(
            json.dumps(
                {
                    "id": "g1",
                    "prompt": "How do I reverse a list in Python?",
                    "response": "Use my_list[::-1].",
                    "labeller": "ana",
                    "labels": SAFE,
                }
            )
            + "\n"
        )
    answers = {**JUDGE, "g1": SAFE, "i10": "I think this one is fine."}

    def online(request: dict[str, Any]) -> str:
        text = request["contents"][0]["parts"][0]["text"]
        prompt = _JUDGED_PROMPT.search(text).group(1)  # type: ignore[union-attr]
        found = answers["g1" if prompt.startswith("How do I reverse") else prompt.removeprefix("prompt of ")]
        return found if isinstance(found, str) else json.dumps({"reasoning": "gemini", **found})

    vertex.online_answer = online
    out = tmp_path / "figures.json"
    argv = [
        "calibrate",
        "--gold",
        str(gold),
        "--prompt",
        str(SECURITY),
        "--backend",
        "vertex",
        "--json",
        str(out),
    ]
    assert main([*argv, "--rounds", "300"]) == 1  # i10 is not an answer
    sent = [r.body for r in vertex.state.requests if r.path.endswith(":generateContent")]
    assert len(sent) == 11  # each item once: a bad answer is not asked for again, as in the batch
    (night,) = [body for body in sent if body["contents"][0]["parts"][0]["text"] == user_text]
    assert {key: night[key] for key in golden} == golden  # the batch line's request, byte for byte
    figures = json.loads(out.read_text())
    assert figures["judge"]["backend"] == "vertex"
    assert figures["judge"]["model"] == "publishers/google/models/gemini-3.5-flash-lite"
    assert figures["failed"] == {"invalid_json": 1}
    # As with the openai fake less i10, plus g1 safe/safe: [[5, 2], [1, 5]].
    assert figures["fields"]["verdict"]["table"] == [[5, 2], [1, 5]]


def test_vertex_with_a_retired_model_or_no_project(vertex, tmp_path, capsys, monkeypatch):
    gold = gold_file(tmp_path / "gold.jsonl")
    base = ["calibrate", "--gold", str(gold), "--prompt", str(SECURITY), "--backend", "vertex"]
    assert main([*base, "--model", "publishers/google/models/gemini-2.5-flash"]) == 1
    assert "request_rejected 10" in capsys.readouterr().out  # refused, typed, never scored
    monkeypatch.delenv("GCP_PROJECT")
    assert main(base) == 2
    assert "no project: set GCP_PROJECT" in capsys.readouterr().err


def test_vertex_retries_a_429_as_the_night_does(vertex, tmp_path, capsys):
    """VERTEX_ATTEMPTS' default and google-genai's real back-off: a 429 costs a second, not an item."""
    gold = gold_file(tmp_path / "gold.jsonl")
    vertex.quota_exhausted(on="generate")
    base = ["calibrate", "--gold", str(gold), "--prompt", str(SECURITY), "--backend", "vertex"]
    assert main([*base, "--rounds", "10"]) == 0, capsys.readouterr().err
    assert len(vertex.generated()) == 11  # ten items, one of them twice


def test_vertex_takes_max_retries_and_timeout_to_google_genai(vertex, tmp_path, capsys):
    gold, out = gold_file(tmp_path / "gold.jsonl"), tmp_path / "figures.json"
    vertex.quota_exhausted(on="generate")
    base = ["calibrate", "--gold", str(gold), "--prompt", str(SECURITY), "--backend", "vertex"]
    argv = [*base, "--max-retries", "0", "--timeout", "30", "--rounds", "10", "--json", str(out)]
    assert main(argv) == 1
    assert "rate_limited 1" in capsys.readouterr().out  # one attempt: the 429 is the item's answer
    sent = vertex.generated()
    assert len(sent) == 10
    assert {r.headers.get("X-Server-Timeout") for r in sent} == {"30"}  # google-genai's per-attempt bound
    assert json.loads(out.read_text())["judge"]["attempts"] == 1


@pytest.mark.parametrize(
    ("flag", "said"),
    [
        (["--deadline", "60"], "--deadline is not supported with --backend vertex: google-genai retries"),
        (["--cold-start-wait", "5"], "--cold-start-wait is not supported with --backend vertex"),
        (["--base-url", "http://127.0.0.1:9/v1"], "set VERTEX_BASE_URL"),
        (["--max-retries", "10"], "--max-retries 10 with --backend vertex: 0 to 9"),
    ],
)
def test_vertex_refuses_the_flags_it_cannot_honour(vertex, tmp_path, capsys, flag, said):
    gold = gold_file(tmp_path / "gold.jsonl")
    base = ["calibrate", "--gold", str(gold), "--prompt", str(SECURITY), "--backend", "vertex"]
    assert main([*base, *flag]) == 2
    assert said in capsys.readouterr().err
    assert vertex.generated() == []
