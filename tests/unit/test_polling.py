"""harness.polling.poll_until on a fake clock: order of look / deadline / sleep, the timeout
error, retried exceptions, clipping."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.polling import PollTimeout, always, poll_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _looks(values: list[object], clock: FakeClock, seen: list[float]):
    it = iter(values)

    def fn() -> object:
        seen.append(clock.now)
        return next(it)
    return fn


def test_returns_the_first_accepted_value_without_sleeping_after_it() -> None:
    clock, seen = FakeClock(), []
    got = poll_until(_looks([0, 0, 7, 9], clock, seen), 5.0, interval=0.25,
                     clock=clock, sleep=clock.sleep)
    assert got == 7
    assert clock.sleeps == [0.25, 0.25]
    assert seen == [100.0, 100.25, 100.5]


def test_until_decides_what_is_accepted() -> None:
    clock, seen = FakeClock(), []
    got = poll_until(_looks(["starting", "running"], clock, seen), 1.0,
                     until=lambda s: s == "running", clock=clock, sleep=clock.sleep)
    assert got == "running"


def test_timeout_says_what_and_how_long_and_keeps_the_last_value() -> None:
    clock, seen = FakeClock(), []
    with pytest.raises(PollTimeout) as info:
        poll_until(_looks(["a", "b", "c", "d", "e"], clock, seen), 1.0, interval=0.4,
                   what="the container to run", until=lambda s: s == "running",
                   clock=clock, sleep=clock.sleep)
    # looks at 0, 0.4, 0.8, 1.2: the deadline is compared after each look, then one sleep
    assert seen == pytest.approx([100.0, 100.4, 100.8, 101.2])
    assert clock.sleeps == [0.4, 0.4, 0.4]
    err = info.value
    assert isinstance(err, HarnessError)
    assert err.last == "d" and err.last_error is None and err.timeout == 1.0
    assert str(err) == "the container to run not seen within 1 s (last saw 'd')"


def test_zero_timeout_looks_once() -> None:
    clock, seen = FakeClock(), []
    with pytest.raises(PollTimeout):
        poll_until(_looks([False], clock, seen), 0.0, clock=clock, sleep=clock.sleep)
    assert seen == [100.0] and clock.sleeps == []


def test_retried_exceptions_are_failed_looks_others_propagate() -> None:
    clock = FakeClock()
    calls = []

    def flaky() -> dict[str, int]:
        calls.append(clock.now)
        if len(calls) < 3:
            raise OSError("refused")
        return {}

    assert poll_until(flaky, 1.0, interval=0.1, until=always, retry=(OSError,),
                      clock=clock, sleep=clock.sleep) == {}  # an empty value is still a value
    assert len(calls) == 3

    def broken() -> int:
        raise KeyError("no")

    with pytest.raises(KeyError):
        poll_until(broken, 1.0, retry=(OSError,), clock=clock, sleep=clock.sleep)


def test_timeout_after_retried_exceptions_names_the_last_one() -> None:
    clock = FakeClock()

    def down() -> int:
        raise ConnectionRefusedError("port 6379")

    with pytest.raises(PollTimeout) as info:
        poll_until(down, 0.3, interval=0.1, what="redis", retry=(OSError,),
                   clock=clock, sleep=clock.sleep)
    assert isinstance(info.value.last_error, ConnectionRefusedError)
    assert info.value.last is None
    assert "redis not seen within 0.3 s" in str(info.value)
    assert "ConnectionRefusedError: port 6379" in str(info.value)


def test_reraise_gives_back_the_last_retried_exception() -> None:
    clock = FakeClock()
    errors = [OSError("first"), OSError("second"), OSError("third")]

    def down() -> int:
        raise errors.pop(0)

    with pytest.raises(OSError, match="third") as info:
        poll_until(down, 0.5, interval=0.25, retry=(OSError,), reraise=True,
                   clock=clock, sleep=clock.sleep)
    assert not isinstance(info.value, PollTimeout)
    # a last look that returned a rejected value still ends in PollTimeout
    with pytest.raises(PollTimeout):
        poll_until(lambda: 0, 0.2, interval=0.1, retry=(OSError,), reraise=True,
                   clock=clock, sleep=clock.sleep)


def test_clip_never_sleeps_past_the_deadline() -> None:
    clock, seen = FakeClock(), []
    with pytest.raises(PollTimeout):
        poll_until(_looks([0, 0, 0, 0], clock, seen), 1.0, interval=0.4, clip=True,
                   clock=clock, sleep=clock.sleep)
    assert clock.sleeps == pytest.approx([0.4, 0.4, 0.2])
    assert seen[-1] == pytest.approx(101.0)


def test_real_clock_tiny_timeout() -> None:
    with pytest.raises(PollTimeout):
        poll_until(lambda: False, 0.02, interval=0.005, what="never")
    assert poll_until(lambda: 3, 0.02) == 3
