"""The managed GPU node group: node role, launch template (AL2023 NVIDIA, IMDSv2, nodeadm RAID0
user data, encrypted root volume) and ``aws.eks.NodeGroup`` with labels, taints and the
cluster-autoscaler tags."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.config.aws import AwsConfig

from .builders import node_group as spec
from .builders import userdata
from .builders.tags import stack_tags, tag_specifications
from .node_role import create_node_role

TYPE = "llm-judge:aws:GpuNodeGroup"


def asg_tag_name(prefix: str, key: str) -> str:
    """Pulumi name of an ``aws.autoscaling.Tag``: the tag key's tail (after ``/node-template/``), as
    a slug."""
    return f"{prefix}-asg-{_slug(key.rpartition('/node-template/')[2])}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def asg_name_of(resources: Sequence[aws.eks.outputs.NodeGroupResource]) -> str:
    """A managed node group's Auto Scaling group, which EKS reports once the group exists (the SDK
    types every field of it optional)."""
    groups = resources[0].autoscaling_groups if resources else None
    name = groups[0].name if groups else None
    if name is None:
        raise ValueError("EKS reported no Auto Scaling group for the node group")
    return name


class GpuNodeGroup(pulumi.ComponentResource):
    node_group_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    launch_template_id: pulumi.Output[str]
    autoscaling_group_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        cluster_name: pulumi.Input[str],
        default_subnet_ids: pulumi.Input[list[str]],
        scope_tags: Mapping[str, str],
        stack: str,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``scope_tags``: what puts the group in the hands of the stack's own cluster-autoscaler (on
        the group and its Auto Scaling group); empty where the stack installs none. ``stack``: the
        stack's name, in the tags of what the group launches and in the label its GPU pods select."""
        super().__init__(TYPE, name, None, opts)
        ng = cfg.node_group
        child = pulumi.ResourceOptions(parent=self)
        tags = {**cfg.tags, **ng.tags}

        attachments: list[pulumi.Resource] = []
        if ng.node_role_arn:
            role_arn: pulumi.Output[str] = pulumi.Output.from_input(ng.node_role_arn)
        else:
            role_arn, attachments = create_node_role(
                name,
                self,
                description=f"EKS GPU nodes of {name}",
                tags=tags,
                extra_policy_arns=ng.extra_policy_arns,
            )

        template = aws.ec2.LaunchTemplate(
            f"{name}-lt",
            name_prefix=f"{name}-",
            description="GPU nodes: EKS AL2023 NVIDIA AMI, instance-store NVMe as RAID0 (nodeadm)",
            update_default_version=True,
            user_data=userdata.encode(userdata.gpu_node_user_data("RAID0")),
            block_device_mappings=spec.block_device_mappings(ng.disk_size),
            metadata_options=spec.metadata_options(ng.metadata_hop_limit),
            tag_specifications=tag_specifications(name, stack_tags(stack, tags)),
            tags=tags,
            opts=child,
        )

        template_instance = spec.template_instance(cfg.gpu_types)
        ca_tags = (
            pulumi.Output.from_input(cluster_name).apply(
                lambda c: spec.autoscaler_tags(c, ng, template_instance, stack)
            )
            if ng.autoscaler_tags
            else pulumi.Output.from_input({})
        )
        subnet_ids = ng.subnet_ids or default_subnet_ids
        group = aws.eks.NodeGroup(
            f"{name}-ng",
            cluster_name=cluster_name,
            node_group_name_prefix=f"{ng.name}-",
            node_role_arn=role_arn,
            subnet_ids=subnet_ids,
            ami_type=spec.AMI_TYPE,
            instance_types=list(ng.instance_types),
            capacity_type=ng.capacity_type,
            scaling_config={
                "min_size": ng.min_size,
                "desired_size": ng.desired_size,
                "max_size": ng.max_size,
            },
            labels=spec.node_labels(ng, template_instance, stack),
            taints=spec.eks_taints(ng.taints),
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            update_config={"max_unavailable": 1},
            node_repair_config={"enabled": ng.node_repair},
            tags=ca_tags.apply(lambda ca: {**tags, **ca, **scope_tags}),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=attachments,
                # The cluster-autoscaler owns the size after creation; re-applying desiredSize on every
                # `pulumi up` would undo its scaling.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )
        asg_name = group.resources.apply(asg_name_of)
        if ng.autoscaler_tags:
            # EKS tags the group's Auto Scaling group with `enabled`/`owned` itself, but not with the
            # node-template tags, which cluster-autoscaler reads from the ASG when scaling from zero,
            # nor with the scope tag, by which the stack's autoscaler discovers it and may scale it.
            for key, value in {**spec.node_template_tags(ng, template_instance, stack), **scope_tags}.items():
                aws.autoscaling.Tag(
                    asg_tag_name(name, key),
                    autoscaling_group_name=asg_name,
                    tag={"key": key, "value": value, "propagate_at_launch": False},
                    opts=child,
                )

        self.node_group_name = group.node_group_name
        self.role_arn = role_arn
        self.launch_template_id = template.id
        self.autoscaling_group_name = asg_name
        self.register_outputs(
            {
                "node_group_name": self.node_group_name,
                "role_arn": self.role_arn,
                "launch_template_id": self.launch_template_id,
                "autoscaling_group_name": self.autoscaling_group_name,
            }
        )
