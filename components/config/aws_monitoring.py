"""``prometheus``: the cluster's Prometheus that KEDA's scaling queries read and that scrapes vLLM and
the model loader, and ``prometheus.alerts``: the thresholds of the judge's PrometheusRule (see
docs/aws.md#runbook)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from .base import ConfigModel, pattern
from .k8s_values import Namespace

_URL = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s]*)?$")


class AlertsConfig(ConfigModel):
    """``prometheus.alerts``: thresholds of the PrometheusRule (see docs/aws.md#runbook)."""

    unavailable_minutes: int = Field(default=5, ge=1, le=1440)
    """JudgeUnavailable: replicas wanted but none ready for this long."""
    requests_waiting: int = Field(default=20, ge=1)
    """JudgeRequestsWaiting: more queued requests than this across the judge, for ``waitingMinutes``."""
    waiting_minutes: int = Field(default=10, ge=1, le=1440)
    kv_cache_usage: float = Field(default=0.95, gt=0, le=1)
    """JudgeKvCacheNearlyFull: KV-cache use (0-1) above this for ``kvCacheMinutes``."""
    kv_cache_minutes: int = Field(default=15, ge=1, le=1440)
    runbook_base_url: str = "docs/aws.md"
    """Prefix of each alert's ``runbook_url`` annotation (e.g. your repository's docs/aws.md URL)."""


class PrometheusConfig(ConfigModel):
    """``prometheus``: the cluster's Prometheus. The stack does not install one (see docs/aws.md):
    KEDA queries ``serverAddress``; with ``operator: true`` the stack adds PodMonitors for vLLM and the
    model loader and a PrometheusRule with the judge's alerts."""

    server_address: (
        Annotated[str, AfterValidator(pattern(_URL, "an http(s) URL of the Prometheus API"))] | None
    ) = None
    """Prometheus HTTP API that has vLLM's metrics, e.g.
    ``http://kube-prometheus-stack-prometheus.monitoring.svc.cluster.local:9090``."""
    namespace: Namespace = "monitoring"
    """Where Prometheus runs: the judge's NetworkPolicy admits scrapes from this namespace."""
    operator: bool = False
    """The cluster runs the Prometheus Operator: create PodMonitors and the PrometheusRule."""
    selector_labels: dict[str, str] = Field(default_factory=dict)
    """Labels the Prometheus's ``podMonitorSelector``/``ruleSelector`` select (kube-prometheus-stack:
    ``release: <its release name>``)."""
    scrape_interval: Annotated[
        str, AfterValidator(pattern(re.compile(r"^[0-9]+s$"), "seconds such as '15s'"))
    ] = "15s"
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
