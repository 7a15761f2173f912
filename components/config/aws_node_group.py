"""``nodeGroup``: the managed GPU node group: instance types (components/aws/instance_types.py),
sizes, labels, taints, node role, subnets, IMDS and node repair.

Its labels and taints are the node selector and tolerations of every GPU pod
(components/aws/builders/scheduling.py), so the group and its pods cannot disagree; the checks here
keep them valid for the kubelet too.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from components.aws import instance_types

from .aws_names import EksName, PolicyArn, RoleArn, SubnetId
from .base import ConfigModel, Problems
from .k8s_values import Labels, label_key_problem, label_value_problem

STACK_LABEL = "llm-judge/stack"
"""The label the stack puts on every node of its GPU group, beside ``labels`` (value: the stack's name as
a label value, components/aws/builders/scheduling.py), and which every GPU pod selects: on a shared
cluster the other teams' nodes may carry ``role: ai-gpu`` too, and the device plugin, the model loader
and vLLM must never run there."""


def _kubelet_refuses(label_key: str) -> bool:
    """The NodeRestriction rule the kubelet applies to its own ``--node-labels``."""
    prefix = label_key.rpartition("/")[0]
    if prefix in ("node.kubernetes.io", "kubelet.kubernetes.io") or prefix.endswith(
        (".node.kubernetes.io", ".kubelet.kubernetes.io")
    ):
        return False
    return any(prefix == ns or prefix.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io"))


class TaintConfig(ConfigModel):
    """One node taint, in Kubernetes form (``sku=gpu:NoSchedule``)."""

    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"

    @model_validator(mode="after")
    def _check(self) -> TaintConfig:
        p = Problems()
        key_problem = label_key_problem(self.key)
        p.check(key_problem is None, "key", key_problem or "")
        value_problem = label_value_problem(self.key, self.value)
        p.check(value_problem is None, "value", value_problem or "")
        p.raise_if_any()
        return self


def _default_taints() -> list[TaintConfig]:
    return [TaintConfig(key="sku", value="gpu", effect="NoSchedule")]


class NodeGroupConfig(ConfigModel):
    """``nodeGroup``: the managed GPU node group (launch template + ``aws.eks.NodeGroup``)."""

    name: EksName = "ai-gpu"
    """Prefix of the EKS node group name (EKS appends a suffix so replacements never collide)."""
    instance_types: list[str] = Field(default_factory=lambda: ["g5.xlarge"], min_length=1)
    """GPU instance types; each must be in components/aws/instance_types.py (instance-store NVMe)."""
    capacity_type: Literal["ON_DEMAND", "SPOT"] = "ON_DEMAND"
    disk_size: int = Field(default=100, ge=20, le=16384)
    """Root EBS volume (GiB, gp3, encrypted): OS and images. Models live on the instance-store NVMe."""
    min_size: int = Field(default=0, ge=0)
    desired_size: int = Field(default=1, ge=0)
    """Initial size only: the cluster-autoscaler owns it afterwards (Pulumi ignores later drift)."""
    max_size: int = Field(default=1, ge=1)
    labels: Labels = Field(default_factory=lambda: {"role": "ai-gpu"})
    """Node labels; GPU pods select all of them, and the stack's own ``llm-judge/stack: <stack>``, which
    alone keeps them on this stack's nodes (so these may be empty)."""
    taints: list[TaintConfig] = Field(default_factory=_default_taints)
    """Node taints; GPU pods tolerate all of them."""
    subnet_ids: list[SubnetId] = Field(default_factory=list)
    """Private subnets of the GPU nodes, in the AZs that have your GPU capacity. Required with an existing
    cluster (whose own subnets may include public ones); with a created cluster, empty means its
    ``privateSubnetIds``."""
    node_role_arn: RoleArn | None = None
    """Existing node IAM role. None: the stack creates one with the EKS worker policies."""
    extra_policy_arns: list[PolicyArn] = Field(default_factory=list)
    """More managed policies for a created node role (e.g. AmazonSSMManagedInstanceCore)."""
    metadata_hop_limit: Literal[1, 2] = 1
    """IMDSv2 hop limit. 1 keeps pods (not on the host network) from reading the node role's credentials."""
    node_repair: bool = True
    """EKS node auto repair of the GPU group: replaces (or reboots) nodes whose conditions turn
    unhealthy. Without the node monitoring agent that is only the kubelet's ``Ready``; GPU faults (XID
    errors, DCGM diagnostics) become node conditions only with the agent (``cluster.nodeMonitoringAgent``)."""
    autoscaler_tags: bool = True
    """Tag the node group and its Auto Scaling group for cluster-autoscaler discovery and scale-from-zero."""
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags for the node group, its instances and volumes."""

    @model_validator(mode="after")
    def _check(self) -> NodeGroupConfig:
        p = Problems()
        p.check(
            self.min_size <= self.max_size,
            "minSize",
            f"{self.min_size} is greater than maxSize {self.max_size}",
        )
        if self.min_size <= self.max_size:
            p.check(
                self.min_size <= self.desired_size <= self.max_size,
                "desiredSize",
                f"{self.desired_size} is outside [minSize {self.min_size}, maxSize {self.max_size}]",
            )
        for i, name in enumerate(self.instance_types):
            p.check(
                instance_types.lookup(name) is not None,
                f"instanceTypes[{i}]",
                instance_types.rejection_reason(name),
            )
        p.check(
            len(set(self.instance_types)) == len(self.instance_types), "instanceTypes", "lists a type twice"
        )
        known = [t for t in map(instance_types.lookup, self.instance_types) if t is not None]
        if len({t.gpus for t in known}) > 1:
            p.add(
                "instanceTypes",
                "all types must have the same GPU count (the autoscaler's node template has one "
                f"nvidia.com/gpu value); got {', '.join(f'{t.name}={t.gpus}' for t in known)}",
            )
        p.check(
            STACK_LABEL not in self.labels,
            "labels",
            f"label key {STACK_LABEL!r} is the stack's own: the stack sets it to the stack's name on every "
            "GPU node and every GPU pod selects it, so that they keep off other teams' nodes; remove it",
        )
        p.check(
            instance_types.ACCELERATOR_LABEL not in self.labels,
            "labels",
            f"label key {instance_types.ACCELERATOR_LABEL!r} is the stack's own: the stack sets it to the "
            "instance type's GPU (the cluster-autoscaler's node template reads it); remove it",
        )
        for key in self.labels:
            p.check(
                not _kubelet_refuses(key),
                "labels",
                f"label key {key!r}: the kubelet refuses to set labels in the kubernetes.io and k8s.io "
                "namespaces (except node.kubernetes.io/ and kubelet.kubernetes.io/), so the nodes "
                "would never join",
            )
        seen: set[tuple[str, str]] = set()
        for i, taint in enumerate(self.taints):
            p.check(
                (taint.key, taint.effect) not in seen,
                f"taints[{i}]",
                f"duplicate taint {taint.key}:{taint.effect}",
            )
            seen.add((taint.key, taint.effect))
        p.raise_if_any()
        return self
