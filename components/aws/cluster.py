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


def cluster_admin_policy_arn(partition: str) -> str:
    """EKS's managed access policy equal to Kubernetes ``cluster-admin``."""
    return f"arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


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
                # No self-managed default node group and none of pulumi-eks's own security groups: the
                # system nodes are a managed node group of ours (components/aws/system_nodes.py), so
                # every node of the cluster sits in the one EKS cluster security group.
                skip_default_node_group=True,
                skip_default_security_groups=True,
                create_oidc_provider=True,
                # The VPC CNI enforces NetworkPolicies only with its network policy agent switched on
                # (off by default): without it every policy of the stack would be accepted and ignored.
                vpc_cni_options={"enable_network_policy": True},
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
        admin_grants: list[pulumi.Resource] = []
        if cluster_cfg.create and cluster_cfg.kubeconfig_role_arn:
            admin_grants = self._admin_access(name, found.name, cluster_cfg.kubeconfig_role_arn)
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=config_json,
            # The provider's calls run as kubeconfigRoleArn: they must wait for its access to exist.
            opts=pulumi.ResourceOptions(parent=self, depends_on=admin_grants),
        )
        self.register_outputs(
            {"cluster_name": self.cluster_name, "endpoint": self.endpoint, "version": self.version}
        )

    def _admin_access(
        self, name: str, cluster_name: pulumi.Input[str], role_arn: str
    ) -> list[pulumi.Resource]:
        """An access entry with cluster-admin for the role the Kubernetes provider assumes. EKS makes
        only the identity that created the cluster an admin; any other role would get 401 on every
        Kubernetes resource of the stack."""
        child = pulumi.ResourceOptions(parent=self)
        entry = aws.eks.AccessEntry(
            f"{name}-deployer-access",
            cluster_name=cluster_name,
            principal_arn=role_arn,
            type="STANDARD",
            opts=child,
        )
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        association = aws.eks.AccessPolicyAssociation(
            f"{name}-deployer-admin",
            cluster_name=cluster_name,
            principal_arn=entry.principal_arn,
            policy_arn=partition.apply(cluster_admin_policy_arn),
            access_scope={"type": "cluster"},
            opts=child,
        )
        return [entry, association]
