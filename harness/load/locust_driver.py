"""Drive Locust headless in subprocesses and merge every request it made into the timeline.

Locust patches its whole process with gevent, so it never runs in the harness's process. The
driver starts ``python -m locust`` with :mod:`harness.load.locustfile` (one process, or a master
and ``workers`` worker processes on 127.0.0.1), each process writing its requests to a file on
the shared ``monotonic_ns`` clock, and merges the files after the run. Same report as the
open-loop generator (:class:`~harness.load.report.GeneratorReport`, ``kind="locust"``).

``rate`` paces each user on its own seeded schedule (``rate / users`` req/s each); with
``rate=None`` users send back to back (Locust's closed loop, for "how fast can Locust go").
Closed-loop users cannot keep an open-loop schedule through a stall; the report's lateness
shows it, and ``fell_behind`` flags it: use :class:`~harness.load.OpenLoopGenerator` for
measurements under faults, Locust for its user model or its distributed mode.

Workers on other hosts: ``remote_workers=N`` makes the master listen on ``master_bind`` /
``master_port`` and wait for N workers started with ``chaos-harness locust-worker --master
HOST:PORT``. Their records travel to the master with Locust's own reports and are shifted onto
this host's clock (:mod:`harness.load.locust_remote` documents the offset estimate).

Throughput (``tests/benchmarks/bench_load.py``, same machine and load as the open-loop
figures): Locust ``FastHttpUser`` with 20 closed-loop users recording every request reached
700-990 req/s in one process and 970-1,300 req/s as master + 2 workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.errors import ConfigError, HarnessError
from harness.load.http import HttpTarget
from harness.load.mix import RequestMix
from harness.load.report import (
    LATENESS_MAX_BOUND_MS,
    LATENESS_P99_BOUND_MS,
    GeneratorReport,
    LiveStats,
    fell_behind,
    percentile_ms,
)
from harness.load.schedule import ARRIVALS
from harness.polling import PollTimeout, poll_until
from harness.timeline import Outcome, Provider, RequestRecord, Timeline

__all__ = ["LOCUSTFILE", "LocustDriver", "clock_offset_ns", "read_records", "remote_offsets"]

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def clock_offset_ns(samples: list[tuple[int, int]]) -> int:
    """A remote worker's clock offset from ``(worker sent_ns, master recv_ns)`` samples: the
    minimum-delay estimate ``min(recv - sent)`` (see :mod:`harness.load.locust_remote`)."""
    if not samples:
        raise HarnessError("a remote Locust worker sent records but no clock sample")
    return min(recv - sent for sent, recv in samples)


def remote_offsets(directory: Path) -> dict[str, int]:
    """Remote worker name -> clock offset (ns) to add to its times."""
    out = {}
    for path in sorted(directory.glob("clock-remote-*.tsv")):
        samples = []
        for line in path.read_text(encoding="utf-8").splitlines():
            f = line.split("\t")
            if len(f) == 2:
                samples.append((int(f[0]), int(f[1])))
        out[path.stem.removeprefix("clock-remote-")] = clock_offset_ns(samples)
    return out


def read_records(directory: Path) -> tuple[list[RequestRecord], int]:
    """Every request recorded by the locustfile's processes in ``directory``, and the number
    of requests Locust itself cut off when it stopped the users (outside the run's window).
    Records of remote workers are shifted onto this host's clock (:func:`remote_offsets`)."""
    out, cancelled = [], 0
    offsets = remote_offsets(directory)
    for path in sorted(directory.glob("requests-*.tsv")):
        remote = path.stem.removeprefix("requests-remote-")
        shift = offsets.get(remote, 0) if path.stem.startswith("requests-remote-") else 0
        if path.stem.startswith("requests-remote-") and remote not in offsets:
            raise HarnessError(f"records of remote worker {remote} without clock samples")
        for line in path.read_text(encoding="utf-8").splitlines():
            f = line.split("\t")
            if len(f) != 9:
                continue  # a line cut by a killed process
            if f[3] == "X":
                cancelled += 1
                continue
            out.append(RequestRecord(
                intended_ns=int(f[0]) + shift, start_ns=int(f[1]) + shift,
                end_ns=int(f[2]) + shift,
                outcome=Outcome(int(f[3])), status=int(f[4]), error=f[5], replica=f[6],
                degraded=f[7] == "1", provider=Provider(int(f[8]))))
    return out, cancelled


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocustDriver:
    """Locust as a load source writing to the timeline. ``run(duration_s)``, or as a context
    manager / ``start()`` + ``stop()`` (SIGTERM). A request Locust itself cuts off while stopping
    its users is outside the run's window: counted in ``cancelled_at_stop`` and the ``load.stop``
    event, not recorded as a failure."""

    kind = "locust"

    def __init__(self, *, url: str, api_key: str, mix: RequestMix, seed: int,
                 timeline: Timeline, users: int = 10, rate: float | None = None,
                 arrivals: str = "constant", workers: int = 0, timeout_s: float = 10.0,
                 lateness_p99_bound_ms: float = LATENESS_P99_BOUND_MS,
                 lateness_max_bound_ms: float = LATENESS_MAX_BOUND_MS,
                 keep_files: bool = False, remote_workers: int = 0,
                 master_bind: str = "127.0.0.1", master_port: int | None = None,
                 remote_wait_s: float = 60.0) -> None:
        if users < 1:
            raise ConfigError("Locust needs at least one user", field="load.users", value=users)
        if rate is not None and not rate > 0:
            raise ConfigError("the rate must be > 0 (or None for unpaced users)",
                              field="load.rate", value=rate)
        if arrivals not in ARRIVALS:
            raise ConfigError("unknown arrival process", field="load.arrivals", value=arrivals,
                              allowed=ARRIVALS)
        if workers < 0:
            raise ConfigError("workers must be >= 0", field="load.workers", value=workers)
        if remote_workers < 0:
            raise ConfigError("remote workers must be >= 0", field="load.remote_workers",
                              value=remote_workers)
        self._target = HttpTarget.parse(url, default_path="/v1/answer")
        self.url, self.api_key, self.mix, self.seed = url, api_key, mix, seed
        self.users, self.rate, self.arrivals, self.workers = users, rate, arrivals, workers
        self.timeout_s = timeout_s
        #: workers started elsewhere (``chaos-harness locust-worker --master HOST:PORT``) that
        #: the master waits for; their records come to the master (harness.load.locust_remote)
        self.remote_workers = remote_workers
        self.master_bind, self.remote_wait_s = master_bind, remote_wait_s
        self.master_port = master_port or (_free_port() if remote_workers else 0)
        self._bounds = (lateness_p99_bound_ms, lateness_max_bound_ms)
        self._timeline = timeline
        self._keep = keep_files
        self._dir: Path | None = None
        self._procs: list[subprocess.Popen[bytes]] = []
        self._t_start = 0
        self._report: GeneratorReport | None = None
        self.cancelled_at_stop = 0  # requests Locust cut off when stopping (not in the timeline)
        self._live_pos: dict[Path, int] = {}
        self._live_counts = [0] * 10  # by outcome code; [8]: a response; [9]: 2xx

    # -- public ----------------------------------------------------------------------------
    def __enter__(self) -> LocustDriver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._report is None:
            self.stop()

    def run(self, duration_s: float) -> GeneratorReport:
        """Run for ``duration_s`` (Locust's ``--run-time``; users finish their request)."""
        self.start(duration_s=duration_s)
        patience = duration_s + self.timeout_s + 30.0 + (
            self.remote_wait_s if self.remote_workers else 0.0)
        master = self._procs[0]
        with contextlib.suppress(PollTimeout):  # stop() ends an overdue master
            poll_until(lambda: master.poll() is not None, patience, interval=0.1,
                       what="the Locust master to exit")
        return self.stop()

    def start(self, *, duration_s: float | None = None) -> None:
        if self._procs:
            raise HarnessError("this Locust driver was already started; make a new one per run")
        self._dir = Path(tempfile.mkdtemp(prefix="chaos-locust-"))
        (self._dir / "mix.json").write_text(json.dumps(self.mix.to_json()), encoding="utf-8")
        self._t_start = time.monotonic_ns()
        try:
            self._spawn(duration_s)
        except BaseException:
            self._terminate()
            raise
        if self.remote_workers:
            print(f"Locust master waiting for {self.remote_workers} worker(s): on each load "
                  f"machine run 'chaos-harness locust-worker --master "
                  f"{self.master_bind}:{self.master_port}'", file=sys.stderr, flush=True)
            self._wait_for_remote_load()
        self._timeline.add_event("load.start", "load", t_ns=self._t_start, generator=self.kind,
                                 rate=self.rate or 0.0, arrivals=self._arrivals_name(),
                                 target=self.url, users=self.users, workers=self.workers,
                                 remote_workers=self.remote_workers, seed=self.seed)

    def _wait_for_remote_load(self) -> None:
        """Block until the first remote records reach the master (the workers connected and
        their users run), so a run's warm-up starts with load flowing."""
        deadline = time.monotonic() + self.remote_wait_s + 30.0
        master = self._procs[0]
        while self.live().sent == 0:
            if master.poll() is not None or time.monotonic() > deadline:
                why = ("the Locust master exited" if master.poll() is not None else
                       f"no request from {self.remote_workers} remote worker(s) within "
                       f"{self.remote_wait_s + 30:.0f}s")
                self._terminate()
                raise HarnessError(f"{why}; start them with 'chaos-harness locust-worker "
                                   f"--master {self.master_bind}:{self.master_port}'. Log:\n"
                                   + self._log_tail())
            time.sleep(0.2)

    def live(self) -> LiveStats:
        """Counters from the records the Locust processes wrote so far (flushed at least twice
        a second), read incrementally."""
        if self._dir is not None:
            for path in self._dir.glob("requests-*.tsv"):
                with open(path, "rb") as f:
                    f.seek(self._live_pos.get(path, 0))
                    data = f.read()
                cut = data.rfind(b"\n") + 1  # whole lines only
                self._live_pos[path] = self._live_pos.get(path, 0) + cut
                for line in data[:cut].splitlines():
                    fields = line.split(b"\t")
                    if len(fields) == 9 and fields[3] != b"X":
                        self._live_counts[int(fields[3])] += 1
                        status = int(fields[4])
                        self._live_counts[8] += status > 0
                        self._live_counts[9] += 200 <= status < 300
        c = self._live_counts
        sent = c[0] + c[1] + c[2]
        elapsed = (time.monotonic_ns() - self._t_start) / 1e9 if self._t_start else 0.0
        return LiveStats(elapsed_s=elapsed, scheduled=sent + c[3], sent=sent,
                         completed=c[8], ok=c[9], errors=c[1] + c[2], dropped=c[3],
                         in_flight=0, connections=self.users, max_lateness_ms=0.0)

    def stop(self) -> GeneratorReport:
        """Stop Locust (if still running), merge its records, return the report."""
        if self._report is not None:
            return self._report
        if not self._procs or self._dir is None:
            raise HarnessError("stop() before start(): nothing ran")
        t_stop = time.monotonic_ns()
        try:
            self._terminate()
            records, self.cancelled_at_stop = read_records(self._dir)
            if not records:
                raise HarnessError(
                    "Locust recorded no request; its log ends with:\n" + self._log_tail(),
                )
            self._timeline.add_requests(records)
            self._report = report = self._build_report(records, t_stop)
        finally:
            if not self._keep:
                shutil.rmtree(self._dir, ignore_errors=True)
        self._timeline.add_event(
            "load.stop", "load", generator=self.kind, sent=report.sent, dropped=report.dropped,
            fell_behind=report.fell_behind, lateness_p99_ms=report.lateness_p99_ms,
            max_lateness_ms=report.max_lateness_ms, scheduled=report.scheduled,
            achieved_rate=report.achieved_rate, reason=report.fell_behind_reason,
            cancelled_at_stop=self.cancelled_at_stop)
        return report

    # -- processes -------------------------------------------------------------------------
    def _arrivals_name(self) -> str:
        return self.arrivals if self.rate else "closed-loop"

    def _env(self, worker_index: int) -> dict[str, str]:
        assert self._dir is not None
        per_user = (self.rate / self.users) if self.rate else 0.0
        return {**os.environ, "CH_LOCUST_OUT": str(self._dir), "CH_LOCUST_API_KEY": self.api_key,
                "CH_LOCUST_PATH": self._target.path, "CH_LOCUST_RATE_PER_USER": repr(per_user),
                "CH_LOCUST_ARRIVALS": self.arrivals, "CH_LOCUST_SEED": str(self.seed),
                "CH_LOCUST_TIMEOUT_S": repr(self.timeout_s),
                "CH_LOCUST_WORKER_INDEX": str(worker_index), "PYTHONUNBUFFERED": "1"}

    def _spawn(self, duration_s: float | None) -> None:
        assert self._dir is not None
        host = f"http://{self._target.host}:{self._target.port}"
        base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "WARNING",
                "--exit-code-on-error", "0"]
        cmd = [*base, "--headless", "--host", host, "-u", str(self.users),
               "-r", str(max(1, self.users)), "--stop-timeout", f"{self.timeout_s:g}"]
        if duration_s is not None:
            cmd += ["--run-time", f"{max(1, round(duration_s))}s"]
        port = self.master_port
        distributed = bool(self.workers or self.remote_workers)
        if distributed:
            port = port or _free_port()
            bind = self.master_bind if self.remote_workers else "127.0.0.1"
            cmd += ["--master", "--master-bind-host", bind, "--master-bind-port", str(port),
                    "--expect-workers", str(self.workers + self.remote_workers),
                    "--expect-workers-max-wait", f"{max(1, round(self.remote_wait_s))}"]
        self._procs.append(self._popen(cmd, "master" if distributed else "locust", 0))
        for i in range(self.workers):
            wcmd = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
            self._procs.append(self._popen(wcmd, f"worker-{i + 1}", i + 1))

    def _popen(self, cmd: list[str], name: str, index: int) -> subprocess.Popen[bytes]:
        assert self._dir is not None
        log = open(self._dir / f"{name}.log", "wb")  # noqa: SIM115 - closed by the child's exit
        try:
            return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=self._env(index),
                                    start_new_session=True)
        finally:
            log.close()

    def _terminate(self) -> None:
        """SIGTERM (Locust flushes and exits), then SIGKILL after a grace period."""
        for p in self._procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.timeout_s + 10.0
        for p in self._procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5.0)

    def _log_tail(self, lines: int = 20) -> str:
        assert self._dir is not None
        out = []
        for log in sorted(self._dir.glob("*.log")):
            text = log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
            out += [f"[{log.stem}] {line}" for line in text]
        return "\n".join(out) or "(no output)"

    def _build_report(self, records: list[RequestRecord], t_stop: int) -> GeneratorReport:
        late = sorted(r.start_ns - r.intended_ns for r in records)
        p50, p99 = percentile_ms(late, 50), percentile_ms(late, 99)
        mx = late[-1] / 1e6 if late else 0.0
        reason = (fell_behind(p99, mx, p99_bound_ms=self._bounds[0],
                              max_bound_ms=self._bounds[1]) if self.rate else "")
        first = min(r.intended_ns for r in records)
        last = max(r.start_ns for r in records)
        duration = max(1, last - first) / 1e9
        sent = sum(1 for r in records if r.outcome is not Outcome.DROPPED)
        return GeneratorReport(
            kind=self.kind, rate=self.rate or 0.0, arrivals=self._arrivals_name(),
            duration_s=duration, scheduled=len(records), sent=sent,
            completed=sum(1 for r in records if r.status > 0),
            errors=sum(1 for r in records if r.outcome is Outcome.ERROR),
            timeouts=sum(1 for r in records if r.outcome is Outcome.TIMEOUT),
            dropped=len(records) - sent, fell_behind=bool(reason), fell_behind_reason=reason,
            lateness_p50_ms=p50, lateness_p99_ms=p99, max_lateness_ms=mx,
            achieved_rate=sent / duration, connections=self.users)
