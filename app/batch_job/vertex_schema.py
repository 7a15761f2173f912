"""Convert a prompt's JSON Schema into the OpenAPI subset that Vertex AI Gemini takes as `responseSchema`.

Vertex imports a batch input file with type inference across all of its lines, and fails the whole job on
keys such as `$defs`/`$ref`/`$schema`, on empty objects and on nesting deeper than 15 levels. So the
schema is resolved here once, into plain nested objects with uppercase types, and anything this module
cannot translate faithfully is an error that names the schema path, never silently dropped meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.batch_job.request_lines import json_depth

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}

# Keys that only annotate a JSON Schema (or that Gemini does not accept) and carry no constraint the
# typed answer model does not check again after the call.
_IGNORED = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "default",
        "examples",
        "additionalProperties",
        "unevaluatedProperties",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)
_PASS_THROUGH = {
    "description": "description",
    "format": "format",
    "pattern": "pattern",
    "minimum": "minimum",
    "maximum": "maximum",
    "minLength": "minLength",
    "maxLength": "maxLength",
    "minItems": "minItems",
    "maxItems": "maxItems",
    "minProperties": "minProperties",
    "maxProperties": "maxProperties",
}
_HANDLED = frozenset(
    {"type", "properties", "required", "items", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "$defs"}
    | {"definitions", "nullable", "exclusiveMinimum", "exclusiveMaximum"}
)

# Gemini rejects (or mis-types) deeper schemas; the request wraps the schema in three more levels.
MAX_SCHEMA_DEPTH = 12


class SchemaConversionError(ValueError):
    """The JSON Schema uses something the Vertex responseSchema subset cannot express."""


def to_vertex_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return `schema` as a Vertex `responseSchema`: refs inlined, uppercase types, property order kept."""
    if not isinstance(schema, Mapping):
        raise SchemaConversionError("$: the response schema must be a JSON object")
    defs: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        if isinstance(schema.get(key), Mapping):
            defs.update({f"#/{key}/{name}": value for name, value in schema[key].items()})
    converted = _convert(schema, "$", defs, ())
    if converted.get("type") != "OBJECT":
        raise SchemaConversionError("$: the response schema must describe a JSON object (type: object)")
    depth = json_depth(converted)
    if depth > MAX_SCHEMA_DEPTH:
        raise SchemaConversionError(
            f"$: the schema nests {depth} levels deep; Vertex accepts {MAX_SCHEMA_DEPTH}"
        )
    return converted


