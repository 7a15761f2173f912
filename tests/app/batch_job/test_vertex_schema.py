"""The prompt's JSON Schema becomes a Vertex responseSchema the batch import accepts."""

from __future__ import annotations

import re

import pytest

from app.batch_job.vertex_schema import MAX_SCHEMA_DEPTH, SchemaConversionError, to_vertex_schema


def _keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


PYDANTIC_STYLE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "Verdict": {"enum": ["safe", "unsafe"], "title": "Verdict", "type": "string"},
        "Evidence": {
            "type": "object",
            "title": "Evidence",
            "properties": {"quote": {"type": "string"}, "severity": {"type": "integer", "enum": [1, 2, 3]}},
            "required": ["quote", "severity"],
            "additionalProperties": False,
        },
    },
    "type": "object",
    "title": "SecurityAnswer",
    "properties": {
        "reasoning": {"type": "string", "description": "why"},
        "verdict": {"allOf": [{"$ref": "#/$defs/Verdict"}], "description": "the call"},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "evidence": {"type": "array", "items": {"$ref": "#/$defs/Evidence"}, "maxItems": 3},
        "category": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "tags": {"type": ["array", "null"], "items": {"type": "string", "const": "x"}},
    },
    "required": ["reasoning", "verdict", "score"],
    "additionalProperties": False,
}


def test_refs_are_inlined_and_no_json_schema_keywords_remain():
    out = to_vertex_schema(PYDANTIC_STYLE)
    assert not {"$defs", "$ref", "$schema", "allOf", "additionalProperties", "title", "default"} & _keys(out)
    assert out["properties"]["verdict"] == {
        "type": "STRING",
        "description": "the call",
        "enum": ["safe", "unsafe"],
    }


def test_types_are_uppercase_and_property_order_is_kept():
    out = to_vertex_schema(PYDANTIC_STYLE)
    assert out["type"] == "OBJECT"
    assert out["propertyOrdering"] == list(PYDANTIC_STYLE["properties"])
    assert out["required"] == ["reasoning", "verdict", "score"]
    assert out["properties"]["evidence"]["items"]["type"] == "OBJECT"
    assert out["properties"]["score"] == {"type": "INTEGER", "minimum": 1, "maximum": 5}


def test_nullable_forms_become_nullable_true():
    out = to_vertex_schema(PYDANTIC_STYLE)
    assert out["properties"]["category"] == {"type": "STRING", "nullable": True}
    assert out["properties"]["tags"]["nullable"] is True
    assert out["properties"]["tags"]["items"] == {"type": "STRING", "enum": ["x"]}


def test_contiguous_integer_enum_becomes_bounds():
    out = to_vertex_schema(PYDANTIC_STYLE)
    severity = out["properties"]["evidence"]["items"]["properties"]["severity"]
    assert severity == {"type": "INTEGER", "minimum": 1, "maximum": 3}


def _values(node: object) -> list[object]:
    if isinstance(node, dict):
        return [v for value in node.values() for v in [value, *_values(value)]]
    if isinstance(node, list):
        return [v for value in node for v in [value, *_values(value)]]
    return []


def test_no_null_or_empty_object_anywhere():
    values = _values(to_vertex_schema(PYDANTIC_STYLE))
    assert None not in values
    assert {} not in values


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "object", "properties": {}}, "$"),
        ({"type": "object", "properties": {"a": {"type": "object"}}}, "$.properties.a"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}}, "$.properties.a"),
        (
            {"type": "object", "properties": {"a": {"type": "number", "exclusiveMinimum": 0}}},
            "$.properties.a",
        ),
        ({"type": "object", "properties": {"a": {"type": "string", "not": {}}}}, "$.properties.a"),
        ({"type": "object", "properties": {"a": {"type": ["string", "integer"]}}}, "$.properties.a.type"),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]}, "$.required"),
        ({"type": "string"}, "$"),
    ],
)
def test_unconvertible_schemas_are_refused_with_the_path(schema, path):
    with pytest.raises(SchemaConversionError, match=rf"^{re.escape(path)}[:.]"):
        to_vertex_schema(schema)


def test_recursive_refs_are_refused():
    schema = {
        "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
        "$ref": "#/$defs/Node",
    }
    with pytest.raises(SchemaConversionError, match="recursive"):
        to_vertex_schema(schema)


def test_too_deep_schemas_are_refused():
    node: dict = {"type": "string"}
    for _ in range(MAX_SCHEMA_DEPTH):
        node = {"type": "object", "properties": {"a": node}}
    with pytest.raises(SchemaConversionError, match="levels deep"):
        to_vertex_schema(node)
