"""The models directory: complete verified trees per revision, the served symlink, locks, cleanup.

Invariants (see layout.py for the paths):
- A tree under `.store/<dir>/<commit>` only ever appears by rename(2) of a temporary tree that was fully
  downloaded, verified against the hub's sizes and hashes, fsynced, and given its completion marker.
- `<models>/<dir>` is absent or a symlink to such a tree; it is switched by rename(2) of a new symlink.
- Everything that changes a model (download, switch, cleanup) holds that model's file lock.

``ModelStore`` is one class composed of one part per concern, each a mixin over ``base.StoreBase`` that
extends the parts it calls (so the type check sees every method it uses):
- locks.py       the per-model lock (``model_lock``), its owner file, the read-only probe ``is_locked``
- refs.py        branch/tag -> commit as last resolved on this node
- trash.py       removing trees: rename into ``.trash/``, then delete
- switch.py      the served symlink: ``served_commit``, the atomic switch
- verify.py      is a tree complete (``check_tree``), does a download match the hub (``verify_against_hub``)
- progress.py    partial downloads (``partials``), their ``Progress``, the progress log while downloading
- readiness.py   is the served model ready (``wait``, serve's ``/readyz``)
- download.py    one download: temp tree, free space, fetch, verify, marker, rename into ``.store/``
- ensure.py      make a revision present and served: lock, resolve (or the offline fallback), download, switch
- inventory.py   what is on disk, for ``list``
- cleanup.py     remove what is neither served nor kept; ``remove_revision``
The names the CLI, the service and the tests use are importable from here.
"""

from __future__ import annotations

from app.model_loader.cleanup import CleanupItem, CleanupReport, KeepSpec, StoreCleanup
from app.model_loader.ensure import EnsureResult, StoreEnsure
from app.model_loader.progress import Progress
from app.model_loader.readiness import Readiness, StoreReadiness, revision_matches
from app.model_loader.verify import TreeCheck, check_tree, tree_size, verify_against_hub

__all__ = [
    "CleanupItem",
    "CleanupReport",
    "EnsureResult",
    "KeepSpec",
    "ModelStore",
    "Progress",
    "Readiness",
    "TreeCheck",
    "check_tree",
    "revision_matches",
    "tree_size",
    "verify_against_hub",
]


class ModelStore(StoreEnsure, StoreReadiness, StoreCleanup):
    """The models directory: complete verified trees per revision, the served symlink, locks, cleanup."""
