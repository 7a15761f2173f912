"""An S3 mirror of the hub: the same revisions, read in the node's own region (``MODEL_SOURCE=s3://...``),
laid out as mirror_layout.py says (``publish`` below writes it for the ``mirror`` command).

Reads are parallel ranged GETs (s3transfer: ``multipart_chunksize`` parts, ``max_concurrency`` requests
over all files). Each file is handed to s3transfer as a non-seekable writer, so its parts arrive in
order (s3transfer's ``DeferQueue`` holds the ones that come early, at most ``max_in_memory_download_chunks``
of them): the writer appends them to ``.model-loader/incoming/`` in the temporary tree and hashes them
as they pass, so verification needs no second read. A file complete in size is fsynced and renamed to
its path (a wrong hash is then found and reported by the store's verification, which reads any file
whose digest does not match again), so a run killed half-way leaves only whole files at their paths,
which the next run keeps; the partial ones in ``incoming/`` are dropped.

Credentials and region come from boto3's usual chain (in the cluster: EKS Pod Identity on the model
loader's service account); ``AWS_ENDPOINT_URL_S3`` points it at another S3 (the tests' moto server).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import botocore.exceptions
from boto3.session import Session
from botocore.config import Config
from s3transfer.exceptions import RetriesExceededError
from s3transfer.futures import TransferFuture
from s3transfer.manager import TransferConfig, TransferManager

from app.model_loader import layout
from app.model_loader.digests import DigestBook, StreamedDigest
from app.model_loader.errors import (
    HubRefusedError,
    HubUnreachableError,
    LoaderError,
    MirrorObjectUnavailableError,
    ModelInvalidError,
    os_error,
)
from app.model_loader.hashing import RunningDigest
from app.model_loader.manifest import Manifest, check_repo_path
from app.model_loader.mirror_layout import S3Location
from app.model_loader.remote import RemoteFile, RemoteSnapshot

S3Client = Any  # boto3 creates its clients at run time (no stubs installed)

PART_BYTES = 8 << 20  # s3transfer's default part size
MISSING_CODES = ("NoSuchKey", "404", "NotFound")
DENIED_CODES = ("AccessDenied", "403")  # a HEAD's 403 has no body, so no code but the status
CREDENTIAL_CODES = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken")


def make_client(max_concurrency: int) -> S3Client:
    """boto3's S3 client with bounded time-outs and a pool as wide as the transfer's concurrency."""
    config = Config(
        connect_timeout=10,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=max_concurrency + 2,
    )
    return Session().client("s3", config=config)


class S3Mirror:
    """A ``Hub`` (remote.py) reading revisions mirrored to S3."""

    def __init__(
        self,
        location: S3Location,
        *,
        client: S3Client | None = None,
        max_concurrency: int = 16,
        part_bytes: int = PART_BYTES,
    ) -> None:
        self.location = location
        self.endpoint = location.url
        self._client = client or make_client(max_concurrency)
        self._config = TransferConfig(
            multipart_threshold=part_bytes,
            multipart_chunksize=part_bytes,
            max_request_concurrency=max_concurrency,
            # Parts that arrive ahead of the one being written wait in memory: at most this many.
            max_in_memory_download_chunks=2 * max_concurrency,
        )

    # ---- resolve -----------------------------------------------------------------------------------------
    def resolve(self, repo_id: str, revision: str) -> RemoteSnapshot:
        where = f"{self.location.url}: {repo_id}@{revision}"
        commit = revision
        if not layout.is_commit(revision):
            ref = self._get_text(self.location.ref_key(repo_id, revision), where, f"revision {revision!r}")
            commit = ref.strip()
            if not layout.is_commit(commit):
                raise HubRefusedError(f"{where}: refs/{revision} holds {commit[:60]!r}, not a commit")
        raw = self._get_text(self.location.manifest_key(repo_id, commit), where, f"commit {commit}")
        try:
            manifest = Manifest.model_validate_json(raw)
        except ValueError as exc:
            raise HubRefusedError(
                f"{where}: the mirrored manifest is invalid: {str(exc).splitlines()[0]}"
            ) from None
        if (manifest.repo_id, manifest.commit) != (repo_id, commit):
            raise HubRefusedError(
                f"{where}: the mirrored manifest names {manifest.repo_id}@{manifest.commit}, not {commit}"
            )
        files = tuple(
            RemoteFile(check_repo_path(f.path), f.size, f.sha256, f.git_sha1, lfs=f.lfs)
            for f in manifest.files
        )
        return RemoteSnapshot(repo_id, revision, commit, tuple(sorted(files, key=lambda f: f.path)))

    def _get_text(self, key: str, where: str, what: str) -> str:
        with mapped_s3_errors(
            where, missing=f"{what} is not mirrored (no s3://{self.location.bucket}/{key})"
        ):
            body = self._client.get_object(Bucket=self.location.bucket, Key=key)["Body"]
            return body.read().decode()

    # ---- fetch -----------------------------------------------------------------------------------------
    def fetch(self, snapshot: RemoteSnapshot, dest: Path, *, cache_dir: Path, digests: DigestBook) -> None:
        """Every file not already at its path in ``dest`` (a resumed tree keeps its whole files)."""
        del cache_dir  # huggingface_hub's bookkeeping: nothing of it here
        incoming = layout.incoming_dir(dest)
        shutil.rmtree(incoming, ignore_errors=True)  # parts of a killed run: s3transfer cannot resume them
        incoming.mkdir(parents=True)
        where = f"{self.location.url}: {snapshot.repo_id}@{snapshot.commit}"
        wanted = [f for f in snapshot.files if not _whole(dest / f.path, f.size)]
        writers: list[_HashingWriter] = []
        missing = "a file of the mirrored manifest is missing from the mirror"
        try:
            with (
                mapped_s3_errors(where, missing=missing),
                TransferManager(self._client, self._config) as manager,
            ):
                futures: list[tuple[_HashingWriter, str, TransferFuture]] = []
                for i, remote in enumerate(wanted):
                    writer = _HashingWriter(remote, incoming / f"{i}.part", dest / remote.path)
                    writers.append(writer)
                    key = self.location.revision_key(snapshot.repo_id, snapshot.commit, remote.path)
                    futures.append((writer, key, manager.download(self.location.bucket, key, writer)))
                for writer, key, future in futures:
                    with mapped_s3_errors(where, missing=missing, key=f"s3://{self.location.bucket}/{key}"):
                        future.result()
                    writer.finish(digests)
        finally:
            # Only once the manager has stopped every transfer thread (its exit waits for them).
            for writer in writers:
                writer.close()
        shutil.rmtree(incoming, ignore_errors=True)


def _whole(path: Path, size: int) -> bool:
    try:
        return path.is_file() and path.stat().st_size == size
    except OSError:
        return False


class _HashingWriter:
    """The file-like object s3transfer writes to (non-seekable: it then writes the parts in order)."""

    def __init__(self, remote: RemoteFile, partial: Path, final: Path) -> None:
        self.remote, self.partial, self.final = remote, partial, final
        self._fd: int | None = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._running = RunningDigest(expected_size=remote.size, git_sha1=remote.sha256 is None)

    def write(self, data: bytes) -> int:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._running.update(data)
        return len(data)

    def seekable(self) -> bool:
        return False

    def finish(self, digests: DigestBook) -> None:
        """All parts written: fsync, move to the file's path, record its digest for the store."""
        assert self._fd is not None
        digest = self._running.result()
        if digest.size != self.remote.size:
            raise ModelInvalidError(
                f"{self.remote.path}: the mirror delivered {digest.size} bytes,"
                f" the manifest says {self.remote.size}"
            )
        os.fsync(self._fd)
        stat = os.fstat(self._fd)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.partial, self.final)
        digests.add(self.remote.path, StreamedDigest.of(digest, stat, synced=True))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()


