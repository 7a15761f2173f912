"""Label Studio, the open-source labelling tool people label the daily review sample with: a prompt's
labelling config, the review tasks with the judges' answers as predictions, and labels out of its JSON
export.

The formats follow Label Studio's documentation (labelstud.io, read for 1.23):

* ``/guide/task_format``: tasks are imported as a JSON list of ``{"data": {...}, "predictions": [...]}``;
  the labelling config reads ``data`` by ``$name``;
* ``/guide/predictions``: a prediction is ``{"model_version", "result": [...]}``, each result
  ``{"from_name", "to_name", "type", "value"}`` where ``from_name`` is a control's ``name``, ``to_name``
  its ``toName`` and ``type`` the control's tag in lower case; the value of ``Choices`` is
  ``{"choices": [...]}``, of ``Rating`` ``{"rating": n}``, of ``Number`` ``{"number": n}``;
* ``/guide/export`` (JSON): the same tasks with ``annotations``, each with its ``result`` in the same
  shape, ``was_cancelled`` (the annotator skipped the task) and ``completed_by`` (the user's id, or
  ``{"id", "email", ...}`` when the export expands it; the labeller is ``label-studio:user-<id>`` in
  both shapes);
* ``/tags/choices``, ``/tags/rating``, ``/tags/number``, ``/tags/text``, ``/tags/header``: the tags.

The config is built from the prompt's answer schema (``jsonSchema`` without ``reasoning``): a string
enum is single ``Choices``, an array of an enum multiple ``Choices``, a boolean ``Choices`` of
``true``/``false``, an integer from 1 to at most 10 a ``Rating``, another number a ``Number``. Each
control is named after its field (``verdict``; the six criteria by their own names, ``accuracy``), so
a name is the same in the config, in the predictions and in the export, and maps back to the answer's
shape (``{"scores": {"accuracy": 8}}``). The annotator sees the judged prompt and response, never the
judges' reasoning.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from app.judge.gold import Label, answer_fields_schema, label_problems
from app.judge.prompt_file import PromptFile
from app.judge.results import answer_model_for

__all__ = [
    "PROMPT_TEXT",
    "RESPONSE_TEXT",
    "Control",
    "ExportedLabels",
    "controls",
    "labelling_config",
    "labels_from_export",
    "prediction",
    "task",
]

PROMPT_TEXT = "prompt"
RESPONSE_TEXT = "response"
LABELLER_PREFIX = "label-studio:"
Tag = Literal["Choices", "Rating", "Number"]


@dataclass(frozen=True)
class Control:
    """One labelling control: a field of the answer (``path`` in its shape) as a Label Studio tag."""

    name: str
    path: tuple[str, ...]
    tag: Tag
    kind: Literal["string", "boolean", "integer", "number", "array"]
    values: tuple[str, ...] = ()
    maximum: int | None = None
    description: str = ""
    required: bool = True

    @property
    def type(self) -> str:
        """The ``type`` of this control's results (the tag in lower case)."""
        return self.tag.lower()

    def value_of(self, labels: Mapping[str, Any]) -> Any:
        value: Any = labels
        for part in self.path:
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value


def _controls(schema: Mapping[str, Any], path: tuple[str, ...], required: bool) -> list[Control]:
    found: list[Control] = []
    needed = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        here = (*path, name)
        kind = sub.get("type")
        description = str(sub.get("description", ""))
        if kind == "object":
            found += _controls(sub, here, required and name in needed)
        elif kind == "string" and "enum" in sub:
            values = tuple(str(v) for v in sub["enum"])
            found.append(Control(name, here, "Choices", "string", values, None, description, name in needed))
        elif kind == "boolean":
            found.append(Control(name, here, "Choices", "boolean", ("true", "false"), None, description))
        elif kind == "array" and "enum" in sub.get("items", {}):
            values = tuple(str(v) for v in sub["items"]["enum"])
            found.append(Control(name, here, "Choices", "array", values, None, description, False))
        elif kind == "integer" and sub.get("minimum") == 1 and 1 < sub.get("maximum", 0) <= 10:
            found.append(Control(name, here, "Rating", "integer", (), int(sub["maximum"]), description))
        elif kind in ("integer", "number"):
            found.append(Control(name, here, "Number", kind, (), None, description))
        else:
            raise ValueError(f"answer field {'.'.join(here)}: no Label Studio control for this schema")
    return found


