"""Distributed Locust: the harness runs the master, workers run in another network namespace
(as on other hosts: they reach the master only through a veth link), and every request they
made is recorded in the harness's timeline on the harness's clock.

The test makes its own namespace and veth pair with private addresses (10.251.x.0/30), runs the
target server inside the namespace (on its loopback), starts two workers there with the
documented command (``chaos-harness locust-worker --master HOST:PORT``), and tears everything
down. Needs root and ``ip``; ~30 s."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.load import LocustDriver, RequestMix
from harness.load.locust_driver import remote_offsets
from harness.timeline import Outcome, Timeline

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIX = RequestMix(questions=tuple(f"question {i}" for i in range(30)), seed=5)
CLI = Path(sys.executable).with_name("chaos-harness")
TINYSERVER = Path(__file__).resolve().parents[1] / "support" / "tinyserver.py"


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the 'ip' command (iproute2) is missing"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextlib.contextmanager
def namespace() -> Iterator[tuple[str, str]]:
    """(namespace name, host-side address) of a fresh namespace joined by a veth pair."""
    tag = f"{os.getpid() % 1000}{random.randrange(100)}"
    ns, host_if, ns_if = f"chf-{tag}", f"chfh{tag}", f"chfn{tag}"
    octet = random.randrange(1, 250)
    host_ip, ns_ip = f"10.251.{octet}.1", f"10.251.{octet}.2"
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
        _ip("netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        _ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield ns, host_ip
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", host_if)  # takes its peer with it
        _ip("netns", "del", ns)


def _in_ns(ns: str, *cmd: str, env: dict[str, str] | None = None,
           log: Path | None = None) -> subprocess.Popen[bytes]:
    out = open(log, "wb") if log else subprocess.PIPE  # noqa: SIM115 - closed below / by exit
    try:
        return subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def test_workers_in_another_namespace_record_every_request(tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    tl = Timeline()
    with namespace() as (ns, host_ip):
        server = _in_ns(ns, sys.executable, str(TINYSERVER), "--port", "0")
        workers: list[subprocess.Popen[bytes]] = []
        try:
            assert server.stdout is not None
            url = server.stdout.readline().decode().strip()  # http://127.0.0.1:<port> in ns
            assert url.startswith("http://127.0.0.1:"), url
            driver = LocustDriver(url=url, api_key="", mix=MIX, seed=3, timeline=tl, users=4,
                                  rate=40, arrivals="constant", timeout_s=5.0,
                                  remote_workers=2, master_bind=host_ip, remote_wait_s=60,
                                  keep_files=True)
            env = {**os.environ, "CHAOS_API_KEY": "k-not-sent-by-the-master"}
            for i in range(2):
                workers.append(_in_ns(ns, str(CLI), "locust-worker", "--master",
                                      f"{host_ip}:{driver.master_port}", "--timeout", "5",
                                      env=env, log=tmp_path / f"worker-{i}.log"))
            t0 = time.monotonic_ns()
            report = driver.run(6.0)
            t1 = time.monotonic_ns()
            for w in workers:
                w.wait(30)  # the master's quit ends them
        finally:
            for w in workers:
                _stop(w)
            _stop(server)
        assert server.stdout is not None
        with server.stdout:
            out = server.stdout.read().decode()
        received = int(out.split("received")[-1].split()[0])
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log"))
    req = tl.requests
    cancelled = driver.cancelled_at_stop
    # every request that reached the server is in the timeline (or was cut off by Locust's stop)
    assert 100 <= len(req) <= received <= len(req) + cancelled, (len(req), received, logs)
    assert report.sent == len(req) and report.errors == 0, logs
    assert all(req.record(i).outcome is Outcome.OK for i in range(len(req)))
    # both workers' records went to the master, with clock samples
    assert driver._dir is not None
    files = sorted(p.name for p in driver._dir.glob("requests-remote-*.tsv"))
    offsets = remote_offsets(driver._dir)
    assert len(files) == 2 and len(offsets) == 2, (files, logs)
    # same host here, so the true offset is 0: the estimate is the smallest one-way delay
    assert all(0 <= o < 50_000_000 for o in offsets.values()), offsets
    # on the master's clock: every request inside this test's window
    assert all(t0 <= req.intended_ns[i] <= req.start_ns[i] < req.end_ns[i] <= t1 + 60_000_000
               for i in range(len(req)))
    print(f"distributed: {len(req)} recorded, {received} received by the server, "
          f"{cancelled} cut off at stop; offsets (ms): "
          f"{[round(o / 1e6, 3) for o in offsets.values()]}")
    shutil.rmtree(driver._dir, ignore_errors=True)
    assert not Path(tempfile.gettempdir(), ns).exists()
