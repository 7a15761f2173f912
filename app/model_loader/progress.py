"""Downloads in progress: the temporary trees under ``.tmp/`` (``partials``), how far one has got
(``Progress``, read by ``wait``, serve's ``/readyz`` and the metrics), and the progress log while a
download runs (``ProgressReporter``)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.model_loader import layout
from app.model_loader.base import log
from app.model_loader.locks import StoreLocks
from app.model_loader.logs import human_bytes
from app.model_loader.verify import tree_size


@dataclass
class Progress:
    bytes_done: int
    bytes_total: int | None
    active: bool  # a loader holds the model's lock

    def describe(self) -> str:
        if self.bytes_total:
            pct = 100.0 * min(self.bytes_done, self.bytes_total) / self.bytes_total
            done = f"{pct:.0f}% ({human_bytes(self.bytes_done)} of {human_bytes(self.bytes_total)})"
        else:
            done = human_bytes(self.bytes_done)
        return f"download in progress: {done}" if self.active else f"interrupted download left {done}"


class StoreProgress(StoreLocks):
    def partials(self, dir_name: str) -> list[tuple[Path, str, int]]:
        """Temporary trees of a model: (path, commit, pid)."""
        out = []
        tmp_root = layout.tmp_root(self.root)
        if tmp_root.is_dir():
            for entry in sorted(tmp_root.iterdir()):
                owner = layout.tmp_dir_owner(entry.name)
                if owner is not None and owner[0] == dir_name and entry.is_dir():
                    out.append((entry, owner[1], owner[2]))
        return out

    def progress(self, dir_name: str, commit: str | None = None) -> Progress | None:
        partials = [p for p in self.partials(dir_name) if commit is None or p[1] == commit]
        if not partials:
            return None
        path = partials[-1][0]
        total = None
        with contextlib.suppress(OSError, ValueError):
            total = json.loads(layout.plan_path(path).read_text())["total_size"]
        return Progress(tree_size(path), total, self.is_locked(dir_name))


class ProgressReporter:
    """Logs bytes on disk in the temp tree every `interval` seconds while a download runs. Reading the
    tree (rather than hooking progress bars) works the same for plain HTTP and hf-xet transfers."""

    def __init__(self, tree: Path, total: int, interval: float, label: str) -> None:
        self.tree, self.total, self.interval, self.label = tree, total, interval, label
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="download-progress", daemon=True)

    def __enter__(self) -> ProgressReporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.interval):
            done = tree_size(self.tree)
            elapsed = max(time.monotonic() - started, 1e-6)
            pct = 100.0 * min(done, self.total) / self.total if self.total else 100.0
            log.info(
                "download.progress",
                f"{self.label}: {pct:.0f}% ({human_bytes(done)} of {human_bytes(self.total)}, "
                f"{human_bytes(done / elapsed)}/s)",
                bytes_done=done,
                total_bytes=self.total,
            )
