"""Real-process helpers for the reference app and simulator tests (imported explicitly).

Context managers that start redis-server, redis-sentinel, provider simulators and app replicas
on 127.0.0.1, wait for real readiness, and always kill what they started (also on failure).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on "
                               f"{port}: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout} s: "
                       f"{log.read_text(errors='replace')[-2000:]}")


@contextlib.contextmanager
def process(argv: list[str], *, port: int, env: Mapping[str, str] | None = None,
            timeout: float = 20.0) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv``, wait until ``port`` accepts, kill it (and wait) on exit."""
    fd, name = tempfile.mkstemp(prefix="proc-", suffix=".log")
    log = Path(name)
    proc = subprocess.Popen(argv, stdout=fd, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    os.close(fd)
    try:
        wait_port(port, timeout, proc, log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        log.unlink(missing_ok=True)


def require(binary: str) -> str:
    import pytest

    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} not on PATH; install it with scripts/setup.sh "
                    "(apt-get install redis-server redis-sentinel)")
    return path


@dataclass(frozen=True, slots=True, kw_only=True)
class Sim:
    name: str
    url: str  # OpenAI base URL (.../v1)
    control_url: str
    token: str
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def provider_sim(name: str, *, latency_ms: float = 5.0, tokens_per_s: float = 20000.0,
                 seed: int = 1) -> Iterator[Sim]:
    port, cport, token = free_port(), free_port(), f"tok-{name}"
    argv = [PYTHON, "-m", "harness.simulators.provider", "--name", name, "--host", "127.0.0.1",
            "--port", str(port), "--control-host", "127.0.0.1", "--control-port", str(cport),
            "--token", token, "--latency-ms", str(latency_ms), "--tokens-per-s",
            str(tokens_per_s), "--seed", str(seed)]
    with process(argv, port=port) as proc:
        wait_port(cport, 5, proc, Path("/dev/null"))
        yield Sim(name=name, url=f"http://127.0.0.1:{port}/v1",
                  control_url=f"http://127.0.0.1:{cport}", token=token, proc=proc)


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisHA:
    redis_port: int
    sentinel_port: int
    redis: subprocess.Popen[bytes]
    replica_ports: tuple[int, ...] = ()

    @property
    def sentinels(self) -> str:
        return f"127.0.0.1:{self.sentinel_port}"


@contextlib.contextmanager
def redis_with_sentinel(*, replicas: int = 0,
                        master_args: tuple[str, ...] = ()) -> Iterator[RedisHA]:
    """A redis-server master (+ ``replicas``) and one sentinel (quorum 1) as ``mymaster``."""
    redis_bin, sentinel_bin = require("redis-server"), require("redis-sentinel")
    rport, sport = free_port(), free_port()
    rports = tuple(free_port() for _ in range(replicas))
    with tempfile.TemporaryDirectory(prefix="rag-redis-") as tmp, contextlib.ExitStack() as stack:
        conf = Path(tmp) / "sentinel.conf"
        conf.write_text(f"port {sport}\nbind 127.0.0.1\ndir {tmp}\n"
                        f"sentinel monitor mymaster 127.0.0.1 {rport} 1\n"
                        "sentinel down-after-milliseconds mymaster 1000\n"
                        "sentinel failover-timeout mymaster 3000\n")
        base = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        master = stack.enter_context(process(
            [redis_bin, "--port", str(rport), "--dir", tmp, *base, *master_args], port=rport))
        for i, port in enumerate(rports):
            rdir = Path(tmp) / f"r{i}"
            rdir.mkdir()
            stack.enter_context(process(
                [redis_bin, "--port", str(port), "--dir", str(rdir), *base,
                 "--replicaof", "127.0.0.1", str(rport)], port=port))
        stack.enter_context(process([sentinel_bin, str(conf)], port=sport))
        yield RedisHA(redis_port=rport, sentinel_port=sport, redis=master,
                      replica_ports=rports)


@dataclass(frozen=True, slots=True, kw_only=True)
class App:
    url: str
    api_key: str
    proc: subprocess.Popen[bytes]

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": self.api_key},
                            timeout=15.0, **kw)  # type: ignore[arg-type]


@contextlib.contextmanager
def app_process(*, primary: Sim, fallback: Sim | None = None, redis: RedisHA | None = None,
                env: Mapping[str, str] | None = None, replica: str = "app-test") -> Iterator[App]:
    port = free_port()
    full_env = {"RAG_REPLICA": replica, "RAG_API_KEY": "test-key",
                "RAG_PRIMARY_URL": primary.url, "RAG_FALLBACK_URL": fallback.url if fallback
                else "", "RAG_REDIS_SENTINELS": redis.sentinels if redis else "",
                "RAG_CORPUS": str(ROOT / "fixtures/corpus/documents.jsonl"),
                "RAG_LLM_TIMEOUT_S": "1.0", "RAG_LLM_MAX_RETRIES": "0", **(env or {})}
    argv = [PYTHON, "-m", "reference_app", "--host", "127.0.0.1", "--port", str(port)]
    with process(argv, port=port, env=full_env, timeout=30) as proc:
        yield App(url=f"http://127.0.0.1:{port}", api_key="test-key", proc=proc)


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
