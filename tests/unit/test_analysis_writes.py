"""Acknowledged-write checks (pure): per-fault counts, supersession, duplicates, verdict rules,
and the section in every report format."""

from __future__ import annotations

from typing import Any

import pytest

from harness.analysis.writes import attach_writes, check_writes
from harness.experiment import Experiment, LoadSpec, WritesSpec
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.timeline import EVENT_KINDS, Timeline

S = 10**9


def _run(*, redis_docs: dict[int, str | None], qdrant_ok: bool = True,
         log: dict[str, int] | None = None, fault: str = "redis-master-isolation",
         services: tuple[str, ...] = ("redis-az-a",)) -> Timeline:
    """Fault active 10-20 s. Writes: w1 (5 s, before), w2/w3 upserts and w4 deleting w1's doc
    during the fault, w5 upsert not acknowledged, w6 upsert acknowledged by Qdrant only."""
    tl = Timeline()
    ev = tl.add_event
    ev("fault.inject", "fault", t_ns=10 * S, fault_id="t1-f0-x", name=fault, family="zone",
       target=None, params={}, services=list(services))
    ev("fault.verified", "fault", t_ns=10 * S + 1, fault_id="t1-f0-x", ok=True, detail="")
    ev("fault.revert", "fault", t_ns=20 * S, fault_id="t1-f0-x")
    both = ["qdrant", "redis"]
    for wid, op, doc, t, acked in (("w1", "upsert", 1, 5, both), ("w2", "upsert", 2, 11, both),
                                   ("w3", "upsert", 3, 12, both), ("w4", "delete", 1, 13, both),
                                   ("w5", "upsert", 5, 14, []), ("w6", "upsert", 6, 15,
                                                                 ["qdrant"])):
        ev("writes.op", "writer", t_ns=t * S + 10**7, write_id=wid, op=op, doc_id=doc,
           sent_ns=t * S, status=200 if acked else 503, acked=acked, error="", replica="a")
    ev("writes.readback", "readback", t_ns=40 * S, store="redis", ok=True, detail="m",
       docs=redis_docs, counts=log or {"w1": 1, "w2": 1, "w3": 1, "w4": 1})
    qdocs = {1: None, 2: "w2", 3: "w3", 5: None, 6: "w6"}
    ev("writes.readback", "readback", t_ns=40 * S, store="qdrant", ok=qdrant_ok,
       detail="" if qdrant_ok else "embedded vector tier", docs=qdocs if qdrant_ok else {},
       counts={"w2": 1, "w3": 2, "w6": 1} if qdrant_ok else {})
    return tl


def test_kinds_are_documented() -> None:
    assert {"writes.start", "writes.op", "writes.stop", "writes.readback"} <= set(EVENT_KINDS)


def test_lost_and_readable_per_fault_on_the_faults_store() -> None:
    # Redis after a split brain: w3's document lost, w4's delete undone (doc 1 back with w1)
    tl = _run(redis_docs={1: "w1", 2: "w2", 3: None, 5: None, 6: None})
    rep = check_writes(tl.events)
    assert rep is not None and rep.sent == 6
    c = rep.per_fault["t1-f0-x"]
    assert c.store == "redis" and c.checked
    # acknowledged by Redis during the fault: w2, w3, w4 (w5 failed, w6 Qdrant only)
    assert (c.acknowledged, c.readable_after_heal, c.lost, c.duplicates) == (3, 1, 2, 0)
    # w1 was superseded by the delete that was attempted later: never blamed
    total = rep.totals["redis"]
    assert (total.acknowledged, total.lost) == (4, 2)
    q = rep.totals["qdrant"]
    assert (q.acknowledged, q.readable_after_heal, q.lost, q.duplicates) == (5, 5, 0, 1)


def test_duplicates_count_writes_held_twice() -> None:
    tl = _run(redis_docs={1: None, 2: "w2", 3: "w3"}, log={"w2": 2, "w3": 1, "w4": 3})
    c = check_writes(tl.events).per_fault["t1-f0-x"]  # type: ignore[union-attr]
    assert (c.lost, c.duplicates) == (0, 2)


