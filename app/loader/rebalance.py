"""The partitions this task holds in the consumer group: assigned (from the committed offset, resumed
if librdkafka kept them paused), revoked (uploads under way may land and be committed first), lost (no
longer ours to commit), and the lag the task leaves in them at the end."""

from __future__ import annotations

import concurrent.futures as cf
import logging

from confluent_kafka import OFFSET_STORED, Consumer, TopicPartition

from app.loader.chunk import OpenChunk
from app.loader.group import KAFKA_TIMEOUT, lag_left
from app.loader.logs import log
from app.loader.state import PartitionState
from app.loader.uploads import LoaderUploads


class LoaderRebalance(LoaderUploads):
    def _own_lag(self, group_lag: int | None) -> int | None:
        """What this task leaves unread: the lag of the partitions it held at the end. In an execution
        of several tasks the group's lag at one task's end includes partitions the others are still
        loading, so an alert on it would fire on healthy runs; a task that held nothing reports the
        group's (it waited as a standby, or nobody loaded: exit 3)."""
        owned = {p: self._ends[p] for p in self._states if p in self._ends}
        if not owned or self._consumer is None:
            return group_lag
        return lag_left(self._consumer, self.topic, owned)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._closing:  # an assignment that arrives while leaving the group is not worked on
            return
        committed = consumer.committed(partitions, timeout=KAFKA_TIMEOUT) if partitions else []
        assignment, finished = [], []
        for tp in committed:
            partition = tp.partition
            if partition not in self._ends:  # created after the run started
                self._ends[partition] = self._watermarks(partition)[1]
            end = self._ends[partition]
            start = tp.offset if tp.offset >= 0 else self._watermarks(partition)[0]
            state = PartitionState(
                partition=partition,
                end=end,
                position=start,
                chunk=OpenChunk(self.topic, partition),
                done=start >= end,
            )
            self._states[partition] = state
            self._seen_partitions.add(partition)
            assignment.append(
                TopicPartition(self.topic, partition, tp.offset if tp.offset >= 0 else OFFSET_STORED)
            )
            if state.done:
                finished.append(TopicPartition(self.topic, partition))
        consumer.assign(assignment)
        # librdkafka keeps a partition paused across unassign and assign: one this run finished (and
        # paused) before losing it comes back paused, and would never be read again.
        active = [tp for tp in assignment if not self._states[tp.partition].done]
        if active:
            consumer.resume([TopicPartition(self.topic, tp.partition) for tp in active])
        if finished:
            consumer.pause(finished)
        log(
            self.logger,
            logging.INFO,
            "partitions assigned",
            partitions={s.partition: [s.position, s.end] for s in self._states.values()},
        )

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = [self._states.pop(tp.partition) for tp in partitions if tp.partition in self._states]
        for state in revoked:
            self._drop_open(state)
        # Uploads already under way may finish (briefly) so their offsets can be committed before the
        # partitions move; anything else is left to the next owner, which finds the manifests.
        futures = [f for s in revoked for c in s.pending for f in c.futures]
        # When stopping or closing, the drain has already spent the grace period: waiting a second one
        # here would outlast Cloud Run's 10 s between SIGTERM and SIGKILL, and lose the summary.
        grace = 0.0 if self._closing or self._stop_signal else self.settings.loader_shutdown_grace_seconds
        cf.wait(futures, timeout=grace)
        self._harvest(revoked, raise_on_failure=False)
        for state in revoked:
            self._orphans.extend(state.pending)
        log(self.logger, logging.INFO, "partitions revoked", partitions=[s.partition for s in revoked])

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = [self._states.pop(tp.partition) for tp in partitions if tp.partition in self._states]
        for state in lost:
            self._unsynced.pop(state.partition, None)  # no longer ours to commit
            self._drop_open(state)
            self._orphans.extend(state.pending)
        log(self.logger, logging.WARNING, "partitions lost", partitions=[s.partition for s in lost])
