"""A local S3 for the tests: moto's ``ThreadedMotoServer`` (the S3 REST API, https://docs.aws.amazon.com/
AmazonS3/latest/API/, served by moto's real request handling) on a loopback port, and faults on the way
out that a network or a disk would cause.

The faults wrap moto's WSGI application (the server's ``app``), so requests and responses are moto's
own; they act on object GETs whose path contains a given key suffix: ``stall(key)`` (send half the
body, then wait for the returned gate), ``flip(key)`` (one byte flipped in transit), ``deny(key)`` (403
AccessDenied to its GET and HEAD, with the error body of the S3 API reference's "Error responses" on a
GET and none on a HEAD: what S3 answers for a missing key to a reader without s3:ListBucket, per the
GetObject and HeadObject "Permissions"), ``set_down(True)`` (503 SlowDown to everything, the endpoint in
trouble). ``gets(key)`` counts object GETs (a ranged read is one GET), ``ranges(key)`` lists their
``Range`` headers.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.model_loader.manifest import Manifest, ManifestFile
from app.model_loader.mirror_layout import S3Location
from tests.support.fake_hf_hub import Gate, git_blob_sha1

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}  # moto accepts any


class _Faults:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.stalls: dict[str, Gate] = {}
        self.flips: set[str] = set()
        self.denied: set[str] = set()
        self.down = False
        self.requests: list[tuple[str, str, str | None]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        with self.lock:
            self.requests.append((method, path, environ.get("HTTP_RANGE")))
        if self.down:
            start_response("503 Slow Down", [("Content-Type", "application/xml")])
            return [
                b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            ]
        if method in ("GET", "HEAD") and any(path.endswith(key) for key in self.denied):
            start_response("403 Forbidden", [("Content-Type", "application/xml")])
            if method == "HEAD":
                return []
            return [b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"]
        body = self.app(environ, start_response)
        if method != "GET":
            return body
        gate = next((g for key, g in self.stalls.items() if path.endswith(key)), None)
        flip = any(path.endswith(key) for key in self.flips)
        if gate is None and not flip:
            return body
        return self._faulty(b"".join(body), gate, flip)

    @staticmethod
    def _faulty(data: bytes, gate: Gate | None, flip: bool) -> Iterator[bytes]:
        if flip and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        half = len(data) // 2
        yield data[:half]
        if gate is not None:
            gate.reached.set()
            gate.wait_open(timeout=60)
        yield data[half:]


class LocalS3:
    """One moto server for a test session (a context manager)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._faults: _Faults | None = None
        self._client: Any = None

    def __enter__(self) -> LocalS3:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self._server.start()
        server = self._server._server  # werkzeug's server: its app is what we wrap
        assert server is not None
        self._faults = _Faults(server.app)
        server.app = self._faults
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset_faults()
        self._server.stop()

    @property
    def endpoint(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def faults(self) -> _Faults:
        assert self._faults is not None
        return self._faults

    def client_env(self) -> dict[str, str]:
        """Environment of a loader subprocess: boto3 reads the endpoint, region and keys from it."""
        return {"AWS_ENDPOINT_URL_S3": self.endpoint, "AWS_REGION": REGION, **CREDENTIALS}

    def client(self) -> Any:
        """One boto3 client for the tests (thread-safe; making one loads the service model, ~0.3 s). It
        tries a request once: the loader's own client (app.model_loader.s3.make_client) is what retries."""
        if self._client is None:
            from boto3.session import Session
            from botocore.config import Config

            session = Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
            )
            config = Config(retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=32)
            self._client = session.client("s3", endpoint_url=self.endpoint, config=config)
        return self._client

    def make_bucket(self, name: str | None = None) -> str:
        name = name or f"models-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    # ---- faults and observations ------------------------------------------------------------------------
    def stall(self, key: str) -> Gate:
        gate = Gate()
        self.faults.stalls[key] = gate
        return gate

    def flip(self, key: str) -> None:
        self.faults.flips.add(key)

    def deny(self, key: str) -> None:
        self.faults.denied.add(key)

    def set_down(self, down: bool) -> None:
        self.faults.down = down

    def reset_faults(self) -> None:
        if self._faults is None:
            return
        for gate in self._faults.stalls.values():
            gate.release()
        self._faults.stalls.clear()
        self._faults.flips.clear()
        self._faults.denied.clear()
        self._faults.down = False

    def gets(self, key: str) -> int:
        with self.faults.lock:
            return sum(1 for m, p, _r in self.faults.requests if m == "GET" and p.endswith(key))

    def ranges(self, key: str) -> list[str | None]:
        with self.faults.lock:
            return [r for m, p, r in self.faults.requests if m == "GET" and p.endswith(key)]


def put_mirror(
    s3: LocalS3,
    location: S3Location,
    repo_id: str,
    files: dict[str, bytes],
    *,
    refs: tuple[str, ...] = (),
    commit: str | None = None,
    lfs: Callable[[str], bool] = lambda path: path.endswith(".safetensors"),
) -> list[str]:
    """Mirror a revision the way ``mirror`` does (app.model_loader.s3.publish), from bytes; returns the
    keys of its files."""
    from app.model_loader.s3 import publish

    commit = commit or hashlib.sha1(repr(sorted(files.items())).encode(), usedforsecurity=False).hexdigest()
    entries = [
        ManifestFile(
            path=path,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            git_sha1=None if lfs(path) else git_blob_sha1(content),
            lfs=lfs(path),
        )
        for path, content in sorted(files.items())
    ]
    manifest = Manifest(
        repo_id=repo_id,
        revision=refs[0] if refs else commit,
        commit=commit,
        files=entries,
        total_size=sum(len(c) for c in files.values()),
        completed_at=datetime.now(UTC),
        loader_version="test",
        endpoint="https://huggingface.co",
    )
    with tempfile.TemporaryDirectory(prefix="mirror-") as tmp:
        for path, content in files.items():
            (Path(tmp) / path).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / path).write_bytes(content)
        publish(s3.client(), location, Path(tmp), manifest, ref=refs[0] if refs else None)
    for ref in refs[1:]:
        s3.client().put_object(
            Bucket=location.bucket, Key=location.ref_key(repo_id, ref), Body=f"{commit}\n".encode()
        )
    return [location.revision_key(repo_id, commit, path) for path in sorted(files)]
