"""`CircuitBreaker` as a state machine on a fake clock: when it opens (a run of failures, or
a failure ratio over the window), how it refuses while open, and how half-open probes close
or reopen it."""

from __future__ import annotations

from typing import Any

import pytest

from hub.policies.breaker import BreakerOpen, BreakerSettings, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **settings: Any) -> CircuitBreaker:
    return CircuitBreaker("mindmap-service", BreakerSettings(**settings), clock=clock)


def state(subject: CircuitBreaker) -> BreakerState:
    """The state now (a call, so that mypy does not narrow it across calls)."""
    return subject.state


def calls(subject: CircuitBreaker, outcomes: str) -> None:
    """Admits and records one call per character: `.` a success, `x` a failure."""
    for outcome in outcomes:
        subject.admit()
        subject.record(success=outcome == ".")


def test_a_run_of_failures_opens_it_and_a_success_resets_the_run() -> None:
    clock = Clock()
    subject = breaker(clock, consecutive_failures=3, minimum_calls=1000)

    calls(subject, "xx.xx")
    assert BreakerState.CLOSED == state(subject)
    calls(subject, "x")
    assert BreakerState.OPEN == state(subject)


def test_while_open_calls_are_refused_with_the_time_left() -> None:
    clock = Clock()
    subject = breaker(clock, consecutive_failures=1, open_seconds=5)
    calls(subject, "x")
    clock.now += 2

    with pytest.raises(BreakerOpen) as refused:
        subject.admit()

    assert 3.0 == refused.value.retry_after
    assert "mindmap-service" in str(refused.value)


def test_a_failure_ratio_over_the_window_opens_it_once_enough_calls_were_made() -> None:
    clock = Clock()
    subject = breaker(
        clock, consecutive_failures=100, failure_ratio=0.5, minimum_calls=10, window_seconds=10
    )

    calls(subject, ".x.x.x.x.")  # 4 of 9: too few calls to judge
    assert BreakerState.CLOSED == state(subject)
    calls(subject, "x")  # 5 of 10
    assert BreakerState.OPEN == state(subject)


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = Clock()
    subject = breaker(
        clock, consecutive_failures=100, failure_ratio=0.5, minimum_calls=10, window_seconds=10
    )
    calls(subject, "xxxx.")
    clock.now += 11
    calls(subject, ".....x....")  # 1 of 10 within the window

    assert BreakerState.CLOSED == state(subject)


def test_after_the_open_time_probes_go_through_and_successes_close_it() -> None:
    clock = Clock()
    subject = breaker(clock, consecutive_failures=1, open_seconds=5, half_open_probes=2)
    calls(subject, "x")
    clock.now += 5

    assert BreakerState.HALF_OPEN == state(subject)
    subject.admit()
    subject.admit()
    with pytest.raises(BreakerOpen):
        subject.admit()  # both probes are out
    subject.record(success=True)
    assert BreakerState.HALF_OPEN == state(subject)
    subject.record(success=True)
    assert BreakerState.CLOSED == state(subject)


def test_a_failed_probe_opens_it_again_for_another_open_time() -> None:
    clock = Clock()
    subject = breaker(clock, consecutive_failures=1, open_seconds=5)
    calls(subject, "x")
    clock.now += 5
    calls(subject, "x")
    clock.now += 4

    assert BreakerState.OPEN == state(subject)
    with pytest.raises(BreakerOpen) as refused:
        subject.admit()
    assert 1.0 == pytest.approx(refused.value.retry_after)


def test_a_late_answer_of_a_call_admitted_before_it_opened_changes_nothing() -> None:
    clock = Clock()
    subject = breaker(clock, consecutive_failures=1, open_seconds=5)
    subject.admit()  # slow call
    calls(subject, "x")  # opens it
    subject.record(success=True)  # the slow call answers

    assert BreakerState.OPEN == state(subject)


def test_a_probe_that_was_cancelled_frees_its_slot() -> None:
    clock = Clock()
    subject = breaker(clock, consecutive_failures=1, open_seconds=5)
    calls(subject, "x")
    clock.now += 5
    subject.admit()
    subject.forget()

    subject.admit()  # the slot is free again
    subject.record(success=True)
    assert BreakerState.CLOSED == state(subject)
