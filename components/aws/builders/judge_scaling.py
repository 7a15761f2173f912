"""Judge replicas that follow the load, as plain objects: the KEDA and HTTP add-on chart values, the
ScaledObject on vLLM's queue, the InterceptorRoute that routes through the add-on's interceptor, the
Service clients use to reach the judge through it, and the NetworkPolicy that guards that path.

How the pieces fit (docs/aws.md, "Scaling"):

- One ScaledObject owns the judge Deployment's HPA. Its Prometheus triggers scale on vLLM's own
  metrics: requests in flight (running + waiting) and queued per replica, plus a p95-latency
  guardrail. Each has an activation threshold apart from its target: activation decides "busy or
  idle" (0 <-> 1 replicas), the target decides how many.
- At zero replicas vLLM publishes no metrics, so nothing in Prometheus can wake it. With
  ``autoscaling.wake`` the HTTP add-on's interceptor sits in front: it counts and holds requests, and
  its external scaler is one more trigger (``external-push``, ``interceptorRoute: <name>``) of the same
  ScaledObject. The route is an ``InterceptorRoute`` (http.keda.sh/v1beta1, add-on 0.14+), which only
  routes, holds and counts: unlike the HTTPScaledObject it replaces (deprecated since 0.14, the
  operator logs a warning per object), it creates no ScaledObject of its own (kedacore/http-add-on
  operator/apis/http/v1beta1/interceptorroute_types.go and docs "Migrate HTTPScaledObject to
  InterceptorRoute"). The ScaledObject must come after the route: before it, the scaler answers an
  empty metric spec and KEDA would fall back to a CPU metric.
- A route without hosts is a catch-all (pkg/routing/key.go): the route always lists the wake
  Service's names, so it answers only for this judge.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from components.config.aws import AwsConfig

from .judge_inference import COMPONENT_LABEL, selector
from .network_policy import INTERCEPTOR_PODS, SCALER_PODS
from .scheduling import PART_OF

if TYPE_CHECKING:  # types only: the builders do not load the SDK
    from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict
    from pulumi_kubernetes.networking.v1 import NetworkPolicyPeerArgsDict

    from .k8s_types import CustomResourceManifest, NetworkPolicyParts, ServiceParts

KEDA_CHART_REPO = "https://kedacore.github.io/charts"
KEDA_CHART = "keda"
HTTP_ADDON_CHART = "keda-add-ons-http"
HTTP_ADDON_RELEASE = "http-add-on"
# Names, labels and ports the add-on's chart (keda-add-ons-http 0.15, templates/interceptor and
# templates/scaler) gives its components: `{{ .Chart.Name }}-...`, release-independent.
INTERCEPTOR_SERVICE = "keda-add-ons-http-interceptor-proxy"
INTERCEPTOR_PORT = 8080
"""The interceptor's proxy port (``interceptor.proxy.port``): its Service's and its pods'."""
INTERCEPTOR_ADMIN_PORT = 9090
"""The interceptor's admin port (``interceptor.admin.port``): the scaler reads each pod's queue there."""
EXTERNAL_SCALER_SERVICE = "keda-add-ons-http-external-scaler"
EXTERNAL_SCALER_PORT = 9090


def _metadata(cfg: AwsConfig, name: str) -> ObjectMetaArgsDict:
    return {
        "name": name,
        "namespace": cfg.namespace,
        "labels": {**selector(cfg), **COMPONENT_LABEL, **PART_OF},
    }


# --- charts -----------------------------------------------------------------------------------
# Helm values are the chart's own values.yaml keys, which no SDK types: plain dicts.


def keda_values(cfg: AwsConfig) -> dict[str, Any]:
    """KEDA's chart values: its CRDs, and its own metrics for the cluster's Prometheus Operator."""
    prom = cfg.prometheus
    values: dict[str, Any] = {"crds": {"install": True}}
    if prom.operator:
        monitor = {"enabled": True, "additionalLabels": dict(prom.selector_labels)}
        values["prometheus"] = {
            "operator": {"enabled": True, "podMonitor": monitor},
            "metricServer": {"enabled": True, "podMonitor": monitor},
        }
    return values


def _go_duration(seconds: int) -> str:
    return f"{seconds}s"


