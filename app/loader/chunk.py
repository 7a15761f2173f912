"""Chunks: a contiguous offset range of one partition, and the objects it becomes.

A chunk holds every message of its range: valid records grouped by ``raw/<source>/<day>/`` and dead
letters by ``deadletter/<day>/``. Sealing it yields one object per group, all named after the chunk's
first and last offsets, with lines in offset order: the same range always yields the same objects,
byte for byte. That is what makes a rerun after a crash idempotent.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from app.loader.naming import object_name


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    data: bytes
    lines: int
    dead_letters: bool


@dataclass(frozen=True)
class SealedChunk:
    topic: str
    partition: int
    first: int
    last: int
    objects: list[ObjectSpec]
    messages: int
    records: int
    dead_letters: int

    @property
    def bytes(self) -> int:
        return sum(len(spec.data) for spec in self.objects)

    def manifest(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "first": self.first,
            "last": self.last,
            "messages": self.messages,
            "records": self.records,
            "dead_letters": self.dead_letters,
            "objects": [spec.name for spec in self.objects],
        }


class _Group:
    """The lines of one object of the chunk (one prefix), with their offsets."""

    __slots__ = ("dead_letter", "lines", "offsets")

    def __init__(self, dead_letter: bool) -> None:
        self.dead_letter = dead_letter
        self.offsets: list[int] = []
        self.lines: list[bytes] = []


@dataclass(slots=True)
class OpenChunk:
    """Messages of one partition since the last sealed chunk, in offset order."""

    topic: str
    partition: int
    first: int | None = None
    last: int | None = None
    # Set when a previous run already fixed this chunk's range (its manifest exists): the chunk must
    # end exactly there, whatever the rotation size says.
    fixed_last: int | None = None
    bytes: int = 0
    messages: int = 0
    # One group per object prefix: a raw/<source>/<day>/ or a deadletter/<day>/ (never both for one
    # prefix, so the prefix alone is the key: no tuple per message).
    _groups: dict[str, _Group] = field(default_factory=dict)

    def add(self, offset: int, prefix: str, line: bytes, *, dead_letter: bool) -> None:
        last = self.last
        if last is None:
            self.first = offset
        elif offset <= last:
            raise ValueError(f"offset {offset} is not after {last} in partition {self.partition}")
        self.last = offset
        group = self._groups.get(prefix)
        if group is None:
            group = self._groups[prefix] = _Group(dead_letter)
        group.offsets.append(offset)
        group.lines.append(line)
        self.bytes += len(line)
        self.messages += 1

    def __bool__(self) -> bool:
        return self.messages > 0

    def seal(self, last: int | None = None) -> tuple[SealedChunk, OpenChunk]:
        """The chunk ``[first, last]`` (default: everything buffered), and what remains after it."""
        if self.first is None or self.last is None:
            raise ValueError("cannot seal an empty chunk")
        last = self.last if last is None else last
        if last < self.first:
            raise ValueError(f"cannot end the chunk at {last}, before its first offset {self.first}")
        rest = OpenChunk(self.topic, self.partition)
        objects: list[ObjectSpec] = []
        messages = records = dead = 0
        rest_items: list[tuple[int, str, bytes, bool]] = []
        for prefix, group in sorted(self._groups.items()):
            dead_letter = group.dead_letter
            cut = bisect.bisect_right(group.offsets, last)
            if cut:
                lines = group.lines[:cut]
                objects.append(
                    ObjectSpec(
                        name=object_name(prefix, self.topic, self.partition, self.first, last),
                        data=b"".join(lines),
                        lines=cut,
                        dead_letters=dead_letter,
                    )
                )
                messages += cut
                if dead_letter:
                    dead += cut
                else:
                    records += cut
            rest_items.extend(
                (offset, prefix, line, dead_letter)
                for offset, line in zip(group.offsets[cut:], group.lines[cut:], strict=True)
            )
        for offset, prefix, line, dead_letter in sorted(rest_items, key=lambda item: item[0]):
            rest.add(offset, prefix, line, dead_letter=dead_letter)
        sealed = SealedChunk(self.topic, self.partition, self.first, last, objects, messages, records, dead)
        return sealed, rest
