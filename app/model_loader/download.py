"""The models directory: complete verified trees per revision, the served symlink, locks, cleanup.

Invariants (see layout.py for the paths):
- A tree under `.store/<dir>/<commit>` only ever appears by rename(2) of a temporary tree that was fully
  downloaded, verified against the hub's sizes and hashes, fsynced, and given its completion marker.
- `<models>/<dir>` is absent or a symlink to such a tree; it is switched by rename(2) of a new symlink.
- Everything that changes a model (download, switch, cleanup) holds that model's file lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

from filelock import FileLock, Timeout

from app.model_loader import __version__, layout
from app.model_loader.errors import (
    HubUnreachableError,
    InsufficientSpaceError,
    LoaderTimeoutError,
    ModelInvalidError,
)
from app.model_loader.hashing import digest_file
from app.model_loader.logs import EventLogger, human_bytes
from app.model_loader.manifest import (
    Manifest,
    ManifestFile,
    fsync_dir,
    read_manifest,
    write_json_atomic,
    write_manifest,
)
from app.model_loader.remote import Hub, RemoteFile, RemoteSnapshot

log = EventLogger("model_loader.store")


# ---- checking trees -------------------------------------------------------------------------------------
@dataclass
class TreeCheck:
    ok: bool
    manifest: Manifest | None
    problems: list[str]


def tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def check_tree(
    tree: Path, *, repo_id: str | None = None, commit: str | None = None, deep: bool = False, workers: int = 4
) -> TreeCheck:
    """Is `tree` a complete model? Quick: marker + every file present with its size. Deep: + sha256."""
    try:
        manifest = read_manifest(tree)
    except ModelInvalidError as exc:
        return TreeCheck(False, None, [str(exc)])
    problems = []
    if repo_id is not None and manifest.repo_id != repo_id:
        problems.append(f"marker names repo {manifest.repo_id!r}, expected {repo_id!r}")
    if commit is not None and manifest.commit != commit:
        problems.append(f"marker names commit {manifest.commit}, but the tree is stored as {commit}")
    for entry in manifest.files:
        path = tree / entry.path
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            problems.append(f"{entry.path}: missing")
            continue
        if size != entry.size:
            problems.append(f"{entry.path}: size {size}, expected {entry.size}")
    if deep and not problems:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            digests = list(pool.map(lambda e: digest_file(tree / e.path, git_sha1=False), manifest.files))
        for entry, digest in zip(manifest.files, digests, strict=True):
            if digest.sha256 != entry.sha256:
                problems.append(f"{entry.path}: sha256 {digest.sha256}, expected {entry.sha256}")
    return TreeCheck(not problems, manifest, problems)


def verify_against_hub(
    tree: Path, files: tuple[RemoteFile, ...], workers: int
) -> tuple[list[ManifestFile], list[str]]:
    """Hash every downloaded file and compare with the hub's metadata (LFS: sha256, regular: git sha1)."""
    problems: list[str] = []
    present = []
    for remote in files:
        path = tree / remote.path
        if not path.is_file():
            problems.append(f"{remote.path}: missing after download")
        elif path.stat().st_size != remote.size:
            problems.append(f"{remote.path}: size {path.stat().st_size}, expected {remote.size}")
        else:
            present.append(remote)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        digests = list(pool.map(lambda r: digest_file(tree / r.path, git_sha1=not r.is_lfs), present))
    entries = []
    for remote, digest in zip(present, digests, strict=True):
        if remote.is_lfs and digest.sha256 != remote.lfs_sha256:
            problems.append(
                f"{remote.path}: sha256 {digest.sha256}, expected {remote.lfs_sha256} (hash mismatch)"
            )
        elif not remote.is_lfs and digest.git_sha1 != remote.git_sha1:
            problems.append(
                f"{remote.path}: git blob sha1 {digest.git_sha1}, expected {remote.git_sha1} (hash mismatch)"
            )
        else:
            entries.append(
                ManifestFile(
                    path=remote.path,
                    size=remote.size,
                    sha256=digest.sha256,
                    git_sha1=remote.git_sha1,
                    lfs=remote.is_lfs,
                )
            )
    return entries, problems


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


# ---- state reports ------------------------------------------------------------------------------------
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


@dataclass
class Readiness:
    ready: bool
    state: str  # ready | absent | downloading | wrong-revision | invalid | legacy
    reason: str
    manifest: Manifest | None = None
    progress: Progress | None = None


@dataclass
class EnsureResult:
    manifest: Manifest
    previous_commit: str | None
    downloaded: bool
    offline: bool = False


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


