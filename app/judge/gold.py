"""Gold sets and people's labels: interactions labelled by hand, in the prompt's own answer fields.

A gold set is ``prompts/gold/<prompt file stem>.jsonl`` (``security-judge.jsonl`` for
``security-judge.prompt.yml``), one object per line::

    {"id": "sec-001", "prompt": "...", "response": "...", "labeller": "alice",
     "labels": {"verdict": "unsafe", "severity": "critical", "categories": ["secret_leakage"]},
     "note": "optional: why, for the next reader"}

``labels`` is the prompt's answer without ``reasoning``, in the answer's own shape (the six-criteria
prompt nests its criteria: ``{"scores": {"accuracy": 8, ...}}``). Each line is checked against the
prompt's ``jsonSchema`` (types, enums, ranges, required and unknown fields), then against the prompt's
typed answer (``app.judge.results``: a safe verdict with a severity, an unsafe one without a category, a
category twice are refused there too): a label the judge could not give is a mistake in the gold set.
The same ``id`` may appear once per labeller, with the same prompt and response each time; that is how
an item gets a second opinion, and the people's agreement on such items is the ceiling a judge is read
against.

The daily labels (``python -m app.batch_job import-labels``) use the same lines without ``prompt`` and
``response`` (the day's records hold them).

Every problem is reported with its line number (``gold.jsonl:12: labels.severity: 'severe' is not one of
...``), all of them at once, so a hand-edited file is fixed in one go.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.judge.prompt_file import PromptFile
from app.judge.results import Answer, answer_model_for

__all__ = [
    "GoldError",
    "GoldItem",
    "GoldSet",
    "Label",
    "answer_fields_schema",
    "default_prompt_for",
    "gold_path_for",
    "label_problems",
    "load_gold",
    "parse_labels",
    "prompt_stem",
    "schema_problems",
]

REASONING = "reasoning"
MAX_REPORTED = 30
_GOLD_DIR = "gold"
_KEYS_REQUIRED = ("id", "labels", "labeller")
_TEXT_KEYS = ("prompt", "response")
_KEYS_OPTIONAL = ("note",)
# Schema keywords that only describe (never constrain) a value: nothing to check.
_ANNOTATIONS = frozenset({"description", "title", "examples", "default", "$comment"})


class GoldError(ValueError):
    """Lines that are not valid labels; each problem names ``<source>:<line>`` and the field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = problems[:MAX_REPORTED]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(
            f"{source}: {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in shown) + more
        )


@dataclass(frozen=True)
class Label:
    """One person's labels of one item."""

    id: str
    labeller: str
    labels: dict[str, Any]
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "labeller": self.labeller, "labels": self.labels}


@dataclass(frozen=True)
class GoldItem:
    id: str
    prompt: str
    response: str


@dataclass
class GoldSet:
    """Items (each judged once) and their labels (one per labeller)."""

    source: str
    sha256: str
    items: dict[str, GoldItem]
    labels: list[Label]
    answer_model: type[Answer]

    def labels_by_item(self) -> dict[str, list[Label]]:
        out: dict[str, list[Label]] = {}
        for label in self.labels:
            out.setdefault(label.id, []).append(label)
        return out

    @property
    def labellers(self) -> list[str]:
        return sorted({label.labeller for label in self.labels})

    @property
    def doubly_labelled(self) -> int:
        return sum(1 for labels in self.labels_by_item().values() if len(labels) > 1)

    def describe(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "sha256": self.sha256,
            "items": len(self.items),
            "labels": len(self.labels),
            "labellers": self.labellers,
            "doubly_labelled": self.doubly_labelled,
        }


def prompt_stem(prompt_path: Path) -> str:
    """``prompts/security-judge.prompt.yml`` -> ``security-judge``: what gold sets and labelling configs
    of the prompt are named after."""
    return prompt_path.name.removesuffix(".yml").removesuffix(".yaml").removesuffix(".prompt")


