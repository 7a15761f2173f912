"""s3-access-scoped: the only S3 an IAM policy may allow is a read of one bucket prefix. The model
loader's own policy (the builder's) passes; each way of reaching further fails, naming how."""

from __future__ import annotations

import json

import pytest

from app.model_loader.mirror_layout import S3Location
from components.aws.builders.model_cache import s3_read_policy
from policy import invariants as inv

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MIRROR = S3Location.parse("s3://acme-models/mirror/judge")


def _found(policy: dict | str, resource_type: str = ROLE_POLICY) -> list[str]:
    document = policy if isinstance(policy, str) else json.dumps(policy)
    return [
        m
        for name, m in inv.violations(resource_type, {"policy": document}, "x")
        if name == "s3-access-scoped"
    ]


def _loader_policy() -> dict:
    return json.loads(s3_read_policy(MIRROR))


def test_the_model_loaders_policy_reads_its_prefix_only_and_passes():
    policy = _loader_policy()
    assert _found(policy) == []
    read, listing = policy["Statement"]
    assert (read["Action"], read["Resource"]) == (["s3:GetObject"], "arn:aws:s3:::acme-models/mirror/judge/*")
    assert (listing["Action"], listing["Resource"]) == (["s3:ListBucket"], "arn:aws:s3:::acme-models")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["mirror/judge/*"]}}
    assert _found(s3_read_policy(MIRROR, "aws-cn")) == [], "other partitions"


def _statement(i: int, **changes: object) -> dict:
    policy = _loader_policy()
    policy["Statement"][i].update(changes)
    return policy


BROADER = {
    "the whole bucket": (_statement(0, Resource="arn:aws:s3:::acme-models/*"), "allows s3:GetObject on"),
    "every bucket": (_statement(0, Resource="*"), "allows s3:GetObject on '*'"),
    "a wildcard bucket": (_statement(0, Resource="arn:aws:s3:::acme-*/mirror/*"), "name one bucket"),
    "a wildcard in the prefix": (_statement(0, Resource="arn:aws:s3:::acme-models/m*/judge/*"), "key prefix"),
    "a write": (_statement(0, Action=["s3:GetObject", "s3:PutObject"]), "allows s3:putobject"),
    "every S3 action": (_statement(0, Action="s3:*"), "allows s3:*"),
    "every action": (_statement(0, Action="*"), "allows *"),
    "NotAction": (
        {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]},
        "allows NotAction",
    ),
    "listing the whole bucket": (_statement(1, Condition=None), "without an s3:prefix condition"),
    "listing under an empty prefix": (
        _statement(1, Condition={"StringLike": {"s3:prefix": ["*"]}}),
        "without an s3:prefix condition",
    ),
    "listing every bucket": (_statement(1, Resource="arn:aws:s3:::*"), "allows s3:ListBucket on"),
}


@pytest.mark.parametrize("case", BROADER)
def test_any_broader_s3_grant_is_a_violation(case):
    policy, message = BROADER[case]
    found = _found(policy)
    assert any(message in f for f in found), found


def test_an_aws_managed_s3_policy_is_a_violation_and_a_deny_is_not():
    attachment = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    found = inv.violations(attachment, {"policyArn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}, "x")
    assert [name for name, _ in found] == ["s3-access-scoped"]
    assert not inv.violations(attachment, {"policyArn": "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"}, "x")
    assert _found({"Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}) == []
    assert _found({"Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}) == []
