"""Plain data for the GPU node group: IAM trust policy, EKS taints, launch-template pieces and the
cluster-autoscaler tags that let it scale the group up from zero. Nested pulumi_aws inputs are the
SDK's own ``*ArgsDict`` TypedDicts (snake_case keys, sent as the provider's camelCase), so the type
check in ``make test`` catches a misspelled key that the mocks would pass."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from components.aws.instance_types import ACCELERATOR_LABEL, GpuInstanceType, accelerator
from components.config.aws_node_group import NodeGroupConfig, TaintConfig

from .scheduling import node_selector

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_aws.ec2 import LaunchTemplateBlockDeviceMappingArgsDict, LaunchTemplateMetadataOptionsArgsDict
    from pulumi_aws.eks import NodeGroupTaintArgsDict

AMI_TYPE = "AL2023_x86_64_NVIDIA"
ROOT_DEVICE = "/dev/xvda"  # the root device name of the EKS AL2023 AMIs

# Managed policies every EKS worker node needs (the seed attached the same three; PullOnly is the
# narrower successor of ReadOnly that EKS now documents for node roles).
WORKER_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryPullOnly")

_EKS_EFFECT = {
    "NoSchedule": "NO_SCHEDULE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
}
CA_PREFIX = "k8s.io/cluster-autoscaler"


def node_assume_role_policy() -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        },
        sort_keys=True,
    )


def managed_policy_arn(partition: str, name: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


def eks_taints(taints: list[TaintConfig]) -> list[NodeGroupTaintArgsDict]:
    """Kubernetes-form taints in the EKS API's form (``NoSchedule`` -> ``NO_SCHEDULE``)."""
    return [{"key": t.key, "value": t.value, "effect": _EKS_EFFECT[t.effect]} for t in taints]


def block_device_mappings(disk_size_gib: int) -> list[LaunchTemplateBlockDeviceMappingArgsDict]:
    """Root volume in the launch template (a node group with a launch template cannot set disk_size)."""
    return [
        {
            "device_name": ROOT_DEVICE,
            "ebs": {
                "volume_size": disk_size_gib,
                "volume_type": "gp3",
                "encrypted": "true",
                "delete_on_termination": "true",
            },
        }
    ]


def metadata_options(hop_limit: int) -> LaunchTemplateMetadataOptionsArgsDict:
    """IMDSv2 only (no token-less requests); the hop limit decides whether pods can reach IMDS."""
    return {
        "http_endpoint": "enabled",
        "http_tokens": "required",
        "http_put_response_hop_limit": hop_limit,
        "instance_metadata_tags": "disabled",
    }


def discovery_tags(cluster_name: str) -> dict[str, str]:
    """Tags cluster-autoscaler's ``--node-group-auto-discovery=asg:tag=...`` looks for."""
    return {f"{CA_PREFIX}/enabled": "true", f"{CA_PREFIX}/{cluster_name}": "owned"}


def node_labels(node_group: NodeGroupConfig, instance: GpuInstanceType, stack: str) -> dict[str, str]:
    """What the GPU pods select (the group's labels and the stack's own, ``node_selector``) plus the
    cluster-autoscaler's GPU label (its AWS documentation asks for it on GPU nodes: without it, a new
    node whose device plugin has not yet advertised its GPUs looks like a node without GPUs, and the
    autoscaler adds another one for the same pending pod)."""
    return {**node_selector(node_group, stack), ACCELERATOR_LABEL: accelerator(instance)}


def node_template_tags(node_group: NodeGroupConfig, instance: GpuInstanceType, stack: str) -> dict[str, str]:
    """What a node of this group will look like, for cluster-autoscaler while the group has no nodes:
    without the label, taint and ``nvidia.com/gpu`` tags a pending GPU pod looks unschedulable on this
    group and the autoscaler never scales it up from zero (every label the pods select among them)."""
    template = f"{CA_PREFIX}/node-template"
    tags: dict[str, str] = {}
    for key, value in node_labels(node_group, instance, stack).items():
        tags[f"{template}/label/{key}"] = value
    for taint in node_group.taints:
        tags[f"{template}/taint/{taint.key}"] = f"{taint.value}:{taint.effect}"
    tags[f"{template}/resources/nvidia.com/gpu"] = str(instance.gpus)
    # The kubelet's directory is bind-mounted onto the NVMe array, so the array is the ephemeral storage.
    tags[f"{template}/resources/ephemeral-storage"] = f"{instance.nvme_gb}G"
    return tags


def autoscaler_tags(
    cluster_name: str, node_group: NodeGroupConfig, instance: GpuInstanceType, stack: str
) -> dict[str, str]:
    return {**discovery_tags(cluster_name), **node_template_tags(node_group, instance, stack)}


def template_instance(instance_types: list[GpuInstanceType]) -> GpuInstanceType:
    """The instance type the autoscaler template describes: the smallest NVMe of the group, so a pod
    that fits the template fits every node the group can launch."""
    return min(instance_types, key=lambda t: (t.nvme_gb, t.name))
