"""A task with no partition: finished when nothing is left, waiting while another member loads, giving
up only after the idle limit without progress (the decision alone, no broker)."""

from __future__ import annotations

from app.loader.idle import Idle, IdleWatch


def test_nothing_left_is_finished_at_once() -> None:
    assert IdleWatch(60, now=0).observe(0.5, lag=0) is Idle.FINISHED


def test_without_progress_it_gives_up_at_the_limit_and_not_before() -> None:
    watch = IdleWatch(60, now=0)
    assert [watch.observe(t, lag=100) for t in (1, 30, 59.9)] == [Idle.WAIT] * 3
    assert watch.observe(60, lag=100) is Idle.GIVE_UP


def test_an_unreadable_lag_is_no_progress() -> None:
    watch = IdleWatch(10, now=0)
    assert watch.observe(5, lag=None) is Idle.WAIT
    assert watch.observe(10, lag=None) is Idle.GIVE_UP


def test_progress_by_another_member_restarts_the_clock() -> None:
    watch = IdleWatch(10, now=0)
    assert watch.observe(1, lag=100) is Idle.WAIT
    assert watch.observe(9, lag=80) is Idle.WAIT  # committed by someone: keep standing by
    assert watch.observe(18, lag=80) is Idle.WAIT
    assert watch.observe(19, lag=80) is Idle.GIVE_UP
    assert watch.observe(19.5, lag=0) is Idle.FINISHED


def test_a_lag_that_goes_back_up_is_not_progress() -> None:
    watch = IdleWatch(10, now=0)
    watch.observe(1, lag=50)
    assert watch.observe(5, lag=70) is Idle.WAIT  # e.g. the group was reset backwards
    assert watch.observe(8, lag=60) is Idle.WAIT  # below 70, but not below the lowest seen
    assert watch.observe(10, lag=60) is Idle.GIVE_UP


def test_holding_partitions_restarts_the_clock() -> None:
    watch = IdleWatch(10, now=0)
    watch.observe(9, lag=100)
    watch.assigned(now=9)
    assert watch.observe(18, lag=100) is Idle.WAIT
    assert watch.observe(19, lag=100) is Idle.GIVE_UP
