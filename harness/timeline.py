"""One append-only record of everything in a run, on one clock (``time.monotonic_ns()``).

Three writers, one history (the Jepsen shape):

* the load generator appends a :class:`RequestRecord` per request (stored column-wise, so a
  million requests cost ~35 MB in memory and a few MB on disk);
* the fault injector appends ``fault.*`` events;
* the observers append ``obs.*`` events.

Analysis reads a Timeline and nothing else. ``save``/``load`` round-trip it exactly so any run
can be re-analysed later (``chaos-harness recheck``). Standard library only.

Event kinds and their attributes are listed in :data:`EVENT_KINDS`; observers use the generic
``obs.state`` shape (``subject``, ``state``, ``healthy``) so analysis can find detection and
recovery without knowing each observer.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
import zipfile
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

__all__ = [
    "EVENT_KINDS",
    "FORMAT_VERSION",
    "Event",
    "Outcome",
    "Provider",
    "RequestColumns",
    "RequestRecord",
    "Timeline",
]

FORMAT_VERSION = 1


class Outcome(IntEnum):
    OK = 0  # a response arrived (any HTTP status; 5xx is judged by status)
    ERROR = 1  # connection refused/reset, protocol error, or an HTTP 5xx/4xx
    TIMEOUT = 2  # the client gave up waiting
    DROPPED = 3  # never sent: the generator could not send it (e.g. out of connections)


class Provider(IntEnum):
    NONE = 0  # no LLM answered (degraded answer from passages, or an error)
    PRIMARY = 1
    FALLBACK = 2
    CACHE = 3


#: Event kinds, their writers, and their attributes (documentation and a check in tests).
EVENT_KINDS: Mapping[str, str] = {
    "run.start": "runner: experiment, seed, trial",
    "run.end": "runner: reason ('completed' | 'stop-condition' | 'interrupted' | 'error')",
    "phase": "runner: name ('warmup' | 'steady' | 'method' | 'recovery' | 'done'), trial",
    "fault.inject": "fault: fault_id, name, family, target, params, services",
    "fault.verified": "fault: fault_id, ok (bool), detail -- checked from outside after inject",
    "fault.revert": "fault: fault_id",
    "fault.reverted": "fault: fault_id, ok (bool), detail -- checked from outside after revert",
    "heal": "runner/faults: what (list of str), failed (list of str: the steps that failed) "
            "-- global heal-everything",
    "exercise.sample": "runner: fault_id, phase ('inject' | 'revert'), counters (name -> "
                       "cumulative value read from outside the app), rule ('llm' | 'gated'), "
                       "wanted (counter names), errors (name -> why unreadable), probes "
                       "(proxy -> probe round trip ms, revert only) -- right before "
                       "the injection and right before the revert",
    "obs.state": "observer: subject, state, healthy (bool), detail, signal ('stack' | 'probe') "
                 "-- a state change",
    "obs.event": "observer: subject, event, detail -- a point event (e.g. +switch-master)",
    "load.start": "generator: generator, rate, arrivals, target (locust also: users, workers, "
                  "remote_workers)",
    "load.mix": "runner: repeat, target (cache-hit share the mix is built for, or null), nonce, "
                "questions -- what the load asks",
    "load.stop": "generator: sent, dropped, fell_behind (bool), lateness_p99_ms, max_lateness_ms",
    "steady_state": "runner: phase ('before' | 'after'), ok (bool), detail, window_s -- "
                    "steady-state check before the method and again after recovery",
    "stop_condition": "runner: condition, bad_fraction, window_s -- the run was aborted",
    "harness.error": "any: error, detail -- the harness itself failed (verdict INCONCLUSIVE)",
    "note": "any: text (runner: also fault_id, transition ('inject' | 'revert'), planned_s, "
            "late_s, reason -- a fault's transition started late)",
    "writes.start": "writer: rate, target, delete_share, seed -- the writer share started",
    "writes.op": "writer: write_id, op ('upsert' | 'delete'), doc_id, sent_ns, status, acked "
                 "(list of stores from X-Write-Acked; empty = not acknowledged), error, replica "
                 "-- one per write, when its response or failure arrived",
    "writes.stop": "writer: sent, acknowledged, failed",
    "writes.readback": "readback: store ('redis' | 'qdrant'), ok (bool), detail, docs (doc id -> "
                       "write id held, or null), counts (write id -> copies held) -- after heal",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    intended_ns: int  # when the request was due to be sent (open-loop schedule)
    start_ns: int  # when it was actually sent
    end_ns: int  # when the response (or the error) arrived
    outcome: Outcome
    status: int = 0  # HTTP status, 0 if none
    error: str = ""  # error class, "" if none
    replica: str = ""  # X-Replica header
    degraded: bool = False  # X-Degraded header
    provider: Provider = Provider.NONE  # X-Provider header


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    t_ns: int
    kind: str
    source: str
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def to_json(self) -> dict[str, Any]:
        return {"t_ns": self.t_ns, "kind": self.kind, "source": self.source,
                "attrs": dict(self.attrs)}


# column name -> array typecode
_COLUMNS: dict[str, str] = {
    "intended_ns": "q",
    "start_ns": "q",
    "end_ns": "q",
    "outcome": "B",
    "status": "H",
    "degraded": "B",
    "provider": "B",
    "replica": "H",  # index into strings
    "error": "H",  # index into strings
}


# buffer formats whose bytes can be copied as-is into an array of the given typecode
_SAME_LAYOUT: dict[str, frozenset[str]] = {
    "q": frozenset({"q", "l"}), "B": frozenset({"B", "?"}), "H": frozenset({"H"})}


def _as_array(typecode: str, values: Any) -> array:
    """``array(typecode, values)``, copying the bytes directly when ``values`` is a contiguous
    buffer of the same layout (e.g. an ``array`` or a numpy column), else element by element."""
    out = array(typecode)
    try:
        view = memoryview(values)
    except TypeError:
        view = None
    if (view is not None and view.ndim == 1 and view.c_contiguous
            and view.format in _SAME_LAYOUT[typecode] and view.itemsize == out.itemsize):
        out.frombytes(view.cast("B"))
        return out
    out.extend(values)
    return out


@dataclass(frozen=True, slots=True)
class RequestColumns:
    """A read-only, column-wise view of the requests (``array.array`` per column).

    ``replica`` and ``error`` hold indexes into ``strings``. Convert to numpy with
    ``numpy.frombuffer(cols.intended_ns, dtype=numpy.int64)``.
    """

    intended_ns: array
    start_ns: array
    end_ns: array
    outcome: array
    status: array
    degraded: array
    provider: array
    replica: array
    error: array
    strings: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.intended_ns)

    def record(self, i: int) -> RequestRecord:
        return RequestRecord(
            intended_ns=self.intended_ns[i], start_ns=self.start_ns[i], end_ns=self.end_ns[i],
            outcome=Outcome(self.outcome[i]), status=self.status[i],
            error=self.strings[self.error[i]], replica=self.strings[self.replica[i]],
            degraded=bool(self.degraded[i]), provider=Provider(self.provider[i]),
        )

    def __iter__(self) -> Iterator[RequestRecord]:
        return (self.record(i) for i in range(len(self)))


class Timeline:
    """Append-only, thread-safe record of one run. See the module docstring."""

    def __init__(self, meta: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._cols: dict[str, array] = {k: array(t) for k, t in _COLUMNS.items()}
        self._strings: list[str] = [""]
        self._string_ix: dict[str, int] = {"": 0}
        self._events: list[Event] = []
        self.meta: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "clock": "monotonic_ns",
            # anchor to convert monotonic times to wall-clock times in reports
            "anchor_monotonic_ns": time.monotonic_ns(),
            "anchor_unix_ns": time.time_ns(),
        }
        if meta:
            self.meta.update(meta)

    # -- writing ----------------------------------------------------------------------------
    def _intern(self, s: str) -> int:
        ix = self._string_ix.get(s)
        if ix is None:
            ix = len(self._strings)
            if ix > 0xFFFF:
                ix = self._string_ix.setdefault("<other>", ix)
                if ix > 0xFFFF:
                    raise OverflowError("more than 65535 distinct replica/error strings")
                self._strings.append("<other>")
                return ix
            self._strings.append(s)
            self._string_ix[s] = ix
        return ix

    def add_request(self, r: RequestRecord) -> None:
        with self._lock:
            c = self._cols
            c["intended_ns"].append(r.intended_ns)
            c["start_ns"].append(r.start_ns)
            c["end_ns"].append(r.end_ns)
            c["outcome"].append(int(r.outcome))
            c["status"].append(r.status)
            c["degraded"].append(1 if r.degraded else 0)
            c["provider"].append(int(r.provider))
            c["replica"].append(self._intern(r.replica))
            c["error"].append(self._intern(r.error))

    def add_requests(self, records: Iterable[RequestRecord]) -> None:
        for r in records:
            self.add_request(r)

    def add_request_columns(
        self,
        *,
        intended_ns: Collection[int],
        start_ns: Collection[int],
        end_ns: Collection[int],
        outcome: Collection[int],
        status: Collection[int] | None = None,
        degraded: Collection[int] | None = None,
        provider: Collection[int] | None = None,
        replica: Collection[str] | None = None,
        error: Collection[str] | None = None,
    ) -> int:
        """Append many requests at once, column-wise (all the same length; omitted columns are
        0 / ""). Much faster than :meth:`add_request` per record (merging, synthetic runs).
        Returns the number appended."""
        n = len(intended_ns)
        given = {"intended_ns": intended_ns, "start_ns": start_ns, "end_ns": end_ns,
                 "outcome": outcome, "status": status, "degraded": degraded,
                 "provider": provider, "replica": replica, "error": error}
        for name, col in given.items():
            if col is not None and len(col) != n:
                raise ValueError(f"column {name!r} has {len(col)} values, expected {n} "
                                 f"(the length of intended_ns)")
        texts = {"replica": replica, "error": error}
        with self._lock:
            new = {}
            for name in ("intended_ns", "start_ns", "end_ns", "outcome", "status", "degraded",
                         "provider"):
                col = given[name]
                tc = _COLUMNS[name]
                new[name] = _as_array(tc, col) if col is not None else array(tc, [0]) * n
            for name, strs in texts.items():
                new[name] = array("H", [0]) * n if strs is None else \
                    array("H", [self._intern(x) for x in strs])
            for name, col in new.items():
                self._cols[name].extend(col)
        return n

    def add_event(self, kind: str, source: str, t_ns: int | None = None, **attrs: Any) -> Event:
        ev = Event(t_ns=time.monotonic_ns() if t_ns is None else t_ns, kind=kind, source=source,
                   attrs=attrs)
        with self._lock:
            self._events.append(ev)
        return ev

    # -- reading ----------------------------------------------------------------------------
    @property
    def requests(self) -> RequestColumns:
        """A snapshot of the requests so far (copies; cheap relative to analysis)."""
        with self._lock:
            cols = {k: array(v.typecode, v) for k, v in self._cols.items()}
            strings = tuple(self._strings)
        return RequestColumns(strings=strings, **cols)

    @property
    def events(self) -> tuple[Event, ...]:
        """Events sorted by time (stable for equal times)."""
        with self._lock:
            evs = list(self._events)
        return tuple(sorted(evs, key=lambda e: e.t_ns))

    def events_of(self, prefix: str) -> tuple[Event, ...]:
        return tuple(e for e in self.events if e.kind == prefix or e.kind.startswith(prefix + "."))

    def __len__(self) -> int:
        return len(self._cols["intended_ns"])

    def merge(self, other: Timeline) -> None:
        """Append everything from another timeline on the same clock (e.g. a Locust worker)."""
        reqs = other.requests
        self.add_request_columns(
            intended_ns=reqs.intended_ns, start_ns=reqs.start_ns, end_ns=reqs.end_ns,
            outcome=reqs.outcome, status=reqs.status, degraded=reqs.degraded,
            provider=reqs.provider, replica=[reqs.strings[i] for i in reqs.replica],
            error=[reqs.strings[i] for i in reqs.error])
        with self._lock:
            self._events.extend(other.events)

    # -- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write to ``path`` (a ``.zip`` file: meta.json, events.jsonl, strings.json, columns)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        reqs = self.requests
        tmp = path.with_suffix(path.suffix + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            meta = dict(self.meta, n_requests=len(reqs), byteorder=sys.byteorder)
            z.writestr("meta.json", json.dumps(meta, indent=2, sort_keys=True, default=str))
            z.writestr("strings.json", json.dumps(list(reqs.strings)))
            buf = io.StringIO()
            for e in self.events:
                buf.write(json.dumps(e.to_json(), default=str, separators=(",", ":")))
                buf.write("\n")
            z.writestr("events.jsonl", buf.getvalue())
            for name in _COLUMNS:
                z.writestr(f"requests/{name}.bin", getattr(reqs, name).tobytes())
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Timeline:
        path = Path(path)
        if path.is_dir():
            path = path / "timeline.zip"
        with zipfile.ZipFile(path) as z:
            meta = json.loads(z.read("meta.json"))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(
                    f"{path}: timeline format {meta.get('format')!r}, this harness reads "
                    f"{FORMAT_VERSION}")
            tl = cls()
            tl.meta = {k: v for k, v in meta.items() if k not in ("n_requests", "byteorder")}
            strings = json.loads(z.read("strings.json"))
            tl._strings = list(strings)
            tl._string_ix = {s: i for i, s in enumerate(strings)}
            swap = meta.get("byteorder", sys.byteorder) != sys.byteorder
            for name, tc in _COLUMNS.items():
                col = array(tc)
                col.frombytes(z.read(f"requests/{name}.bin"))
                if swap:
                    col.byteswap()
                tl._cols[name] = col
            for line in z.read("events.jsonl").decode().splitlines():
                if line:
                    d = json.loads(line)
                    tl._events.append(Event(t_ns=d["t_ns"], kind=d["kind"], source=d["source"],
                                            attrs=d.get("attrs", {})))
        return tl
