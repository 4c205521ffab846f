"""Schedules and request mixes: pure functions of the seed."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.load import ARRIVALS, REPEAT_MODES, RequestMix, Schedule


def test_public_api_is_pinned() -> None:
    import harness.load as load

    assert set(load.__all__) == {
        "ARRIVALS", "LATENESS_MAX_BOUND_MS", "LATENESS_P99_BOUND_MS", "REPEAT_MODES",
        "GeneratorReport", "LiveStats", "LocustDriver", "OpenLoopGenerator", "RequestMix",
        "Schedule", "default_max_connections"}
    assert ARRIVALS == ("constant", "poisson")
    assert REPEAT_MODES == ("zipf", "uniform", "unique", "generated")


def test_constant_schedule_is_evenly_spaced() -> None:
    offs = Schedule(rate=200, arrivals="constant").within(1.0)
    assert len(offs) == 200
    assert offs[:3] == [0, 5_000_000, 10_000_000]
    assert offs[-1] == 995_000_000


def test_poisson_schedule_replays_from_the_seed_and_has_the_right_rate() -> None:
    a = Schedule(rate=500, arrivals="poisson", seed=7).within(20.0)
    b = Schedule(rate=500, arrivals="poisson", seed=7).within(20.0)
    c = Schedule(rate=500, arrivals="poisson", seed=8).within(20.0)
    assert a == b
    assert a != c
    assert all(x <= y for x, y in pairwise(a))
    assert abs(len(a) - 10_000) < 4 * 100  # Poisson count: mean 10000, sd 100
    gaps = [(y - x) / 1e6 for x, y in pairwise(a)]
    assert statistics.mean(gaps) == pytest.approx(2.0, rel=0.05)  # exponential gaps, mean 2 ms
    assert statistics.stdev(gaps) == pytest.approx(2.0, rel=0.1)  # sd == mean for exponential


@pytest.mark.parametrize("kwargs", [{"rate": 0}, {"rate": -1}, {"rate": 10, "arrivals": "burst"}])
def test_bad_schedules_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        Schedule(**kwargs)  # type: ignore[arg-type]


def _take(it: Iterator[object], n: int) -> list[object]:
    return [next(it) for _ in range(n)]


def test_zipf_mix_repeats_popular_questions_and_replays() -> None:
    qs = tuple(f"question {i}" for i in range(100))
    mix = RequestMix(questions=qs, repeat="zipf", s=1.1, seed=3)
    picks = _take(mix.indexes(), 20_000)
    assert picks == _take(RequestMix(questions=qs, repeat="zipf", s=1.1, seed=3).indexes(),
                          20_000)
    counts = Counter(picks)
    probs = mix.popularity()
    assert sum(probs) == pytest.approx(1.0)
    top = max(range(100), key=lambda i: probs[i])
    # rank 1 of Zipf(1.1) over 100 items has p ~ 0.22; the observed share is close to it
    assert counts[top] / 20_000 == pytest.approx(probs[top], abs=0.02)
    assert probs[top] > 0.15
    # a long tail: most questions are asked rarely
    assert sum(1 for i in range(100) if probs[i] < 0.005) > 50
    # the popularity order is seeded, not the file order
    other = RequestMix(questions=qs, repeat="zipf", s=1.1, seed=4).popularity()
    assert max(range(100), key=lambda i: other[i]) != top or probs != other


def test_uniform_and_unique_mixes() -> None:
    qs = ("a", "b", "c", "d")
    counts = Counter(_take(RequestMix(questions=qs, repeat="uniform").indexes(), 8000))
    assert all(1700 < counts[i] < 2300 for i in range(4))
    bodies = _take(RequestMix(questions=qs, repeat="unique").bodies(), 50)
    assert len(set(bodies)) == 50
    assert all(json.loads(b)["question"] for b in bodies)


def test_bodies_are_json_questions() -> None:
    mix = RequestMix(questions=("What is RAG?",), repeat="zipf")
    assert json.loads(next(mix.bodies())) == {"question": "What is RAG?"}


def test_from_questions_reads_jsonl(tmp_path: Path) -> None:
    p = tmp_path / "questions.jsonl"
    p.write_text('{"id": 1, "question": "one?"}\n\n"two?"\n{"text": "three?"}\n',
                 encoding="utf-8")
    mix = RequestMix.from_questions(p, repeat="uniform", seed=1)
    assert mix.questions == ("one?", "two?", "three?")
    assert mix.repeat == "uniform" and mix.seed == 1


def test_from_questions_errors_name_the_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "q.jsonl"
    p.write_text('{"question": "ok"}\n{"nope": 1}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"q\.jsonl.*line 2"):
        RequestMix.from_questions(p)
    with pytest.raises(ConfigError, match="cannot read"):
        RequestMix.from_questions(tmp_path / "missing.jsonl")
    with pytest.raises(ConfigError):
        RequestMix(questions=())
    with pytest.raises(ConfigError):
        RequestMix(questions=("a",), repeat="pareto")


def test_the_project_corpus_loads() -> None:
    path = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "questions.jsonl"
    mix = RequestMix.from_questions(path)
    assert len(mix.questions) >= 10
    assert sum(mix.popularity()) == pytest.approx(1.0)
