"""``llm-judge:aws`` sections that decide when GPUs run: the cluster-autoscaler (nodes) and KEDA with
its HTTP add-on (judge replicas, the wake-up path at zero). The Prometheus the scaling queries read is
in aws_monitoring.py.

Cross-section checks (``maxReplicas`` against the node group, the autoscaler against the cluster's
Kubernetes version) live in ``check_scaling`` in aws.py, beside ``AwsConfig``, the one model that sees
every section: one function, so the rules are read in one place, and this module imports nothing
of aws.py's.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from .base import ConfigModel, Problems, pattern
from .k8s_values import Namespace

_CHART_VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+$")
_IMAGE_TAG = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+$")

ChartVersion = Annotated[
    str, AfterValidator(pattern(_CHART_VERSION, "a pinned chart version such as '2.21.0'"))
]


class ClusterAutoscalerConfig(ConfigModel):
    """``clusterAutoscaler``: the official cluster-autoscaler Helm chart, deployed by the stack, so the
    GPU node group really follows the pods (to zero in dev). It only ever scales Auto Scaling groups
    tagged ``llm-judge:autoscaler=<stack>`` (this stack's), never the cluster's other groups."""

    enabled: bool | None = None
    """Install it. None: on a cluster the stack creates, yes; on an existing cluster, no (it may already
    run a cluster-autoscaler or Karpenter, which would fight a second one over the GPU group): say
    ``true`` there to install one anyway, or ``false`` to leave the GPU group to the cluster's own
    (docs/aws.md, "The GPU group on a shared cluster")."""
    namespace: Namespace | None = None
    """None: a namespace of its own, ``llm-judge-<stack>-cluster-autoscaler``, created by the stack (and
    removed by ``destroy``), on a created and an existing cluster alike: a cluster-autoscaler elects its
    leader on the Lease ``cluster-autoscaler`` of its namespace, so one beside the cluster's own (or
    another stack's) would take turns with it. A namespace named here is created too unless every
    cluster has it (``kube-system``, ``default``, ...); ``kube-system`` on an existing cluster is warned
    of (docs/aws.md, "The GPU group on a shared cluster")."""
    chart_version: ChartVersion | None = None
    """Override of the chart version; None: the version pinned for the cluster's Kubernetes minor
    (components/aws/autoscaler_versions.py)."""
    image_tag: (
        Annotated[str, AfterValidator(pattern(_IMAGE_TAG, "an image tag such as 'v1.33.6'"))] | None
    ) = None
    """Override of the cluster-autoscaler image tag; None: the patch release pinned for the minor."""
    install_pod_identity_agent: bool | None = None
    """Install the ``eks-pod-identity-agent`` add-on (the autoscaler's AWS identity needs it).
    None: install it on a cluster the stack creates; on an existing one the plan checks that the
    add-on is there and stops, naming the fix, when it is not."""
    scale_down_unneeded_seconds: int = Field(default=600, ge=60, le=86400)
    """How long a node must be unneeded before it is removed (``--scale-down-unneeded-time``)."""
    scale_down_delay_after_add_seconds: int = Field(default=600, ge=0, le=86400)
    """No scale-down evaluation for this long after a scale-up (``--scale-down-delay-after-add``)."""
    max_node_provision_seconds: int = Field(default=900, ge=300, le=3600)
    """A node that has not registered after this long counts as failed (``--max-node-provision-time``);
    GPU nodes boot slower than CPU nodes."""
    expander: Literal["least-waste", "random", "most-pods", "price", "priority"] = "least-waste"


class KedaConfig(ConfigModel):
    """``autoscaling.keda``: the KEDA operator. ``install: false`` where the cluster already runs it."""

    install: bool = True
    namespace: Namespace = "keda"
    # renovate: datasource=helm depName=keda registryUrl=https://kedacore.github.io/charts
    chart_version: ChartVersion = "2.21.0"
    """A release that exists (components/lifecycle.py: its source; a ``2.21.1`` pinned before was not
    found upstream). KEDA supports a minor until the second one after it ships."""


def _routes_supported(version: str) -> str:
    if tuple(int(part) for part in version.split(".")) < (0, 14, 0):
        raise ValueError(
            f"{version} predates InterceptorRoute (keda-add-ons-http 0.14.0), which the wake path uses: "
            "use 0.14.0 or newer"
        )
    return version


class WakeConfig(ConfigModel):
    """``autoscaling.wake``: KEDA's HTTP add-on in front of the judge. Its interceptor holds a request
    that arrives at zero replicas while KEDA scales the judge (and the cluster-autoscaler a GPU node)
    up, then forwards it. Needed whenever ``minReplicas`` is 0."""

    enabled: bool = False
    install: bool = True
    """Install the add-on's chart (into ``autoscaling.keda.namespace``); false where it runs already.
    Only an interceptor the stack installs gets a NetworkPolicy of the stack's (admitting only
    ``networkPolicy.clientPodLabels``): someone else's may serve other teams' routes too."""
    # renovate: datasource=helm depName=keda-add-ons-http registryUrl=https://kedacore.github.io/charts
    chart_version: Annotated[ChartVersion, AfterValidator(_routes_supported)] = "0.15.0"
    """``keda-add-ons-http`` chart; 0.14 or newer (the ``InterceptorRoute`` the wake path uses)."""
    hold_seconds: int = Field(default=120, ge=10, le=3600)
    """How long the interceptor holds a request for a ready replica before it answers 504 Gateway
    Timeout (the route's ``timeouts.readiness``); the caller retries, each retry keeps the wake-up
    going."""
    response_timeout_seconds: int = Field(default=600, ge=30, le=3600)
    """How long the interceptor waits for vLLM's response headers (a whole non-streamed completion;
    the route's ``timeouts.responseHeader``, whose default would be 300 s), then 504."""


class AutoscalingConfig(ConfigModel):
    """``autoscaling``: judge replicas follow vLLM's own queue (KEDA ScaledObject on Prometheus), with a
    p95-latency guardrail. Needs ``prometheus.serverAddress``. Off: ``vllm.replicas`` fixed."""

    enabled: bool = False
    min_replicas: int = Field(default=1, ge=0)
    """0 lets the judge (and with it the GPU node) go away when idle; needs ``wake.enabled``."""
    max_replicas: int = Field(default=1, ge=1)
    """At most ``nodeGroup.maxSize`` x GPUs per node / ``vllm.gpus`` (checked)."""
    polling_interval_seconds: int = Field(default=15, ge=5, le=300)
    cooldown_seconds: int = Field(default=900, ge=60, le=86400)
    """Idle time before the last replica goes (KEDA ``cooldownPeriod``; only for ``minReplicas: 0``)."""
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=3600)
    """The HPA removes a replica only after the metrics have wanted fewer for this long."""
    target_in_flight_per_replica: int = Field(default=16, ge=1)
    """Requests in flight per replica the HPA aims at (``vllm:num_requests_running`` + ``_waiting``)."""
    activation_in_flight: int = Field(default=0, ge=0)
    """A replica counts as busy (not idle) above this many in-flight requests."""
    target_waiting_per_replica: int = Field(default=4, ge=1)
    """Queued requests per replica (``vllm:num_requests_waiting``): the scale-out signal under load."""
    activation_waiting: int = Field(default=0, ge=0)
    p95_latency_seconds: float = Field(default=30.0, gt=0)
    """Guardrail: p95 end-to-end latency above this adds replicas even when the queue looks short."""
    activation_p95_latency_seconds: float = Field(default=5.0, ge=0)
    latency_window: Annotated[
        str, AfterValidator(pattern(re.compile(r"^[0-9]+[sm]$"), "a window such as '2m'"))
    ] = "2m"
    """PromQL range of the latency quantile."""
    keda: KedaConfig = Field(default_factory=KedaConfig)
    wake: WakeConfig = Field(default_factory=WakeConfig)

    @model_validator(mode="after")
    def _check(self) -> AutoscalingConfig:
        p = Problems()
        p.check(
            self.min_replicas <= self.max_replicas,
            "minReplicas",
            f"{self.min_replicas} is greater than maxReplicas {self.max_replicas}",
        )
        for target, t, activation, a in (
            (
                "targetInFlightPerReplica",
                self.target_in_flight_per_replica,
                "activationInFlight",
                self.activation_in_flight,
            ),
            (
                "targetWaitingPerReplica",
                self.target_waiting_per_replica,
                "activationWaiting",
                self.activation_waiting,
            ),
            (
                "p95LatencySeconds",
                self.p95_latency_seconds,
                "activationP95LatencySeconds",
                self.activation_p95_latency_seconds,
            ),
        ):
            p.check(
                a < t,
                activation,
                f"{a:g} must be below {target} {t:g}: activation decides idle/busy, the target decides "
                "how many replicas; equal values would wake a GPU exactly when one more is needed",
            )
        if self.enabled and self.min_replicas == 0:
            p.check(
                self.wake.enabled,
                "minReplicas",
                "0 needs wake.enabled: true, or a request that arrives at zero replicas meets a refused "
                "connection and nothing wakes the judge (set minReplicas: 1 to keep one warm instead)",
            )
        p.raise_if_any()
        return self
