"""NVIDIA device plugin DaemonSet: advertises ``nvidia.com/gpu`` on the GPU nodes.

Shaped like NVIDIA's static manifest (deployments/static/nvidia-device-plugin.yml), restricted to this
stack's GPU nodes. It lives in kube-system, beside the node agents it ranks with
(``system-node-critical``): since Kubernetes 1.17 that class is admitted in any namespace, but a
cluster's admins may limit it to kube-system with a ResourceQuota ("Limit Priority Class consumption by
default"), and kube-system is where such a quota would allow it.

No ``FAIL_ON_INIT_ERROR=false``: NVIDIA removed it from that manifest (NVIDIA/k8s-device-plugin#1201)
because it hides a failed GPU initialisation; with the default the plugin crash-loops where the GPUs
cannot be loaded, instead of looking Ready while GPU pods stay Pending.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.config.aws_device_plugin import DevicePluginConfig
from components.config.aws_node_group import NodeGroupConfig

from .checkov import digest_skip, skip_annotations
from .scheduling import PART_OF, node_selector, tolerations

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_kubernetes.core.v1 import TolerationArgsDict

    from .k8s_types import DaemonSetParts

NAMESPACE = "kube-system"
NAME = "llm-judge-nvidia-device-plugin"
DEVICE_PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
GPU_TOLERATION: TolerationArgsDict = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
SELECTOR = {"app.kubernetes.io/name": "nvidia-device-plugin", "app.kubernetes.io/instance": NAME}
CHECKOV_SKIPS = {
    "CKV_K8S_8": "no endpoint to probe: the plugin talks to the kubelet over a Unix socket, and the "
    "kubelet notices when it goes (NVIDIA's own manifests have no probes)",
    "CKV_K8S_9": "no endpoint to probe: the plugin talks to the kubelet over a Unix socket",
    "CKV_K8S_22": "NVIDIA's manifests run it with a writable root filesystem and it cannot be tested "
    "without a GPU here; a plugin that fails leaves every GPU of the node unadvertised",
    "CKV_K8S_23": "root, as upstream: it creates its socket in the root-owned kubelet directory and opens "
    "the NVIDIA device files; no privilege escalation, every capability dropped",
    "CKV_K8S_40": "root, as upstream (see CKV_K8S_23)",
}


def daemonset(cfg: DevicePluginConfig, node_group: NodeGroupConfig, stack: str) -> DaemonSetParts:
    labels = dict(SELECTOR)
    skips = {**CHECKOV_SKIPS, **digest_skip({"devicePlugin.digest": cfg.image_ref})}
    return {
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "labels": {**labels, **PART_OF},
            "annotations": skip_annotations(skips),
        },
        "spec": {
            "selector": {"match_labels": labels},
            "update_strategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "node_selector": node_selector(node_group, stack),
                    "tolerations": [*tolerations(node_group), GPU_TOLERATION],
                    "priority_class_name": "system-node-critical",
                    "automount_service_account_token": False,
                    "security_context": {"seccomp_profile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "nvidia-device-plugin-ctr",
                            "image": cfg.image_ref,
                            "security_context": {
                                "allow_privilege_escalation": False,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "32Mi"},
                                "limits": {"memory": "128Mi"},
                            },
                            "volume_mounts": [{"name": "device-plugin", "mount_path": DEVICE_PLUGIN_DIR}],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "device-plugin",
                            "host_path": {"path": DEVICE_PLUGIN_DIR, "type": "Directory"},
                        }
                    ],
                },
            },
        },
    }
