"""Wait until Cloud Monitoring knows the log-based metrics, so that the alert policies reading them can be
created in the same ``pulumi up``.

Cloud Monitoring refuses an alert policy that names a log-based metric created seconds earlier: ``Error
404: Cannot find metric(s) that match type = "logging.googleapis.com/user/..." If a metric was created
recently, it could take up to 10 minutes to become available`` (hashicorp/terraform-provider-google#11102,
still open; the provider retries Monitoring calls only on 409 concurrent edits, so neither it nor
``custom_timeouts`` helps). A dependency alone orders the calls but does not wait for the metric to
propagate.

``MetricsVisible`` is a Pulumi dynamic resource (it runs in Pulumi's own Python provider host: no
provider plugin to install) whose create asks Monitoring for each metric's descriptor
(``GET https://monitoring.googleapis.com/v3/projects/PROJECT/metricDescriptors/TYPE``) until every one is
found, at most ``WAIT_SECONDS``. The alert policies that read a log-based metric depend on it. It waits
only when created, or replaced because the set of metrics changed (a stack that enables collect gets a
new metric); a later ``up`` finds nothing to do. It is authorised with the access token of the
credentials the gcp provider uses (``gcp.organizations.getClientConfig``), so it needs no credentials of
its own, and the deployer needs ``monitoring.metricDescriptors.get`` (``roles/monitoring.viewer``; the
Monitoring editor roles have it).

Everything here is standard library plus ``pulumi.dynamic``: Pulumi pickles the provider and imports this
module again in its provider host.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider
from pulumi.runtime.rpc import unwrap_rpc_secret

MONITORING = "https://monitoring.googleapis.com"
WAIT_SECONDS = 600.0
"""Google's own bound ("could take up to 10 minutes to become available")."""
POLL_SECONDS = 10.0
REQUEST_TIMEOUT_SECONDS = 30.0
# Answers that may go away on their own: keep polling until the deadline.
_TRANSIENT = frozenset({404, 429, 500, 502, 503, 504})
# Inputs whose change means other metrics to wait for; the token changes on every run and means nothing.
_IDENTITY = ("project", "metric_types", "endpoint")


class MetricsNotVisible(RuntimeError):
    pass


def descriptor_url(endpoint: str, project: str, metric_type: str) -> str:
    """``projects.metricDescriptors.get`` of ``metric_type`` (its slashes stay: the name is ``**``)."""
    quoted = urllib.parse.quote(metric_type, safe="/")
    return f"{endpoint.rstrip('/')}/v3/projects/{project}/metricDescriptors/{quoted}"


def _status(url: str, token: str) -> tuple[int, str]:
    """HTTP status and the start of the body of GET ``url``; 0 when no answer came."""
    # https://monitoring.googleapis.com, or a test's loopback server.
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(500).decode("utf-8", "replace")
    except (urllib.error.URLError, TimeoutError) as exc:
        return 0, str(exc)


def wait_for_metrics(
    *,
    endpoint: str,
    project: str,
    metric_types: Sequence[str],
    token: str,
    timeout_s: float = WAIT_SECONDS,
    poll_s: float = POLL_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll until Monitoring finds every metric type; the seconds it took. Raises ``MetricsNotVisible``
    at the deadline, or at once on an answer that waiting cannot change (no permission, bad request)."""
    started = clock()
    missing = list(metric_types)
    last = ""
    while True:
        still: list[str] = []
        for metric_type in missing:
            status, body = _status(descriptor_url(endpoint, project, metric_type), token)
            if status == 200:
                continue
            if status and status not in _TRANSIENT:
                raise MetricsNotVisible(
                    f"Cloud Monitoring answered {status} when asked for the metric {metric_type}: "
                    f"{body.strip()[:300]} (the deployer needs monitoring.metricDescriptors.get, e.g. "
                    "roles/monitoring.viewer)"
                )
            still.append(metric_type)
            last = f"{status or 'no answer'} {body.strip()[:200]}".strip()
        missing = still
        waited = clock() - started
        if not missing:
            return waited
        if waited + poll_s > timeout_s:
            raise MetricsNotVisible(
                f"Cloud Monitoring does not know the log-based metric(s) {', '.join(missing)} "
                f"{waited:.0f} s after they were created (last answer: {last}); the alert policies that "
                "read them would be refused. Run `pulumi up` again in a few minutes: what was created is kept"
            )
        sleep(poll_s)


class MetricsVisibleProvider(ResourceProvider):
    """Create waits for the metrics; nothing to update, read or delete (it owns nothing in the cloud)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        types = list(props["metric_types"])
        waited = wait_for_metrics(
            endpoint=props["endpoint"],
            project=props["project"],
            metric_types=types,
            token=str(unwrap_rpc_secret(props["access_token"])),
            timeout_s=WAIT_SECONDS,
            poll_s=POLL_SECONDS,
        )
        outs = {key: props[key] for key in _IDENTITY}
        outs["waited_seconds"] = waited
        return CreateResult(id_=f"{props['project']}/{len(types)}-metrics", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in _IDENTITY if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=False)


class MetricsVisible(Resource, module="gcp", name="MetricsVisible"):
    """A point in the deployment after which Monitoring knows ``metric_types``."""

    def __init__(
        self,
        name: str,
        *,
        project: str,
        metric_types: Sequence[str],
        access_token: pulumi.Input[str],
        endpoint: str = MONITORING,
        opts: pulumi.ResourceOptions | None = None,
    ):
        props: dict[str, Any] = {
            "project": project,
            "metric_types": sorted(metric_types),
            "endpoint": endpoint,
            "access_token": pulumi.Output.secret(access_token),
        }
        super().__init__(MetricsVisibleProvider(), name, props, opts)
