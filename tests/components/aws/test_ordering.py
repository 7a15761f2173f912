"""GPU workloads wait for the GPU nodes (and the device plugin that advertises their GPUs)."""

from __future__ import annotations

import pytest

from tests.components.aws.helpers import DAEMONSET, DEPLOYMENT, NODE_GROUP, render_aws


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
