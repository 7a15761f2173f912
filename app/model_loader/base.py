"""What every part of the model store shares: the models directory and the store's settings
(``StoreBase``, which every part extends), the store's logger and the time stamps it writes. The parts
are listed in store.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.model_loader.logs import EventLogger

# One logger for the whole store: the ``logger`` field of its events is "model_loader.store", whichever
# part logs them.
log = EventLogger("model_loader.store")


class StoreBase:
    """The models directory and the store's settings; every part of ``ModelStore`` extends it."""

    def __init__(
        self,
        root: Path,
        *,
        hash_workers: int = 4,
        lock_log_interval: float = 10.0,
        lock_timeout: float | None = None,
        progress_interval: float = 30.0,
        free_space_margin: int = 1 << 30,
    ) -> None:
        self.root = Path(root)
        self.hash_workers = hash_workers
        self.lock_log_interval = lock_log_interval
        self.lock_timeout = lock_timeout
        self.progress_interval = progress_interval
        self.free_space_margin = free_space_margin


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
