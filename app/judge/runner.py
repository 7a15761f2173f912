"""The reusable run engine: judge many items with bounded concurrency, and resume from an output JSONL.

``judge_items`` keeps up to ``concurrency`` judgements in flight, pulls the next item only when a slot
frees (so a million-line input is never loaded at once), and yields each result as soon as it completes
(completion order, not input order). Completions reach the consumer through a queue, so each one costs
O(1) however many are in flight. It is used by the CLI and by the batch job's self-hosted path.

Resume: the output JSONL is append-only and flushed line by line, so after a crash it holds every
finished judgement plus at most one torn last line. ``repair_tail`` cuts that torn line off before new
lines are appended; ``read_judged_ids`` collects the ids already present.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.judge.results import JudgeFailure, Judgement

__all__ = ["Item", "ItemResult", "judge_items", "read_judged_ids", "repair_tail"]

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
    model: str

    async def judge(
        self, original_prompt: str, model_response: str, model: str | None = None
    ) -> Judgement: ...


async def _aiter(items: Iterable | AsyncIterable) -> AsyncIterator:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


async def judge_items(
    client: _Judge,
    items: Iterable[Item | tuple[ItemId, str, str]] | AsyncIterable[Item | tuple[ItemId, str, str]],
    *,
    concurrency: int,
    model: str | None = None,
) -> AsyncIterator[ItemResult]:
    """Judge ``items`` (``Item`` or ``(id, prompt, response)``) keeping ``concurrency`` in flight."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    done: asyncio.Queue[ItemResult] = asyncio.Queue()
    tasks: set[asyncio.Task[None]] = set()

    async def one(item: Item) -> None:
        try:
            judgement = await client.judge(item.prompt, item.response, model)
        except Exception as exc:  # the client already turns I/O into failures; this is a last resort
            failure = JudgeFailure(reason="internal_error", error=f"{type(exc).__name__}: {exc}"[:300])
            judgement = Judgement(model=model or client.model, latency_ms=0.0, failure=failure)
        done.put_nowait(ItemResult(item.id, judgement))

    source = _aiter(items)
    exhausted = False
    in_flight = 0
    try:
        while True:
            while not exhausted and in_flight < concurrency:
                try:
                    raw = await anext(source)
                except StopAsyncIteration:
                    exhausted = True
                    break
                item = raw if isinstance(raw, Item) else Item(*raw)
                task = asyncio.create_task(one(item))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                in_flight += 1
            if in_flight == 0:
                return
            result = await done.get()
            in_flight -= 1
            yield result
    finally:
        # The consumer stopped early (break, error, Ctrl-C): do not leave requests running unowned.
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


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
