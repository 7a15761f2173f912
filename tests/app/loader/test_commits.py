"""What the loader commits after its uploads, in-process against the real broker (Tansu): per partition
the end of the longest run of chunks whose objects are all durable, never past a chunk still uploading or
one whose upload failed; asynchronous commits are committed again, and waited for, by the next
synchronous harvest. The uploads are futures this test completes itself, so every interleaving it needs
is exact (the subprocess scenarios of test_load.py and test_crash.py reach the same code at whatever
moment the run gets there)."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import TopicPartition

from app.loader.chunk import OpenChunk
from app.loader.runner import Loader, LoaderError
from app.loader.state import PartitionState, PendingChunk
from app.loader.storage import Created, PutResult
from tests.app.loader.helpers import loader_on_its_consumer

pytestmark = pytest.mark.integration


def _upload(outcome: Created | Exception | None, size: int = 100) -> cf.Future[PutResult]:
    """A finished upload (an outcome or an exception), or one still running (None)."""
    future: cf.Future[PutResult] = cf.Future()
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    elif outcome is not None:
        future.set_result(PutResult(f"object-{uuid.uuid4().hex[:6]}", outcome, size))
    return future


def _chunk(first: int, last: int, *uploads: cf.Future[PutResult], records: int = 0) -> PendingChunk:
    return PendingChunk(
        first,
        last,
        bytes=10 * (last - first + 1),
        messages=last - first + 1,
        records=records or last - first + 1,
        dead_letters=0,
        futures=list(uploads),
    )


@pytest.fixture
def loader(kafka_broker) -> Iterator[Loader]:
    with loader_on_its_consumer(kafka_broker, kafka_broker.create_topic(partitions=3)) as loader:
        yield loader


def _state(loader: Loader, partition: int, *chunks: PendingChunk) -> PartitionState:
    state = PartitionState(partition, end=1000, position=0, chunk=OpenChunk(loader.topic, partition))
    state.pending.extend(chunks)
    loader._states[partition] = state
    loader._in_flight += sum(c.bytes for c in chunks)
    return state


def _committed(loader: Loader) -> dict[int, int]:
    parts = [TopicPartition(loader.topic, p) for p in range(3)]
    found = loader._require_consumer().committed(parts, timeout=10)
    return {tp.partition: tp.offset for tp in found if tp.offset >= 0}


def test_each_partition_is_committed_up_to_its_first_chunk_still_uploading(loader) -> None:
    running = _upload(None)
    zero = _state(
        loader,
        0,
        _chunk(0, 9, _upload(Created.CREATED, 10), _upload(Created.CREATED, 20)),
        _chunk(10, 19, _upload(Created.EXISTED), running),  # one object of two still uploading
        _chunk(20, 29, _upload(Created.CREATED)),  # durable, but after one that is not
    )
    _state(loader, 1, _chunk(0, 4, _upload(Created.CREATED, 5)))
    _state(loader, 2)  # nothing sealed yet

    loader._harvest()

    assert _committed(loader) == {0: 10, 1: 5}
    assert [(c.first, c.last) for c in zero.pending] == [(10, 19), (20, 29)]
    assert (loader.stats.objects_created, loader.stats.bytes, loader.stats.records) == (3, 35, 15)
    assert loader.stats.commits == 1
    assert loader._in_flight == 2 * 100, "the bytes of the two chunks still pending"

    running.set_result(PutResult("late", Created.CREATED, 7))
    loader._harvest()

    assert _committed(loader) == {0: 30, 1: 5}
    assert not zero.pending
    assert (loader.stats.objects_created, loader.stats.objects_existing, loader.stats.bytes) == (5, 1, 142)
    assert loader._in_flight == 0


def test_a_failed_upload_stops_its_partition_there_and_ends_the_run(loader) -> None:
    failed = _state(
        loader,
        0,
        _chunk(0, 9, _upload(Created.CREATED)),
        _chunk(10, 19, _upload(Created.CREATED), _upload(OSError("503 from the bucket"))),
        _chunk(20, 29, _upload(Created.CREATED)),
    )
    _state(loader, 1, _chunk(0, 4, _upload(Created.CREATED)))

    with pytest.raises(LoaderError, match="upload failed: 503 from the bucket"):
        loader._harvest()

    # What is durable is committed first, on every partition; nothing at or after the failed chunk.
    assert _committed(loader) == {0: 10, 1: 5}
    assert [(c.first, c.last) for c in failed.pending] == [(10, 19), (20, 29)]

    loader._harvest(raise_on_failure=False)  # the drain after a failure: no second error
    assert _committed(loader) == {0: 10, 1: 5}


def test_a_conflicting_object_is_counted_and_committed_past(loader, caplog) -> None:
    _state(loader, 0, _chunk(0, 9, _upload(Created.CONFLICT)))
    with caplog.at_level(logging.ERROR, logger="test-loader"):
        loader._harvest()
    assert _committed(loader) == {0: 10}
    assert loader.stats.objects_conflicting == 1
    assert any("different bytes" in r.getMessage() for r in caplog.records)


def test_asynchronous_commits_are_committed_again_and_waited_for_by_the_next_synchronous_harvest(
    loader,
) -> None:
    _state(loader, 0, _chunk(0, 9, _upload(Created.CREATED)))
    _state(loader, 1, _chunk(0, 4, _upload(Created.CREATED)))

    loader._harvest(asynchronous=True)

    assert loader._unsynced == {0: 10, 1: 5}, "remembered until a synchronous commit"
    # Nothing new is durable, yet the final harvest sends (and waits for) both offsets again.
    loader._harvest()
    assert loader._unsynced == {}
    assert _committed(loader) == {0: 10, 1: 5}
    assert loader.stats.commits == 2


def test_a_synchronous_harvest_of_some_partitions_leaves_the_others_unsynced(loader) -> None:
    zero = _state(loader, 0, _chunk(0, 9, _upload(Created.CREATED)))
    _state(loader, 1, _chunk(0, 4, _upload(Created.CREATED)))
    loader._harvest(asynchronous=True)

    loader._harvest([zero])  # a revocation of partition 0 only

    assert loader._unsynced == {1: 5}


def test_a_fenced_member_commits_nothing(loader) -> None:
    _state(loader, 0, _chunk(0, 9, _upload(Created.CREATED)))
    loader._fenced = True
    loader._harvest()
    assert _committed(loader) == {}
    assert loader.stats.commits == 0


def test_the_drain_waits_for_uploads_until_its_deadline_then_commits_what_is_durable(loader) -> None:
    slow = _upload(None)
    _state(loader, 0, _chunk(0, 9, _upload(Created.CREATED)), _chunk(10, 19, slow))

    loader._drain(deadline=0.0)  # already past: no wait

    assert _committed(loader) == {0: 10}
    assert loader.stats.upload_wait_seconds >= 0

    cf.ThreadPoolExecutor(1).submit(lambda: slow.set_result(PutResult("s", Created.CREATED, 1)))
    loader._drain(deadline=None)  # waits for it
    assert _committed(loader) == {0: 20}


def test_chunks_of_a_partition_gone_elsewhere_leave_the_memory_bound_once_their_uploads_end(loader) -> None:
    """A revoked partition's uploads still under way (orphans) count against the memory bound until they
    end, and are never committed: the partition is another member's now."""
    running, done = _upload(None), _upload(Created.CREATED)
    loader._orphans = [_chunk(0, 9, running), _chunk(10, 19, done)]
    loader._in_flight = 200

    loader._harvest()

    assert [(c.first, c.last) for c in loader._orphans] == [(0, 9)]
    assert loader._in_flight == 100
    running.set_result(PutResult("late", Created.CREATED, 1))
    loader._harvest()
    assert loader._orphans == []
    assert loader._in_flight == 0
    assert _committed(loader) == {}


def test_the_first_failed_upload_of_a_chunk_is_the_one_reported(loader) -> None:
    _state(loader, 0, _chunk(0, 9, _upload(OSError("first: 503")), _upload(OSError("second: 429"))))
    with pytest.raises(LoaderError, match="upload failed: first: 503"):
        loader._harvest()


def test_the_final_drain_fails_the_run_on_a_failed_upload_unless_told_not_to(loader) -> None:
    _state(loader, 0, _chunk(0, 9, _upload(OSError("503"))))
    with pytest.raises(LoaderError, match="upload failed: 503"):
        loader._drain(deadline=None)
    loader._drain(deadline=None, raise_on_failure=False)  # after an earlier failure: no second error
    assert 0 <= loader.stats.upload_wait_seconds < 60


def test_a_commit_the_broker_refuses_is_logged_and_the_run_goes_on(loader, caplog) -> None:
    """The partition moved to another member between durability and commit: that member finds the
    chunks' manifests and objects, so this one only says so."""
    loader.topic = "no-such-topic"
    with caplog.at_level(logging.WARNING, logger="test-loader"):
        loader._commit({0: 10})
    assert loader.stats.commits == 0
    assert any(r.getMessage().startswith("commit failed") for r in caplog.records)
