"""An incident's share of the real SLO window's budget, and the episode view (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.analysis import AnalysisSpec, SLOSpec, analyse
from harness.analysis.budget import BudgetSpec, bad_slices, incident_cost
from harness.analysis.episodes import EpisodeSample, episode_views
from harness.analysis.projection import KindSamples, project_samples
from harness.errors import ConfigError
from harness.experiment import Experiment, FaultStep, LoadSpec
from harness.experiment.assemble import RunFacts, analyse_run, analysis_spec, build_report
from harness.experiment.model import BudgetSettings
from harness.report import validate_report
from tests.support.synthetic import Outage, SyntheticFault, synthetic_timeline


def test_budget_of_a_30_day_window() -> None:
    b = BudgetSpec(objective=0.9999, production_rate=300.0)
    assert b.window_s == 30 * 86400
    assert b.budget_seconds == pytest.approx(259.2)  # 4.32 minutes
    assert b.budget_requests == pytest.approx(259.2 * 300)
    assert b.budget_slices == pytest.approx(4.32)
    with pytest.raises(ConfigError, match="production_rate"):
        BudgetSpec(objective=0.9999, production_rate=0.0)


def zone_loss_impact() -> object:
    """A 2.0 s total outage at 100 req/s: 200 bad requests, 2.0 error-seconds."""
    tl = synthetic_timeline(duration_s=60, rate=100, outages=[Outage(start_s=30, end_s=32,
                                                                     mode="error")],
                            faults=[SyntheticFault(fault_id="f0", name="zone-power",
                                                   family="zone", inject_s=30, revert_s=40)])
    (f,) = analyse(tl, AnalysisSpec(slos=[SLOSpec(name="a", objective=0.9999)])).faults
    return f


def test_incident_share_scales_to_the_production_rate() -> None:
    f = zone_loss_impact()
    c = incident_cost(f, BudgetSpec(objective=0.9999, production_rate=300.0), trial=1,  # type: ignore[arg-type]
                      rate=100.0)
    assert (c.bad_requests, c.error_seconds) == (200, pytest.approx(2.0, abs=0.02))
    assert c.production_bad_requests == pytest.approx(600, abs=6)  # 2 s at 300 req/s
    assert c.share_time == pytest.approx(2.0 / 259.2, rel=0.01)  # 0.77 % of 30 days
    assert c.share_requests == pytest.approx(c.share_time)
    assert c.share == c.share_requests
    assert c.bad_slices == 1 and c.share_timeslices == pytest.approx(1 / 4.32)
    ts = incident_cost(f, BudgetSpec(objective=0.9999, production_rate=300.0,  # type: ignore[arg-type]
                                     method="timeslices"), trial=1, rate=100.0)
    assert ts.share == pytest.approx(1 / 4.32)  # a 2 s outage spoils a whole minute


def test_bad_slices_count_slices_below_target() -> None:
    # 30 bad spread over 50..70 s: 15 in each of two 60 s slices (6,000 requests each)
    assert bad_slices([(50.0, 70.0, 30)], rate=100, slice_s=60, target=0.9999) == 2
    assert bad_slices([(50.0, 70.0, 30)], rate=100, slice_s=60, target=0.99) == 0
    assert bad_slices([(5.0, 5.0, 1)], rate=100, slice_s=60, target=0.9999) == 1
    assert bad_slices([], rate=100, slice_s=60, target=0.9999) == 0


def test_episode_view_bounds_the_chance_an_episode_hurts() -> None:
    clean = [EpisodeSample(name="kill", family="process", bad_requests=0, error_seconds=0.0,
                           share=0.0)] * 3
    (v,) = episode_views(clean).values()
    assert (v.episodes, v.hurt, v.p_hurt_lower) == (3, 0, 0.0)
    assert v.p_hurt_upper == pytest.approx(1 - 0.05 ** (1 / 3))  # 63 %
    hurt = [EpisodeSample(name="z", family="zone", bad_requests=b, error_seconds=b / 100,
                          share=b / 25920) for b in (0, 40, 200, 10)]
    v = episode_views(hurt)["z"]
    assert (v.hurt, v.bad_requests.max, v.bad_requests.median) == (3, 200.0, 25.0)
    assert 0 < v.p_hurt_lower < 0.75 < v.p_hurt_upper <= 1
    assert v.to_json()["p_hurt"] == 0.75


def test_projection_states_budget_shares_on_the_same_scale() -> None:
    p = project_samples({"zone-power": KindSamples(name="zone-power", family="zone",
                                                   error_seconds=(2.0,))}, objective=0.9999)
    j = p.to_json()
    year_budget = 1e-4 * 365.25 * 86400
    assert j["budget_share"]["median"] == pytest.approx(2.0 / year_budget)
    assert j["kinds"][0]["budget_share"]["worst"] == pytest.approx(2.0 / year_budget)


def test_report_budget_block_at_the_stated_production_rate() -> None:
    exp = Experiment(name="zl", hypothesis="h", load=LoadSpec(rate=100, warmup=1),
                     budget=BudgetSettings(production_rate=300, window="28d"),
                     method=(FaultStep(fault="zone-power", target="zone=az-a", start=1,
                                       duration=10),))
    tl = synthetic_timeline(duration_s=60, rate=100, outages=[Outage(start_s=30, end_s=32,
                                                                     mode="error")],
                            faults=[SyntheticFault(fault_id="t1-f0", name="zone-power",
                                                   family="zone", inject_s=30, revert_s=40)])
    tl.add_event("phase", "runner", t_ns=tl.events[0].t_ns + 1, name="method", trial=1)
    overall, per = analyse_run(tl, analysis_spec(exp))
    rep = build_report(RunFacts(run_id="r", experiment=exp, file=None, seed=1,
                                substrate="local", vector_mode="embedded",
                                started_at=datetime(2026, 12, 1, tzinfo=UTC), duration_s=60.0,
                                knobs={}, end_reason="completed"), overall, per)
    validate_report(rep)
    b = rep["budget"]
    assert (b["production_rate"], b["window_days"], b["method"]) == (300, 28, "occurrences")
    (inc,) = b["incidents"]
    assert inc["share"] == pytest.approx(2.0 / (1e-4 * 28 * 86400), rel=0.01)
    assert b["worst_share"] == inc["share"]
    assert b["episodes"]["zone-power"]["hurt"] == 1
    assert rep["projection"]["budget_share"]["median"] > 0


def test_budget_settings_validate_the_window() -> None:
    assert BudgetSettings(window="720h").window == 30 * 86400
    with pytest.raises(ValueError, match="window"):
        BudgetSettings(window="soon")
