"""ModelCache: the model-loader DaemonSet that keeps the model on every GPU node's NVMe, its
NetworkPolicy (DNS and HTTPS out; in, only Prometheus where it scrapes the loader), the Secret with
the Hugging Face token (only when ``llm-judge:hfToken`` is set), and with an S3 mirror
(``model.source: s3://...``) the loader's AWS identity: its service account, an IAM role that can read
the mirror's prefix and nothing else, and the EKS Pod Identity association (the agent add-on too where
the cluster-autoscaler does not install it)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from pydantic import SecretStr

from app.model_loader.mirror_layout import S3Location
from components.config.aws import AwsConfig

from .builders import model_cache as spec
from .builders import network_policy as netpol
from .pod_identity import pod_identity

TYPE = "llm-judge:aws:ModelCache"


class ModelCache(pulumi.ComponentResource):
    daemonset_name: pulumi.Output[str]
    host_models_dir: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        stack: str,
        image: pulumi.Input[str],
        hf_token: SecretStr | None,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
        *,
        cluster_name: pulumi.Input[str] | None = None,
        install_pod_identity_agent: bool = False,
    ):
        """``stack``: whose GPU nodes it runs on (``scheduling.node_selector``). With an S3 source,
        ``opts`` must carry the aws provider as well, and ``cluster_name`` is the cluster of the Pod
        Identity association."""
        super().__init__(TYPE, name, None, opts)
        depends: list[pulumi.Resource] = list(depends_on or [])
        mirror = cfg.model.s3_source
        if mirror is not None:
            if cluster_name is None:
                raise ValueError("ModelCache: an S3 model source needs cluster_name (Pod Identity)")
            depends += self._s3_identity(
                name, cfg, mirror, cluster_name, install_pod_identity_agent, depends_on
            )
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
                    pod_identity=mirror is not None,
                ),
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on or [])),
            )
        manifest = pulumi.Output.from_input(image).apply(
            lambda ref: spec.daemonset(cfg, stack, ref, with_hf_token=hf_token is not None)
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

    def _s3_identity(
        self,
        name: str,
        cfg: AwsConfig,
        mirror: S3Location,
        cluster_name: pulumi.Input[str],
        install_agent: bool,
        nodes: list[pulumi.Resource] | None,
    ) -> list[pulumi.Resource]:
        """What the DaemonSet's pods need before they start: Pod Identity injects the credentials then."""
        account = spec.service_account(cfg)
        waits: list[pulumi.Resource] = [
            k8s.core.v1.ServiceAccount(
                f"{name}-sa",
                metadata=account["metadata"],
                automount_service_account_token=account["automount_service_account_token"],
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(nodes or [])),
            )
        ]
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        _role, identity = pod_identity(
            name,
            self,
            cfg,
            cluster=cluster_name,
            namespace=cfg.namespace,
            service_account=spec.SERVICE_ACCOUNT,
            description=f"model loader of {cfg.namespace}: reads {mirror.url} (EKS Pod Identity)",
            policy_name="s3-read",
            policy=partition.apply(lambda p: spec.s3_read_policy(mirror, p)),
            install_agent=install_agent,
            agent_after=nodes or [],
        )
        waits += identity
        return waits
