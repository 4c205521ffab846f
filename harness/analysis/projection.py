"""Annual availability projection: "with this architecture, do we meet 99.99 % over a year?"

Model (docs/MEASUREMENT.md, "Projection"):

* every landed fault occurrence in the trials is one sample of its kind's cost, in
  **error-seconds** (bad requests / offered rate = seconds of full outage with the same cost);
* a kind's yearly cost = frequency per year x per-incident error-seconds, as a band: best = x min,
  median = x median, worst = x max over the samples;
* the **background** (bad requests no fault explains) costs ``fraction x year``, banded by its
  one-sided Clopper-Pearson bounds at the given confidence;
* total = sum of the kinds + background; availability = 1 - total / year (365.25 d);
* ``meets`` = ``"yes"`` if even the worst case meets the objective, ``"no"`` if even the best
  case misses it, else ``"uncertain"``;
* ``budget_share`` = annual bad seconds / the year's time budget ``(1 - A) x year``: the same
  figures as report.json ``budget`` (an incident's share of a window ``W`` is
  ``error_seconds / ((1 - A) x W)``; a kind's share of the year is frequency x error-seconds /
  ``((1 - A) x year)``), so per window and per year are read off one scale.

Frequencies come from an editable table keyed by fault **name** or **family** (name wins).
Kinds without a frequency are listed in ``unprojected`` (and make the answer ``"uncertain"``
unless it is already ``"no"``). Assumed: an incident in production costs what it cost in the
experiment (same duration and rate); frequencies are taken as exact.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from harness.analysis.run import RunAnalysis
from harness.analysis.stats import clopper_pearson
from harness.analysis.trials import Distribution, summarise
from harness.errors import ConfigError

__all__ = ["DEFAULT_FREQUENCIES", "YEAR_S", "Band", "FaultFrequencies", "KindProjection",
           "KindSamples", "Projection", "impact_samples", "project_annual", "project_samples"]

YEAR_S = 365.25 * 86400

#: Assumed incidents per year by fault family (edit for your environment).
DEFAULT_FREQUENCIES: Mapping[str, float] = {
    "zone": 1.0,  # zone loss
    "process": 12.0,  # replica crash / hang
    "provider": 24.0,  # LLM provider incident
    "network": 6.0,  # partition, latency spike
    "datastore": 4.0,  # Redis / Qdrant node loss
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultFrequencies:
    per_year: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FREQUENCIES))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, file: str | None = None) -> FaultFrequencies:
        """``{kind: per_year}`` or ``{"frequencies": {kind: per_year}}``; kind = name or family."""
        table = data.get("frequencies", data) if isinstance(data, Mapping) else data
        if not isinstance(table, Mapping):
            raise ConfigError("fault frequencies must be a mapping of fault name or family to "
                              "incidents per year", file=file, field="frequencies", value=table)
        out: dict[str, float] = {}
        for key, value in table.items():
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or value < 0:
                raise ConfigError("a fault frequency is a number of incidents per year >= 0",
                                  file=file, field=f"frequencies.{key}", value=value,
                                  allowed="e.g. 12 (once a month)")
            out[str(key)] = float(value)
        return cls(per_year=out)

    @classmethod
    def from_yaml(cls, text: str, *, file: str | None = None) -> FaultFrequencies:
        """Parse YAML text (the caller reads the file; analysis does no I/O)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {exc}", file=file) from exc
        return cls.from_mapping(data or {}, file=file)

    def lookup(self, name: str, family: str) -> tuple[str, float] | None:
        for key in (name, family):
            if key and key in self.per_year:
                return key, self.per_year[key]
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class KindSamples:
    name: str
    family: str
    error_seconds: tuple[float, ...]


