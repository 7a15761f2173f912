"""Typed stack config (pydantic v2): one place for every default, bound and key's documentation.

``aws.AwsConfig`` and ``gcp.GcpConfig`` are the roots, with the checks that span sections; each section
is a module of its own named for it (``aws_node_group``, ``gcp_loader_job``, ...; the README's layout
table lists them)."""

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
