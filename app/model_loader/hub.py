"""The Hugging Face Hub boundary: resolve a revision with its file metadata, and fetch a snapshot.

Everything that imports huggingface_hub lives here. huggingface_hub reads most of its environment
(`HF_ENDPOINT`, `HF_HOME`, `HF_XET_HIGH_PERFORMANCE`, ...) into constants at import time, so
`configure_environment` must run before this module is imported (the CLI does it); the endpoint and token
are nevertheless passed explicitly on every call, so an in-process caller that imported the library
earlier still talks to the endpoint it configured.

Fast transfer: huggingface_hub 2.4 dropped hf_transfer; it downloads through hf-xet automatically when
the `hf_xet` package is installed and the Hub answers with Xet metadata (`X-Xet-Hash`), and falls back to
plain HTTP otherwise. `HF_XET_HIGH_PERFORMANCE=1` lets hf-xet use more connections and memory.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import httpx2
from huggingface_hub import HfApi, snapshot_download
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    XetDownloadError,
)
from huggingface_hub.utils import disable_progress_bars

from app.model_loader.digests import DigestBook
from app.model_loader.errors import HubRefusedError, HubUnreachableError, InsufficientSpaceError, UsageError
from app.model_loader.hf_tail import IncompleteTail
from app.model_loader.manifest import check_repo_path
from app.model_loader.remote import RemoteFile, RemoteSnapshot

log = logging.getLogger("model_loader.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"


def quiet_library() -> None:
    """No tqdm bars in container logs (we log progress ourselves), and library log records go through
    our handler only (huggingface_hub attaches its own stderr handler at import)."""
    disable_progress_bars()
    library_logger = logging.getLogger("huggingface_hub")
    library_logger.handlers.clear()
    library_logger.propagate = True


class HfHub:
    """Talks to the Hub (or a mirror / the tests' fake hub) with huggingface_hub."""

    def __init__(self, *, endpoint: str | None, token: str | None, max_workers: int = 8) -> None:
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._token = token
        self._max_workers = max_workers
        self._api = HfApi(endpoint=self.endpoint, token=token)

    def resolve(self, repo_id: str, revision: str) -> RemoteSnapshot:
        """The commit a revision (branch, tag or sha) points at, with every file's size and hash."""
        with _mapped_errors(f"{repo_id}@{revision}"):
            info = self._api.model_info(repo_id, revision=revision, files_metadata=True)
        if not info.sha or info.siblings is None:
            raise HubUnreachableError(
                f"{self.endpoint} answered model info for {repo_id}@{revision} without sha/siblings"
            )
        files = []
        for sibling in info.siblings:
            try:
                path = check_repo_path(sibling.rfilename)
            except ValueError as exc:
                raise HubRefusedError(f"{repo_id}@{revision}: {exc}") from None
            if sibling.size is None:
                raise HubUnreachableError(f"{repo_id}@{revision}: the hub gave no size for {path}")
            if sibling.lfs is not None:
                files.append(RemoteFile(path, sibling.lfs.size, sibling.lfs.sha256, None, lfs=True))
            elif sibling.blob_id:
                files.append(RemoteFile(path, sibling.size, None, sibling.blob_id, lfs=False))
            else:
                raise HubUnreachableError(f"{repo_id}@{revision}: the hub gave no hash for {path}")
        return RemoteSnapshot(repo_id, revision, info.sha, tuple(sorted(files, key=lambda f: f.path)))

    def fetch(self, snapshot: RemoteSnapshot, dest: Path, *, cache_dir: Path, digests: DigestBook) -> None:
        """Download every file of the snapshot's commit into `dest` (resumes files already complete there),
        hashing each while it is written (hf_tail.py).

        Pinning `revision` to the resolved commit makes the download immutable even if the branch moves
        meanwhile. `cache_dir` only holds huggingface_hub's own bookkeeping (refs), never the weights.
        """
        what = f"{snapshot.repo_id}@{snapshot.commit}"
        with _mapped_errors(what), IncompleteTail(dest, snapshot.files, digests):
            snapshot_download(
                snapshot.repo_id,
                revision=snapshot.commit,
                local_dir=dest,
                cache_dir=cache_dir,
                endpoint=self.endpoint,
                token=self._token,
                max_workers=self._max_workers,
                allow_patterns=[f.path for f in snapshot.files],
            )
        # snapshot_download returns `local_dir` as if all went well when it cannot list the revision's
        # files (any HTTP error or connection failure) and the directory is not empty, which ours never
        # is (the plan file): files missing now mean the hub failed, not the model.
        missing = [f.path for f in snapshot.files if not (dest / f.path).is_file()]
        if missing:
            listed = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise HubUnreachableError(
                f"{what}: the hub did not deliver {len(missing)} of {len(snapshot.files)} files ({listed});"
                " its file listing likely failed"
            )


class _mapped_errors:
    """Translate library exceptions into the loader's: permanent (refused) vs transient (unreachable)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        # Never swallows (returns None): it re-raises as the loader's errors or lets the exception go.
        if exc is None:
            return
        what = self.what
        if isinstance(exc, GatedRepoError):
            raise HubRefusedError(
                f"{what}: access denied (gated or private repo): set HF_TOKEN to a token allowed to read it"
            ) from exc
        if isinstance(exc, RepositoryNotFoundError):
            raise HubRefusedError(
                f"{what}: repository not found (or private and HF_TOKEN missing/not allowed)"
            ) from exc
        if isinstance(exc, RevisionNotFoundError):
            raise HubRefusedError(f"{what}: revision not found on the hub") from exc
        if isinstance(exc, (RemoteEntryNotFoundError, DisabledRepoError)):
            raise HubRefusedError(f"{what}: {_first_line(exc)}") from exc
        if isinstance(exc, OfflineModeIsEnabled):
            raise UsageError(f"{what}: HF_HUB_OFFLINE is set; the loader needs the hub to download") from exc
        if isinstance(exc, HfHubHTTPError):
            status = exc.response.status_code if exc.response is not None else None
            if status in (401, 403):
                raise HubRefusedError(f"{what}: HTTP {status} from the hub: check HF_TOKEN") from exc
            raise HubUnreachableError(f"{what}: HTTP {status} from the hub: {_first_line(exc)}") from exc
        if isinstance(exc, (httpx2.TransportError, LocalEntryNotFoundError, XetDownloadError, TimeoutError)):
            raise HubUnreachableError(f"{what}: hub unreachable: {_first_line(exc)}") from exc
        if isinstance(exc, OSError):
            if exc.errno == errno.ENOSPC:
                raise InsufficientSpaceError(
                    f"{what}: the disk filled up during the download: {exc}"
                ) from exc
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise UsageError(f"{what}: cannot write the models directory: {exc}") from exc
            # e.g. huggingface_hub's "Consistency check failed" after a truncated transfer: retry later.
            raise HubUnreachableError(f"{what}: download failed: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
