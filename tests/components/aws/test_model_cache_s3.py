"""``model.source: s3://...``: the model loader reads the mirror with an identity of its own (EKS Pod
Identity on its service account) that can read the configured prefix and nothing else; the policy
pack holds every IAM policy of the plan to that."""

from __future__ import annotations

import json

import pytest

from policy import invariants as inv
from tests.components.aws.helpers import DAEMONSET, container, one, pod_spec, render_aws
from tests.components.aws.test_config import only_problem

SOURCE = "s3://acme-models/mirror/judge"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
POD_IDENTITY = "aws:eks/podIdentityAssociation:PodIdentityAssociation"


@pytest.fixture(scope="module")
def plan():
    return render_aws("dev", {"model": {"source": SOURCE}})


def _env(plan) -> dict[str, str]:
    return {
        e["name"]: e.get("value")
        for e in container(one(plan, DAEMONSET, "model-cache-ds"), "model-loader")["env"]
    }


def test_the_loader_reads_the_mirror_with_its_own_pod_identity(plan):
    pod = pod_spec(one(plan, DAEMONSET, "model-cache-ds"))
    assert (pod["serviceAccountName"], pod["automountServiceAccountToken"]) == ("model-loader", True)
    env = _env(plan)
    assert (env["MODEL_SOURCE"], env["MODEL_SOURCE_FALLBACK"], env["AWS_REGION"]) == (
        SOURCE,
        "hub",
        "us-east-1",
    )
    account = one(plan, "kubernetes:core/v1:ServiceAccount", "model-cache-sa").inputs["metadata"]
    assert (account["name"], account["namespace"]) == ("model-loader", "llm-judge")
    association = one(plan, POD_IDENTITY, "model-cache-pod-identity").inputs
    role = one(plan, "aws:iam/role:Role", "model-cache-role")
    assert (association["namespace"], association["serviceAccount"]) == ("llm-judge", "model-loader")
    assert ":role/judge-model-cache-role" in association["roleArn"]
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}


def test_its_iam_policy_reads_the_configured_prefix_and_nothing_else(plan):
    policy = json.loads(one(plan, "aws:iam/rolePolicy:RolePolicy", "model-cache-s3-read").inputs["policy"])
    grants = {
        (tuple(s["Action"]), s["Resource"], json.dumps(s.get("Condition"))) for s in policy["Statement"]
    }
    assert grants == {
        (("s3:GetObject",), "arn:aws:s3:::acme-models/mirror/judge/*", "null"),
        (("s3:ListBucket",), "arn:aws:s3:::acme-models", '{"StringLike": {"s3:prefix": ["mirror/judge/*"]}}'),
    }


def test_the_plan_keeps_every_invariant_and_a_broader_grant_breaks_s3_access_scoped(plan):
    def violations(resources):
        return [f"{n} {r.name}: {m}" for r in resources for n, m in inv.violations(r.type, r.inputs, r.name)]

    assert violations(plan.resources) == []
    read = one(plan, "aws:iam/rolePolicy:RolePolicy", "model-cache-s3-read")
    broad = json.loads(read.inputs["policy"])
    broad["Statement"][0]["Resource"] = "arn:aws:s3:::acme-models/*"
    mutated = type(read)(
        read.urn, read.type, read.name, read.parent, {**read.inputs, "policy": json.dumps(broad)}
    )
    (found,) = violations([mutated])
    assert found.startswith("s3-access-scoped ")


def test_the_network_policy_still_lets_it_reach_s3_and_the_pod_identity_agent(plan):
    egress = one(plan, NETPOL, "model-cache-netpol").inputs["spec"]["egress"]
    (https,) = [rule for rule in egress if rule["ports"] == [{"port": 443, "protocol": "TCP"}]]
    assert {"ipBlock": {"cidr": "0.0.0.0/0"}} in https["to"], "S3 is HTTPS to AWS addresses"
    (agent,) = [rule for rule in egress if rule["ports"] == [{"port": 80, "protocol": "TCP"}]]
    assert agent["to"] == [
        {"ipBlock": {"cidr": "169.254.170.23/32"}},
        {"ipBlock": {"cidr": "fd00:ec2::23/128"}},
    ]


def test_reading_the_hub_creates_no_aws_identity_for_the_loader():
    plan = render_aws("dev")
    assert not [r for r in plan.resources if "model-cache" in r.name and r.type.startswith("aws:")]
    assert "serviceAccountName" not in pod_spec(one(plan, DAEMONSET, "model-cache-ds"))
    egress = one(plan, NETPOL, "model-cache-netpol").inputs["spec"]["egress"]
    assert all(rule["ports"][0]["port"] != 80 for rule in egress)
    assert "MODEL_SOURCE" not in _env(plan)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("s3://acme-models", "names no prefix"),
        ("gs://acme-models/judge", "is not an s3:// URL"),
        ("s3://Acme_Models/judge", "is not an S3 bucket name"),
    ],
)
def test_a_source_that_is_not_a_scoped_s3_prefix_is_refused_naming_the_key(source, message):
    problem = only_problem({"model": {"source": source}})
    assert problem.startswith("llm-judge:aws.model.source")
    assert message in problem
