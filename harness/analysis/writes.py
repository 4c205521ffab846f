"""Acknowledged-write checks, Jepsen style (pure: timeline events in, counts out).

Inputs, all from the timeline (``harness/timeline.py`` EVENT_KINDS):

* ``writes.op``: one per write the writer sent (``write_id``, ``op`` 'upsert'|'delete',
  ``doc_id``, ``sent_ns``, ``acked``: the stores that acknowledged it, from the service's
  ``X-Write-Acked`` header; empty when the write failed or timed out);
* ``writes.readback``: one per store, written by the harness after the heal and the stack's
  readiness (``store``, ``ok``, ``detail``, ``docs``: doc id -> the write id the store holds for
  it, or None when absent; ``counts``: write id -> how many copies the store holds).

Per store (``qdrant``: the ingested points; ``redis``: the document registry ``rag:doc:<id>``
and the ingest log), for the writes that store **acknowledged**:

* **readable_after_heal**: an upsert whose document still carries its write id, or that a later
  delete of the same document superseded (attempted, acknowledged or not: its effect is
  indeterminate, so the upsert is never blamed); a delete whose document is absent;
* **lost**: the others (an upsert whose document is absent or holds an older write; a delete
  whose document is back);
* **duplicates**: acknowledged writes the store holds more than once (Qdrant: the write id on
  more than one point; Redis: the write id more than once in the ingest log -- a re-sent
  non-idempotent write, e.g. a proxy retry).

A write belongs to every fault whose span ``[inject, settled end + grace)`` holds its send time
(settled end: the revert confirmed, :meth:`FaultRecord.settled_end`).
A fault's **store** is ``redis`` when the fault names Redis or Sentinel (its name, target or
services), ``qdrant`` when it names Qdrant, and otherwise (zone, app, provider faults) ``qdrant``
when the Qdrant store was read back, else ``redis``.

``require_no_loss`` (the experiment's ``load.writes.require_no_loss``): any fault with
``lost > 0`` is a FAIL; a fault whose store could not be read back, or that acknowledged no
write while it was active, is INCONCLUSIVE (nothing was tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.analysis.impact import FaultRecord, parse_faults
from harness.analysis.verdict import Verdict, VerdictCheck, combine
from harness.timeline import Event

__all__ = ["STORES", "StoreReadback", "WriteCheck", "WriteOp", "WritesReport", "attach_writes",
           "check_writes"]

STORES = ("qdrant", "redis")


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteOp:
    write_id: str
    op: str  # "upsert" | "delete"
    doc_id: int
    sent_ns: int
    acked: frozenset[str]

    @classmethod
    def from_event(cls, e: Event) -> WriteOp:
        return cls(write_id=str(e.get("write_id", "")), op=str(e.get("op", "upsert")),
                   doc_id=int(e.get("doc_id", -1)), sent_ns=int(e.get("sent_ns", e.t_ns)),
                   acked=frozenset(str(s) for s in e.get("acked") or ()))


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreReadback:
    store: str
    ok: bool
    detail: str
    docs: Mapping[int, str | None] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_event(cls, e: Event) -> StoreReadback:
        docs = {int(k): (None if v is None else str(v)) for k, v in
                dict(e.get("docs") or {}).items()}
        counts = {str(k): int(v) for k, v in dict(e.get("counts") or {}).items()}
        return cls(store=str(e.get("store", "")), ok=bool(e.get("ok", False)),
                   detail=str(e.get("detail", "")), docs=docs, counts=counts)


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteCheck:
    store: str
    acknowledged: int
    readable_after_heal: int
    lost: int
    duplicates: int
    checked: bool  # False: the store was not read back (see detail); counts are 0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"acknowledged": self.acknowledged, "readable_after_heal": self.readable_after_heal,
                "lost": self.lost, "duplicates": self.duplicates, "store": self.store,
                "checked": self.checked, "detail": self.detail}


@dataclass(frozen=True, slots=True, kw_only=True)
class WritesReport:
    sent: int
    per_fault: Mapping[str, WriteCheck]  # fault_id -> the check for the fault's store
    totals: Mapping[str, WriteCheck]  # store -> every write of the run
    require_no_loss: bool
    checks: tuple[VerdictCheck, ...]

    def to_json(self) -> dict[str, Any]:
        return {"sent": self.sent, "require_no_loss": self.require_no_loss,
                "stores": {s: c.to_json() for s, c in self.totals.items()},
                "reasons": [c.reason for c in self.checks]}


def _fault_store(f: FaultRecord, readable: Mapping[str, bool]) -> str:
    words = " ".join([f.name, f.target or "", *f.services]).lower()
    if "redis" in words or "sentinel" in words:
        return "redis"
    if "qdrant" in words:
        return "qdrant"
    return "qdrant" if readable.get("qdrant") else "redis"


def _judge(ops: Sequence[WriteOp], all_ops: Sequence[WriteOp], rb: StoreReadback | None,
           store: str) -> WriteCheck:
    acked = [o for o in ops if store in o.acked]
    if rb is None or not rb.ok:
        why = rb.detail if rb is not None else "no readback was recorded for this store"
        return WriteCheck(store=store, acknowledged=len(acked), readable_after_heal=0, lost=0,
                          duplicates=0, checked=False, detail=why)
    readable = lost = dups = 0
    for o in acked:
        held = rb.docs.get(o.doc_id)
        if o.op == "delete":
            ok = held is None
        else:
            later_delete = any(x.op == "delete" and x.doc_id == o.doc_id
                               and x.sent_ns > o.sent_ns for x in all_ops)
            ok = held == o.write_id or later_delete
        readable += ok
        lost += not ok
        dups += rb.counts.get(o.write_id, 0) > 1
    return WriteCheck(store=store, acknowledged=len(acked), readable_after_heal=readable,
                      lost=lost, duplicates=dups, checked=True,
                      detail=f"read back {len(rb.docs)} documents")


def check_writes(events: Iterable[Event], *, grace_ns: int = 5_000_000_000,
                 require_no_loss: bool = False) -> WritesReport | None:
    """The acknowledged-write checks of a run; None when the run sent no write."""
    events = list(events)
    ops = [WriteOp.from_event(e) for e in events if e.kind == "writes.op"]
    if not ops:
        return None
    readbacks = {rb.store: rb for rb in (StoreReadback.from_event(e) for e in events
                                         if e.kind == "writes.readback")}
    totals = {s: _judge(ops, ops, readbacks.get(s), s) for s in STORES}
    readable = {s: c.checked for s, c in totals.items()}
    end = max(e.t_ns for e in events) if events else 0
    per_fault: dict[str, WriteCheck] = {}
    checks: list[VerdictCheck] = []
    for f in parse_faults(events):
        lo, hi = f.inject_ns, f.settled_end(end) + grace_ns
        mine = [o for o in ops if lo <= o.sent_ns < hi]
        store = _fault_store(f, readable)
        c = per_fault[f.fault_id] = _judge(mine, ops, readbacks.get(store), store)
        if require_no_loss:
            checks.append(_check(f.fault_id, c))
    return WritesReport(sent=len(ops), per_fault=per_fault, totals=totals,
                        require_no_loss=require_no_loss, checks=tuple(checks))


def _check(fault_id: str, c: WriteCheck) -> VerdictCheck:
    head = f"acknowledged writes during {fault_id} ({c.store})"
    if not c.checked:
        return VerdictCheck(verdict=Verdict.INCONCLUSIVE,
                            reason=f"{head}: not read back ({c.detail}); lost == 0 is required")
    if c.lost:
        return VerdictCheck(verdict=Verdict.FAIL,
                            reason=f"{head}: {c.lost} of {c.acknowledged} lost after heal "
                                   "(lost == 0 is required)")
    if not c.acknowledged:
        return VerdictCheck(verdict=Verdict.INCONCLUSIVE,
                            reason=f"{head}: none was acknowledged while the fault was active, so "
                                   "nothing was tested; raise load.writes.rate")
    return VerdictCheck(verdict=Verdict.PASS,
                        reason=f"{head}: {c.acknowledged} acknowledged, 0 lost, "
                               f"{c.duplicates} duplicated")


def attach_writes(rep: dict[str, Any], writes: WritesReport | None) -> None:
    """Add the checks to a report.json dict in place: ``faults[i]["writes"]`` (also inside
    ``trials[j]["faults"]``), the run-level ``"writes"`` key, and -- when ``require_no_loss`` --
    the verdict (FAIL beats INCONCLUSIVE beats PASS) and its reasons."""
    rep["writes"] = None if writes is None else writes.to_json()
    if writes is None:
        return
    for fault in [*rep.get("faults", []),
                  *(f for t in rep.get("trials", []) for f in t.get("faults", []))]:
        c = writes.per_fault.get(str(fault.get("id")))
        fault["writes"] = None if c is None else c.to_json()
    if not writes.checks:
        return
    worst = combine(c.verdict for c in writes.checks)
    before = Verdict(rep["verdict"])
    after = combine([before, worst])
    rep["verdict"] = after.value
    bad = [c.reason for c in writes.checks if c.verdict is not Verdict.PASS]
    if after is Verdict.PASS:
        rep["verdict_reasons"] = [*rep["verdict_reasons"], *(c.reason for c in writes.checks)]
    elif before is Verdict.PASS:  # every earlier reason was a PASS one: keep only what failed
        rep["verdict_reasons"] = bad
    elif bad:
        rep["verdict_reasons"] = [*bad, *rep["verdict_reasons"]] if worst is after else \
            [*rep["verdict_reasons"], *bad]
