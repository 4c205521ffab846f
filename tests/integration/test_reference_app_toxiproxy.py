"""RAG_REDIS_VIA_TOXIPROXY: the master address Sentinel hands out is remapped to a real
Toxiproxy proxy, so Redis toxics reach the app's cache traffic (and the cache still fails open)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest_app import (
    app_process,
    free_port,
    process,
    provider_sim,
    redis_with_sentinel,
    require,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture()
def toxiproxy() -> Iterator[str]:
    binary = require("toxiproxy-server")
    port = free_port()
    with process([binary, "-host", "127.0.0.1", "-port", str(port)], port=port):
        yield f"http://127.0.0.1:{port}"


def test_cache_goes_through_the_proxy_and_fails_open(toxiproxy: str) -> None:
    with redis_with_sentinel() as redis, provider_sim("primary") as primary, \
            httpx.Client(base_url=toxiproxy, timeout=5) as toxi:
        listen = free_port()
        r = toxi.post("/proxies", json={"name": "redis-az-a", "listen": f"127.0.0.1:{listen}",
                                        "upstream": f"127.0.0.1:{redis.redis_port}",
                                        "enabled": True})
        assert r.status_code == 201, r.text
        env = {"RAG_REDIS_VIA_TOXIPROXY": "true",
               "RAG_REDIS_ADDRESS_MAP": f"127.0.0.1:{redis.redis_port}=127.0.0.1:{listen}"}
        with app_process(primary=primary, redis=redis, env=env) as app, \
                app.client() as client:
            q = {"question": "How is Kafka configuration canaried before the fleet?"}
            assert client.post("/v1/answer", json=q).json()["provider"] == "primary"
            assert client.post("/v1/answer", json=q).json()["provider"] == "cache"
            # a latency toxic on the proxy: cache reads time out (0.25 s) -> misses, not errors
            toxi.post("/proxies/redis-az-a/toxics", json={
                "name": "slow", "type": "latency", "stream": "downstream",
                "attributes": {"latency": 1000, "jitter": 0}}).raise_for_status()
            t0 = time.monotonic()
            answer = client.post("/v1/answer", json=q)
            assert answer.status_code == 200 and answer.json()["provider"] == "primary"
            assert time.monotonic() - t0 < 1.5
            toxi.delete("/proxies/redis-az-a/toxics/slow").raise_for_status()
            # proxy disabled while the real Redis is up: the app loses its cache, so it must
            # have been talking to the proxy address, not the one Sentinel handed out
            toxi.post("/proxies/redis-az-a", json={"enabled": False}).raise_for_status()
            for _ in range(5):
                got = client.post("/v1/answer", json=q)
                assert got.status_code == 200 and got.json()["provider"] == "primary"
            ready = client.get("/readyz").json()["dependencies"]["cache"]
            assert ready["ok"] is False
            toxi.post("/proxies/redis-az-a", json={"enabled": True}).raise_for_status()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # cache breaker: back within ~1 s
                if client.post("/v1/answer", json=q).json()["provider"] == "cache":
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the cache did not come back after the proxy was re-enabled")