def gold_path_for(prompt_path: Path) -> Path:
    """``prompts/security-judge.prompt.yml`` -> ``prompts/gold/security-judge.jsonl``."""
    return prompt_path.parent / _GOLD_DIR / f"{prompt_stem(prompt_path)}.jsonl"


def default_prompt_for(gold_path: Path) -> Path:
    """``prompts/gold/security-judge.jsonl`` -> ``prompts/security-judge.prompt.yml``."""
    return gold_path.parent.parent / f"{gold_path.stem}.prompt.yml"


def answer_fields_schema(prompt: PromptFile) -> dict[str, Any]:
    """The prompt's answer schema without ``reasoning``: the schema of ``labels``."""
    schema = dict(prompt.response_schema())
    properties = {k: v for k, v in schema.get("properties", {}).items() if k != REASONING}
    schema["properties"] = properties
    schema["required"] = [name for name in schema.get("required", []) if name != REASONING]
    return schema


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return kind == "null" and value is None


def schema_problems(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    """What in ``value`` breaks ``schema``, for the JSON Schema keywords a prompt file may use
    (app.judge.prompt_file: type, enum, const, minimum/maximum, length and item bounds, properties,
    required, additionalProperties, items); a keyword outside those is reported, not skipped."""
    problems: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_type_ok(value, k) for k in kinds):
            return [f"{path}: {json.dumps(value)[:60]} is not of type {' or '.join(kinds)}"]
    for keyword, bound in schema.items():
        if keyword in _ANNOTATIONS or keyword in ("type", "strict"):
            continue
        if keyword == "enum":
            if value not in bound:
                problems.append(
                    f"{path}: {json.dumps(value)[:60]} is not one of {', '.join(map(str, bound))}"
                )
        elif keyword == "const":
            if value != bound:
                problems.append(f"{path}: must be {json.dumps(bound)}")
        elif keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if isinstance(value, int | float) and not isinstance(value, bool):
                broken = {
                    "minimum": value < bound,
                    "maximum": value > bound,
                    "exclusiveMinimum": value <= bound,
                    "exclusiveMaximum": value >= bound,
                }[keyword]
                if broken:
                    problems.append(f"{path}: {value} breaks {keyword} {bound}")
        elif keyword in ("minLength", "maxLength", "minItems", "maxItems"):
            if isinstance(value, str | list):
                size = len(value)
                if (keyword.startswith("min") and size < bound) or (
                    keyword.startswith("max") and size > bound
                ):
                    problems.append(f"{path}: length {size} breaks {keyword} {bound}")
        elif keyword == "uniqueItems":
            if (
                bound
                and isinstance(value, list)
                and len({json.dumps(v, sort_keys=True) for v in value}) != len(value)
            ):
                problems.append(f"{path}: items must be unique")
        elif keyword == "properties":
            if isinstance(value, dict):
                for name, sub in bound.items():
                    if name in value:
                        problems.extend(schema_problems(value[name], sub, f"{path}.{name}"))
        elif keyword == "required":
            if isinstance(value, dict):
                problems.extend(f"{path}.{name}: required" for name in bound if name not in value)
        elif keyword == "additionalProperties":
            if bound is False and isinstance(value, dict):
                known = set(schema.get("properties", {}))
                problems.extend(
                    f"{path}.{name}: not a field of the answer" for name in value if name not in known
                )
        elif keyword == "items":
            if isinstance(value, list):
                for i, item in enumerate(value):
                    problems.extend(schema_problems(item, bound, f"{path}[{i}]"))
        else:
            problems.append(f"{path}: the schema keyword {keyword!r} cannot be checked here")
    return problems


