"""Object names. Every name is a pure function of (topic, partition, chunk offsets) and the record's
group, so a rerun over the same offsets writes the same names and create-only uploads turn repeats into
no-ops."""

from __future__ import annotations

MANIFEST_ROOT = "_loader/chunks"


def object_name(prefix: str, topic: str, partition: int, first: int, last: int) -> str:
    """``<prefix><topic>-<partition>-<first:020d>-<last:020d>.jsonl``; offsets are the chunk's."""
    return f"{prefix}{topic}-{partition}-{first:020d}-{last:020d}.jsonl"


def manifest_name(topic: str, partition: int, first: int) -> str:
    """The chunk that starts at ``first``: where its offset range is fixed before any data is written."""
    return f"{MANIFEST_ROOT}/{topic}/{partition}/{first:020d}.json"
