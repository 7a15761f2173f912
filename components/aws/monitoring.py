"""JudgeMonitoring: PodMonitors (vLLM, model loader) and the PrometheusRule with the judge's alerts,
for clusters that run the Prometheus Operator (``prometheus.operator``)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config.aws import AwsConfig

from .builders import monitoring as spec

TYPE = "llm-judge:aws:JudgeMonitoring"


class JudgeMonitoring(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        depends_on: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=depends_on)
        for suffix, manifest in (
            ("vllm-podmonitor", spec.vllm_pod_monitor(cfg)),
            ("loader-podmonitor", spec.loader_pod_monitor(cfg)),
            ("rules", spec.prometheus_rule(cfg)),
        ):
            k8s.apiextensions.CustomResource(
                f"{name}-{suffix}",
                api_version=manifest["apiVersion"],
                kind=manifest["kind"],
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=child,
            )
        self.register_outputs({})