def label_problems(labels: Any, schema: Mapping[str, Any], answer_model: type[Answer]) -> list[str]:
    """Why ``labels`` are not an answer the prompt's judge could give (empty when they are)."""
    if not isinstance(labels, dict):
        return ["labels: must be an object of the answer's fields"]
    if REASONING in labels:
        return ["labels.reasoning: labels hold the answer's fields without reasoning"]
    problems = schema_problems(labels, schema, "labels")
    if problems:
        return problems
    try:
        answer_model.model_validate({REASONING: "gold", **labels})
    except ValidationError as exc:
        # As the judge's own answers are refused (app.judge.results.parse_answer), field by field.
        return [
            f"labels{'.' if err['loc'] else ''}{'.'.join(str(p) for p in err['loc'])}: "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        ]
    return []


def parse_labels(
    lines: Iterable[bytes | str],
    prompt: PromptFile,
    *,
    source: str,
    require_text: bool,
) -> tuple[list[Label], dict[str, GoldItem]]:
    """Labels (and, with ``require_text``, the items' texts) of gold-format lines; ``GoldError`` lists every
    problem by line. Without ``require_text``, ``prompt`` and ``response`` are optional and not kept."""
    answer_model = answer_model_for(prompt)
    schema = answer_fields_schema(prompt)
    allowed = set(_KEYS_REQUIRED) | set(_TEXT_KEYS) | set(_KEYS_OPTIONAL)
    problems: list[str] = []
    labels: list[Label] = []
    items: dict[str, GoldItem] = {}
    first_seen: dict[str, int] = {}
    seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(lines, start=1):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        where = f"{source}:{number}"
        try:
            data = json.loads(text)
        except ValueError as exc:
            problems.append(f"{where}: not JSON ({exc})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{where}: not a JSON object")
            continue
        needed = (*_KEYS_REQUIRED, *(_TEXT_KEYS if require_text else ()))
        line_problems = [f"{name}: required" for name in needed if name not in data]
        line_problems += [f"{name}: unknown key" for name in data if name not in allowed]
        item_id, labeller = data.get("id"), data.get("labeller")
        if "id" in data and (not isinstance(item_id, str) or not item_id.strip()):
            line_problems.append("id: must be a non-empty string")
        if "labeller" in data and (not isinstance(labeller, str) or not labeller.strip()):
            line_problems.append("labeller: must be a non-empty string (who labelled it)")
        for name in (*_TEXT_KEYS, *_KEYS_OPTIONAL):
            if name in data and not isinstance(data[name], str):
                line_problems.append(f"{name}: must be a string")
        if "labels" in data:
            line_problems += label_problems(data["labels"], schema, answer_model)
        if line_problems:
            problems.extend(f"{where}: {p}" for p in line_problems)
            continue
        assert isinstance(item_id, str)
        assert isinstance(labeller, str)
        key = (item_id, labeller)
        if key in seen:
            problems.append(f"{where}: id {item_id!r} is already labelled by {labeller!r} (line {seen[key]})")
            continue
        seen[key] = number
        if require_text:
            item = GoldItem(item_id, data["prompt"], data["response"])
            known = items.get(item_id)
            if known is None:
                items[item_id] = item
                first_seen[item_id] = number
            elif known != item:
                earlier = first_seen[item_id]
                problems.append(f"{where}: id {item_id!r} has another prompt or response than line {earlier}")
                continue
        labels.append(Label(item_id, labeller, data["labels"], number))
    if problems:
        raise GoldError(source, problems)
    return labels, items


def load_gold(path: Path, prompt: PromptFile) -> GoldSet:
    """A gold set, every line checked (``GoldError`` lists the problems); an empty file is one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GoldError(str(path), [f"cannot read: {exc.strerror or exc}"]) from None
    labels, items = parse_labels(data.splitlines(), prompt, source=str(path), require_text=True)
    if not labels:
        raise GoldError(str(path), ["no labelled item"])
    return GoldSet(
        source=str(path),
        sha256=hashlib.sha256(data).hexdigest(),
        items=items,
        labels=labels,
        answer_model=answer_model_for(prompt),
    )
