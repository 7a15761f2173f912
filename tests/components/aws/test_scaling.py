"""GPU only when needed: the cluster-autoscaler (scoped to this stack's groups, identity, IAM, pinned
chart, named for the stack), KEDA's objects (replicas from vLLM's queue, dev created asleep with a
wake-up path, prod warm), and the config rules that keep them consistent."""

from __future__ import annotations

import json
import re

import pytest

from components.aws import autoscaler_versions, instance_types
from components.aws.builders import addons, shared_cluster
from components.aws.builders import cluster_autoscaler as ca_spec
from components.aws.builders import judge_scaling as scaling_spec
from components.aws.builders.scheduling import PART_OF
from components.config import ConfigError, load_stack_config
from components.config.aws_scaling import KedaConfig
from tests.components.aws.helpers import (
    CREATED_CLUSTER,
    DEPLOYMENT,
    NODE_GROUP,
    aws_block,
    merged,
    one,
    render_aws,
    render_created,
)
from tests.support.requires import require_module

pytestmark = pytest.mark.cost(12)

RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ROLE = "aws:iam/role:Role"
ASSOCIATION = "aws:eks/podIdentityAssociation:PodIdentityAssociation"
ADDON = "aws:eks/addon:Addon"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
ROUTE = "kubernetes:http.keda.sh/v1beta1:InterceptorRoute"
SERVICE = "kubernetes:core/v1:Service"
ASG_TAG = "aws:autoscaling/tag:Tag"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
NAMESPACE = "kubernetes:core/v1:Namespace"


@pytest.fixture(scope="module")
def dev():
    return render_aws("dev")


@pytest.fixture(scope="module")
def prod():
    return render_aws("prod")


