"""What is under the models directory, for ``list`` (and cleanup's walk): each model's stored
revisions, its partial downloads, and the older layout's plain directories."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from app.model_loader import layout
from app.model_loader.progress import StoreProgress
from app.model_loader.refs import StoreRefs
from app.model_loader.switch import StoreSwitch
from app.model_loader.verify import check_tree, tree_size


class StoreInventory(StoreProgress, StoreSwitch, StoreRefs):
    def model_dir_names(self) -> list[str]:
        names: set[str] = set()
        store = layout.store_root(self.root)
        if store.is_dir():
            names.update(p.name for p in store.iterdir() if p.is_dir())
        tmp_root = layout.tmp_root(self.root)
        if tmp_root.is_dir():
            for entry in tmp_root.iterdir():
                owner = layout.tmp_dir_owner(entry.name)
                if owner is not None:
                    names.add(owner[0])
        return sorted(names)

    def revisions(self, dir_name: str) -> list[Path]:
        store = layout.store_root(self.root) / dir_name
        if not store.is_dir():
            return []
        return sorted(p for p in store.iterdir() if layout.is_commit(p.name))

    def inventory(self, *, deep: bool = False) -> list[dict]:
        """Everything under the models dir, for `list`."""
        items: list[dict] = []
        for dir_name in self.model_dir_names():
            served = self.served_commit(dir_name)
            refs = self.refs_of(dir_name)
            for tree in self.revisions(dir_name):
                checked = check_tree(tree, commit=tree.name, deep=deep, workers=self.hash_workers)
                manifest = checked.manifest
                items.append(
                    {
                        "kind": "revision",
                        "model": manifest.repo_id if manifest else dir_name,
                        "dir_name": dir_name,
                        "commit": tree.name,
                        "revision": manifest.revision if manifest else None,
                        "refs": refs.get(tree.name, []),
                        "status": "complete" if checked.ok else "invalid",
                        "served": tree.name == served,
                        "size_bytes": manifest.total_size if manifest and checked.ok else tree_size(tree),
                        "files": len(manifest.files) if manifest else None,
                        "completed_at": manifest.completed_at.isoformat() if manifest else None,
                        "problems": checked.problems,
                        "path": str(tree),
                    }
                )
            locked = self.is_locked(dir_name)
            for path, commit, pid in self.partials(dir_name):
                total = None
                with contextlib.suppress(OSError, ValueError):
                    total = json.loads(layout.plan_path(path).read_text())["total_size"]
                items.append(
                    {
                        "kind": "partial",
                        "model": dir_name,
                        "dir_name": dir_name,
                        "commit": commit,
                        "status": "downloading" if locked else "interrupted",
                        "served": False,
                        "size_bytes": tree_size(path),
                        "total_bytes": total,
                        "pid": pid,
                        "path": str(path),
                    }
                )
        for entry in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if (
                not entry.name.startswith(".")
                and entry.name != "lost+found"
                and entry.is_dir()
                and not entry.is_symlink()
            ):
                items.append(
                    {
                        "kind": "legacy",
                        "model": entry.name,
                        "dir_name": entry.name,
                        "status": "unverified",
                        "served": True,
                        "size_bytes": tree_size(entry),
                        "path": str(entry),
                    }
                )
        return items
