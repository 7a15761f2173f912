"""The EKS node monitoring agent add-on: turns GPU (XID, DCGM), kernel, network and storage faults into
node conditions, which EKS node auto repair acts on (without it, repair only sees ``Ready``)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.config.aws import AwsConfig

from .builders.addons import NODE_MONITORING_AGENT, node_monitoring_configuration

TYPE = "llm-judge:aws:NodeMonitoringAgent"


class NodeMonitoringAgent(pulumi.ComponentResource):
    addon_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        cluster_name: pulumi.Input[str],
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        addon = aws.eks.Addon(
            f"{name}-addon",
            cluster_name=cluster_name,
            addon_name=NODE_MONITORING_AGENT,
            configuration_values=node_monitoring_configuration(cfg),
            # The add-on owns its DaemonSets; anything left there by hand is replaced.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=dict(cfg.tags),
            # After the nodes: `up` waits for the add-on to be ACTIVE, and an add-on whose pods have
            # nowhere to run can stay DEGRADED until the wait times out (as CoreDNS does, pulumi-eks#1525).
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
        )
        self.addon_name = addon.addon_name
        self.register_outputs({"addon_name": self.addon_name})
