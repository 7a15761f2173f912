"""GpuNodeGroup: what a reviewer checks in the launch template, the node group and its tags."""

from __future__ import annotations

import json

import pytest

from components.aws.builders import node_group as spec
from components.config import ConfigError
from tests.components.aws.helpers import (
    DAEMONSET,
    DEPLOYMENT,
    LAUNCH_TEMPLATE,
    NODE_GROUP,
    PRIVATE_SUBNETS,
    one,
    pod_spec,
    render_aws,
    render_created,
)

ROLE = "aws:iam/role:Role"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ASG_TAG = "aws:autoscaling/tag:Tag"
CA = "k8s.io/cluster-autoscaler"


@pytest.fixture(scope="module")
def dev():
    return render_aws("dev")


@pytest.fixture(scope="module")
def prod():
    return render_aws("prod")


def test_ami_is_the_al2023_nvidia_one(dev):
    assert one(dev, NODE_GROUP, "-ng").inputs["amiType"] == "AL2023_x86_64_NVIDIA"


def test_imdsv2_is_required_and_pods_cannot_reach_it(dev):
    options = one(dev, LAUNCH_TEMPLATE, "-lt").inputs["metadataOptions"]
    assert options["httpTokens"] == "required"
    assert options["httpEndpoint"] == "enabled"
    assert options["httpPutResponseHopLimit"] == 1


def test_node_group_uses_the_latest_launch_template_version(dev):
    lt = one(dev, LAUNCH_TEMPLATE, "-lt")
    ng = one(dev, NODE_GROUP, "-ng")
    assert ng.inputs["launchTemplate"]["id"].startswith("lt-")
    assert ng.inputs["launchTemplate"]["version"] == "1"
    assert "imageId" not in lt.inputs, "a custom AMI would stop EKS from merging its NodeConfig"


def test_disk_size_lives_in_the_launch_template(dev):
    ng = one(dev, NODE_GROUP, "-ng")
    assert "diskSize" not in ng.inputs, "EKS rejects disk_size together with a launch template"
    (root,) = one(dev, LAUNCH_TEMPLATE, "-lt").inputs["blockDeviceMappings"]
    assert root["deviceName"] == "/dev/xvda"
    assert root["ebs"] == {
        "volumeSize": 100,
        "volumeType": "gp3",
        "encrypted": "true",
        "deleteOnTermination": "true",
    }


def test_instances_volumes_and_interfaces_carry_the_stack_tag(dev):
    # Provider default tags never reach what EC2 launches from a template: the template must say them.
    plan = render_aws("dev", {"tags": {"team": "ml"}, "nodeGroup": {"tags": {"cost-center": "gpu"}}})
    for plan_, extra in ((dev, {}), (plan, {"team": "ml", "cost-center": "gpu"})):
        specs = one(plan_, LAUNCH_TEMPLATE, "-lt").inputs["tagSpecifications"]
        assert {s["resourceType"] for s in specs} == {"instance", "volume", "network-interface"}
        for spec_ in specs:
            assert spec_["tags"] == {
                "llm-judge:stack": "dev",
                **extra,
                "Name": f"judge-gpu-{spec_['resourceType']}",
            }
    # Provider inputs are sent as JSON text.
    assert json.loads(one(plan, "pulumi:providers:aws", "-aws").inputs["defaultTags"])["tags"] == {
        "llm-judge:stack": "dev",
        "team": "ml",
    }


def test_labels_taints_and_scaling_come_from_config(dev, prod):
    ng = one(dev, NODE_GROUP, "-ng").inputs
    # The group's labels, the stack's own, and the cluster-autoscaler's GPU label for the group's one
    # GPU model (A10G).
    assert ng["labels"] == {
        "role": "ai-gpu",
        "llm-judge/stack": "dev",
        "k8s.amazonaws.com/accelerator": "nvidia-a10g",
    }
    assert one(prod, NODE_GROUP, "-ng").inputs["labels"]["llm-judge/stack"] == "prod"
    assert ng["taints"] == [{"key": "sku", "value": "gpu", "effect": "NO_SCHEDULE"}]
    assert ng["scalingConfig"] == {"minSize": 0, "desiredSize": 0, "maxSize": 1}
    assert ng["capacityType"] == "SPOT"
    assert one(prod, NODE_GROUP, "-ng").inputs["capacityType"] == "ON_DEMAND"
    assert one(prod, NODE_GROUP, "-ng").inputs["scalingConfig"]["maxSize"] == 4


def test_autoscaler_tags_allow_scale_from_zero(dev):
    tags = one(dev, NODE_GROUP, "-ng").inputs["tags"]
    assert tags[f"{CA}/enabled"] == "true"
    assert tags[f"{CA}/llm-judge-dev"] == "owned"
    assert tags[f"{CA}/node-template/label/role"] == "ai-gpu"
    assert tags[f"{CA}/node-template/label/llm-judge/stack"] == "dev"
    assert tags[f"{CA}/node-template/taint/sku"] == "gpu:NoSchedule"
    assert tags[f"{CA}/node-template/resources/nvidia.com/gpu"] == "1"
    # dev mixes g5/g6/g6e .xlarge: the template describes the smallest NVMe of them.
    assert tags[f"{CA}/node-template/resources/ephemeral-storage"] == "250G"


def test_node_template_tags_are_also_on_the_auto_scaling_group(dev):
    # cluster-autoscaler reads node-template tags from the ASG; EKS does not copy node group tags there.
    # So does the stack's own autoscaler, which discovers the group by its scope tag there.
    ng_tags = one(dev, NODE_GROUP, "-ng").inputs["tags"]
    asg_tags = {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in dev.of_type(ASG_TAG)}
    expected = {k: v for k, v in ng_tags.items() if "/node-template/" in k or k == "llm-judge:autoscaler"}
    assert asg_tags == expected
    for t in dev.of_type(ASG_TAG):
        assert t.inputs["autoscalingGroupName"].startswith("eks-ai-gpu-")
        assert t.inputs["tag"]["propagateAtLaunch"] is False


