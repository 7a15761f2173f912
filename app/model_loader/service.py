"""The long-running and polling modes: `serve` (DaemonSet), `wait` (vLLM init container), and the
download retry policy shared with the one-shot commands."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict

from app.model_loader import layout
from app.model_loader.errors import (
    EXIT_OK,
    EXIT_TIMEOUT,
    HubUnreachableError,
    InsufficientSpaceError,
    LoaderError,
    LoaderTimeoutError,
    ModelInvalidError,
)
from app.model_loader.logs import EventLogger
from app.model_loader.metrics import LoaderMetrics
from app.model_loader.probe_server import ProbeServer, ServeState
from app.model_loader.remote import Hub
from app.model_loader.settings import LoaderSettings
from app.model_loader.store import EnsureResult, ModelStore

log = EventLogger("model_loader.service")

# Worth another attempt later: the hub may come back, space may be freed, a transfer may succeed.
RETRYABLE = (HubUnreachableError, InsufficientSpaceError, ModelInvalidError, LoaderTimeoutError)


class Backoff:
    """Exponential backoff with full jitter, capped; `reset()` after a success."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial, self.maximum = initial, maximum
        self._next = initial
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security

    def next_delay(self) -> float:
        delay = self._rng.uniform(self._next / 2, self._next)
        self._next = min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


def ensure_with_retries(
    store: ModelStore,
    hub: Hub,
    settings: LoaderSettings,
    *,
    attempts: int,
    stop: threading.Event | None = None,
    **ensure_kwargs: bool,
) -> EnsureResult:
    """`store.ensure` with bounded retries of transient failures (one-shot commands)."""
    repo_id = settings.require_repo_id()
    backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)
    for attempt in range(1, attempts + 1):
        try:
            return store.ensure(repo_id, settings.target_revision, hub, cancel=stop, **ensure_kwargs)
        except RETRYABLE as exc:
            if attempt == attempts or isinstance(exc, InsufficientSpaceError):
                raise
            delay = backoff.next_delay()
            log.warning(
                "download.retry",
                f"attempt {attempt}/{attempts} failed: {exc}; retrying in {delay:.1f}s",
                attempt=attempt,
                error=type(exc).__name__,
            )
            if stop is not None and stop.wait(delay):
                raise
            if stop is None:
                time.sleep(delay)
    raise AssertionError("unreachable")


# ---- serve ------------------------------------------------------------------------------------------------
def serve(settings: LoaderSettings, store: ModelStore, hub_factory: Callable[[], Hub]) -> int:
    """Converge to the configured revision, then stay up answering probes until SIGTERM.

    Transient failures (hub down, disk full, a corrupted transfer) are retried forever with capped
    exponential backoff while `/readyz` says why it is not ready; a permanent one (repo or revision not
    found, token refused, bad configuration) ends the process with its exit code, so the pod shows the
    error and Kubernetes' own restart backoff paces further attempts.
    """
    repo_id = settings.require_repo_id()
    dir_name = layout.model_dir_name(repo_id)
    state = ServeState(repo_id, settings.target_revision)
    stop = threading.Event()
    outcome: dict[str, int] = {"exit": EXIT_OK}

    def progress() -> dict:
        current = store.progress(dir_name)
        return {"progress": asdict(current)} if current is not None else {}

    metrics = LoaderMetrics(state, lambda: store.progress(dir_name))
    server = ProbeServer(settings.bind, settings.port, state, progress, metrics.render)
    server.start()
    log.info(
        "serve.start",
        f"probes on {settings.bind}:{server.port} (/healthz, /readyz, /metrics)",
        port=server.port,
    )

    def on_signal(signum: int, _frame: object) -> None:
        log.info("serve.signal", f"received {signal.Signals(signum).name}, shutting down")
        state.set("stopping", "shutting down")
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)

    def converge_loop() -> None:
        backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)
        deep = settings.deep_verify_on_start
        hub: Hub | None = None
        while not stop.is_set():
            try:
                state.set("downloading", f"making {repo_id}@{settings.target_revision} present")
                hub = hub or hub_factory()
                result = store.ensure(repo_id, settings.target_revision, hub, deep_check=deep, cancel=stop)
                deep = False
            except RETRYABLE as exc:
                if stop.is_set():
                    return
                delay = backoff.next_delay()
                metrics.retried()
                state.set("retrying", f"{exc} (next attempt in {delay:.0f}s)")
                log.error("serve.retry", f"{exc}; retrying in {delay:.1f}s", error=type(exc).__name__)
                stop.wait(delay)
                continue
            except LoaderError as exc:
                state.set("failed", str(exc))
                log.error("serve.failed", str(exc), error=type(exc).__name__, exit_code=exc.exit_code)
                outcome["exit"] = exc.exit_code
                stop.set()
                return
            except Exception as exc:
                state.set("failed", f"internal error: {exc}")
                log.error("serve.crash", f"internal error: {exc}", exc_info=True)
                outcome["exit"] = 1
                stop.set()
                return
            backoff.reset()
            if result.downloaded:
                metrics.downloaded(result.manifest.total_size)
            metrics.verified(time.time())
            commit = result.manifest.commit
            state.set("ready", f"{repo_id}@{commit[:12]} complete", ready=True, commit=commit)
            log.info(
                "serve.ready", f"{repo_id}@{commit[:12]} is ready at {store.root / dir_name}", commit=commit
            )
            # Re-check what is served; if a file disappears or shrinks, report unready and converge again.
            while not stop.wait(settings.recheck_interval):
                now = store.readiness(repo_id)
                if now.ready:
                    metrics.verified(time.time())
                if not now.ready:
                    state.set("downloading", now.reason)
                    log.warning("serve.unready", f"model became invalid: {now.reason}", state=now.state)
                    break
                if now.manifest is not None and now.manifest.commit != state.snapshot().commit:
                    state.set(
                        "ready",
                        f"{repo_id}@{now.manifest.commit[:12]} complete",
                        ready=True,
                        commit=now.manifest.commit,
                    )

    worker = threading.Thread(target=converge_loop, name="converge", daemon=True)
    worker.start()
    while not stop.wait(0.5):
        pass
    # A download in progress is abandoned: its temp tree is resumed by the next run.
    worker.join(timeout=2)
    server.stop()
    log.info("serve.stop", "stopped", exit_code=outcome["exit"])
    return outcome["exit"]


# ---- wait -----------------------------------------------------------------------------------------------
def wait(
    store: ModelStore,
    repo_id: str,
    revision: str | None,
    *,
    timeout: float,
    poll_interval: float,
    progress_interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Poll until the served model is complete (and is `revision`, if given); never downloads."""
    deadline = clock() + timeout
    last_state = None
    last_log = float("-inf")
    while True:
        status = store.readiness(repo_id, revision)
        if status.ready:
            log.info("wait.ready", status.reason)
            return EXIT_OK
        now = clock()
        if status.state != last_state or now - last_log >= progress_interval:
            log.info("wait.pending", f"waiting: {status.reason}", state=status.state)
            last_state, last_log = status.state, now
        if now >= deadline:
            log.error(
                "wait.timeout",
                f"{repo_id} not ready after {timeout:g}s: {status.reason}. Check the model-loader pod"
                " on this node (kubectl logs) and `python -m app.model_loader list` there.",
                state=status.state,
            )
            return EXIT_TIMEOUT
        sleep(max(0.0, min(poll_interval, deadline - now)))
