"""Cleanup: remove the revisions that are neither served nor kept (``--keep``), partial downloads and
the trash, skipping every model whose lock another loader holds; and the removal of one revision
(``update --prune``)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from app.model_loader import layout
from app.model_loader.errors import ModelInvalidError
from app.model_loader.inventory import StoreInventory
from app.model_loader.locks import StoreLocks
from app.model_loader.manifest import read_manifest
from app.model_loader.trash import StoreTrash, remove_path
from app.model_loader.verify import tree_size


@dataclass
class CleanupItem:
    path: str
    kind: str  # revision | partial | trash | link-temp
    size: int
    reason: str
    dir_name: str | None = None
    commit: str | None = None


@dataclass
class CleanupReport:
    dry_run: bool
    removed: list[CleanupItem] = field(default_factory=list)
    kept: list[CleanupItem] = field(default_factory=list)
    skipped: list[CleanupItem] = field(default_factory=list)

    @property
    def freed_bytes(self) -> int:
        return sum(item.size for item in self.removed)


@dataclass(frozen=True)
class KeepSpec:
    """`--keep REPO` (all revisions) or `--keep REPO@REV` (a commit, short sha, branch or tag)."""

    repo_id: str
    revision: str | None

    @classmethod
    def parse(cls, text: str) -> KeepSpec:
        repo_id, _, revision = text.partition("@")
        layout.validate_repo_id(repo_id)
        return cls(repo_id, revision or None)


class StoreCleanup(StoreInventory, StoreLocks, StoreTrash):
    def cleanup(self, keep: list[KeepSpec], *, dry_run: bool) -> CleanupReport:
        """Remove revisions that are not served and not kept, stale partial downloads and the trash.

        A model whose lock is held (a download or switch in progress) is skipped entirely; the served
        revision of every model is always kept.
        """
        report = CleanupReport(dry_run=dry_run)
        for dir_name in self.model_dir_names():
            with self._try_lock(dir_name) as locked_by_us:
                if not locked_by_us:
                    report.skipped.append(
                        CleanupItem(
                            str(self.root / dir_name),
                            "model",
                            0,
                            "locked: a loader is working on it",
                            dir_name,
                        )
                    )
                    continue
                self._cleanup_model(dir_name, keep, report)
        trash = layout.trash_root(self.root)
        if trash.is_dir():
            for entry in sorted(trash.iterdir()):
                item = CleanupItem(str(entry), "trash", tree_size(entry), "left over from an earlier removal")
                report.removed.append(item)
                if not dry_run:
                    remove_path(entry)
        return report

    def _cleanup_model(self, dir_name: str, keep: list[KeepSpec], report: CleanupReport) -> None:
        served = self.served_commit(dir_name)
        refs = self.refs_of(dir_name)
        removed_commits = set()
        for tree in self.revisions(dir_name):
            commit = tree.name
            size = tree_size(tree)
            reason = self._keep_reason(dir_name, commit, served, refs, keep, tree)
            item = CleanupItem(
                str(tree), "revision", size, reason or "not served and not kept", dir_name, commit
            )
            if reason:
                report.kept.append(item)
                continue
            report.removed.append(item)
            removed_commits.add(commit)
            if not report.dry_run:
                remove_path(self._to_trash(tree))
        for path, commit, _pid in self.partials(dir_name):
            report.removed.append(
                CleanupItem(str(path), "partial", tree_size(path), "interrupted download", dir_name, commit)
            )
            if not report.dry_run:
                remove_path(path)
        if report.dry_run:
            return
        refs_dir = layout.store_root(self.root) / dir_name / layout.REFS_DIRNAME
        for ref in refs_dir.iterdir() if refs_dir.is_dir() else []:
            with contextlib.suppress(OSError):
                if ref.read_text().strip() in removed_commits:
                    ref.unlink()
        model_store = layout.store_root(self.root) / dir_name
        for stray in layout.tmp_root(self.root).glob(f"{dir_name}.link-*"):
            with contextlib.suppress(OSError):
                stray.unlink()
        if model_store.is_dir() and not self.revisions(dir_name):
            remove_path(model_store)

    def _keep_reason(
        self,
        dir_name: str,
        commit: str,
        served: str | None,
        refs: dict[str, list[str]],
        keep: list[KeepSpec],
        tree: Path,
    ) -> str | None:
        if commit == served:
            return "served"
        for spec in keep:
            if layout.model_dir_name(spec.repo_id) != dir_name:
                continue
            if spec.revision is None:
                return f"--keep {spec.repo_id}"
            rev = spec.revision
            manifest_revision = None
            with contextlib.suppress(ModelInvalidError):
                manifest_revision = read_manifest(tree).revision
            if (
                commit == rev
                or (len(rev) >= 7 and commit.startswith(rev))
                or rev in refs.get(commit, [])
                or rev == manifest_revision
            ):
                return f"--keep {spec.repo_id}@{rev}"
        return None

    def remove_revision(self, repo_id: str, commit: str) -> int:
        """Remove one non-served revision (the caller holds the model lock). Returns the bytes freed."""
        dir_name = layout.model_dir_name(repo_id)
        if commit == self.served_commit(dir_name):
            raise ModelInvalidError(f"{repo_id}@{commit[:12]} is the served revision; it cannot be removed")
        tree = layout.revision_dir(self.root, repo_id, commit)
        if not tree.exists():
            return 0
        size = tree_size(tree)
        remove_path(self._to_trash(tree))
        return size
