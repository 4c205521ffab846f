"""Redis master killed under a steady trickle of answers: Sentinel promotes the replica, the
app's ``master_for`` client rediscovers it, and no answer fails meanwhile (the cache fails open)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).parent))
from conftest_app import app_process, provider_sim, redis_with_sentinel

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_master_kill_costs_no_answers_and_the_cache_comes_back() -> None:
    with redis_with_sentinel(replicas=1) as ha, provider_sim("primary") as primary, \
            app_process(primary=primary, redis=ha) as app, app.client() as client:
        q = {"question": "How do I prevent and handle a full disk on Nginx?"}
        assert client.post("/v1/answer", json=q).json()["provider"] == "primary"
        time.sleep(0.3)  # let the entry replicate
        ha.redis.kill()
        sentinel = redis.Redis(port=ha.sentinel_port, socket_timeout=1)
        statuses, providers, promoted = [], [], None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = client.post("/v1/answer", json=q)
            statuses.append(r.status_code)
            providers.append(r.json().get("provider"))
            master = sentinel.sentinel_get_master_addr_by_name("mymaster")
            if master and int(master[1]) == ha.replica_ports[0]:
                promoted = promoted or time.monotonic()
                if providers[-1] == "cache" and time.monotonic() - promoted > 0.5:
                    break
            time.sleep(0.05)
        sentinel.close()
    assert promoted is not None, "sentinel never promoted the replica"
    assert set(statuses) == {200}, statuses
    assert "primary" in providers  # misses while the master was gone
    assert providers[-1] == "cache"  # the replicated entry is served by the new master


def test_refused_cache_writes_do_not_trip_the_cache_breaker() -> None:
    """min-replicas-to-write 1 with no replica: Redis refuses writes (NOREPLICAS) but reads
    work; answers are served from the provider and the cache breaker stays closed."""
    with redis_with_sentinel(master_args=("--min-replicas-to-write", "1")) as ha, \
            provider_sim("primary") as primary, \
            app_process(primary=primary, redis=ha) as app, app.client() as client:
        q = {"question": "How often should Vault credentials be rotated?"}
        providers = [client.post("/v1/answer", json=q).json()["provider"] for _ in range(5)]
        ready = client.get("/readyz").json()
        metrics = client.get("/metrics").text
    assert providers == ["primary"] * 5
    cache = ready["dependencies"]["cache"]
    assert cache["ok"] is True and cache["breaker"]["state"] == "closed"
    assert "NOREPLICAS" in cache["last_error"]
    assert 'rag_cache_total{result="write_error"} 5.0' in metrics
    assert 'rag_cache_total{result="miss"} 5.0' in metrics
