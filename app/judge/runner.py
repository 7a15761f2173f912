"""The reusable run engine: judge many items with bounded concurrency, and resume from an output JSONL.

``judge_items`` keeps up to ``concurrency`` judgements in flight, pulls the next item only when a slot
frees (so a million-line input is never loaded at once), and yields each result as soon as it completes
(completion order, not input order). It is used by the CLI and by the batch job's self-hosted path.

Resume: the output JSONL is append-only and flushed line by line, so after a crash it holds every
finished judgement plus at most one torn last line. ``repair_tail`` cuts that torn line off before new
lines are appended; ``read_judged_ids`` collects the ids already present.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from app.judge.results import JudgeFailure, Judgement

__all__ = ["Item", "ItemResult", "JudgeLike", "judge_items", "read_judged_ids", "repair_tail"]

ItemId = str | int


@dataclass(frozen=True)
class Item:
    id: ItemId
    prompt: str
    response: str


@dataclass(frozen=True)
class ItemResult:
    id: ItemId
    judgement: Judgement


class _Judge(Protocol):
    @property
    def model(self) -> str: ...

    async def judge(
        self, original_prompt: str, model_response: str, model: str | None = None
    ) -> Judgement: ...


# What judge_items drives: the judge client, or another backend with its surface (calibrate's Vertex one).
JudgeLike = _Judge

_END = object()


@dataclass(frozen=True)
class _SourceFailed:
    error: BaseException


def _item_source(items: Iterable[object] | AsyncIterable[object]) -> Callable[[], Awaitable[object]]:
    """A ``next_item()`` shared by the workers; returns ``_END`` when the items run out."""
    if isinstance(items, AsyncIterable):
        iterator = aiter(items)
        lock = asyncio.Lock()  # an async generator cannot be advanced by two workers at once

        async def next_async() -> object:
            async with lock:
                try:
                    return await anext(iterator)
                except StopAsyncIteration:
                    return _END

        return next_async
    plain = iter(items)

    async def next_sync() -> object:
        return next(plain, _END)

    return next_sync


async def judge_items(
    client: _Judge,
    items: Iterable[Item | tuple[ItemId, str, str]] | AsyncIterable[Item | tuple[ItemId, str, str]],
    *,
    concurrency: int,
    model: str | None = None,
) -> AsyncIterator[ItemResult]:
    """Judge ``items`` (``Item`` or ``(id, prompt, response)``) keeping ``concurrency`` in flight.

    ``concurrency`` workers each take the next item the moment their judgement finishes, in the same
    event-loop step: a central dispatcher would leave each slot idle for a loop iteration or two, and
    the HTTP pool pays for every idle keep-alive connection on each request it assigns (a readability
    poll per connection), which measurably slows a busy run. If the source itself raises (an unreadable
    input file), the error reaches the consumer after the judgements already running are delivered.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    next_item = _item_source(items)
    results: asyncio.Queue[ItemResult | _SourceFailed | None] = asyncio.Queue(maxsize=concurrency)

    async def judge_one(item: Item) -> Judgement:
        try:
            return await client.judge(item.prompt, item.response, model)
        except Exception as exc:  # the client already turns I/O into failures; this is a last resort
            failure = JudgeFailure(reason="internal_error", error=f"{type(exc).__name__}: {exc}"[:300])
            return Judgement(model=model or client.model, latency_ms=0.0, failure=failure)

    async def worker() -> None:
        try:
            while True:
                raw = await next_item()
                if raw is _END:
                    break
                # Anything but _END is what the source yields: an Item or an (id, prompt, response) tuple.
                item = raw if isinstance(raw, Item) else Item(*cast(tuple[ItemId, str, str], raw))
                await results.put(ItemResult(item.id, await judge_one(item)))
        except Exception as exc:
            await results.put(_SourceFailed(exc))
            return
        await results.put(None)

    workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
    active = len(workers)
    failed: BaseException | None = None
    try:
        while active:
            message = await results.get()
            if message is None:
                active -= 1
            elif isinstance(message, _SourceFailed):
                active -= 1
                failed = failed or message.error
            else:
                yield message
        if failed is not None:
            raise failed
    finally:
        # The consumer stopped early (break, error, Ctrl-C): do not leave requests running unowned.
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def repair_tail(path: Path) -> int:
    """Cut a torn last line (no trailing newline) off ``path``; returns the bytes removed."""
    if not path.exists():
        return 0
    with path.open("rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        # Walk back to the previous newline in blocks, so a huge file is not read whole.
        position = size
        keep = 0
        while position > 0:
            start = max(0, position - 65536)
            fh.seek(start)
            block = fh.read(position - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            position = start
        fh.truncate(keep)
        return size - keep


@dataclass(frozen=True)
class JudgedIds:
    ids: set[ItemId]
    unreadable_lines: int


def read_judged_ids(path: Path, *, include_failed: bool = True) -> JudgedIds:
    """Ids present in an output JSONL. With ``include_failed=False`` only ids with an ``ok`` line count,
    so a resumed run judges earlier failures again (their new line comes later and wins)."""
    ids: set[ItemId] = set()
    unreadable = 0
    if not path.exists():
        return JudgedIds(ids, 0)
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                item_id = line["id"]
                status = line["status"]
            except (ValueError, KeyError, TypeError):
                unreadable += 1  # a torn last line after a crash, or a foreign line: judge that id again
                continue
            if isinstance(item_id, str | int) and not isinstance(item_id, bool):
                if include_failed or status == "ok":
                    ids.add(item_id)
            else:
                unreadable += 1
    return JudgedIds(ids, unreadable)
