"""What the plan says about sharing a cluster: where the stack installs nothing of its own in an
existing cluster, or relies on something there it cannot check, `make plan` and `pulumi preview` say
so, naming the key that decides and the section of docs/aws.md that tells what to do."""

from __future__ import annotations

from typing import Literal

from components.config.aws import AwsConfig

from . import cluster_autoscaler

Severity = Literal["warning", "info"]
DOCS = "docs/aws.md"
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
        return [
            (
                "info",
                f"cluster-autoscaler {cluster_autoscaler.name(stack)} goes into "
                f"{cfg.cluster_autoscaler.namespace} of the existing cluster {cluster}; it discovers, and "
                f"may resize, only Auto Scaling groups tagged {scope}={stack} (this stack's GPU group). An "
                "autoscaler the cluster already runs with its default discovery sees that group too: "
                f"leave the group to one of them ({where})",
            )
        ]
    return [
        (
            "info",
            f"no cluster-autoscaler of the stack's: the GPU group is left to the cluster {cluster}'s own "
            f"autoscaler or Karpenter ({where})",
        )
    ]