def http_addon_values(cfg: AwsConfig) -> dict[str, Any]:
    """The add-on's chart values: the interceptor's global time-outs, the same as the judge's route
    sets for itself (``interceptor_route``), so that the interceptor this stack installs behaves the
    same for a route without its own: how long it holds a request at zero replicas
    (``readinessTimeout``; 0.14+ default: no limit) and how long it waits for vLLM's response headers
    (a non-streamed completion sends them only at the end; 0.14+ default 300 s). Either time-out
    answers 504 Gateway Timeout (interceptor/middleware/endpoint_resolver.go, handler/upstream.go)."""
    wake = cfg.autoscaling.wake
    return {
        "interceptor": {
            "readinessTimeout": _go_duration(wake.hold_seconds),
            "responseHeaderTimeout": _go_duration(wake.response_timeout_seconds),
            # No total deadline of the interceptor's own: the caller's timeout decides.
            "requestTimeout": "0s",
        },
    }


# --- the judge's scaling objects -----------------------------------------------------------------


def metric_selector(cfg: AwsConfig) -> str:
    """PromQL label matchers of this judge's vLLM series: its namespace (added by any Kubernetes scrape
    config) and vLLM's own ``model_name`` label (the served name)."""
    return f"namespace={json.dumps(cfg.namespace)},model_name={json.dumps(cfg.model.effective_served_name)}"


def queries(cfg: AwsConfig) -> dict[str, str]:
    """The three scaling queries. ``or vector(0)``: no series (no replica, or a quiet window whose
    quantile is NaN) reads as 0 instead of an error, so idle really looks idle."""
    sel = metric_selector(cfg)
    window = cfg.autoscaling.latency_window
    return {
        "in-flight": (
            f"(sum(vllm:num_requests_running{{{sel}}}) + sum(vllm:num_requests_waiting{{{sel}}}))"
            " or vector(0)"
        ),
        "waiting": f"sum(vllm:num_requests_waiting{{{sel}}}) or vector(0)",
        "p95-latency": (
            "(histogram_quantile(0.95, sum by (le) "
            f"(rate(vllm:e2e_request_latency_seconds_bucket{{{sel}}}[{window}]))) > 0) or vector(0)"
        ),
    }


def _prometheus_trigger(
    cfg: AwsConfig, name: str, metric_type: str, threshold: float, activation: float
) -> dict[str, Any]:
    server = cfg.prometheus.server_address
    if server is None:  # pragma: no cover - the config refuses autoscaling without it
        raise ValueError("prometheus.serverAddress is required for autoscaling")
    return {
        "type": "prometheus",
        "name": name,
        "metricType": metric_type,
        "metadata": {
            "serverAddress": server,
            "query": queries(cfg)[name],
            "threshold": f"{threshold:g}",
            "activationThreshold": f"{activation:g}",
        },
    }


def external_scaler_address(cfg: AwsConfig) -> str:
    return f"{EXTERNAL_SCALER_SERVICE}.{cfg.autoscaling.keda.namespace}:{EXTERNAL_SCALER_PORT}"


def scaled_object(cfg: AwsConfig) -> CustomResourceManifest:
    s = cfg.autoscaling
    triggers = [
        # Total work per replica: the HPA keeps sum / replicas near the target.
        _prometheus_trigger(
            cfg, "in-flight", "AverageValue", s.target_in_flight_per_replica, s.activation_in_flight
        ),
        # Queued work per replica: the early scale-out signal (vLLM queues without bound).
        _prometheus_trigger(
            cfg, "waiting", "AverageValue", s.target_waiting_per_replica, s.activation_waiting
        ),
        # Guardrail: a Value metric scales by current/target, so a p95 twice the target doubles replicas.
        _prometheus_trigger(
            cfg, "p95-latency", "Value", s.p95_latency_seconds, s.activation_p95_latency_seconds
        ),
    ]
    if s.wake.enabled:
        triggers.append(
            {
                "type": "external-push",
                "name": "wake",
                "metadata": {
                    "scalerAddress": external_scaler_address(cfg),
                    "interceptorRoute": cfg.service_name,
                },
            }
        )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": _metadata(cfg, cfg.service_name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": cfg.service_name},
            "minReplicaCount": s.min_replicas,
            "maxReplicaCount": s.max_replicas,
            "pollingInterval": s.polling_interval_seconds,
            "cooldownPeriod": s.cooldown_seconds,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        # One GPU replica at a time each way: a new replica may need a new node, and
                        # removing two at once would halve capacity on a metric blip.
                        "scaleUp": {
                            "stabilizationWindowSeconds": 0,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                        },
                        "scaleDown": {
                            "stabilizationWindowSeconds": s.scale_down_stabilization_seconds,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
                        },
                    }
                }
            },
            "triggers": triggers,
        },
    }


