"""Typed stack config (pydantic v2): one place for every default, bound and key's documentation."""

from .aws import AwsConfig
from .base import NAMESPACE, ConfigError, ConfigModel, ConfigProblems, Problems
from .gcp import GcpConfig
from .stack import StackConfig, load_stack_config

__all__ = [
    "NAMESPACE",
    "AwsConfig",
    "ConfigError",
    "ConfigModel",
    "ConfigProblems",
    "GcpConfig",
    "Problems",
    "StackConfig",
    "load_stack_config",
]
