"""HTTP probes of `serve`: `GET /healthz` (200 while the process runs), `GET /readyz` (200 only when the
model is complete and valid, 503 otherwise, JSON body saying why) and `GET /metrics` (Prometheus text,
app/model_loader/metrics.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ServeStatus:
    ready: bool
    state: str  # starting | downloading | retrying | ready | failed | stopping
    detail: str
    repo_id: str
    revision: str
    commit: str | None = None
    since: str = ""
    since_epoch: float | None = None


class ServeState:
    """Shared between the converge loop (writer) and the probe handlers (readers)."""

    def __init__(self, repo_id: str, revision: str) -> None:
        self._lock = threading.Lock()
        self._status = ServeStatus(
            False, "starting", "starting up", repo_id, revision, since=_now(), since_epoch=time.time()
        )

    def set(self, state: str, detail: str, *, ready: bool = False, commit: str | None = None) -> None:
        with self._lock:
            changed = self._status.state != state
            self._status = ServeStatus(
                ready,
                state,
                detail,
                self._status.repo_id,
                self._status.revision,
                commit if commit is not None else self._status.commit,
                _now() if changed else self._status.since,
                time.time() if changed else self._status.since_epoch,
            )

    def snapshot(self) -> ServeStatus:
        with self._lock:
            return ServeStatus(**asdict(self._status))


class ProbeServer:
    def __init__(
        self,
        bind: str,
        port: int,
        state: ServeState,
        extra: Callable[[], dict] | None = None,
        metrics: Callable[[], bytes] | None = None,
    ) -> None:
        probe_state = state
        progress = extra
        render_metrics = metrics

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass  # probes every few seconds would drown the logs

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/healthz":
                    self._reply(200, {"status": "alive"})
                elif path == "/readyz":
                    status = probe_state.snapshot()
                    body = asdict(status)
                    if not status.ready and progress is not None:
                        body.update(progress())
                    body.pop("since_epoch", None)
                    self._reply(200 if status.ready else 503, body)
                elif path == "/metrics" and render_metrics is not None:
                    self._send(200, render_metrics(), "text/plain; version=0.0.4; charset=utf-8")
                else:
                    self._reply(404, {"error": f"no such endpoint {path}; try /healthz, /readyz or /metrics"})

            def _reply(self, code: int, payload: dict) -> None:
                self._send(code, json.dumps(payload).encode(), "application/json")

            def _send(self, code: int, data: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer((bind, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="probe-server", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