def wake_service_name(cfg: AwsConfig) -> str:
    return f"{cfg.service_name}-wake"


def wake_hosts(cfg: AwsConfig) -> list[str]:
    """Every ``Host`` a client of the wake Service may send (short and qualified names): the
    interceptor routes by the Host header, without its port (0.14+ strips it from both the request
    and the route's hosts, pkg/routing)."""
    name, ns = wake_service_name(cfg), cfg.namespace
    return [name, f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.cluster.local"]


def wake_base_url(cfg: AwsConfig) -> str:
    return f"http://{wake_service_name(cfg)}.{cfg.namespace}.svc.cluster.local:{INTERCEPTOR_PORT}/v1"


def interceptor_route(cfg: AwsConfig) -> CustomResourceManifest:
    """The judge's route through the interceptor: its wake Service's names only (never a catch-all),
    held while the judge scales from zero for ``hold_seconds``, then vLLM's response headers awaited
    for ``response_timeout_seconds``; no total deadline of the interceptor's own (the caller's
    time-out decides). Concurrency is the metric the ScaledObject's wake trigger reads."""
    s = cfg.autoscaling
    wake = s.wake
    return {
        "apiVersion": "http.keda.sh/v1beta1",
        "kind": "InterceptorRoute",
        "metadata": _metadata(cfg, cfg.service_name),
        "spec": {
            "target": {"service": cfg.service_name, "port": cfg.vllm.port},
            "rules": [{"hosts": wake_hosts(cfg)}],
            "scalingMetric": {"concurrency": {"targetValue": s.target_in_flight_per_replica}},
            "timeouts": {
                "readiness": _go_duration(wake.hold_seconds),
                "responseHeader": _go_duration(wake.response_timeout_seconds),
                "request": "0s",
            },
        },
    }


def wake_service(cfg: AwsConfig) -> ServiceParts:
    """A name in the judge's namespace for the add-on's interceptor (an ExternalName Service: DNS only,
    so the client connects to the interceptor itself and sends this name as its Host)."""
    return {
        "metadata": _metadata(cfg, wake_service_name(cfg)),
        "spec": {
            "type": "ExternalName",
            "external_name": f"{INTERCEPTOR_SERVICE}.{cfg.autoscaling.keda.namespace}.svc.cluster.local",
            "ports": [{"name": "http", "port": INTERCEPTOR_PORT, "protocol": "TCP"}],
        },
    }


def _client_peer(cfg: AwsConfig) -> NetworkPolicyPeerArgsDict:
    """The judge's clients, seen from another namespace: their pod labels in their namespaces (the
    judge's own unless ``networkPolicy.clientNamespaceLabels``)."""
    np = cfg.network_policy
    namespaces = np.client_namespace_labels or {"kubernetes.io/metadata.name": cfg.namespace}
    return {
        "namespace_selector": {"match_labels": dict(namespaces)},
        "pod_selector": {"match_labels": dict(np.client_pod_labels)},
    }


def interceptor_network_policy(cfg: AwsConfig) -> NetworkPolicyParts:
    """Who may reach the interceptor the stack installs. Anyone who can send it a request with the
    wake Host reaches the judge through it, so it admits what the judge itself admits, on the proxy
    port: ``networkPolicy.clientPodLabels`` (in ``clientNamespaceLabels``, or the judge's namespace).
    And the add-on's own scaler on the admin port, where it reads each interceptor's queue by pod IP
    (pkg/k8s/endpoints.go); without it scaling stalls. The kubelet's probes (admin port) come from the
    pod's own node, which a policy always admits. Ingress only: the interceptor watches the API server
    and forwards to the judge, whose own policy admits it."""
    release = {"app.kubernetes.io/instance": HTTP_ADDON_RELEASE}
    namespace = cfg.autoscaling.keda.namespace
    scaler: NetworkPolicyPeerArgsDict = {"pod_selector": {"match_labels": {**SCALER_PODS, **release}}}
    return {
        "metadata": {
            "name": f"{cfg.service_name}-wake",
            "namespace": namespace,
            "labels": {**COMPONENT_LABEL, **PART_OF},
        },
        "spec": {
            "pod_selector": {"match_labels": {**INTERCEPTOR_PODS, **release}},
            "policy_types": ["Ingress"],
            "ingress": [
                {"from_": [_client_peer(cfg)], "ports": [{"port": INTERCEPTOR_PORT, "protocol": "TCP"}]},
                {"from_": [scaler], "ports": [{"port": INTERCEPTOR_ADMIN_PORT, "protocol": "TCP"}]},
            ],
        },
    }
