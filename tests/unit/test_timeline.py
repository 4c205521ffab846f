"""Timeline: record/columns, event ordering, save/load round trip, merge, bulk append."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.timeline import (
    EVENT_KINDS,
    FORMAT_VERSION,
    Outcome,
    Provider,
    RequestRecord,
    Timeline,
)

records = st.builds(
    RequestRecord,
    intended_ns=st.integers(0, 2**62), start_ns=st.integers(0, 2**62),
    end_ns=st.integers(0, 2**62), outcome=st.sampled_from(list(Outcome)),
    status=st.integers(0, 599), error=st.sampled_from(["", "TimeoutError", "HTTP503", "é✓"]),
    replica=st.sampled_from(["", "app-az-a", "app-az-b"]), degraded=st.booleans(),
    provider=st.sampled_from(list(Provider)))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                  max_size=3), max_leaves=6)
events = st.tuples(st.integers(0, 2**62), st.sampled_from(sorted(EVENT_KINDS)),
                   st.dictionaries(st.text(min_size=1, max_size=8).filter(
                       lambda k: k not in ("kind", "source", "t_ns")), json_values, max_size=3))


def build(recs: list[RequestRecord], evs: list[tuple]) -> Timeline:
    tl = Timeline(meta={"run_id": "r1"})
    tl.add_requests(recs)
    for t, kind, attrs in evs:
        tl.add_event(kind, "test", t_ns=t, **attrs)
    return tl


@given(recs=st.lists(records, max_size=30), evs=st.lists(events, max_size=10))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_save_load_round_trip(tmp_path: Path, recs: list[RequestRecord],
                              evs: list[tuple]) -> None:
    tl = build(recs, evs)
    back = Timeline.load(tl.save(tmp_path / "t.zip"))
    assert list(back.requests) == recs
    assert back.events == tl.events
    assert back.meta == tl.meta
    assert len(back) == len(recs)


def test_load_accepts_a_run_directory_and_rejects_other_formats(tmp_path: Path) -> None:
    tl = build([RequestRecord(intended_ns=1, start_ns=2, end_ns=3, outcome=Outcome.OK)], [])
    tl.save(tmp_path / "run" / "timeline.zip")
    assert len(Timeline.load(tmp_path / "run")) == 1
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("meta.json", json.dumps({"format": FORMAT_VERSION + 1}))
    with pytest.raises(ValueError, match="timeline format"):
        Timeline.load(bad)


def test_events_are_sorted_by_time_and_stable() -> None:
    tl = Timeline()
    tl.add_event("note", "a", t_ns=30, text="third")
    tl.add_event("note", "a", t_ns=10, text="first")
    tl.add_event("note", "b", t_ns=30, text="fourth")  # same time: insertion order kept
    tl.add_event("fault.inject", "f", t_ns=20, fault_id="x")
    assert [e.get("text", e.kind) for e in tl.events] == ["first", "fault.inject", "third",
                                                         "fourth"]
    assert [e.kind for e in tl.events_of("fault")] == ["fault.inject"]
    assert tl.events_of("fau") == ()
    ev = tl.add_event("note", "x")
    assert ev.t_ns > 0  # defaults to the monotonic clock


def test_merge_combines_requests_strings_and_events() -> None:
    a, b = Timeline(), Timeline()
    a.add_request(RequestRecord(intended_ns=1, start_ns=1, end_ns=2, outcome=Outcome.OK,
                                replica="app-az-a"))
    a.add_event("note", "a", t_ns=5, text="a")
    b.add_request(RequestRecord(intended_ns=0, start_ns=0, end_ns=9, outcome=Outcome.ERROR,
                                error="Refused", replica="app-az-b", degraded=True,
                                provider=Provider.FALLBACK, status=503))
    b.add_event("note", "b", t_ns=1, text="b")
    a.merge(b)
    assert [r.replica for r in a.requests] == ["app-az-a", "app-az-b"]
    assert list(a.requests)[1] == b.requests.record(0)
    assert [e.get("text") for e in a.events] == ["b", "a"]


def test_bulk_columns_equal_per_record_appends() -> None:
    recs = [RequestRecord(intended_ns=i, start_ns=i + 1, end_ns=i + 5, outcome=Outcome(i % 4),
                          status=200 + i, degraded=bool(i % 2), provider=Provider(i % 4),
                          replica=f"r{i % 3}", error="" if i % 2 else "E")
            for i in range(50)]
    one, bulk = Timeline(), Timeline()
    one.add_requests(recs)
    n = bulk.add_request_columns(
        intended_ns=[r.intended_ns for r in recs], start_ns=[r.start_ns for r in recs],
        end_ns=[r.end_ns for r in recs], outcome=[int(r.outcome) for r in recs],
        status=[r.status for r in recs], degraded=[int(r.degraded) for r in recs],
        provider=[int(r.provider) for r in recs], replica=[r.replica for r in recs],
        error=[r.error for r in recs])
    assert n == 50 and list(bulk.requests) == recs
    bulk.add_request_columns(intended_ns=[7], start_ns=[7], end_ns=[8], outcome=[0])
    assert list(bulk.requests)[-1] == RequestRecord(intended_ns=7, start_ns=7, end_ns=8,
                                                    outcome=Outcome.OK)
    with pytest.raises(ValueError, match="expected 2"):
        bulk.add_request_columns(intended_ns=[1, 2], start_ns=[1], end_ns=[1, 2],
                                 outcome=[0, 0])


def test_event_kinds_are_documented() -> None:
    for kind in ("fault.inject", "fault.verified", "fault.revert", "fault.reverted", "obs.state",
                 "obs.event", "load.start", "load.stop", "harness.error", "steady_state",
                 "stop_condition", "run.start", "run.end", "phase"):
        assert kind in EVENT_KINDS
    assert "family" in EVENT_KINDS["fault.inject"]
