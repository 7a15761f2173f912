"""GitHub Models ``.prompt.yml`` files: load, validate, render.

The format is the struct in github/gh-models ``pkg/prompt`` (``name``, ``description``, ``model``,
``modelParameters``, ``responseFormat``, ``jsonSchema`` as a JSON *string* holding ``name`` and
``schema``, ``messages``, ``testData``, ``evaluators``). This loader is stricter than gh-models in the
ways that catch mistakes early: unknown keys, malformed ``{{...}}`` placeholders, testData items that
miss a variable, and JSON Schema keywords that the two judge backends (vLLM's OpenAI-style
``json_schema`` and Vertex AI's ``responseSchema`` subset) cannot both express are errors that name
the field (``messages[1].role``, ``jsonSchema.schema.properties.scores``).

``modelParameters.thinkingLevel`` and ``modelParameters.thinkingBudget`` are this project's additions
to the format (gh-models decodes the file without strict field checking, so it ignores both keys; its
format has no thinking key of its own). ``thinkingLevel`` states how much a thinking model should think
(``minimal``, ``low``, ``medium``, ``high``, or ``off``), whatever the model; ``thinkingBudget`` is Gemini
2.5's budget in tokens (``0`` for none, ``-1`` for dynamic), still read for 2.5 models. The batch job
translates the intent for its model's family and leaves room for the thinking in the output cap
(``app.batch_job.thinking``); ``maxTokens`` stays the answer's room. OpenAI-compatible servers never get
either key: vLLM has no such parameter, and the judge model there (Qwen2.5) does not think.

Optional values: JSON Schema spells them ``"type": ["string", "null"]`` (exactly one type and
``"null"``). Both backends take that form: vLLM's structured-output backends read type lists, and the
batch job converts it to the ``nullable: true`` of Vertex AI's OpenAPI-style ``responseSchema``.
``nullable`` itself is refused here: it is OpenAPI, not JSON Schema, so vLLM ignores it and would never
let the model answer null. Often simpler still: keep the field required and give "no value" a value of
its own (an enum member such as ``"none"``, an empty list), as the security prompt does.

Rendering replaces ``{{name}}`` in one pass: a substituted value is never scanned again, so text inside
a judged prompt that happens to contain ``{{response}}`` stays literal. Values are also *neutralised*
against the template's own delimiter tags: when a template wraps a placeholder in
``<judged_response>...</judged_response>``, any ``<judged_response>``/``</judged_response>`` inside the
value is escaped to ``&lt;/judged_response&gt;`` so the judged text cannot close its block early and
speak as the judge's instructions. Both steps are deterministic (no nonce): the same record always
renders to the same text, which the batch job's golden tests rely on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from app.yaml_errors import describe as describe_yaml_error

__all__ = [
    "Message",
    "PromptFile",
    "PromptFileError",
    "RenderError",
]

# gh-models replaces exactly ``{{key}}``; anything else that looks like a placeholder is a typo.
_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")
_PLACEHOLDER_LIKE = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_CLOSING_TAG = re.compile(r"</\s*([A-Za-z_][\w.-]*)\s*>")
# OpenAI's rule for response_format.json_schema.name.
_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Keywords outside what both backends can express. vLLM would accept most of them, but the same prompt
# file feeds Vertex AI batch prediction, whose importer rejects `$`-keys and whose responseSchema has no
# references or combinators. Failing at load time names the path instead of failing a whole batch job.
_UNPORTABLE_KEYWORDS = frozenset(
    {
        "$ref",
        "$defs",
        "definitions",
        "$schema",
        "$id",
        "oneOf",
        "allOf",
        "not",
        "if",
        "then",
        "else",
        "patternProperties",
        "dependentSchemas",
        "dependentRequired",
        "unevaluatedProperties",
        "prefixItems",
        "nullable",
    }
)
_SCHEMA_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean"})


class PromptFileError(ValueError):
    """A prompt file does not follow the format. Each problem names its field, e.g. ``messages[1].role``."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {field}: {message}" for field, message in problems)
        super().__init__(f"invalid prompt file {source}:\n{lines}")

    @property
    def fields(self) -> list[str]:
        return [field for field, _ in self.problems]


class RenderError(ValueError):
    """Rendering needs a variable that was not given."""

    def __init__(self, missing: set[str]):
        self.missing = sorted(missing)
        super().__init__("missing template variable(s): " + ", ".join(self.missing))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, frozen=True, strict=True)


