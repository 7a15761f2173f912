"""A YAML syntax error as one line: where it is (file, line, column) and what is wrong.

PyYAML's own message spans several lines and quotes the offending text with a caret under it; inside
a CLI's ``error:`` line that reads as noise. The marks it carries are 0-based; editors count from 1.
"""

from __future__ import annotations

import yaml


def _where(mark: yaml.Mark | None) -> str | None:
    return None if mark is None else f"{mark.line + 1}:{mark.column + 1}"


def describe(exc: yaml.YAMLError) -> tuple[str | None, str]:
    """``("3:1", "expected ',' or ']', but got '<stream end>' (in the flow sequence at 2:22)")``."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return None, " ".join(str(exc).split())
    problem = " ".join((exc.problem or "invalid YAML").split())
    where = _where(exc.problem_mark)
    if exc.context:
        context = " ".join(exc.context.split()).removeprefix("while ")
        context_at = _where(exc.context_mark)
        problem += f" ({context}" + (f" at {context_at})" if context_at and context_at != where else ")")
    return where, problem


def one_line(source: str, exc: yaml.YAMLError) -> str:
    """``Pulumi.dev.yaml:3:1: not valid YAML: expected ',' or ']', but got '<stream end>' (...)``."""
    where, problem = describe(exc)
    return f"{source}:{where}: not valid YAML: {problem}" if where else f"{source}: not valid YAML: {problem}"
