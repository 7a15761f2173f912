"""The cluster-autoscaler, as plain data: its names, IAM trust and permission policies (EKS Pod
Identity) and its Helm values.

It is scoped to this stack. EKS tags *every* managed node group's Auto Scaling group with
``k8s.io/cluster-autoscaler/enabled`` and ``k8s.io/cluster-autoscaler/<cluster>``, so the chart's
default discovery (``autoDiscovery.clusterName`` alone) would take over every group of a shared
cluster. Here discovery (``autoDiscovery.tags``, rendered by the chart as
``--node-group-auto-discovery=asg:tag=k1=v1,k2=v2,...``: an ASG must carry all of them, with those
values, cloudprovider/aws/README.md) and the IAM condition on the two write actions name the same
three tags: the two EKS puts there, and ``llm-judge:autoscaler=<stack>``, which only this stack puts on
its own groups' ASGs. What it cannot discover it cannot scale, and what it could scale it discovers.

The permission policy otherwise follows the autoscaler's AWS documentation (the "full features"
policy): reads on ``*`` (those Describe calls support no resource-level permissions).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from components.aws.autoscaler_versions import AutoscalerRelease
from components.config.aws import AwsConfig
from components.config.k8s_values import with_digest

from .node_group import discovery_tags
from .scheduling import PART_OF

if TYPE_CHECKING:  # types only
    from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict

SCOPE_TAG = "llm-judge:autoscaler"
"""The ASG tag that puts a group in this stack's autoscaler's hands (value: the stack name)."""
NAME_SUFFIX = "cluster-autoscaler"
HELM_RELEASE_MAX = 53
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


def scope_tags(stack: str) -> dict[str, str]:
    """What this stack writes on the groups its autoscaler may scale (the ASG and the node group)."""
    return {SCOPE_TAG: stack}


def scaled_group_tags(cluster_name: str, stack: str) -> dict[str, str]:
    """Every tag (with its value) an ASG must carry to be discovered, and scaled, by this autoscaler."""
    return {**discovery_tags(cluster_name), **scope_tags(stack)}


def name(stack: str) -> str:
    """Helm release, Deployment (``fullnameOverride``) and ServiceAccount name, one per stack:
    ``llm-judge-<stack>-cluster-autoscaler``, so two stacks in one cluster (or a cluster's own
    ``cluster-autoscaler`` release) never collide, and ``kubectl logs deploy/<name>`` is predictable.
    A stack name too long for Helm's 53 characters is cut and keeps a hash of the whole."""
    slug = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-") or "stack"
    room = HELM_RELEASE_MAX - len(f"llm-judge--{NAME_SUFFIX}")
    if len(slug) > room:
        slug = with_digest(slug, room, stack)
    return f"llm-judge-{slug}-{NAME_SUFFIX}"


BUILT_IN_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})
"""Namespaces every cluster has: the stack installs into them but never creates (nor deletes) them."""


def namespace(cfg: AwsConfig, stack: str) -> str:
    """Where the autoscaler goes: ``clusterAutoscaler.namespace``, else a namespace of its own named like
    it (``name(stack)``, a DNS label of at most 53 characters). The one place that says so: the Helm
    release, the Pod Identity association, its Namespace and the plan's notes all read it.

    A namespace of its own because a cluster-autoscaler elects its leader on the Lease
    ``cluster-autoscaler`` of its namespace and writes ``cluster-autoscaler-status`` there: in
    kube-system beside the cluster's own autoscaler, or beside another stack's, only one would run."""
    return cfg.cluster_autoscaler.namespace or name(stack)


def managed_namespace(cfg: AwsConfig, stack: str) -> ObjectMetaArgsDict | None:
    """The Namespace object the stack creates for the autoscaler (and ``pulumi destroy`` removes, with
    the Lease and status ConfigMap the autoscaler wrote there, which no Helm uninstall removes);
    None for a namespace every cluster has."""
    own = namespace(cfg, stack)
    if own in BUILT_IN_NAMESPACES:
        return None
    return {"name": own, "labels": dict(PART_OF)}


def permission_policy(cluster_name: str, stack: str) -> str:
    conditions = {
        f"aws:ResourceTag/{key}": value for key, value in scaled_group_tags(cluster_name, stack).items()
    }
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


def discovery_spec(cluster_name: str, stack: str) -> list[str]:
    """``autoDiscovery.tags``: ``key=value`` items the chart joins into ``asg:tag=...``. A list value
    replaces the chart's default (the two EKS tags, without values) as a whole."""
    return [f"{key}={value}" for key, value in scaled_group_tags(cluster_name, stack).items()]


def helm_values(cfg: AwsConfig, cluster_name: str, release: AutoscalerRelease, stack: str) -> dict[str, Any]:
    """Values of the ``cluster-autoscaler`` chart (its values.yaml keys: no SDK type, so a plain dict)."""
    ca = cfg.cluster_autoscaler
    own = name(stack)
    return {
        "cloudProvider": "aws",
        "awsRegion": cfg.region,
        # The chart renders the discovery flag only when clusterName is set; the tags scope it.
        "autoDiscovery": {"clusterName": cluster_name, "tags": discovery_spec(cluster_name, stack)},
        # The Deployment's name; otherwise <release>-aws-cluster-autoscaler.
        "fullnameOverride": own,
        "image": {"tag": release.image_tag},
        "rbac": {"create": True, "serviceAccount": {"create": True, "name": own}},
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
