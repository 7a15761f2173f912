"""Is the model ready to serve (read-only: ``wait``, serve's ``/readyz``)? The served link points at a
complete tree of the requested revision; otherwise the reason: absent, downloading (with its
progress), wrong revision, invalid, or the older layout's plain directory."""

from __future__ import annotations

import os
from dataclasses import dataclass

from app.model_loader import layout
from app.model_loader.manifest import Manifest
from app.model_loader.progress import Progress, StoreProgress
from app.model_loader.refs import StoreRefs
from app.model_loader.switch import StoreSwitch
from app.model_loader.verify import check_tree


def revision_matches(manifest: Manifest, revision: str | None, ref_commit: str | None) -> bool:
    """Does a served tree satisfy a requested revision (None = any, full/short sha, branch or tag)?"""
    if revision is None:
        return True
    if manifest.commit == revision:
        return True
    if (
        len(revision) >= 7
        and all(c in "0123456789abcdef" for c in revision)
        and manifest.commit.startswith(revision)
    ):
        return True
    if ref_commit is not None:
        return ref_commit == manifest.commit
    return manifest.revision == revision


@dataclass
class Readiness:
    ready: bool
    state: str  # ready | absent | downloading | wrong-revision | invalid | legacy
    reason: str
    manifest: Manifest | None = None
    progress: Progress | None = None


class StoreReadiness(StoreProgress, StoreSwitch, StoreRefs):
    def readiness(self, repo_id: str, revision: str | None = None) -> Readiness:
        dir_name = layout.model_dir_name(repo_id)
        link = self.root / dir_name
        want_commit = self.ref_commit(repo_id, revision) or (revision if layout.is_commit(revision) else None)
        progress = self.progress(dir_name, want_commit)
        if not link.is_symlink():
            if link.exists():
                return Readiness(
                    False, "legacy", f"{link} is a plain directory without a completion marker (older layout)"
                )
            if progress is not None:
                return Readiness(False, "downloading", f"{repo_id}: {progress.describe()}", progress=progress)
            return Readiness(False, "absent", f"{repo_id} is not on this node yet ({link} does not exist)")
        commit = self.served_commit(dir_name)
        if commit is None:
            return Readiness(False, "invalid", f"{link} points at {os.readlink(link)!r}, not at a store tree")
        checked = check_tree(layout.revision_dir(self.root, repo_id, commit), repo_id=repo_id, commit=commit)
        if not checked.ok:
            return Readiness(
                False, "invalid", f"{repo_id}@{commit[:12]} is not valid: " + "; ".join(checked.problems)
            )
        assert checked.manifest is not None
        if not revision_matches(checked.manifest, revision, self.ref_commit(repo_id, revision)):
            reason = f"{repo_id}: serving {commit[:12]}, waiting for revision {revision}"
            if progress is not None:
                reason += f" ({progress.describe()})"
            return Readiness(False, "wrong-revision", reason, checked.manifest, progress)
        return Readiness(True, "ready", f"{repo_id}@{commit[:12]} is complete at {link}", checked.manifest)
