"""Failover milestones from hand-built timelines (the stack's own signals, per fault family)."""

from __future__ import annotations

import pytest

from harness.analysis import AnalysisSpec, SLOSpec, analyse
from harness.analysis.milestones import MILESTONES, decision_rule
from harness.timeline import Timeline
from tests.support.synthetic import Observation, Outage, SyntheticFault, synthetic_timeline

S = 1_000_000_000
ORIGIN = 1_000 * S


def spec() -> AnalysisSpec:
    return AnalysisSpec(slos=[SLOSpec(name="availability", objective=0.9999,
                                      latency_threshold_ms=500.0)])


def _event(tl: Timeline, t_s: float, subject: str, event: str) -> None:
    tl.add_event("obs.event", "observers", t_ns=ORIGIN + round(t_s * S), subject=subject,
                 event=event, detail="")


def _state(tl: Timeline, t_s: float, subject: str, state: str, healthy: bool,
           signal: str = "stack") -> None:
    tl.add_event("obs.state", "observers", t_ns=ORIGIN + round(t_s * S), subject=subject,
                 state=state, healthy=healthy, detail="", signal=signal)


def by_name(tl: Timeline) -> dict[str, tuple[float | None, str]]:
    (f,) = analyse(tl, spec()).faults
    assert tuple(m.name for m in f.milestones) == MILESTONES
    return {m.name: (m.at_s, m.signal) for m in f.milestones}


def redis_kill_timeline() -> Timeline:
    """The Redis master SIGKILL of issue #11, as its timeline recorded it (inject at 10 s)."""
    tl = synthetic_timeline(duration_s=40, rate=100, faults=[SyntheticFault(
        fault_id="f0", name="redis-master-loss", family="datastore", inject_s=10.0,
        revert_s=20.0)])
    _state(tl, 10.07, "breaker/app-az-a/cache", "open", False)
    _event(tl, 11.07, "sentinel/mymaster/redis-az-a", "+sdown")
    _event(tl, 11.14, "sentinel/mymaster/redis-az-a", "+odown")
    _state(tl, 11.2, "redis/replication", "master redis-az-a unreachable", False, "probe")
    _event(tl, 12.30, "sentinel/mymaster/redis-az-b", "+switch-master")
    _event(tl, 12.42, "sentinel/mymaster/redis-az-b", "+failover-end")
    _state(tl, 13.08, "breaker/app-az-a/cache", "closed", True)
    _state(tl, 13.5, "redis/replication", "master=redis-az-b replicas_online=1", False)
    _state(tl, 21.6, "redis/replication", "master=redis-az-b replicas_online=2", True)
    return tl


def test_redis_master_kill_is_decided_by_switch_master() -> None:
    m = by_name(redis_kill_timeline())
    assert m["detected"][0] == pytest.approx(0.07)
    assert m["detected"][1] == "breaker/app-az-a/cache"
    assert m["decided"][0] == pytest.approx(2.30)  # not the breaker at 0.07, not +odown at 1.14
    assert m["decided"][1] == "sentinel +switch-master: sentinel/mymaster/redis-az-b " \
                              "+switch-master"
    assert m["served"] == (0.0, "clients: no request was bad")
    # the replication link is whole again 1.6 s after the revert (11.6 s after the inject)
    assert m["redundant"][0] == pytest.approx(11.6)
    assert "redis/replication" in m["redundant"][1]


def test_redis_master_kill_without_promotion_falls_back_to_odown_then_none() -> None:
    tl = synthetic_timeline(duration_s=30, rate=100, faults=[SyntheticFault(
        fault_id="f0", name="redis-master-loss", family="datastore", inject_s=5.0,
        revert_s=15.0)])
    _event(tl, 6.1, "sentinel/mymaster/redis-az-a", "+odown")
    assert by_name(tl)["decided"] == (pytest.approx(1.1),
                                      "sentinel +odown: sentinel/mymaster/redis-az-a +odown")
    bare = synthetic_timeline(duration_s=30, rate=100, faults=[SyntheticFault(
        fault_id="f0", name="redis-master-loss", family="datastore", inject_s=5.0,
        revert_s=15.0)])
    decided = by_name(bare)["decided"]
    assert decided[0] is None and "+switch-master" in decided[1]


def test_zone_loss_is_decided_by_haproxy_down_and_served_by_clients() -> None:
    tl = synthetic_timeline(
        duration_s=40, rate=200, outages=[Outage(start_s=10.0, end_s=11.5, mode="error",
                                                 fraction=0.3)],
        faults=[SyntheticFault(fault_id="f0", name="zone-power", family="zone", inject_s=10.0,
                               revert_s=20.0)],
        observations=[Observation(t_s=10.3, subject="breaker/app-az-b/cache", healthy=False,
                                  state="open"),
                      Observation(t_s=11.4, subject="haproxy/app/app-az-a", healthy=False,
                                  state="DOWN"),
                      Observation(t_s=10.9, subject="haproxy/app/app-az-a", healthy=False,
                                  state="UP 1/3"),
                      Observation(t_s=12.0, subject="breaker/app-az-b/cache", healthy=True,
                                  state="closed"),
                      Observation(t_s=23.0, subject="haproxy/app/app-az-a", healthy=True,
                                  state="UP")])
    m = by_name(tl)
    assert m["detected"][0] == pytest.approx(0.3)
    assert m["decided"][0] == pytest.approx(1.4)  # DOWN, not the "UP 1/3" going-down state
    assert m["decided"][1].startswith("haproxy DOWN: haproxy/app/app-az-a DOWN")
    assert m["served"][0] == pytest.approx(1.5, abs=0.05)
    assert m["served"][1] == "clients: end of the first impact episode"
    assert m["redundant"] == (pytest.approx(13.0), "last back: haproxy/app/app-az-a UP")