def impact_samples(trials: Iterable[RunAnalysis]) -> dict[str, KindSamples]:
    """Per fault name, the error-seconds of every landed occurrence over ``trials``."""
    acc: dict[str, tuple[str, list[float]]] = {}
    for t in trials:
        for f in t.faults:
            if f.fault.landed and f.error_seconds is not None:
                acc.setdefault(f.fault.name, (f.fault.family, []))[1].append(f.error_seconds)
    return {n: KindSamples(name=n, family=fam, error_seconds=tuple(v))
            for n, (fam, v) in acc.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class Band:
    best: float
    median: float
    worst: float

    def to_json(self) -> dict[str, float]:
        return {"best": self.best, "median": self.median, "worst": self.worst}

    def __add__(self, other: Band) -> Band:
        return Band(best=self.best + other.best, median=self.median + other.median,
                    worst=self.worst + other.worst)


@dataclass(frozen=True, slots=True, kw_only=True)
class KindProjection:
    name: str
    family: str
    frequency_key: str
    frequency_per_year: float
    per_incident_s: Distribution
    annual_bad_s: Band

    def to_json(self, budget_s: float | None = None) -> dict[str, Any]:
        out = {"name": self.name, "family": self.family, "frequency_key": self.frequency_key,
               "frequency_per_year": self.frequency_per_year,
               "per_incident_s": self.per_incident_s.to_json(),
               "annual_bad_s": self.annual_bad_s.to_json()}
        if budget_s:
            out["budget_share"] = _share(self.annual_bad_s, budget_s)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Projection:
    objective: float
    kinds: tuple[KindProjection, ...]
    unprojected: tuple[str, ...]
    background_bad_fraction: float
    background_s: Band
    annual_bad_s: Band
    availability: Band
    budget_s: float
    meets: str  # "yes" | "no" | "uncertain"

    @property
    def answer(self) -> str:
        m = self.availability
        return (f"projected availability {m.median * 100:.4f} % (worst {m.worst * 100:.4f} %, "
                f"best {m.best * 100:.4f} %) against {self.objective * 100:g} %: {self.meets}")

    def to_json(self) -> dict[str, Any]:
        return {"objective": self.objective,
                "kinds": [k.to_json(self.budget_s) for k in self.kinds],
                "unprojected": list(self.unprojected),
                "background_bad_fraction": self.background_bad_fraction,
                "background_s": self.background_s.to_json(),
                "annual_bad_s": self.annual_bad_s.to_json(),
                "annual_bad_min": {k: v / 60 for k, v in self.annual_bad_s.to_json().items()},
                "availability": self.availability.to_json(), "budget_s": self.budget_s,
                "budget_share": _share(self.annual_bad_s, self.budget_s),
                "meets": self.meets, "answer": self.answer}


def _share(band: Band, budget_s: float) -> dict[str, float | None]:
    """A band of bad seconds as shares of a time budget (None with no budget)."""
    return {k: (v / budget_s if budget_s > 0 else None) for k, v in band.to_json().items()}


def _kind(s: KindSamples, key: str, freq: float) -> KindProjection:
    d = summarise(list(s.error_seconds))
    return KindProjection(
        name=s.name, family=s.family, frequency_key=key, frequency_per_year=freq,
        per_incident_s=d, annual_bad_s=Band(best=freq * (d.min or 0.0),
                                            median=freq * (d.median or 0.0),
                                            worst=freq * (d.max or 0.0)))


def project_samples(samples: Mapping[str, KindSamples], *, objective: float,
                    frequencies: FaultFrequencies | None = None, background_bad: int = 0,
                    background_total: int = 0, confidence: float = 0.95) -> Projection:
    freqs = frequencies or FaultFrequencies()
    kinds, unprojected = [], []
    for s in samples.values():
        hit = freqs.lookup(s.name, s.family)
        if hit is None or not s.error_seconds:
            unprojected.append(s.name)
        else:
            kinds.append(_kind(s, *hit))
    b = clopper_pearson(background_bad, background_total, confidence) if background_total \
        else None
    frac = background_bad / background_total if background_total else 0.0
    background = Band(best=0.0, median=0.0, worst=0.0) if b is None else \
        Band(best=b.lower * YEAR_S, median=frac * YEAR_S, worst=b.upper * YEAR_S)
    total = sum((k.annual_bad_s for k in kinds), background)
    avail = Band(best=max(0.0, 1 - total.best / YEAR_S), median=max(0.0, 1 - total.median / YEAR_S),
                 worst=max(0.0, 1 - total.worst / YEAR_S))
    meets = "no" if avail.best < objective else (
        "yes" if avail.worst >= objective and not unprojected else "uncertain")
    return Projection(objective=objective, kinds=tuple(kinds), unprojected=tuple(unprojected),
                      background_bad_fraction=frac, background_s=background, annual_bad_s=total,
                      availability=avail, budget_s=(1 - objective) * YEAR_S, meets=meets)


def project_annual(trials: Sequence[RunAnalysis], *, objective: float | None = None,
                   frequencies: FaultFrequencies | Mapping[str, Any] | None = None,
                   include_background: bool = True) -> Projection:
    """Project a year from ``trials`` (objective defaults to the trials' primary SLO)."""
    if objective is None:
        if not trials:
            raise ConfigError("project_annual needs an objective or at least one trial")
        objective = trials[0].spec.primary.objective
    if frequencies is not None and not isinstance(frequencies, FaultFrequencies):
        frequencies = FaultFrequencies.from_mapping(frequencies)
    confidence = trials[0].spec.confidence if trials else 0.95
    return project_samples(
        impact_samples(trials), objective=objective, frequencies=frequencies,
        background_bad=sum(t.unattributed_bad for t in trials) if include_background else 0,
        background_total=sum(t.requests for t in trials) if include_background else 0,
        confidence=confidence)
