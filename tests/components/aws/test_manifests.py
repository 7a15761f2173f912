"""Every Kubernetes object of the AWS half is valid for the cluster's Kubernetes version, in both
stacks and with the optional parts switched on."""

from __future__ import annotations

import pytest

from tests.components.aws.helpers import render_aws
from tools import manifests as k8s


@pytest.mark.parametrize(
    ("stack", "overrides", "top"),
    [
        ("dev", {}, {}),
        ("prod", {}, {"hfToken": "hf_manifestTestToken"}),
        (
            "dev",
            {"networkPolicy": {"clientNamespaceLabels": {"team": "evals"}}, "vllm": {"skipAwait": True}},
            {},
        ),
    ],
    ids=["dev", "prod-with-token", "dev-options"],
)
def test_manifests_validate_against_the_cluster_version(stack, overrides, top):
    plan = render_aws(stack, overrides, **top)
    version = k8s.kubernetes_version(plan)
    found = k8s.manifests(plan)
    kinds = {m.obj["kind"] for m in found}
    assert {"Namespace", "DaemonSet", "Deployment", "Service", "ServiceAccount", "NetworkPolicy"} <= kinds
    assert k8s.validate_all(found, version) == []