def _convert(node: Any, path: str, defs: Mapping[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(node, Mapping):
        raise SchemaConversionError(f"{path}: expected a schema object, got {type(node).__name__}")
    if "$ref" in node:
        ref = node["$ref"]
        if ref in seen:
            raise SchemaConversionError(f"{path}: recursive $ref {ref!r} cannot be inlined")
        if ref not in defs:
            raise SchemaConversionError(f"{path}: $ref {ref!r} does not point into $defs")
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return _convert({**defs[ref], **siblings}, path, defs, (*seen, ref))

    unknown = set(node) - _IGNORED - _HANDLED - set(_PASS_THROUGH)
    if unknown:
        raise SchemaConversionError(f"{path}: unsupported keyword(s) {sorted(unknown)}")

    if "allOf" in node:
        parts = node["allOf"]
        if not isinstance(parts, list) or len(parts) != 1:
            raise SchemaConversionError(f"{path}.allOf: only a single-element allOf can be converted")
        rest = {k: v for k, v in node.items() if k != "allOf"}
        # Sibling keys (a field's description next to a pydantic `allOf: [{$ref}]`) win over the part.
        return _convert({**parts[0], **rest}, path, defs, seen)

    out: dict[str, Any] = {}
    nullable = bool(node.get("nullable", False))

    alternatives = node.get("anyOf", node.get("oneOf"))
    if alternatives is not None:
        key = "anyOf" if "anyOf" in node else "oneOf"
        if not isinstance(alternatives, list) or not alternatives:
            raise SchemaConversionError(f"{path}.{key}: must be a non-empty list")
        non_null = [
            alt for alt in alternatives if not (isinstance(alt, Mapping) and alt.get("type") == "null")
        ]
        nullable = nullable or len(non_null) != len(alternatives)
        rest = {k: v for k, v in node.items() if k not in ("anyOf", "oneOf")}
        if len(non_null) == 1:
            merged = _convert({**non_null[0], **rest}, f"{path}.{key}[0]", defs, seen)
            if nullable:
                merged["nullable"] = True
            return merged
        out["anyOf"] = [_convert(alt, f"{path}.{key}[{i}]", defs, seen) for i, alt in enumerate(non_null)]
        _copy_annotations(rest, out)
        if nullable:
            out["nullable"] = True
        return out

    json_type = node.get("type")
    if isinstance(json_type, list):
        kinds = [t for t in json_type if t != "null"]
        nullable = nullable or len(kinds) != len(json_type)
        if len(kinds) != 1:
            raise SchemaConversionError(
                f"{path}.type: a list of several non-null types {json_type} is not supported"
            )
        json_type = kinds[0]
    if json_type is None:
        if "properties" in node:
            json_type = "object"
        elif "enum" in node or "const" in node:
            values = node.get("enum", [node.get("const")])
            json_type = "string" if all(isinstance(v, str) for v in values) else None
        if json_type is None:
            raise SchemaConversionError(f"{path}: a type is required")
    if json_type not in _TYPES:
        raise SchemaConversionError(f"{path}.type: unsupported type {json_type!r}")
    out["type"] = _TYPES[json_type]
    _copy_annotations(node, out)

    if "exclusiveMinimum" in node or "exclusiveMaximum" in node:
        if json_type != "integer":
            raise SchemaConversionError(
                f"{path}: exclusiveMinimum/exclusiveMaximum only convert for integers"
            )
        if "exclusiveMinimum" in node:
            out["minimum"] = node["exclusiveMinimum"] + 1
        if "exclusiveMaximum" in node:
            out["maximum"] = node["exclusiveMaximum"] - 1

    values = node["enum"] if "enum" in node else ([node["const"]] if "const" in node else None)
    if values is not None:
        _convert_enum(values, json_type, path, out)

    if json_type == "object":
        props = node.get("properties")
        if not isinstance(props, Mapping) or not props:
            raise SchemaConversionError(
                f"{path}: an object needs at least one property (empty objects fail the batch import)"
            )
        out["properties"] = {
            name: _convert(sub, f"{path}.properties.{name}", defs, seen) for name, sub in props.items()
        }
        required = node.get("required", [])
        missing = [name for name in required if name not in props]
        if missing:
            raise SchemaConversionError(f"{path}.required: {missing} are not declared in properties")
        if required:
            out["required"] = list(required)
        # Gemini otherwise orders keys alphabetically; keeping the author's order keeps e.g. a
        # "reasoning" field before the verdict it explains.
        out["propertyOrdering"] = list(props)
    elif json_type == "array":
        if "items" not in node:
            raise SchemaConversionError(f"{path}: an array needs items")
        out["items"] = _convert(node["items"], f"{path}.items", defs, seen)
    if nullable:
        out["nullable"] = True
    return out


def _copy_annotations(node: Mapping[str, Any], out: dict[str, Any]) -> None:
    for src, dst in _PASS_THROUGH.items():
        if src in node:
            out[dst] = node[src]


def _convert_enum(values: Any, json_type: str, path: str, out: dict[str, Any]) -> None:
    if not isinstance(values, list) or not values:
        raise SchemaConversionError(f"{path}.enum: must be a non-empty list")
    values = [v for v in values if v is not None]
    if json_type == "string":
        if not all(isinstance(v, str) for v in values):
            raise SchemaConversionError(f"{path}.enum: string enums must list strings only")
        out["enum"] = values
    elif json_type == "integer" and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        # Gemini only takes string enums; a contiguous integer range keeps its meaning as bounds.
        lo, hi = min(values), max(values)
        if sorted(set(values)) != list(range(lo, hi + 1)):
            raise SchemaConversionError(f"{path}.enum: only a contiguous integer enum converts (as bounds)")
        out["minimum"], out["maximum"] = lo, hi
    elif json_type == "boolean":
        return
    else:
        raise SchemaConversionError(f"{path}.enum: enum is not supported for type {json_type!r}")
