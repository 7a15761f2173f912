"""Access to the EKS cluster: look it up by name (or create it with pulumi-eks), then a Kubernetes
provider whose kubeconfig fetches a short-lived token with ``aws eks get-token`` on every call."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.config.aws import AwsConfig

from .builders.kubeconfig import kubeconfig

TYPE = "llm-judge:aws:ClusterAccess"


def _warn_on_version_mismatch(actual: str, configured: str) -> str:
    if actual and actual != configured:
        pulumi.log.warn(
            f"llm-judge:aws.cluster.version is {configured} but cluster runs Kubernetes {actual}: the "
            f"manifests were validated against {configured}; set the key to {actual}"
        )
    return actual


class ClusterAccess(pulumi.ComponentResource):
    """The cluster the judge runs in, and a Kubernetes provider for it."""

    cluster_name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    version: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(self, name: str, cfg: AwsConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        cluster_cfg = cfg.cluster
        depends: list[pulumi.Resource] = []
        if cluster_cfg.create:
            import pulumi_eks as eks

            sn = cluster_cfg.system_nodes
            created = eks.Cluster(
                f"{name}-eks",
                name=cluster_cfg.name,
                version=cluster_cfg.version,
                vpc_id=cluster_cfg.vpc_id,
                private_subnet_ids=cluster_cfg.private_subnet_ids,
                public_subnet_ids=cluster_cfg.public_subnet_ids or None,
                endpoint_private_access=cluster_cfg.endpoint_private_access,
                endpoint_public_access=cluster_cfg.endpoint_public_access,
                authentication_mode=eks.AuthenticationMode.API,
                # The GPU group is tainted and may sit at zero: CoreDNS and the autoscaler need
                # untainted nodes of their own.
                instance_type=sn.instance_type,
                min_size=sn.min_size,
                desired_capacity=sn.desired_size,
                max_size=sn.max_size,
                create_oidc_provider=True,
                tags=dict(cfg.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            depends.append(created)
        # One lookup for both cases; for a created cluster it waits for the cluster to exist.
        found = aws.eks.get_cluster_output(
            name=cluster_cfg.name, opts=pulumi.InvokeOutputOptions(parent=self, depends_on=depends)
        )
        self.cluster_name = found.name
        self.endpoint = found.endpoint
        self.version = found.version.apply(
            lambda actual: _warn_on_version_mismatch(actual, cluster_cfg.version)
        )
        ca_data = found.certificate_authorities.apply(lambda cas: cas[0].data)
        config_json = pulumi.Output.all(found.name, found.endpoint, ca_data).apply(
            lambda v: json.dumps(
                kubeconfig(v[0], v[1], v[2], cfg.region, cluster_cfg.kubeconfig_role_arn), sort_keys=True
            )
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=config_json,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs(
            {"cluster_name": self.cluster_name, "endpoint": self.endpoint, "version": self.version}
        )
