"""What the plan says about sharing a cluster: where the stack installs nothing of its own in an
existing cluster, or relies on something there it cannot check, `make plan` and `pulumi preview` say
so, naming the key that decides and the section of docs/aws.md that tells what to do."""

from __future__ import annotations

from typing import Literal

from components.config.aws import AwsConfig

from . import cluster_autoscaler

Severity = Literal["warning", "info"]
DOCS = "docs/aws.md"
LEASE = "cluster-autoscaler"
"""The Lease a cluster-autoscaler elects its leader on, in its own namespace (``--namespace``, which the
chart sets to the release's); its status ConfigMap is ``<LEASE>-status`` there."""
CHECK_VPC_CNI = "kubectl get ds aws-node -n kube-system -o yaml | grep enable-network-policy"


def notes(cfg: AwsConfig, stack: str) -> list[tuple[Severity, str]]:
    """``(severity, message)`` for the plan's diagnostics, in the order they concern the stack."""
    out: list[tuple[Severity, str]] = []
    cluster = cfg.cluster.name
    if not cfg.cluster.create:
        out.extend(_autoscaler_notes(cfg, stack))
        if cfg.network_policy.enabled:
            out.append(
                (
                    "warning",
                    f"llm-judge:aws.networkPolicy: the stack's NetworkPolicies guard the judge only if the "
                    f"existing cluster {cluster} enforces them (VPC CNI with network policy enabled, "
                    f"Calico or Cilium); otherwise they are accepted and ignored. Check with "
                    f"`{CHECK_VPC_CNI}` ({DOCS}#networkpolicies-need-an-engine)",
                )
            )
    s = cfg.autoscaling
    if s.enabled and s.wake.enabled and not s.wake.install and cfg.network_policy.enabled:
        out.append(
            (
                "warning",
                f"llm-judge:aws.autoscaling.wake.install is false: the interceptor in namespace "
                f"{s.keda.namespace} is not this stack's, so the stack puts no NetworkPolicy in front of "
                "it (it may serve other teams' routes); any pod that reaches it can call the judge "
                f"through it ({DOCS}#who-may-wake-the-judge)",
            )
        )
    return out


def _shared_lease(cluster: str, namespace: str) -> str:
    """Every cluster-autoscaler of one namespace elects its leader on the same Lease (the binary's
    default ``--leader-elect-resource-name``, the only name the chart's Role lets it update) and writes
    the same status ConfigMap: two of them there never run at once, whoever installed them."""
    return (
        f"llm-judge:aws.clusterAutoscaler.namespace is {namespace}: a cluster-autoscaler there shares the "
        f"leader-election Lease {namespace}/{LEASE} and the ConfigMap {namespace}/{LEASE}-status with any "
        f"other cluster-autoscaler in {namespace} of {cluster}, so only one of them works at a time (the "
        "stack's could stop the cluster's own from scaling its groups, or wait for ever behind it). Check "
        f"with `kubectl -n {namespace} get lease {LEASE} -o jsonpath='{{.spec.holderIdentity}}'`; "
        "if another one runs there, leave clusterAutoscaler.namespace unset (the default: a namespace of "
        f"the stack's own) ({DOCS}#the-gpu-group-on-a-shared-cluster)"
    )


def _autoscaler_notes(cfg: AwsConfig, stack: str) -> list[tuple[Severity, str]]:
    cluster, ng = cfg.cluster.name, cfg.node_group
    where = f"{DOCS}#the-gpu-group-on-a-shared-cluster"
    explicit = cfg.cluster_autoscaler.enabled
    if explicit is None:
        return [
            (
                "warning",
                "llm-judge:aws.clusterAutoscaler.enabled is not set: the stack installs no "
                f"cluster-autoscaler into the existing cluster {cluster}, so the GPU group (nodeGroup "
                f"minSize {ng.min_size}, maxSize {ng.max_size}) changes size only if the cluster's own "
                f"autoscaler or Karpenter runs it ({where}); set it true to install one that scales "
                "only this stack's groups, or false to leave the group to the cluster's own",
            )
        ]
    if explicit:
        scope = cluster_autoscaler.SCOPE_TAG
        namespace = cluster_autoscaler.namespace(cfg, stack)
        out: list[tuple[Severity, str]] = [
            (
                "info",
                f"cluster-autoscaler {cluster_autoscaler.name(stack)} goes into "
                f"namespace {namespace} of the existing cluster {cluster}; it discovers, and "
                f"may resize, only Auto Scaling groups tagged {scope}={stack} (this stack's GPU group). An "
                "autoscaler the cluster already runs with its default discovery sees that group too: "
                f"leave the group to one of them ({where})",
            )
        ]
        if namespace == "kube-system":
            out.append(("warning", _shared_lease(cluster, namespace)))
        return out
    return [
        (
            "info",
            f"no cluster-autoscaler of the stack's: the GPU group is left to the cluster {cluster}'s own "
            f"autoscaler or Karpenter ({where})",
        )
    ]
