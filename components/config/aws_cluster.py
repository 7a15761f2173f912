"""``cluster``: the EKS cluster the judge runs in: an existing one, or one the stack creates with its
VPC, subnets, endpoint access and small system node group; its Kubernetes version (checked against
eks_versions.py), who may reach it (``kubeconfigRoleArn``) and the node monitoring agent add-on."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from . import eks_versions
from .aws_names import EksName, RoleArn, SubnetId, VpcId
from .base import ConfigModel, Problems, pattern

_K8S_VERSION = re.compile(r"^1\.[0-9]{2}$")


def _eks_version(value: str) -> str:
    if not _K8S_VERSION.match(value):
        raise ValueError("must be a Kubernetes minor version such as '1.35'")
    if value not in eks_versions.ACCEPTED_VERSIONS:
        raise ValueError(
            f"{value} is not a version this stack accepts: {', '.join(eks_versions.ACCEPTED_VERSIONS)} "
            f"(the EKS versions not past extended support on {eks_versions.CALENDAR_CHECKED} that "
            "kubernetes-validate has schemas for; see components/config/eks_versions.py)"
        )
    return value


_INSTANCE_TYPE = re.compile(r"^(?P<family>[a-z]+[0-9]+(?P<attrs>[a-z-]*))\.[a-z0-9]+$")


class SystemNodesConfig(ConfigModel):
    """``cluster.systemNodes``: the small untainted managed node group a *created* cluster gets for
    CoreDNS, the cluster-autoscaler and other system pods (the GPU group is tainted and may be at zero).
    A managed node group, like the GPU one, so both share the cluster security group."""

    instance_type: Annotated[
        str, AfterValidator(pattern(_INSTANCE_TYPE, "an EC2 instance type such as 'm7i.large'"))
    ] = "m7i.large"
    ami_type: Literal["AL2023_x86_64_STANDARD", "AL2023_ARM_64_STANDARD"] = "AL2023_x86_64_STANDARD"
    """EKS-optimised AL2023 AMI: x86_64, or ARM_64 for Graviton types (m7g, c7g, t4g ...)."""
    disk_size: int = Field(default=50, ge=20, le=16384)
    """Root EBS volume, GiB (gp3, encrypted)."""
    min_size: int = Field(default=1, ge=1)
    desired_size: int = Field(default=2, ge=1)
    max_size: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _check(self) -> SystemNodesConfig:
        p = Problems()
        match = _INSTANCE_TYPE.match(self.instance_type)
        # Graviton families carry a "g" among the letters after the generation (m7g, c7gn, t4g, r8gd).
        graviton = bool(match and "g" in match.group("attrs"))
        arm = self.ami_type == "AL2023_ARM_64_STANDARD"
        p.check(
            graviton == arm,
            "amiType",
            f"{self.ami_type} does not run on {self.instance_type} "
            f"(use {'AL2023_ARM_64_STANDARD' if graviton else 'AL2023_x86_64_STANDARD'})",
        )
        p.raise_if_any()
        return self


class ClusterConfig(ConfigModel):
    """``cluster``: the EKS cluster the judge runs in."""

    name: EksName
    """EKS cluster name. An existing cluster is looked up by this name; with ``create`` it is created."""
    version: Annotated[str, AfterValidator(_eks_version)] = eks_versions.DEFAULT_VERSION
    """Kubernetes minor version: of the created cluster (an existing one's must match), and the schema
    rendered manifests are validated against. One of ``eks_versions.ACCEPTED_VERSIONS``."""
    create: bool = False
    """Create the cluster with pulumi-eks (greenfield stacks). False: use an existing cluster."""
    vpc_id: VpcId | None = None
    """VPC of a created cluster (required with ``create``)."""
    private_subnet_ids: list[SubnetId] = Field(default_factory=list)
    """Private subnets of a created cluster (required with ``create``); also the GPU nodes' default."""
    public_subnet_ids: list[SubnetId] = Field(default_factory=list)
    """Public subnets of a created cluster, for internet-facing load balancers (optional)."""
    endpoint_public_access: bool = True
    endpoint_private_access: bool = True
    system_nodes: SystemNodesConfig = Field(default_factory=SystemNodesConfig)
    kubeconfig_role_arn: RoleArn | None = None
    """Role that ``aws eks get-token`` assumes to talk to the cluster (``--role-arn``); none = caller.
    With ``create`` the stack gives this role an access entry with cluster-admin (EKS makes only the
    creating identity an admin); with an existing cluster the role must already have access."""
    node_monitoring_agent: bool | None = None
    """Install the EKS node monitoring agent add-on (``eks-node-monitoring-agent``), which reports GPU
    (XID, DCGM), kernel, network and storage faults as node conditions that node auto repair acts on.
    None: install it when the stack creates the cluster and ``nodeGroup.nodeRepair`` is on; an existing
    cluster's add-ons are left alone unless this is true."""

    @model_validator(mode="after")
    def _check(self) -> ClusterConfig:
        p = Problems()
        if self.create:
            p.check(self.vpc_id is not None, "vpcId", "required when create is true")
            p.check(
                bool(self.private_subnet_ids),
                "privateSubnetIds",
                "at least one subnet is required when create is true",
            )
            sn = self.system_nodes
            p.check(
                sn.min_size <= sn.max_size,
                "systemNodes.minSize",
                f"{sn.min_size} is greater than maxSize {sn.max_size}",
            )
            p.check(
                sn.min_size <= sn.desired_size <= sn.max_size,
                "systemNodes.desiredSize",
                f"{sn.desired_size} is outside [minSize {sn.min_size}, maxSize {sn.max_size}]",
            )
        else:
            for key in ("vpc_id", "private_subnet_ids", "public_subnet_ids"):
                if key in self.model_fields_set:
                    alias = type(self).model_fields[key].alias or key
                    p.add(alias, "only used when create is true (an existing cluster keeps its own network)")
        p.raise_if_any()
        return self
