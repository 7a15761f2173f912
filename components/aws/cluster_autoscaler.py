"""The cluster-autoscaler: its IAM role (EKS Pod Identity, write access only to this stack's tagged
Auto Scaling groups), the Pod Identity association (and the agent add-on where the stack installs it),
and the official Helm chart pinned to the cluster's Kubernetes minor, named for the stack."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.aws import autoscaler_versions
from components.config import ConfigError
from components.config.aws import AwsConfig

from .builders import addons
from .builders import cluster_autoscaler as spec
from .pod_identity import pod_identity

TYPE = "llm-judge:aws:ClusterAutoscaler"


def release_for(cfg: AwsConfig) -> autoscaler_versions.AutoscalerRelease:
    ca = cfg.cluster_autoscaler
    if ca.chart_version is not None and ca.image_tag is not None:
        return autoscaler_versions.AutoscalerRelease(cfg.cluster.version, ca.chart_version, ca.image_tag)
    row = autoscaler_versions.for_kubernetes(cfg.cluster.version)
    if row is None:  # pragma: no cover - the config refuses uncovered versions
        raise ValueError(f"no cluster-autoscaler release pinned for Kubernetes {cfg.cluster.version}")
    return row


def require_pod_identity_agent(cfg: AwsConfig, provider: aws.Provider) -> None:
    """Stop the run, before anything is registered, when the existing cluster lacks the Pod Identity
    agent: the autoscaler would start without AWS credentials and its release would time out after an
    hour. Asked of EKS at preview (``DescribeAddon``); a failure that is not "no such add-on" stops the
    run too, as itself."""
    try:
        aws.eks.get_addon(
            cluster_name=cfg.cluster.name,
            addon_name=addons.POD_IDENTITY_AGENT,
            opts=pulumi.InvokeOptions(provider=provider),
        )
    except Exception as exc:
        if addons.addon_missing(str(exc)):
            raise ConfigError([addons.pod_identity_agent_missing(cfg)]) from None
        raise pulumi.RunError(
            f"could not check cluster {cfg.cluster.name} for the {addons.POD_IDENTITY_AGENT} add-on "
            f"(eks:DescribeAddon): {exc}"
        ) from None


class ClusterAutoscaler(pulumi.ComponentResource):
    role_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        cfg: AwsConfig,
        cluster_name: pulumi.Input[str],
        stack: str,
        depends_on: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ):
        """``opts`` must carry both the aws and the kubernetes provider (children inherit them);
        ``depends_on``: the nodes its pods (and the agent's) run on, on a created cluster."""
        super().__init__(TYPE, name, None, opts)
        cluster = pulumi.Output.from_input(cluster_name)
        own_name = spec.name(stack)
        namespace = spec.namespace(cfg, stack)

        role, waits = pod_identity(
            name,
            self,
            cfg,
            cluster=cluster,
            namespace=namespace,
            service_account=own_name,
            description=f"cluster-autoscaler {own_name} (EKS Pod Identity)",
            policy_name="policy",
            policy=cluster.apply(lambda c: spec.permission_policy(c, stack)),
            install_agent=addons.installs_pod_identity_agent(cfg),
            agent_after=depends_on,
        )

        metadata = spec.managed_namespace(cfg, stack)
        if metadata is not None:
            # Pulumi's, not Helm's create_namespace (which leaves it behind): `destroy` removes it, and
            # with it the Lease and status ConfigMap the autoscaler wrote. Deleted after the release
            # and before the nodes its pods ran on, so they terminate where they ran.
            waits.append(
                k8s.core.v1.Namespace(
                    f"{name}-namespace",
                    metadata=metadata,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
                )
            )

        release = release_for(cfg)
        repository: k8s.helm.v3.RepositoryOptsArgsDict = {"repo": autoscaler_versions.CHART_REPO}
        k8s.helm.v3.Release(
            f"{name}-chart",
            name=own_name,
            chart=autoscaler_versions.CHART,
            version=release.chart_version,
            repository_opts=repository,
            namespace=namespace,
            values=cluster.apply(lambda c: spec.helm_values(cfg, c, release, stack)),
            # The pod starts only with its credentials in place (Pod Identity injects them at start),
            # in its namespace, and needs a node to start on. A new namespace (or name) replaces the
            # release, and the chart's ClusterRole and ClusterRoleBinding, named like it and
            # cluster-wide, would refuse a second release beside the first: the old one goes first.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*waits, *depends_on], delete_before_replace=True
            ),
        )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})
