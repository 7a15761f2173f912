"""Cloud Logging and Cloud Monitoring as the stack's log-based metrics and alert conditions see the apps:
an app's JSON line turned into the LogEntry Cloud Run writes, a filter evaluator, and extractors.

What it follows (the parts the stack uses, nothing more):
- Cloud Logging, "Structured logging": a JSON line on stdout/stderr becomes ``jsonPayload``; the special
  fields ``severity`` and ``time`` are lifted into the entry and removed from the payload; a payload
  left with only ``message`` becomes ``textPayload``.
- Cloud Run jobs' logs: monitored resource ``cloud_run_job`` (labels ``project_id``, ``job_name``,
  ``location``), log ``run.googleapis.com/stdout`` or ``.../stderr``.
- The Logging query language: comparisons ``=`` ``!=`` ``<`` ``<=`` ``>`` ``>=`` ``:`` (has); strings
  compared case-insensitively, JSON numbers numerically, ``severity`` by rank; ``AND``/``OR``/``NOT``
  with OR binding tighter than AND; a value group ``field=("a" OR "b")``; ``log_id("...")``. A field
  that is absent matches no comparison. Monitoring filters (``metric.type="..." AND
  metric.labels.k="v"``) use the same comparison syntax and are evaluated on a time series here.
- LogMetric ``labelExtractors``/``valueExtractor``: ``EXTRACT(field)``. ``REGEXP_EXTRACT`` is refused
  (the stack does not use it), so a new extractor cannot pass unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

SEVERITY_RANK = {
    "DEFAULT": 0,
    "DEBUG": 100,
    "INFO": 200,
    "NOTICE": 300,
    "WARNING": 400,
    "ERROR": 500,
    "CRITICAL": 600,
    "ALERT": 700,
    "EMERGENCY": 800,
}


def cloud_run_entry(
    line: dict[str, Any], *, job: str, project: str, region: str, stream: str = "stdout"
) -> dict[str, Any]:
    """The LogEntry Cloud Run writes for one JSON line a job's container printed."""
    payload = dict(line)
    severity = str(payload.pop("severity", "DEFAULT")).upper()
    timestamp = payload.pop("time", None)
    entry: dict[str, Any] = {
        "logName": f"projects/{project}/logs/{quote(f'run.googleapis.com/{stream}', safe='')}",
        "resource": {
            "type": "cloud_run_job",
            "labels": {"project_id": project, "job_name": job, "location": region},
        },
        "severity": severity,
        "timestamp": timestamp,
    }
    if set(payload) == {"message"}:
        entry["textPayload"] = payload["message"]
    else:
        entry["jsonPayload"] = payload
    return entry


