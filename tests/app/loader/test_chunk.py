"""Chunks turn an offset range into objects deterministically: the property that makes reruns
idempotent (same range -> same names and bytes), and splits that keep every message exactly once."""

from __future__ import annotations

import pytest

from app.loader.chunk import OpenChunk
from app.loader.naming import manifest_name, object_name

RAW_A = "raw/chat/2025-01-31/"
RAW_B = "raw/code/2025-02-01/"
DEAD = "deadletter/2025-01-31/"


def filled(entries: list[tuple[int, str, bool]]) -> OpenChunk:
    chunk = OpenChunk("topic", 2)
    for offset, prefix, dead in entries:
        chunk.add(offset, prefix, f"{offset}\n".encode(), dead_letter=dead)
    return chunk


ENTRIES = [(10, RAW_A, False), (11, RAW_B, False), (12, DEAD, True), (13, RAW_A, False), (15, RAW_B, False)]


def test_one_object_per_group_named_by_the_chunk_range_with_lines_in_offset_order() -> None:
    sealed, rest = filled(ENTRIES).seal()
    assert not rest
    assert {spec.name: spec.data for spec in sealed.objects} == {
        f"{RAW_A}topic-2-{10:020d}-{15:020d}.jsonl": b"10\n13\n",
        f"{RAW_B}topic-2-{10:020d}-{15:020d}.jsonl": b"11\n15\n",
        f"{DEAD}topic-2-{10:020d}-{15:020d}.jsonl": b"12\n",
    }
    assert (sealed.first, sealed.last, sealed.messages, sealed.records, sealed.dead_letters) == (
        10,
        15,
        5,
        4,
        1,
    )


def test_the_same_range_always_gives_the_same_objects() -> None:
    first, _ = filled(ENTRIES).seal()
    second, _ = filled(ENTRIES).seal()
    assert first.objects == second.objects
    assert first.manifest() == second.manifest()


def test_sealing_at_an_earlier_offset_keeps_the_rest_in_order_for_the_next_chunk() -> None:
    sealed, rest = filled(ENTRIES).seal(12)
    assert (sealed.first, sealed.last, sealed.messages) == (10, 12, 3)
    assert all(spec.name.endswith(f"-{10:020d}-{12:020d}.jsonl") for spec in sealed.objects)
    assert (rest.first, rest.last, rest.messages) == (13, 15, 2)
    assert rest.bytes == len(b"13\n15\n")
    again, remaining = rest.seal()
    assert not remaining
    assert sorted(spec.data for spec in again.objects) == [b"13\n", b"15\n"]


def test_a_split_loses_and_duplicates_nothing() -> None:
    chunk = filled([(offset, (RAW_A, RAW_B, DEAD)[offset % 3], offset % 3 == 2) for offset in range(100)])
    lines: list[bytes] = []
    for cut in (9, 40, 41, 77):
        sealed, chunk = chunk.seal(cut)
        lines += [line for spec in sealed.objects for line in spec.data.splitlines()]
    sealed, chunk = chunk.seal()
    lines += [line for spec in sealed.objects for line in spec.data.splitlines()]
    assert sorted(int(line) for line in lines) == list(range(100))


def test_offsets_must_increase() -> None:
    chunk = filled([(5, RAW_A, False)])
    with pytest.raises(ValueError, match="not after"):
        chunk.add(5, RAW_A, b"x\n", dead_letter=False)


def test_cannot_seal_before_the_first_offset_or_an_empty_chunk() -> None:
    with pytest.raises(ValueError, match="before its first offset"):
        filled(ENTRIES).seal(9)
    with pytest.raises(ValueError, match="empty"):
        OpenChunk("topic", 0).seal()


def test_names_sort_by_offset_and_manifests_live_apart_from_data() -> None:
    names = [object_name(RAW_A, "t", 0, first, first + 9) for first in (0, 10, 100, 1000)]
    assert names == sorted(names)
    assert manifest_name("t", 3, 42) == f"_loader/chunks/t/3/{42:020d}.json"
    assert not manifest_name("t", 3, 42).startswith(("raw/", "deadletter/"))
