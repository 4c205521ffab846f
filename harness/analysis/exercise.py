"""Was each fault exercised? Deltas of outside counters plus the requests that crossed it.

A fault is **exercised** by the requests, upstream calls and bytes that passed through the
faulted part while it was on (docs/MEASUREMENT.md, "Exercise"). The runner snapshots the
fault's counters into ``exercise.sample`` events right before the injection (``phase='inject'``)
and right before the revert (``phase='revert'``); this module (pure: no I/O, no clock) turns
them into:

* ``counters``: name -> delta between the two samples (``app.<replica>.<key>`` summed into
  ``app.<key>`` over the replicas read both times; a counter that went backwards -- a restarted
  process -- is left out and named in the detail);
* ``upstream_calls``: the sum of the call counters (simulator requests, HAProxy sessions, app
  cache / failure counts), ``None`` when the fault has none;
* ``bytes``: the sum of the ``toxiproxy.<proxy>.bytes`` deltas, ``None`` when none;
* ``requests``: requests intended inside the window (from the later of the inject sample and
  the ``fault.inject`` event to the revert sample) that went through the part. Rule ``llm``
  (provider faults and provider proxies): requests answered with ``X-Provider`` primary or
  fallback, or degraded (they needed an LLM call, not the cache). Rule ``gated``: every request
  in the window, but none when the outside counters show no traffic through the part.
  Either way, when the fault has byte counters and no byte moved, no request went through it.

**Minimum (the default rule)**: ``requests >= max(20, ceil(5 % x offered rate x seconds the
fault was on))``, ``upstream_calls >= 1`` when the fault has call counters, ``bytes >= 1`` when
it has byte counters. An experiment can state its own per step (``method[i].min_exercise``);
0 switches a requirement off. For a latency toxic the samples also carry a timed probe through
the proxy: a probe that came back faster than half the configured latency (toxicity 1) means
the toxic did not delay traffic, so the fault was not exercised.

Below the minimum, or when nothing could be measured, the run is INCONCLUSIVE -- never PASS --
with a reason that says what to change.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from harness.analysis.impact import FaultRecord
from harness.analysis.verdict import Verdict, VerdictCheck
from harness.timeline import Event, Outcome, Provider, Timeline

__all__ = ["DEFAULT_FLOOR", "DEFAULT_SHARE", "Exercise", "ExerciseMinimum", "RequestHeaders",
           "exercise_checks", "fault_exercise", "fault_exercises", "step_key"]

#: the default minimum of requests: this share of the requests offered while the fault was on
DEFAULT_SHARE = 0.05
#: ... and never fewer than this
DEFAULT_FLOOR = 20

_STEP = re.compile(r"^t\d+-")


def step_key(fault_id: str) -> str:
    """``t2-f0-provider-5xx`` -> ``f0-provider-5xx`` (the method step, the same every trial)."""
    return _STEP.sub("", fault_id, count=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExerciseMinimum:
    """What a fault must see to count as exercised; ``None`` = the default rule."""

    requests: int | None = None
    upstream_calls: int | None = None
    bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("requests", "upstream_calls", "bytes"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ValueError(f"min_exercise.{name} must be an int >= 0 or None, got {v!r}")


@dataclass(frozen=True, slots=True)
class RequestHeaders:
    """The per-request columns exercise needs (intended time, outcome, X-Provider, degraded)."""

    intended: np.ndarray
    outcome: np.ndarray
    provider: np.ndarray
    degraded: np.ndarray
    replica: np.ndarray  # index into strings
    strings: tuple[str, ...]

    @classmethod
    def from_timeline(cls, timeline: Timeline) -> RequestHeaders:
        cols = timeline.requests
        return cls(intended=np.frombuffer(cols.intended_ns, dtype=np.int64),
                   outcome=np.frombuffer(cols.outcome, dtype=np.uint8),
                   provider=np.frombuffer(cols.provider, dtype=np.uint8),
                   degraded=np.frombuffer(cols.degraded, dtype=np.uint8).astype(bool),
                   replica=np.frombuffer(cols.replica, dtype=np.uint16),
                   strings=cols.strings)


@dataclass(frozen=True, slots=True, kw_only=True)
class Exercise:
    requests: int
    upstream_calls: int | None
    bytes: int | None
    counters: Mapping[str, float]
    minimum: Mapping[str, int | None]
    ok: bool
    detail: str
    advice: str = ""  # what to change when not ok
    rule: str = "gated"
    window_s: float = 0.0
    probes_ms: Mapping[str, float | None] = field(default_factory=dict)
    replicas: Mapping[str, int] = field(default_factory=dict)  # X-Replica counts in the window

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "upstream_calls": self.upstream_calls,
                "bytes": self.bytes, "counters": dict(self.counters),
                "minimum": dict(self.minimum), "ok": self.ok, "detail": self.detail,
                "advice": self.advice, "rule": self.rule, "window_s": round(self.window_s, 3),
                "probes_ms": dict(self.probes_ms), "replicas": dict(self.replicas)}


def _deltas(first: Mapping[str, Any], last: Mapping[str, Any]) -> tuple[dict[str, float],
                                                                           list[str]]:
    out: dict[str, float] = {}
    backwards = []
    for name, v1 in last.items():
        v0 = first.get(name)
        if not isinstance(v0, int | float) or not isinstance(v1, int | float):
            continue
        d = float(v1) - float(v0)
        if d < 0:
            backwards.append(name)
            continue
        parts = name.split(".")
        key = "app." + ".".join(parts[2:]) if parts[0] == "app" and len(parts) > 2 else name
        out[key] = out.get(key, 0.0) + d
    return out, backwards


def _requests(h: RequestHeaders | None, start: int, end: int, rule: str
              ) -> tuple[int, int, dict[str, int]]:
    """(requests through the part by rule, all requests sent in the window, X-Replica counts)."""
    if h is None or h.intended.shape[0] == 0:
        return 0, 0, {}
    m = (h.intended >= start) & (h.intended < end) & (h.outcome != Outcome.DROPPED)
    total = int(np.count_nonzero(m))
    counts = np.bincount(h.replica[m], minlength=len(h.strings)) if total else np.zeros(0)
    replicas = {h.strings[i]: int(c) for i, c in enumerate(counts.tolist()) if c and h.strings[i]}
    if rule == "llm":
        p = h.provider[m]
        llm = (p == Provider.PRIMARY) | (p == Provider.FALLBACK) | (
            (p == Provider.NONE) & h.degraded[m] & (h.outcome[m] == Outcome.OK))
        return int(np.count_nonzero(llm)), total, replicas
    return total, total, replicas


def _default_minimum(rate: float | None, seconds: float) -> int:
    offered = (rate or 0.0) * max(seconds, 0.0)
    return max(DEFAULT_FLOOR, math.ceil(DEFAULT_SHARE * offered))


def _advice(fault: FaultRecord, rule: str, counters: Mapping[str, float], knobs_hint: str,
            rate: float | None, seconds: float) -> str:
    proxies = [n.split(".")[1] for n, v in counters.items()
               if n.startswith("toxiproxy.") and v == 0]
    if proxies and any(p.startswith("redis") for p in proxies):
        return ("no byte crossed Toxiproxy proxy " + ", ".join(proxies) + ": the app reaches "
                "Redis directly unless stack.knobs 'app.redis_via_toxiproxy: true' is set"
                + knobs_hint)
    if proxies:
        return ("no traffic uses Toxiproxy proxy " + ", ".join(proxies) + ": put the toxic on "
                "a proxy the app's requests cross, or change the mix so they do")
    load = f"now {rate:.0f} req/s x {seconds:.1f} s" if rate else "no measured rate"
    if rule == "llm":
        return ("most requests were answered from the LLM cache (X-Provider cache), so few "
                "reached a provider: use a mix with fewer repeated questions (load.mix.repeat: "
                f"unique), a higher load.rate or a longer fault duration ({load})")
    return f"raise load.rate or lengthen the fault's duration ({load})"


def _latency_effect(fault: FaultRecord, probes: Mapping[str, float | None]) -> str | None:
    """A reason when a latency toxic's timed probe shows no added delay, else None."""
    if fault.name != "latency" or not probes:
        return None
    p = fault.params
    want = float(p.get("latency_ms", 0) or 0) - float(p.get("jitter_ms", 0) or 0)
    if float(p.get("toxicity", 1.0) or 0) < 0.999 or want <= 0:
        return None
    measured = [v for v in probes.values() if isinstance(v, int | float)]
    if measured and max(measured) < 0.5 * want:
        return (f"a probe through the proxy came back in {max(measured):.1f} ms, under half "
                f"the configured {want:g} ms: the toxic did not delay traffic")
    return None


