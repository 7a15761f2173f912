"""Prometheus metrics of `serve`, on its probe server's `GET /metrics`.

Read at scrape time from the same state `/readyz` answers from, so the two never disagree:

The metrics and their meaning are listed in docs/model-loader.md ("Metrics").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.model_loader.probe_server import ServeState
from app.model_loader.store import Progress

STATES = ("starting", "downloading", "retrying", "ready", "failed", "stopping")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class LoaderMetrics(Collector):
    """The counters `serve` updates, plus a view of its `ServeState` and the download in progress."""

    def __init__(self, state: ServeState, progress: Callable[[], Progress | None] | None = None) -> None:
        self._state = state
        self._progress = progress
        self._lock = threading.Lock()
        self._retries = 0
        self._downloads = 0
        self._downloaded_bytes = 0
        self._verified_at: float | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def retried(self) -> None:
        with self._lock:
            self._retries += 1

    def downloaded(self, size: int) -> None:
        with self._lock:
            self._downloads += 1
            self._downloaded_bytes += size

    def verified(self, at: float) -> None:
        with self._lock:
            self._verified_at = at

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        status = self._state.snapshot()
        with self._lock:
            retries, downloads, size, verified_at = (
                self._retries,
                self._downloads,
                self._downloaded_bytes,
                self._verified_at,
            )
        yield GaugeMetricFamily(
            "model_loader_ready", "1 while the served model is complete and verified", value=int(status.ready)
        )
        states = GaugeMetricFamily("model_loader_state", "1 for the current state", labels=["state"])
        for name in STATES:
            states.add_metric([name], int(status.state == name))
        yield states
        if status.since_epoch is not None:
            yield GaugeMetricFamily(
                "model_loader_state_since_timestamp_seconds",
                "When the current state began (Unix time)",
                value=status.since_epoch,
            )
        yield GaugeMetricFamily(
            "model_loader_verified",
            "1 when the served revision passed its last verification",
            value=int(status.ready and verified_at is not None),
        )
        if verified_at is not None:
            yield GaugeMetricFamily(
                "model_loader_last_verified_timestamp_seconds",
                "Time of the last successful verification (Unix time)",
                value=verified_at,
            )
        info = GaugeMetricFamily(
            "model_loader_served_revision_info",
            "The model this loader serves: configured revision and served commit",
            labels=["repo_id", "revision", "commit"],
        )
        info.add_metric([status.repo_id, status.revision, status.commit or ""], 1)
        yield info
        current = self._progress() if self._progress is not None and not status.ready else None
        yield GaugeMetricFamily(
            "model_loader_download_bytes",
            "Bytes on disk of a download in progress",
            value=current.bytes_done if current is not None else 0,
        )
        if current is not None and current.bytes_total:
            yield GaugeMetricFamily(
                "model_loader_download_total_bytes",
                "Expected size of that download",
                value=current.bytes_total,
            )
        yield CounterMetricFamily(
            "model_loader_downloaded_bytes", "Bytes this process downloaded and verified", value=size
        )
        yield CounterMetricFamily(
            "model_loader_downloads", "Revisions this process downloaded and verified", value=downloads
        )
        yield CounterMetricFamily("model_loader_retries", "Transient failures retried", value=retries)
