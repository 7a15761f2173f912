"""The completion marker and the hashes it is checked with."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.model_loader import layout
from app.model_loader.errors import ModelInvalidError
from app.model_loader.hashing import digest_file
from app.model_loader.manifest import Manifest, ManifestFile, read_manifest, write_manifest
from app.model_loader.store import check_tree


def test_git_blob_sha1_matches_git_hash_object(tmp_path):
    path = tmp_path / "hello.txt"
    path.write_bytes(b"Hello, World!")
    # `printf 'Hello, World!' | git hash-object --stdin`
    assert digest_file(path).git_sha1 == "b45ef6fec89518d314f546fd6c3025367b721684"
    assert digest_file(path).sha256 == "dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f"


@pytest.mark.parametrize(
    "path", ["../etc/passwd", "/abs", "a/../../b", "a//b", ".model-loader/manifest.json", ""]
)
def test_manifest_rejects_paths_outside_the_tree(path):
    with pytest.raises(ValueError, match="unsafe repo file path"):
        ManifestFile(path=path, size=1, sha256="0" * 64, lfs=True)


def _manifest(files: list[ManifestFile]) -> Manifest:
    return Manifest(
        repo_id="acme/m",
        revision="main",
        commit="a" * 40,
        files=files,
        total_size=sum(f.size for f in files),
        completed_at=datetime.now(UTC),
        loader_version="test",
        endpoint="http://127.0.0.1",
    )


def test_a_tree_without_marker_is_not_complete(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    checked = check_tree(tmp_path)
    assert not checked.ok
    assert "no completion marker" in checked.problems[0]


def test_a_truncated_marker_is_not_complete_and_says_where(tmp_path):
    layout.marker_path(tmp_path).parent.mkdir()
    layout.marker_path(tmp_path).write_text(json.dumps({"repo_id": "acme/m"}))
    with pytest.raises(ModelInvalidError, match="invalid completion marker"):
        read_manifest(tmp_path)


def test_a_marker_for_another_repo_or_commit_is_rejected(tmp_path):
    content = b"{}"
    (tmp_path / "config.json").write_bytes(content)
    digest = digest_file(tmp_path / "config.json")
    write_manifest(
        tmp_path, _manifest([ManifestFile(path="config.json", size=2, sha256=digest.sha256, lfs=False)])
    )

    assert check_tree(tmp_path, repo_id="acme/m", commit="a" * 40, deep=True).ok
    wrong = check_tree(tmp_path, repo_id="acme/other", commit="b" * 40)
    assert not wrong.ok
    assert len(wrong.problems) == 2
