"""A small Hugging Face Hub of the tests' own: the HTTP endpoints huggingface_hub 2.4 calls to download.

It speaks the real wire format of the endpoints that `snapshot_download` and `HfApi.model_info(...,
files_metadata=True)` use (read from huggingface_hub 2.4's `hf_api.py`, `file_download.py`,
`_snapshot_download.py`):

- `GET /api/models/{repo}[/revision/{rev}][?blobs=true]`  model info: `sha`, `siblings` (with `size`,
  `blobId`, `lfs{size,sha256,pointerSize}` when `blobs`).
- `GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=...`  tree listing (`type`, `oid`, `size`,
  `path`, `lfs{oid,size,pointerSize}`), no `xetHash`.
- `POST /api/models/{repo}/paths-info/{rev}`  (form `paths=...`).
- `HEAD|GET /{repo}/resolve/{rev}/{path}`: regular files answer 200 with `X-Repo-Commit`, `ETag` (git
  blob sha1), `Content-Length`, `Accept-Ranges`; LFS files answer 302 to a second "CDN" listener
  (another port, so another origin: huggingface_hub then takes the metadata from the 302 itself and drops
  the Authorization header, as with the real CDN) with `X-Linked-Etag` (sha256) and `X-Linked-Size`.
- `GET /cdn/{sha256}` on the CDN listener, with `Range: bytes=N-` support (huggingface_hub resumes a
  broken transfer with it).
- Errors carry `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`, `GatedRepo`), which
  huggingface_hub maps to its exception types.

By default no `X-Xet-*` headers and no `xetHash` are sent (a repo in plain Git LFS), so the client uses
plain HTTP. `FakeHfHub(xet=True)` serves every LFS file Xet-backed, the way the Hub does since it moved
to Xet storage (hub-docs `docs/xet/file-id.md`, `auth.md`, `api.md`, `download-protocol.md`, published at
https://huggingface.co/docs/xet, and `docs/hub/xet/legacy-git-lfs.md`; what huggingface_hub 2.4 reads of it
is in `file_download.py` and `utils/_xet.py`):

- the tree listing gives each such file its `xetHash`, so `snapshot_download` skips the HEAD;
- `HEAD|GET resolve` answers 302 with `X-Xet-Hash`, `X-Linked-Etag`/`X-Linked-Size`, `Link: <...xet-read-
  token/{commit}>; rel="xet-auth", <{cas}/v1/reconstructions/{hash}>; rel="xet-reconstruction-info"` and a
  `Location` on the CDN listener (the "LFS bridge" that serves the whole reconstructed file with `Range`,
  which a client without hf-xet, or with `HF_HUB_DISABLE_XET=1`, follows);
- `GET /api/models/{repo}/xet-read-token/{rev}` (Hub token) answers JSON `{accessToken, exp, casUrl}` and the
  same in `X-Xet-Access-Token`, `X-Xet-Token-Expiration`, `X-Xet-Cas-Url`;
- the CAS, on the CDN listener: `GET /v1/reconstructions/{hash}` (Bearer access token, `Range`), 501 for
  `/v2/reconstructions/` (hf-xet then uses V1; the real CAS also serves V2, multi-range, which this fake
  does not), presigned ranged xorb reads `GET /xorbs/default/{xorb hash}` (no Authorization), and
  `POST /v1/telemetry`. The xorbs and shards are real, made by hf-xet (tests/support/fake_xet.py).

The faults below act on the xorb reads of a Xet file (`corrupt` flips a byte of an uncompressed chunk,
which hf-xet writes out without noticing: it checks no content hash) and on the bridge alike, and
`downloads(path)` counts xorb reads. Both listeners bind 127.0.0.1 on free ports.

Faults, set by the tests: `corrupt(path)` (serve one byte flipped; metadata unchanged), `cut_once(path)`
(close the connection half-way through the next body), `stall(path)` (send half the body, then wait for
the returned gate), `slow(seconds_per_chunk)`, `wire_bytes_per_second` (paces every body, as a link of that
rate would), `set_unavailable(True)` (503 everywhere, hub down),
`fail(path_contains, status)` (one route answers an error), `hang(path_contains)` (a route that accepts
and answers nothing until released), `redirect_loop(path)`, `garble(path_contains)` (an API answer that
fails to decode).
`downloads(path)` counts body GETs per file so tests can assert that a file was fetched once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.fake_xet import XetFile, flip_payload_byte, xet_file

CHUNK = 4096


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class FakeFile:
    path: str
    content: bytes
    lfs: bool = False

    @property
    def size(self) -> int:
        return len(self.content)

    @functools.cached_property
    def sha256(self) -> str:
        # Once per file: the server looks it up on every listing, resolve and CDN request, and hashing a
        # 256 MiB weight file each time made the server, not the client, the bench's bottleneck.
        return hashlib.sha256(self.content).hexdigest()

    @property
    def pointer(self) -> bytes:
        """The git-lfs pointer file committed in git in place of an LFS file's content."""
        return (
            f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n"
        ).encode()

    @functools.cached_property
    def blob_id(self) -> str:
        """Git object id: of the content for regular files, of the pointer for LFS files (as on the Hub)."""
        return git_blob_sha1(self.pointer if self.lfs else self.content)


