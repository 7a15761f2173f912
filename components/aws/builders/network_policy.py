"""NetworkPolicies of the pods beside the judge: the model loader and the NVIDIA device plugin, and
the labels of the KEDA HTTP add-on's pods that the wake path's policies select.

The judge's own policy (which admits its clients) is built with the judge, in ``judge_inference.py``;
the interceptor's (which admits the same clients) with the wake path, in ``judge_scaling.py``.
Each policy selects one workload's pods and isolates them both ways, then admits only what they need:

- model loader: DNS to kube-dns, and HTTPS (TCP 443) to any address, because the Hugging Face hub
  and the CDN/xet storage it redirects downloads to have no fixed addresses (an S3 mirror is HTTPS as
  well); with an S3 mirror, also the node's EKS Pod Identity agent (169.254.170.23, port 80). In: only
  Prometheus, on the loader's port, where the stack creates a PodMonitor for it (``prometheus.operator``);
  the kubelet's probes need no rule, because traffic from a pod's own node is always admitted.
- device plugin: nothing. It talks to the kubelet over a Unix socket in a hostPath and reads the GPUs
  through NVML; a compromised plugin should not reach the network either.

Built as pulumi_kubernetes' own ``*ArgsDict`` types (snake_case keys, translated by the SDK).
"""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict
from pulumi_kubernetes.networking.v1 import (
    NetworkPolicyEgressRuleArgsDict,
    NetworkPolicyPeerArgsDict,
    NetworkPolicySpecArgsDict,
)

from .scheduling import PART_OF

ISOLATED = ["Ingress", "Egress"]
KUBE_DNS_PEER: NetworkPolicyPeerArgsDict = {
    "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "kube-system"}},
    "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
}
DNS_EGRESS: NetworkPolicyEgressRuleArgsDict = {
    "to": [KUBE_DNS_PEER],
    "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
}
HTTPS_EGRESS: NetworkPolicyEgressRuleArgsDict = {
    "to": [{"ip_block": {"cidr": "0.0.0.0/0"}}, {"ip_block": {"cidr": "::/0"}}],
    "ports": [{"port": 443, "protocol": "TCP"}],
}

# The EKS Pod Identity agent (a hostNetwork DaemonSet) serves credentials on the node's link-local
# 169.254.170.23 and fd00:ec2::23, port 80 (the EKS user guide's "pod-id-how-it-works" page: the
# AWS_CONTAINER_CREDENTIALS_FULL_URI it injects is http://169.254.170.23/v1/credentials).
POD_IDENTITY_AGENT_EGRESS: NetworkPolicyEgressRuleArgsDict = {
    "to": [{"ip_block": {"cidr": "169.254.170.23/32"}}, {"ip_block": {"cidr": "fd00:ec2::23/128"}}],
    "ports": [{"port": 80, "protocol": "TCP"}],
}


# Pod labels of the KEDA HTTP add-on's chart (keda-add-ons-http 0.15 templates/interceptor and
# templates/scaler deployment.yaml), the same in every release of it; the release adds
# app.kubernetes.io/instance.
_HTTP_ADDON_PODS = {"app.kubernetes.io/name": "http-add-on", "app.kubernetes.io/part-of": "keda-add-ons-http"}
INTERCEPTOR_PODS = {"app.kubernetes.io/component": "interceptor", **_HTTP_ADDON_PODS}
SCALER_PODS = {"app.kubernetes.io/component": "scaler", **_HTTP_ADDON_PODS}


def interceptor_peer(keda_namespace: str) -> NetworkPolicyPeerArgsDict:
    """The add-on's interceptor pods in KEDA's namespace (whoever installed the add-on there)."""
    return {
        "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": keda_namespace}},
        "pod_selector": {"match_labels": dict(INTERCEPTOR_PODS)},
    }


def metadata(name: str, namespace: str, labels: Mapping[str, str]) -> ObjectMetaArgsDict:
    return {"name": name, "namespace": namespace, "labels": {**labels, **PART_OF}}


def namespace_peer(namespace: str) -> NetworkPolicyPeerArgsDict:
    return {"namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": namespace}}}


def model_loader_spec(
    pod_labels: Mapping[str, str], port: int, scraper_namespace: str | None, *, pod_identity: bool = False
) -> NetworkPolicySpecArgsDict:
    """Egress to DNS and HTTPS only (an S3 mirror is HTTPS too), and to the node's EKS Pod Identity
    agent where the loader has an AWS identity; ingress only from the scraping Prometheus' namespace."""
    spec: NetworkPolicySpecArgsDict = {
        "pod_selector": {"match_labels": dict(pod_labels)},
        "policy_types": list(ISOLATED),
        "egress": [DNS_EGRESS, HTTPS_EGRESS, *([POD_IDENTITY_AGENT_EGRESS] if pod_identity else [])],
    }
    if scraper_namespace is not None:
        spec["ingress"] = [
            {"from_": [namespace_peer(scraper_namespace)], "ports": [{"port": port, "protocol": "TCP"}]}
        ]
    return spec


def deny_all_spec(pod_labels: Mapping[str, str]) -> NetworkPolicySpecArgsDict:
    """Isolated both ways with no rule: no connection in or out (the node's own traffic aside)."""
    return {"pod_selector": {"match_labels": dict(pod_labels)}, "policy_types": list(ISOLATED)}
