"""The policy pack as the Pulumi CLI runs it: ``python -m pulumi.policy <engine> policy`` in the pack's
own venv (policy/venv, made by `make test`), spoken to over the analyzer gRPC protocol the engine
uses (pulumi's analyzer.proto, from the SDK's own generated stubs).

The invariants themselves are tested in test_invariants.py; this tests what only the real pack can
show: it starts, it declares every invariant as a mandatory policy, resources of both stacks pass
through pulumi-policy's own property handling, a broken resource gets the policy's message, and a
value unknown during a preview is neither a violation nor a crash.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policy import invariants as inv
from tools.locks import ISOLATED
from tools.plan_runtime import REPO_ROOT, Plan, render

PACK_PYTHON = next(t for t in ISOLATED if t.name == "policy").venv / "bin" / "python"
# How the engine marshals a string it does not know yet (pulumi sdk/go/common/resource/plugin/rpc.go).
UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@pytest.fixture(scope="module")
def analyzer() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    if not PACK_PYTHON.exists():
        pytest.fail(
            f"{PACK_PYTHON.relative_to(REPO_ROOT)} is missing: `make test` (or `make policy-venv`) creates it"
        )
    # The engine address is only used for logging back to the engine, which no policy does here.
    proc = subprocess.Popen(
        [str(PACK_PYTHON), "-u", "-m", "pulumi.policy", "127.0.0.1:1", str(REPO_ROOT / "policy")],
        cwd=REPO_ROOT / "policy",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        if not port.isdigit():
            proc.kill()
            pytest.fail(f"the pack did not start: {port!r} {proc.communicate(timeout=30)[1][-3000:]}")
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def dev() -> Plan:
    return render("dev")


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(props, struct_pb2.Struct())


def _analyze(
    stub: analyzer_pb2_grpc.AnalyzerStub, type_: str, props: dict[str, Any], name: str = "r"
) -> list[Any]:
    request = analyzer_pb2.AnalyzeRequest(type=type_, properties=_struct(props), urn=f"urn:{name}", name=name)
    return list(stub.Analyze(request, timeout=60).diagnostics)


def _analyze_stack(stub: analyzer_pb2_grpc.AnalyzerStub, plan: Plan) -> list[Any]:
    resources = [
        analyzer_pb2.AnalyzerResource(type=r.type, properties=_struct(r.inputs), urn=r.urn, name=r.name)
        for r in plan.resources
    ]
    return list(
        stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources), timeout=60).diagnostics
    )


@pytest.mark.integration
def test_the_pack_declares_every_invariant_as_a_mandatory_policy(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)

    assert info.name == "llm-judge-invariants"
    declared = {p.name: p for p in info.policies}
    expected = {i.name: i for i in (*inv.RESOURCE_INVARIANTS, *inv.STACK_INVARIANTS)}
    assert set(declared) == set(expected)
    for name, policy in declared.items():
        assert policy.enforcementLevel == analyzer_pb2.MANDATORY, name
        assert policy.description == expected[name].description


@pytest.mark.integration
@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_resource_and_the_whole_stack_pass(analyzer, stack):
    plan = render(stack)

    found = [
        (r.name, d.policyName, d.message)
        for r in plan.resources
        for d in _analyze(analyzer, r.type, r.inputs, r.name)
    ]
    found += [(d.urn, d.policyName, d.message) for d in _analyze_stack(analyzer, plan)]

    assert found == []


@pytest.mark.integration
def test_a_broken_resource_gets_the_policys_description_and_message(analyzer, dev):
    template = next(r for r in dev.resources if r.type == "aws:ec2/launchTemplate:LaunchTemplate")
    props = copy.deepcopy(template.inputs)
    props["metadataOptions"]["httpTokens"] = "optional"

    (diagnostic,) = _analyze(analyzer, template.type, props, template.name)

    assert diagnostic.policyName == "imdsv2-required"
    assert diagnostic.enforcementLevel == analyzer_pb2.MANDATORY
    description, message = diagnostic.message.split("\n", 1)
    assert (
        description == "Launch templates and instances require IMDSv2; EKS node groups use a launch template."
    )
    assert message.startswith("metadataOptions.httpTokens is 'optional'")


@pytest.mark.integration
def test_a_stack_with_an_untolerated_gpu_taint_fails_naming_the_resource(analyzer, dev):
    broken = copy.deepcopy(dev)
    deployment = next(r for r in broken.resources if r.type == "kubernetes:apps/v1:Deployment")
    deployment.inputs["spec"]["template"]["spec"]["tolerations"] = []

    (diagnostic,) = _analyze_stack(analyzer, broken)

    assert (diagnostic.policyName, diagnostic.urn) == ("gpu-pods-tolerate-gpu-taint", deployment.urn)
    assert "does not tolerate its taint(s) sku=gpu:NoSchedule" in diagnostic.message


@pytest.mark.integration
def test_a_value_unknown_during_preview_is_neither_a_violation_nor_an_error(analyzer, dev):
    deployment = next(r for r in dev.resources if r.type == "kubernetes:apps/v1:Deployment")
    props = copy.deepcopy(deployment.inputs)
    props["spec"]["template"]["spec"]["containers"][0]["image"] = UNKNOWN_STRING
    props["spec"]["template"]["spec"]["tolerations"] = UNKNOWN_STRING
    template = next(r for r in dev.resources if r.type == "aws:ec2/launchTemplate:LaunchTemplate")

    assert _analyze(analyzer, deployment.type, props, deployment.name) == []
    assert _analyze(analyzer, template.type, {**template.inputs, "metadataOptions": UNKNOWN_STRING}) == []
    # With a known `latest` beside the unknown, the pack still judges what it knows.
    props["spec"]["template"]["spec"]["initContainers"][0]["image"] = "busybox:latest"
    (diagnostic,) = _analyze(analyzer, deployment.type, props, deployment.name)
    assert diagnostic.policyName == "images-pinned"


def test_pulumi_runs_the_pack_from_the_venv_make_creates():
    """`pulumi preview --policy-pack policy` uses PulumiPolicy.yaml's virtualenv: it must be the venv
    `make policy-venv` syncs to the hashed lock, and the requirements.txt beside it must be that lock."""
    project = yaml.safe_load((REPO_ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    (policy,) = [t for t in ISOLATED if t.name == "policy"]

    assert project["runtime"]["name"] == "python"
    assert REPO_ROOT / "policy" / project["runtime"]["options"]["virtualenv"] == policy.venv
    assert policy.lock == REPO_ROOT / "policy" / "requirements.txt"
