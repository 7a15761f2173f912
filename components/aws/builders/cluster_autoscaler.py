"""The cluster-autoscaler, as plain data: its IAM trust and permission policies (EKS Pod Identity) and
its Helm values.

The permission policy follows the autoscaler's AWS documentation (cloudprovider/aws/README.md, the
"full features" policy): reads on ``*`` (those Describe calls support no resource-level
permissions), and the two write actions only on Auto Scaling groups that carry this cluster's
``k8s.io/cluster-autoscaler/<cluster>=owned`` and ``k8s.io/cluster-autoscaler/enabled=true`` tags,
the same tags auto-discovery finds them by. Another cluster's groups, or any untagged group in the
account, cannot be resized or have instances terminated by this role.
"""

from __future__ import annotations

import json
from typing import Any

from components.aws.autoscaler_versions import AutoscalerRelease
from components.config.aws import AwsConfig

from .node_group import discovery_tags
from .scheduling import PART_OF

SERVICE_ACCOUNT = "cluster-autoscaler"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
WRITE_ACTIONS = ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")
READ_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    # Managed node groups: labels and taints of a group at zero come from the EKS API as well.
    "eks:DescribeNodegroup",
)


def trust_policy() -> str:
    """EKS Pod Identity: the EKS Auth service assumes the role for the associated service account
    (``sts:TagSession`` because it attaches the pod's cluster/namespace/account as session tags)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                }
            ],
        },
        sort_keys=True,
    )


def permission_policy(cluster_name: str) -> str:
    conditions = {f"aws:ResourceTag/{key}": value for key, value in discovery_tags(cluster_name).items()}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Discover", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"},
                {
                    "Sid": "ScaleOwnGroupsOnly",
                    "Effect": "Allow",
                    "Action": list(WRITE_ACTIONS),
                    "Resource": "*",
                    "Condition": {"StringEquals": conditions},
                },
            ],
        },
        sort_keys=True,
    )


def _duration(seconds: int) -> str:
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def helm_values(cfg: AwsConfig, cluster_name: str, release: AutoscalerRelease) -> dict[str, Any]:
    """Values of the ``cluster-autoscaler`` chart (its values.yaml keys: no SDK type, so a plain dict)."""
    ca = cfg.cluster_autoscaler
    return {
        "cloudProvider": "aws",
        "awsRegion": cfg.region,
        # Finds every ASG tagged k8s.io/cluster-autoscaler/enabled and .../<cluster> (the GPU group has both).
        "autoDiscovery": {"clusterName": cluster_name},
        "image": {"tag": release.image_tag},
        "rbac": {"create": True, "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT}},
        "extraArgs": {
            "scale-down-unneeded-time": _duration(ca.scale_down_unneeded_seconds),
            "scale-down-delay-after-add": _duration(ca.scale_down_delay_after_add_seconds),
            "max-node-provision-time": _duration(ca.max_node_provision_seconds),
            "expander": ca.expander,
            "balance-similar-node-groups": True,
            # vLLM and the loader keep caches in emptyDirs/hostPath on the NVMe: that must not pin an
            # idle GPU node forever (the default would).
            "skip-nodes-with-local-storage": False,
            "stderrthreshold": "info",
        },
        "priorityClassName": "system-cluster-critical",
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
        "additionalLabels": dict(PART_OF),
    }