# --- the query language ---------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>!=|<=|>=|=|<|>|:)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z0-9_@\-/]+(?:\.(?:[A-Za-z0-9_@\-/]+|"(?:[^"\\]|\\.)*"))*)
    )""",
    re.VERBOSE,
)


class QueryError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"cannot read the filter at {text[pos : pos + 30]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _unquote(text: str) -> str:
    import json

    return str(json.loads(text))


def path_parts(path: str) -> list[str]:
    """``jsonPayload."@type"`` -> ``["jsonPayload", "@type"]``."""
    parts: list[str] = []
    for match in re.finditer(r'"((?:[^"\\]|\\.)*)"|([^."]+)', path):
        parts.append(_unquote(f'"{match.group(1)}"') if match.group(1) is not None else match.group(2))
    return parts


def field_value(document: dict[str, Any], path: str) -> Any:
    """The value at ``path`` (``None`` when any part is missing)."""
    value: Any = document
    for part in path_parts(path):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@dataclass
class _Parser:
    tokens: list[tuple[str, str]]
    pos: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise QueryError("the filter ends too early")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token == ("word", word):
            self.pos += 1
            return True
        return False

    # conjunction := disjunction (AND disjunction)*; OR binds tighter than AND in this language.
    def conjunction(self) -> Any:
        terms = [self.disjunction()]
        while self.keyword("AND"):
            terms.append(self.disjunction())
        return ("and", terms)

    def disjunction(self) -> Any:
        terms = [self.unary()]
        while self.keyword("OR"):
            terms.append(self.unary())
        return ("or", terms)

    def unary(self) -> Any:
        if self.keyword("NOT"):
            return ("not", self.unary())
        kind, text = self.take()
        if (kind, text) == ("paren", "("):
            inner = self.conjunction()
            self._expect(")")
            return inner
        if kind != "word":
            raise QueryError(f"expected a field, got {text!r}")
        nxt = self.peek()
        if nxt == ("paren", "("):  # a function: log_id("...")
            self.take()
            arg = self._value()
            self._expect(")")
            return ("call", text, arg)
        op_kind, op = self.take()
        if op_kind != "op":
            raise QueryError(f"expected a comparison after {text!r}, got {op!r}")
        if self.peek() == ("paren", "("):
            self.take()
            values = [self._value()]
            while self.keyword("OR"):
                values.append(self._value())
            self._expect(")")
            return ("cmp", text, op, values)
        return ("cmp", text, op, [self._value()])

    def _value(self) -> str | float:
        kind, text = self.take()
        if kind == "string":
            return _unquote(text)
        if kind == "word":
            try:
                return float(text)
            except ValueError:
                return text
        raise QueryError(f"expected a value, got {text!r}")

    def _expect(self, paren: str) -> None:
        if self.take() != ("paren", paren):
            raise QueryError(f"expected {paren!r}")


def parse(text: str) -> Any:
    parser = _Parser(_tokens(text))
    tree = parser.conjunction()
    if parser.peek() is not None:
        raise QueryError(f"unexpected {parser.peek()!r} at the end of the filter")
    return tree


def comparisons(tree: Any) -> list[tuple[str, str, list[str | float]]]:
    """Every ``(field, operator, values)`` of a parsed filter, in order."""
    kind = tree[0]
    if kind in ("and", "or"):
        return [c for term in tree[1] for c in comparisons(term)]
    if kind == "not":
        return comparisons(tree[1])
    if kind == "cmp":
        return [(tree[1], tree[2], tree[3])]
    return []


def _compare(field: str, actual: Any, op: str, expected: str | float) -> bool:
    if actual is None:
        return False
    if field == "severity":
        left, right = SEVERITY_RANK[str(actual).upper()], SEVERITY_RANK[str(expected).upper()]
    elif isinstance(actual, bool):
        left, right = str(actual).lower(), str(expected).lower()
    elif isinstance(actual, int | float) and isinstance(expected, float):
        left, right = float(actual), expected
    elif isinstance(actual, int | float | str):
        left = str(actual).lower()
        whole = isinstance(expected, float) and expected.is_integer()
        right = (str(int(expected)) if whole else str(expected)).lower()
    else:
        return False  # objects and lists match no plain comparison
    if op == ":":
        return str(right) in str(left)
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,  # type: ignore[operator]
        "<=": left <= right,  # type: ignore[operator]
        ">": left > right,  # type: ignore[operator]
        ">=": left >= right,  # type: ignore[operator]
    }[op]


def _evaluate(tree: Any, document: dict[str, Any]) -> bool:
    kind = tree[0]
    if kind == "and":
        return all(_evaluate(t, document) for t in tree[1])
    if kind == "or":
        return any(_evaluate(t, document) for t in tree[1])
    if kind == "not":
        return not _evaluate(tree[1], document)
    if kind == "call":
        if tree[1] != "log_id":
            raise QueryError(f"function {tree[1]}() is not modelled")
        log_name = str(document.get("logName", ""))
        return log_name.endswith("/logs/" + quote(str(tree[2]), safe=""))
    _, field, op, values = tree
    actual = field_value(document, field)
    return any(_compare(field, actual, op, v) for v in values)


def matches(filter_text: str, document: dict[str, Any]) -> bool:
    """Whether a LogEntry (Logging filter) or a time series (Monitoring filter) passes ``filter_text``."""
    return _evaluate(parse(filter_text), document)


_EXTRACT = re.compile(r"^EXTRACT\((?P<field>[^()]+)\)$")


def extract(extractor: str, entry: dict[str, Any]) -> Any:
    """The value an ``EXTRACT(field)`` extractor takes from ``entry`` (None: the field is absent)."""
    match = _EXTRACT.match(extractor.strip())
    if not match:
        raise QueryError(f"extractor {extractor!r} is not modelled (only EXTRACT(field))")
    return field_value(entry, match["field"].strip())
