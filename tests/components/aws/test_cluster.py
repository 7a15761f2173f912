"""Cluster access: an existing cluster by name with an exec-token kubeconfig, or a created one."""

from __future__ import annotations

import json

import pytest

from components.aws.builders.kubeconfig import kubeconfig
from tests.components.aws.helpers import NODE_GROUP, one, render_aws

K8S_PROVIDER = "pulumi:providers:kubernetes"
EKS_CLUSTER = "eks:index:Cluster"


@pytest.fixture(scope="module")
def dev():
    return render_aws("dev")


def test_kubeconfig_uses_an_exec_token_not_a_stored_one():
    config = kubeconfig("c1", "https://example.invalid", "Q0E=", "eu-west-1", role_arn=None)
    (user,) = config["users"]
    assert "token" not in user["user"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "c1",
        "--region",
        "eu-west-1",
        "--output",
        "json",
    ]


def test_kubeconfig_can_assume_a_role():
    arn = "arn:aws:iam::123456789012:role/deployer"
    args = kubeconfig("c1", "https://e", "Q0E=", "us-east-1", role_arn=arn)["users"][0]["user"]["exec"][
        "args"
    ]
    assert args[-2:] == ["--role-arn", arn]


def test_existing_cluster_is_looked_up_and_not_created(dev):
    assert dev.of_type(EKS_CLUSTER) == []
    provider = one(dev, K8S_PROVIDER, "-k8s")
    config = json.loads(provider.inputs["kubeconfig"])
    (cluster,) = config["clusters"]
    assert cluster["name"] == "llm-judge-dev"
    assert cluster["cluster"]["server"].startswith("https://")
    assert cluster["cluster"]["certificate-authority-data"]
    assert one(dev, NODE_GROUP, "-ng").inputs["clusterName"] == "llm-judge-dev"
    assert dev.outputs["aws_cluster_name"] == "llm-judge-dev"


def test_kubernetes_objects_use_the_cluster_provider(dev):
    provider = one(dev, K8S_PROVIDER, "-k8s")
    assert provider.parent is not None
    assert dev.by_urn(provider.parent).type == "llm-judge:aws:ClusterAccess"


def test_create_option_builds_an_eks_cluster_with_system_nodes():
    plan = render_aws(
        "dev",
        {
            "cluster": {
                "name": "judge-green",
                "create": True,
                "vpcId": "vpc-0123456789abcdef0",
                "privateSubnetIds": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
            }
        },
    )
    cluster = one(plan, EKS_CLUSTER, "-eks").inputs
    assert cluster["name"] == "judge-green"
    assert cluster["version"] == "1.35"
    assert cluster["vpcId"] == "vpc-0123456789abcdef0"
    assert cluster["privateSubnetIds"] == ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]
    assert cluster["minSize"] >= 1, "CoreDNS needs untainted nodes while the GPU group is at zero"
    assert one(plan, NODE_GROUP, "-ng").inputs["clusterName"] == "judge-green"


def test_a_region_that_disagrees_with_aws_region_is_warned_about():
    # Pulumi.dev.yaml sets aws:region us-east-1; the typed region wins and the mismatch is reported.
    plan = render_aws("dev", {"region": "eu-west-1"})
    assert any(sev == "warning" and "aws:region" in msg for sev, msg in plan.diagnostics), plan.diagnostics
    provider = one(plan, "pulumi:providers:aws", "-aws")
    assert provider.inputs["region"] == "eu-west-1"
