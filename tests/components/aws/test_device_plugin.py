"""The NVIDIA device plugin DaemonSet (switchable)."""

from __future__ import annotations

from components.config.aws_device_plugin import DevicePluginConfig
from tests.components.aws.helpers import DAEMONSET, container, one, pod_spec, render_aws


def test_device_plugin_runs_on_gpu_nodes_as_a_critical_pod():
    ds = one(render_aws("dev"), DAEMONSET, "device-plugin-ds")
    assert ds.inputs["metadata"]["namespace"] == "kube-system"
    spec = pod_spec(ds)
    assert spec["priorityClassName"] == "system-node-critical"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    c = container(ds, "nvidia-device-plugin-ctr")
    assert c["image"] == f"nvcr.io/nvidia/k8s-device-plugin:{DevicePluginConfig().tag}"
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert c["volumeMounts"] == [{"name": "device-plugin", "mountPath": "/var/lib/kubelet/device-plugins"}]
    # FAIL_ON_INIT_ERROR=false would keep a plugin that cannot load the GPUs Ready (NVIDIA removed it
    # from its static manifests): a node without GPUs must show as a crash-looping plugin.
    assert "FAIL_ON_INIT_ERROR" not in str(c.get("env", []))


def test_device_plugin_can_be_switched_off():
    plan = render_aws("dev", {"devicePlugin": {"enabled": False}})
    assert not [r for r in plan.of_type(DAEMONSET) if r.name.endswith("device-plugin-ds")]
    assert plan.of_type("llm-judge:aws:NvidiaDevicePlugin") == []


def test_device_plugin_tag_is_configurable():
    plan = render_aws("dev", {"devicePlugin": {"tag": "v0.19.3"}})
    ds = one(plan, DAEMONSET, "device-plugin-ds")
    assert container(ds, "nvidia-device-plugin-ctr")["image"].endswith(":v0.19.3")
