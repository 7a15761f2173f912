"""GCP label values: the one rule for every label the stack and the apps write.

Google's rule ("Requirements for labels", the same on every product page that documents labels): keys
and values contain only lowercase letters, numeric characters, underscores and dashes, in UTF-8, and
international characters are allowed; a value may be empty and holds at most 63 characters. Cloud
Monitoring's user labels also cap a value at 128 bytes ("63 Unicode characters or 128 bytes, whichever
is smaller", alert.proto). Resource Manager writes the character rule as ``[\\p{Ll}\\p{Lo}\\p{N}_-]``:
lowercase letters, letters without case (CJK, Arabic...), and numbers.

Label values that come from outside the config (the stack's name, in the provider's default labels,
the alert policies' user labels and the Vertex AI requests) go through ``label_value``; values given in
the config are checked with ``is_label_value`` and refused with a message instead (a person typed them).
Used by components/ (the stack) and app/ (the batch job), so it lives here: components import app,
never the other way round.
"""

from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 63
MAX_BYTES = 128
REPLACEMENT = "-"
_PLAIN = re.compile(r"[a-z0-9_-]{0,63}")  # the common case, decided without a character walk


def _allowed(char: str) -> bool:
    if char in "_-":
        return True
    category = unicodedata.category(char)
    return category in ("Ll", "Lo") or category.startswith("N")


def label_value(text: str) -> str:
    """``text`` as a label value GCP accepts: lower-cased, every character the rule refuses replaced by
    ``-`` (``Team.Dev`` -> ``team-dev``), cut to 63 characters and 128 UTF-8 bytes.

    Two texts can give the same value (``Team.Dev`` and ``team-dev``): labels group and filter, they are
    not identifiers."""
    if _PLAIN.fullmatch(text):
        return text
    kept: list[str] = []
    size = 0
    for char in text.lower():
        if not _allowed(char):
            char = REPLACEMENT
        width = len(char.encode("utf-8"))
        if len(kept) == MAX_CHARS or size + width > MAX_BYTES:
            break
        kept.append(char)
        size += width
    return "".join(kept)


def is_label_value(value: str) -> bool:
    """Whether GCP accepts ``value`` as it is (exactly the values ``label_value`` leaves unchanged)."""
    return label_value(value) == value