def problems(stack: str, overrides: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_stack_config({"aws": merged(aws_block(stack), overrides), "gcp": {"enabled": False}})
    return info.value.problems


# --- cluster-autoscaler ---------------------------------------------------------------------------


SCOPED = {
    "k8s.io/cluster-autoscaler/enabled": "true",
    "k8s.io/cluster-autoscaler/llm-judge-dev": "owned",
    "llm-judge:autoscaler": "dev",
}


def write_conditions(plan) -> dict[str, str]:
    policy = json.loads(one(plan, ROLE_POLICY, "autoscaler-policy").inputs["policy"])
    (write,) = [s for s in policy["Statement"] if "Condition" in s]
    return {k.removeprefix("aws:ResourceTag/"): v for k, v in write["Condition"]["StringEquals"].items()}


def discovered_by(values: dict) -> dict[str, str]:
    """The tags an ASG must carry to be discovered, as the autoscaler reads them: the chart renders
    ``--node-group-auto-discovery=asg:tag={{ join "," .Values.autoDiscovery.tags }}`` when
    ``autoDiscovery.clusterName`` is set (templates/deployment.yaml), and the AWS provider splits that
    into key[=value] items (cloudprovider/aws/aws_manager.go parseASGAutoDiscoverySpec): an ASG matches
    when it has every key, with that value where one is given."""
    assert values["autoDiscovery"]["clusterName"], "without clusterName the chart renders no discovery flag"
    flag = "asg:tag=" + ",".join(values["autoDiscovery"]["tags"])
    discoverer, _, param = flag.partition(":")
    key, _, spec = param.partition("=")
    assert (discoverer, key) == ("asg", "tag")
    pairs = (item.partition("=") for item in spec.split(","))
    return {key: value for key, _, value in pairs}


def test_write_actions_only_on_this_stacks_tagged_groups(dev):
    policy = json.loads(one(dev, ROLE_POLICY, "autoscaler-policy").inputs["policy"])
    writes = [s for s in policy["Statement"] if set(s["Action"]) & set(ca_spec.WRITE_ACTIONS)]
    assert len(writes) == 1, "the write actions live in one statement"
    (write,) = writes
    assert set(write["Action"]) == {
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    }
    # EKS puts the first two on every managed group of the cluster; only the stack's own carry the third.
    assert write_conditions(dev) == SCOPED
    for statement in policy["Statement"]:
        if statement is not write:
            actions = statement["Action"]
            assert not any(
                a.startswith(("autoscaling:Set", "autoscaling:Terminate", "autoscaling:Update"))
                for a in actions
            )
            assert all(":Describe" in a or ":Get" in a for a in actions), actions


def test_the_autoscaler_discovers_exactly_the_groups_it_may_scale(dev, prod):
    for plan, stack in ((dev, "dev"), (prod, "prod")):
        values = one(plan, RELEASE, "autoscaler-chart").inputs["values"]
        assert discovered_by(values) == write_conditions(plan)
        assert discovered_by(values)["llm-judge:autoscaler"] == stack, "not scoped to this stack"


def test_the_gpu_group_and_its_asg_carry_the_scope_tag(dev):
    group = one(dev, NODE_GROUP, "-ng")
    assert write_conditions(dev).items() <= group.inputs["tags"].items()
    # EKS copies no node group tag to the group's Auto Scaling group, where discovery and IAM look.
    (scope,) = [t.inputs for t in dev.of_type(ASG_TAG) if t.inputs["tag"]["key"] == "llm-judge:autoscaler"]
    assert scope["tag"] == {"key": "llm-judge:autoscaler", "value": "dev", "propagateAtLaunch": False}
    assert scope["autoscalingGroupName"] == dev.outputs["aws_gpu_autoscaling_group_name"]


def test_release_deployment_and_service_account_are_named_for_the_stack(dev, prod):
    for plan, stack in ((dev, "dev"), (prod, "prod")):
        chart = one(plan, RELEASE, "autoscaler-chart").inputs
        expected = f"llm-judge-{stack}-cluster-autoscaler"
        assert chart["name"] == chart["values"]["fullnameOverride"] == expected
        assert chart["values"]["rbac"]["serviceAccount"]["name"] == expected
        assert one(plan, ASSOCIATION, "pod-identity").inputs["serviceAccount"] == expected


@pytest.mark.parametrize(
    "stack", ["dev", "Team.Dev_2", "a" * 80, "staging-eu-west-1-with-a-very-long-suffix-indeed"]
)
def test_every_stack_name_gives_a_valid_release_name(stack):
    name = ca_spec.name(stack)
    assert len(name) <= 53, "Helm refuses longer release names"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name), name
    assert name.startswith("llm-judge-")
    assert name.endswith("-cluster-autoscaler")
    assert ca_spec.name(stack + "x") != name


