"""The untainted system node group of a cluster the stack creates: where CoreDNS and the other system
pods run while the tainted GPU group sits at zero.

A *managed* node group whose launch template names no security group, exactly like the GPU group:
EKS then puts both in the cluster security group, which admits all traffic among its members and the
control plane (https://docs.aws.amazon.com/eks/latest/userguide/sec-group-reqs.html), so GPU pods reach
CoreDNS on port 53. pulumi-eks's default node group would sit in a security group of its own that
admits only itself and the control plane, and DNS from the GPU nodes would be dropped
(pulumi/pulumi-eks#1275, #1365)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.config.aws import AwsConfig

from .builders import node_group as spec
from .builders.tags import stack_tags, tag_specifications
from .node_group import asg_name_of, asg_tag_name
from .node_role import create_node_role

TYPE = "llm-judge:aws:SystemNodeGroup"


class SystemNodeGroup(pulumi.ComponentResource):
    node_group_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        cluster_name: pulumi.Input[str],
        scope_tags: Mapping[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``scope_tags``: the stack's own cluster-autoscaler's tag, when it has one: the system group
        is the stack's too (on the cluster it creates), so that autoscaler may resize it."""
        super().__init__(TYPE, name, None, opts)
        cluster = cfg.cluster
        sn = cluster.system_nodes
        tags = dict(cfg.tags)
        role_arn, attachments = create_node_role(
            name, self, description=f"EKS system nodes of {cluster.name}", tags=tags
        )
        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            name_prefix=f"{name}-",
            description="System nodes: EKS AL2023 AMI, IMDSv2, encrypted root volume",
            update_default_version=True,
            block_device_mappings=spec.block_device_mappings(sn.disk_size),
            metadata_options=spec.metadata_options(1),
            tag_specifications=tag_specifications(name, stack_tags(pulumi.get_stack(), tags)),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=cluster_name,
            node_group_name_prefix="system-",
            node_role_arn=role_arn,
            subnet_ids=list(cluster.private_subnet_ids),
            ami_type=sn.ami_type,
            instance_types=[sn.instance_type],
            capacity_type="ON_DEMAND",
            scaling_config={
                "min_size": sn.min_size,
                "desired_size": sn.desired_size,
                "max_size": sn.max_size,
            },
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            update_config={"max_unavailable": 1},
            node_repair_config={"enabled": cfg.node_group.node_repair},
            tags={**tags, **scope_tags},
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=attachments,
                # The stack's autoscaler may resize this group (scope tag below); `pulumi up` must not
                # undo that.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )
        for key, value in scope_tags.items():
            aws.autoscaling.Tag(
                asg_tag_name(name, key),
                autoscaling_group_name=group.resources.apply(asg_name_of),
                tag={"key": key, "value": value, "propagate_at_launch": False},
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.node_group_name = group.node_group_name
        self.role_arn = role_arn
        self.register_outputs({"node_group_name": self.node_group_name, "role_arn": self.role_arn})
