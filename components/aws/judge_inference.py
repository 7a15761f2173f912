"""JudgeInference: the vLLM Deployment, its Service, ServiceAccount and NetworkPolicy."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config.aws import AwsConfig

from .builders import judge_inference as spec

TYPE = "llm-judge:aws:JudgeInference"


class JudgeInference(pulumi.ComponentResource):
    service_name: pulumi.Output[str]
    service_dns: pulumi.Output[str]
    base_url: pulumi.Output[str]
    """OpenAI-compatible base URL inside the cluster (``http://<service>.<ns>.svc.cluster.local:8000/v1``)."""
    served_model_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        stack: str,
        loader_image: pulumi.Input[str],
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``stack``: whose GPU nodes vLLM runs on (``scheduling.node_selector``)."""
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=list(depends_on or []))
        sa_manifest = spec.service_account(cfg)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=sa_manifest["metadata"],
            automount_service_account_token=sa_manifest["automount_service_account_token"],
            opts=child,
        )
        if cfg.network_policy.enabled:
            np_manifest = spec.network_policy(cfg)
            k8s.networking.v1.NetworkPolicy(
                f"{name}-netpol", metadata=np_manifest["metadata"], spec=np_manifest["spec"], opts=child
            )
        deployment = pulumi.Output.from_input(loader_image).apply(
            lambda ref: spec.deployment(cfg, stack, ref)
        )
        k8s.apps.v1.Deployment(
            f"{name}-deploy",
            metadata=deployment.apply(lambda m: m["metadata"]),
            spec=deployment.apply(lambda m: m["spec"]),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*(depends_on or []), account],
                ignore_changes=spec.ignored_fields(cfg),
            ),
        )
        svc_manifest = spec.service(cfg)
        k8s.core.v1.Service(
            f"{name}-svc", metadata=svc_manifest["metadata"], spec=svc_manifest["spec"], opts=child
        )

        dns = f"{cfg.service_name}.{cfg.namespace}.svc.cluster.local"
        self.service_name = pulumi.Output.from_input(cfg.service_name)
        self.service_dns = pulumi.Output.from_input(dns)
        self.base_url = pulumi.Output.from_input(f"http://{dns}:{cfg.vllm.port}/v1")
        self.served_model_name = pulumi.Output.from_input(cfg.model.effective_served_name)
        self.register_outputs(
            {
                "service_name": self.service_name,
                "service_dns": self.service_dns,
                "base_url": self.base_url,
                "served_model_name": self.served_model_name,
            }
        )
