"""The S3 mirror's layout: pure functions over strings, no third-party import (the Pulumi program uses
``S3Location`` to check ``model.source`` and to scope the model loader's IAM policy to the prefix).

Under ``s3://<bucket>/<prefix>/``:

    <repo_id>/<commit>/<path>                              every file of the revision, as on the hub
    <repo_id>/<commit>/.model-loader/manifest.json         the revision's manifest (path, size, sha256, git
                                                           sha1 of every file), written after every file:
                                                           a commit without it is not mirrored (yet)
    <repo_id>/refs/<revision>                              branch or tag -> commit, written after the manifest
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.model_loader import layout

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # without leading or trailing "/"; may be empty (the whole bucket)

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """``s3://bucket/prefix`` -> S3Location; ValueError naming what is wrong."""
        if not url.startswith("s3://"):
            raise ValueError(f"{url!r} is not an s3:// URL (expected s3://bucket/prefix)")
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not _BUCKET.fullmatch(bucket):
            raise ValueError(f"{url!r}: {bucket!r} is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
        prefix = prefix.strip("/")
        if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
            raise ValueError(f"{url!r}: the prefix must not contain empty, '.' or '..' parts")
        return cls(bucket, prefix)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def revision_key(self, repo_id: str, commit: str, path: str = "") -> str:
        return self.key(layout.validate_repo_id(repo_id), layout.validate_commit(commit), path)

    def manifest_key(self, repo_id: str, commit: str) -> str:
        return self.revision_key(repo_id, commit, layout.MARKER_RELPATH)

    def ref_key(self, repo_id: str, revision: str) -> str:
        return self.key(layout.validate_repo_id(repo_id), layout.REFS_DIRNAME, revision)
