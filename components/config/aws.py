"""The AWS half of the stack config: cluster, GPU node group, model cache and vLLM server."""

from __future__ import annotations

from .base import ConfigModel


class AwsConfig(ConfigModel):
    """``llm-judge:aws``. Set ``enabled: false`` to leave the AWS half out of a stack."""

    enabled: bool = True
