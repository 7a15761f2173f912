"""load_from_pulumi reads the whole llm-judge namespace from the runtime config, as the CLI hands it over."""

from __future__ import annotations

import contextvars
import json

import pulumi
import pytest
from pulumi.runtime.config import set_all_config

from components.config import StackConfig
from components.config.pulumi_source import load_from_pulumi, secret_fields


def _load(values: dict[str, str], secret_keys: list[str] | None = None) -> StackConfig:
    def inner() -> StackConfig:
        set_all_config(values, secret_keys or [])
        return load_from_pulumi()

    # The SDK keeps config in context variables: a fresh context keeps tests from leaking into each other.
    return contextvars.Context().run(inner)


def test_structured_values_arrive_as_json_text_and_are_parsed():
    cfg = _load({"llm-judge:aws": json.dumps({"enabled": False}), "llm-judge:gcp": '{"enabled": true}'})

    assert cfg.aws.enabled is False
    assert cfg.gcp.enabled is True


def test_secret_keeps_its_text_even_when_it_looks_like_a_number():
    cfg = _load({"llm-judge:hfToken": "0012345"}, ["llm-judge:hfToken"])

    assert cfg.hf_token is not None
    assert cfg.hf_token.get_secret_value() == "0012345"


def test_keys_of_other_namespaces_are_ignored():
    cfg = _load({"aws:region": "eu-west-1", "gcp:project": "p"})

    assert cfg == StackConfig()


def test_every_problem_is_logged_with_its_key_then_run_error(monkeypatch):
    logged: list[str] = []
    monkeypatch.setattr(pulumi.log, "error", lambda msg, *a, **k: logged.append(msg))

    with pytest.raises(pulumi.RunError) as info:
        _load({"llm-judge:aws": '{"enabled": "yes"}', "llm-judge:awss": "{}"})

    assert any(line.startswith("llm-judge:aws.enabled:") for line in logged), logged
    assert any(line.startswith("llm-judge:awss:") and "unknown key" in line for line in logged), logged
    assert "2 problem(s)" in str(info.value)
    # RunError is what the Python language host prints without a traceback.
    assert info.value.__cause__ is None


def test_secret_fields_are_the_secretstr_keys():
    assert secret_fields() == {"hfToken", "kafkaSaslUsername", "kafkaSaslPassword"}


def test_config_from_the_language_hosts_environment_is_read_too(monkeypatch):
    # Older language hosts leave the config in PULUMI_CONFIG and let the SDK read it lazily.
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"llm-judge:gcp": '{"enabled": false}'}))

    cfg = contextvars.Context().run(load_from_pulumi)

    assert cfg.gcp.enabled is False