def controls(prompt: PromptFile) -> list[Control]:
    """The controls of a prompt's answer fields, in the schema's order; ``ValueError`` when two fields
    share a name or a field has no control (free text: only ``reasoning`` is, and it is not labelled)."""
    found = _controls(answer_fields_schema(prompt), (), True)
    names = [c.name for c in found]
    twice = sorted({n for n in names if names.count(n) > 1} | ({PROMPT_TEXT, RESPONSE_TEXT} & set(names)))
    if twice:
        raise ValueError(f"answer fields {', '.join(twice)}: a control name must be unique in the config")
    return found


def labelling_config(prompt: PromptFile) -> str:
    """The labelling config (XML) of a prompt: the judged prompt and response, then one control per
    answer field, each required unless it is a list (an empty list is a valid answer)."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value=f"{prompt.name}: the answer the judge should give")
    ET.SubElement(view, "Header", value="Prompt (the user's message)", size="5")
    ET.SubElement(view, "Text", name=PROMPT_TEXT, value=f"${PROMPT_TEXT}")
    ET.SubElement(view, "Header", value="Response (the assistant's answer)", size="5")
    ET.SubElement(view, "Text", name=RESPONSE_TEXT, value=f"${RESPONSE_TEXT}")
    for control in controls(prompt):
        title = ".".join(control.path)
        ET.SubElement(
            view,
            "Header",
            value=f"{title}: {control.description}" if control.description else title,
            size="6",
        )
        attributes = {"name": control.name, "toName": RESPONSE_TEXT}
        if control.tag == "Choices":
            attributes["choice"] = "multiple" if control.kind == "array" else "single-radio"
            attributes["showInline"] = "true"
        elif control.tag == "Rating":
            attributes["maxRating"] = str(control.maximum)
        if control.required:
            attributes["required"] = "true"
        element = ET.SubElement(view, control.tag, attributes)
        for value in control.values:
            ET.SubElement(element, "Choice", value=value)
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"


def _result_value(control: Control, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if control.tag == "Choices":
        chosen = value if isinstance(value, list) else [value]
        return {"choices": [str(v).lower() if isinstance(v, bool) else str(v) for v in chosen]}
    if control.tag == "Rating":
        return {"rating": value}
    return {"number": value}


def prediction(
    control_list: Sequence[Control],
    labels: Mapping[str, str],
    members: Mapping[str, list[str]],
    scores: Mapping[str, int],
    model_version: str,
) -> dict[str, Any]:
    """A judge's answer (its fields split by kind, as ``app.report.rows.Row`` holds them) as a Label
    Studio prediction: one result per control the answer has a value for."""
    result = []
    for control in control_list:
        if control.tag == "Choices" and control.kind == "array":
            value: Any = members.get(control.name)
        elif control.tag == "Choices":
            value = labels.get(control.name)
        else:
            value = scores.get(control.name)
        shaped = _result_value(control, value)
        if shaped is not None:
            result.append(
                {"from_name": control.name, "to_name": RESPONSE_TEXT, "type": control.type, "value": shaped}
            )
    return {"model_version": model_version, "result": result}


def task(data: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A task to import: ``data`` (record_id, prompt, response, ...) and the judges' predictions."""
    return {"data": dict(data), "predictions": [dict(p) for p in predictions]}


@dataclass
class ExportedLabels:
    """What an export holds for one day: the labels, and what was left out and why."""

    labels: list[Label] = field(default_factory=list)
    cancelled: int = 0
    unannotated: int = 0
    other_days: int = 0
    replaced: int = 0
    problems: list[str] = field(default_factory=list)


def _labeller(annotation: Mapping[str, Any]) -> str | None:
    """``label-studio:user-<id>``: the annotator's numeric user id, which both export shapes carry
    (``completed_by`` is the id, or ``{"id", "email", ...}`` when the export expands users), so one
    person is one labeller whichever shape was exported (an email would name them apart, and their
    labels would be stored and counted twice). None when the annotation names no user id."""
    who = annotation.get("completed_by")
    user = who.get("id") if isinstance(who, Mapping) else who
    if isinstance(user, str) and user.isdigit():
        user = int(user)
    if not isinstance(user, int) or isinstance(user, bool):
        return None
    return f"{LABELLER_PREFIX}user-{user}"