def fault_exercise(fault: FaultRecord, samples: Sequence[Event], headers: RequestHeaders | None,
                   *, minimum: ExerciseMinimum | None, rate: float | None,
                   end_ns: int) -> Exercise:
    """The exercise of one fault from its ``exercise.sample`` events and the requests."""
    mine = [e for e in samples if e.kind == "exercise.sample"
            and e.get("fault_id") == fault.fault_id]
    inj = next((e for e in mine if e.get("phase") == "inject"), None)
    rev = next((e for e in reversed(mine) if e.get("phase") == "revert"), None)
    start = max(inj.t_ns, fault.inject_ns) if inj is not None else fault.inject_ns
    end = rev.t_ns if rev is not None else fault.active_end(end_ns)
    seconds = max(0.0, (end - start) / 1e9)
    first = inj if inj is not None else rev
    rule = "gated" if first is None else str(first.get("rule", "gated"))
    by_rule, total, replicas = _requests(headers, start, end, rule)
    m = minimum or ExerciseMinimum()
    if inj is None or rev is None:
        missing = "no exercise samples were recorded for this fault (a timeline from before " \
                  "exercise accounting, or the method ended before its revert)" if not mine \
            else f"only the {'revert' if inj is None else 'inject'} sample was recorded"
        return Exercise(requests=by_rule, upstream_calls=None, bytes=None, counters={},
                        minimum={"requests": m.requests, "upstream_calls": m.upstream_calls,
                                 "bytes": m.bytes}, ok=False, rule=rule, window_s=seconds,
                        detail=f"exercise not measured: {missing}", replicas=replicas,
                        advice="re-run the experiment with this harness version")
    deltas, backwards = _deltas(inj.get("counters") or {}, rev.get("counters") or {})
    wanted = [str(n) for n in (inj.get("wanted") or ())]
    errors = {**dict(inj.get("errors") or {}), **dict(rev.get("errors") or {})}
    calls = {n: v for n, v in deltas.items() if not n.endswith(".bytes")}
    byts = {n: v for n, v in deltas.items() if n.endswith(".bytes")}
    want_calls = any(not n.endswith(".bytes") for n in wanted)
    want_bytes = any(n.endswith(".bytes") for n in wanted)
    upstream = int(sum(calls.values())) if calls else None
    nbytes = int(sum(byts.values())) if byts else None
    unmeasured = wanted and not deltas
    requests = by_rule
    if nbytes == 0 or (rule == "gated" and deltas and not any(deltas.values())):
        requests = 0
    need = {"requests": m.requests if m.requests is not None else _default_minimum(rate,
                                                                                   seconds),
            "upstream_calls": m.upstream_calls if m.upstream_calls is not None else (
                1 if want_calls else None),
            "bytes": m.bytes if m.bytes is not None else (1 if want_bytes else None)}
    probes = dict(rev.get("probes") or {}) | {
        f"{k}@inject": v for k, v in (inj.get("probes") or {}).items()}
    short = []
    if requests < (need["requests"] or 0):
        short.append(f"{requests} requests < minimum {need['requests']}")
    if need["upstream_calls"] and (upstream is None or upstream < need["upstream_calls"]):
        short.append(f"{upstream if upstream is not None else 'unknown'} upstream calls < "
                     f"minimum {need['upstream_calls']}")
    if need["bytes"] and (nbytes is None or nbytes < need["bytes"]):
        short.append(f"{nbytes if nbytes is not None else 'unknown'} bytes < minimum "
                     f"{need['bytes']}")
    effect = _latency_effect(fault, {k: v for k, v in probes.items()})
    if effect:
        short.append(effect)
    parts = [f"{requests} requests", f"{upstream if upstream is not None else 'n/a'} upstream "
             f"calls"]
    if nbytes is not None:
        parts.append(f"{nbytes} bytes")
    what = f"exercised by {', '.join(parts)} in {seconds:.1f} s"
    if rule == "llm":
        what += f" ({total} requests sent, {requests} needed a provider)"
    notes = []
    if unmeasured:
        notes.append("counters could not be read: " + "; ".join(
            f"{k}: {v}" for k, v in sorted(errors.items())) if errors else "no counter moved")
    if not wanted:
        notes.append("no outside counter exists for this part: every request in the window "
                     "is counted")
    if backwards:
        notes.append(f"counters reset during the fault (left out): {', '.join(backwards)}")
    ok = not short and not unmeasured
    detail = what + ("" if ok else " -- NOT exercised: " + "; ".join(short or ["unmeasured"]))
    if notes:
        detail += " (" + "; ".join(notes) + ")"
    advice = "" if ok else _advice(fault, rule, byts, "", rate, seconds)
    if unmeasured and not short:
        advice = "the exercise counters could not be read; check the stack's observability " \
                 "endpoints (Toxiproxy -proxy-metrics, HAProxy runtime API, app /metrics)"
    return Exercise(requests=requests, upstream_calls=upstream, bytes=nbytes,
                    counters={k: round(v, 3) for k, v in sorted(deltas.items())}, minimum=need,
                    ok=ok, detail=detail, advice=advice, rule=rule, window_s=seconds,
                    probes_ms=probes, replicas=replicas)