def test_identity_is_eks_pod_identity_for_the_charts_service_account(dev):
    role = one(dev, ROLE, "autoscaler-role").inputs
    (trust,) = json.loads(role["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    association = one(dev, ASSOCIATION, "pod-identity").inputs
    chart = one(dev, RELEASE, "autoscaler-chart").inputs
    assert association["namespace"] == chart["namespace"] == "llm-judge-dev-cluster-autoscaler"
    assert association["serviceAccount"] == chart["values"]["rbac"]["serviceAccount"]["name"]
    assert association["clusterName"] == "llm-judge-dev"


def test_pod_identity_agent_is_installed_on_a_created_cluster_only(dev):
    assert dev.of_type(ADDON) == []
    created = render_created()
    # (A created cluster also gets the node monitoring agent add-on: test_cluster.py.)
    assert sorted(a.inputs["addonName"] for a in created.of_type(ADDON)) == [
        "eks-node-monitoring-agent",
        "eks-pod-identity-agent",
    ]
    forced = render_aws("dev", {"clusterAutoscaler": {"installPodIdentityAgent": True}})
    assert [a.inputs["addonName"] for a in forced.of_type(ADDON)] == ["eks-pod-identity-agent"]


def test_an_existing_cluster_without_the_pod_identity_agent_stops_the_plan_with_the_fix():
    # The fake account's llm-judge-bare has no add-ons (tools/mock_outputs_aws.py).
    with pytest.raises(ConfigError) as info:
        render_aws("dev", {"cluster": {"name": "llm-judge-bare"}})
    (problem,) = info.value.problems
    assert problem.startswith(
        "llm-judge:aws.clusterAutoscaler.installPodIdentityAgent: cluster llm-judge-bare"
    )
    assert "aws eks create-addon --cluster-name llm-judge-bare --addon-name eks-pod-identity-agent" in problem
    assert "installPodIdentityAgent: true" in problem
    assert "which the cluster-autoscaler's credentials" in problem


def test_the_missing_agent_error_names_the_model_loader_when_it_is_what_needs_the_agent():
    with pytest.raises(ConfigError) as info:
        render_aws(
            "dev",
            {
                "cluster": {"name": "llm-judge-bare"},
                "clusterAutoscaler": {"enabled": False},
                "model": {"source": "s3://acme-models/judge"},
            },
        )
    (problem,) = info.value.problems
    assert "which the model loader's (model.source s3://acme-models/judge) credentials" in problem
    assert "autoscaler's" not in problem


@pytest.mark.parametrize(
    ("error", "missing"),
    [
        (
            "invoke of aws:eks/getAddon:getAddon failed: reading EKS Add-On (c:a): couldn't find resource",
            True,
        ),
        ("ResourceNotFoundException: No addon: eks-pod-identity-agent found in cluster: c", True),
        ("reading EKS Add-On (c:a): operation error EKS: DescribeAddon, AccessDeniedException", False),
    ],
)
def test_only_a_missing_add_on_reads_as_missing(error, missing):
    assert addons.addon_missing(error) is missing


def test_chart_and_image_match_the_clusters_kubernetes_minor(dev):
    chart = one(dev, RELEASE, "autoscaler-chart").inputs
    pinned = autoscaler_versions.RELEASES["1.35"]  # dev's cluster.version
    assert (chart["chart"], chart["version"]) == ("cluster-autoscaler", pinned.chart_version)
    assert chart["repositoryOpts"] == {"repo": "https://kubernetes.github.io/autoscaler"}
    assert chart["values"]["image"]["tag"] == pinned.image_tag
    for version in ("1.32", "1.34"):
        plan = render_aws("dev", {"cluster": {"version": version}})
        row = autoscaler_versions.RELEASES[version]
        chart = one(plan, RELEASE, "autoscaler-chart").inputs
        assert (chart["version"], chart["values"]["image"]["tag"]) == (row.chart_version, row.image_tag)


@pytest.mark.parametrize("version", sorted(autoscaler_versions.RELEASES))
def test_every_table_row_is_one_minor(version):
    row = autoscaler_versions.RELEASES[version]
    assert row.image_tag.startswith(f"v{version}."), row
    assert row.kubernetes == version


def test_the_table_has_rows_only_for_versions_the_stack_accepts():
    from components.config.eks_versions import ACCEPTED_VERSIONS

    assert set(autoscaler_versions.RELEASES) <= set(ACCEPTED_VERSIONS)
    assert {"1.36", "1.37"} == set(ACCEPTED_VERSIONS) - set(autoscaler_versions.RELEASES), (
        "a version the stack accepts gained or lost its autoscaler row: update the refusal test below"
    )


# Versions the stack accepts at all (components/config/eks_versions.py) that the autoscaler table
# has no row for; versions outside that list are refused before (test_eks_versions.py).
@pytest.mark.parametrize("version", ["1.36", "1.37"])
def test_a_version_the_table_does_not_cover_is_refused_clearly(version):
    found = problems("dev", {"cluster": {"version": version}})
    assert any(p.startswith("llm-judge:aws.cluster.version:") and "cluster-autoscaler" in p for p in found), (
        found
    )
    # Without the stack's autoscaler (or with an explicit pin) the version is the cluster's business.
    load_stack_config(
        {
            "aws": merged(
                aws_block("dev"), {"cluster": {"version": version}, "clusterAutoscaler": {"enabled": False}}
            )
        }
    )
    pinned = {"chartVersion": "9.99.0", "imageTag": f"v{version}.0"}
    load_stack_config(
        {"aws": merged(aws_block("dev"), {"cluster": {"version": version}, "clusterAutoscaler": pinned})}
    )


def test_scale_down_timings_come_from_config(dev, prod):
    dev_args = one(dev, RELEASE, "autoscaler-chart").inputs["values"]["extraArgs"]
    assert dev_args["scale-down-unneeded-time"] == "5m"
    assert dev_args["scale-down-delay-after-add"] == "5m"
    assert dev_args["skip-nodes-with-local-storage"] is False, "NVMe caches must not pin an idle GPU node"
    assert (
        one(prod, RELEASE, "autoscaler-chart").inputs["values"]["extraArgs"]["scale-down-unneeded-time"]
        == "10m"
    )
    values = one(dev, RELEASE, "autoscaler-chart").inputs["values"]
    assert values["autoDiscovery"]["clusterName"] == "llm-judge-dev"
    assert values["awsRegion"] == "us-east-1"


def test_an_existing_cluster_gets_an_autoscaler_only_when_asked():
    plan = render_aws("dev", {"clusterAutoscaler": {"enabled": None}})  # as if the key were left out
    assert [r.name for r in plan.of_type(RELEASE) if "autoscaler" in r.name] == []
    assert plan.of_type(ROLE_POLICY) == []
    assert "llm-judge:autoscaler" not in one(plan, NODE_GROUP, "-ng").inputs["tags"]
    assert [t for t in plan.of_type(ASG_TAG) if t.inputs["tag"]["key"] == "llm-judge:autoscaler"] == []
    (warning,) = [m for sev, m in plan.diagnostics if "clusterAutoscaler.enabled" in m]
    assert warning.startswith("llm-judge:aws.clusterAutoscaler.enabled is not set")
    assert ("warning", warning) in plan.diagnostics


@pytest.mark.parametrize(
    ("create", "enabled", "installs"),
    [
        (False, None, False),
        (False, True, True),
        (False, False, False),
        (True, None, True),
        (True, False, False),
    ],
)
def test_who_decides_whether_the_stack_installs_an_autoscaler(create, enabled, installs):
    cluster = {
        "create": True,
        "vpcId": "vpc-0123456789abcdef0",
        "privateSubnetIds": ["subnet-0123456789abcdef0"],
    }
    block = merged(aws_block("dev"), {"cluster": cluster, "nodeGroup": {"subnetIds": []}} if create else {})
    block["clusterAutoscaler"] = {"enabled": enabled} if enabled is not None else {}
    assert load_stack_config({"aws": block}).aws.installs_cluster_autoscaler is installs


def test_the_plan_says_what_the_autoscaler_does_on_an_existing_cluster(dev):
    (info,) = [m for sev, m in dev.diagnostics if sev == "info" and "cluster-autoscaler" in m]
    assert "llm-judge-dev-cluster-autoscaler" in info
    assert "llm-judge:autoscaler=dev" in info
    assert "docs/aws.md#the-gpu-group-on-a-shared-cluster" in info
    declined = load_stack_config({"aws": merged(aws_block("dev"), {"clusterAutoscaler": {"enabled": False}})})
    ((severity, message),) = [n for n in shared_cluster.notes(declined.aws, "dev") if "autoscaler" in n[1]]
    assert severity == "info"
    assert "left to the cluster llm-judge-dev's own" in message
    assert not [
        n
        for n in shared_cluster.notes(load_stack_config({"aws": aws_block("dev")}).aws, "dev")
        if n[0] == "warning" and "clusterAutoscaler.enabled" in n[1]
    ]


def test_each_stack_s_autoscaler_has_a_namespace_of_its_own_by_default():
    """A cluster-autoscaler elects its leader on the Lease ``cluster-autoscaler`` of its namespace: one
    beside the cluster's own in kube-system, or beside another stack's, would take turns with it."""
    created = merged(aws_block("dev"), {"cluster": CREATED_CLUSTER, "nodeGroup": {"subnetIds": []}})
    for block in (aws_block("dev"), aws_block("prod"), created):
        cfg = load_stack_config({"aws": block, "gcp": {"enabled": False}}).aws
        assert cfg.cluster_autoscaler.namespace is None, "dev and prod leave the default"
        assert ca_spec.namespace(cfg, "dev") == "llm-judge-dev-cluster-autoscaler"
        assert ca_spec.namespace(cfg, "prod") == "llm-judge-prod-cluster-autoscaler"
        assert ca_spec.managed_namespace(cfg, "dev") == {
            "name": "llm-judge-dev-cluster-autoscaler",
            "labels": PART_OF,
        }
        assert not [m for sev, m in shared_cluster.notes(cfg, "dev") if "Lease" in m]
    explicit = {"clusterAutoscaler": {"namespace": "autoscaling"}}
    cfg = load_stack_config({"aws": merged(aws_block("dev"), explicit), "gcp": {"enabled": False}}).aws
    assert ca_spec.namespace(cfg, "dev") == ca_spec.namespace(cfg, "prod") == "autoscaling"
    assert ca_spec.managed_namespace(cfg, "dev") == {"name": "autoscaling", "labels": PART_OF}


def test_the_release_the_association_and_the_namespace_agree_and_destroy_removes_the_namespace(dev):
    """One namespace for the chart, the Pod Identity association (its credentials) and the Namespace
    object; the Namespace is the stack's own resource, which the release waits for, so ``pulumi
    destroy`` deletes it (with the Lease and status ConfigMap in it) after the release. Helm's
    ``createNamespace`` would leave it behind."""
    release = one(dev, RELEASE, "autoscaler-chart")
    association = one(dev, ASSOCIATION, "autoscaler-pod-identity")
    namespace = one(dev, NAMESPACE, "autoscaler-namespace")
    assert namespace.custom, "a resource of the stack's"
    assert not namespace.read, "not a lookup of someone else's"
    assert namespace.inputs["metadata"]["labels"] == PART_OF
    assert (
        release.inputs["namespace"]
        == association.inputs["namespace"]
        == namespace.inputs["metadata"]["name"]
        == "llm-judge-dev-cluster-autoscaler"
    )
    assert namespace.urn in release.depends_on
    assert "createNamespace" not in release.inputs
    # A stack deployed with kube-system moves on its next `up`: Helm's namespace is a replacing change,
    # and the chart's cluster-wide ClusterRole(Binding), named like the release, fit one at a time.
    assert release.delete_before_replace
    # On a created cluster the namespace goes before the nodes its pods ran on.
    created = render_created()
    system = created.one(NODE_GROUP, "judge-system-ng")
    assert system.urn in one(created, NAMESPACE, "autoscaler-namespace").depends_on


def test_an_autoscaler_in_kube_system_of_an_existing_cluster_is_warned_of_the_shared_lease():
    """kube-system, named explicitly, is used as it is (never created nor deleted), and on an existing
    cluster the plan warns that a cluster-autoscaler of the cluster's there would share the Lease."""
    plan = render_aws("dev", {"clusterAutoscaler": {"namespace": "kube-system"}})
    (warning,) = [m for sev, m in plan.diagnostics if sev == "warning" and "Lease" in m]
    assert warning.startswith("llm-judge:aws.clusterAutoscaler.namespace is kube-system")
    assert "kube-system/cluster-autoscaler" in warning
    assert "kubectl -n kube-system get lease cluster-autoscaler" in warning
    assert "docs/aws.md#the-gpu-group-on-a-shared-cluster" in warning
    release = one(plan, RELEASE, "autoscaler-chart").inputs
    assert (release["namespace"], one(plan, ASSOCIATION, "autoscaler-pod-identity").inputs["namespace"]) == (
        "kube-system",
        "kube-system",
    )
    assert "createNamespace" not in release
    assert [r.inputs["metadata"]["name"] for r in plan.of_type(NAMESPACE)] == ["llm-judge"], "the judge's"


def test_a_stack_autoscaler_without_group_tags_is_refused():
    found = problems("dev", {"nodeGroup": {"autoscalerTags": False}})
    assert any(p.startswith("llm-judge:aws.nodeGroup.autoscalerTags:") for p in found), found
    load_stack_config(
        {
            "aws": merged(
                aws_block("dev"),
                {"nodeGroup": {"autoscalerTags": False}, "clusterAutoscaler": {"enabled": False}},
            )
        }
    )


def test_gpu_nodes_carry_the_accelerator_label_and_its_node_template_tag(dev):
    ng = one(dev, NODE_GROUP, "-ng").inputs
    value = instance_types.accelerator(instance_types.SUPPORTED["g5.xlarge"])
    assert value == "nvidia-a10g"
    assert ng["labels"]["k8s.amazonaws.com/accelerator"] == value
    key = "k8s.io/cluster-autoscaler/node-template/label/k8s.amazonaws.com/accelerator"
    assert ng["tags"][key] == value
    asg_tags = {t.inputs["tag"]["key"]: t.inputs["tag"]["value"] for t in dev.of_type(ASG_TAG)}
    assert asg_tags[key] == value, "the autoscaler reads node-template tags from the ASG"


def test_every_supported_gpu_has_an_accelerator_value():
    for gpu in instance_types.SUPPORTED.values():
        assert instance_types.accelerator(gpu).startswith("nvidia-")


def test_mixed_gpu_models_in_one_group_are_refused():
    found = problems("dev", {"nodeGroup": {"instanceTypes": ["g5.xlarge", "g6.xlarge"]}})
    assert any(p.startswith("llm-judge:aws.nodeGroup.instanceTypes:") and "GPU model" in p for p in found), (
        found
    )


# --- KEDA: replicas follow the load -------------------------------------------------------------


def test_scaled_object_targets_the_judge_deployment(dev, prod):
    for plan in (dev, prod):
        so = one(plan, SCALED_OBJECT, "scaledobject").inputs
        deployment = one(plan, DEPLOYMENT, "inference-deploy").inputs
        assert so["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": deployment["metadata"]["name"],
        }
        assert so["metadata"]["namespace"] == deployment["metadata"]["namespace"]


def test_dev_scales_to_zero_and_prod_keeps_one_warm_and_scales_out(dev, prod):
    dev_so = one(dev, SCALED_OBJECT, "scaledobject").inputs["spec"]
    prod_so = one(prod, SCALED_OBJECT, "scaledobject").inputs["spec"]
    assert dev_so["minReplicaCount"] == 0
    assert one(dev, NODE_GROUP, "-ng").inputs["scalingConfig"]["minSize"] == 0, "the GPU node can go too"
    assert prod_so["minReplicaCount"] >= 1
    assert prod_so["maxReplicaCount"] > prod_so["minReplicaCount"]
    assert prod_so["maxReplicaCount"] <= one(prod, NODE_GROUP, "-ng").inputs["scalingConfig"]["maxSize"]
    assert dev_so["cooldownPeriod"] == 900


def test_the_judge_starts_at_min_replicas_and_pulumi_leaves_the_count_to_keda(dev, prod):
    # dev's first `up` creates the judge asleep: no GPU node, nothing to wait for.
    for plan, start in ((dev, 0), (prod, 1)):
        deployment = one(plan, DEPLOYMENT, "inference-deploy")
        assert deployment.inputs["spec"]["replicas"] == start
        assert deployment.ignore_changes == ["spec.replicas"], "a later `up` would fight the HPA"
    fixed = render_aws("prod", {"autoscaling": {"enabled": False}, "vllm": {"replicas": 2}})
    deployment = one(fixed, DEPLOYMENT, "inference-deploy")
    assert (deployment.inputs["spec"]["replicas"], deployment.ignore_changes) == (2, [])
    assert fixed.of_type(SCALED_OBJECT) == []


def test_triggers_are_vllms_queue_and_a_latency_guardrail_with_separate_activation(prod):
    triggers = {t["name"]: t for t in one(prod, SCALED_OBJECT, "scaledobject").inputs["spec"]["triggers"]}
    assert set(triggers) == {"in-flight", "waiting", "p95-latency"}, "prod is always warm: no wake trigger"
    assert "vllm:num_requests_running" in triggers["in-flight"]["metadata"]["query"]
    assert "vllm:num_requests_waiting" in triggers["waiting"]["metadata"]["query"]
    assert "vllm:e2e_request_latency_seconds_bucket" in triggers["p95-latency"]["metadata"]["query"]
    assert triggers["p95-latency"]["metricType"] == "Value"
    for trigger in triggers.values():
        meta = trigger["metadata"]
        assert (
            meta["serverAddress"]
            == "http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090"
        )
        assert float(meta["activationThreshold"]) < float(meta["threshold"]), trigger["name"]
        assert 'namespace="llm-judge"' in meta["query"]
        assert 'model_name="Qwen/Qwen2.5-7B-Instruct-AWQ"' in meta["query"]


def test_dev_wakes_through_an_interceptor_route(dev):
    so = one(dev, SCALED_OBJECT, "scaledobject")
    (wake,) = [t for t in so.inputs["spec"]["triggers"] if t["type"] == "external-push"]
    route = one(dev, ROUTE, "-route")
    assert wake["metadata"] == {
        "scalerAddress": "keda-add-ons-http-external-scaler.keda:9090",
        "interceptorRoute": route.inputs["metadata"]["name"],
    }
    assert route.urn in so.depends_on, "before its route exists KEDA would fall back to a CPU metric"
    assert route.inputs["metadata"]["namespace"] == so.inputs["metadata"]["namespace"]
    assert route.inputs["spec"]["target"] == {"service": "judge-inference-service", "port": 8000}
    assert route.inputs["spec"]["scalingMetric"] == {"concurrency": {"targetValue": 16}}
    assert [r.type for r in dev.resources if "HTTPScaledObject" in r.type] == [], "deprecated since 0.14"
    wake_svc = one(dev, SERVICE, "wake-svc").inputs
    assert wake_svc["spec"]["externalName"] == "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local"
    fqdn = "judge-inference-service-wake.llm-judge.svc.cluster.local"
    assert dev.outputs["aws_judge_base_url"] == f"http://{fqdn}:8080/v1"


def test_the_route_answers_only_for_the_wake_service(dev):
    (rule,) = one(dev, ROUTE, "-route").inputs["spec"]["rules"]
    # A rule without hosts, or "*", would route every Host the interceptor meets to this judge.
    assert rule == {
        "hosts": [
            "judge-inference-service-wake",
            "judge-inference-service-wake.llm-judge",
            "judge-inference-service-wake.llm-judge.svc",
            "judge-inference-service-wake.llm-judge.svc.cluster.local",
        ]
    }


def test_the_route_holds_for_the_configured_time_and_waits_for_whole_completions(dev):
    assert one(dev, ROUTE, "-route").inputs["spec"]["timeouts"] == {
        "readiness": "120s",
        "responseHeader": "600s",  # a non-streamed completion sends its headers last
        "request": "0s",
    }
    values = one(dev, RELEASE, "http-add-on").inputs["values"]["interceptor"]
    assert (values["readinessTimeout"], values["responseHeaderTimeout"]) == ("120s", "600s")
    chart = one(dev, RELEASE, "http-add-on").inputs
    assert (chart["chart"], chart["version"], chart["namespace"]) == ("keda-add-ons-http", "0.15.0", "keda")
    keda = one(dev, RELEASE, "scaling-keda").inputs
    assert (keda["chart"], keda["version"]) == ("keda", KedaConfig().chart_version)


def test_an_add_on_without_interceptor_routes_is_refused():
    found = problems("dev", {"autoscaling": {"wake": {"chartVersion": "0.13.0"}}})
    assert any(p.startswith("llm-judge:aws.autoscaling.wake.chartVersion:") and "0.14" in p for p in found)


def test_keda_and_the_add_on_can_be_left_to_the_cluster():
    plan = render_aws("dev", {"autoscaling": {"keda": {"install": False}, "wake": {"install": False}}})
    assert [r.name for r in plan.of_type(RELEASE)] == ["judge-cluster-autoscaler-chart"]
    assert len(plan.of_type(SCALED_OBJECT)) == len(plan.of_type(ROUTE)) == 1
    # Someone else's interceptor may serve other teams' routes: no policy of ours in front of it, and
    # the plan says so.
    assert [p.name for p in plan.of_type(NETPOL) if p.inputs["metadata"]["namespace"] == "keda"] == []
    assert any(
        sev == "warning" and m.startswith("llm-judge:aws.autoscaling.wake.install is false")
        for sev, m in plan.diagnostics
    ), plan.diagnostics


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        ({"autoscaling": {"maxReplicas": 2}}, "llm-judge:aws.autoscaling.maxReplicas", "nodeGroup.maxSize"),
        ({"autoscaling": {"wake": {"enabled": False}}}, "llm-judge:aws.autoscaling.minReplicas", "wake"),
        ({"prometheus": {"serverAddress": None}}, "llm-judge:aws.prometheus.serverAddress", "required"),
        ({"vllm": {"replicas": 1}}, "llm-judge:aws.vllm.replicas", "KEDA owns"),
        ({"autoscaling": {"activationWaiting": 4}}, "llm-judge:aws.autoscaling.activationWaiting", "below"),
        (
            {"nodeGroup": {"minSize": 1, "desiredSize": 1}},
            "llm-judge:aws.autoscaling.minReplicas",
            "saves nothing",
        ),
        (
            {"autoscaling": {"minReplicas": 2, "maxReplicas": 1}},
            "llm-judge:aws.autoscaling.minReplicas",
            "greater",
        ),
    ],
)
def test_inconsistent_scaling_config_is_refused_with_the_fix(overrides, key, words):
    found = problems("dev", overrides)
    assert any(p.startswith(key + ":") and words in p for p in found), found


def test_max_replicas_counts_gpus_per_node():
    # 4-GPU nodes, 2 GPUs per replica: 2 nodes hold 4 replicas.
    ok = {
        "nodeGroup": {"instanceTypes": ["g5.12xlarge"], "maxSize": 2},
        "vllm": {"gpus": 2},
        "autoscaling": {"maxReplicas": 4},
    }
    load_stack_config({"aws": merged(aws_block("dev"), ok)})
    too_many = merged(ok, {"autoscaling": {"maxReplicas": 5}})
    assert any("room for 4" in p for p in problems("dev", too_many))


def test_queries_are_valid_promql():
    promql_parser = require_module("promql_parser", "promql-parser")
    cfg = load_stack_config({"aws": aws_block("prod")}).aws
    queries = scaling_spec.queries(cfg)
    assert queries
    for name, query in queries.items():
        promql_parser.parse(query)  # raises on a syntax error
        assert name
