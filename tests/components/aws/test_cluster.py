"""Cluster access: an existing cluster by name with an exec-token kubeconfig, or a created one."""

from __future__ import annotations

import json

import pytest

from components.aws.builders.kubeconfig import kubeconfig
from components.config import ConfigError
from tests.components.aws.helpers import (
    CREATED_CLUSTER,
    DAEMONSET,
    DEPLOYMENT,
    LAUNCH_TEMPLATE,
    NODE_GROUP,
    PRIVATE_SUBNETS,
    one,
    render_aws,
    render_created,
)

K8S_PROVIDER = "pulumi:providers:kubernetes"
EKS_CLUSTER = "eks:index:Cluster"


PRIVATE = PRIVATE_SUBNETS
CREATE = CREATED_CLUSTER
DEPLOYER = "arn:aws:iam::123456789012:role/deployer"
ACCESS_ENTRY = "aws:eks/accessEntry:AccessEntry"
ACCESS_POLICY = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"
ADDON = "aws:eks/addon:Addon"


@pytest.fixture(scope="module")
def dev():
    return render_aws("dev")


@pytest.fixture(scope="module")
def created():
    # A created cluster: the GPU nodes default to its private subnets.
    return render_created()


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


def test_create_option_builds_an_eks_cluster(created):
    cluster = one(created, EKS_CLUSTER, "-eks").inputs
    assert cluster["name"] == "judge-green"
    assert cluster["version"] == "1.35"
    assert cluster["vpcId"] == "vpc-0123456789abcdef0"
    assert cluster["privateSubnetIds"] == PRIVATE
    assert cluster["authenticationMode"] == "API"
    assert one(created, NODE_GROUP, "judge-gpu-ng").inputs["clusterName"] == "judge-green"


def test_a_created_cluster_enforces_network_policies(created, dev):
    # The VPC CNI ignores NetworkPolicies unless its policy agent is on (off by default).
    assert one(created, EKS_CLUSTER, "-eks").inputs["vpcCniOptions"] == {"enableNetworkPolicy": True}
    assert not [m for _, m in created.diagnostics if "networkPolicy" in m]
    # An existing cluster's CNI is not the stack's: the plan says how to check it.
    (warning,) = [m for sev, m in dev.diagnostics if sev == "warning" and "networkPolicy" in m]
    assert "kubectl get ds aws-node -n kube-system -o yaml | grep enable-network-policy" in warning
    assert "docs/aws.md#networkpolicies-need-an-engine" in warning


# --- a created cluster's nodes share one security group (pulumi/pulumi-eks#1275, #1365) ------------


def test_a_created_cluster_has_no_self_managed_nodes_and_no_pulumi_eks_security_groups(created):
    cluster = one(created, EKS_CLUSTER, "-eks").inputs
    assert cluster["skipDefaultNodeGroup"] is True, "pulumi-eks's default nodes sit in a group of their own"
    assert cluster["skipDefaultSecurityGroups"] is True
    assert not {"instanceType", "minSize", "desiredCapacity", "maxSize"} & set(cluster)
    assert [r.name for r in created.resources if r.type.startswith("aws:ec2/securityGroup")] == []


def test_every_node_group_of_a_created_cluster_lands_in_the_cluster_security_group(created):
    # A managed node group whose launch template names no security group gets the EKS cluster security
    # group, which admits all traffic among its members: GPU pods reach CoreDNS on the system nodes.
    groups = {r.name: r for r in created.of_type(NODE_GROUP)}
    assert set(groups) == {"judge-gpu-ng", "judge-system-ng"}
    for group in groups.values():
        assert "remoteAccess" not in group.inputs, group.name
        template = created.by_urn(group.parent).urn
        (lt,) = [r for r in created.of_type(LAUNCH_TEMPLATE) if r.parent == template]
        assert not {"vpcSecurityGroupIds", "securityGroupNames", "networkInterfaces"} & set(lt.inputs), (
            lt.name
        )
        assert group.inputs["launchTemplate"]["id"].startswith("lt-")


