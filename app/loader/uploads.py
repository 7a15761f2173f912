"""Chunks out of memory: a partition's open chunk is sealed (its range fixed first in a create-only
manifest, or as an earlier run's manifest fixed it) and its objects uploaded create-only on the upload
pool; memory stays within ``loader_max_buffer_bytes`` over open chunks and uploads in flight."""

from __future__ import annotations

import concurrent.futures as cf
import gzip
import json
import logging
import time

from confluent_kafka import TopicPartition

from app.loader.base import LoaderError
from app.loader.chunk import ObjectSpec, OpenChunk, SealedChunk
from app.loader.commits import LoaderCommits
from app.loader.logs import log
from app.loader.naming import manifest_name
from app.loader.state import PartitionState, PendingChunk
from app.loader.storage import Created, PutResult

JSONL_CONTENT_TYPE = "application/jsonl"


class LoaderUploads(LoaderCommits):
    def _flush(self, state: PartitionState, *, final: bool = False) -> None:
        """Seal the open chunk (as fixed by an earlier run's manifest, if there is one) and upload it."""
        while state.chunk:
            chunk = state.chunk
            if chunk.fixed_last is not None:
                assert chunk.last is not None
                if chunk.last < chunk.fixed_last:
                    if final:
                        # Cannot happen with Kafka (an earlier run read up to fixed_last, so this one's end
                        # offset is beyond it); if it does, nothing is committed and the next run retries.
                        log(
                            self.logger,
                            logging.WARNING,
                            "chunk of an earlier run cannot be completed yet",
                            partition=state.partition,
                            first=chunk.first,
                            last=chunk.fixed_last,
                            reached=chunk.last,
                        )
                        self._drop_open(state)
                    return
                sealed, rest = chunk.seal(chunk.fixed_last)
                self._submit(state, sealed, rest)
                continue
            sealed, rest = chunk.seal()
            name = manifest_name(self.topic, state.partition, sealed.first)
            put = self.store.create(
                name, json.dumps(sealed.manifest()).encode(), content_type="application/json"
            )
            if put.outcome is Created.CREATED:
                self.crash.hit("after_manifest")
                self._submit(state, sealed, rest)
                continue
            earlier = self.store.read(name)
            if earlier is None:
                raise LoaderError(f"manifest {name} exists but cannot be read")
            fixed_last = int(json.loads(earlier)["last"])
            self.stats.chunks_adopted += 1
            log(
                self.logger,
                logging.INFO,
                "chunk range fixed by an earlier run",
                partition=state.partition,
                first=sealed.first,
                last=fixed_last,
                buffered_last=sealed.last,
            )
            if fixed_last == sealed.last:
                self._submit(state, sealed, rest)
                continue
            chunk.fixed_last = fixed_last

    def _submit(self, state: PartitionState, sealed: SealedChunk, rest: OpenChunk) -> None:
        size = sum(len(spec.data) for spec in sealed.objects)
        self._open_bytes -= state.chunk.bytes - rest.bytes
        state.chunk = rest
        futures = [self._pool.submit(self._upload, spec, sealed) for spec in sealed.objects]
        state.pending.append(
            PendingChunk(
                sealed.first, sealed.last, size, sealed.messages, sealed.records, sealed.dead_letters, futures
            )
        )
        self._in_flight += size
        self.stats.chunks += 1

    def _upload(self, spec: ObjectSpec, sealed: SealedChunk) -> PutResult:
        self.crash.hit("before_upload")
        data, encoding = spec.data, None
        if self.settings.loader_compression == "gzip":
            # mtime=0: the same lines must give the same bytes, or a rerun's object would "conflict".
            # Level 1: 7x the speed of level 6 on this text for 3.4x instead of 4.3x compression.
            data, encoding = gzip.compress(data, compresslevel=1, mtime=0), "gzip"
        result = self.store.create(
            spec.name,
            data,
            content_type=JSONL_CONTENT_TYPE,
            content_encoding=encoding,
            metadata={
                "kafka-topic": sealed.topic,
                "kafka-partition": str(sealed.partition),
                "kafka-first-offset": str(sealed.first),
                "kafka-last-offset": str(sealed.last),
                "lines": str(spec.lines),
            },
        )
        self.crash.hit("after_upload")
        return result

    def _drop_open(self, state: PartitionState) -> None:
        self._open_bytes -= state.chunk.bytes
        state.chunk = OpenChunk(self.topic, state.partition)

    def _finish_partition(self, state: PartitionState) -> None:
        state.done = True
        self._flush(state, final=True)
        self._require_consumer().pause([TopicPartition(self.topic, state.partition)])
        log(
            self.logger,
            logging.INFO,
            "partition read up to its end offset",
            partition=state.partition,
            end=state.end,
        )

    def _bound_memory(self) -> None:
        limit = self.settings.loader_max_buffer_bytes
        while self._open_bytes + self._in_flight > limit:
            flushable = [s for s in self._states.values() if s.chunk and s.chunk.fixed_last is None]
            if self._in_flight > limit // 2 or not flushable:
                waiting = [
                    f for s in self._states.values() for c in s.pending for f in c.futures if not f.done()
                ]
                waiting += [f for c in self._orphans for f in c.futures if not f.done()]
                if not waiting:
                    if not flushable:
                        return  # only chunks fixed by an earlier run: they are bounded by its rotation size
                else:
                    waited = time.monotonic()
                    cf.wait(waiting, return_when=cf.FIRST_COMPLETED)
                    self.stats.upload_wait_seconds += time.monotonic() - waited
                    self._harvest(asynchronous=True)
                    continue
            largest = max(flushable, key=lambda s: s.chunk.bytes)
            self._flush(largest)
