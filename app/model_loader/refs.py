"""Refs: which commit a branch or tag name pointed at when it was last resolved on this node
(``.store/<dir>/refs/<rev>``), for the offline fallback, ``list`` and ``cleanup --keep REPO@BRANCH``."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import quote, unquote

from app.model_loader import layout
from app.model_loader.base import StoreBase


class StoreRefs(StoreBase):
    def _ref_file(self, repo_id: str, revision: str) -> Path:
        return layout.refs_dir(self.root, repo_id) / quote(revision, safe="")

    def ref_commit(self, repo_id: str, revision: str | None) -> str | None:
        if revision is None or layout.is_commit(revision):
            return None
        try:
            value = self._ref_file(repo_id, revision).read_text().strip()
        except OSError:
            return None
        return value if layout.is_commit(value) else None

    def _write_ref(self, repo_id: str, revision: str, commit: str) -> None:
        if layout.is_commit(revision) or self.ref_commit(repo_id, revision) == commit:
            return
        path = self._ref_file(repo_id, revision)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(commit + "\n")
        os.replace(tmp, path)

    def refs_of(self, dir_name: str) -> dict[str, list[str]]:
        """commit -> ref names (as last resolved on this node)."""
        out: dict[str, list[str]] = {}
        refs = layout.store_root(self.root) / dir_name / layout.REFS_DIRNAME
        if refs.is_dir():
            for ref in sorted(refs.iterdir()):
                if ref.name.startswith("."):
                    continue
                with contextlib.suppress(OSError):
                    out.setdefault(ref.read_text().strip(), []).append(unquote(ref.name))
        return out
