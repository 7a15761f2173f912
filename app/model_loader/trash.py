"""Removing trees: a tree leaves the store by rename(2) into ``.trash/`` first (one atomic step, so
nothing half-deleted is ever under ``.store/`` or served), and is deleted from there."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from app.model_loader import layout
from app.model_loader.base import StoreBase


class StoreTrash(StoreBase):
    def _to_trash(self, path: Path) -> Path:
        trash = layout.trash_root(self.root)
        trash.mkdir(parents=True, exist_ok=True)
        dest = trash / f"{path.name}-{time.time_ns()}"
        os.rename(path, dest)
        return dest

    def _empty_trash(self) -> None:
        trash = layout.trash_root(self.root)
        if trash.is_dir():
            for entry in trash.iterdir():
                remove_path(entry)


def remove_path(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)