def _labels_of(control_list: Sequence[Control], result: Any) -> tuple[dict[str, Any], list[str]]:
    """An annotation's result as the answer's fields (nested as the answer nests them), and what is
    wrong with it. Results of controls the prompt does not have (a comment box a team added) are left
    out; a list nobody ticked is an empty list."""
    by_name = {c.name: c for c in control_list}
    labels: dict[str, Any] = {}
    problems: list[str] = []

    def put(control: Control, value: Any) -> None:
        target = labels
        for part in control.path[:-1]:
            target = target.setdefault(part, {})
        target[control.path[-1]] = value

    wrong: set[str] = set()  # controls with a problem already: not "not labelled" as well
    for region in result if isinstance(result, list) else ():
        if not isinstance(region, Mapping):
            continue
        control = by_name.get(str(region.get("from_name")))
        if control is None:
            continue
        value = region.get("value") or {}
        before = len(problems)
        if str(region.get("type", "")).lower() != control.type:
            problems.append(
                f"{control.name}: result of type {region.get('type')!r}, the config has {control.type}"
            )
            wrong.add(control.name)
            continue
        if control.tag == "Choices":
            chosen = value.get("choices")
            if not isinstance(chosen, list):
                problems.append(f"{control.name}: no choices in {value!r}")
            elif control.kind == "array":
                put(control, [str(v) for v in chosen])
            elif len(chosen) != 1:
                problems.append(f"{control.name}: exactly one choice expected, got {chosen!r}")
            elif control.kind == "boolean":
                put(control, chosen[0] == "true")
            else:
                put(control, chosen[0])
        else:
            number = value.get("rating" if control.tag == "Rating" else "number")
            if isinstance(number, float) and number.is_integer():
                number = int(number)
            put(control, number)
        if len(problems) > before:
            wrong.add(control.name)
    for control in control_list:
        if control.value_of(labels) is None and control.name not in wrong:
            if control.kind == "array":
                put(control, [])
            else:
                problems.append(f"{control.name}: not labelled")
    return labels, problems


def labels_from_export(export: Any, prompt: PromptFile, day: str) -> ExportedLabels:
    """The labels of ``day`` in a Label Studio JSON export: one per annotation, each annotator kept apart
    (``label-studio:<email>``, or ``label-studio:user-<id>`` when the export does not expand users);
    cancelled (skipped) annotations and tasks of other days are left out and counted; an annotation
    whose labels the prompt's judge could not give is a problem, named by task and annotator."""
    if not isinstance(export, list):
        raise ValueError("not a Label Studio JSON export: expected a list of tasks")
    control_list = controls(prompt)
    schema = answer_fields_schema(prompt)
    answer_model = answer_model_for(prompt)
    out = ExportedLabels()
    chosen: dict[tuple[str, str], tuple[str, Label]] = {}
    for number, entry in enumerate(export, start=1):
        if not isinstance(entry, Mapping):
            out.problems.append(f"task {number}: not a task object")
            continue
        found = entry.get("data")
        data: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        record_id = data.get("record_id")
        where = f"task {entry.get('id', number)}"
        if not isinstance(record_id, str) or not record_id:
            out.problems.append(f"{where}: no data.record_id (a task of another project?)")
            continue
        if data.get("day") not in (None, day):
            out.other_days += 1
            continue
        annotations = [a for a in entry.get("annotations") or () if isinstance(a, Mapping)]
        if not annotations:
            out.unannotated += 1
        for annotation in annotations:
            if annotation.get("was_cancelled"):
                out.cancelled += 1
                continue
            labeller = _labeller(annotation)
            if labeller is None:
                out.problems.append(
                    f"{where} ({record_id}): an annotation without its annotator's user id "
                    f"(completed_by: {annotation.get('completed_by')!r:.80}); export again from Label Studio"
                )
                continue
            labels, problems = _labels_of(control_list, annotation.get("result"))
            if not problems:
                problems = label_problems(labels, schema, answer_model)
            if problems:
                out.problems += [f"{where} ({record_id}), {labeller}: {p}" for p in problems]
                continue
            key = (record_id, labeller)
            stamp = str(annotation.get("updated_at") or annotation.get("created_at") or "")
            earlier = chosen.get(key)
            if earlier is not None:
                out.replaced += 1
                if earlier[0] > stamp:
                    continue
            chosen[key] = (stamp, Label(record_id, labeller, labels, number))
    out.labels = [label for _, label in chosen.values()]
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m app.review.labelstudio [PROMPT ...]``: (re)write ``review/labelling-config/<stem>.xml``
    of each prompt (default: every ``prompts/*.prompt.yml``); a test checks the committed ones match."""
    import argparse
    from pathlib import Path

    from app.judge.gold import prompt_stem

    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(prog="python -m app.review.labelstudio", description=main.__doc__)
    parser.add_argument("prompts", nargs="*", type=Path, help="prompt files (default: prompts/*.prompt.yml)")
    parser.add_argument("--out", type=Path, default=root / "review" / "labelling-config")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.prompts or sorted((root / "prompts").glob("*.prompt.yml")):
        target = args.out / f"{prompt_stem(path)}.xml"
        target.write_text(labelling_config(PromptFile.load(path)), encoding="utf-8")
        print(f"{path} -> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
