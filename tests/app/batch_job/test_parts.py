"""Splitting a day into parts (one job each) within Vertex's per-job and per-file limits."""

from __future__ import annotations

import io

import pytest

from app.batch_job.parts import IndexEntry, PartSplitter


class Sink(io.BytesIO):
    def close(self) -> None:  # keep the bytes readable after the splitter closes the part
        self.closed_by_splitter = True


def _splitter(max_requests: int, max_bytes: int) -> tuple[PartSplitter, list[tuple[Sink, Sink]]]:
    opened: list[tuple[Sink, Sink]] = []

    def open_part(index: int) -> tuple[Sink, Sink]:
        assert index == len(opened), "parts are opened in order"
        opened.append((Sink(), Sink()))
        return opened[-1]

    return PartSplitter(open_part, max_requests, max_bytes), opened


def _entry(n: int) -> tuple[str, bytes]:
    return f"r-{n}", IndexEntry(key=f"r-{n}", id=str(n), source="web").to_line()


def test_splits_on_request_count():
    splitter, opened = _splitter(max_requests=3, max_bytes=10_000)
    for n in range(7):
        splitter.add(b"x" * 10 + b"\n", *_entry(n))
    parts = splitter.close()
    assert [p.requests for p in parts] == [3, 3, 1]
    assert len(opened) == 3
    assert all(data.closed_by_splitter and index.closed_by_splitter for data, index in opened)


def test_splits_before_a_line_would_pass_the_byte_limit():
    splitter, opened = _splitter(max_requests=100, max_bytes=25)
    for n in range(5):
        splitter.add(b"y" * 9 + b"\n", *_entry(n))  # 10 bytes each: two fit in 25, three do not
    parts = splitter.close()
    assert [p.requests for p in parts] == [2, 2, 1]
    assert all(p.bytes <= 25 for p in parts)
    assert [len(data.getvalue()) for data, _ in opened] == [20, 20, 10]


def test_index_lines_follow_their_request_lines():
    splitter, opened = _splitter(max_requests=2, max_bytes=10_000)
    for n in range(3):
        splitter.add(f"line{n}\n".encode(), *_entry(n))
    splitter.close()
    keys = [[IndexEntry.from_line(x).key for x in index.getvalue().splitlines()] for _, index in opened]
    assert keys == [["r-0", "r-1"], ["r-2"]]


def test_duplicate_key_within_a_part_is_dropped_and_counted():
    splitter, opened = _splitter(max_requests=10, max_bytes=10_000)
    assert splitter.add(b"a\n", *_entry(1))
    assert not splitter.add(b"a\n", *_entry(1))
    splitter.close()
    assert splitter.duplicates == 1
    assert opened[0][0].getvalue() == b"a\n"


def test_no_records_opens_no_part():
    splitter, opened = _splitter(max_requests=10, max_bytes=10_000)
    assert splitter.close() == []
    assert opened == []


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        PartSplitter(lambda i: (Sink(), Sink()), 0, 10)
