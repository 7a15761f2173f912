"""Computed outputs and data-source results that the AWS provider would return, for the offline plan.

``RESOURCES``: resource type token -> fn(name, inputs) -> extra outputs (merged over the inputs).
``CALLS``: function token -> fn(args) -> result. See tools/mocks.py.

Only fields the program reads (or a reviewer looks for in plan.json) are filled in. Values are fixed
and recognisably fake (account 123456789012, documentation-range IPs); derived from the resource
name so that two resources never share an id.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

import grpc

from components.config import eks_versions

ACCOUNT = "123456789012"
REGION = "us-east-1"
MOCK_SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003"]
BARE_CLUSTER = "llm-judge-bare"
"""An existing cluster of the fake account with no EKS add-ons at all (every other name has the ones
the stack looks for: ``eks-pod-identity-agent``)."""
MOCK_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMOCK\n-----END CERTIFICATE-----\n").decode()


def _hex(seed: str, length: int = 17) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:length]


def _iam_role(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    role_name = inputs.get("name") or f"{name}-{_hex(name, 7)}"
    return {
        "name": role_name,
        "arn": f"arn:aws:iam::{ACCOUNT}:role/{role_name}",
        "uniqueId": f"AROA{_hex(name, 17).upper()}",
    }


def _launch_template(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    lt_id = f"lt-{_hex(name)}"
    return {
        "id": lt_id,
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:launch-template/{lt_id}",
        "name": f"{inputs.get('namePrefix', name)}{_hex(name, 8)}",
        "latestVersion": 1,
        "defaultVersion": 1,
    }


def _node_group(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    group = inputs.get("nodeGroupName") or f"{inputs.get('nodeGroupNamePrefix', name + '-')}{_hex(name, 8)}"
    cluster = inputs.get("clusterName", "cluster")
    uuid = _hex(name + "uuid", 8)
    return {
        "nodeGroupName": group,
        "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/{cluster}/{group}/{uuid}",
        "status": "ACTIVE",
        "releaseVersion": f"{eks_versions.DEFAULT_VERSION}.5-20261120",
        "version": eks_versions.DEFAULT_VERSION,
        # EKS names the Auto Scaling group after the node group: eks-<group>-<uuid>.
        "resources": [
            {"autoscalingGroups": [{"name": f"eks-{group}-{uuid}"}], "remoteAccessSecurityGroupId": ""}
        ],
    }


def _ecr_repository(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    repo_name = inputs.get("name") or f"{name}-{_hex(name, 7)}"
    return {
        "name": repo_name,
        "registryId": ACCOUNT,
        "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo_name}",
        "arn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{repo_name}",
    }


def _docker_image(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    digest = f"sha256:{hashlib.sha256(name.encode()).hexdigest()}"
    tags = inputs.get("tags") or [f"registry.invalid/{name}:mock"]
    return {"digest": digest, "ref": f"{tags[0]}@{digest}"}


def _eks_cluster(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    cluster = inputs.get("name") or name
    issuer = f"oidc.eks.{REGION}.amazonaws.com/id/{_hex(cluster, 32)}"
    return {
        "kubeconfigJson": "{}",
        "clusterSecurityGroupId": f"sg-{_hex(name + 'cluster')}",
        "nodeSecurityGroupId": f"sg-{_hex(name + 'node')}",
        "oidcProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer}",
        "oidcIssuer": issuer,
    }


def _get_cluster(args: dict[str, Any]) -> dict[str, Any]:
    name = args.get("name", "cluster")
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{name}",
        "endpoint": f"https://{_hex(name, 32).upper()}.gr7.{REGION}.eks.amazonaws.com",
        "certificateAuthorities": [{"data": MOCK_CA}],
        # An existing cluster answers with the stack's default version (tests of a mismatch override it).
        "version": eks_versions.DEFAULT_VERSION,
        "platformVersion": "eks.10",
        "status": "ACTIVE",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/{name}-cluster",
        "vpcConfig": {
            "vpcId": "vpc-0a1b2c3d4e5f60000",
            "subnetIds": list(MOCK_SUBNETS),
            "clusterSecurityGroupId": f"sg-{_hex(name)}",
            "endpointPrivateAccess": True,
            "endpointPublicAccess": True,
            "securityGroupIds": [],
            "publicAccessCidrs": ["0.0.0.0/0"],
        },
        "kubernetesNetworkConfigs": [{"ipFamily": "ipv4", "serviceIpv4Cidr": "172.20.0.0/16"}],
        "tags": {},
    }


class ProviderError(grpc.RpcError):
    """A data source's error as the engine hands it to the SDK: a gRPC error whose details are the
    engine's "invocation of <token> returned an error: ..." around the provider's own message (the
    SDK turns it into ``Exception("invoke of <token> failed: <details>")``)."""

    def __init__(self, token: str, message: str):
        super().__init__(message)
        self._details = (
            f"invocation of {token} returned an error: invoking {token}: 1 error occurred:\n\t* {message}"
        )

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


def _get_addon(args: dict[str, Any]) -> dict[str, Any]:
    """``aws.eks.get_addon``. EKS's DescribeAddon answers ResourceNotFoundException for an add-on the
    cluster lacks; the provider's data source (terraform-provider-aws ``aws_eks_addon``) reports it as
    ``reading EKS Add-On (<cluster>:<addon>): couldn't find resource`` (the plugin SDK's
    NotFoundError), which is what a cluster without it answers here."""
    cluster, addon = args.get("clusterName", "cluster"), args.get("addonName", "addon")
    if cluster == BARE_CLUSTER:
        raise ProviderError(
            "aws:eks/getAddon:getAddon", f"reading EKS Add-On ({cluster}:{addon}): couldn't find resource"
        )
    return {
        "id": f"{cluster}:{addon}",
        "addonName": addon,
        "clusterName": cluster,
        "addonVersion": "v1.3.10-eksbuild.2",
        "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:addon/{cluster}/{addon}/{_hex(cluster + addon, 8)}",
        "configurationValues": "",
        "createdAt": "2026-01-27T10:00:00Z",
        "modifiedAt": "2026-01-27T10:00:00Z",
        "podIdentityAssociations": [],
        "serviceAccountRoleArn": "",
        "tags": {},
    }


def _get_partition(args: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "aws",
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
    }


def _get_authorization_token(args: dict[str, Any]) -> dict[str, Any]:
    registry = args.get("registryId") or ACCOUNT
    password = "offline-mock-ecr-password"  # noqa: S105 - a fixed fake for the offline plan
    return {
        "id": REGION,
        "userName": "AWS",
        "password": password,
        "authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
        "proxyEndpoint": f"https://{registry}.dkr.ecr.{REGION}.amazonaws.com",
        "expiresAt": "2030-01-01T00:00:00Z",
    }


RESOURCES: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "aws:iam/role:Role": _iam_role,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:ecr/repository:Repository": _ecr_repository,
    "docker-build:index:Image": _docker_image,
    "eks:index:Cluster": _eks_cluster,
}
CALLS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "aws:eks/getCluster:getCluster": _get_cluster,
    "aws:eks/getAddon:getAddon": _get_addon,
    "aws:index/getPartition:getPartition": _get_partition,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": _get_authorization_token,
}
