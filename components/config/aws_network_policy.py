"""``networkPolicy``: the NetworkPolicies of the judge's namespace: which client pods may call vLLM,
and what the model loader and the device plugin may reach."""

from __future__ import annotations

from pydantic import Field, model_validator

from .base import ConfigModel, Problems
from .k8s_values import Labels


class NetworkPolicyConfig(ConfigModel):
    """``networkPolicy``: who may call the judge, and what the pods beside it may reach. Needs a
    network-policy engine (VPC CNI with ``enableNetworkPolicy``, Calico, Cilium)."""

    enabled: bool = True
    """Create the NetworkPolicies: the judge (its clients in, DNS out), the model loader (DNS and
    HTTPS out; in, only the Prometheus that scrapes it) and the device plugin (nothing in or out)."""
    client_pod_labels: Labels = Field(default_factory=lambda: {"app": "judge-service"})
    """Labels of the judge-client pods allowed to call vLLM on its port."""
    client_namespace_labels: Labels | None = None
    """Namespaces (by label) the clients run in; None: the judge's own namespace only."""

    @model_validator(mode="after")
    def _check(self) -> NetworkPolicyConfig:
        p = Problems()
        p.check(
            not self.enabled or bool(self.client_pod_labels),
            "clientPodLabels",
            "must not be empty: an empty selector admits every pod",
        )
        p.raise_if_any()
        return self
