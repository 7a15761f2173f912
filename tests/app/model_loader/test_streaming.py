"""Verify while downloading: files are hashed as huggingface_hub writes them (hf_tail.py), and the store
uses such a digest only for the very file it was computed on; anything else is read and hashed again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from app.model_loader.digests import DigestBook, StreamedDigest
from app.model_loader.errors import HubUnreachableError
from app.model_loader.hashing import FileDigest, RunningDigest, digest_file
from app.model_loader.hf_tail import _Tail
from app.model_loader.remote import RemoteFile
from app.model_loader.verify import verify_against_hub
from tests.app.model_loader.conftest import REPO_ID

pytestmark = pytest.mark.integration


def test_the_hub_path_hashes_and_fsyncs_each_file_while_it_arrives(hub, hf_hub, tmp_path):
    hub.slow(0.005)  # the weights take ~0.1 s, so the tail sees them being written
    snapshot = hf_hub.resolve(REPO_ID, "v1")
    book = DigestBook()
    dest = tmp_path / "dest"
    dest.mkdir()

    hf_hub.fetch(snapshot, dest, cache_dir=tmp_path / "cache", digests=book)

    weights = next(f for f in snapshot.files if f.path == "model.safetensors")
    streamed = book.for_file(weights.path, dest / weights.path)
    assert streamed is not None, "the tail never saw huggingface_hub's temporary file of the weights"
    assert streamed.synced
    assert streamed.digest.sha256 == weights.sha256 == digest_file(dest / weights.path).sha256


def test_a_streamed_digest_counts_only_for_the_file_it_was_computed_on(tmp_path):
    good = b"weights" * 1000
    remote = RemoteFile("w.bin", len(good), hashlib.sha256(good).hexdigest(), None, lfs=True)
    path = tmp_path / "w.bin"
    path.write_bytes(good)
    book = DigestBook()
    book.add(remote.path, StreamedDigest.of(digest_file(path, git_sha1=False), path.stat(), synced=True))
    # The file is replaced after it was hashed (same size, one byte flipped): a new inode.
    replacement = tmp_path / "w.new"
    replacement.write_bytes(b"X" + good[1:])
    os.replace(replacement, path)

    entries, problems, reused = verify_against_hub(tmp_path, (remote,), 1, book)

    assert entries == []
    assert reused == 0
    assert problems == [
        f"w.bin: sha256 {hashlib.sha256(b'X' + good[1:]).hexdigest()}, expected {remote.sha256}"
        " (hash mismatch)"
    ]


def test_a_wrong_streamed_digest_is_checked_again_from_disk_before_failing(tmp_path):
    content = b'{"a": 1}'
    remote = RemoteFile("config.json", len(content), None, _git_sha1(content), lfs=False)
    path = tmp_path / "config.json"
    path.write_bytes(content)
    book = DigestBook()
    wrong = FileDigest(size=len(content), sha256="0" * 64, git_sha1="f" * 40)
    book.add(remote.path, StreamedDigest.of(wrong, path.stat(), synced=False))

    entries, problems, reused = verify_against_hub(tmp_path, (remote,), 1, book)

    assert problems == []
    assert reused == 0
    assert [(e.path, e.sha256, e.git_sha1) for e in entries] == [
        ("config.json", hashlib.sha256(content).hexdigest(), remote.git_sha1)
    ]


def test_the_tail_starts_over_when_a_restarted_transfer_truncates_the_file(tmp_path):
    final = b"0123456789" * 100
    remote = RemoteFile("f.bin", len(final), hashlib.sha256(final).hexdigest(), None, lfs=True)
    temp = tmp_path / "f.incomplete"
    temp.write_bytes(b"garbage that a failed resume left" * 10)
    fd = os.open(temp, os.O_RDONLY)
    try:
        tail = _Tail(remote, temp, fd, 0, 0)
        tail.catch_up()
        temp.write_bytes(final[:100])  # a 200 answer to the resume: truncated, written again from 0
        tail.catch_up()
        with temp.open("ab") as handle:
            handle.write(final[100:])
        tail.catch_up()
    finally:
        os.close(fd)
    assert tail.running.result().sha256 == remote.sha256


def test_a_failed_file_listing_is_reported_as_the_hub_unreachable_not_as_a_bad_model(hub, hf_hub, tmp_path):
    snapshot = hf_hub.resolve(REPO_ID, "v1")
    dest = tmp_path / "dest"
    (dest / ".model-loader").mkdir(parents=True)
    (dest / ".model-loader" / "plan.json").write_text("{}")  # the store's temp tree is never empty
    hub.fail("/tree/", 404)  # huggingface_hub then returns local_dir as if it were complete

    with pytest.raises(HubUnreachableError, match="did not deliver 4 of 4 files"):
        hf_hub.fetch(snapshot, dest, cache_dir=tmp_path / "cache", digests=DigestBook())


def _git_sha1(content: bytes) -> str:
    running = RunningDigest(expected_size=len(content), git_sha1=True)
    running.update(content)
    git = running.result().git_sha1
    assert git is not None
    return git


def test_running_digest_matches_the_git_blob_id_only_at_the_expected_size(tmp_path: Path):
    content = b"hello\n"
    running = RunningDigest(expected_size=len(content), git_sha1=True)
    running.update(content)
    assert running.result().git_sha1 == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
    running.update(b"more")
    assert running.result().git_sha1 == ""
