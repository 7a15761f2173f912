"""The served symlink: ``<models>/<dir>`` points at one complete tree under ``.store/`` and is switched
to another by rename(2) of a new symlink, so a reader sees the old tree or the new one, never neither."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from app.model_loader import layout
from app.model_loader.base import log
from app.model_loader.manifest import fsync_dir
from app.model_loader.trash import StoreTrash


class StoreSwitch(StoreTrash):
    def served_commit(self, dir_name: str) -> str | None:
        """The commit the served symlink points at, or None (absent, legacy dir, foreign target)."""
        link = self.root / dir_name
        try:
            target = os.readlink(link)
        except OSError:
            return None
        parts = Path(target).parts
        if (
            len(parts) == 3
            and parts[0] == layout.STORE_DIRNAME
            and parts[1] == dir_name
            and layout.is_commit(parts[2])
        ):
            return parts[2]
        return None

    def _switch(self, repo_id: str, commit: str) -> str | None:
        """Point the served path at a complete tree with one rename(2); returns the previous commit."""
        dir_name = layout.model_dir_name(repo_id)
        link = layout.served_link(self.root, repo_id)
        target = layout.served_link_target(repo_id, commit)
        previous = self.served_commit(dir_name)
        if link.is_symlink() and os.readlink(link) == target:
            return previous
        if link.exists() and not link.is_symlink():
            # The seed's layout: a plain directory nobody verified. Move it aside, it is never served again.
            moved = self._to_trash(link)
            log.warning(
                "switch.legacy",
                f"moved the unverified directory {link} (older layout) to {moved}; it will be deleted",
                model=dir_name,
            )
        tmp_link = layout.tmp_root(self.root) / f"{dir_name}.link-{os.getpid()}"
        tmp_link.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            tmp_link.unlink()
        os.symlink(target, tmp_link)
        os.replace(tmp_link, link)
        fsync_dir(self.root)
        log.info(
            "switch.done",
            f"{link} -> {target}" + (f" (was {previous[:12]})" if previous else ""),
            model=dir_name,
            commit=commit,
            previous=previous,
        )
        return previous
