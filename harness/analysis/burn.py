"""Burn rates, and whether the standard multiwindow alerts would have fired.

* **Burn rate** of a window = (bad / total in the window) / (1 - A). Reported per fixed bin of
  ``burn_bin_s`` over the run (from real counts), and for the run as a whole.
* **Alerts** (``AlertSpec``: threshold, long and short window). An experiment lasts minutes; the
  alert windows last hours. We answer *"had this incident happened in production at this request
  rate, would it have paged?"*: the run's bad requests (at their **bad-at** times) are embedded in
  otherwise clean traffic at the run's offered rate ``r``. A window of length ``W`` ending at ``T``
  then holds ``r * W`` requests, of which ``bad(T - W, T]`` are bad, so its burn is
  ``bad(T - W, T] / (r * W) / (1 - A)``. The alert fires if at some ``T`` both the long and the
  short window burn at ``>= threshold`` (both counts peak right at a bad-at time, so only those
  ``T`` are checked -- exact, ``O(k log k)``). Reported per alert: fired, and the largest long and
  short window burn seen (each maximised separately).
* ``budget_fraction_30d`` -- the share of a 30-day error budget the incident would consume at
  that rate: ``bad / (r * 30 d * (1 - A))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.analysis.spec import AlertSpec

__all__ = ["AlertResult", "BurnReport", "BurnWindow", "alert_result", "burn_report",
           "burn_windows"]

_DAYS_30_S = 30 * 86400


@dataclass(frozen=True, slots=True, kw_only=True)
class BurnWindow:
    start_s: float
    end_s: float
    total: int
    bad: int
    burn_rate: float | None

    def to_json(self) -> dict[str, Any]:
        return {"start_s": self.start_s, "end_s": self.end_s, "total": self.total,
                "bad": self.bad, "burn_rate": self.burn_rate}


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertResult:
    alert: AlertSpec
    fired: bool
    long_burn: float
    short_burn: float

    def to_json(self) -> dict[str, Any]:
        a = self.alert
        return {"name": a.name, "threshold": a.threshold, "severity": a.severity,
                "long_window_s": a.long_window_s, "short_window_s": a.short_window_s,
                "fired": self.fired, "long_burn": self.long_burn, "short_burn": self.short_burn}


@dataclass(frozen=True, slots=True, kw_only=True)
class BurnReport:
    run_burn: float | None
    windows: tuple[BurnWindow, ...]
    alerts: tuple[AlertResult, ...]
    rate: float | None  # offered requests / s used for the embedding
    budget_fraction_30d: float | None

    def to_json(self) -> dict[str, Any]:
        return {"run_burn": self.run_burn, "rate": self.rate,
                "budget_fraction_30d": self.budget_fraction_30d,
                "windows": [w.to_json() for w in self.windows],
                "alerts": [a.to_json() for a in self.alerts]}


def burn_windows(intended_ns: np.ndarray, bad_mask: np.ndarray, *, origin_ns: int,
                 bin_s: float, allowed: float) -> tuple[BurnWindow, ...]:
    """Per-bin (by intended send time) totals, bad counts and burn rates; empty bins left out."""
    if intended_ns.shape[0] == 0:
        return ()
    bin_ns = round(bin_s * 1e9)
    bins = (intended_ns - origin_ns) // bin_ns
    lo = int(bins.min())
    total = np.bincount(bins - lo)
    bad = np.bincount(bins[bad_mask] - lo, minlength=total.shape[0])
    out = []
    for i in np.flatnonzero(total).tolist():
        t, b = int(total[i]), int(bad[i])
        start = (i + lo) * bin_s
        out.append(BurnWindow(start_s=start, end_s=start + bin_s, total=t, bad=b,
                              burn_rate=b / t / allowed))
    return tuple(out)


def _window_counts(bad_at_sorted: np.ndarray, window_ns: int) -> np.ndarray:
    """For each bad-at time T (sorted), the number of bad-at times in (T - window, T]."""
    right = np.searchsorted(bad_at_sorted, bad_at_sorted, side="right")
    left = np.searchsorted(bad_at_sorted, bad_at_sorted - window_ns, side="right")
    return right - left


def alert_result(bad_at_sorted: np.ndarray, *, rate: float | None, allowed: float,
                 alert: AlertSpec) -> AlertResult:
    if bad_at_sorted.shape[0] == 0 or not rate:
        return AlertResult(alert=alert, fired=False, long_burn=0.0, short_burn=0.0)
    long_ns, short_ns = round(alert.long_window_s * 1e9), round(alert.short_window_s * 1e9)
    long_burn = _window_counts(bad_at_sorted, long_ns) / (rate * alert.long_window_s) / allowed
    short_burn = _window_counts(bad_at_sorted, short_ns) / (rate * alert.short_window_s) / allowed
    fired = bool(np.any((long_burn >= alert.threshold) & (short_burn >= alert.threshold)))
    return AlertResult(alert=alert, fired=fired, long_burn=float(long_burn.max()),
                       short_burn=float(short_burn.max()))


def burn_report(*, intended_ns: np.ndarray, bad_mask: np.ndarray, bad_at_ns: np.ndarray,
                rate: float | None, origin_ns: int, bin_s: float, allowed: float,
                alerts: tuple[AlertSpec, ...]) -> BurnReport:
    n = int(intended_ns.shape[0])
    k = int(np.count_nonzero(bad_mask))
    bad_sorted = np.sort(bad_at_ns[bad_mask])
    return BurnReport(
        run_burn=None if n == 0 else k / n / allowed,
        windows=burn_windows(intended_ns, bad_mask, origin_ns=origin_ns, bin_s=bin_s,
                             allowed=allowed),
        alerts=tuple(alert_result(bad_sorted, rate=rate, allowed=allowed, alert=a)
                     for a in alerts),
        rate=rate,
        budget_fraction_30d=None if not rate else k / (rate * _DAYS_30_S * allowed),
    )
