"""What the served link says is served: a commit only when the link is one the loader made
(``.store/<dir>/<commit>``), nothing for a link someone else pointed elsewhere (no I/O but the link)."""

from __future__ import annotations

import os

import pytest

from app.model_loader.store import ModelStore

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
