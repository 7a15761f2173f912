"""``llm-judge:aws``, the root of the AWS half's config: the sections it is made of, and the checks
that span them (GPUs per replica against the node types, ``check_scaling``).

Each section lives in a module of its own (the README's layout table lists them): aws_cluster.py,
aws_node_group.py, aws_model.py, aws_vllm.py, aws_device_plugin.py, aws_network_policy.py,
aws_scaling.py (cluster-autoscaler, KEDA) and aws_monitoring.py (Prometheus, alerts), on top of the
shared rules in k8s_values.py and aws_names.py. Every value the seed kept in Helm values, AppConfig and
Terraform variables lives in them, with its default, its bounds and its documentation. Components
receive these frozen objects; the node selector and tolerations of every GPU pod are derived from
``nodeGroup.labels``/``nodeGroup.taints`` so the node group and its pods cannot disagree.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from components.aws import autoscaler_versions, instance_types

from .aws_cluster import ClusterConfig
from .aws_device_plugin import DevicePluginConfig
from .aws_model import ModelConfig, ModelLoaderConfig
from .aws_monitoring import PrometheusConfig
from .aws_network_policy import NetworkPolicyConfig
from .aws_node_group import NodeGroupConfig
from .aws_scaling import AutoscalingConfig, ClusterAutoscalerConfig
from .aws_vllm import VllmConfig
from .base import ConfigModel, Problems, pattern
from .k8s_values import DnsLabel, DnsSubdomain, ServiceName

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")


class AwsConfig(ConfigModel):
    """``llm-judge:aws``. Set ``enabled: false`` to leave the AWS half out of a stack."""

    enabled: bool = True
    region: Annotated[str, AfterValidator(pattern(_REGION, "an AWS region such as 'us-east-1'"))] = (
        "us-east-1"
    )
    cluster: ClusterConfig = Field(default_factory=lambda: ClusterConfig(name="llm-judge"))
    namespace: DnsLabel = "llm-judge"
    node_group: NodeGroupConfig = Field(default_factory=NodeGroupConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    vllm: VllmConfig = Field(default_factory=VllmConfig)
    service_name: ServiceName = "judge-inference-service"
    hf_token_secret_name: DnsSubdomain = "hf-secret"  # noqa: S105 - a Secret's name, not its value
    """Kubernetes Secret holding ``llm-judge:hfToken`` (created only when that secret is set)."""
    model_loader: ModelLoaderConfig = Field(default_factory=ModelLoaderConfig)
    device_plugin: DevicePluginConfig = Field(default_factory=DevicePluginConfig)
    network_policy: NetworkPolicyConfig = Field(default_factory=NetworkPolicyConfig)
    cluster_autoscaler: ClusterAutoscalerConfig = Field(default_factory=ClusterAutoscalerConfig)
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    tags: dict[str, str] = Field(default_factory=dict)
    """Tags for every AWS resource of the stack."""

    def missing(self) -> list[tuple[str, str]]:
        """Keys an enabled AWS half needs that the config leaves out, as ``(relative key, message)``.
        Checked when the half is built, so a stack that switches AWS off needs none of them."""
        out: list[tuple[str, str]] = []
        if not self.cluster.create and not self.node_group.subnet_ids:
            out.append(
                (
                    "nodeGroup.subnetIds",
                    "required with an existing cluster (cluster.create is false): list the private subnets "
                    "for the GPU nodes. The cluster's own subnets may include public ones, where creating "
                    "the node group fails (Ec2SubnetInvalidConfiguration) or the nodes get public IPs",
                )
            )
        return out

    @property
    def installs_cluster_autoscaler(self) -> bool:
        """``clusterAutoscaler.enabled``, or by default only on a cluster the stack creates: an existing
        cluster's node groups may already be scaled by someone else's autoscaler or Karpenter."""
        explicit = self.cluster_autoscaler.enabled
        return explicit if explicit is not None else self.cluster.create

    @property
    def gpu_types(self) -> list[instance_types.GpuInstanceType]:
        return [t for t in map(instance_types.lookup, self.node_group.instance_types) if t is not None]

    @model_validator(mode="after")
    def _check(self) -> AwsConfig:
        p = Problems()
        ng = self.node_group
        gpu_types = self.gpu_types
        if gpu_types and len(gpu_types) == len(ng.instance_types) and len({t.gpus for t in gpu_types}) == 1:
            per_node = gpu_types[0].gpus
            p.check(
                self.vllm.gpus <= per_node,
                "vllm.gpus",
                f"{self.vllm.gpus} GPUs per replica, but the node types have {per_node}: "
                "the pod could never schedule",
            )
            if self.vllm.gpus <= per_node:
                capacity = ng.max_size * (per_node // self.vllm.gpus)
                p.check(
                    self.vllm.replicas <= capacity,
                    "vllm.replicas",
                    f"{self.vllm.replicas} replicas need more GPUs than nodeGroup.maxSize {ng.max_size} "
                    f"nodes provide (room for {capacity})",
                )
        check_scaling(self, p)
        p.raise_if_any()
        return self


def check_scaling(cfg: AwsConfig, p: Problems) -> None:
    """Rules that span sections: replica bounds against GPUs, the autoscaler against the Kubernetes
    version, the scaling queries against a Prometheus, the GPU label against the group's GPU model."""
    ng, scaling = cfg.node_group, cfg.autoscaling
    gpu_types = cfg.gpu_types
    if scaling.enabled:
        p.check(
            cfg.prometheus.server_address is not None,
            "prometheus.serverAddress",
            "required when autoscaling.enabled is true: KEDA reads vLLM's queue from this Prometheus "
            "(e.g. http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090)",
        )
        if "replicas" in cfg.vllm.model_fields_set:
            p.add(
                "vllm.replicas",
                "KEDA owns the replica count while autoscaling.enabled is true: set "
                "autoscaling.minReplicas/maxReplicas instead",
            )
        complete = gpu_types and len(gpu_types) == len(ng.instance_types)
        if complete and len({t.gpus for t in gpu_types}) == 1 and cfg.vllm.gpus <= gpu_types[0].gpus:
            capacity = ng.max_size * (gpu_types[0].gpus // cfg.vllm.gpus)
            p.check(
                scaling.max_replicas <= capacity,
                "autoscaling.maxReplicas",
                f"{scaling.max_replicas} replicas need more GPUs than nodeGroup.maxSize {ng.max_size} x "
                f"{gpu_types[0].gpus} GPU(s) per node / vllm.gpus {cfg.vllm.gpus} provide (room for "
                f"{capacity}): raise nodeGroup.maxSize or lower maxReplicas",
            )
        if scaling.min_replicas == 0 and ng.min_size > 0:
            p.add(
                "autoscaling.minReplicas",
                f"0 saves nothing while nodeGroup.minSize is {ng.min_size}: the GPU node stays; set "
                "nodeGroup.minSize: 0 too (or minReplicas >= 1)",
            )
    ca = cfg.cluster_autoscaler
    installs = cfg.installs_cluster_autoscaler
    if installs and ca.chart_version is None:
        row = autoscaler_versions.for_kubernetes(cfg.cluster.version)
        p.check(
            row is not None,
            "cluster.version",
            f"the cluster-autoscaler has no release pinned for Kubernetes {cfg.cluster.version} "
            f"(components/aws/autoscaler_versions.py covers {autoscaler_versions.covered()}): use a "
            "covered version, or pin clusterAutoscaler.chartVersion and imageTag yourself",
        )
    if installs and (ca.chart_version is None) != (ca.image_tag is None):
        p.add(
            "clusterAutoscaler.imageTag",
            "set chartVersion and imageTag together (an override of one against the other's table row "
            "would mix releases)",
        )
    if installs and not ng.autoscaler_tags:
        p.add(
            "nodeGroup.autoscalerTags",
            "false leaves the GPU group without the tags the stack's cluster-autoscaler discovers it by "
            "(and may scale it by): the autoscaler would scale nothing; set it true, or set "
            "clusterAutoscaler.enabled: false",
        )
    if ng.autoscaler_tags and gpu_types and len({t.gpu_model for t in gpu_types}) > 1:
        p.add(
            "nodeGroup.instanceTypes",
            "all types must have the same GPU model: the node group carries one "
            "k8s.amazonaws.com/accelerator label (the cluster-autoscaler's GPU label) for all its nodes; "
            f"got {', '.join(f'{t.name}={t.gpu_model}' for t in gpu_types)} (split them into two groups)",
        )
