"""One download into the store: a temporary tree on the same filesystem (resuming an interrupted one of
the same commit), the free space checked first, the files fetched from the hub, verified against its
hashes, fsynced, given the completion marker, and renamed into ``.store/<dir>/<commit>``.

``StoreDownload._download`` is the seam for another source or another way to verify: it receives a
resolved snapshot and a ``Hub`` (remote.py), holds no lock itself (ensure.py takes it) and returns the
manifest of a complete tree.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from app.model_loader import __version__, layout
from app.model_loader.base import log, now_iso
from app.model_loader.digests import DigestBook
from app.model_loader.errors import InsufficientSpaceError, ModelInvalidError
from app.model_loader.logs import human_bytes
from app.model_loader.manifest import Manifest, fsync_dir, write_json_atomic, write_manifest
from app.model_loader.progress import ProgressReporter, StoreProgress
from app.model_loader.remote import Hub, RemoteSnapshot
from app.model_loader.trash import StoreTrash, remove_path
from app.model_loader.verify import tree_size, verify_against_hub


class StoreDownload(StoreProgress, StoreTrash):
    def _download(self, snapshot: RemoteSnapshot, hub: Hub) -> Manifest:
        """Download into a temp tree on the same filesystem, verify, mark, rename into `.store/`."""
        repo_id, commit = snapshot.repo_id, snapshot.commit
        dir_name = layout.model_dir_name(repo_id)
        tmp = layout.tmp_download_dir(self.root, repo_id, commit, os.getpid())
        self._reclaim_partials(dir_name, commit, tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        self._check_free_space(snapshot, tmp)
        write_json_atomic(
            layout.plan_path(tmp),
            {
                "repo_id": repo_id,
                "revision": snapshot.revision,
                "commit": commit,
                "total_size": snapshot.total_size,
                "files": len(snapshot.files),
                "pid": os.getpid(),
                "started_at": now_iso(),
            },
        )
        log.info(
            "download.start",
            f"downloading {repo_id}@{commit[:12]} ({human_bytes(snapshot.total_size)})"
            f" from {hub.endpoint} into {tmp}",
            model=dir_name,
            commit=commit,
            total_bytes=snapshot.total_size,
        )
        started = time.monotonic()
        streamed = DigestBook()
        with ProgressReporter(tmp, snapshot.total_size, self.progress_interval, f"{repo_id}@{commit[:12]}"):
            hub.fetch(snapshot, tmp, cache_dir=layout.hf_home(self.root) / "hub", digests=streamed)
        log.info(
            "verify.start",
            f"verifying {len(snapshot.files)} files of {repo_id}@{commit[:12]}"
            f" ({len(streamed)} hashed while downloading)",
            model=dir_name,
        )
        entries, problems, reused = verify_against_hub(tmp, snapshot.files, self.hash_workers, streamed)
        if problems:
            for remote in snapshot.files:
                if any(p.startswith(f"{remote.path}:") for p in problems):
                    # Only the bad files go: a retry re-downloads them and keeps the verified rest.
                    with contextlib.suppress(FileNotFoundError):
                        (tmp / remote.path).unlink()
            raise ModelInvalidError(
                f"{repo_id}@{commit[:12]} failed verification, not marked complete", problems
            )
        self._drop_extras(tmp, {f.path for f in snapshot.files})
        for entry in entries:
            hit = streamed.for_file(entry.path, tmp / entry.path)
            if hit is None or not hit.synced:
                _fsync_file(tmp / entry.path)
        manifest = Manifest(
            repo_id=repo_id,
            revision=snapshot.revision,
            commit=commit,
            files=entries,
            total_size=snapshot.total_size,
            completed_at=datetime.now(UTC),
            loader_version=__version__,
            endpoint=hub.endpoint,
        )
        layout.plan_path(tmp).unlink()
        write_manifest(tmp, manifest)
        final = layout.revision_dir(self.root, repo_id, commit)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists() or final.is_symlink():
            self._to_trash(final)
        os.rename(tmp, final)
        fsync_dir(final.parent)
        log.info(
            "download.complete",
            f"{repo_id}@{commit[:12]} complete and verified at {final} in {time.monotonic() - started:.1f}s"
            f" ({reused} of {len(entries)} files hashed while they arrived)",
            model=dir_name,
            commit=commit,
            total_bytes=snapshot.total_size,
            hashed_while_downloading=reused,
        )
        return manifest

    def _reclaim_partials(self, dir_name: str, commit: str, tmp: Path) -> None:
        """With the model lock held, every temp tree of this model is from a dead run: resume the one of
        the same commit (files it completed are kept), delete the others and stray link temps."""
        adopted = tmp.exists()
        for path, partial_commit, pid in self.partials(dir_name):
            if path == tmp:
                continue
            if partial_commit == commit and not adopted:
                os.rename(path, tmp)
                adopted = True
                log.info(
                    "download.resume",
                    f"resuming the interrupted download of pid {pid} ({human_bytes(tree_size(tmp))} on disk)",
                    model=dir_name,
                )
            else:
                log.info("cleanup.partial", f"removing stale partial download {path}", model=dir_name)
                remove_path(path)
        tmp_root = layout.tmp_root(self.root)
        for stray in tmp_root.glob(f"{dir_name}.link-*"):
            with contextlib.suppress(OSError):
                stray.unlink()

    def _check_free_space(self, snapshot: RemoteSnapshot, tmp: Path) -> None:
        have = 0
        for remote in snapshot.files:
            with contextlib.suppress(OSError):
                if (tmp / remote.path).stat().st_size == remote.size:
                    have += remote.size
        needed = snapshot.total_size - have
        free = shutil.disk_usage(self.root).free
        if needed + self.free_space_margin > free:
            raise InsufficientSpaceError(
                f"not enough free space in {self.root} for {snapshot.repo_id}@{snapshot.commit[:12]}: needs "
                f"{human_bytes(needed)} + {human_bytes(self.free_space_margin)} margin,"
                f" {human_bytes(free)} free "
                "(remove old revisions with `cleanup`, or lower FREE_SPACE_MARGIN_BYTES)"
            )

    def _drop_extras(self, tmp: Path, expected: set[str]) -> None:
        remove_path(tmp / ".cache")  # huggingface_hub's local_dir bookkeeping, not part of the model
        remove_path(layout.incoming_dir(tmp))  # what an S3 transfer left before a fallback to the hub
        for root, _dirs, files in os.walk(tmp):
            rel_root = Path(root).relative_to(tmp)
            if rel_root.parts[:1] == (layout.MARKER_DIRNAME,):
                continue
            for name in files:
                rel = (rel_root / name).as_posix()
                if rel not in expected:
                    log.warning("download.extra", f"removing {rel}: not part of the revision's file list")
                    os.unlink(os.path.join(root, name))


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
