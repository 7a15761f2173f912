"""Render the AWS half offline, from a stack file's ``llm-judge:aws`` block with test overrides."""

from __future__ import annotations

from typing import Any

from tests.support.stack_files import merged, stack_block
from tools.plan_runtime import Plan, PlannedResource, render

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


def aws_block(stack: str) -> dict[str, Any]:
    return stack_block(stack, "aws")


def render_aws(stack: str = "dev", overrides: dict[str, Any] | None = None, **top: Any) -> Plan:
    """The AWS half of ``stack`` (GCP switched off so only AWS resources appear)."""
    config = {"aws": merged(aws_block(stack), overrides or {}), "gcp": {"enabled": False}, **top}
    return render(stack, config)


PRIVATE_SUBNETS = ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]
CREATED_CLUSTER = {
    "name": "judge-green",
    "create": True,
    "vpcId": "vpc-0123456789abcdef0",
    "privateSubnetIds": PRIVATE_SUBNETS,
}


def render_created() -> Plan:
    """The dev stack on a cluster it creates (the GPU nodes in the cluster's private subnets): one
    render, which every file that looks at a created cluster shares through the plan cache."""
    return render_aws("dev", {"cluster": CREATED_CLUSTER, "nodeGroup": {"subnetIds": []}})


def one(plan: Plan, type_token: str, suffix: str) -> PlannedResource:
    """The one resource of ``type_token`` whose Pulumi name ends with ``suffix``."""
    found = [r for r in plan.of_type(type_token) if r.name.endswith(suffix)]
    assert len(found) == 1, f"expected one {type_token} named *{suffix}, found {[r.name for r in found]}"
    return found[0]


def pod_spec(resource: PlannedResource) -> dict[str, Any]:
    return resource.inputs["spec"]["template"]["spec"]


def container(resource: PlannedResource, name: str, init: bool = False) -> dict[str, Any]:
    key = "initContainers" if init else "containers"
    found = [c for c in pod_spec(resource).get(key, []) if c["name"] == name]
    assert len(found) == 1, f"{resource.name}: expected one {key} entry named {name!r}"
    return found[0]
