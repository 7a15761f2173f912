"""Read the ``llm-judge:*`` keys from the Pulumi runtime config and validate them.

The Pulumi language host hands the stack's config to the program as a flat map of
``"<namespace>:<key>" -> string`` (structured values are JSON text, secrets already decrypted) plus
the list of keys that were secret (``pulumi.runtime.set_all_config`` from ``PULUMI_CONFIG`` and
``PULUMI_CONFIG_SECRET_KEYS``). ``pulumi.Config`` can only look up keys it is told about, which
would let a misspelt key pass silently, so this module reads the whole map instead.
"""

from __future__ import annotations

import json
import typing
from typing import Any, NoReturn

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import SecretStr

from .base import NAMESPACE, ConfigError
from .stack import StackConfig, load_stack_config


def raw_pulumi_config() -> dict[str, Any]:
    """Every config key the runtime knows, fully qualified (``"llm-judge:aws"``), values as given."""
    values: dict[str, Any] = dict(runtime_config.get_config_env())
    values.update(runtime_config.CONFIG.get())
    return values


def secret_config_keys() -> set[str]:
    """Fully qualified keys that were stored encrypted (``secure:``) in the stack's config."""
    return {key for key in raw_pulumi_config() if runtime_config.is_config_secret(key)}


def secret_fields() -> set[str]:
    """Top-level keys holding a secret string (``hfToken``); kept as text however it looks."""
    names: set[str] = set()
    for field_name, info in StackConfig.model_fields.items():
        annotation = info.annotation
        if annotation is not None and SecretStr in (annotation, *typing.get_args(annotation)):
            names.add(info.alias or field_name)
    return names


def parse_value(raw: Any, *, as_string: bool = False) -> Any:
    """Pulumi passes every value as text; structured and scalar YAML values arrive JSON-encoded."""
    if as_string or not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def project_config_values(namespace: str = NAMESPACE) -> dict[str, Any]:
    """The project's keys without the namespace (``{"aws": {...}, "hfToken": "..."}``), parsed."""
    strings = secret_fields()
    prefix = f"{namespace}:"
    values: dict[str, Any] = {}
    for full_key, raw in raw_pulumi_config().items():
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        values[key] = parse_value(raw, as_string=key in strings)
    return values


def load_from_pulumi(namespace: str = NAMESPACE) -> StackConfig:
    """The validated stack config. On invalid config, every problem is logged as its own error line
    naming the key, and the run stops with ``pulumi.RunError`` (which Pulumi reports without a
    Python traceback)."""
    try:
        return load_stack_config(project_config_values(namespace), namespace)
    except ConfigError as exc:
        stop_on_config_error(exc)


def stop_on_config_error(exc: ConfigError) -> NoReturn:
    """Log each problem as its own error line and stop the run without a Python traceback."""
    for problem in exc.problems:
        pulumi.log.error(problem)
    raise pulumi.RunError(
        f"invalid stack config: {len(exc.problems)} problem(s), see the messages above"
    ) from None
