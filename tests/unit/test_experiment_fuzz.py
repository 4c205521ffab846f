"""Fuzzing the experiment loader: thousands of malformed documents give a ConfigError (or a
valid experiment), never another exception, and never start a stack."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import pytest
import yaml
from hypothesis import HealthCheck, given, settings

import harness.stack
from harness.errors import ConfigError
from harness.experiment.loader import experiment_from_data, load_experiment_text
from harness.faults import FAULTS
from harness.knobs import KNOBS

BASE: dict[str, Any] = {
    "name": "fuzz-base",
    "hypothesis": "h",
    "stack": {"knobs": {"haproxy.retries": 3}},
    "load": {"rate": 10, "warmup": "1s"},
    "steady_state": {"duration": "2s", "slos": [{"objective": 0.999}]},
    "method": [{"fault": "kill", "target": "service=app-az-a", "start": 1, "duration": 2},
               {"fault": "provider-5xx", "params": {"rate": 0.5}, "duration": "3s"}],
    "stop_conditions": [{"max_bad_fraction": 0.5}],
    "trials": 1, "seed": 1,
}

FIELDS = ["name", "description", "hypothesis", "tags", "stack", "knobs", "load", "rate",
          "generator", "arrivals", "duration", "warmup", "timeout", "mix", "questions",
          "steady_state", "slos", "objective", "latency_threshold_ms", "degraded_is_good",
          "method", "fault", "target", "params", "start", "start_jitter", "stop_conditions",
          "max_bad_fraction", "window", "trials", "seed", "confidence", "recovery", "bogus",
          *list(KNOBS)[:6], *list(FAULTS)[:8], "signal", "provider", "status", "proxy",
          "latency_ms", "mode", "a", "b", "place", "restart_after"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["30s", "5m", "-1s", "1e9h", "nan", "inf", ".5", "KILL", "zone=az-b",
                     "service=app-az-a", "role=redis-master", "all", "az-a", "primary",
                     "openloop", "locust", "poisson", "zipf", *FAULTS]),
)
keys = st.one_of(st.sampled_from(FIELDS), st.text(max_size=12), st.integers(-3, 3))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=6)),
    max_leaves=25,
)


@pytest.fixture(autouse=True)
def no_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    calls: list[Any] = []

    def forbidden(*a: Any, **kw: Any) -> Any:
        calls.append((a, kw))
        raise AssertionError("the loader must never start a stack")

    monkeypatch.setattr(harness.stack, "open_stack", forbidden)
    yield calls
    assert calls == []


def _check(doc: Any) -> None:
    try:
        experiment_from_data(doc, file="fuzz.yaml")
    except ConfigError as exc:
        assert "fuzz.yaml" in str(exc)


_FUZZ = settings(max_examples=1000, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@_FUZZ
@given(documents)
def test_random_structures(doc: Any) -> None:
    _check(doc)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_paths(v, (*prefix, i)))
    return out


PATHS = [p for p in _paths(BASE) if p]


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    doc = json.loads(json.dumps(BASE))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        cur = doc
        try:
            for k in path[:-1]:
                cur = cur[k]
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(cur, dict | list):
            continue
        action = draw(st.sampled_from(["replace", "delete", "add-unknown"]))
        last = path[-1]
        if action == "replace":
            try:
                cur[last] = draw(documents)
            except (IndexError, TypeError):
                continue
        elif action == "delete" and isinstance(cur, dict):
            cur.pop(last, None)
        elif isinstance(cur, dict):
            cur[draw(keys)] = draw(scalars)
    return doc


@_FUZZ
@given(mutated())
def test_mutated_valid_documents(doc: Any) -> None:
    _check(doc)


faults_steps = st.fixed_dictionaries(
    {"fault": st.one_of(st.sampled_from(sorted(FAULTS)), st.text(max_size=10)),
     "duration": st.one_of(st.floats(0, 100), st.sampled_from(["2s", "0", "x"]))},
    optional={"target": st.one_of(scalars, st.sampled_from(
                  ["zone=az-a", "zone=mars", "service=app-az-a", "kind=app", "role=nope",
                   "service=", "zone=az-a,kind=redis", "a=b=c"])),
              "params": st.dictionaries(
                  st.sampled_from(["signal", "rate", "status", "provider", "proxy", "ms",
                                   "latency_ms", "mode", "a", "b", "place", "restart_after",
                                   "retry_after_s", "after_tokens", "bogus"]),
                  scalars, max_size=4),
              "start": scalars})


@_FUZZ
@given(st.lists(faults_steps, min_size=1, max_size=3))
def test_bad_fault_names_targets_and_params(steps: list[dict[str, Any]]) -> None:
    _check(dict(BASE, method=steps))


@settings(max_examples=500, deadline=None, derandomize=True)
@given(st.text(max_size=200))
def test_random_text_as_yaml(text: str) -> None:
    with contextlib.suppress(ConfigError):
        load_experiment_text(text, file="fuzz.yaml")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(documents)
def test_yaml_round_trip_of_random_structures(doc: Any) -> None:
    try:
        text = yaml.safe_dump(doc)
    except (yaml.YAMLError, ValueError):
        return
    with contextlib.suppress(ConfigError):
        load_experiment_text(text, file="fuzz.yaml")


def test_base_document_is_valid() -> None:
    experiment_from_data(BASE, file="fuzz.yaml")
