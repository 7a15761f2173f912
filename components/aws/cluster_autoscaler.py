"""The cluster-autoscaler: its IAM role (EKS Pod Identity, write access only to this cluster's tagged
Auto Scaling groups), the Pod Identity association (and the agent add-on where the stack installs it),
and the official Helm chart pinned to the cluster's Kubernetes minor."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws import autoscaler_versions
from components.config.aws import AwsConfig

from .builders import cluster_autoscaler as spec

TYPE = "llm-judge:aws:ClusterAutoscaler"
POD_IDENTITY_AGENT = "eks-pod-identity-agent"


def release_for(cfg: AwsConfig) -> autoscaler_versions.AutoscalerRelease:
    ca = cfg.cluster_autoscaler
    if ca.chart_version is not None and ca.image_tag is not None:
        return autoscaler_versions.AutoscalerRelease(cfg.cluster.version, ca.chart_version, ca.image_tag)
    row = autoscaler_versions.for_kubernetes(cfg.cluster.version)
    if row is None:  # pragma: no cover - the config refuses uncovered versions
        raise ValueError(f"no cluster-autoscaler release pinned for Kubernetes {cfg.cluster.version}")
    return row


class ClusterAutoscaler(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        cluster_name: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``opts`` must carry both the aws and the kubernetes provider (children inherit them)."""
        super().__init__(TYPE, name, None, opts)
        ca = cfg.cluster_autoscaler
        aws_child = pulumi.ResourceOptions(parent=self)
        cluster = pulumi.Output.from_input(cluster_name)

        role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=spec.trust_policy(),
            description=f"cluster-autoscaler of {name} (EKS Pod Identity)",
            tags=dict(cfg.tags),
            opts=aws_child,
        )
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.name,
            policy=cluster.apply(spec.permission_policy),
            opts=aws_child,
        )
        install_agent = ca.install_pod_identity_agent
        if install_agent is None:
            install_agent = cfg.cluster.create
        waits: list[pulumi.Resource] = []
        if install_agent:
            waits.append(
                aws.eks.Addon(
                    f"{name}-pod-identity-agent",
                    cluster_name=cluster,
                    addon_name=POD_IDENTITY_AGENT,
                    resolve_conflicts_on_create="OVERWRITE",
                    tags=dict(cfg.tags),
                    opts=aws_child,
                )
            )
        waits.append(
            aws.eks.PodIdentityAssociation(
                f"{name}-pod-identity",
                cluster_name=cluster,
                namespace=ca.namespace,
                service_account=spec.SERVICE_ACCOUNT,
                role_arn=role.arn,
                tags=dict(cfg.tags),
                opts=aws_child,
            )
        )

        release = release_for(cfg)
        repository: k8s.helm.v3.RepositoryOptsArgsDict = {"repo": autoscaler_versions.CHART_REPO}
        k8s.helm.v3.Release(
            f"{name}-chart",
            name="cluster-autoscaler",
            chart=autoscaler_versions.CHART,
            version=release.chart_version,
            repository_opts=repository,
            namespace=ca.namespace,
            values=cluster.apply(lambda c: spec.helm_values(cfg, c, release)),
            # The pod starts only with its credentials in place (Pod Identity injects them at start).
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits),
        )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})
