from __future__ import annotations

import pytest

from reference_app.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def make(**kw: object) -> tuple[CircuitBreaker, Clock, list[tuple[str, str]]]:
    clock, changes = Clock(), []
    br = CircuitBreaker("primary", fail_max=3, reset_s=5.0, clock=clock,
                        on_change=lambda n, s: changes.append((n, s)), **kw)  # type: ignore[arg-type]
    return br, clock, changes


def test_opens_after_fail_max_consecutive_failures() -> None:
    br, _, changes = make()
    for _ in range(2):
        assert br.allow()
        br.failure()
    br.success()  # resets the consecutive count
    for _ in range(2):
        br.failure()
    assert br.state == "closed"
    br.failure()
    assert br.state == "open" and not br.allow() and br.opens == 1
    assert changes == [("primary", "closed"), ("primary", "open")]


def test_half_open_allows_one_trial_then_closes_on_success() -> None:
    br, clock, _ = make()
    for _ in range(3):
        br.failure()
    clock.t += 4.9
    assert not br.allow()
    clock.t += 0.2
    assert br.state == "half_open"
    assert br.allow()  # the trial
    assert not br.allow()  # only one at a time
    br.success()
    assert br.state == "closed" and br.allow()


def test_failed_trial_reopens_for_another_reset_period() -> None:
    br, clock, _ = make()
    for _ in range(3):
        br.failure()
    clock.t += 5.0
    assert br.allow()
    br.failure()
    assert br.state == "open" and br.opens == 2
    clock.t += 4.0
    assert not br.allow()
    clock.t += 1.0
    assert br.allow()


def test_abandoned_trial_frees_the_slot() -> None:
    br, clock, _ = make()
    for _ in range(3):
        br.failure()
    clock.t += 5.0
    assert br.allow()
    br.abandon()
    assert br.allow()


def test_disabled_breaker_never_opens() -> None:
    br, _, _ = make(enabled=False)
    for _ in range(100):
        br.failure()
    assert br.state == "disabled" and br.allow()


def test_rejects_nonsense_parameters() -> None:
    with pytest.raises(ValueError, match="fail_max >= 1"):
        CircuitBreaker("x", fail_max=0, reset_s=1.0)