def test_zone_fault_uses_qdrant_when_it_was_read_back_else_redis() -> None:
    docs = {1: None, 2: "w2", 3: "w3"}
    rep = check_writes(_run(redis_docs=docs, fault="zone-isolation", services=()).events)
    assert rep is not None and rep.per_fault["t1-f0-x"].store == "qdrant"
    rep = check_writes(_run(redis_docs=docs, fault="zone-isolation", services=(),
                            qdrant_ok=False).events)
    assert rep is not None and rep.per_fault["t1-f0-x"].store == "redis"
    assert rep.totals["qdrant"].checked is False
    assert "embedded" in rep.totals["qdrant"].detail


def test_no_writes_no_report() -> None:
    assert check_writes(Timeline().events) is None


def _report(verdict: str = "PASS") -> dict[str, Any]:
    fault = {"id": "t1-f0-x", "name": "redis-master-isolation"}
    return {"verdict": verdict, "verdict_reasons": ["slo ok"], "faults": [dict(fault)],
            "trials": [{"faults": [dict(fault)]}]}


@pytest.mark.parametrize(("docs", "require", "verdict"), [
    ({1: None, 2: "w2", 3: "w3"}, True, "PASS"),
    ({1: "w1", 2: "w2", 3: None}, True, "FAIL"),
    ({1: "w1", 2: "w2", 3: None}, False, "PASS"),
])
def test_require_no_loss_decides_the_verdict(docs: dict[int, str | None], require: bool,
                                              verdict: str) -> None:
    rep = _report()
    attach_writes(rep, check_writes(_run(redis_docs=docs).events, require_no_loss=require))
    assert rep["verdict"] == verdict
    assert rep["faults"][0]["writes"]["store"] == "redis"
    assert rep["trials"][0]["faults"][0]["writes"] == rep["faults"][0]["writes"]
    if verdict == "FAIL":  # the PASS reasons of the SLO are dropped, as combine_checks does
        assert len(rep["verdict_reasons"]) == 1 and "2 of 3 lost" in rep["verdict_reasons"][0]


def test_unread_store_or_no_acknowledged_write_is_inconclusive() -> None:
    tl = _run(redis_docs={}, fault="qdrant-node-loss", services=("qdrant-az-b",),
              qdrant_ok=False)
    rep = _report()
    attach_writes(rep, check_writes(tl.events, require_no_loss=True))
    assert rep["verdict"] == "INCONCLUSIVE" and "not read back" in rep["verdict_reasons"][0]
    tl = Timeline()
    tl.add_event("fault.inject", "fault", t_ns=100 * S, fault_id="t1-f0-x", name="kill",
                 family="process", target=None, params={}, services=["redis-az-a"])
    tl.add_event("writes.op", "writer", t_ns=S, write_id="w1", op="upsert", doc_id=1,
                 sent_ns=S, status=200, acked=["qdrant", "redis"], error="", replica="a")
    tl.add_event("writes.readback", "readback", t_ns=200 * S, store="redis", ok=True,
                 detail="", docs={1: "w1"}, counts={"w1": 1})
    rep = _report()
    attach_writes(rep, check_writes(tl.events, require_no_loss=True))
    assert rep["verdict"] == "INCONCLUSIVE" and "raise load.writes.rate" in \
        rep["verdict_reasons"][0]


def test_fail_is_never_hidden_by_a_pass_and_inconclusive_stays() -> None:
    rep = _report("INCONCLUSIVE")
    attach_writes(rep, check_writes(_run(redis_docs={1: None, 2: "w2", 3: "w3"}).events,
                                    require_no_loss=True))
    assert rep["verdict"] == "INCONCLUSIVE"


def test_section_in_markdown_and_html() -> None:
    rep = _report()
    attach_writes(rep, check_writes(_run(redis_docs={1: "w1", 2: "w2", 3: None}).events))
    from harness.report.writes import writes_html, writes_markdown

    md = "\n".join(writes_markdown(rep))
    assert "## Acknowledged writes" in md and "| t1-f0-x | redis | 3 | 1 | 2 | 0 | yes |" in md
    html = writes_html(rep)
    assert "<h2>Acknowledged writes</h2>" in html and "<td>t1-f0-x</td><td>redis</td>" in html
    assert writes_markdown({"writes": None}) == [] and writes_html({}) == ""
    assert callable(render_markdown) and callable(render_html)


def test_model_field_validates() -> None:
    exp = Experiment(name="w", hypothesis="h",
                     load=LoadSpec(writes=WritesSpec(rate=20, require_no_loss=True)))
    assert exp.load.writes is not None and exp.load.writes.delete_share == 0.2
    with pytest.raises(ValueError, match="delete_share"):
        WritesSpec(rate=1, delete_share=0.95)
