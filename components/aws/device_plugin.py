"""NVIDIA device plugin DaemonSet on the GPU nodes (the AL2023 NVIDIA AMI ships none), and the
NetworkPolicy that keeps it off the network."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config.aws import AwsConfig

from .builders import device_plugin as spec
from .builders import network_policy as netpol

TYPE = "llm-judge:aws:NvidiaDevicePlugin"


class NvidiaDevicePlugin(pulumi.ComponentResource):
    daemonset_name: pulumi.Output[str]

    def __init__(self, name: str, cfg: AwsConfig, stack: str, opts: pulumi.ResourceOptions | None = None):
        """``stack``: whose GPU nodes it runs on (``scheduling.node_selector``)."""
        super().__init__(TYPE, name, None, opts)
        manifest = spec.daemonset(cfg.device_plugin, cfg.node_group, stack)
        ds = k8s.apps.v1.DaemonSet(
            f"{name}-ds",
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        if cfg.network_policy.enabled:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-netpol",
                metadata=netpol.metadata(spec.NAME, spec.NAMESPACE, spec.SELECTOR),
                spec=netpol.deny_all_spec(spec.SELECTOR),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.daemonset_name = ds.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
        self.register_outputs({"daemonset_name": self.daemonset_name})
