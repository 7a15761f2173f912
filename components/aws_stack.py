"""The AWS half of the stack: cluster access, GPU node group, device plugin, model cache and the
vLLM judge, wired from the typed config."""

from __future__ import annotations

import datetime as dt

import pulumi
import pulumi_aws as aws

from components.aws.builders import cluster_autoscaler as autoscaler_spec
from components.aws.builders import shared_cluster
from components.aws.builders.addons import installs_node_monitoring_agent, installs_pod_identity_agent
from components.aws.builders.tags import stack_tags
from components.aws.cluster import ClusterAccess
from components.aws.cluster_autoscaler import ClusterAutoscaler, require_pod_identity_agent
from components.aws.device_plugin import NvidiaDevicePlugin
from components.aws.judge_inference import JudgeInference
from components.aws.judge_scaling import JudgeScaling
from components.aws.model_cache import ModelCache
from components.aws.model_loader_image import ModelLoaderImage
from components.aws.monitoring import JudgeMonitoring
from components.aws.namespace import JudgeNamespace
from components.aws.node_group import GpuNodeGroup
from components.aws.node_monitoring import NodeMonitoringAgent
from components.aws.system_nodes import SystemNodeGroup
from components.config import NAMESPACE, ConfigError, StackConfig, eks_versions

PREFIX = "judge"


def build_aws(cfg: StackConfig) -> None:
    """Register the AWS half and export its outputs."""
    acfg = cfg.aws
    missing = acfg.missing()
    if missing:
        raise ConfigError([f"{NAMESPACE}:aws.{key}: {message}" for key, message in missing])
    configured_region = pulumi.Config("aws").get("region")
    if configured_region and configured_region != acfg.region:
        pulumi.log.warn(
            f"aws:region is {configured_region} but llm-judge:aws.region is {acfg.region}; the stack uses "
            f"{acfg.region} (an explicit provider), set both to the same value to avoid confusion"
        )
    for warning in eks_versions.support_warnings(acfg.cluster.version, dt.date.today()):
        pulumi.log.warn(warning)
    stack = pulumi.get_stack()
    for severity, message in shared_cluster.notes(acfg, stack):
        (pulumi.log.warn if severity == "warning" else pulumi.log.info)(message)
    tags = stack_tags(stack, acfg.tags)
    aws_provider = aws.Provider(f"{PREFIX}-aws", region=acfg.region, default_tags={"tags": tags})
    aws_opts = pulumi.ResourceOptions(providers={"aws": aws_provider})
    installs_autoscaler = acfg.installs_cluster_autoscaler
    # EKS Pod Identity gives the autoscaler, and the model loader with an S3 mirror, their AWS identity.
    uses_pod_identity = installs_autoscaler or acfg.model.s3_source is not None
    if uses_pod_identity and not installs_pod_identity_agent(acfg):
        # Before anything else is registered: a missing agent stops the run with its fix.
        require_pod_identity_agent(acfg, aws_provider)
    # What puts a node group in the hands of the stack's own cluster-autoscaler (none without one).
    scope_tags = autoscaler_spec.scope_tags(stack) if installs_autoscaler else {}

    cluster = ClusterAccess(f"{PREFIX}-cluster", acfg, opts=aws_opts)
    # A created cluster's untainted nodes, for CoreDNS and other system pods (the autoscaler, KEDA and
    # the add-ons too); the GPU workloads wait for them as well, since their pods need DNS.
    system_nodes: list[pulumi.Resource] = []
    if acfg.cluster.create:
        system_nodes.append(
            SystemNodeGroup(f"{PREFIX}-system", acfg, cluster.cluster_name, scope_tags, opts=aws_opts)
        )
    nodes = GpuNodeGroup(
        f"{PREFIX}-gpu",
        acfg,
        cluster_name=cluster.cluster_name,
        # Used when nodeGroup.subnetIds is empty, which only a created cluster allows.
        default_subnet_ids=acfg.cluster.private_subnet_ids,
        scope_tags=scope_tags,
        stack=stack,
        opts=aws_opts,
    )

    k8s_opts = pulumi.ResourceOptions(providers={"kubernetes": cluster.provider})
    # GPU workloads wait for the node group (and the device plugin that makes its GPUs schedulable),
    # so `pulumi up` awaits them on real nodes and `pulumi destroy` removes them before the nodes.
    gpu_ready: list[pulumi.Resource] = [*system_nodes, nodes]
    if installs_node_monitoring_agent(acfg):
        NodeMonitoringAgent(
            f"{PREFIX}-node-monitoring",
            acfg,
            cluster.cluster_name,
            depends_on=[*system_nodes, nodes],
            opts=aws_opts,
        )
    if acfg.device_plugin.enabled:
        gpu_ready.append(NvidiaDevicePlugin(f"{PREFIX}-device-plugin", acfg, stack, opts=k8s_opts))
    namespace = JudgeNamespace(f"{PREFIX}-namespace", acfg.namespace, opts=k8s_opts)

    loader_image: pulumi.Input[str]
    if acfg.model_loader.image:
        loader_image = acfg.model_loader.image
    else:
        loader_image = ModelLoaderImage(f"{PREFIX}-model-loader", dict(tags), opts=aws_opts).ref

    if installs_autoscaler:
        ClusterAutoscaler(
            f"{PREFIX}-cluster-autoscaler",
            acfg,
            cluster_name=cluster.cluster_name,
            stack=stack,
            depends_on=system_nodes,
            opts=pulumi.ResourceOptions(providers={"aws": aws_provider, "kubernetes": cluster.provider}),
        )

    cache = ModelCache(
        f"{PREFIX}-model-cache",
        acfg,
        stack,
        image=loader_image,
        hf_token=cfg.hf_token,
        depends_on=[namespace.resource, *gpu_ready],
        opts=pulumi.ResourceOptions(providers={"aws": aws_provider, "kubernetes": cluster.provider}),
        cluster_name=cluster.cluster_name,
        # The agent add-on is one per cluster: the autoscaler installs it when the stack installs both.
        install_pod_identity_agent=installs_pod_identity_agent(acfg) and not installs_autoscaler,
    )
    judge = JudgeInference(
        f"{PREFIX}-inference",
        acfg,
        stack,
        loader_image=loader_image,
        depends_on=[namespace.resource, *gpu_ready],
        opts=k8s_opts,
    )
    base_url = judge.base_url
    if acfg.autoscaling.enabled:
        scaling = JudgeScaling(
            f"{PREFIX}-scaling",
            acfg,
            depends_on=[namespace.resource, judge],
            nodes_ready=system_nodes,
            opts=k8s_opts,
        )
        if scaling.base_url is not None:
            base_url = scaling.base_url
    if acfg.prometheus.operator:
        JudgeMonitoring(
            f"{PREFIX}-monitoring", acfg, depends_on=[namespace.resource, judge, cache], opts=k8s_opts
        )

    pulumi.export("aws_cluster_name", cluster.cluster_name)
    pulumi.export("aws_gpu_node_group_name", nodes.node_group_name)
    pulumi.export("aws_gpu_node_role_arn", nodes.role_arn)
    pulumi.export("aws_gpu_autoscaling_group_name", nodes.autoscaling_group_name)
    pulumi.export("aws_namespace", namespace.name)
    pulumi.export("aws_judge_service_dns", judge.service_dns)
    # What callers use: through the HTTP add-on's interceptor when the judge may be at zero replicas.
    pulumi.export("aws_judge_base_url", base_url)
    pulumi.export("aws_judge_service_base_url", judge.base_url)
    pulumi.export("aws_judge_served_model_name", judge.served_model_name)
