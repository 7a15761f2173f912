"""The render() harness: the program's resources with real URNs and parents, exports, and no secret."""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_kubernetes as k8s
import pytest

import components.program
from components.config import ConfigError
from tests.support.plan_cache import SharedPlanCache
from tools import mocks, plan_runtime
from tools.plan_runtime import SECRET, render

TOKEN = "hf_test_token_value_123"


class _Box(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-judge:test:Box", name, None, opts)
        inner = pulumi.ComponentResource(
            "llm-judge:test:Inner", f"{name}-inner", None, pulumi.ResourceOptions(parent=self)
        )
        self.secret = k8s.core.v1.Secret(
            f"{name}-token",
            metadata={"namespace": "llm-judge"},
            string_data={"HF_TOKEN": pulumi.Output.secret(TOKEN)},
            opts=pulumi.ResourceOptions(parent=inner),
        )
        self.config_map = k8s.core.v1.ConfigMap(
            f"{name}-leaky",
            metadata={"name": "leaky", "namespace": "llm-judge"},
            # A plain copy of a secret config value: masked because the value is a known secret.
            data={"plain": f"token={TOKEN}", "b64": base64.b64encode(TOKEN.encode()).decode()},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


def _program(cfg):
    box = _Box("box")
    pulumi.export("secretName", box.secret.metadata.apply(lambda m: m["name"]))
    pulumi.export("token", pulumi.Output.secret("exported-secret"))
    pulumi.log.warn("a warning from the program")


@pytest.fixture
def fake_program(monkeypatch):
    """The program replaced by ``_program``, with a plan cache of its own: a fake plan must never reach
    the run's shared cache, where a real render of the same config would find it."""
    monkeypatch.setattr(components.program, "build_stack", _program)
    previous = plan_runtime.use_plan_cache(plan_runtime.MemoryPlanCache())
    yield
    plan_runtime.use_plan_cache(previous)


def _render(**kwargs):
    return render("dev", {"hfToken": TOKEN, "aws": {"enabled": False}}, use_cache=False, **kwargs)


def test_urns_carry_the_parent_chain_like_real_pulumi(fake_program):
    plan = _render()

    box = plan.one("llm-judge:test:Box")
    inner = plan.one("llm-judge:test:Inner")
    secret = plan.one("kubernetes:core/v1:Secret")
    assert box.urn == "urn:pulumi:dev::llm-judge::llm-judge:test:Box::box"
    assert inner.urn == "urn:pulumi:dev::llm-judge::llm-judge:test:Box$llm-judge:test:Inner::box-inner"
    assert secret.urn == (
        "urn:pulumi:dev::llm-judge::llm-judge:test:Box$llm-judge:test:Inner$kubernetes:core/v1:Secret::box-token"
    )


def test_parents_are_recorded_and_top_level_resources_have_none(fake_program):
    plan = _render()

    box = plan.one("llm-judge:test:Box")
    assert box.parent is None
    assert plan.one("llm-judge:test:Inner").parent == box.urn
    assert {r.name for r in plan.children(box)} == {"box-leaky", "box-inner"}


def test_inputs_and_outputs_are_plain_data(fake_program):
    plan = _render()

    cm = plan.one("kubernetes:core/v1:ConfigMap")
    assert cm.inputs["apiVersion"] == "v1"
    assert cm.inputs["metadata"] == {"name": "leaky", "namespace": "llm-judge"}
    # metadata.name of an auto-named object comes from the mock's imitation of the provider.
    assert plan.outputs["secretName"].startswith("box-token-")
    assert ("warning", "a warning from the program") in plan.diagnostics


def test_no_secret_value_survives_anywhere(fake_program):
    plan = _render()

    text = json.dumps(plan.to_json())
    assert TOKEN not in text
    assert base64.b64encode(TOKEN.encode()).decode() not in text
    assert "exported-secret" not in text
    assert plan.one("kubernetes:core/v1:Secret").inputs["stringData"] == {"HF_TOKEN": SECRET}
    assert plan.one("kubernetes:core/v1:ConfigMap").inputs["data"] == {
        "plain": f"token={SECRET}",
        "b64": SECRET,
    }
    assert plan.outputs["token"] == SECRET


def test_secure_values_in_a_stack_file_are_replaced_by_a_fake_and_masked(fake_program, tmp_path):
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(
        "config:\n  llm-judge:aws:\n    enabled: false\n  llm-judge:hfToken:\n    secure: v1:AAAA\n"
    )

    # The program above ignores cfg; check the loaded config and that its fake never shows.
    plan = render("dev", config_file=stack_file, use_cache=False)

    fake = plan_runtime.fake_secret("llm-judge:hfToken")
    assert plan.config is not None
    assert plan.config.hf_token.get_secret_value() == fake
    assert fake not in json.dumps(plan.to_json())


def test_render_many_times_in_one_process_and_cache_returns_independent_copies(fake_program):
    first = render("dev", {"aws": {"enabled": False}, "gcp": {"enabled": True}})
    first.resources.clear()
    second = render("dev", {"aws": {"enabled": False}, "gcp": {"enabled": True}})
    third = _render()

    assert len(second.resources) == 4
    assert [r.urn for r in third.resources] == [r.urn for r in _render().resources]


def test_invalid_config_raises_config_error_naming_the_key(fake_program):
    with pytest.raises(ConfigError) as info:
        render("dev", {"aws": {"enabled": "no"}, "nope": 1}, use_cache=False)

    assert any(p.startswith("llm-judge:aws.enabled:") for p in info.value.problems)
    assert any(p.startswith("llm-judge:nope:") for p in info.value.problems)


def test_one_names_what_it_found_when_not_exactly_one(fake_program):
    plan = _render()

    with pytest.raises(LookupError, match="kubernetes:apps/v1:Deployment"):
        plan.one("kubernetes:apps/v1:Deployment")


def test_duplicate_urns_fail_like_real_pulumi(monkeypatch):
    def twice(cfg):
        k8s.core.v1.ConfigMap("same", data={"a": "1"})
        k8s.core.v1.ConfigMap("same", data={"a": "2"})

    monkeypatch.setattr(components.program, "build_stack", twice)

    with pytest.raises(Exception, match="duplicate resource URN"):
        _render()


def test_a_data_source_without_a_mock_result_says_where_to_add_one(monkeypatch):
    def lookup(cfg):
        import pulumi_aws as aws

        aws.eks.get_cluster(name="nope")

    monkeypatch.setattr(components.program, "build_stack", lookup)
    monkeypatch.setattr(mocks, "_tables", lambda: ({}, {}))

    with pytest.raises(Exception, match=r"mock_outputs_aws\.py"):
        _render()


def test_data_source_results_come_from_the_call_table(monkeypatch):
    import pulumi_aws as aws

    def lookup(cfg):
        cluster = aws.eks.get_cluster_output(name="judge")
        pulumi.export("endpoint", cluster.endpoint)

    monkeypatch.setattr(components.program, "build_stack", lookup)
    table = {
        "aws:eks/getCluster:getCluster": lambda args: {"name": args["name"], "endpoint": "https://x.example"}
    }
    monkeypatch.setattr(mocks, "_tables", lambda: ({}, table))

    assert _render().outputs["endpoint"] == "https://x.example"


def test_the_shared_plan_cache_renders_a_key_once_for_every_worker(fake_program, tmp_path):
    """Two caches on one directory stand for two xdist workers of a run (tests/support/plan_cache.py)."""
    renders: list[str] = []

    def make() -> plan_runtime.Plan:
        renders.append("rendered")
        return _render()

    first_worker, second_worker = SharedPlanCache(tmp_path), SharedPlanCache(tmp_path)
    made = first_worker.get_or_render("key", make)
    again = first_worker.get_or_render("key", make)
    elsewhere = second_worker.get_or_render("key", make)
    other = second_worker.get_or_render("other key", make)

    assert renders == ["rendered", "rendered"], "one render per key, whichever worker asks"
    assert again is made
    assert elsewhere == made
    assert elsewhere is not made
    assert other == made


def test_render_goes_through_the_installed_cache(fake_program):
    asked: list[str] = []

    class Recording(plan_runtime.MemoryPlanCache):
        def get_or_render(self, key, render):
            asked.append(key)
            return super().get_or_render(key, render)

    previous = plan_runtime.use_plan_cache(Recording())
    try:
        render("dev", {"aws": {"enabled": False}})
        render("dev", {"aws": {"enabled": False}})
        render("dev", {"aws": {"enabled": False}}, use_cache=False)
    finally:
        plan_runtime.use_plan_cache(previous)

    assert len(asked) == 2
    assert asked[0] == asked[1]
