"""Is a tree a complete model? ``check_tree``: the completion marker, every file present with its size,
and with ``deep`` its sha256; ``verify_against_hub``: a fresh download against the hub's sizes and hashes
(LFS: sha256, regular files: git blob sha1), before it gets its marker."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from app.model_loader.errors import ModelInvalidError
from app.model_loader.hashing import digest_file
from app.model_loader.manifest import Manifest, ManifestFile, read_manifest
from app.model_loader.remote import RemoteFile


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
