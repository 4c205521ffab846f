"""Heal everything, and remember faults left injected by ``chaos-harness fault inject``.

:func:`heal_all` is the one way to heal a stack: the experiment runner (in its ``finally``),
``chaos-harness heal``, the game day (between experiments and in the random search) and the test
fixtures all call it. In order it reverts every fault this process still holds and every fault
recorded in the stack's state dir by the CLI, lets the substrate undo what only it knows
(``Stack.undo_substrate_faults``: links down, iptables rules, paused and stopped processes,
drained HAProxy servers), resets Toxiproxy (``POST /reset``; on a Toxiproxy the harness does not
own, only its ``chaos-*`` toxics are removed), clears the provider simulators, then rejoins Redis
replicas; with a timeline it records one ``heal`` event. It never raises for a single failure:
a step that fails is reported in the returned list and in the event's ``failed``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.faults.base import FaultHandle, Injection, active_handles
from harness.faults.registry import build_fault
from harness.faults.restore import rejoin_redis
from harness.stack.base import Killable, ProviderControl, Proxied, Stack
from harness.stack.heal import heal_providers, heal_toxiproxy, remove_our_toxics
from harness.timeline import Timeline
from harness.topology import Kind

__all__ = ["forget_record", "heal_all", "load_records", "record_path", "revert_record",
           "save_record"]

_DIR = "faults"


def record_path(stack: Stack, fault_id: str) -> Path:
    return Path(stack.state_dir) / _DIR / f"{fault_id}.json"


def save_record(stack: Stack, handle: FaultHandle) -> Path:
    """Persist an injected fault so another process (``chaos-harness heal``) can revert it."""
    path = record_path(stack, handle.fault_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = {**handle.to_json(), "injection": handle.injection.to_json(),
           "saved_at_unix": time.time()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec, indent=2, default=str))
    tmp.replace(path)
    return path


def load_records(stack: Stack) -> list[dict[str, Any]]:
    """Faults recorded as injected in the stack's state dir, oldest first."""
    folder = Path(stack.state_dir) / _DIR
    if not folder.is_dir():
        return []
    recs = []
    for p in sorted(folder.glob("*.json")):
        try:
            recs.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    return sorted(recs, key=lambda r: r.get("saved_at_unix", 0))


def forget_record(stack: Stack, fault_id: str) -> None:
    record_path(stack, fault_id).unlink(missing_ok=True)


def revert_record(stack: Stack, timeline: Timeline, rec: dict[str, Any]) -> FaultHandle:
    """Revert a recorded fault (events go to ``timeline``) and forget it."""
    fault = build_fault(rec["name"], target=rec.get("target"), params=rec.get("params"),
                        field=f"record {rec.get('id')}")
    handle = FaultHandle(fault, stack, timeline, rec["id"],
                         Injection.from_json(rec.get("injection", {})))
    handle.landed = bool(rec.get("landed"))
    handle.detail = str(rec.get("verification", ""))
    try:
        handle.revert()
    finally:
        forget_record(stack, rec["id"])
    return handle


def _attempt(what: list[str], label: str, fn: Any, failed: list[str] | None = None) -> None:
    try:
        result = fn()
    except (HarnessError, OSError) as exc:
        what.append(f"{label} failed: {exc}")
        if failed is not None:
            failed.append(f"{label} failed: {exc}")
        return
    if isinstance(result, list):
        what.extend(result)
    elif result:
        what.append(str(result))


def heal_all(stack: Stack, timeline: Timeline | None = None) -> list[str]:
    """Undo every fault of ours; returns what was done. Never raises for a single failure."""
    what: list[str] = []
    failed: list[str] = []  # reaches the verdict through the ``heal`` event (analysis.health)
    tl = timeline if timeline is not None else Timeline()
    for handle in active_handles():
        _attempt(what, f"revert {handle.fault_id}",
                 lambda h=handle: f"reverted {h.fault.name} {h.fault_id}: {h.revert().detail}",
                 failed)
    for rec in load_records(stack):
        _attempt(what, f"revert recorded {rec.get('id')}",
                 lambda r=rec: f"reverted recorded {r['name']} {r['id']}: "
                               f"{revert_record(stack, tl, r).recover_detail}", failed)
    # the substrate first: it restarts what is down, Toxiproxy and the simulators included
    _attempt(what, "substrate heal", stack.undo_substrate_faults, failed)
    if isinstance(stack, Proxied):
        if getattr(stack, "owns_toxiproxy", True):
            # resets only when a toxic or a disabled proxy is left, so the report never claims
            # a needless heal; waits a moment for a Toxiproxy the substrate just restarted
            _attempt(what, "toxiproxy reset", lambda: heal_toxiproxy(stack.toxiproxy_url),
                     failed)
        else:
            _attempt(what, "toxiproxy cleanup",
                     lambda: remove_our_toxics(stack.toxiproxy_url), failed)
    if isinstance(stack, ProviderControl):
        _attempt(what, "provider clear", lambda: heal_providers(stack), failed)
    if isinstance(stack, Killable):
        redis = [s.name for s in stack.topology.of_kind(Kind.REDIS)]
        _attempt(what, "redis rejoin", lambda: rejoin_redis(stack, redis, timeout=5.0), failed)
    failed.extend(w for w in what if "does not answer" in w and w not in failed)
    if timeline is not None:
        timeline.add_event("heal", "fault", what=what, failed=failed)
    return what
