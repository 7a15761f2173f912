"""A small Cloud Monitoring server for tests: ``projects.metricDescriptors.get`` only.

It follows the Monitoring API v3 REST reference: ``GET /v3/projects/{project}/metricDescriptors/{type}``
(the name pattern is ``projects/*/metricDescriptors/**``, so a type's slashes stay in the path) answers
200 with the MetricDescriptor, or 404 with Google's error body (``{"error": {"code": 404, "message":
..., "status": "NOT_FOUND"}}``) for a metric it does not know, and 401 UNAUTHENTICATED without a bearer
token. A log-based metric is unknown for a while after it is created (the delay that makes an alert
policy's create fail with "Cannot find metric(s)"): ``appear_after(type, n)`` answers 404 to the first
``n`` requests for it. ``deny(status)`` answers every request with that error, as a missing permission
(403 PERMISSION_DENIED) does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

_PREFIX = "/v3/projects/"
_STATUS = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 503: "UNAVAILABLE"}


@dataclass
class FakeMonitoringState:
    token: str
    missing_for: dict[str, int] = field(default_factory=dict)
    """Metric type -> requests still answered 404; types absent here are unknown for good."""
    known: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """``(path, Authorization header)`` of every request."""
    denied: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeMonitoring:
    def __init__(self, token: str) -> None:
        self.state = FakeMonitoringState(token=token)
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str) -> None:
                self._answer(
                    status, {"error": {"code": status, "message": message, "status": _STATUS[status]}}
                )

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                with state.lock:
                    state.requests.append((self.path, auth))
                project, sep, metric_type = self.path.removeprefix(_PREFIX).partition("/metricDescriptors/")
                if not self.path.startswith(_PREFIX) or not sep:
                    self._error(404, f"no such method: {self.path}")
                    return
                if auth != f"Bearer {state.token}":
                    self._error(401, "Request had invalid authentication credentials.")
                    return
                if state.denied is not None:
                    self._error(state.denied, "Permission monitoring.metricDescriptors.get denied.")
                    return
                metric_type = unquote(metric_type)
                with state.lock:
                    left = state.missing_for.get(metric_type)
                    if left is not None and left > 0:
                        state.missing_for[metric_type] = left - 1
                    elif left is not None:
                        state.known.add(metric_type)
                    found = metric_type in state.known
                if not found:
                    self._error(404, f"Could not find descriptor for metric '{metric_type}'.")
                    return
                self._answer(
                    200,
                    {
                        "name": f"projects/{project}/metricDescriptors/{metric_type}",
                        "type": metric_type,
                        "metricKind": "DELTA",
                        "valueType": "INT64",
                        "unit": "1",
                    },
                )

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits for one.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def appear_after(self, metric_type: str, requests: int) -> None:
        with self.state.lock:
            self.state.missing_for[metric_type] = requests

    def deny(self, status: int) -> None:
        self.state.denied = status

    def __enter__(self) -> FakeMonitoring:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
