"""Operations commands (list, verify, cleanup, wait) on a models dir with two revisions, in-process."""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
from pathlib import Path

import pytest
from filelock import FileLock

from app.model_loader import layout
from app.model_loader.cli import main
from app.model_loader.errors import EXIT_INVALID, EXIT_OK, EXIT_TIMEOUT, EXIT_USAGE
from app.model_loader.service import Backoff, wait
from tests.app.model_loader.conftest import REPO_ID

pytestmark = pytest.mark.integration


@pytest.fixture
def two_revisions(hub, hf_hub, store, models_dir) -> tuple[str, str]:
    """v1 downloaded first, then v2 downloaded and served."""
    store.ensure(REPO_ID, "v1", hf_hub)
    store.ensure(REPO_ID, "v2", hf_hub)
    return hub.repos[REPO_ID].refs["v1"], hub.repos[REPO_ID].refs["v2"]


def run(capsys, models_dir: Path, *args: str) -> tuple[int, str]:
    code = main([args[0], "--models-dir", str(models_dir), "--log-format", "text", *args[1:]])
    return code, capsys.readouterr().out


def test_list_shows_each_revision_with_refs_status_and_the_served_one(capsys, models_dir, two_revisions):
    v1, v2 = two_revisions
    code, out = run(capsys, models_dir, "list", "--json")
    items = {item["commit"]: item for item in json.loads(out)}

    assert code == EXIT_OK
    assert set(items) == {v1, v2}
    assert (items[v1]["refs"], items[v1]["status"], items[v1]["served"]) == (["v1"], "complete", False)
    assert (items[v2]["refs"], items[v2]["status"], items[v2]["served"]) == (["v2"], "complete", True)
    assert items[v2]["size_bytes"] == 98386

    code, table = run(capsys, models_dir, "list")
    served_rows = [line for line in table.splitlines() if " yes " in line]
    assert len(served_rows) == 1
    assert v2[:12] in served_rows[0]


def test_verify_checks_sizes_and_deep_verify_catches_same_size_corruption(capsys, models_dir, two_revisions):
    weights = models_dir / "acme_tiny-judge" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[100] ^= 0x01
    weights.write_bytes(bytes(data))

    quick_code, quick_out = run(capsys, models_dir, "verify")
    deep_code, deep_out = run(capsys, models_dir, "verify", "--deep")

    assert quick_code == EXIT_OK, "sizes still match"
    assert quick_out.startswith("OK")
    assert deep_code == EXIT_INVALID
    assert "FAIL" in deep_out
    assert "model.safetensors: sha256" in deep_out


def test_verify_all_covers_revisions_that_are_not_served(capsys, models_dir, two_revisions):
    v1, _ = two_revisions
    (layout.revision_dir(models_dir, REPO_ID, v1) / "config.json").unlink()

    assert run(capsys, models_dir, "verify")[0] == EXIT_OK
    code, out = run(capsys, models_dir, "verify", "--all")
    assert code == EXIT_INVALID
    assert "config.json: missing" in out


def test_verify_of_a_model_that_is_not_there_fails(capsys, models_dir):
    code, _ = run(capsys, models_dir, "verify", "--repo-id", REPO_ID)
    assert code == EXIT_INVALID


def test_cleanup_dry_run_removes_nothing(capsys, models_dir, two_revisions):
    v1, _ = two_revisions
    code, out = run(capsys, models_dir, "cleanup", "--dry-run", "--json")
    report = json.loads(out)

    assert code == EXIT_OK
    assert [item["commit"] for item in report["removed"]] == [v1]
    assert layout.revision_dir(models_dir, REPO_ID, v1).is_dir()


def test_cleanup_keeps_the_served_revision_and_what_is_kept(capsys, models_dir, two_revisions):
    v1, v2 = two_revisions
    code, out = run(capsys, models_dir, "cleanup", "--keep", f"{REPO_ID}@v1", "--json")
    report = json.loads(out)
    assert code == EXIT_OK
    assert report["removed"] == []
    assert {item["commit"]: item["reason"] for item in report["kept"]} == {
        v1: f"--keep {REPO_ID}@v1",
        v2: "served",
    }

    code, _ = run(capsys, models_dir, "cleanup")
    assert code == EXIT_OK
    assert not layout.revision_dir(models_dir, REPO_ID, v1).exists()
    assert layout.revision_dir(models_dir, REPO_ID, v2).is_dir()
    assert not (layout.refs_dir(models_dir, REPO_ID) / "v1").exists(), "refs to removed commits go too"
    assert os.readlink(models_dir / "acme_tiny-judge").endswith(v2)


