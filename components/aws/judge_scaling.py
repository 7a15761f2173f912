"""JudgeScaling: KEDA (and its HTTP add-on) when the stack installs them, the ScaledObject on vLLM's
queue, and with ``autoscaling.wake`` the InterceptorRoute plus the Service callers use to reach the
judge through the add-on's interceptor, and a NetworkPolicy in front of an interceptor the stack
installs."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.config.aws import AwsConfig

from .builders import judge_scaling as spec
from .builders.k8s_types import CustomResourceManifest

TYPE = "llm-judge:aws:JudgeScaling"


def _custom_resource(
    name: str, manifest: CustomResourceManifest, opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(
        name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=opts,
    )


class JudgeScaling(pulumi.ComponentResource):
    base_url: pulumi.Output[str] | None
    """The URL callers use when requests may arrive at zero replicas (through the interceptor)."""

    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        depends_on: list[pulumi.Resource],
        nodes_ready: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``depends_on``: what the custom resources target (the judge); ``nodes_ready``: the nodes the
        charts' pods run on, on a created cluster (a Helm release waits for its pods)."""
        super().__init__(TYPE, name, None, opts)
        s = cfg.autoscaling
        keda_ready: list[pulumi.Resource] = []
        repository: k8s.helm.v3.RepositoryOptsArgsDict = {"repo": spec.KEDA_CHART_REPO}
        if s.keda.install:
            keda = k8s.helm.v3.Release(
                f"{name}-keda",
                name="keda",
                chart=spec.KEDA_CHART,
                version=s.keda.chart_version,
                repository_opts=repository,
                namespace=s.keda.namespace,
                create_namespace=True,
                values=spec.keda_values(cfg),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(nodes_ready)),
            )
            keda_ready.append(keda)
        installs_addon = s.wake.enabled and s.wake.install
        if installs_addon:
            keda_ready.append(
                k8s.helm.v3.Release(
                    f"{name}-http-add-on",
                    name=spec.HTTP_ADDON_RELEASE,
                    chart=spec.HTTP_ADDON_CHART,
                    version=s.wake.chart_version,
                    repository_opts=repository,
                    namespace=s.keda.namespace,
                    create_namespace=True,
                    values=spec.http_addon_values(cfg),
                    # Its CRDs and scaler talk to KEDA's: install after it.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[*keda_ready, *nodes_ready]),
                )
            )
        # The CRs need KEDA's CRDs and the judge Deployment they target.
        child = pulumi.ResourceOptions(parent=self, depends_on=[*depends_on, *keda_ready])
        scaled_object_after: list[pulumi.Resource] = []
        if s.wake.enabled:
            scaled_object_after.append(_custom_resource(f"{name}-route", spec.interceptor_route(cfg), child))
            wake = spec.wake_service(cfg)
            k8s.core.v1.Service(f"{name}-wake-svc", metadata=wake["metadata"], spec=wake["spec"], opts=child)
            if installs_addon and cfg.network_policy.enabled:
                guard = spec.interceptor_network_policy(cfg)
                k8s.networking.v1.NetworkPolicy(
                    f"{name}-wake-netpol",
                    metadata=guard["metadata"],
                    spec=guard["spec"],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=keda_ready),
                )
            self.base_url = pulumi.Output.from_input(spec.wake_base_url(cfg))
        else:
            self.base_url = None
        # After the route: until it exists the add-on's scaler answers an empty metric spec.
        _custom_resource(
            f"{name}-scaledobject",
            spec.scaled_object(cfg),
            pulumi.ResourceOptions(parent=self, depends_on=[*depends_on, *keda_ready, *scaled_object_after]),
        )
        self.register_outputs({"base_url": self.base_url})
