"""The root of the typed stack config and its loader."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import Field, SecretStr, ValidationError

from .aws import AwsConfig
from .base import NAMESPACE, ConfigError, ConfigModel, format_validation_error
from .gcp import GcpConfig


class StackConfig(ConfigModel):
    """Everything under the ``llm-judge:`` namespace of a stack's config."""

    aws: AwsConfig = Field(default_factory=AwsConfig)
    gcp: GcpConfig = Field(default_factory=GcpConfig)

    # Secrets are top-level keys of their own (`pulumi config set --secret hfToken ...`) so that the
    # structured `aws`/`gcp` objects stay plain config and only these values are encrypted.
    hf_token: SecretStr | None = None
    """Hugging Face token for gated/private models; public models need none."""
    kafka_sasl_username: SecretStr | None = None
    """SASL username the interaction loader uses; stored in Secret Manager by the stack."""
    kafka_sasl_password: SecretStr | None = None
    """SASL password the interaction loader uses; stored in Secret Manager by the stack."""


def load_stack_config(values: Mapping[str, Any], namespace: str = NAMESPACE) -> StackConfig:
    """Validate the project's config values (keys without the namespace, values already parsed).

    Values go through JSON so that strict mode applies JSON's rules: a YAML list is fine where a
    list is expected, but ``"3"`` is never an integer. Raises ``ConfigError`` listing every problem.
    """
    try:
        return StackConfig.model_validate_json(json.dumps(dict(values)))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, namespace)) from None