def test_system_nodes_are_untainted_private_and_follow_config(created):
    system = one(created, NODE_GROUP, "judge-system-ng").inputs
    assert "taints" not in system, "CoreDNS must be able to run there"
    assert system["subnetIds"] == PRIVATE
    assert system["amiType"] == "AL2023_x86_64_STANDARD"
    assert system["instanceTypes"] == ["m7i.large"]
    assert system["capacityType"] == "ON_DEMAND"
    assert system["scalingConfig"] == {"minSize": 1, "desiredSize": 2, "maxSize": 3}
    # The stack's own group on its own cluster: its autoscaler may resize it (scope tag on the ASG).
    assert system["tags"]["llm-judge:autoscaler"] == "dev"
    (scope,) = [
        t.inputs["tag"]
        for t in created.of_type("aws:autoscaling/tag:Tag")
        if t.name.startswith("judge-system-") and t.inputs["tag"]["key"] == "llm-judge:autoscaler"
    ]
    assert scope["value"] == "dev"
    lt = one(created, LAUNCH_TEMPLATE, "judge-system-lt").inputs
    assert lt["metadataOptions"]["httpTokens"] == "required"
    assert lt["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    assert lt["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 50
    assert all(s["tags"]["llm-judge:stack"] == "dev" for s in lt["tagSpecifications"])
    # Its own role with the worker policies, attached before EKS checks them at creation.
    assert system["nodeRoleArn"].startswith("arn:aws:iam::123456789012:role/judge-system-role-")
    attachments = [
        r
        for r in created.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if r.name.startswith("judge-system-")
    ]
    assert len(attachments) == 3
    assert {a.urn for a in attachments} <= set(one(created, NODE_GROUP, "judge-system-ng").depends_on)


def test_gpu_workloads_wait_for_the_system_nodes_their_pods_need_for_dns(created):
    system = one(created, NODE_GROUP, "judge-system-ng")
    workloads = [
        r for r in created.of_type(DAEMONSET) + created.of_type(DEPLOYMENT) if "device-plugin" not in r.name
    ]
    assert len(workloads) == 2
    for workload in workloads:
        assert system.urn in workload.depends_on, workload.name


def test_an_existing_cluster_gets_no_system_nodes(dev):
    assert dev.of_type("llm-judge:aws:SystemNodeGroup") == []
    assert [r.name for r in dev.of_type(NODE_GROUP)] == ["judge-gpu-ng"]


def test_graviton_system_nodes_need_the_arm_ami():
    with pytest.raises(ConfigError) as info:
        render_aws("dev", {"cluster": {**CREATE, "systemNodes": {"instanceType": "m7g.large"}}})
    assert info.value.problems == [
        "llm-judge:aws.cluster.systemNodes.amiType: AL2023_x86_64_STANDARD does not run on m7g.large "
        "(use AL2023_ARM_64_STANDARD)"
    ]
    arm = {"instanceType": "m7g.large", "amiType": "AL2023_ARM_64_STANDARD"}
    plan = render_aws("dev", {"cluster": {**CREATE, "systemNodes": arm}, "nodeGroup": {"subnetIds": []}})
    assert one(plan, NODE_GROUP, "judge-system-ng").inputs["amiType"] == "AL2023_ARM_64_STANDARD"


# --- the Kubernetes provider's role on a created cluster ------------------------------------------


def test_the_kubeconfig_role_of_a_created_cluster_gets_cluster_admin_before_the_provider_is_used():
    plan = render_aws(
        "dev", {"cluster": {**CREATE, "kubeconfigRoleArn": DEPLOYER}, "nodeGroup": {"subnetIds": []}}
    )
    entry = plan.one(ACCESS_ENTRY)
    assert entry.inputs["principalArn"] == DEPLOYER
    assert entry.inputs["type"] == "STANDARD"
    assert entry.inputs["clusterName"] == "judge-green"
    admin = plan.one(ACCESS_POLICY)
    assert admin.inputs["principalArn"] == DEPLOYER
    assert admin.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert admin.inputs["accessScope"] == {"type": "cluster"}
    provider = one(plan, K8S_PROVIDER, "-k8s")
    assert admin.urn in provider.depends_on, "the provider's first call would get 401"
    user = json.loads(provider.inputs["kubeconfig"])["users"][0]["user"]
    assert user["exec"]["args"][-2:] == ["--role-arn", DEPLOYER]


def test_no_access_entry_without_a_role_or_on_an_existing_cluster(created, dev):
    assert created.of_type(ACCESS_ENTRY) == []
    existing = render_aws("dev", {"cluster": {"kubeconfigRoleArn": DEPLOYER}})
    assert existing.of_type(ACCESS_ENTRY) == []
    assert dev.of_type(ACCESS_POLICY) == []


# --- the EKS node monitoring agent (what makes nodeRepair see GPU faults) --------------------------


def monitoring_addons(plan):
    return [a for a in plan.of_type(ADDON) if a.inputs["addonName"] == "eks-node-monitoring-agent"]


def test_a_created_cluster_with_node_repair_gets_the_node_monitoring_agent(created):
    (addon,) = monitoring_addons(created)
    assert addon.inputs["addonName"] == "eks-node-monitoring-agent"
    assert addon.inputs["clusterName"] == "judge-green"
    values = json.loads(addon.inputs["configurationValues"])
    # The DCGM server tolerates no taint by default: without the GPU taints it never runs on GPU nodes.
    assert values == {
        "dcgmAgent": {
            "tolerations": [{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
        }
    }
    gpu = one(created, NODE_GROUP, "judge-gpu-ng")
    assert gpu.urn in addon.depends_on
    assert gpu.inputs["nodeRepairConfig"] == {"enabled": True}


@pytest.mark.parametrize(
    ("overrides", "installed"),
    [
        ({}, False),  # an existing cluster's add-ons are left alone
        ({"cluster": {"nodeMonitoringAgent": True}}, True),
        ({"cluster": {**CREATE, "nodeMonitoringAgent": False}, "nodeGroup": {"subnetIds": []}}, False),
        ({"cluster": CREATE, "nodeGroup": {"subnetIds": [], "nodeRepair": False}}, False),
    ],
)
def test_the_node_monitoring_agent_switch(overrides, installed):
    plan = render_aws("dev", overrides)
    assert len(monitoring_addons(plan)) == int(installed)


def test_a_region_that_disagrees_with_aws_region_is_warned_about():
    # Pulumi.dev.yaml sets aws:region us-east-1; the typed region wins and the mismatch is reported.
    plan = render_aws("dev", {"region": "eu-west-1"})
    assert any(sev == "warning" and "aws:region" in msg for sev, msg in plan.diagnostics), plan.diagnostics
    provider = one(plan, "pulumi:providers:aws", "-aws")
    assert provider.inputs["region"] == "eu-west-1"
