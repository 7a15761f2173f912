"""The real CLI in subprocesses against the fake hub: kills, concurrency, serve probes, update."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.model_loader import layout
from app.model_loader.errors import (
    EXIT_HUB_REFUSED,
    EXIT_INVALID,
    EXIT_NO_SPACE,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
)
from app.model_loader.manifest import read_manifest
from app.model_loader.store import check_tree
from tests.app.model_loader.conftest import REPO_ID, REPO_ROOT, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cost(17)]

FILES = ("config.json", "tokenizer.json", "original/params.json", "model.safetensors")


def _commit(hub, ref: str) -> str:
    return hub.repos[REPO_ID].refs[ref]


def _tmp_trees(models_dir: Path) -> list[Path]:
    root = layout.tmp_root(models_dir)
    return [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []


def test_download_killed_half_way_is_never_complete_and_a_rerun_resumes(hub, models_dir, run_cli, start_cli):
    gate = hub.stall("model.safetensors")
    first = start_cli("download", "--revision", "v1")
    assert gate.reached.wait(30), "the download never reached the weights"
    # The small files finish first: the rerun must reuse them.
    wait_until(
        lambda: all((t / "config.json").exists() for t in _tmp_trees(models_dir)) and _tmp_trees(models_dir)
    )

    mid = json.loads(run_cli("list", "--json").stdout)
    assert [(i["kind"], i["status"]) for i in mid] == [("partial", "downloading")]
    assert run_cli("wait", "--timeout", "0.3").returncode == EXIT_TIMEOUT

    progress = first.wait_for_event("download.progress")
    assert progress["total_bytes"] == 98385
    assert 0 < progress["bytes_done"] < progress["total_bytes"]
    first.proc.send_signal(signal.SIGKILL)
    first.finish()

    served = models_dir / "acme_tiny-judge"
    assert not served.exists(), "a killed download must never be served"
    assert not layout.model_store_dir(models_dir, REPO_ID).joinpath(_commit(hub, "v1")).exists()
    after_kill = json.loads(run_cli("list", "--json").stdout)
    assert [(i["kind"], i["status"]) for i in after_kill] == [("partial", "interrupted")]
    assert run_cli("wait", "--timeout", "0.3").returncode == EXIT_TIMEOUT

    hub.reset_faults()
    rerun = run_cli("download", "--revision", "v1")

    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert check_tree(served.resolve(), deep=True).ok
    assert hub.downloads("config.json") == 1, "files completed before the kill are resumed, not refetched"
    assert _tmp_trees(models_dir) == []
    assert run_cli("wait", "--timeout", "5").returncode == EXIT_OK


def test_two_loaders_on_one_node_download_once_and_both_succeed(hub, models_dir, start_cli):
    gate = hub.stall("model.safetensors")
    first = start_cli("download", "--revision", "v1")
    assert gate.reached.wait(30)
    second = start_cli("download", "--revision", "v1")
    waiting = second.wait_for_event("lock.wait")
    assert waiting["holder"]["pid"] == first.proc.pid

    gate.release()

    assert first.finish() == EXIT_OK
    assert second.finish() == EXIT_OK
    for path in FILES:
        assert hub.downloads(path) == 1, f"{path} fetched more than once"
    second.wait_for_event("download.skip")
    assert check_tree((models_dir / "acme_tiny-judge").resolve(), deep=True).ok


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback test URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _metrics(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` parsed as Prometheus would: (sample name, sorted labels) -> value."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:  # noqa: S310 - loopback test URL
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_serve_reports_ready_only_when_complete_and_stops_on_sigterm(hub, models_dir, start_cli):
    gate = hub.stall("model.safetensors")
    server = start_cli("serve", "--port", "0", "--bind", "127.0.0.1")
    port = server.wait_for_event("serve.start")["port"]
    base = f"http://127.0.0.1:{port}"
    waiter = start_cli("wait", "--timeout", "60")
    assert gate.reached.wait(30)

    assert _get(f"{base}/healthz")[0] == 200
    status, body = _get(f"{base}/readyz")
    assert status == 503
    assert body["state"] == "downloading"
    assert waiter.proc.poll() is None, "wait must not be satisfied by a partial download"
    during = _metrics(base)
    assert during[("model_loader_ready", ())] == 0
    assert during[("model_loader_state", (("state", "downloading"),))] == 1
    assert during[("model_loader_verified", ())] == 0
    assert during[("model_loader_download_bytes", ())] > 0, "the files before the stalled one are on disk"
    assert (
        "model_loader_served_revision_info",
        (("commit", ""), ("repo_id", REPO_ID), ("revision", "main")),
    ) in during

    gate.release()
    wait_until(lambda: _get(f"{base}/readyz")[0] == 200, message="/readyz 200")
    commit = _commit(hub, "main")
    assert _get(f"{base}/readyz")[1]["commit"] == commit
    assert waiter.finish() == EXIT_OK
    after = _metrics(base)
    assert after[("model_loader_ready", ())] == 1
    assert after[("model_loader_state", (("state", "ready"),))] == 1
    assert after[("model_loader_verified", ())] == 1
    assert after[("model_loader_downloads_total", ())] == 1
    served = (("commit", commit), ("repo_id", REPO_ID), ("revision", "main"))
    assert after[("model_loader_served_revision_info", served)] == 1
    size = read_manifest(models_dir / layout.model_dir_name(REPO_ID)).total_size
    assert after[("model_loader_downloaded_bytes_total", ())] == size > 0
    assert after[("model_loader_download_bytes", ())] == 0

    server.proc.send_signal(signal.SIGTERM)
    assert server.finish() == EXIT_OK


def test_sigterm_during_a_download_stops_serve_without_serving_anything(hub, models_dir, start_cli):
    gate = hub.stall("model.safetensors")
    server = start_cli("serve", "--port", "0", "--bind", "127.0.0.1")
    assert gate.reached.wait(30)

    server.proc.send_signal(signal.SIGTERM)

    assert server.finish(timeout=30) == EXIT_OK
    assert not (models_dir / "acme_tiny-judge").exists()
    assert len(_tmp_trees(models_dir)) == 1, "the partial tree stays for the next run to resume"


def test_serve_retries_while_the_hub_is_down_instead_of_exiting(hub, start_cli):
    hub.set_unavailable(True)
    server = start_cli("serve", "--port", "0", "--bind", "127.0.0.1")
    port = server.wait_for_event("serve.start")["port"]
    server.wait_for_event("serve.retry")
    assert _get(f"http://127.0.0.1:{port}/readyz")[1]["state"] == "retrying"
    assert server.proc.poll() is None

    assert _metrics(f"http://127.0.0.1:{port}")[("model_loader_retries_total", ())] >= 1
    hub.set_unavailable(False)
    wait_until(lambda: _get(f"http://127.0.0.1:{port}/readyz")[0] == 200, message="/readyz 200")
    server.proc.send_signal(signal.SIGTERM)
    assert server.finish() == EXIT_OK


def test_serve_exits_with_the_error_code_when_the_repo_does_not_exist(start_cli):
    server = start_cli("serve", "--port", "0", "--bind", "127.0.0.1", "--repo-id", "acme/missing")
    assert server.finish() == EXIT_HUB_REFUSED
    failed = server.wait_for_event("serve.failed")
    assert "repository not found" in failed["message"]


def test_update_switches_revisions_without_ever_serving_a_partial_tree(hub, models_dir, run_cli, loader_env):
    """vLLM may read the served path at any moment: it must always find a complete tree, the old one or
    the new one. The update runs paused for 0.2 s before each change it makes to the served path
    (tests/support/pause_at.py), so a switch that leaves the path missing or wrong for a moment (say, an
    unlink then a symlink instead of one rename(2)) leaves it so for long enough to be seen."""
    assert run_cli("download", "--revision", "v1").returncode == EXIT_OK
    served = models_dir / "acme_tiny-judge"
    hub.slow(0.002)  # a longer transfer, so the watcher sees the old revision during the download
    observations: list[str] = []
    broken: list[str] = []
    done = threading.Event()

    def look() -> None:
        try:
            target = os.readlink(served)
        except OSError as exc:  # absent, or not a symlink: vLLM would find no model there
            broken.append(f"{served}: {exc.strerror}")
            return
        checked = check_tree(models_dir / target)
        observations.append(Path(target).name)
        if not checked.ok:
            broken.append(f"{target}: {checked.problems}")

    def watch() -> None:
        while not done.wait(0.002):  # a few hundred looks per pause
            look()
        look()  # once more after the update ended: the path it left behind

    paused = [sys.executable, "-m", "tests.support.pause_at", "app.model_loader"]
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = subprocess.run(
            [*paused, "update", "--revision", "v2"],
            env={**loader_env, "PAUSE_AT_PATH": str(served), "PAUSE_AT_SECONDS": "0.2"},
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO_ROOT,
        )
    finally:
        done.set()
        watcher.join()

    assert result.returncode == EXIT_OK, result.stderr
    assert broken == [], f"the served path was missing or incomplete {len(broken)} time(s): {broken[:3]}"
    old, new = _commit(hub, "v1"), _commit(hub, "v2")
    assert set(observations) == {old, new}, "the watcher must have seen the old tree, then the new one"
    assert observations[0] == old
    assert observations[-1] == new
    assert Path(os.readlink(served)).name == new
    assert f"switched {old} -> {new}" in result.stdout
    assert layout.revision_dir(models_dir, REPO_ID, old).is_dir(), "the old revision stays until cleanup"


def test_not_enough_space_exits_4_with_a_clear_message(hub, run_cli):
    result = run_cli("download", env={"FREE_SPACE_MARGIN_BYTES": str(1 << 60)})
    assert result.returncode == EXIT_NO_SPACE
    assert "not enough free space" in result.stderr
    assert hub.count("GET", "/cdn/") == 0


def test_corrupted_download_exits_3_naming_the_file(hub, run_cli, models_dir):
    hub.corrupt("model.safetensors")
    result = run_cli("download", env={"DOWNLOAD_ATTEMPTS": "1"})
    assert result.returncode == EXIT_INVALID
    failure = next(json.loads(line) for line in result.stderr.splitlines() if '"download.failed"' in line)
    assert "model.safetensors: sha256" in failure["message"]
    assert not (models_dir / "acme_tiny-judge").exists()


def test_invalid_repo_id_is_a_usage_error_naming_the_setting(run_cli):
    result = run_cli("download", "--repo-id", "acme/../etc")
    assert result.returncode == EXIT_USAGE
    assert "MODEL_REPO_ID" in result.stderr
    assert "invalid Hugging Face repo id" in result.stderr
