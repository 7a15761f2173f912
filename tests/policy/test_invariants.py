"""The policy pack's invariants against the offline plans: both stacks pass (with and without their
secrets set), and a plan mutated to break an invariant fails with that invariant's message.

The checks are pure functions of (type, inputs, name), so they run here in the dev venv; the pack's
wiring into pulumi-policy is tested over the analyzer's gRPC protocol in test_pack.py.
"""

from __future__ import annotations

import ast
import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from policy import invariants as inv
from tests.tools.stackfiles import with_secrets
from tools.plan_runtime import Plan, PlannedResource, render

pytestmark = pytest.mark.cost(10)

STACKS = ("dev", "prod")
HF_TOKEN = "hf_" + "Ab3" * 12


@pytest.fixture(scope="module", params=STACKS)
def plan(request, tmp_path_factory) -> Plan:
    """The stack with every secret set (so the Secret and secret-version resources are there too)."""
    return render(request.param, config_file=with_secrets(request.param, tmp_path_factory.mktemp("stack")))


def resources(plan: Plan) -> list[inv.Resource]:
    return [inv.Resource(r.type, r.inputs, r.name, r.urn) for r in plan.resources]


def all_violations(plan: Plan) -> list[str]:
    found = [
        f"{name} {r.type} {r.name}: {msg}"
        for r in plan.resources
        for name, msg in inv.violations(r.type, r.inputs, r.name)
    ]
    found += [f"{name} {r.type} {r.name}: {msg}" for name, r, msg in inv.stack_violations(resources(plan))]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_the_committed_stacks_keep_every_invariant(stack):
    assert not all_violations(render(stack))


def test_the_stacks_with_their_secrets_set_keep_every_invariant(plan):
    assert any(r.type == "kubernetes:core/v1:Secret" for r in plan.resources), "no Secret rendered"
    assert any(r.type == "gcp:secretmanager/secretVersion:SecretVersion" for r in plan.resources)
    assert not all_violations(plan)


def test_every_invariant_has_a_distinct_name_and_a_description():
    names = [i.name for i in (*inv.RESOURCE_INVARIANTS, *inv.STACK_INVARIANTS)]
    assert len(names) == len(set(names)) == 9
    assert all(i.description.endswith(".") for i in (*inv.RESOURCE_INVARIANTS, *inv.STACK_INVARIANTS))


# --- mutated plans ------------------------------------------------------------------------------


def _one(plan: Plan, type_: str, suffix: str = "") -> PlannedResource:
    found = [r for r in plan.resources if r.type == type_ and r.name.endswith(suffix)]
    assert found, f"no {type_} *{suffix} in the plan"
    return found[0]


def _mutated(plan: Plan, type_: str, suffix: str, change: Callable[[dict[str, Any]], None]) -> Plan:
    plan = copy.deepcopy(plan)
    change(_one(plan, type_, suffix).inputs)
    return plan


def _pod(props: dict[str, Any]) -> dict[str, Any]:
    return props["spec"]["template"]["spec"]


def _container(props: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in _pod(props)["containers"] if c["name"] == name)


def _add(plan: Plan, type_: str, name: str, inputs: dict[str, Any]) -> Plan:
    plan = copy.deepcopy(plan)
    plan.resources.append(PlannedResource(f"urn:pulumi:x::y::{type_}::{name}", type_, name, None, inputs))
    return plan


def _without_conditions(document: str) -> str:
    policy = json.loads(document)
    for statement in policy["Statement"]:
        statement.pop("Condition", None)
    return json.dumps(policy)


DEPLOY = "kubernetes:apps/v1:Deployment"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
JOB = "gcp:cloudrunv2/job:Job"
SA = "serviceAccount:x@p.iam.gserviceaccount.com"

