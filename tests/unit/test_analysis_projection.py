"""Annual projection from measured impacts and an editable frequency table."""

from __future__ import annotations

import math

import pytest

from harness.analysis import AnalysisSpec, SLOSpec, analyse, project_annual
from harness.analysis.projection import (
    YEAR_S,
    FaultFrequencies,
    KindSamples,
    impact_samples,
    project_samples,
)
from harness.errors import ConfigError
from tests.support.synthetic import Outage, SyntheticFault, synthetic_timeline


def samples(**kinds: tuple[str, list[float]]) -> dict[str, KindSamples]:
    return {n: KindSamples(name=n, family=f, error_seconds=tuple(v))
            for n, (f, v) in kinds.items()}


def test_projection_bands_and_answer() -> None:
    s = samples(**{"zone-loss": ("zone", [10.0, 20.0, 30.0]),
                   "kill-replica": ("process", [1.0, 2.0, 3.0])})
    p = project_samples(s, objective=0.9999)
    assert p.annual_bad_s.to_json() == {"best": 22.0, "median": 44.0, "worst": 66.0}
    assert p.availability.worst == pytest.approx(1 - 66.0 / YEAR_S)
    assert p.budget_s == pytest.approx(1e-4 * YEAR_S)  # 52.6 minutes
    assert p.budget_s / 60 == pytest.approx(52.596, abs=1e-3)
    assert p.meets == "yes" and "yes" in p.answer
    zone = next(k for k in p.kinds if k.name == "zone-loss")
    assert (zone.frequency_key, zone.frequency_per_year) == ("zone", 1.0)
    assert p.to_json()["annual_bad_min"]["worst"] == pytest.approx(1.1)


def test_projection_no_and_uncertain() -> None:
    big = samples(**{"provider-outage": ("provider", [200.0, 300.0])})  # 24/yr
    assert project_samples(big, objective=0.9999).meets == "no"  # 4800 s > 3156 s even at best
    spread = samples(**{"provider-outage": ("provider", [100.0, 200.0])})
    assert project_samples(spread, objective=0.9999).meets == "uncertain"  # 2400 .. 4800 s
    unknown = samples(**{"x": ("mystery", [0.0])})
    p = project_samples(unknown, objective=0.9999)
    assert p.unprojected == ("x",) and p.meets == "uncertain"


def test_fault_name_overrides_family_and_table_validation() -> None:
    f = FaultFrequencies.from_mapping({"frequencies": {"process": 12, "kill-replica": 2}})
    assert f.lookup("kill-replica", "process") == ("kill-replica", 2.0)
    assert f.lookup("pause-replica", "process") == ("process", 12.0)
    assert f.lookup("x", "y") is None
    assert FaultFrequencies.from_yaml("zone: 0.5\n").per_year == {"zone": 0.5}
    with pytest.raises(ConfigError, match=r"frequencies\.zone"):
        FaultFrequencies.from_mapping({"zone": -1})
    with pytest.raises(ConfigError, match="YAML"):
        FaultFrequencies.from_yaml("zone: [", file="freq.yaml")
    assert FaultFrequencies().per_year["provider"] == 24.0


def test_background_failures_count_with_their_bounds() -> None:
    p = project_samples({}, objective=0.999, background_bad=10, background_total=100_000)
    assert p.background_s.median == pytest.approx(1e-4 * YEAR_S)
    assert p.background_s.best < p.background_s.median < p.background_s.worst


def test_project_annual_from_trials() -> None:
    spec = AnalysisSpec(slos=[SLOSpec(name="a", objective=0.9999)])
    trials = []
    for i, d in enumerate([1.0, 2.0, 3.0]):
        tl = synthetic_timeline(
            duration_s=40, rate=100, seed=i,
            outages=[Outage(start_s=10, end_s=10 + d, mode="error")],
            faults=[SyntheticFault(fault_id="f", name="zone-loss", family="zone", inject_s=10,
                                   revert_s=20)])
        trials.append(analyse(tl, spec))
    s = impact_samples(trials)
    assert s["zone-loss"].error_seconds == pytest.approx((1.0, 2.0, 3.0), abs=1e-6)
    p = project_annual(trials, frequencies={"zone": 2})
    assert p.objective == 0.9999 and p.background_bad_fraction == 0.0
    assert p.annual_bad_s.median == pytest.approx(4.0, abs=1e-4)
    # 0 unexplained bad of 12,000 requests still allows a background of up to 2.5e-4 (95 %):
    # the honest answer is "uncertain" until there is more clean traffic
    assert p.background_s.worst == pytest.approx(-math.expm1(math.log(0.05) / 12_000) * YEAR_S, rel=1e-9)
    assert p.meets == "uncertain"
    assert project_annual(trials, frequencies={"zone": 2}, include_background=False).meets \
        == "yes"
    with pytest.raises(ConfigError):
        project_annual([])