def test_redundancy_not_restored_and_never_lost() -> None:
    tl = synthetic_timeline(
        duration_s=30, rate=100,
        faults=[SyntheticFault(fault_id="f0", name="kill", family="process", inject_s=5.0,
                               revert_s=10.0)],
        observations=[Observation(t_s=6.0, subject="haproxy/app/app-az-c", healthy=False)])
    red = by_name(tl)["redundant"]
    assert red[0] is None and red[1] == "not restored: haproxy/app/app-az-c"
    quiet = synthetic_timeline(duration_s=30, rate=100, faults=[SyntheticFault(
        fault_id="f0", name="kill", family="process", inject_s=5.0, revert_s=10.0)])
    m = by_name(quiet)
    assert m["redundant"][0] is None and m["redundant"][1].startswith("never lost")
    assert m["detected"] == (None, "not observed")


def test_probe_signals_do_not_decide_and_observer_health_does_not_count() -> None:
    tl = synthetic_timeline(duration_s=30, rate=100, faults=[SyntheticFault(
        fault_id="f0", name="kill", family="process", inject_s=5.0, revert_s=10.0)])
    _state(tl, 5.1, "app/app-az-a", "unreachable", False, "probe")
    _state(tl, 5.2, "observer/haproxy", "failing: ValueError", False, "probe")
    _state(tl, 6.0, "haproxy/app/app-az-a", "DOWN", False)
    _state(tl, 11.0, "app/app-az-a", "ready", True)
    _state(tl, 12.0, "haproxy/app/app-az-a", "UP", True)
    m = by_name(tl)
    assert m["detected"] == (pytest.approx(1.0), "haproxy/app/app-az-a")
    assert m["decided"][0] == pytest.approx(1.0)
    assert m["redundant"][0] == pytest.approx(7.0)  # observer/haproxy never recovered: ignored


def test_redundancy_stops_at_the_next_fault() -> None:
    tl = synthetic_timeline(duration_s=60, rate=50, faults=[
        SyntheticFault(fault_id="f0", name="kill", family="process", inject_s=5.0,
                       revert_s=10.0),
        SyntheticFault(fault_id="f1", name="kill", family="process", inject_s=30.0,
                       revert_s=35.0)])
    _state(tl, 6.0, "haproxy/app/app-az-a", "DOWN", False)
    _state(tl, 12.0, "haproxy/app/app-az-a", "UP", True)
    _state(tl, 31.0, "haproxy/app/app-az-a", "DOWN", False)  # the second fault's, not ours
    first, second = analyse(tl, spec()).faults
    assert first.milestones[3].at_s == pytest.approx(7.0)
    assert second.milestones[3].at_s is None


def test_decision_rules_per_family() -> None:
    assert decision_rule("redis-master-loss", "datastore")[0] == "sentinel +switch-master"
    assert decision_rule("zone-power", "zone")[0] == "haproxy DOWN"
    assert decision_rule("kill", "process")[0] == "haproxy DOWN"
    assert decision_rule("provider-5xx", "provider") == ("breaker open",)
    assert decision_rule("qdrant-node-loss", "datastore")[0] == "qdrant replica dropped"
    assert len(decision_rule("something-new", "other")) == 5  # any decision signal


def test_milestones_in_fault_json() -> None:
    (f,) = analyse(redis_kill_timeline(), spec()).to_json()["faults"]
    assert [m["name"] for m in f["milestones"]] == list(MILESTONES)
    decided = f["milestones"][1]
    assert set(decided) == {"name", "at_s", "signal"}
    assert decided["at_s"] == pytest.approx(2.3)


def test_a_later_unrelated_flap_is_not_this_faults_loss() -> None:
    """From a real run: the replica link was back 0.3 s after the revert; an app replica timed
    out under machine load 33 s later. Redundancy came back with the link, not with the app."""
    tl = synthetic_timeline(duration_s=90, rate=50, faults=[SyntheticFault(
        fault_id="f0", name="redis-master-loss", family="datastore", inject_s=10.0,
        revert_s=25.0)])
    _state(tl, 10.1, "redis/replication", "master redis-az-a unreachable", False, "probe")
    _event(tl, 12.3, "sentinel/mymaster/redis-az-c", "+switch-master")
    _state(tl, 25.3, "redis/replication", "master=redis-az-c replicas_online=2", True)
    _state(tl, 10.2, "breaker/app-az-b/cache", "open", False)
    _state(tl, 13.0, "breaker/app-az-b/cache", "closed", True)
    _state(tl, 58.0, "app/app-az-b", "unreachable", False, "probe")
    _state(tl, 58.2, "app/app-az-b", "ready", True)
    _state(tl, 60.0, "breaker/app-az-b/cache", "open", False)  # a lost subject flaps later
    _state(tl, 61.0, "breaker/app-az-b/cache", "closed", True)
    assert by_name(tl)["redundant"] == (pytest.approx(15.3),
                                        "last back: redis/replication "
                                        "master=redis-az-c replicas_online=2")
