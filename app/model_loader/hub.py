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

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

import hf_xet
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
)
from huggingface_hub.utils import disable_progress_bars, get_session

from app.model_loader.digests import DigestBook
from app.model_loader.errors import (
    HubRefusedError,
    HubUnreachableError,
    LoaderError,
    UsageError,
    os_error,
)
from app.model_loader.hf_tail import IncompleteTail
from app.model_loader.manifest import check_repo_path
from app.model_loader.remote import RemoteFile, RemoteSnapshot

log = logging.getLogger("model_loader.hub")

DEFAULT_ENDPOINT = "https://huggingface.co"
# hf-xet ships no type stubs: its exception classes (PermissionError and FileNotFoundError subclasses).
XET_AUTHENTICATION_ERROR: type[Exception] = getattr(hf_xet, "XetAuthenticationError")  # noqa: B009
XET_OBJECT_NOT_FOUND_ERROR: type[Exception] = getattr(hf_xet, "XetObjectNotFoundError")  # noqa: B009


def quiet_library() -> None:
    """No tqdm bars in container logs (we log progress ourselves), and library log records go through
    our handler only (huggingface_hub attaches its own stderr handler at import)."""
    disable_progress_bars()
    library_logger = logging.getLogger("huggingface_hub")
    library_logger.handlers.clear()
    library_logger.propagate = True


# Seconds an API call (model info, the tree listing, the Xet token) may take to connect or go quiet; set
# by each HfHub call for the calls it makes (worker threads of huggingface_hub see the default).
_api_timeout: ContextVar[float] = ContextVar("hub_api_timeout", default=60.0)


def _fill_missing_timeouts(request: httpx2.Request) -> None:
    """huggingface_hub 2.4 sends its API calls with ``timeout=None`` (no limit at all: a hub that accepts
    the connection and never answers would hang the loader for ever); its file transfers carry their own
    (``HF_HUB_DOWNLOAD_TIMEOUT``, ``HF_HUB_ETAG_TIMEOUT``), which this leaves alone."""
    timeout = request.extensions.get("timeout")
    if isinstance(timeout, dict) and any(value is None for value in timeout.values()):
        seconds = _api_timeout.get()
        request.extensions["timeout"] = {k: seconds if v is None else v for k, v in timeout.items()}


@contextlib.contextmanager
def _api_timeouts(seconds: float) -> Iterator[None]:
    hooks = get_session().event_hooks["request"]
    if _fill_missing_timeouts not in hooks:
        hooks.append(_fill_missing_timeouts)
    token = _api_timeout.set(seconds)
    try:
        yield
    finally:
        _api_timeout.reset(token)


