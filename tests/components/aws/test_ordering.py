"""GPU workloads wait for the GPU nodes (and the device plugin that advertises their GPUs); on a created
cluster, the charts and the add-on the stack installs wait for the system nodes their pods run on."""

from __future__ import annotations

import pytest

from tests.components.aws.helpers import DAEMONSET, DEPLOYMENT, NODE_GROUP, render_aws, render_created


def _loader_and_vllm(plan):
    workloads = [
        r for r in plan.of_type(DAEMONSET) + plan.of_type(DEPLOYMENT) if "device-plugin" not in r.name
    ]
    assert {r.type for r in workloads} == {DAEMONSET, DEPLOYMENT}, [r.name for r in workloads]
    return workloads


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_model_loader_and_vllm_wait_for_the_gpu_node_group_and_device_plugin(stack):
    plan = render_aws(stack)
    node_group = plan.one(NODE_GROUP)
    plugin = next(r for r in plan.of_type(DAEMONSET) if "device-plugin" in r.name)
    for workload in _loader_and_vllm(plan):
        assert node_group.urn in workload.depends_on, f"{workload.name} does not wait for the GPU node group"
        assert plugin.urn in workload.depends_on, f"{workload.name} does not wait for the device plugin"


def test_without_the_device_plugin_workloads_still_wait_for_the_nodes():
    plan = render_aws("dev", {"devicePlugin": {"enabled": False}})
    node_group = plan.one(NODE_GROUP)
    for workload in _loader_and_vllm(plan):
        assert node_group.urn in workload.depends_on, workload.name


def test_on_a_created_cluster_the_charts_and_the_agent_wait_for_the_system_nodes():
    plan = render_created()
    system = plan.one(NODE_GROUP, "judge-system-ng")
    waiting = [
        *plan.of_type("kubernetes:helm.sh/v3:Release"),
        *(
            a
            for a in plan.of_type("aws:eks/addon:Addon")
            if a.inputs["addonName"] == "eks-pod-identity-agent"
        ),
    ]
    assert sorted(r.name for r in waiting) == [
        "judge-cluster-autoscaler-chart",
        "judge-cluster-autoscaler-pod-identity-agent",
        "judge-scaling-http-add-on",
        "judge-scaling-keda",
    ]
    for resource in waiting:
        # A release waits for its pods, which would otherwise race the nodes they need.
        assert system.urn in resource.depends_on, f"{resource.name} does not wait for the system nodes"
