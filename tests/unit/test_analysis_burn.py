"""Burn rates per window and the multiwindow alerts under the embedding model."""

from __future__ import annotations

import numpy as np
import pytest

from harness.analysis import DEFAULT_ALERTS, AnalysisSpec, SLOSpec, analyse
from harness.analysis.burn import alert_result, burn_windows
from harness.analysis.spec import AlertSpec
from tests.support.synthetic import Outage, synthetic_timeline

S = 1_000_000_000


def run(outage_s: float, *, rate: int = 100) -> dict[str, dict]:
    tl = synthetic_timeline(duration_s=outage_s + 20, rate=rate,
                            outages=[Outage(start_s=10, end_s=10 + outage_s, mode="error")])
    a = analyse(tl, AnalysisSpec(slos=[SLOSpec(name="a", objective=0.9999)]))
    assert a.slos[0].bad == round(outage_s * rate)
    return {x.alert.name: {"fired": x.fired, "long": x.long_burn, "short": x.short_burn}
            for x in a.burn.alerts} | {"_": {"budget": a.burn.budget_fraction_30d}}


def test_default_alerts_are_the_sre_workbook_ones() -> None:
    assert [(a.threshold, a.long_window_s, a.short_window_s, a.severity)
            for a in DEFAULT_ALERTS] == [(14.4, 3600, 300, "page"), (6.0, 21600, 1800, "page"),
                                         (1.0, 259200, 21600, "ticket")]


def test_two_second_outage_does_not_page_at_four_nines() -> None:
    r = run(2.0)
    assert not any(v["fired"] for k, v in r.items() if k != "_")
    # 2 s of full outage is 2/3600 of an hour: burn 5.6 over 1 h, 66.7 over 5 m
    assert r["page-1h-5m"]["long"] == pytest.approx(2 / 3600 / 1e-4)
    assert r["page-1h-5m"]["short"] == pytest.approx(2 / 300 / 1e-4)
    assert r["_"]["budget"] == pytest.approx(2 / (30 * 86400 * 1e-4))


@pytest.mark.parametrize(("outage_s", "fired"), [
    # 14.4x over 1 h = 2 % of a 30-day budget = 5.184 s of full outage at 99.99 %
    (5.1, {"page-1h-5m": False, "page-6h-30m": False, "ticket-3d-6h": False}),
    (5.3, {"page-1h-5m": True, "page-6h-30m": False, "ticket-3d-6h": False}),
    # 6x over 6 h = 5 % = 12.96 s; 1x over 3 d = 10 % = 25.92 s
    (13.1, {"page-1h-5m": True, "page-6h-30m": True, "ticket-3d-6h": False}),
    (26.1, {"page-1h-5m": True, "page-6h-30m": True, "ticket-3d-6h": True}),
])
def test_alerts_fire_at_the_budget_fractions(outage_s: float, fired: dict[str, bool]) -> None:
    r = run(outage_s)
    assert {k: v["fired"] for k, v in r.items() if k != "_"} == fired


def test_both_windows_must_burn_at_the_same_time() -> None:
    # 2 bad requests 2 h apart at 1 req/s, objective 0.5 -> allowed 0.5
    alert = AlertSpec(name="x", threshold=1.0, long_window_s=10, short_window_s=2,
                      severity="page")
    bad = np.array([0, 7200 * S], dtype=np.int64)
    r = alert_result(bad, rate=1.0, allowed=0.5, alert=alert)
    assert r.long_burn == pytest.approx(1 / 10 / 0.5) and r.short_burn == pytest.approx(1.0)
    assert not r.fired
    dense = np.arange(0, 10 * S, S // 2, dtype=np.int64)[:8]  # 8 bad in 3.5 s
    r = alert_result(dense, rate=1.0, allowed=0.5, alert=alert)
    assert r.fired  # long: 8/10/0.5 = 1.6; short: >= 4/2/0.5
    none = alert_result(np.zeros(0, dtype=np.int64), rate=1.0, allowed=0.5, alert=alert)
    assert (none.fired, none.long_burn, none.short_burn) == (False, 0.0, 0.0)


def test_burn_windows_count_per_bin() -> None:
    t0 = 100 * S
    intended = t0 + np.array([0, 1, 2, 61, 62, 200], dtype=np.int64) * S
    bad = np.array([True, False, False, True, True, False])
    w = burn_windows(intended, bad, origin_ns=t0, bin_s=60, allowed=0.01)
    assert [(x.start_s, x.total, x.bad) for x in w] == [(0.0, 3, 1), (60.0, 2, 2),
                                                         (180.0, 1, 0)]
    assert w[0].burn_rate == pytest.approx(1 / 3 / 0.01) and w[2].burn_rate == 0.0