@dataclass
class FakeRevision:
    files: dict[str, FakeFile]
    commit: str = ""

    def __post_init__(self) -> None:
        if not self.commit:
            digest = hashlib.sha1(usedforsecurity=False)
            for path in sorted(self.files):
                digest.update(path.encode() + b"\0" + self.files[path].content)
            self.commit = digest.hexdigest()


@dataclass
class FakeRepo:
    repo_id: str
    revisions: dict[str, FakeRevision] = field(default_factory=dict)  # by commit
    refs: dict[str, str] = field(default_factory=dict)  # branch/tag -> commit

    def add(self, revision: FakeRevision, *refs: str) -> FakeRevision:
        self.revisions[revision.commit] = revision
        for ref in refs:
            self.refs[ref] = revision.commit
        return revision

    def resolve(self, rev: str) -> FakeRevision | None:
        if rev in self.refs:
            return self.revisions[self.refs[rev]]
        return self.revisions.get(rev)


def _weights(seed: str, size: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def tiny_model_repo(repo_id: str = "acme/tiny-judge", weights_size: int = 96 * 1024) -> FakeRepo:
    """A tiny model in two revisions: `v1` and `v2` (tags); `main` points at v1 until a test moves it."""
    repo = FakeRepo(repo_id)
    for version in (1, 2):
        files = [
            FakeFile("config.json", json.dumps({"model_type": "tiny", "version": version}).encode()),
            FakeFile("tokenizer.json", json.dumps({"vocab": {"a": 0, "b": 1}, "v": version}).encode()),
            FakeFile("original/params.json", json.dumps({"dim": 8 * version}).encode()),
            FakeFile("model.safetensors", _weights(f"{repo_id}@{version}", weights_size), lfs=True),
        ]
        repo.add(FakeRevision({f.path: f for f in files}), f"v{version}")
    repo.refs["main"] = repo.refs["v1"]
    return repo


class Gate:
    """Holds a stalled transfer: `reached` is set when half the body is sent; `release()` lets it finish."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self._open = threading.Event()

    def release(self) -> None:
        self._open.set()

    def wait_open(self, timeout: float) -> bool:
        return self._open.wait(timeout)


class FakeHfHub:
    def __init__(
        self, repos: list[FakeRepo] | None = None, *, token: str | None = None, xet: bool = False
    ) -> None:
        self.repos = {repo.repo_id: repo for repo in (repos or [tiny_model_repo()])}
        self.token = token
        self.xet = xet
        self.xet_access_token = f"xet_{secrets.token_hex(8)}"
        self._xet_by_hash: dict[str, tuple[FakeFile, XetFile]] = {}
        self._xorb_owner: dict[str, FakeFile] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self._downloads: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._corrupt: set[str] = set()
        self._cut_once: set[str] = set()
        self._stalls: dict[str, Gate] = {}
        self._slow = 0.0
        self._unavailable = False
        self._failures: dict[str, int] = {}
        self._hangs: dict[str, Gate] = {}
        self._redirect_loops: set[str] = set()
        self._garbled: set[str] = set()
        # Bytes per write of a body (faults act at this granularity); the bench raises it for 1 GiB.
        self.chunk_size = CHUNK
        # The most bytes per second one response sends (0: as fast as loopback goes). bench/model_loader.py
        # sets it to model a network link, where a loopback transfer would be bound by this machine's CPU.
        self.wire_bytes_per_second = 0
        self._hub = self._make_server(is_cdn=False)
        self._cdn = self._make_server(is_cdn=True)
        self._threads: list[threading.Thread] = []

    # ---- lifecycle ----------------------------------------------------------------------------------
    def _make_server(self, *, is_cdn: bool) -> ThreadingHTTPServer:
        hub = self

        class Handler(_Handler):
            fake = hub
            cdn = is_cdn

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        return server

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn_endpoint(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def start(self) -> FakeHfHub:
        for server in (self._hub, self._cdn):
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for gate in (*self._stalls.values(), *self._hangs.values()):
            gate.release()
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeHfHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- faults ---------------------------------------------------------------------------------------
    def corrupt(self, path: str) -> None:
        self._corrupt.add(path)

    def cut_once(self, path: str) -> None:
        self._cut_once.add(path)

    def stall(self, path: str) -> Gate:
        gate = Gate()
        self._stalls[path] = gate
        return gate

    def slow(self, seconds_per_chunk: float) -> None:
        self._slow = seconds_per_chunk

    def set_unavailable(self, unavailable: bool) -> None:
        self._unavailable = unavailable

    def fail(self, path_contains: str, status: int) -> None:
        """Answer `status` (no X-Error-Code, as a proxy or a failing backend would) to every request whose
        path contains `path_contains`."""
        self._failures[path_contains] = status

    def hang(self, path_contains: str) -> Gate:
        """Accept requests whose path contains `path_contains` and answer nothing until released."""
        gate = Gate()
        self._hangs[path_contains] = gate
        return gate

    def redirect_loop(self, path: str) -> None:
        """`resolve` of this file answers 302 to itself (a proxy or mirror misconfigured)."""
        self._redirect_loops.add(path)

    def garble(self, path_contains: str) -> None:
        """Answer API calls whose path contains this with `Content-Encoding: gzip` that is not gzip."""
        self._garbled.add(path_contains)

    def reset_faults(self) -> None:
        for gate in (*self._stalls.values(), *self._hangs.values()):
            gate.release()
        self._hangs.clear()
        self._redirect_loops.clear()
        self._garbled.clear()
        self._corrupt.clear()
        self._cut_once.clear()
        self._stalls.clear()
        self._slow = 0.0
        self._unavailable = False
        self._failures.clear()

    # ---- observations -----------------------------------------------------------------------------
    def downloads(self, path: str) -> int:
        """How many GETs of this file's body were answered (any revision)."""
        with self._lock:
            return self._downloads[path]

    def count(self, method: str, path_contains: str) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if m == method and path_contains in p)

    def ranged_requests(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(p, r) for _m, p, r in self.requests if r]

    # ---- helpers used by the handler -------------------------------------------------------------
    def _find_lfs(self, sha256: str) -> FakeFile | None:
        for repo in self.repos.values():
            for revision in repo.revisions.values():
                for file in revision.files.values():
                    if file.lfs and file.sha256 == sha256:
                        return file
        return None

    def _record(self, method: str, path: str, range_header: str | None) -> None:
        with self._lock:
            self.requests.append((method, path, range_header))

    def _count_download(self, path: str) -> None:
        with self._lock:
            self._downloads[path] += 1

    def xet_of(self, file: FakeFile) -> XetFile | None:
        """The Xet form of an LFS file when this hub serves Xet (made on first use)."""
        if not (self.xet and file.lfs):
            return None
        xet = xet_file(file.content)
        with self._lock:
            self._xet_by_hash[xet.file_hash] = (file, xet)
            for xorb in xet.xorbs:
                self._xorb_owner[xorb] = file
        return xet


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeHfHub
    cdn: bool

    def log_message(self, format: str, *args: object) -> None:
        pass

    # ---- plumbing -----------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", **(headers or {})}
        if any(needle in self.path for needle in self.fake._garbled):
            headers["Content-Encoding"] = "gzip"
        self._send(status, json.dumps(payload).encode(), headers)

    def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": message}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._json(status, {"error": message}, headers)

    def _authorized(self) -> bool:
        if self.cdn or self.fake.token is None:
            return True
        return self.headers.get("Authorization") == f"Bearer {self.fake.token}"

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.fake._record(self.command, url.path, self.headers.get("Range"))
        if self.fake._unavailable:
            self._json(503, {"error": "Service Unavailable"})
            return
        for needle, status in list(self.fake._failures.items()):
            if needle in url.path:
                self._json(status, {"error": "injected failure"})
                return
        for needle, gate in list(self.fake._hangs.items()):
            if needle in url.path:
                gate.reached.set()
                gate.wait_open(timeout=60)
        if not self._authorized():
            self._error(401, "GatedRepo", "Access to this model is restricted; a valid token is required.")
            return
        query = parse_qs(url.query)
        path = unquote(url.path)
        try:
            if self.cdn:
                self._cdn_get(path)
            elif path.startswith("/api/models/"):
                self._api(path[len("/api/models/") :], query)
            elif "/resolve/" in path:
                self._resolve(path.lstrip("/"))
            else:
                self._error(404, "NotFound", f"no route for {path}")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # ---- /api/models ---------------------------------------------------------------------------------
    def _repo_and_rest(self, spec: str, keyword: str) -> tuple[str, str | None]:
        if f"/{keyword}/" in spec:
            repo_id, rest = spec.split(f"/{keyword}/", 1)
            return repo_id, rest
        return spec, None

    def _api(self, spec: str, query: dict[str, list[str]]) -> None:
        for keyword, handler in (
            ("tree", self._tree),
            ("paths-info", self._paths_info),
            ("xet-read-token", self._xet_read_token),
        ):
            repo_id, rest = self._repo_and_rest(spec, keyword)
            if rest is not None:
                handler(repo_id, rest, query)
                return
        repo_id, rev = self._repo_and_rest(spec, "revision")
        repo = self.fake.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
            return
        revision = repo.resolve(rev or "main")
        if revision is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            return
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for file in revision.files.values():
            sibling: dict[str, object] = {"rfilename": file.path}
            if blobs:
                sibling.update(size=file.size, blobId=file.blob_id)
                if file.lfs:
                    sibling["lfs"] = {
                        "size": file.size,
                        "sha256": file.sha256,
                        "pointerSize": len(file.pointer),
                    }
            siblings.append(sibling)
        self._json(
            200,
            {
                "_id": "0" * 24,
                "id": repo_id,
                "modelId": repo_id,
                "sha": revision.commit,
                "private": self.fake.token is not None,
                "gated": False,
                "disabled": False,
                "tags": [],
                "siblings": siblings,
            },
        )

    def _revision_or_error(self, repo_id: str, rev: str) -> FakeRevision | None:
        repo = self.fake.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
            return None
        revision = repo.resolve(rev)
        if revision is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        return revision

    def _entry(self, file: FakeFile) -> dict[str, object]:
        entry: dict[str, object] = {"type": "file", "oid": file.blob_id, "size": file.size, "path": file.path}
        if file.lfs:
            entry["lfs"] = {"oid": file.sha256, "size": file.size, "pointerSize": len(file.pointer)}
        xet = self.fake.xet_of(file)
        if xet is not None:
            entry["xetHash"] = xet.file_hash
        return entry

    def _tree(self, repo_id: str, rest: str, query: dict[str, list[str]]) -> None:
        rev, _, prefix = rest.partition("/")
        revision = self._revision_or_error(repo_id, rev)
        if revision is None:
            return
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        base = f"{prefix}/" if prefix else ""
        entries: list[dict[str, object]] = []
        folders: set[str] = set()
        for file in sorted(revision.files.values(), key=lambda f: f.path):
            if not file.path.startswith(base):
                continue
            relative = file.path[len(base) :]
            parts = relative.split("/")
            for depth in range(1, len(parts)):
                folder = base + "/".join(parts[:depth])
                if folder not in folders and (recursive or depth == 1):
                    folders.add(folder)
                    entries.append(
                        {
                            "type": "directory",
                            "oid": git_blob_sha1(folder.encode()),
                            "size": 0,
                            "path": folder,
                        }
                    )
            if recursive or len(parts) == 1:
                entries.append(self._entry(file))
        self._json(200, entries)

    def _paths_info(self, repo_id: str, rev: str, _query: dict[str, list[str]]) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        revision = self._revision_or_error(repo_id, rev.strip("/"))
        if revision is None:
            return
        wanted = form.get("paths", [])
        self._json(200, [self._entry(revision.files[p]) for p in wanted if p in revision.files])

    def _xet_read_token(self, repo_id: str, rev: str, _query: dict[str, list[str]]) -> None:
        """auth.md: a short-lived CAS token for one repo and revision, as JSON and as headers."""
        if self._revision_or_error(repo_id, rev) is None:
            return
        expires = int(time.time()) + 3600
        token = {"accessToken": self.fake.xet_access_token, "exp": expires, "casUrl": self.fake.cdn_endpoint}
        self._json(
            200,
            token,
            {
                "X-Xet-Access-Token": self.fake.xet_access_token,
                "X-Xet-Token-Expiration": str(expires),
                "X-Xet-Cas-Url": self.fake.cdn_endpoint,
            },
        )

    # ---- /{repo}/resolve/{rev}/{path} -----------------------------------------------------------
    def _resolve(self, spec: str) -> None:
        repo_id, rest = spec.split("/resolve/", 1)
        rev, _, file_path = rest.partition("/")
        revision = self._revision_or_error(repo_id, rev)
        if revision is None:
            return
        file = revision.files.get(file_path)
        if file is None:
            self._error(404, "EntryNotFound", f"{file_path} does not exist", commit=revision.commit)
            return
        common = {"X-Repo-Commit": revision.commit, "Accept-Ranges": "bytes"}
        if file.path in self.fake._redirect_loops:
            self._send(302, b"", {**common, "Location": self.path})
            return
        if file.lfs:
            location = f"{self.fake.cdn_endpoint}/cdn/{file.sha256}"
            xet_headers: dict[str, str] = {}
            xet = self.fake.xet_of(file)
            if xet is not None:
                location = f"{self.fake.cdn_endpoint}/xet-bridge-us/{xet.file_hash}"
                token_url = f"{self.fake.endpoint}/api/models/{repo_id}/xet-read-token/{revision.commit}"
                reconstruction = f"{self.fake.cdn_endpoint}/v1/reconstructions/{xet.file_hash}"
                links = f'<{token_url}>; rel="xet-auth", <{reconstruction}>; rel="xet-reconstruction-info"'
                xet_headers = {"X-Xet-Hash": xet.file_hash, "Link": links}
            self._send(
                302,
                b"",
                {
                    **common,
                    "Location": location,
                    "ETag": f'"{file.blob_id}"',
                    "X-Linked-Etag": f'"{file.sha256}"',
                    "X-Linked-Size": str(file.size),
                    **xet_headers,
                },
            )
            return
        self._body(file, {**common, "ETag": f'"{file.blob_id}"'})

    def _cdn_get(self, path: str) -> None:
        if path.startswith(("/v1/", "/v2/", "/xorbs/", "/xet-bridge-us/")):
            self._cas(path)
            return
        if not path.startswith("/cdn/"):
            self._error(404, "NotFound", f"no route for {path}")
            return
        file = self.fake._find_lfs(path[len("/cdn/") :])
        if file is None:
            self._error(404, "EntryNotFound", "no such object")
            return
        self._body(file, {"ETag": f'"{file.sha256}"', "Accept-Ranges": "bytes"})

    # ---- the Xet CAS (and its LFS bridge) on the CDN listener ------------------------------------
    def _cas(self, path: str) -> None:
        if path == "/v1/telemetry":  # fire-and-forget reports of hf-xet (the CAS's openapi)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._send(200)
            return
        if path.startswith("/v2/reconstructions/"):
            self._json(501, {"error": "V2 reconstructions are not served by this fake"})
            return
        name = path.rsplit("/", 1)[1]
        with self.fake._lock:
            found = self.fake._xet_by_hash.get(name)
            owner = self.fake._xorb_owner.get(name)
        if path.startswith("/xet-bridge-us/") and found is not None:
            self._body(found[0], {"ETag": f'"{found[1].file_hash}"', "Accept-Ranges": "bytes"})
        elif path.startswith("/v1/reconstructions/"):
            self._reconstruction(found)
        elif path.startswith("/xorbs/default/") and owner is not None:
            self._xorb(owner, name)
        else:
            self._json(404, {"error": f"no such object: {path}"})

    def _reconstruction(self, found: tuple[FakeFile, XetFile] | None) -> None:
        if self.headers.get("Authorization") != f"Bearer {self.fake.xet_access_token}":
            self._json(401, {"error": "invalid or expired CAS token"})
            return
        if found is None:
            self._json(404, {"error": "file not found"})
            return
        xet = found[1]
        first, last = 0, xet.size - 1
        range_header = self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            start, _, end = range_header[len("bytes=") :].partition("-")
            first = int(start)
            last = min(int(end), xet.size - 1) if end else xet.size - 1
            if first >= xet.size:
                self._json(416, {"error": "range not satisfiable"})
                return
        self._json(200, xet.reconstruction(first, last, f"{self.fake.cdn_endpoint}/xorbs/default/"))

    def _xorb(self, owner: FakeFile, xorb: str) -> None:
        """A presigned ranged read of a serialized xorb (api.md: `url_range` is inclusive)."""
        xet = self.fake.xet_of(owner)
        assert xet is not None
        data = xet.xorbs[xorb]
        start, _, end = (self.headers.get("Range") or "bytes=0-").removeprefix("bytes=").partition("-")
        first, last = int(start), min(int(end) if end else len(data) - 1, len(data) - 1)
        body = data[first : last + 1]
        if owner.path in self.fake._corrupt:
            body = flip_payload_byte(body)
        headers = {
            "Content-Range": f"bytes {first}-{last}/{len(data)}",
            "Content-Type": "application/octet-stream",
        }
        self._stream(owner.path, 206, body, headers)

    def _body(self, file: FakeFile, headers: dict[str, str]) -> None:
        data = file.content
        if file.path in self.fake._corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        status = 200
        range_header = self.headers.get("Range")
        if range_header and range_header.startswith("bytes="):
            start = int(range_header[len("bytes=") :].split("-", 1)[0] or 0)
            status = 206
            headers = {**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
        self._stream(
            file.path,
            status,
            memoryview(data)[start:],
            {"Content-Type": "application/octet-stream", **headers},
        )

    def _stream(self, path: str, status: int, body: bytes | memoryview, headers: dict[str, str]) -> None:
        """Send a file's bytes, with the faults set on its path (cut, stall, slow)."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        self.fake._count_download(path)
        half = len(body) // 2
        cut = path in self.fake._cut_once
        if cut:
            self.fake._cut_once.discard(path)
        gate = self.fake._stalls.get(path)
        chunk = self.fake.chunk_size
        rate = self.fake.wire_bytes_per_second
        started = time.monotonic()
        for offset in range(0, len(body), chunk):
            if rate:
                ahead = offset / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            if offset >= half and (cut or gate is not None):
                if cut:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if gate is not None:
                    self.wfile.flush()
                    gate.reached.set()
                    gate.wait_open(timeout=60)
                    gate = None
            self.wfile.write(body[offset : offset + chunk])
            if self.fake._slow:
                self.wfile.flush()
                time.sleep(self.fake._slow)
