"""Labels and taints agree between the node group and every pod that must run on it."""

from __future__ import annotations

import pytest

from tests.components.aws.helpers import DAEMONSET, DEPLOYMENT, NODE_GROUP, one, pod_spec, render_aws

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
