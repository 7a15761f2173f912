"""What ``pulumi up`` runs: validate the typed config, then register the enabled halves of the stack."""

from __future__ import annotations

import datetime as dt

import pulumi

from components import lifecycle
from components.config import ConfigError, StackConfig


def build_stack(cfg: StackConfig) -> None:
    """Register every resource of the stack described by ``cfg``."""
    # What this stack pins that ends soon (components/lifecycle.py): a warning, never a stop, since a
    # running stack must not fail to render because the calendar moved on.
    for warning in lifecycle.stack_warnings(cfg, dt.date.today()):
        pulumi.log.warn(warning)
    if cfg.aws.enabled:
        from components.aws_stack import build_aws

        build_aws(cfg)
    if cfg.gcp.enabled:
        from components.gcp_stack import build_gcp

        build_gcp(cfg)


def run() -> None:
    """Entry point used by ``__main__.py``; reads config from the Pulumi runtime."""
    from components.config.pulumi_source import load_from_pulumi, stop_on_config_error

    cfg = load_from_pulumi()
    try:
        # Some checks need the provider config too (e.g. gcp:project), so they run while building.
        build_stack(cfg)
    except ConfigError as exc:
        stop_on_config_error(exc)
