"""NetworkPolicies of the pods beside the judge: the model loader may only resolve names and speak
HTTPS out, and only the Prometheus that scrapes it may call it; the device plugin may do nothing on the
network."""

from __future__ import annotations

import pytest

from tests.components.aws.helpers import DAEMONSET, one, render_aws

NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"


@pytest.fixture(scope="module")
def dev():
    return render_aws("dev")


def _selects(policy, workload) -> bool:
    pod = workload.inputs["spec"]["template"]["metadata"]["labels"]
    selector = policy.inputs["spec"]["podSelector"]["matchLabels"]
    same_namespace = policy.inputs["metadata"]["namespace"] == workload.inputs["metadata"]["namespace"]
    return same_namespace and bool(selector) and selector.items() <= pod.items()


def test_the_model_loader_may_resolve_names_and_speak_https_out_and_nothing_else(dev):
    policy = one(dev, NETPOL, "model-cache-netpol")
    spec = policy.inputs["spec"]

    assert _selects(policy, one(dev, DAEMONSET, "model-cache-ds"))
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    dns, https = spec["egress"]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert sorted((p["protocol"], p["port"]) for p in dns["ports"]) == [("TCP", 53), ("UDP", 53)]
    assert https["ports"] == [{"port": 443, "protocol": "TCP"}]
    assert https["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]


def test_only_the_prometheus_that_scrapes_the_loader_may_call_it(dev):
    (rule,) = one(dev, NETPOL, "model-cache-netpol").inputs["spec"]["ingress"]
    (monitor,) = [
        m for m in dev.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor") if "loader" in m.name
    ]

    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert monitor.inputs["spec"]["podMetricsEndpoints"][0]["port"] == "http"  # the loader's 8080


def test_without_a_pod_monitor_nothing_may_call_the_loader():
    """Its probes come from the kubelet on its own node, which NetworkPolicy always admits."""
    plan = render_aws("dev", {"prometheus": {"operator": False}, "autoscaling": {"enabled": False}})

    assert "ingress" not in one(plan, NETPOL, "model-cache-netpol").inputs["spec"]


def test_the_device_plugin_is_cut_off_from_the_network(dev):
    policy = one(dev, NETPOL, "device-plugin-netpol")
    spec = policy.inputs["spec"]

    assert _selects(policy, one(dev, DAEMONSET, "device-plugin-ds"))
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in spec
    assert "egress" not in spec


def test_every_pod_of_the_stack_is_selected_by_a_network_policy(dev):
    workloads = [*dev.of_type(DAEMONSET), *dev.of_type("kubernetes:apps/v1:Deployment")]
    policies = dev.of_type(NETPOL)

    assert workloads
    for workload in workloads:
        assert any(_selects(p, workload) for p in policies), (
            f"{workload.name}: no NetworkPolicy selects its pods"
        )


def test_switching_network_policies_off_removes_all_of_them():
    plan = render_aws("dev", {"networkPolicy": {"enabled": False}})

    assert plan.of_type(NETPOL) == []


# --- the wake path: whoever may call the interceptor may call the judge -------------------------------

INTERCEPTOR = {
    "app.kubernetes.io/component": "interceptor",
    "app.kubernetes.io/name": "http-add-on",
    "app.kubernetes.io/part-of": "keda-add-ons-http",
    "app.kubernetes.io/instance": "http-add-on",
}


def test_only_the_judges_clients_and_the_add_ons_scaler_may_reach_the_interceptor(dev):
    policy = one(dev, NETPOL, "wake-netpol").inputs
    release = one(dev, "kubernetes:helm.sh/v3:Release", "http-add-on").inputs
    # The chart's pod labels (templates/interceptor/deployment.yaml) in the release the stack installs.
    assert policy["metadata"]["namespace"] == release["namespace"] == "keda"
    assert policy["spec"]["podSelector"] == {"matchLabels": INTERCEPTOR}
    assert release["name"] == INTERCEPTOR["app.kubernetes.io/instance"]
    # Ingress only: the interceptor must still reach the API server and the judge.
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    clients, scaler = policy["spec"]["ingress"]
    assert clients == {
        "from": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "llm-judge"}},
                "podSelector": {"matchLabels": {"app": "judge-service"}},
            }
        ],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }
    # The scaler reads each interceptor's queue on its admin port, by pod IP.
    assert scaler == {
        "from": [
            {
                "podSelector": {
                    "matchLabels": {**INTERCEPTOR, "app.kubernetes.io/component": "scaler"},
                }
            }
        ],
        "ports": [{"port": 9090, "protocol": "TCP"}],
    }


def test_the_interceptor_admits_clients_from_the_namespaces_the_judge_does():
    from components.aws.builders import judge_scaling
    from components.config import load_stack_config
    from tests.components.aws.helpers import aws_block, merged

    block = merged(aws_block("dev"), {"networkPolicy": {"clientNamespaceLabels": {"team": "evals"}}})
    policy = judge_scaling.interceptor_network_policy(load_stack_config({"aws": block}).aws)
    (peer,) = policy["spec"]["ingress"][0]["from_"]
    assert peer["namespace_selector"] == {"match_labels": {"team": "evals"}}
    assert peer["pod_selector"] == {"match_labels": {"app": "judge-service"}}
