"""EKS Pod Identity for one service account: an IAM role that EKS's Pod Identity principal may assume
(``builders.cluster_autoscaler.trust_policy``), its inline policy, the association that binds the role to
the service account, and the agent add-on where this stack installs it. The cluster-autoscaler and the
model loader (with an S3 mirror) each get one; only one of them installs the add-on
(``aws_stack.py``)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.config.aws import AwsConfig

from .builders import addons
from .builders.cluster_autoscaler import trust_policy


def pod_identity(
    name: str,
    parent: pulumi.Resource,
    cfg: AwsConfig,
    *,
    cluster: pulumi.Input[str],
    namespace: str,
    service_account: str,
    description: str,
    policy_name: str,
    policy: pulumi.Input[str],
    install_agent: bool,
    agent_after: Sequence[pulumi.Resource] = (),
) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
    """The role, and what the service account's pods must wait for: the role's policy, the add-on (when
    ``install_agent``; a DaemonSet, ACTIVE only once its pods run, so created after ``agent_after``, the
    nodes) and the association (Pod Identity injects credentials only into pods started after it)."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=trust_policy(),
        description=description,
        tags=dict(cfg.tags),
        opts=child,
    )
    waits: list[pulumi.Resource] = [
        aws.iam.RolePolicy(f"{name}-{policy_name}", role=role.name, policy=policy, opts=child)
    ]
    if install_agent:
        waits.append(
            aws.eks.Addon(
                f"{name}-pod-identity-agent",
                cluster_name=cluster,
                addon_name=addons.POD_IDENTITY_AGENT,
                resolve_conflicts_on_create="OVERWRITE",
                tags=dict(cfg.tags),
                opts=pulumi.ResourceOptions(parent=parent, depends_on=list(agent_after)),
            )
        )
    waits.append(
        aws.eks.PodIdentityAssociation(
            f"{name}-pod-identity",
            cluster_name=cluster,
            namespace=namespace,
            service_account=service_account,
            role_arn=role.arn,
            tags=dict(cfg.tags),
            opts=child,
        )
    )
    return role, waits
