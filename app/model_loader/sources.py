"""Where the weights come from (``MODEL_SOURCE``): the hub, or an S3 mirror with the hub as the fallback
(``MODEL_SOURCE_FALLBACK=hub``) for a revision the mirror does not have or cannot deliver: its manifest
missing or denied, S3 unreachable, or an object of the manifest missing (404) or denied (403, which is
what S3 answers for a missing key to a reader that may not list it). An object the mirror delivers
with the wrong size or hash is refused, not fetched elsewhere: the manifest says what the bytes must
be, and a mirror that disagrees with it is a fault to repair (docs/model-loader.md), not to paper over.

Either way the store verifies every file against the hashes of the source that resolved the revision,
and the mirror's manifest holds the hub's own sha256 and git sha1 of each file, so a file from either
is held to the same content.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from app.model_loader.digests import DigestBook
from app.model_loader.errors import HubRefusedError, HubUnreachableError, MirrorObjectUnavailableError
from app.model_loader.logs import EventLogger
from app.model_loader.remote import Hub, RemoteSnapshot

log = EventLogger("model_loader.sources")


class FallbackSource:
    """A ``Hub`` that asks the mirror first and the hub when the mirror fails."""

    def __init__(self, mirror: Hub, hub_factory: Callable[[], Hub]) -> None:
        self.mirror = mirror
        self._hub_factory = hub_factory
        self._hub: Hub | None = None
        self._resolved_by: dict[str, Hub] = {}
        self._last: Hub = mirror

    @property
    def endpoint(self) -> str:
        """The source of the last download (recorded in its manifest)."""
        return self._last.endpoint

    def _fallback(self) -> Hub:
        if self._hub is None:
            self._hub = self._hub_factory()
        return self._hub

    def resolve(self, repo_id: str, revision: str) -> RemoteSnapshot:
        try:
            snapshot = self.mirror.resolve(repo_id, revision)
            source = self.mirror
        except (HubUnreachableError, HubRefusedError) as exc:
            hub = self._fallback()
            log.warning("source.fallback", f"{exc}; resolving {repo_id}@{revision} at {hub.endpoint} instead")
            snapshot = hub.resolve(repo_id, revision)
            source = hub
        self._resolved_by[snapshot.commit] = source
        return snapshot

    def fetch(self, snapshot: RemoteSnapshot, dest: Path, *, cache_dir: Path, digests: DigestBook) -> None:
        source = self._resolved_by.get(snapshot.commit, self.mirror)
        self._last = source
        try:
            source.fetch(snapshot, dest, cache_dir=cache_dir, digests=digests)
        except (HubUnreachableError, MirrorObjectUnavailableError) as exc:
            if source is not self.mirror:
                raise
            hub = self._fallback()
            # The message names the object (and both causes of a 403); the field lets logs be searched.
            fields = {"key": exc.key} if isinstance(exc, MirrorObjectUnavailableError) else {}
            log.warning("source.fallback", f"{exc}; downloading the rest from {hub.endpoint}", **fields)
            self._last = hub
            hub.fetch(snapshot, dest, cache_dir=cache_dir, digests=digests)
