"""Durability and commits: an offset is committed only once every object of every chunk up to it is
durable, so a committed offset is always a chunk boundary. Asynchronously while consuming (the order is
unchanged), synchronously again, and waited for, at the end, on SIGTERM and on revocation."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time

from confluent_kafka import KafkaError, KafkaException, TopicPartition

from app.loader.base import LoaderBase, LoaderError
from app.loader.logs import log
from app.loader.state import PartitionState, PendingChunk
from app.loader.storage import Created


class LoaderCommits(LoaderBase):
    def _collect(self, pending: PendingChunk) -> None:
        self._in_flight -= pending.bytes
        for future in pending.futures:
            result = future.result()  # an upload that failed after its retries ends the run
            if result.outcome is Created.CREATED:
                self.stats.objects_created += 1
                self.stats.bytes += result.size
            elif result.outcome is Created.EXISTED:
                self.stats.objects_existing += 1
            else:
                self.stats.objects_conflicting += 1
                log(
                    self.logger,
                    logging.ERROR,
                    "object exists with different bytes; keeping the stored one (changed loader version "
                    "or compression between runs?)",
                    object=result.name,
                )
        self.stats.messages += pending.messages
        self.stats.records += pending.records
        self.stats.dead_letters += pending.dead_letters

    def _harvest(
        self,
        states: list[PartitionState] | None = None,
        *,
        raise_on_failure: bool = True,
        asynchronous: bool = False,
    ) -> None:
        """Commit, per partition, the end of the longest run of chunks that are wholly durable. A chunk
        with a failed upload stops its partition there (nothing after it is committed).

        While consuming, commits are asynchronous: the loop does not stand still for a broker round
        trip per chunk (the order is unchanged: a commit is issued only once its chunks are durable).
        Every synchronous harvest (final drain, revocation) commits again, and waits for, the newest
        offset of each of its partitions, so a run never ends on a commit still in flight."""
        offsets: dict[int, int] = {}
        failure: BaseException | None = None
        states = states if states is not None else list(self._states.values())
        if not asynchronous:
            for state in states:
                if state.partition in self._unsynced:
                    offsets[state.partition] = self._unsynced.pop(state.partition)
        for state in states:
            while state.pending and state.pending[0].done():
                errors = [f.exception() for f in state.pending[0].futures if f.exception() is not None]
                if errors:
                    failure = failure or errors[0]
                    break
                pending = state.pending.popleft()
                self._collect(pending)
                offsets[state.partition] = pending.last + 1
        self._orphans = [chunk for chunk in self._orphans if not self._settle_orphan(chunk)]
        if offsets:
            self._commit(offsets, asynchronous=asynchronous)
        if failure is not None and raise_on_failure:
            raise LoaderError(f"upload failed: {failure}") from failure

    def _settle_orphan(self, chunk: PendingChunk) -> bool:
        if not chunk.done():
            return False
        self._in_flight -= chunk.bytes
        return True

    def _commit(self, offsets: dict[int, int], *, asynchronous: bool = False) -> None:
        if self._fenced:  # the newer member owns these partitions and will find these chunks stored
            return
        self.crash.hit("before_commit")
        partitions = [TopicPartition(self.topic, partition, offset) for partition, offset in offsets.items()]
        try:
            self._require_consumer().commit(offsets=partitions, asynchronous=asynchronous)
            if asynchronous:
                self._unsynced.update(offsets)
        except KafkaException as exc:
            # The partition moved to another task: it will find these chunks' manifests and objects.
            log(self.logger, logging.WARNING, f"commit failed: {exc}", offsets=offsets)
            return
        self.stats.commits += 1
        self.crash.hit("after_commit")

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        # An asynchronous commit that failed loses nothing: the next commit, or the final synchronous
        # one, carries a newer offset; a rerun re-reads at most these chunks and finds them stored.
        if error is not None:
            log(
                self.logger,
                logging.WARNING,
                f"commit failed: {error}",
                offsets={tp.partition: tp.offset for tp in partitions},
            )

    def _drain(self, deadline: float | None, *, raise_on_failure: bool = True) -> None:
        """Wait for uploads in flight (until ``deadline``), then commit what is durable."""
        futures = [f for s in self._states.values() for c in s.pending for f in c.futures]
        waited = time.monotonic()
        timeout = None if deadline is None else max(0.0, deadline - waited)
        cf.wait(futures, timeout=timeout)
        self.stats.upload_wait_seconds += time.monotonic() - waited
        self._harvest(raise_on_failure=raise_on_failure)