def test_cleanup_skips_a_locked_model(capsys, models_dir, two_revisions):
    v1, _ = two_revisions
    with FileLock(layout.lock_path(models_dir, REPO_ID)):
        code, out = run(capsys, models_dir, "cleanup", "--json")
    report = json.loads(out)
    assert code == EXIT_OK
    assert report["removed"] == []
    assert report["skipped"][0]["reason"].startswith("locked")
    assert layout.revision_dir(models_dir, REPO_ID, v1).is_dir()


def test_cleanup_removes_stale_partial_downloads(capsys, models_dir, two_revisions):
    stale = layout.tmp_download_dir(models_dir, REPO_ID, "c" * 40, 99999)
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"half")

    code, out = run(capsys, models_dir, "cleanup", "--json")
    assert code == EXIT_OK
    assert [item["kind"] for item in json.loads(out)["removed"]] == ["revision", "partial"]
    assert not stale.exists()


def test_cleanup_rejects_a_bad_keep(capsys, models_dir):
    assert run(capsys, models_dir, "cleanup", "--keep", "not a repo")[0] == EXIT_USAGE


@pytest.mark.parametrize("command", ["download", "serve"])
def test_a_models_dir_that_cannot_be_created_is_a_usage_error_not_a_crash(capsys, tmp_path, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    code = main(
        [command, "--models-dir", str(blocker / "models"), "--log-format", "text", "--repo-id", REPO_ID]
    )

    logged = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert "Traceback" not in logged
    assert f"{blocker / 'models'}: cannot create it" in logged


def test_wait_times_out_with_the_reason_and_never_downloads(store, caplog):
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    code = wait(
        store,
        REPO_ID,
        None,
        timeout=10,
        poll_interval=1,
        progress_interval=5,
        clock=lambda: now[0],
        sleep=sleep,
    )

    assert code == EXIT_TIMEOUT
    assert now[0] == pytest.approx(10)
    messages = [r.getMessage() for r in caplog.records if getattr(r, "event", "") == "wait.timeout"]
    assert messages
    assert "is not on this node yet" in messages[0]
    assert not (store.root / ".store").exists()


def test_wait_for_a_revision_is_not_satisfied_by_another(store, two_revisions):
    assert wait(store, REPO_ID, "v2", timeout=0, poll_interval=1, progress_interval=1) == EXIT_OK
    assert (
        wait(store, REPO_ID, two_revisions[1][:10], timeout=0, poll_interval=1, progress_interval=1)
        == EXIT_OK
    )
    assert wait(store, REPO_ID, "v1", timeout=0, poll_interval=1, progress_interval=1) == EXIT_TIMEOUT


def test_backoff_grows_to_its_cap_and_resets():
    backoff = Backoff(1, 8)
    ceilings = [1, 2, 4, 8, 8]
    delays = [backoff.next_delay() for _ in ceilings]
    assert all(ceiling / 2 <= d <= ceiling for d, ceiling in zip(delays, ceilings, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_wait_on_a_read_only_mount_reports_a_download_in_progress(store, models_dir, monkeypatch, caplog):
    """vLLM's init container mounts the models dir read-only: `wait` must not open anything for writing."""
    caplog.set_level(logging.INFO)
    partial = layout.tmp_download_dir(models_dir, REPO_ID, "d" * 40, 4242)
    partial.mkdir(parents=True)
    (partial / "model.safetensors").write_bytes(b"x" * 100)
    lock_path = layout.lock_path(models_dir, REPO_ID)
    lock_path.parent.mkdir()
    lock_path.touch()
    holder = os.open(lock_path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)  # what a downloading loader holds
    writes: list[str] = []
    real_open = os.open

    def read_only_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            writes.append(str(path))
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    def read_only_mkdir(path, *args, **kwargs):
        writes.append(str(path))
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(os, "open", read_only_open)
    monkeypatch.setattr(os, "mkdir", read_only_mkdir)
    try:
        code = wait(store, REPO_ID, None, timeout=0, poll_interval=1, progress_interval=1)
    finally:
        os.close(holder)

    assert code == EXIT_TIMEOUT
    assert writes == []
    pending = [r.getMessage() for r in caplog.records if getattr(r, "event", "") == "wait.pending"]
    assert "download in progress" in pending[0]
