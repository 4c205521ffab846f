"""Locust workers on other hosts: their configuration comes from the master, their records go
to the master, and the master puts them on its own clock. Imported only by the locustfile (a
gevent-patched Locust process).

Configuration: the master puts ``ch_config`` (path, pacing, seed, the question mix; never the
API key) on its ``parsed_options``, which Locust sends to every worker with each spawn. A remote
worker takes the API key from its own environment (``chaos-harness locust-worker
--api-key-env``), so the secret never crosses Locust's unencrypted master/worker channel.

Records: a remote worker keeps its rows in memory and sends them with each of Locust's stats
reports (``report_to_master``, every 3 s), and the rest when its users have stopped
(``test_stop``), followed by ``ch_flushed``. When the master stops (end of ``--run-time``, or
SIGTERM from the driver) it asks every worker that has not flushed yet to stop its users and
flush (``ch_flush``), and waits for them (at most the stop timeout + 10 s) before it quits.

Clock: workers on other hosts do not share the master's ``monotonic_ns``. Every batch carries
the worker's clock at sending (``sent_ns``); the master notes its own at receipt (``recv_ns``) in
``clock-remote-<worker>.tsv`` beside ``requests-remote-<worker>.tsv``. The driver shifts each
worker's times by ``min(recv_ns - sent_ns)`` over all its batches (the minimum-delay estimate):
the shift is the clock offset plus the smallest one-way delay seen (on a LAN well under a
millisecond), so worker times are placed late by at most that delay; drift between the two
clocks over the run (tens of ppm) is not corrected. Intended, start and end times of one request
come from one clock, so latencies are exact.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import gevent
from gevent.event import Event
from locust.env import Environment
from locust.runners import STATE_STOPPED, MasterRunner, WorkerRunner

from harness.load.mix import RequestMix

__all__ = ["Conf", "install"]

_READY_TIMEOUT_S = 60.0


class Conf:
    """What the locustfile's users need; filled from the environment (the driver's processes)
    or from the master (a remote worker)."""

    def __init__(self, *, out: str, api_key: str, timeout_s: float) -> None:
        self.out, self.api_key, self.timeout_s = out, api_key, timeout_s
        self.path = "/v1/answer"
        self.rate_per_user = 0.0
        self.arrivals = "constant"
        self.seed = 0
        self.worker_index = 0
        self.mix: RequestMix | None = None
        self._ready = Event()

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> Conf:
        conf = cls(out=env["CH_LOCUST_OUT"], api_key=env.get("CH_LOCUST_API_KEY", ""),
                   timeout_s=float(env.get("CH_LOCUST_TIMEOUT_S", "10")))
        with open(os.path.join(conf.out, "mix.json"), encoding="utf-8") as f:
            mix = json.load(f)
        conf.apply({"path": env.get("CH_LOCUST_PATH", "/v1/answer"),
                    "rate_per_user": float(env.get("CH_LOCUST_RATE_PER_USER", "0")),
                    "arrivals": env.get("CH_LOCUST_ARRIVALS", "constant"),
                    "seed": int(env.get("CH_LOCUST_SEED", "0")), "mix": mix},
                   worker_index=int(env.get("CH_LOCUST_WORKER_INDEX", "0")))
        return conf

    @classmethod
    def waiting(cls, *, api_key: str, timeout_s: float) -> Conf:
        return cls(out="", api_key=api_key, timeout_s=timeout_s)

    def to_wire(self) -> dict[str, Any]:
        """What a remote worker needs (no API key, no paths on this host)."""
        assert self.mix is not None
        return {"path": self.path, "rate_per_user": self.rate_per_user,
                "arrivals": self.arrivals, "seed": self.seed,
                "mix": self.mix.to_json()}

    def apply(self, data: Mapping[str, Any], *, worker_index: int) -> None:
        self.path, self.rate_per_user = str(data["path"]), float(data["rate_per_user"])
        self.arrivals, self.seed = str(data["arrivals"]), int(data["seed"])
        self.mix = RequestMix.from_json(data["mix"])
        self.worker_index = worker_index
        self._ready.set()

    def wait_ready(self) -> RequestMix:
        if not self._ready.wait(_READY_TIMEOUT_S) or self.mix is None:
            raise RuntimeError("no configuration from the Locust master within "
                               f"{_READY_TIMEOUT_S:.0f}s")
        return self.mix


def _safe(client_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", client_id)[:80]


def _install_master(env: Environment, runner: MasterRunner, conf: Conf) -> None:
    assert env.parsed_options is not None
    env.parsed_options.ch_config = conf.to_wire()  # sent to workers with every spawn
    flushed: set[str] = set()

    def store(client_id: str, rows: list[str], sent_ns: int) -> None:
        recv_ns = time.monotonic_ns()
        name = _safe(client_id)
        if rows:
            with open(os.path.join(conf.out, f"requests-remote-{name}.tsv"), "a",
                      encoding="utf-8") as f:
                f.write("\n".join(rows) + "\n")
        with open(os.path.join(conf.out, f"clock-remote-{name}.tsv"), "a",
                  encoding="utf-8") as f:
            f.write(f"{sent_ns}\t{recv_ns}\n")

    def on_report(client_id: str, data: dict[str, Any], **_: Any) -> None:
        if "ch_sent_ns" in data:
            store(client_id, list(data.get("ch_rows", ())), int(data["ch_sent_ns"]))

    def on_rows(environment: Environment, msg: Any, **_: Any) -> None:
        store(msg.node_id, list(msg.data["rows"]), int(msg.data["sent_ns"]))

    def on_flushed(environment: Environment, msg: Any, **_: Any) -> None:
        flushed.add(msg.node_id)

    def on_test_start(**_: Any) -> None:
        flushed.clear()

    def on_test_stop(**_: Any) -> None:
        pending = {c.id for c in runner.clients.all} - flushed
        for cid in pending:
            runner.send_message("ch_flush", None, client_id=cid)
        deadline = time.monotonic() + (env.stop_timeout or 0.0) + 10.0
        while {c.id for c in runner.clients.all} - flushed and time.monotonic() < deadline:
            gevent.sleep(0.05)

    env.events.worker_report.add_listener(on_report)
    env.events.test_start.add_listener(on_test_start)
    env.events.test_stop.add_listener(on_test_stop)
    runner.register_message("ch_rows", on_rows)
    runner.register_message("ch_flushed", on_flushed)


def _install_remote_worker(env: Environment, runner: WorkerRunner, conf: Conf,
                           take_rows: Callable[[], list[str]]) -> None:
    def on_test_start(environment: Environment, **_: Any) -> None:
        wire = getattr(environment.parsed_options, "ch_config", None)
        if wire:
            conf.apply(wire, worker_index=1000 + runner.worker_index)

    def on_report(data: dict[str, Any], **_: Any) -> None:
        data["ch_rows"] = take_rows()
        data["ch_sent_ns"] = time.monotonic_ns()

    def send_rest() -> None:
        runner.send_message("ch_rows", {"rows": take_rows(), "sent_ns": time.monotonic_ns()})
        runner.send_message("ch_flushed", None)

    def on_test_stop(**_: Any) -> None:
        send_rest()

    def on_flush(environment: Environment, msg: Any, **_: Any) -> None:
        if runner.state != STATE_STOPPED:
            runner.stop()  # fires test_stop, which sends the rest
        else:
            send_rest()

    env.events.test_start.add_listener(on_test_start)
    env.events.report_to_master.add_listener(on_report)
    env.events.test_stop.add_listener(on_test_stop)
    runner.register_message("ch_flush", on_flush)


def install(env: Environment, *, conf: Conf, take_rows: Callable[[], list[str]],
            remote: bool) -> None:
    """Wire the master (always ready to take remote workers) or a remote worker."""
    runner = env.runner
    if isinstance(runner, MasterRunner):
        _install_master(env, runner, conf)
    elif isinstance(runner, WorkerRunner) and remote:
        _install_remote_worker(env, runner, conf, take_rows)
