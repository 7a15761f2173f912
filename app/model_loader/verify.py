"""Is a tree a complete model? ``check_tree``: the completion marker, every file present with its size,
and with ``deep`` its sha256; ``verify_against_hub``: a fresh download against the hub's sizes and hashes
(LFS: sha256, regular files: git blob sha1), before it gets its marker."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from app.model_loader.digests import DigestBook
from app.model_loader.errors import ModelInvalidError
from app.model_loader.hashing import FileDigest, digest_file
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
    tree: Path, files: tuple[RemoteFile, ...], workers: int, streamed: DigestBook | None = None
) -> tuple[list[ManifestFile], list[str], int]:
    """Compare every downloaded file with the source's size and hash (its sha256 where the source
    states one, else the git blob sha1). A digest computed while the file arrived (``streamed``) is used
    when it is still the same file and matches; any other file is read and hashed here, and so is a
    file whose streamed digest does not match, so a glitch of the tail can never fail a good file.
    Returns the manifest entries, the problems, and how many files needed no second read."""
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
    known: dict[str, FileDigest] = {}
    for remote in present:
        hit = streamed.for_file(remote.path, tree / remote.path) if streamed is not None else None
        if hit is not None and _mismatch(remote, hit.digest) is None:
            known[remote.path] = hit.digest
    to_hash = [r for r in present if r.path not in known]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        hashed = pool.map(lambda r: digest_file(tree / r.path, git_sha1=r.sha256 is None), to_hash)
        known.update(zip((r.path for r in to_hash), hashed, strict=True))
    entries = []
    for remote in present:
        digest = known[remote.path]
        problem = _mismatch(remote, digest)
        if problem is not None:
            problems.append(problem)
            continue
        entries.append(
            ManifestFile(
                path=remote.path,
                size=remote.size,
                sha256=digest.sha256,
                git_sha1=remote.git_sha1,
                lfs=remote.lfs,
            )
        )
    return entries, problems, len(present) - len(to_hash)


def _mismatch(remote: RemoteFile, digest: FileDigest) -> str | None:
    if remote.sha256 is not None:
        if digest.sha256 != remote.sha256:
            return f"{remote.path}: sha256 {digest.sha256}, expected {remote.sha256} (hash mismatch)"
    elif digest.git_sha1 != remote.git_sha1:
        return f"{remote.path}: git blob sha1 {digest.git_sha1}, expected {remote.git_sha1} (hash mismatch)"
    return None
