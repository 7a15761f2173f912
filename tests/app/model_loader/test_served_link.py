"""What the served link says is served (a commit only when the link is one the loader made,
``.store/<dir>/<commit>``), and what makes a tree complete (its marker, every file at its size, and
with the deep check its hash): pure checks over a directory, no hub."""

from __future__ import annotations

import os

import pytest

from app.model_loader.store import ModelStore, check_tree

COMMIT = "a" * 40


@pytest.mark.parametrize(
    ("target", "served"),
    [
        (f".store/acme_tiny-judge/{COMMIT}", COMMIT),
        (f".store/other-model/{COMMIT}", None),  # another model's tree
        (f".store/aaa/{COMMIT}", None),
        (f".s/acme_tiny-judge/{COMMIT}", None),
        (".store/acme_tiny-judge", None),  # the model's store, no tree
        (f".stores/acme_tiny-judge/{COMMIT}", None),  # not the store
        (f"store/acme_tiny-judge/{COMMIT}", None),
        (f".store/acme_tiny-judge/{COMMIT}/config", None),  # inside a tree
        (f"acme_tiny-judge/{COMMIT}", None),
        (".store/acme_tiny-judge/main", None),  # a branch name is not a commit
        (f"/abs/.store/acme_tiny-judge/{COMMIT}", None),
        (f"../.store/acme_tiny-judge/{COMMIT}", None),
    ],
)
def test_only_a_link_into_the_store_for_this_model_names_a_served_commit(models_dir, target, served):
    os.symlink(target, models_dir / "acme_tiny-judge")
    assert ModelStore(models_dir).served_commit("acme_tiny-judge") == served


def test_no_link_or_a_plain_directory_serves_nothing(models_dir):
    store = ModelStore(models_dir)
    assert store.served_commit("acme_tiny-judge") is None
    (models_dir / "acme_tiny-judge").mkdir()
    assert store.served_commit("acme_tiny-judge") is None


def _tree(root, files: dict[str, bytes], *, repo_id: str = "acme/tiny-judge", commit: str = COMMIT):
    """A tree with its completion marker, as a finished download leaves it."""
    import datetime as dt
    import hashlib

    from app.model_loader.manifest import Manifest, ManifestFile, write_manifest

    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    entries = [
        ManifestFile(path=p, size=len(d), sha256=hashlib.sha256(d).hexdigest(), lfs=True)
        for p, d in files.items()
    ]
    write_manifest(
        root,
        Manifest(
            repo_id=repo_id,
            revision="main",
            commit=commit,
            files=entries,
            total_size=sum(len(d) for d in files.values()),
            completed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            loader_version="test",
            endpoint="http://hub",
        ),
    )
    return root


FILES = {"a.json": b"{}" * 8, "b.bin": b"\x00" * 64, "c/d.txt": b"text"}


def test_a_tree_without_its_marker_is_never_complete(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    checked = check_tree(tmp_path)
    assert not checked.ok
    assert "no completion marker" in checked.problems[0]


@pytest.mark.parametrize("change", [b"x", b"\x00" * 128], ids=["shorter", "longer"])
def test_a_file_of_another_size_either_way_fails_the_quick_check(tmp_path, change):
    tree = _tree(tmp_path, FILES)
    (tree / "b.bin").write_bytes(change)
    checked = check_tree(tree)
    assert not checked.ok
    assert checked.problems == [f"b.bin: size {len(change)}, expected 64"]


def test_every_problem_is_named_not_only_the_first(tmp_path):
    tree = _tree(tmp_path, FILES)
    (tree / "a.json").unlink()
    (tree / "c/d.txt").write_bytes(b"longer text")
    assert check_tree(tree).problems == ["a.json: missing", "c/d.txt: size 11, expected 4"]


@pytest.mark.parametrize(
    "other", [COMMIT.replace("a", "0"), COMMIT.replace("a", "f")], ids=["lower", "higher"]
)
def test_a_marker_for_another_commit_or_repo_either_way_is_refused(tmp_path, other):
    tree = _tree(tmp_path, FILES, commit=other, repo_id="acme/" + ("a" if other < COMMIT else "z"))
    checked = check_tree(tree, repo_id="acme/tiny-judge", commit=COMMIT)
    assert not checked.ok
    assert len(checked.problems) == 2


@pytest.mark.parametrize("side", ["lower", "higher"])
def test_the_deep_check_finds_a_changed_byte_whichever_way_the_digest_sorts(tmp_path, side):
    import hashlib

    expected = hashlib.sha256(FILES["b.bin"]).hexdigest()
    changed = next(  # same size, a digest on the chosen side of the expected one: only the hash can tell
        data
        for data in (bytes([i]) + b"\x00" * 63 for i in range(1, 256))
        if (hashlib.sha256(data).hexdigest() < expected) == (side == "lower")
    )
    tree = _tree(tmp_path, FILES)
    (tree / "b.bin").write_bytes(changed)
    assert check_tree(tree).ok
    deep = check_tree(tree, deep=True)
    assert not deep.ok
    assert deep.problems[0].startswith("b.bin: sha256 ")