def test_a_gpu_count_tag_follows_the_instance_type():
    plan = render_aws("dev", {"nodeGroup": {"instanceTypes": ["g5.12xlarge"], "maxSize": 1}})
    tags = one(plan, NODE_GROUP, "-ng").inputs["tags"]
    assert tags[f"{CA}/node-template/resources/nvidia.com/gpu"] == "4"


def test_autoscaler_tags_can_be_switched_off():
    # (Where the cluster's own autoscaler, or Karpenter, has other means; the stack's needs them.)
    plan = render_aws(
        "dev", {"nodeGroup": {"autoscalerTags": False}, "clusterAutoscaler": {"enabled": False}}
    )
    assert not [k for k in one(plan, NODE_GROUP, "-ng").inputs["tags"] if k.startswith(CA)]
    assert plan.of_type(ASG_TAG) == []


def test_created_role_is_for_ec2_and_has_the_worker_policies(dev):
    role = one(dev, ROLE, "gpu-role")
    statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert statement["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = {a.inputs["policyArn"] for a in dev.of_type(ATTACHMENT)}
    assert attached == {f"arn:aws:iam::aws:policy/{p}" for p in spec.WORKER_POLICIES}
    assert one(dev, NODE_GROUP, "-ng").inputs["nodeRoleArn"].startswith("arn:aws:iam::123456789012:role/")


def test_prod_adds_its_extra_policies(prod):
    attached = {a.inputs["policyArn"] for a in prod.of_type(ATTACHMENT)}
    assert "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" in attached


def test_an_existing_node_role_replaces_the_created_one():
    arn = "arn:aws:iam::210987654321:role/platform-gpu-nodes"
    plan = render_aws("dev", {"nodeGroup": {"nodeRoleArn": arn}})
    assert [r.name for r in plan.of_type(ROLE) if r.name.startswith("judge-gpu")] == []
    assert plan.of_type(ATTACHMENT) == []
    assert one(plan, NODE_GROUP, "-ng").inputs["nodeRoleArn"] == arn
    assert plan.outputs["aws_gpu_node_role_arn"] == arn


def test_gpu_nodes_of_an_existing_cluster_go_only_to_the_configured_subnets(dev):
    from tools.mock_outputs_aws import MOCK_SUBNETS

    # The cluster's own subnets (all of MOCK_SUBNETS, public ones included) are never the default.
    assert one(dev, NODE_GROUP, "-ng").inputs["subnetIds"] == [
        "subnet-0f1e2d3c4b5a60011",
        "subnet-0f1e2d3c4b5a60012",
    ]
    assert not set(one(dev, NODE_GROUP, "-ng").inputs["subnetIds"]) & set(MOCK_SUBNETS)
    pinned = ["subnet-0123456789abcdef0"]
    plan = render_aws("dev", {"nodeGroup": {"subnetIds": pinned}})
    assert one(plan, NODE_GROUP, "-ng").inputs["subnetIds"] == pinned


def test_an_existing_cluster_without_gpu_subnets_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        render_aws("dev", {"nodeGroup": {"subnetIds": []}})
    (problem,) = info.value.problems
    assert problem.startswith("llm-judge:aws.nodeGroup.subnetIds: required with an existing cluster")
    assert "public" in problem


def test_a_created_clusters_gpu_nodes_default_to_its_private_subnets():
    plan = render_created()
    assert one(plan, NODE_GROUP, "judge-gpu-ng").inputs["subnetIds"] == PRIVATE_SUBNETS


def test_node_group_name_is_a_prefix_so_replacements_do_not_collide(dev):
    ng = one(dev, NODE_GROUP, "-ng").inputs
    assert ng["nodeGroupNamePrefix"] == "ai-gpu-"
    assert "nodeGroupName" not in ng


def test_children_are_parented_to_the_component(dev):
    (component,) = dev.of_type("llm-judge:aws:GpuNodeGroup")
    children = {r.type for r in dev.children(component)}
    assert {NODE_GROUP, LAUNCH_TEMPLATE, ROLE, ATTACHMENT, ASG_TAG} <= children


def test_exports(dev):
    assert dev.outputs["aws_gpu_node_group_name"].startswith("ai-gpu-")
    assert dev.outputs["aws_gpu_autoscaling_group_name"].startswith("eks-ai-gpu-")


def test_pulumi_leaves_the_desired_size_to_the_autoscaler(dev):
    assert [g.ignore_changes for g in dev.of_type(NODE_GROUP)] == [["scalingConfig.desiredSize"]]


def test_a_pending_gpu_pod_matches_the_template_of_the_group_at_zero(dev):
    # cluster-autoscaler scales a group up from zero only for a pod whose nodeSelector its template node
    # (the ASG's node-template label tags) satisfies: every label a GPU workload selects, the stack's own
    # included, must be among them, or the pod stays Pending with the group at zero.
    prefix = f"{CA}/node-template/label/"
    template = {
        t.inputs["tag"]["key"].removeprefix(prefix): t.inputs["tag"]["value"]
        for t in dev.of_type(ASG_TAG)
        if t.inputs["tag"]["key"].startswith(prefix)
    }
    for workload in (one(dev, DEPLOYMENT, "inference-deploy"), one(dev, DAEMONSET, "model-cache-ds")):
        selector = pod_spec(workload)["nodeSelector"]
        assert "llm-judge/stack" in selector, workload.name
        assert selector.items() <= template.items(), f"{workload.name} never scales the group up"