class mapped_s3_errors:
    """boto3, botocore and s3transfer exceptions as the loader's (the same exit codes as the hub's);
    ``key``: the object being read, whose absence or denial is then ``MirrorObjectUnavailableError``."""

    def __init__(self, where: str, *, missing: str, key: str | None = None) -> None:
        self.where, self.missing, self.key = where, missing, key

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None:
            return
        mapped = classify_s3(exc, self.where, self.missing, key=self.key)
        if mapped is not None:
            raise mapped from exc


def classify_s3(
    exc: BaseException, where: str, missing: str, *, key: str | None = None
) -> LoaderError | None:
    if isinstance(exc, LoaderError):
        return None
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if key is not None and code in MISSING_CODES:
            return MirrorObjectUnavailableError(
                f"{where}: {key} is missing ({code}), though the mirrored manifest lists it; run `mirror`"
                " for this revision again (it uploads what is missing)",
                key,
            )
        if key is not None and code in DENIED_CODES:
            return MirrorObjectUnavailableError(
                _denied(f"{where}: S3 denied the read of {key} ({code})", "it is missing from the mirror"),
                key,
            )
        if code in MISSING_CODES:
            return HubRefusedError(f"{where}: {missing}")
        if code == "NoSuchBucket":
            return HubRefusedError(f"{where}: the bucket does not exist (check model.source)")
        if code in DENIED_CODES + CREDENTIAL_CODES:
            return HubRefusedError(_denied(f"{where}: S3 denied the read ({code})", missing))
        return HubUnreachableError(f"{where}: S3 answered {status or '?'} {code}: {error.get('Message', '')}")
    if isinstance(
        exc, (botocore.exceptions.NoCredentialsError, botocore.exceptions.CredentialRetrievalError)
    ):
        # At a node's start the Pod Identity agent may not serve credentials yet: retried.
        return HubUnreachableError(
            f"{where}: no AWS credentials yet ({exc}); is the Pod Identity agent running?"
        )
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return None
    if isinstance(exc, (botocore.exceptions.BotoCoreError, RetriesExceededError)):
        return HubUnreachableError(f"{where}: S3 unreachable: {type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):
        return os_error(exc, where)
    return None


def _denied(what: str, missing: str) -> str:
    # S3 answers 403, not 404, for a missing key to a reader without s3:ListBucket on it, and the
    # stack's policy grants ListBucket only under an s3:prefix condition, which a GET lacks.
    return (
        f"{what}: either {missing} (S3 answers 403 for a key that does not exist when the reader may not"
        " list it), or the model loader's identity (EKS Pod Identity on its service account) lacks"
        " s3:GetObject on this prefix"
    )


# ---- mirror: hub -> S3 ----------------------------------------------------------------------------------
def publish(
    client: S3Client,
    location: S3Location,
    tree: Path,
    manifest: Manifest,
    *,
    ref: str | None,
    concurrency: int = 16,
) -> int:
    """Upload a verified tree: every file, then its manifest (the revision is complete in the mirror from
    then on), then ``refs/<ref>``. Files already there with their size are not uploaded again. Returns
    the bytes uploaded."""
    where = f"{location.url}: {manifest.repo_id}@{manifest.commit}"
    sent = 0
    config = TransferConfig(max_request_concurrency=concurrency, multipart_chunksize=PART_BYTES)
    with mapped_s3_errors(where, missing="the bucket or prefix is missing"):
        present = _sizes(client, location, location.revision_key(manifest.repo_id, manifest.commit) + "/")
        with TransferManager(client, config) as manager:
            futures = []
            for entry in manifest.files:
                key = location.revision_key(manifest.repo_id, manifest.commit, entry.path)
                if present.get(key) != entry.size:
                    futures.append(manager.upload(str(tree / entry.path), location.bucket, key))
                    sent += entry.size
            for future in futures:
                future.result()
        client.put_object(
            Bucket=location.bucket,
            Key=location.manifest_key(manifest.repo_id, manifest.commit),
            Body=json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True).encode(),
            ContentType="application/json",
        )
        if ref is not None and ref != manifest.commit:
            client.put_object(
                Bucket=location.bucket,
                Key=location.ref_key(manifest.repo_id, ref),
                Body=f"{manifest.commit}\n".encode(),
                ContentType="text/plain",
            )
    return sent


def _sizes(client: S3Client, location: S3Location, prefix: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            sizes[item["Key"]] = item["Size"]
    return sizes
