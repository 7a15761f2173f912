"""app/gcp_labels.py: any text becomes a label value GCP accepts (Google's "Requirements for labels":
lowercase letters, international ones included, numbers, '_' and '-'; at most 63 characters, and 128
bytes for Cloud Monitoring's user labels)."""

from __future__ import annotations

import unicodedata

import pytest

from app.gcp_labels import is_label_value, label_value


def accepted(value: str) -> bool:
    """Google's rule, written out independently: Resource Manager's [\\p{Ll}\\p{Lo}\\p{N}_-]{0,63}, plus
    Monitoring's 128 bytes."""
    if len(value) > 63 or len(value.encode("utf-8", "surrogatepass")) > 128:
        return False
    return all(c in "_-" or unicodedata.category(c) in ("Ll", "Lo", "Nd", "Nl", "No") for c in value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("dev", "dev"),
        ("Team.Dev", "team-dev"),
        ("prod_eu-1", "prod_eu-1"),
        ("a b/c:d@e", "a-b-c-d-e"),
        ("", ""),
        ("Équipe.Ünï", "équipe-ünï"),  # international lower-case letters are allowed
        ("日本語", "日本語"),  # letters without case too
        ("x\ud800y", "x-y"),
    ],
)
def test_a_text_becomes_the_value_gcp_accepts(text, value):
    assert label_value(text) == value
    assert accepted(value)


def test_values_are_cut_to_63_characters_and_128_bytes():
    assert label_value("A" * 100) == "a" * 63
    cjk = label_value("中" * 63)  # 3 bytes each: 42 fit in Monitoring's 128 bytes
    assert cjk == "中" * 42
    assert accepted(cjk)


@pytest.mark.parametrize(
    "text", ["Team.Dev", "ÀÉÎ.õü", "İstanbul", "ǅ", "x" * 80 + "Y", "a\u0301", "½-²", "\t\n"]
)
def test_any_text_gives_an_accepted_value_that_stays_as_it_is(text):
    value = label_value(text)
    assert accepted(value), value
    assert label_value(value) == value
    assert is_label_value(value)


@pytest.mark.parametrize("value", ["Dev", "team.dev", "a" * 64, "x y", "中" * 43])
def test_what_gcp_refuses_is_not_a_label_value(value):
    assert not accepted(value)
    assert not is_label_value(value)