# ---- the store --------------------------------------------------------------------------------------------
class ModelStore:
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

    # -- locks -----------------------------------------------------------------------------------
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
            owner = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose, "since": _now()}
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

    # -- refs and served link -----------------------------------------------------------------------
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

    # -- trash --------------------------------------------------------------------------------------------
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
                _remove(entry)

    # -- readiness (read-only: wait, serve's /readyz, list) -----------------------------------------
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

    # -- download ---------------------------------------------------------------------------------------
    def ensure(
        self,
        repo_id: str,
        revision: str,
        hub: Hub,
        *,
        switch: bool = True,
        force: bool = False,
        deep_check: bool = False,
        allow_offline: bool = True,
        cancel: threading.Event | None = None,
    ) -> EnsureResult:
        """Make `repo_id@revision` present (downloading it if needed) and, with `switch`, served."""
        dir_name = layout.model_dir_name(repo_id)
        if layout.is_commit(revision) and not force:
            # An immutable revision already on disk needs no network at all. Checked under the lock:
            # a cleanup holding it may remove this very tree, and the link must never point at nothing.
            with self.model_lock(dir_name, f"switch to {revision[:12]}", cancel=cancel):
                present = self._present(repo_id, revision, deep_check)
                if present is not None:
                    previous = self._switch(repo_id, revision) if switch else self.served_commit(dir_name)
                    return EnsureResult(present, previous, downloaded=False)
        try:
            snapshot = hub.resolve(repo_id, revision)
        except HubUnreachableError as exc:
            if not allow_offline or force:
                raise
            with self.model_lock(dir_name, f"offline switch for {revision}", cancel=cancel):
                fallback = self._offline_fallback(repo_id, revision, deep_check)
                if fallback is None:
                    raise
                log.warning(
                    "hub.unreachable",
                    f"{exc}; using {repo_id}@{fallback.commit[:12]}, the commit {revision!r} pointed at"
                    " when last resolved on this node",
                    model=dir_name,
                )
                previous = self._switch(repo_id, fallback.commit) if switch else self.served_commit(dir_name)
            return EnsureResult(fallback, previous, downloaded=False, offline=True)
        log.info(
            "hub.resolved",
            f"{repo_id}@{revision} is commit {snapshot.commit[:12]}: {len(snapshot.files)} files, "
            f"{human_bytes(snapshot.total_size)}",
            model=dir_name,
            commit=snapshot.commit,
            files=len(snapshot.files),
            total_bytes=snapshot.total_size,
        )
        with self.model_lock(dir_name, f"download {revision} ({snapshot.commit[:12]})", cancel=cancel):
            self._write_ref(repo_id, revision, snapshot.commit)
            # Checked again under the lock: another loader may have finished it while we waited.
            manifest = None if force else self._present(repo_id, snapshot.commit, deep_check)
            downloaded = manifest is None
            if manifest is None:
                manifest = self._download(snapshot, hub)
            else:
                log.info(
                    "download.skip", f"{repo_id}@{snapshot.commit[:12]} is already complete", model=dir_name
                )
            previous = self._switch(repo_id, snapshot.commit) if switch else self.served_commit(dir_name)
            self._empty_trash()
        return EnsureResult(manifest, previous, downloaded=downloaded)

    def _present(self, repo_id: str, commit: str, deep: bool) -> Manifest | None:
        tree = layout.revision_dir(self.root, repo_id, commit)
        if not tree.exists():
            return None
        checked = check_tree(tree, repo_id=repo_id, commit=commit, deep=deep, workers=self.hash_workers)
        if not checked.ok:
            log.warning(
                "tree.invalid",
                f"{tree} is not valid and will be replaced: " + "; ".join(checked.problems),
                model=layout.model_dir_name(repo_id),
                problems=checked.problems,
            )
            return None
        return checked.manifest

    def _offline_fallback(self, repo_id: str, revision: str, deep: bool) -> Manifest | None:
        commit = self.ref_commit(repo_id, revision)
        if commit is None:
            return None
        return self._present(repo_id, commit, deep)

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
                "started_at": _now(),
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
        with _ProgressReporter(tmp, snapshot.total_size, self.progress_interval, f"{repo_id}@{commit[:12]}"):
            hub.fetch(snapshot, tmp, cache_dir=layout.hf_home(self.root) / "hub")
        log.info(
            "verify.start",
            f"verifying {len(snapshot.files)} files of {repo_id}@{commit[:12]}",
            model=dir_name,
        )
        entries, problems = verify_against_hub(tmp, snapshot.files, self.hash_workers)
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
            f"{repo_id}@{commit[:12]} complete and verified at {final} in {time.monotonic() - started:.1f}s",
            model=dir_name,
            commit=commit,
            total_bytes=snapshot.total_size,
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
                _remove(path)
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
        _remove(tmp / ".cache")  # huggingface_hub's local_dir bookkeeping, not part of the model
        for root, _dirs, files in os.walk(tmp):
            rel_root = Path(root).relative_to(tmp)
            if rel_root.parts[:1] == (layout.MARKER_DIRNAME,):
                continue
            for name in files:
                rel = (rel_root / name).as_posix()
                if rel not in expected:
                    log.warning("download.extra", f"removing {rel}: not part of the revision's file list")
                    os.unlink(os.path.join(root, name))

    # -- maintenance ------------------------------------------------------------------------------------
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
                    _remove(entry)
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
                _remove(self._to_trash(tree))
        for path, commit, _pid in self.partials(dir_name):
            report.removed.append(
                CleanupItem(str(path), "partial", tree_size(path), "interrupted download", dir_name, commit)
            )
            if not report.dry_run:
                _remove(path)
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
            _remove(model_store)

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
        _remove(self._to_trash(tree))
        return size


# ---- helpers -----------------------------------------------------------------------------------------
class _ProgressReporter:
    """Logs bytes on disk in the temp tree every `interval` seconds while a download runs. Reading the
    tree (rather than hooking progress bars) works the same for plain HTTP and hf-xet transfers."""

    def __init__(self, tree: Path, total: int, interval: float, label: str) -> None:
        self.tree, self.total, self.interval, self.label = tree, total, interval, label
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="download-progress", daemon=True)

    def __enter__(self) -> _ProgressReporter:
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


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    elif path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
