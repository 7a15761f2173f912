"""The few items worth listing, kept while streaming: a bounded heap of the largest keys."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Top"]


class _Descending(str):
    """Reverses string order inside a key: among equal keys the smallest id ranks first."""

    __slots__ = ()

    def __lt__(self, other: str) -> bool:
        return str.__gt__(self, other)

    def __gt__(self, other: str) -> bool:
        return str.__lt__(self, other)


@dataclass(order=True)
class _Ranked(Generic[T]):
    key: tuple[Any, ...]
    item: T = field(compare=False)


class Top(Generic[T]):
    """The ``size`` items with the largest ``key`` (ties: the smaller id first), whatever the order in
    which they are offered, so a report does not depend on the order of its input lines. ``make`` is
    called only for an item that gets in."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._heap: list[_Ranked[T]] = []

    def offer(self, key: tuple[Any, ...], item_id: str, make: Callable[[], T]) -> None:
        if self.size <= 0:
            return
        full_key = (*key, _Descending(item_id))
        if len(self._heap) < self.size:
            heapq.heappush(self._heap, _Ranked(full_key, make()))
        elif full_key > self._heap[0].key:
            heapq.heapreplace(self._heap, _Ranked(full_key, make()))

    def floor(self) -> tuple[Any, ...] | None:
        """The smallest key kept, once the heap is full (an offer below it cannot get in); else None."""
        if self.size <= 0 or len(self._heap) < self.size:
            return None
        return self._heap[0].key[:-1]

    def items(self) -> list[T]:
        return [ranked.item for ranked in sorted(self._heap, reverse=True)]

    def __len__(self) -> int:
        return len(self._heap)
