"""Labels and taints agree between the node group and every pod that must run on it."""

from __future__ import annotations

import re

import pytest

from components.aws.builders.scheduling import node_selector
from components.config import load_stack_config
from components.config.k8s_values import label_value_of, label_value_problem
from tests.components.aws.helpers import (
    DAEMONSET,
    DEPLOYMENT,
    NODE_GROUP,
    aws_block,
    one,
    pod_spec,
    render_aws,
)

STACK_LABEL = "llm-judge/stack"

EKS_EFFECT = {
    "NO_SCHEDULE": "NoSchedule",
    "PREFER_NO_SCHEDULE": "PreferNoSchedule",
    "NO_EXECUTE": "NoExecute",
}

CUSTOM = {
    "nodeGroup": {
        "labels": {"role": "judge-gpu", "example.com/pool": "inference"},
        "taints": [
            {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
            {"key": "dedicated", "value": "judge", "effect": "NoExecute"},
        ],
    }
}


def gpu_pods(plan):
    return {
        "model-loader": one(plan, DAEMONSET, "model-cache-ds"),
        "device-plugin": one(plan, DAEMONSET, "device-plugin-ds"),
        "vllm": one(plan, DEPLOYMENT, "inference-deploy"),
    }


def tolerates(tolerations, taint) -> bool:
    for t in tolerations:
        if t.get("effect") not in (None, taint["effect"]) or t.get("key") != taint["key"]:
            continue
        if t.get("operator") == "Exists" or t.get("value") == taint["value"]:
            return True
    return False


@pytest.mark.parametrize("overrides", [{}, CUSTOM], ids=["stack-defaults", "custom-labels-taints"])
def test_every_gpu_pod_selects_the_node_labels_and_tolerates_the_taints(overrides):
    plan = render_aws("dev", overrides)
    ng = one(plan, NODE_GROUP, "-ng").inputs
    taints = [{**t, "effect": EKS_EFFECT[t["effect"]]} for t in ng["taints"]]
    assert taints, "the GPU node group has no taint: the tolerations would go unchecked"
    for name, workload in gpu_pods(plan).items():
        spec = pod_spec(workload)
        # Every label the pod selects is one the group's nodes carry (the group adds the autoscaler's
        # GPU label on top, which the pods need not select).
        assert spec["nodeSelector"], name
        assert spec["nodeSelector"].items() <= ng["labels"].items(), (
            f"{name} selects other nodes than the GPU group's"
        )
        for taint in taints:
            assert tolerates(spec["tolerations"], taint), f"{name} does not tolerate {taint}"


def test_the_judge_does_not_tolerate_more_than_the_group_needs():
    spec = pod_spec(one(render_aws("dev"), DEPLOYMENT, "inference-deploy"))
    assert spec["tolerations"] == [
        {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_gpu_pod_selects_this_stack_s_nodes_only(stack):
    # Other teams' GPU nodes in a shared cluster may carry role=ai-gpu too: the stack's own label keeps
    # the device plugin, the model loader and vLLM off them, and the group's nodes carry it.
    plan = render_aws(stack)
    assert one(plan, NODE_GROUP, "-ng").inputs["labels"][STACK_LABEL] == stack
    pods = gpu_pods(plan)
    for name, workload in pods.items():
        assert pod_spec(workload)["nodeSelector"][STACK_LABEL] == stack, name
    # And no other pod of the plan aims at the GPU nodes (selects a label of theirs) without it.
    gpu_keys = set(one(plan, NODE_GROUP, "-ng").inputs["labels"]) - {STACK_LABEL}
    for r in plan.resources:
        if not r.type.startswith(("kubernetes:apps/v1:", "kubernetes:batch/v1:Job")):
            continue
        selector = pod_spec(r).get("nodeSelector") or {}
        if gpu_keys & set(selector):
            assert selector.get(STACK_LABEL) == stack, f"{r.name} may land on another team's GPU nodes"


@pytest.mark.parametrize(
    "stack",
    ["dev", "Team.Dev_2", "_dev", "dev-", "a" * 63, "a" * 64, "s" * 100, "team/dev ü", "---", ""],
)
def test_any_stack_name_gives_a_valid_label_value_of_its_own(stack):
    node_group = load_stack_config({"aws": aws_block("dev"), "gcp": {"enabled": False}}).aws.node_group
    value = node_selector(node_group, stack)[STACK_LABEL]
    assert value, stack
    assert label_value_problem(STACK_LABEL, value) is None, value
    if re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?", stack):
        assert value == stack, "a name that is a label value already stays as it is"
    # Rewriting and cutting keep a hash of the whole name, so neighbours do not collide.
    for other in (stack + "x", stack.strip("_-"), stack[:63]):
        if other != stack:
            assert label_value_of(other) != value, (stack, other)