MUTATIONS: dict[str, tuple[str, Callable[[Plan], Plan], str]] = {
    "storage-role-on-the-project": (
        "no-project-storage-or-primitive-roles",
        lambda p: _add(
            p,
            "gcp:projects/iAMMember:IAMMember",
            "x",
            {"project": "p", "role": "roles/storage.objectAdmin", "member": SA},
        ),
        "grant storage roles on the bucket",
    ),
    "log-writer-on-the-project": (
        "no-project-storage-or-primitive-roles",
        lambda p: _add(
            p,
            "gcp:projects/iAMMember:IAMMember",
            "x",
            {"project": "p", "role": "roles/logging.logWriter", "member": SA},
        ),
        "grants roles/logging.logWriter on a whole project",
    ),
    "basic-role-on-the-bucket": (
        "no-project-storage-or-primitive-roles",
        lambda p: _mutated(
            p,
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            "loader-objectcreator",
            lambda i: i.update(role="roles/editor"),
        ),
        "basic role roles/editor",
    ),
    "basic-role-in-a-project-policy": (
        "no-project-storage-or-primitive-roles",
        lambda p: _add(
            p,
            "gcp:projects/iAMPolicy:IAMPolicy",
            "x",
            {
                "project": "p",
                "policyData": '{"bindings": [{"role": "roles/owner", "members": ["user:a@b.c"]}]}',
            },
        ),
        "basic role roles/owner",
    ),
    "public-invoker": (
        "no-project-storage-or-primitive-roles",
        lambda p: _mutated(
            p,
            "gcp:cloudrunv2/jobIamMember:JobIamMember",
            "loader-invoker",
            lambda i: i.update(member="allUsers"),
        ),
        "to allUsers",
    ),
    "bucket-without-uniform-access": (
        "buckets-uniform-and-private",
        lambda p: _mutated(
            p, "gcp:storage/bucket:Bucket", "", lambda i: i.update(uniformBucketLevelAccess=False)
        ),
        "uniformBucketLevelAccess is not true",
    ),
    "bucket-public-access-inherited": (
        "buckets-uniform-and-private",
        lambda p: _mutated(p, "gcp:storage/bucket:Bucket", "", lambda i: i.pop("publicAccessPrevention")),
        "publicAccessPrevention is None",
    ),
    "bucket-acl": (
        "buckets-uniform-and-private",
        lambda p: _add(
            p, "gcp:storage/bucketACL:BucketACL", "x", {"bucket": "b", "roleEntities": ["READER:allUsers"]}
        ),
        "sets ACLs",
    ),
    "autoscaler-writes-on-every-group": (
        "autoscaling-writes-scoped",
        lambda p: _mutated(
            p,
            "aws:iam/rolePolicy:RolePolicy",
            "autoscaler-policy",
            lambda i: i.update(policy=_without_conditions(i["policy"])),
        ),
        "ScaleOwnGroupsOnly allows autoscaling:setdesiredcapacity, "
        "autoscaling:terminateinstanceinautoscalinggroup on every Auto Scaling group",
    ),
    "imdsv1-allowed": (
        "imdsv2-required",
        lambda p: _mutated(
            p,
            "aws:ec2/launchTemplate:LaunchTemplate",
            "",
            lambda i: i["metadataOptions"].update(httpTokens="optional"),
        ),
        "httpTokens is 'optional'",
    ),
    "node-group-without-launch-template": (
        "imdsv2-required",
        lambda p: _mutated(p, "aws:eks/nodeGroup:NodeGroup", "", lambda i: i.pop("launchTemplate")),
        "has no launch template",
    ),
    "vllm-latest": (
        "images-pinned",
        lambda p: _mutated(
            p, DEPLOY, "", lambda i: _container(i, "vllm").update(image="vllm/vllm-openai:latest")
        ),
        "'vllm/vllm-openai:latest' is `latest`",
    ),
    "device-plugin-without-tag": (
        "images-pinned",
        lambda p: _mutated(
            p,
            DAEMONSET,
            "device-plugin-ds",
            lambda i: _pod(i)["containers"][0].update(image="nvcr.io/nvidia/k8s-device-plugin"),
        ),
        "has no tag",
    ),
    "cloud-run-job-without-tag": (
        "images-pinned",
        lambda p: _mutated(
            p,
            JOB,
            "loader-job",
            lambda i: i["template"]["template"]["containers"][0].update(image="us-docker.pkg.dev/p/r/loader"),
        ),
        "template.template.containers[0] image",
    ),
    "crash-hook-on-the-loader-job": (
        "no-test-hooks",
        lambda p: _mutated(
            p,
            JOB,
            "loader-job",
            lambda i: i["template"]["template"]["containers"][0]["envs"].append(
                {"name": "LOADER_CRASH_AT", "value": "after_upload:1"}
            ),
        ),
        "template.template.containers[0] env LOADER_CRASH_AT is a test-only fault-injection hook",
    ),
    "any-crash-hook-in-a-pod": (
        "no-test-hooks",
        lambda p: _mutated(
            p,
            DAEMONSET,
            "model-cache-ds",
            lambda i: _pod(i)["containers"][0]["env"].append({"name": "MODEL_LOADER_CRASH_AT", "value": "x"}),
        ),
        "containers[0] env MODEL_LOADER_CRASH_AT is a test-only fault-injection hook",
    ),
    "literal-kafka-password": (
        "secrets-never-plain",
        lambda p: _mutated(
            p,
            JOB,
            "loader-job",
            lambda i: i["template"]["template"]["containers"][0]["envs"].append(
                {"name": "KAFKA_SASL_PASSWORD", "value": "hunter2"}
            ),
        ),
        "env KAFKA_SASL_PASSWORD holds a literal value",
    ),
    "literal-hf-token-env": (
        "secrets-never-plain",
        lambda p: _mutated(
            p,
            DAEMONSET,
            "model-cache-ds",
            lambda i: _pod(i)["containers"][0]["env"].append({"name": "HF_TOKEN", "value": "x"}),
        ),
        "env HF_TOKEN holds a literal value",
    ),
    "api-key-flag": (
        "secrets-never-plain",
        lambda p: _mutated(
            p, DEPLOY, "", lambda i: _container(i, "vllm")["args"].extend(["--api-key", "abc"])
        ),
        "passes --api-key on the command line",
    ),
    "token-in-a-label": (
        "secrets-never-plain",
        lambda p: _mutated(p, DEPLOY, "", lambda i: i["metadata"]["labels"].update(note=HF_TOKEN)),
        "metadata.labels.note holds what looks like a Hugging Face token",
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_a_plan_that_breaks_an_invariant_fails_with_its_message(plan, mutation):
    name, mutate, message = mutation

    found = all_violations(mutate(plan))

    assert found, "the mutated plan passed"
    assert all(f.startswith(f"{name} ") for f in found), found
    assert any(message in f for f in found), found


def test_gpu_pods_must_tolerate_the_gpu_node_groups_taints(plan):
    broken = _mutated(plan, DEPLOY, "", lambda i: _pod(i).update(tolerations=[]))

    (found,) = inv.stack_violations(resources(broken))

    name, resource, message = found
    assert name == "gpu-pods-tolerate-gpu-taint"
    assert resource.type == DEPLOY
    assert "does not tolerate its taint(s) sku=gpu:NoSchedule" in message


def test_a_pod_that_requests_gpus_without_a_node_selector_must_fit_some_gpu_group(plan):
    broken = _mutated(plan, DEPLOY, "", lambda i: _pod(i).update(nodeSelector={}, tolerations=[]))
    fitting = _mutated(plan, DEPLOY, "", lambda i: _pod(i).update(nodeSelector={}))

    (found,) = inv.stack_violations(resources(broken))
    assert "requests nvidia.com/gpu but tolerates none" in found[2]
    assert inv.stack_violations(resources(fitting)) == []


def test_the_device_plugin_selecting_the_gpu_nodes_must_tolerate_their_taint_too(plan):
    broken = _mutated(plan, DAEMONSET, "device-plugin-ds", lambda i: _pod(i).update(tolerations=[]))

    ((name, resource, _),) = inv.stack_violations(resources(broken))
    assert (name, resource.name) == (
        "gpu-pods-tolerate-gpu-taint",
        _one(plan, DAEMONSET, "device-plugin-ds").name,
    )


def test_a_pod_targets_a_gpu_group_when_the_groups_nodes_carry_every_label_it_selects():
    group = inv.Resource(
        "aws:eks/nodeGroup:NodeGroup",
        {
            "amiType": "AL2023_x86_64_NVIDIA",
            "labels": {"role": "gpu", "k8s.amazonaws.com/accelerator": "nvidia-l4"},
            "taints": [{"key": "sku", "value": "gpu", "effect": "NO_SCHEDULE"}],
        },
        "ng",
    )

    def pod(selector: dict[str, str]) -> inv.Resource:
        spec = {"nodeSelector": selector, "containers": [{"name": "c", "image": "i:1"}]}
        return inv.Resource("kubernetes:core/v1:Pod", {"spec": spec}, "p")

    assert len(inv.stack_violations([group, pod({"role": "gpu"})])) == 1
    assert len(inv.stack_violations([group, pod({"k8s.amazonaws.com/accelerator": "nvidia-l4"})])) == 1
    assert inv.stack_violations([group, pod({"role": "cpu"})]) == []
    assert inv.stack_violations([group, pod({})]) == []


# --- the rules themselves -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "pinned"),
    [
        ("vllm/vllm-openai:v0.33.0", True),
        ("registry:5000/team/image:1.2", True),
        ("registry:5000/team/image", False),
        ("image@sha256:" + "a" * 64, True),
        ("image:latest@sha256:" + "a" * 64, True),
        ("image:latest", False),
        ("image", False),
    ],
)
def test_an_image_is_pinned_by_a_digest_or_a_tag_other_than_latest(reference, pinned):
    assert (inv.image_problem(reference) is None) is pinned


@pytest.mark.parametrize(
    ("tolerations", "ok"),
    [
        ([{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}], True),
        ([{"key": "sku", "value": "gpu"}], True),  # operator defaults to Equal, no effect = every effect
        ([{"key": "sku", "operator": "Exists"}], True),
        ([{"operator": "Exists"}], True),  # tolerates everything
        ([{"key": "sku", "value": "cpu", "effect": "NoSchedule"}], False),
        ([{"key": "sku", "operator": "Exists", "effect": "NoExecute"}], False),
        ([], False),
    ],
)
def test_toleration_matching_follows_kubernetes(tolerations, ok):
    assert inv.tolerates(tolerations, ("sku", "gpu", "NoSchedule")) is ok


def test_values_unknown_during_a_preview_are_never_a_violation():
    u = inv.UNKNOWN
    cases = [
        ("gcp:storage/bucket:Bucket", {"uniformBucketLevelAccess": u, "publicAccessPrevention": u}),
        ("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": u}),
        ("aws:ec2/launchTemplate:LaunchTemplate", {"metadataOptions": {"httpTokens": u}}),
        (DEPLOY, {"spec": u}),
        (DEPLOY, {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": u}]}}}}),
        (JOB, {"template": {"template": {"containers": u}}}),
        ("gcp:projects/iAMMember:IAMMember", {"role": u, "member": u}),
    ]
    for type_, props in cases:
        assert inv.violations(type_, props, "r") == [], (type_, props)


@pytest.mark.parametrize(
    "type_",
    [
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/launchConfiguration:LaunchConfiguration",
        "aws:ec2/instance:Instance",
    ],
)
def test_whatever_starts_instances_must_require_imdsv2(type_):
    assert inv.violations(type_, {"metadataOptions": {"httpTokens": "required"}}, "x") == []
    assert inv.violations(type_, {"metadataOptions": {"httpEndpoint": "disabled"}}, "x") == []
    ((name, _),) = inv.violations(type_, {}, "x")
    assert name == "imdsv2-required"


def test_a_path_to_a_key_file_is_not_a_secret_value():
    props = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "i:1",
                            "env": [
                                {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/var/secrets/key.json"},
                                {"name": "TOKEN_FILE", "value": "/var/run/token"},
                                {"name": "KAFKA_SASL_USERNAME", "value": "loader"},
                            ],
                        }
                    ]
                }
            }
        }
    }
    assert inv.violations(DEPLOY, props, "d") == []


