"""The fake hub answers the metadata endpoints the way huggingface_hub 2.4 parses them."""

from __future__ import annotations

import pytest
from huggingface_hub import HfApi
from huggingface_hub.hf_api import RepoFile, RepoFolder

from tests.app.model_loader.conftest import REPO_ID

pytestmark = pytest.mark.integration


def test_tree_and_paths_info_carry_sizes_and_hashes(hub):
    api = HfApi(endpoint=hub.endpoint, token=False)
    revision = hub.repos[REPO_ID].resolve("v2")

    top = list(api.list_repo_tree(REPO_ID, revision="v2"))
    assert {type(e).__name__: e.path for e in top if isinstance(e, RepoFolder)} == {"RepoFolder": "original"}
    everything = {
        e.path: e
        for e in api.list_repo_tree(REPO_ID, revision="v2", recursive=True)
        if isinstance(e, RepoFile)
    }
    assert set(everything) == set(revision.files)
    weights = everything["model.safetensors"]
    assert weights.lfs is not None
    assert (weights.lfs.sha256, weights.lfs.size) == (
        revision.files["model.safetensors"].sha256,
        weights.size,
    )
    assert weights.xet_hash is None

    info = api.get_paths_info(REPO_ID, ["config.json", "model.safetensors", "absent"], revision="v2")
    assert {f.path: f.blob_id for f in info} == {
        p: revision.files[p].blob_id for p in ("config.json", "model.safetensors")
    }


def test_file_metadata_of_an_lfs_file_comes_from_the_redirect(hub):
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    revision = hub.repos[REPO_ID].resolve("v1")
    url = hf_hub_url(REPO_ID, "model.safetensors", revision="v1", endpoint=hub.endpoint)
    meta = get_hf_file_metadata(url, token=False, endpoint=hub.endpoint)
    assert meta.commit_hash == revision.commit
    assert meta.etag == revision.files["model.safetensors"].sha256
    assert meta.size == revision.files["model.safetensors"].size
    assert meta.location.startswith(hub.cdn_endpoint)
    assert meta.xet_file_data is None
