"""The per-model lock: everything that changes a model (download, switch, cleanup) holds it.

A file lock per model under ``.locks/`` (filelock's exclusive flock), with an owner file beside it that
says who holds it (pid, host, purpose) for the one waiting; a read-only probe for ``wait``, which runs
where the models directory is mounted read-only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from app.model_loader import layout
from app.model_loader.base import StoreBase, log, now_iso
from app.model_loader.errors import LoaderTimeoutError
from app.model_loader.manifest import write_json_atomic


class StoreLocks(StoreBase):
    def _lock_file(self, dir_name: str) -> Path:
        return layout.locks_root(self.root) / f"{dir_name}.lock"

    def _owner_file(self, dir_name: str) -> Path:
        return layout.locks_root(self.root) / f"{dir_name}.owner.json"

    def lock_owner(self, dir_name: str) -> dict | None:
        try:
            return json.loads(self._owner_file(dir_name).read_text())
        except (OSError, ValueError):
            return None

    @contextlib.contextmanager
    def model_lock(
        self, dir_name: str, purpose: str, *, cancel: threading.Event | None = None
    ) -> Iterator[None]:
        """Hold the per-model lock; logs who holds it while waiting (a second loader on the same node)."""
        lock_file = self._lock_file(dir_name)
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_file)
        deadline = None if self.lock_timeout is None else time.monotonic() + self.lock_timeout
        first_try = True
        while True:
            wait = self.lock_log_interval
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                # Say at once that we wait (and for whom), then again every interval.
                if first_try:
                    lock.acquire(blocking=False)
                else:
                    lock.acquire(timeout=wait, poll_interval=0.05)
                break
            except Timeout:
                first_try = False
                holder = self.lock_owner(dir_name) or {}
                log.info(
                    "lock.wait",
                    f"waiting for another loader on this node to finish with {dir_name}"
                    f" (pid {holder.get('pid', '?')} on {holder.get('host', '?')}:"
                    f" {holder.get('purpose', '?')})",
                    model=dir_name,
                    holder=holder,
                )
                if cancel is not None and cancel.is_set():
                    raise LoaderTimeoutError(f"stopped while waiting for the lock of {dir_name}") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise LoaderTimeoutError(
                        f"timed out after {self.lock_timeout}s waiting for the lock of {dir_name}"
                        f" ({lock_file})"
                    ) from None
        try:
            owner = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose, "since": now_iso()}
            write_json_atomic(self._owner_file(dir_name), owner)
            yield
        finally:
            with contextlib.suppress(OSError):
                self._owner_file(dir_name).unlink()
            lock.release()

    def is_locked(self, dir_name: str) -> bool:
        """Is a loader holding this model's lock? Read-only probe: `wait` runs in vLLM's init container
        with the models dir mounted read-only, where FileLock (which opens the file for writing) would
        fail. A shared flock on a read-only descriptor conflicts with filelock's exclusive flock."""
        try:
            fd = os.open(self._lock_file(dir_name), os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # also drops the shared lock if we got it
        return False

    @contextlib.contextmanager
    def _try_lock(self, dir_name: str) -> Iterator[bool]:
        lock_file = self._lock_file(dir_name)
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(lock_file)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()