def test_credentials_are_allowed_only_in_the_fields_made_for_them():
    secret = {"metadata": {"name": "s"}, "stringData": {"token": HF_TOKEN}}
    config_map = {"metadata": {"name": "c"}, "data": {"token": HF_TOKEN}}

    assert inv.violations("kubernetes:core/v1:Secret", secret, "s") == []
    assert inv.violations("kubernetes:core/v1:ConfigMap", config_map, "c") == [
        (
            "secrets-never-plain",
            "data.token holds what looks like a Hugging Face token: keep it in a secret and refer to it",
        )
    ]


def test_the_invariants_import_nothing_but_the_standard_library():
    """So they run in the dev venv (tests) and in the pack's venv alike; pulumi-policy stays in __main__."""
    package = Path(inv.__file__).parent
    files = sorted(package.glob("*.py"))
    assert len(files) > 1, package
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top == "__future__", f"{path.name} imports {name}"


@pytest.mark.parametrize(
    ("statement", "scoped"),
    [
        ({"Action": "autoscaling:*", "Resource": "*"}, False),
        ({"Action": ["*"], "Resource": "*"}, False),
        ({"Action": "AutoScaling:Set*", "Resource": "*"}, False),  # IAM actions ignore case
        ({"NotAction": "s3:*", "Resource": "*"}, False),
        ({"NotAction": "autoscaling:*", "Resource": "*"}, True),
        ({"Action": "autoscaling:Describe*", "Resource": "*"}, True),
        (
            {
                "Action": "autoscaling:SetDesiredCapacity",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/team": "a"}},
            },
            True,
        ),
        (
            {
                "Action": "autoscaling:UpdateAutoScalingGroup",
                "Resource": "arn:aws:autoscaling:us-east-1:1:autoScalingGroup:*:autoScalingGroupName/gpu",
            },
            True,
        ),
        (  # the tags EKS puts on every managed group of the cluster: every group, other teams' too
            {
                "Action": "autoscaling:SetDesiredCapacity",
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                        "aws:ResourceTag/k8s.io/cluster-autoscaler/judge": "owned",
                        "aws:ResourceTag/eks:cluster-name": "judge",
                    }
                },
            },
            False,
        ),
        (
            {
                "Action": "autoscaling:SetDesiredCapacity",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/eks:nodegroup-name": "gpu"}},
            },
            True,
        ),
        (
            {
                "Action": "autoscaling:UpdateAutoScalingGroup",
                "Resource": "arn:aws:autoscaling:us-east-1:1:autoScalingGroup:*:autoScalingGroupName/eks-*",
            },
            False,
        ),
    ],
)
def test_autoscaling_writes_must_pick_their_groups(statement, scoped):
    document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]})
    for type_, props in (
        ("aws:iam/policy:Policy", {"policy": document}),
        ("aws:iam/role:Role", {"inlinePolicies": [{"name": "x", "policy": document}]}),
    ):
        found = [v for v in inv.violations(type_, props, "p") if v[0] == "autoscaling-writes-scoped"]
        assert (found == []) is scoped, (type_, statement, found)
    assert inv.violations("aws:iam/rolePolicy:RolePolicy", {"policy": inv.UNKNOWN}, "p") == []