class HfHub:
    """Talks to the Hub (or a mirror / the tests' fake hub) with huggingface_hub."""

    def __init__(
        self, *, endpoint: str | None, token: str | None, max_workers: int = 8, timeout: float = 60.0
    ) -> None:
        self.endpoint = (endpoint or DEFAULT_ENDPOINT).rstrip("/")
        self._token = token
        self._max_workers = max_workers
        self._api = HfApi(endpoint=self.endpoint, token=token)
        self._timeout = timeout

    def resolve(self, repo_id: str, revision: str) -> RemoteSnapshot:
        """The commit a revision (branch, tag or sha) points at, with every file's size and hash."""
        with _mapped_errors(f"{repo_id}@{revision}"), _api_timeouts(self._timeout):
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
        with (
            _mapped_errors(what),
            _api_timeouts(self._timeout),
            IncompleteTail(dest, snapshot.files, digests),
        ):
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
    """Translate library exceptions into the loader's (``classify``); anything else goes on unchanged."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        # Never swallows (returns None): it re-raises as the loader's errors or lets the exception go.
        if exc is None:
            return
        mapped = classify(exc, self.what)
        if mapped is not None:
            raise mapped from exc


def classify(exc: BaseException, what: str) -> LoaderError | None:
    """What an exception of huggingface_hub 2.4, httpx2 or hf-xet 1.8 means for the loader: refused for good
    (exit 5: retrying cannot help until the configuration changes), unreachable (exit 6: retried later),
    a usage error (exit 2), no space (exit 4); None for anything else, which is a bug (exit 1).

    The table, with where each is raised, is in docs/model-loader.md ("Transport errors").
    """
    if isinstance(exc, GatedRepoError):
        return HubRefusedError(
            f"{what}: access denied (gated or private repo): set HF_TOKEN to a token allowed to read it"
        )
    if isinstance(exc, RepositoryNotFoundError):
        return HubRefusedError(f"{what}: repository not found (or private and HF_TOKEN missing/not allowed)")
    if isinstance(exc, RevisionNotFoundError):
        return HubRefusedError(f"{what}: revision not found on the hub")
    if isinstance(exc, (RemoteEntryNotFoundError, DisabledRepoError)):
        return HubRefusedError(f"{what}: {_first_line(exc)}")
    if isinstance(exc, OfflineModeIsEnabled):
        return UsageError(f"{what}: HF_HUB_OFFLINE is set; the loader needs the hub to download")
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            return HubRefusedError(f"{what}: HTTP {status} from the hub: check HF_TOKEN")
        return HubUnreachableError(f"{what}: HTTP {status} from the hub: {_first_line(exc)}")
    if isinstance(exc, (httpx2.InvalidURL, httpx2.UnsupportedProtocol)):
        return UsageError(f"{what}: HF_ENDPOINT is not a usable http(s) URL: {_first_line(exc)}")
    if isinstance(exc, httpx2.ProxyError):
        return HubUnreachableError(
            f"{what}: the HTTP(S) proxy failed the connection (check HTTPS_PROXY, NO_PROXY):"
            f" {_first_line(exc)}"
        )
    if isinstance(exc, httpx2.RequestError):
        # Connect/read/write errors and timeouts, protocol errors, and the two that are not transport
        # errors: a redirect loop (TooManyRedirects) and a body that fails to decode (DecodingError).
        return HubUnreachableError(f"{what}: hub unreachable: {type(exc).__name__}: {_first_line(exc)}")
    if isinstance(exc, XET_AUTHENTICATION_ERROR):
        # The CAS refused the short-lived token the hub issued (hf-xet refreshes it first): a new attempt
        # asks the hub for a new one; a hub that refuses that is HTTP 401/403 above.
        return HubUnreachableError(f"{what}: the Xet storage refused its access token: {_first_line(exc)}")
    if isinstance(exc, XET_OBJECT_NOT_FOUND_ERROR):
        return HubUnreachableError(
            f"{what}: the Xet storage lacks an object the hub listed: {_first_line(exc)}"
        )
    if isinstance(exc, RuntimeError) and _raised_by_xet(exc):
        # hf-xet 1.8 flattens every failure of a file download (CAS 5xx/401/403/404 after its retries,
        # connection refused, a chunk that fails to decompress) into RuntimeError("Task error: ...").
        return HubUnreachableError(f"{what}: Xet transfer failed: {_first_line(exc)}")
    if isinstance(exc, ValueError) and "Xet headers have not been correctly set" in str(exc):
        return UsageError(
            f"{what}: the hub's xet-read-token answer has no X-Xet-* headers (a mirror without Xet"
            " support?): set HF_HUB_DISABLE_XET=1 to download over plain HTTP"
        )
    if isinstance(exc, ValueError) and "too large to be downloaded using the regular" in str(exc):
        return UsageError(f"{what}: a file over 50 GB needs hf-xet: unset HF_HUB_DISABLE_XET")
    if isinstance(exc, (LocalEntryNotFoundError, ConnectionError, TimeoutError)):
        return HubUnreachableError(f"{what}: hub unreachable: {_first_line(exc)}")
    if isinstance(exc, OSError):
        return os_error(exc, what)
    return None


def _raised_by_xet(exc: BaseException) -> bool:
    """Raised inside huggingface_hub's ``xet_get`` (hf-xet's download), or carrying hf-xet's prefix."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "xet_get":
            return True
        tb = tb.tb_next
    return str(exc).startswith("Task error:")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
