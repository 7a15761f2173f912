"""A YAML syntax error becomes one line naming the file, the 1-based line and column, and the problem."""

from __future__ import annotations

import pytest
import yaml

from app.yaml_errors import describe, one_line


def _error(text: str) -> yaml.YAMLError:
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.safe_load(text)
    return caught.value


def test_the_location_is_counted_from_one_like_an_editor():
    exc = _error("a: 1\nb: c: d\n")

    assert describe(exc) == ("2:5", "mapping values are not allowed here")


def test_the_context_is_kept_with_its_own_location_on_the_same_line():
    line = one_line("Pulumi.dev.yaml", _error("config:\n  x: {a: [1\n"))

    assert line == (
        "Pulumi.dev.yaml:3:1: not valid YAML: expected ',' or ']', but got '<stream end>' "
        "(parsing a flow sequence at 2:10)"
    )
    assert "\n" not in line


def test_an_error_without_a_mark_still_names_the_file():
    assert one_line("f.yaml", yaml.YAMLError("bad\nthing")) == "f.yaml: not valid YAML: bad thing"
