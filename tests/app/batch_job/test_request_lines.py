"""Vertex batch input lines: the shape Vertex's importer needs, identical across lines."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import orjson
import pytest

from app.batch_job.request_lines import (
    GenerationSettings,
    RequestLineBuilder,
    json_depth,
    label_value,
    record_key,
    replace_lone_surrogates,
    request_labels,
    split_messages,
)

SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "verdict": {"type": "STRING", "enum": ["safe", "unsafe"]},
        "reasoning": {"type": "STRING"},
    },
    "required": ["verdict", "reasoning"],
    "propertyOrdering": ["verdict", "reasoning"],
}


@dataclass(frozen=True)
class Msg:
    role: str
    content: str


def _messages(prompt: str, response: str) -> list[Msg]:
    return [
        Msg("system", "You are a security judge."),
        Msg("user", f"<p>{prompt}</p><r>{response}</r>"),
    ]


def _shape(value: object) -> object:
    """The type skeleton of a JSON value: what Vertex's type inference compares across lines."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


LABELS = request_labels("dev")
BUILDER = RequestLineBuilder(SCHEMA, GenerationSettings(temperature=0.0, max_output_tokens=512), LABELS)


def test_line_has_the_documented_request_layout():
    line = json.loads(BUILDER.line("r-1", _messages("hi", "hello")))
    assert line == {
        "key": "r-1",
        "request": {
            "contents": [{"role": "user", "parts": [{"text": "<p>hi</p><r>hello</r>"}]}],
            "systemInstruction": {"parts": [{"text": "You are a security judge."}]},
            "labels": {"llm-judge-stack": "dev"},
            "generationConfig": {
                "temperature": 0.0,
                "maxOutputTokens": 512,
                "responseMimeType": "application/json",
                "responseSchema": SCHEMA,
            },
        },
    }


def test_serialised_line_equals_the_dict_form():
    messages = _messages('quotes " and \\ and \n newlines', "ünïcödé ☃ \ud83d")
    line = BUILDER.line("r-x", messages)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(line) == BUILDER.line_dict("r-x", messages)
    line.decode("ascii")  # always plain ASCII, so valid UTF-8 whatever the text held


def test_lone_surrogates_become_the_replacement_character_on_both_paths_and_are_counted():
    # One line that a strict JSON parser refuses (here orjson: "no low surrogate") could fail the import of
    # a whole part. An emoji stays, as one code point or as the pair of surrogates that encodes it.
    builder = RequestLineBuilder(SCHEMA, GenerationSettings(), LABELS)
    user = "a\ud800b \U0001f600 \ud83d\ude00 \udc00 \ufffd"
    messages = [Msg("system", "judge \udfff"), Msg("user", user)]
    line = builder.line("r-1", messages)
    assert builder.lone_surrogates == 3  # two in the user text, one in the system text
    parsed = orjson.loads(line)
    assert (
        parsed["request"]["contents"][0]["parts"][0]["text"] == "a\ufffdb \U0001f600 \U0001f600 \ufffd \ufffd"
    )
    assert parsed["request"]["systemInstruction"]["parts"][0]["text"] == "judge \ufffd"
    assert builder.line_dict("r-1", messages) == parsed
    assert builder.lone_surrogates == 6
    builder.line("r-2", messages)  # the system text is serialised once, and counted on every line
    assert builder.lone_surrogates == 9
    assert replace_lone_surrogates("plain ascii") == ("plain ascii", 0)


@pytest.mark.parametrize(
    "texts",
    [("", ""), ("a" * 10_000, "b"), ("123", "456"), ("null", "true"), ('{"k": 1}', "[1, 2]")],
)
def test_every_line_has_the_same_shape(texts):
    reference = _shape(json.loads(BUILDER.line("r-1", _messages("x", "y"))))
    assert _shape(json.loads(BUILDER.line("r-2", _messages(*texts)))) == reference


def test_unset_parameters_are_left_out_not_null():
    builder = RequestLineBuilder(SCHEMA, GenerationSettings(), LABELS)
    config = json.loads(builder.line("r-1", _messages("a", "b")))["request"]["generationConfig"]
    assert config == {"responseMimeType": "application/json", "responseSchema": SCHEMA}


def test_prompt_without_system_message_has_no_system_instruction():
    line = json.loads(BUILDER.line("r-1", [Msg("user", "u")]))
    assert "systemInstruction" not in line["request"]


def test_assistant_turns_are_model_turns():
    _, contents = split_messages([Msg("user", "q"), Msg("assistant", "a"), Msg("user", "q2")])
    assert [c["role"] for c in contents] == ["user", "model", "user"]


def test_unknown_role_is_refused_with_its_index():
    with pytest.raises(ValueError, match=r"messages\[1\]\.role"):
        split_messages([Msg("user", "q"), Msg("tool", "x")])


def test_keys_are_letter_prefixed_so_numeric_ids_stay_strings():
    assert record_key("12345") == "r-12345"
    line = json.loads(BUILDER.line(record_key("12345"), _messages("a", "b")))
    assert isinstance(line["key"], str)
    assert line["key"][0].isalpha()


def test_line_nesting_stays_within_vertex_limit():
    assert json_depth(json.loads(BUILDER.line("r-1", _messages("a", "b")))) <= 15


def test_no_record_identity_reaches_the_billing_labels():
    """Request labels land in Cloud Billing's export: one value per stack, never per record."""
    lines = [json.loads(BUILDER.line(record_key(str(n)), _messages(str(n), "b"))) for n in range(50)]
    assert {json.dumps(line["request"]["labels"]) for line in lines} == {'{"llm-judge-stack": "dev"}'}


@pytest.mark.parametrize(
    ("stack", "value"),
    [
        ("prod", "prod"),
        ("Team.Prod/EU", "team-prod-eu"),
        ("2026-prod", "s-2026-prod"),
        ("x" * 80, "x" * 63),
        ("ünï", "s--n-"),
    ],
)
def test_the_stack_label_follows_gcp_label_rules(stack, value):
    """Label values: at most 63 of lowercase letters, digits, _ and -; letter-led, never a number."""
    assert label_value(stack) == value
    assert re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", label_value(stack))