def exercise_checks(faults: Sequence[FaultRecord],
                    exercises: Sequence[Exercise | None]) -> list[VerdictCheck]:
    """INCONCLUSIVE for every landed fault that was not exercised (an unlanded fault already
    has its own reason)."""
    out = []
    for f, ex in zip(faults, exercises, strict=True):
        if ex is None or ex.ok or not f.landed:
            continue
        out.append(VerdictCheck(verdict=Verdict.INCONCLUSIVE, reason=(
            f"fault {f.fault_id} ({f.name}) was not exercised: {ex.detail}"
            + (f"; to fix: {ex.advice}" if ex.advice else ""))))
    return out


Imp = TypeVar("Imp")  # a FaultImpact (kept generic: failover imports this module)


def fault_exercises(impacts: Sequence[Imp], timeline: Timeline, events: Sequence[Event], *,
                    minimums: Mapping[str, ExerciseMinimum], rate: float | None,
                    end_ns: int) -> tuple[tuple[Imp, ...], list[VerdictCheck]]:
    """Each impact with its ``exercise`` filled in, and the checks for the verdict."""
    if not impacts:
        return tuple(impacts), []
    samples = [e for e in events if e.kind == "exercise.sample"]
    headers = RequestHeaders.from_timeline(timeline)
    out, exercises, faults = [], [], []
    for imp in impacts:
        f: FaultRecord = imp.fault  # type: ignore[attr-defined]
        ex = fault_exercise(f, samples, headers, minimum=minimums.get(step_key(f.fault_id)),
                            rate=rate, end_ns=end_ns)
        out.append(dataclasses.replace(imp, exercise=ex))  # type: ignore[type-var]
        exercises.append(ex)
        faults.append(f)
    return tuple(out), exercise_checks(faults, exercises)
