"""Fixtures of the model-loader tests: the fake hub, a models dir, and ways to run the real CLI."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.model_loader.store import ModelStore
from tests.support.fake_hf_hub import FakeHfHub

REPO_ROOT = Path(__file__).resolve().parents[3]
REPO_ID = "acme/tiny-judge"


@pytest.fixture
def hub() -> Iterator[FakeHfHub]:
    with FakeHfHub() as fake:
        yield fake


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture
def store(models_dir: Path) -> ModelStore:
    return ModelStore(models_dir, free_space_margin=0, lock_log_interval=0.2, progress_interval=0.2)


@pytest.fixture
def hf_hub(hub: FakeHfHub):
    """The real huggingface_hub-based client, pointed at the fake hub (endpoint passed explicitly)."""
    from app.model_loader.hub import HfHub, quiet_library

    quiet_library()
    return HfHub(endpoint=hub.endpoint, token=None, max_workers=4)


@pytest.fixture
def loader_env(hub: FakeHfHub, models_dir: Path, tmp_path: Path) -> dict[str, str]:
    """Environment of a CLI subprocess: only what the loader and Python need, never the caller's tokens."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING", "MODEL"))}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        HF_ENDPOINT=hub.endpoint,
        HF_HOME=str(tmp_path / "hf-home"),
        MODELS_DIR=str(models_dir),
        MODEL_REPO_ID=REPO_ID,
        FREE_SPACE_MARGIN_BYTES="0",
        LOG_FORMAT="json",
        RETRY_INITIAL_SECONDS="0.1",
        RETRY_MAX_SECONDS="0.5",
        POLL_INTERVAL_SECONDS="0.1",
        PROGRESS_INTERVAL_SECONDS="0.2",
        RECHECK_INTERVAL_SECONDS="0.5",
    )
    return env


@pytest.fixture
def run_cli(loader_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(
        *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.model_loader", *args],
            env={**loader_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO_ROOT,
        )

    return run


class LoaderProcess:
    """A CLI subprocess whose JSON log lines are read as they come, so tests can wait for an event."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.model_loader", *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict] = []
        self._lines: queue.Queue[dict] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "raw", "message": line.rstrip()}
            self.events.append(event)
            self._lines.put(event)

    def wait_for_event(self, name: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        seen = [e for e in self.events if e.get("event") == name]
        if seen:
            return seen[0]
        while time.monotonic() < deadline:
            try:
                event = self._lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self._lines.empty():
                    break
                continue
            if event.get("event") == name:
                return event
        raise AssertionError(f"no {name!r} event; got {[e.get('event') for e in self.events]}")

    def finish(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def stdout(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.read()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def start_cli(loader_env: dict[str, str]) -> Iterator[Callable[..., LoaderProcess]]:
    started: list[LoaderProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> LoaderProcess:
        process = LoaderProcess(list(args), {**loader_env, **(env or {})})
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def wait_until(predicate: Callable[[], object], timeout: float = 30, message: str = "condition") -> object:
    """Poll a condition (tests assert behaviour, so this only bounds how long we look)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {message}")
