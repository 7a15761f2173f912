"""The IAM role of an EKS managed node group: EC2 trust, the EKS worker policies and any extra ones.

Shared by the GPU and the system node groups; the role and its attachments are children of the
calling component, named after it (``<name>-role``, ``<name>-<policy>``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from .builders import node_group as spec


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def create_node_role(
    name: str,
    parent: pulumi.Resource,
    *,
    description: str,
    tags: Mapping[str, str],
    extra_policy_arns: Sequence[str] = (),
) -> tuple[pulumi.Output[str], list[pulumi.Resource]]:
    """The role's ARN and its policy attachments (a node group must wait for them: EKS checks the
    role's policies when it creates the group)."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=spec.node_assume_role_policy(),
        description=description,
        tags=dict(tags),
        opts=child,
    )
    partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=parent)).partition
    attachments: list[pulumi.Resource] = []
    for policy in (*spec.WORKER_POLICIES, *extra_policy_arns):
        arn = (
            policy
            if policy.startswith("arn:")
            else partition.apply(lambda p, n=policy: spec.managed_policy_arn(p, n))
        )
        attachments.append(
            aws.iam.RolePolicyAttachment(
                f"{name}-{_slug(policy.rsplit('/', 1)[-1])}",
                role=role.name,
                policy_arn=arn,
                opts=child,
            )
        )
    return role.arn, attachments
