"""Downloading through the real huggingface_hub client against the fake hub (in-process)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.model_loader import __version__, layout
from app.model_loader.errors import (
    HubRefusedError,
    HubUnreachableError,
    InsufficientSpaceError,
    ModelInvalidError,
)
from app.model_loader.manifest import read_manifest
from app.model_loader.store import check_tree
from tests.app.model_loader.conftest import REPO_ID
from tests.support.fake_hf_hub import FakeHfHub

pytestmark = pytest.mark.integration


def _files(hub: FakeHfHub, ref: str) -> dict:
    return hub.repos[REPO_ID].resolve(ref).files


def test_complete_download_is_marked_served_and_byte_identical(hub, hf_hub, store, models_dir):
    result = store.ensure(REPO_ID, "main", hf_hub)

    v1 = hub.repos[REPO_ID].resolve("v1")
    link = models_dir / layout.model_dir_name(REPO_ID)
    assert link.is_symlink()
    assert os.readlink(link) == f".store/acme_tiny-judge/{v1.commit}", "served link must be relative"
    for path, fake in v1.files.items():
        assert (link / path).read_bytes() == fake.content, path
    manifest = read_manifest(link)
    assert (manifest.repo_id, manifest.revision, manifest.commit) == (REPO_ID, "main", v1.commit)
    assert manifest.loader_version == __version__
    assert manifest.endpoint == hub.endpoint
    by_path = {f.path: f for f in manifest.files}
    assert set(by_path) == set(v1.files)
    weights = by_path["model.safetensors"]
    assert (weights.lfs, weights.size, weights.sha256) == (
        True,
        v1.files["model.safetensors"].size,
        v1.files["model.safetensors"].sha256,
    )
    assert by_path["config.json"].git_sha1 == v1.files["config.json"].blob_id
    assert result.downloaded
    assert result.previous_commit is None
    assert not (link / ".cache").exists(), "huggingface_hub's bookkeeping must not ship in the tree"
    assert list(layout.tmp_root(models_dir).iterdir()) == [], "no temp tree left behind"
    assert not [p for _m, p, _r in hub.requests if "xet" in p], "plain HTTP when the hub offers no Xet"


@pytest.mark.parametrize(
    ("bad_file", "hash_kind"), [("model.safetensors", "sha256"), ("config.json", "git blob sha1")]
)
def test_corrupted_file_is_rejected_naming_the_file(hub, hf_hub, store, models_dir, bad_file, hash_kind):
    hub.corrupt(bad_file)

    with pytest.raises(ModelInvalidError) as info:
        store.ensure(REPO_ID, "v1", hf_hub)

    message = str(info.value)
    assert f"{bad_file}: {hash_kind}" in message
    assert "hash mismatch" in message
    assert not (models_dir / "acme_tiny-judge").exists(), "nothing may be served"
    assert not layout.model_store_dir(models_dir, REPO_ID).joinpath(_commit(hub, "v1")).exists()
    assert store.readiness(REPO_ID).ready is False


def test_rerun_after_corruption_refetches_only_the_bad_file(hub, hf_hub, store):
    hub.corrupt("model.safetensors")
    with pytest.raises(ModelInvalidError):
        store.ensure(REPO_ID, "v1", hf_hub)
    hub.reset_faults()

    store.ensure(REPO_ID, "v1", hf_hub)

    assert store.readiness(REPO_ID, "v1").ready
    assert hub.downloads("model.safetensors") == 2
    assert hub.downloads("config.json") == 1, "verified files of the failed run are kept"


def test_connection_cut_mid_body_still_ends_complete_and_valid(hub, hf_hub, store, models_dir):
    hub.cut_once("model.safetensors")

    store.ensure(REPO_ID, "v1", hf_hub)

    tree = layout.revision_dir(models_dir, REPO_ID, _commit(hub, "v1"))
    assert check_tree(tree, deep=True).ok
    assert hub.downloads("model.safetensors") == 2


def test_not_enough_free_space_fails_before_fetching_any_file(hub, hf_hub, store, models_dir, monkeypatch):
    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=50 * 1024))

    with pytest.raises(InsufficientSpaceError, match=r"needs 96\.1 KiB .* 50\.0 KiB free"):
        store.ensure(REPO_ID, "v1", hf_hub)

    assert hub.count("GET", "/resolve/") == 0
    assert hub.count("GET", "/cdn/") == 0
    assert not (models_dir / "acme_tiny-judge").exists()


def test_present_commit_needs_no_network(hub, hf_hub, store):
    commit = _commit(hub, "v1")
    store.ensure(REPO_ID, commit, hf_hub)
    before = len(hub.requests)

    result = store.ensure(REPO_ID, commit, hf_hub)

    assert len(hub.requests) == before
    assert not result.downloaded


def test_branch_already_present_is_not_downloaded_again(hub, hf_hub, store):
    store.ensure(REPO_ID, "main", hf_hub)
    result = store.ensure(REPO_ID, "main", hf_hub)
    assert not result.downloaded
    assert hub.downloads("model.safetensors") == 1


def test_hub_down_falls_back_to_the_commit_last_resolved_for_the_branch(hub, hf_hub, store):
    store.ensure(REPO_ID, "main", hf_hub)
    hub.set_unavailable(True)

    result = store.ensure(REPO_ID, "main", hf_hub)

    assert result.offline
    assert result.manifest.commit == _commit(hub, "v1")
    with pytest.raises(HubUnreachableError, match="HTTP 503"):
        store.ensure(REPO_ID, "v2", hf_hub)


def test_unknown_revision_and_unknown_repo_are_refused_for_good(hf_hub, store):
    with pytest.raises(HubRefusedError, match="revision not found"):
        store.ensure(REPO_ID, "no-such-branch", hf_hub)
    with pytest.raises(HubRefusedError, match="repository not found"):
        store.ensure("acme/missing", "main", hf_hub)


def test_gated_repo_needs_the_token(store):
    from app.model_loader.hub import HfHub

    with FakeHfHub(token="hf_secret") as gated:
        with pytest.raises(HubRefusedError, match="HF_TOKEN"):
            store.ensure(REPO_ID, "v1", HfHub(endpoint=gated.endpoint, token=None))
        store.ensure(REPO_ID, "v1", HfHub(endpoint=gated.endpoint, token="hf_secret"))
    assert store.readiness(REPO_ID).ready


def test_a_damaged_tree_is_not_ready_and_is_replaced_by_the_next_ensure(hub, hf_hub, store, models_dir):
    store.ensure(REPO_ID, "v1", hf_hub)
    (models_dir / "acme_tiny-judge" / "tokenizer.json").unlink()

    status = store.readiness(REPO_ID)
    assert (status.ready, status.state) == (False, "invalid")
    assert "tokenizer.json: missing" in status.reason

    store.ensure(REPO_ID, "v1", hf_hub)
    assert store.readiness(REPO_ID).ready


def test_the_seeds_plain_directory_is_never_trusted_and_is_replaced(hub, hf_hub, store, models_dir):
    legacy = models_dir / "acme_tiny-judge"
    legacy.mkdir()
    (legacy / "config.json").write_text("{}")  # "directory not empty" was the seed's whole check

    status = store.readiness(REPO_ID)
    assert (status.ready, status.state) == (False, "legacy")

    store.ensure(REPO_ID, "v1", hf_hub)
    assert legacy.is_symlink()
    assert store.readiness(REPO_ID, "v1").ready


def _commit(hub: FakeHfHub, ref: str) -> str:
    return hub.repos[REPO_ID].refs[ref]


def test_resolved_refs_are_recorded_for_offline_wait(hub, hf_hub, store, models_dir):
    store.ensure(REPO_ID, "v2", hf_hub)
    ref = layout.refs_dir(models_dir, REPO_ID) / "v2"
    assert Path(ref).read_text().strip() == _commit(hub, "v2")
    assert store.readiness(REPO_ID, "v2").ready
    assert not store.readiness(REPO_ID, "v1").ready


def test_a_present_commit_removed_while_waiting_for_the_lock_is_fetched_again_not_linked(
    hub, hf_hub, store, models_dir
):
    v1, v2 = _commit(hub, "v1"), _commit(hub, "v2")
    store.ensure(REPO_ID, v1, hf_hub)
    store.ensure(REPO_ID, v2, hf_hub)  # v2 served; v1 stays on disk, a candidate for cleanup
    dir_name = layout.model_dir_name(REPO_ID)
    results: list = []
    with _on_event("lock.wait") as waiting, store.model_lock(dir_name, "cleanup in another process"):
        switcher = threading.Thread(target=lambda: results.append(store.ensure(REPO_ID, v1, hf_hub)))
        switcher.start()
        # The switch says it waits as soon as it finds the lock held: a check of v1 made without the
        # lock would have been made by then. One under the lock runs only after this block.
        assert waiting.wait(timeout=30), "the switch never waited for the lock"
        store.remove_revision(REPO_ID, v1)
    switcher.join(timeout=60)

    (result,) = results
    assert result.manifest.commit == v1
    link = models_dir / dir_name
    assert os.readlink(link) == f".store/{dir_name}/{v1}"
    assert check_tree(link.resolve(), repo_id=REPO_ID, commit=v1, deep=True).ok


@contextlib.contextmanager
def _on_event(name: str) -> Iterator[threading.Event]:
    """An event set when the store logs ``name`` (its log records carry the event name)."""
    seen = threading.Event()

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "event", None) == name:
                seen.set()

    logger = logging.getLogger("model_loader.store")
    handler, level = Handler(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
