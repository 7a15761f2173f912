"""ModelCache: the model-loader DaemonSet that keeps the model on every GPU node's NVMe, its
NetworkPolicy (DNS and HTTPS out; in, only Prometheus where it scrapes the loader), and the Secret with
the Hugging Face token (only when ``llm-judge:hfToken`` is set)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
from pydantic import SecretStr

from components.config.aws import AwsConfig

from .builders import model_cache as spec
from .builders import network_policy as netpol

TYPE = "llm-judge:aws:ModelCache"


class ModelCache(pulumi.ComponentResource):
    daemonset_name: pulumi.Output[str]
    host_models_dir: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        image: pulumi.Input[str],
        hf_token: SecretStr | None,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(TYPE, name, None, opts)
        depends: list[pulumi.Resource] = list(depends_on or [])
        if hf_token is not None:
            secret_manifest = spec.hf_token_secret(cfg)
            depends.append(
                k8s.core.v1.Secret(
                    f"{name}-hf-token",
                    metadata=secret_manifest["metadata"],
                    type=secret_manifest["type"],
                    string_data={spec.HF_TOKEN_KEY: pulumi.Output.secret(hf_token.get_secret_value())},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends)),
                )
            )
        if cfg.network_policy.enabled:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-netpol",
                metadata=netpol.metadata(spec.NAME, cfg.namespace, spec.SELECTOR),
                spec=netpol.model_loader_spec(
                    spec.SELECTOR,
                    cfg.model_loader.port,
                    # The PodMonitor the stack creates with prometheus.operator scrapes /metrics.
                    cfg.prometheus.namespace if cfg.prometheus.operator else None,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on or [])),
            )
        manifest = pulumi.Output.from_input(image).apply(
            lambda ref: spec.daemonset(cfg, ref, with_hf_token=hf_token is not None)
        )
        ds = k8s.apps.v1.DaemonSet(
            f"{name}-ds",
            metadata=manifest.apply(lambda m: m["metadata"]),
            spec=manifest.apply(lambda m: m["spec"]),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
        )
        self.daemonset_name = ds.metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
        self.host_models_dir = pulumi.Output.from_input(cfg.model_loader.host_models_dir)
        self.register_outputs(
            {"daemonset_name": self.daemonset_name, "host_models_dir": self.host_models_dir}
        )
