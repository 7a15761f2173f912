"""Metrics and alerts for clusters that run the Prometheus Operator: PodMonitors for vLLM and the
model loader, and one PrometheusRule with the judge's alerts.

Every alert names what broke and links its runbook section in docs/aws.md. The availability and
model-loader alerts read kube-state-metrics (``kube_deployment_*``, ``kube_pod_status_ready``), which
kube-prometheus-stack ships: they fire also when the pods cannot be scraped at all (crash loop,
Pending on a missing GPU node), which an alert on the pods' own metrics could not see.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from components.config.aws import AwsConfig

from . import model_cache
from .judge_inference import COMPONENT_LABEL, selector
from .judge_scaling import metric_selector
from .scheduling import PART_OF

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict

    from .k8s_types import CustomResourceManifest

MONITORING_V1 = "monitoring.coreos.com/v1"
LOADER_COMPONENT = {"app.kubernetes.io/component": "model-loader"}


def _metadata(cfg: AwsConfig, name: str, component: dict[str, str]) -> ObjectMetaArgsDict:
    return {
        "name": name,
        "namespace": cfg.namespace,
        "labels": {**component, **PART_OF, **cfg.prometheus.selector_labels},
    }


def vllm_pod_monitor(cfg: AwsConfig) -> CustomResourceManifest:
    """vLLM serves Prometheus metrics on its API port at ``/metrics`` (no API key needed)."""
    return {
        "apiVersion": MONITORING_V1,
        "kind": "PodMonitor",
        "metadata": _metadata(cfg, cfg.service_name, COMPONENT_LABEL),
        "spec": {
            "selector": {"matchLabels": selector(cfg)},
            "podMetricsEndpoints": [
                {"port": "http", "path": "/metrics", "interval": cfg.prometheus.scrape_interval}
            ],
        },
    }


def loader_pod_monitor(cfg: AwsConfig) -> CustomResourceManifest:
    """The model loader's probe server: ``model_loader_*`` (download bytes, verified, served revision)."""
    return {
        "apiVersion": MONITORING_V1,
        "kind": "PodMonitor",
        "metadata": _metadata(cfg, model_cache.NAME, LOADER_COMPONENT),
        "spec": {
            "selector": {"matchLabels": dict(model_cache.SELECTOR)},
            "podMetricsEndpoints": [
                {"port": "http", "path": "/metrics", "interval": cfg.prometheus.scrape_interval}
            ],
        },
    }


def runbook_url(cfg: AwsConfig, alert: str) -> str:
    return f"{cfg.prometheus.alerts.runbook_base_url}#runbook-{alert.lower()}"


def _minutes(seconds: int) -> str:
    return f"{math.ceil(seconds / 60)}m"


def alert_rules(cfg: AwsConfig) -> list[dict[str, Any]]:
    """The PrometheusRule's rules, in the CRD's own keys (custom resources have no SDK types)."""
    a = cfg.prometheus.alerts
    ns, deploy = json.dumps(cfg.namespace), json.dumps(cfg.service_name)
    sel = metric_selector(cfg)
    kube = f"namespace={ns},deployment={deploy}"
    loader_pods = json.dumps(f"{model_cache.NAME}-.+")
    budget = cfg.model_loader.wait_timeout_seconds

    def rule(
        name: str, expr: str, for_: str, severity: str, summary: str, description: str
    ) -> dict[str, Any]:
        return {
            "alert": name,
            "expr": expr,
            "for": for_,
            "labels": {"severity": severity, "service": cfg.service_name},
            "annotations": {
                "summary": summary,
                "description": description,
                "runbook_url": runbook_url(cfg, name),
            },
        }

    return [
        rule(
            "JudgeUnavailable",
            # Replicas wanted (so not an intended scale-to-zero) and none available.
            f"(max(kube_deployment_spec_replicas{{{kube}}}) > 0) "
            f"and (max(kube_deployment_status_replicas_available{{{kube}}}) == 0)",
            f"{a.unavailable_minutes}m",
            "critical",
            f"No ready {cfg.service_name} replica for {a.unavailable_minutes} minutes",
            "The judge Deployment wants replicas but none is available: callers get errors or wait. "
            "Usual causes: no GPU node (quota, Spot capacity, autoscaler), the model not on the node, "
            "vLLM failing to start.",
        ),
        rule(
            "JudgeRequestsWaiting",
            f"sum(vllm:num_requests_waiting{{{sel}}}) > {a.requests_waiting}",
            f"{a.waiting_minutes}m",
            "warning",
            f"More than {a.requests_waiting} judge requests queued for {a.waiting_minutes} minutes",
            "vLLM queues without bound; a long queue means latency and client time-outs. Check whether "
            "replicas are at autoscaling.maxReplicas or stuck Pending on a GPU node.",
        ),
        rule(
            "JudgeKvCacheNearlyFull",
            f"max(vllm:kv_cache_usage_perc{{{sel}}}) > {a.kv_cache_usage:g}",
            f"{a.kv_cache_minutes}m",
            "warning",
            f"Judge KV cache above {a.kv_cache_usage:.0%} for {a.kv_cache_minutes} minutes",
            "vLLM preempts and recomputes requests when the KV cache is full: throughput drops. Add "
            "replicas, lower concurrency or model.maxModelLen, or use a GPU with more memory.",
        ),
        rule(
            "ModelLoaderNotReady",
            f"max by (namespace, pod) (kube_pod_status_ready{{namespace={ns},pod=~{loader_pods},"
            'condition="true"}) == 0',
            _minutes(budget),
            "warning",
            "A model-loader pod has not had the model ready for longer than its download budget",
            f"The model is not complete on a GPU node after modelLoader.waitTimeoutSeconds ({budget} s): "
            "vLLM on that node is still waiting (init container wait-for-model). See the pod's /readyz "
            "(state, detail, progress) and its model_loader_* metrics.",
        ),
    ]


def prometheus_rule(cfg: AwsConfig) -> CustomResourceManifest:
    return {
        "apiVersion": MONITORING_V1,
        "kind": "PrometheusRule",
        "metadata": _metadata(cfg, cfg.service_name, COMPONENT_LABEL),
        "spec": {"groups": [{"name": f"{cfg.service_name}.rules", "rules": alert_rules(cfg)}]},
    }
