"""The GCP half of the stack config: bucket, service accounts, Cloud Run Jobs and schedulers."""

from __future__ import annotations

from .base import ConfigModel


class GcpConfig(ConfigModel):
    """``llm-judge:gcp``. Set ``enabled: false`` to leave the GCP half out of a stack."""

    enabled: bool = True
