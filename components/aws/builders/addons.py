"""EKS add-ons the stack installs, as data: which, and with what configuration values."""

from __future__ import annotations

import json

from components.config.aws import AwsConfig

from .scheduling import tolerations

NODE_MONITORING_AGENT = "eks-node-monitoring-agent"


def installs_node_monitoring_agent(cfg: AwsConfig) -> bool:
    """``cluster.nodeMonitoringAgent``, or by default: when the stack owns the cluster (creates it) and
    the GPU group's node repair is on, which only acts on GPU faults the agent reports."""
    explicit = cfg.cluster.node_monitoring_agent
    if explicit is not None:
        return explicit
    return cfg.cluster.create and cfg.node_group.node_repair


def node_monitoring_configuration(cfg: AwsConfig) -> str:
    """``configuration_values`` of the add-on (its schema: aws/eks-node-monitoring-agent
    charts/configuration.schema.json). The agent itself tolerates every taint, but its DCGM server,
    which runs the GPU diagnostics, tolerates none by default and would never start on the tainted GPU
    nodes: it gets the GPU group's tolerations."""
    return json.dumps({"dcgmAgent": {"tolerations": tolerations(cfg.node_group)}}, sort_keys=True)


POD_IDENTITY_AGENT = "eks-pod-identity-agent"
# How a missing add-on comes back from aws.eks.get_addon: EKS's DescribeAddon answers
# ResourceNotFoundException, which the provider's data source (terraform-provider-aws aws_eks_addon,
# "reading EKS Add-On (<cluster>:<addon>): ...") reports as the plugin SDK's NotFoundError, "couldn't
# find resource". DescribeAddon says the same for a cluster that does not exist, which the message
# below names too.
_NOT_FOUND = ("couldn't find resource", "ResourceNotFoundException")


def installs_pod_identity_agent(cfg: AwsConfig) -> bool:
    """``clusterAutoscaler.installPodIdentityAgent``, or by default on a cluster the stack creates."""
    explicit = cfg.cluster_autoscaler.install_pod_identity_agent
    return explicit if explicit is not None else cfg.cluster.create


def addon_missing(error: str) -> bool:
    """Whether an error of ``aws.eks.get_addon`` says the add-on is not there."""
    return any(marker in error for marker in _NOT_FOUND)


def pod_identity_agent_missing(cfg: AwsConfig) -> str:
    """The one-line error of a stack whose autoscaler needs an agent the existing cluster lacks."""
    cluster = cfg.cluster.name
    needs = [
        *(["the cluster-autoscaler's"] if cfg.installs_cluster_autoscaler else []),
        *([f"the model loader's (model.source {cfg.model.source})"] if cfg.model.s3_source else []),
    ]
    return (
        f"llm-judge:aws.clusterAutoscaler.installPodIdentityAgent: cluster {cluster} (in {cfg.region}) has "
        f"no {POD_IDENTITY_AGENT} add-on, which {' and '.join(needs) or 'the'} credentials (EKS Pod "
        f"Identity) need: install it (aws eks create-addon --cluster-name {cluster} --addon-name "
        f"{POD_IDENTITY_AGENT} --region {cfg.region}), or set clusterAutoscaler.installPodIdentityAgent: "
        "true to let the stack install it (or check cluster.name and aws.region)"
    )
