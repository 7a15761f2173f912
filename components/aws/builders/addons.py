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
