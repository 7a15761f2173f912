"""Golden input lines for the real security-judge prompt: any change to what Vertex receives shows up
here as a diff against the committed file (tests/support/golden.py; `make golden` rewrites it)."""

from __future__ import annotations

import json

from tests.support.golden import BATCH_INPUT


def test_input_lines_match_golden_file():
    assert BATCH_INPUT.mismatch() is None, BATCH_INPUT.mismatch()


def test_judged_text_cannot_close_its_block():
    third = json.loads(BATCH_INPUT.render().splitlines()[2])
    text = third["request"]["contents"][0]["parts"][0]["text"]
    assert text.count("</judged_response>") == 1
    assert text.count("</judged_prompt>") == 1
    assert "{{prompt}}" in text  # substituted once, never again