class Message(_Model):
    role: Literal["system", "user", "assistant"]
    content: str

    def to_openai(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class ModelParameters(_Model):
    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    # How much a thinking model should think, and Gemini 2.5's budget in tokens (0 off, -1 dynamic);
    # see the module docstring.
    thinking_level: Literal["minimal", "low", "medium", "high", "off"] | None = None
    thinking_budget: int | None = Field(default=None, ge=-1, le=65536)

    @field_validator("thinking_level", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        # PyYAML reads YAML 1.1, where a bare `off` is the boolean false (gh-models' YAML 1.2 reader
        # keeps it a string): `thinkingLevel: off` means off either way.
        return "off" if value is False else value


class StringEvaluator(_Model):
    equals: str | None = None
    contains: str | None = None
    starts_with: str | None = None
    ends_with: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> StringEvaluator:
        given = [v for v in (self.equals, self.contains, self.starts_with, self.ends_with) if v is not None]
        if len(given) != 1:
            raise ValueError("needs exactly one of equals, contains, startsWith, endsWith")
        return self


class Choice(_Model):
    choice: str
    score: float


class LlmEvaluator(_Model):
    model_id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    choices: list[Choice] = Field(min_length=1)
    system_prompt: str | None = None


class Evaluator(_Model):
    name: str = Field(min_length=1)
    string: StringEvaluator | None = None
    llm: LlmEvaluator | None = None
    uses: str | None = Field(default=None, pattern=r"^github/[\w.-]+$")

    @model_validator(mode="after")
    def _exactly_one(self) -> Evaluator:
        if sum(x is not None for x in (self.string, self.llm, self.uses)) != 1:
            raise ValueError("needs exactly one of string, llm, uses")
        return self


TestValue = str | int | float | bool


class PromptFile(_Model):
    """A validated ``.prompt.yml``. ``json_schema`` holds the *parsed* ``jsonSchema`` string."""

    name: str = Field(min_length=1)
    description: str = ""
    model: str | None = None
    model_parameters: ModelParameters = ModelParameters()
    response_format: Literal["text", "json_object", "json_schema"] | None = None
    json_schema: dict[str, Any] | None = None
    messages: list[Message] = Field(min_length=1)
    test_data: list[dict[str, TestValue]] = Field(default_factory=list)
    evaluators: list[Evaluator] = Field(default_factory=list)

    @field_validator("json_schema", mode="before")
    @classmethod
    def _parse_json_schema(cls, value: Any) -> Any:
        # gh-models only accepts a JSON string here (JsonSchema.UnmarshalYAML); a YAML mapping would load
        # in Python but break `gh models eval`, so it is refused the same way.
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError(
                "must be a JSON string (e.g. a YAML block scalar `jsonSchema: |`), not a mapping"
            )
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise ValueError("must hold a JSON object with `name` and `schema`")
        return parsed

    # --- loading ----------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> PromptFile:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PromptFileError(str(path), [("<file>", f"cannot read: {exc.strerror or exc}")]) from None
        return cls.from_yaml(text, source=str(path))

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "<string>") -> PromptFile:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            where, problem = describe_yaml_error(exc)
            raise PromptFileError(
                source, [("<yaml>", f"at {where}: {problem}" if where else problem)]
            ) from None
        if not isinstance(data, dict):
            raise PromptFileError(source, [("<root>", "must be a mapping of prompt-file keys")])
        return cls.from_mapping(data, source=source)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "<mapping>") -> PromptFile:
        try:
            prompt = cls.model_validate(dict(data))
        except ValidationError as exc:
            raise PromptFileError(source, _problems_from(exc)) from None
        problems = prompt._cross_field_problems()
        if problems:
            raise PromptFileError(source, problems)
        return prompt

    def _cross_field_problems(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.response_format == "json_schema" and self.json_schema is None:
            problems.append(("jsonSchema", "is required when responseFormat is json_schema"))
        if self.json_schema is not None:
            name = self.json_schema.get("name")
            if not isinstance(name, str) or not _SCHEMA_NAME.match(name):
                problems.append(("jsonSchema.name", "required: 1-64 characters of letters, digits, _ or -"))
            schema = self.json_schema.get("schema")
            if not isinstance(schema, dict):
                problems.append(("jsonSchema.schema", "required: a JSON Schema object"))
            else:
                problems.extend(_schema_problems(schema, "jsonSchema.schema"))
                if schema.get("type") != "object":
                    problems.append(("jsonSchema.schema.type", "the answer must be an object"))
            extra = set(self.json_schema) - {"name", "schema", "strict", "description"}
            problems.extend(("jsonSchema." + key, "unknown key") for key in sorted(extra))
        for i, message in enumerate(self.messages):
            for match in _PLACEHOLDER_LIKE.finditer(message.content):
                if not _PLACEHOLDER.fullmatch(match.group(0)):
                    problems.append(
                        (
                            f"messages[{i}].content",
                            f"malformed placeholder {match.group(0)!r} (use {{{{name}}}})",
                        )
                    )
        needed = self.variables()
        for i, item in enumerate(self.test_data):
            missing = needed - set(item)
            if missing:
                problems.append((f"testData[{i}]", "missing variable(s): " + ", ".join(sorted(missing))))
        return problems

    # --- using ------------------------------------------------------------------------------------

    def variables(self) -> set[str]:
        return {m.group(1) for message in self.messages for m in _PLACEHOLDER.finditer(message.content)}

    @cached_property
    def _delimiter_pattern(self) -> re.Pattern[str] | None:
        names = sorted({m.group(1) for msg in self.messages for m in _CLOSING_TAG.finditer(msg.content)})
        if not names:
            return None
        alternatives = "|".join(re.escape(n) for n in names)
        # Opening and closing forms, any case, stray spaces or attributes: `</ Judged_Response x>`.
        return re.compile(rf"<\s*/?\s*(?:{alternatives})\b[^<>]*>", re.IGNORECASE)

    def neutralise(self, value: str) -> str:
        """Escape the template's delimiter tags inside ``value`` (see the module docstring)."""
        pattern = self._delimiter_pattern
        if pattern is None:
            return value
        return pattern.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;"), value)

    def render(self, variables: Mapping[str, str]) -> list[Message]:
        """The messages with every ``{{name}}`` replaced in one pass; a missing variable is an error."""
        missing = self.variables() - set(variables)
        if missing:
            raise RenderError(missing)
        safe = {name: self.neutralise(str(value)) for name, value in variables.items()}
        return [
            Message(role=m.role, content=_PLACEHOLDER.sub(lambda match: safe[match.group(1)], m.content))
            for m in self.messages
        ]

    def response_schema(self) -> dict[str, Any]:
        """The JSON Schema of the expected answer (``jsonSchema.schema``)."""
        if self.json_schema is None:
            raise ValueError(f"prompt {self.name!r} has no jsonSchema")
        return self.json_schema["schema"]

    @property
    def schema_name(self) -> str | None:
        return None if self.json_schema is None else self.json_schema["name"]

    def openai_response_format(self) -> dict[str, Any] | None:
        """The ``response_format`` argument of a chat completion, or None for free text."""
        if self.response_format in (None, "text"):
            return None
        if self.response_format == "json_object":
            return {"type": "json_object"}
        assert self.json_schema is not None
        spec: dict[str, Any] = {"name": self.json_schema["name"], "schema": self.json_schema["schema"]}
        if "strict" in self.json_schema:
            spec["strict"] = bool(self.json_schema["strict"])
        return {"type": "json_schema", "json_schema": spec}


def _problems_from(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        loc = [part for part in error["loc"] if part not in ("function-after", "function-before")]
        # For str|int|float|bool unions pydantic appends the member type to the path; it is noise.
        if (
            loc
            and loc[0] == "testData"
            and isinstance(loc[-1], str)
            and loc[-1] in ("str", "int", "float", "bool")
        ):
            loc = loc[:-1]
        message = error["msg"].removeprefix("Value error, ")
        problems.append((_field_path(loc), message))
    # A union failure yields one entry per member; keep the first per field.
    seen: dict[str, str] = {}
    for field, message in problems:
        seen.setdefault(field, message)
    return list(seen.items())


def _field_path(loc: list[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
    return path or "<root>"


def _schema_problems(node: Any, path: str) -> list[tuple[str, str]]:
    if not isinstance(node, dict):
        return [(path, "must be a JSON Schema object")]
    problems: list[tuple[str, str]] = []
    for key in sorted(set(node) & _UNPORTABLE_KEYWORDS):
        if key == "nullable":
            message = 'OpenAPI, not JSON Schema (vLLM ignores it): write "type": ["<type>", "null"] instead'
        else:
            message = "not supported by both judge backends (vLLM json_schema and Vertex AI)"
        problems.append((f"{path}.{key}", message))
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) != 1 or len(kind) != 2 or kinds[0] not in _SCHEMA_TYPES:
            problems.append(
                (
                    f"{path}.type",
                    'a list must be exactly one type and "null" (["string", "null"]): '
                    "Vertex AI takes one type per value",
                )
            )
        kind = kinds[0] if kinds else None
    elif kind is not None and kind not in _SCHEMA_TYPES:
        problems.append((f"{path}.type", f"unknown type {kind!r}"))
    if "anyOf" in node:
        problems.append(
            (f"{path}.anyOf", "not supported by both judge backends; use enum or separate fields")
        )
    properties = node.get("properties")
    if properties is not None:
        if not isinstance(properties, dict) or not properties:
            problems.append((f"{path}.properties", "must be a non-empty object"))
        else:
            for name, child in properties.items():
                problems.extend(_schema_problems(child, f"{path}.properties.{name}"))
        required = node.get("required", [])
        if not isinstance(required, list) or not set(required) <= set(properties or {}):
            problems.append((f"{path}.required", "must list property names of this object"))
    elif kind == "object":
        problems.append(
            (f"{path}.properties", "an object needs properties (Vertex AI rejects empty objects)")
        )
    if "items" in node:
        problems.extend(_schema_problems(node["items"], f"{path}.items"))
    elif kind == "array":
        problems.append((f"{path}.items", "an array needs an items schema"))
    return problems
