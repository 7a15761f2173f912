"""Make ``repo_id@revision`` present and, with ``switch``, served: under the model lock, a commit already
on disk is used as it is (no network), a branch or tag is resolved at the hub (or, when the hub is
unreachable, the commit it pointed at when last resolved here), and a missing tree is downloaded
(download.py) before the served link is switched."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from app.model_loader import layout
from app.model_loader.base import log
from app.model_loader.download import StoreDownload
from app.model_loader.errors import HubUnreachableError
from app.model_loader.logs import human_bytes
from app.model_loader.manifest import Manifest
from app.model_loader.refs import StoreRefs
from app.model_loader.remote import Hub
from app.model_loader.switch import StoreSwitch
from app.model_loader.verify import check_tree


@dataclass
class EnsureResult:
    manifest: Manifest
    previous_commit: str | None
    downloaded: bool
    offline: bool = False


class StoreEnsure(StoreDownload, StoreSwitch, StoreRefs):
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
