"""GCP names the ``llm-judge:gcp`` sections share: project ids, regions and resource labels."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from app.gcp_labels import is_label_value

from .base import pattern

_PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def _labels(value: dict[str, str]) -> dict[str, str]:
    bad = [k for k in value if not _LABEL_KEY.match(k)] + [
        f"{k}={v}" for k, v in value.items() if not is_label_value(v)
    ]
    if bad:
        raise ValueError(
            "GCP labels are lower-case letters, digits, '_' and '-' (keys start with a letter and are "
            f"ASCII here; values may hold international lower-case letters), at most 63 characters: {bad}"
        )
    return value


ProjectId = Annotated[
    str, AfterValidator(pattern(_PROJECT_ID, "a GCP project id: 6-30 of a-z 0-9 -, starting with a letter"))
]
Region = Annotated[str, AfterValidator(pattern(_REGION, "a GCP region such as 'us-central1'"))]
GcpLabels = Annotated[dict[str, str], AfterValidator(_labels)]
