"""The Pulumi entry point stops on invalid config with one error line per problem and no traceback."""

from __future__ import annotations

import pulumi
import pytest

from components import program
from components.config import ConfigError, StackConfig, pulumi_source


def test_config_problems_found_while_building_are_logged_per_key_and_stop_the_run(monkeypatch):
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "error", lambda msg, *a, **k: logged.append(msg))
    monkeypatch.setattr(pulumi_source, "load_from_pulumi", lambda: StackConfig())

    def build(cfg):
        raise ConfigError(["llm-judge:gcp.project: required", "llm-judge:gcp.kafka.brokers: required"])

    monkeypatch.setattr(program, "build_stack", build)
    with pytest.raises(pulumi.RunError) as info:
        program.run()
    assert logged == ["llm-judge:gcp.project: required", "llm-judge:gcp.kafka.brokers: required"]
    # RunError is what Pulumi prints without a Python traceback; no chained cause leaks one either.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
