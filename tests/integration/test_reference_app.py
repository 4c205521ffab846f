"""The reference app as a real process against real simulators and a real Redis + Sentinel."""

from __future__ import annotations

import itertools
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest_app import (
    App,
    RedisHA,
    Sim,
    app_process,
    provider_sim,
    redis_with_sentinel,
)

from harness.simulators.control import ProviderControlClient

pytestmark = pytest.mark.integration

FAIL_MAX, RESET_S = 3, 1.0
_seq = itertools.count()


def question() -> str:
    """A fresh question (never cached) about a real corpus topic."""
    return f"How does Redis failover promote a standby when the primary dies? #{next(_seq)}"


def metric(app: App, name: str, **labels: str) -> float:
    text = httpx.get(f"{app.url}/metrics", timeout=5).text
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = rf"^{re.escape(name)}(?:\{{{re.escape(want)}\}})? (\S+)$" if want else \
        rf"^{re.escape(name)} (\S+)$"
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[Sim, Sim]]:
    with provider_sim("primary") as p, provider_sim("fallback", seed=2) as f:
        yield p, f


@pytest.fixture(scope="module")
def redis_ha() -> Iterator[RedisHA]:
    with redis_with_sentinel() as r:
        yield r


@pytest.fixture(scope="module")
def app(sims: tuple[Sim, Sim], redis_ha: RedisHA) -> Iterator[App]:
    primary, fallback = sims
    with app_process(primary=primary, fallback=fallback, redis=redis_ha, replica="app-az-a",
                     env={"RAG_BREAKER_FAIL_MAX": str(FAIL_MAX),
                          "RAG_BREAKER_RESET_S": str(RESET_S)}) as a:
        yield a


@pytest.fixture()
def ctl(sims: tuple[Sim, Sim], app: App) -> Iterator[tuple[ProviderControlClient,
                                                            ProviderControlClient]]:
    with ProviderControlClient(sims[0].control_url, sims[0].token) as p, \
            ProviderControlClient(sims[1].control_url, sims[1].token) as f:
        for c in (p, f):
            c.clear()
        _wait_breakers_closed(app, p)
        for c in (p, f):
            c.reset_counters()
        yield p, f
        for c in (p, f):
            c.clear()


def _wait_breakers_closed(app: App, primary: ProviderControlClient,
                          timeout: float = 10.0) -> None:
    """Drive half-open trials until every breaker is closed with zero consecutive failures.

    The fallback only gets traffic while the primary fails, so a half-open fallback breaker
    stays half-open under a healthy primary: fail the primary for one request to trial it.
    """
    deadline = time.monotonic() + timeout
    with app.client() as client:
        while time.monotonic() < deadline:
            ready = client.get("/readyz").json()
            breakers = ready["breakers"]
            providers = ready["dependencies"]["providers"]
            if all(s == "closed" for s in breakers.values()) and all(
                    p["consecutive_failures"] == 0 for p in providers.values()):
                return
            if breakers["primary"] == "closed" and breakers["fallback"] != "closed":
                primary.set_fault("error", status=500)
                ask(client)
                primary.clear()
            ask(client)  # half-open trials, and a success to reset failure counts
            time.sleep(0.2)
    raise AssertionError(f"breakers did not close within {timeout} s: {breakers}")


def ask(client: httpx.Client, q: str | None = None) -> httpx.Response:
    return client.post("/v1/answer", json={"question": q or question()})


def test_api_key_is_required_and_headers_are_always_set(app: App) -> None:
    for headers in ({}, {"X-API-Key": "wrong"}):
        r = httpx.post(f"{app.url}/v1/answer", json={"question": "q"}, headers=headers)
        assert r.status_code == 401
        assert (r.headers["x-replica"], r.headers["x-degraded"], r.headers["x-provider"]) == (
            "app-az-a", "false", "none")
    assert httpx.get(f"{app.url}/healthz").status_code == 200
    assert httpx.get(f"{app.url}/metrics").status_code == 200
    assert httpx.get(f"{app.url}/nope").headers["x-replica"] == "app-az-a"
    with app.client() as client:
        assert client.post("/v1/answer", json={"q": 1}).status_code == 400
        assert client.post("/v1/answer", json={"question": "  "}).status_code == 400


def test_answer_then_cache_hit(app: App, ctl: tuple[ProviderControlClient, ...]) -> None:
    q = question()
    with app.client() as client:
        first, second = ask(client, q), ask(client, q)
    assert first.status_code == second.status_code == 200
    a, b = first.json(), second.json()
    assert (a["provider"], a["cached"], a["degraded"], a["replica"]) == (
        "primary", False, False, "app-az-a")
    assert first.headers["x-provider"] == "primary" and first.headers["x-degraded"] == "false"
    assert len(a["sources"]) == 3 and a["sources"][0] == "kb-00-00"
    assert "[sim primary" in a["answer"]
    assert (b["provider"], b["cached"], b["answer"]) == ("cache", True, a["answer"])
    assert second.headers["x-provider"] == "cache"
    assert ctl[0].counters()["ok"] == 1  # the hit cost no provider call


def test_primary_5xx_falls_back(app: App, ctl: tuple[ProviderControlClient, ...]) -> None:
    primary, fallback = ctl
    primary.set_fault("error", status=500)
    with app.client() as client:
        answers = [ask(client) for _ in range(FAIL_MAX + 4)]
    assert all(r.status_code == 200 for r in answers)
    assert {r.json()["provider"] for r in answers} == {"fallback"}
    assert {r.headers["x-provider"] for r in answers} == {"fallback"}
    assert not any(r.json()["degraded"] for r in answers)
    # counters agree with what the client saw: the breaker stopped calls to the primary
    assert primary.counters()["error_5xx"] == FAIL_MAX
    assert fallback.counters()["ok"] == len(answers)


def test_breaker_opens_then_closes_and_readyz_shows_it(
        app: App, ctl: tuple[ProviderControlClient, ...]) -> None:
    primary, _ = ctl
    primary.set_fault("error", status=503)
    with app.client() as client:
        for _ in range(FAIL_MAX):
            assert ask(client).json()["provider"] == "fallback"
        ready = client.get("/readyz")
        assert ready.status_code == 200  # the fallback can still answer
        body = ready.json()
        assert body["breakers"]["primary"] == "open"
        assert body["dependencies"]["providers"]["primary"]["consecutive_failures"] == FAIL_MAX
        assert "503" in body["dependencies"]["providers"]["primary"]["last_error"]
        assert metric(app, "rag_breaker_state", breaker="primary") == 2.0
        calls = primary.counters()["requests"]
        assert ask(client).json()["provider"] == "fallback"
        assert primary.counters()["requests"] == calls  # open: the primary is not called
        primary.clear()
        time.sleep(RESET_S + 0.1)
        assert client.get("/readyz").json()["breakers"]["primary"] == "half_open"
        r = ask(client)
        assert r.json()["provider"] == "primary"  # the trial call succeeded
        assert client.get("/readyz").json()["breakers"]["primary"] == "closed"
    assert metric(app, "rag_breaker_state", breaker="primary") == 0.0


def test_both_providers_down_answers_degraded_from_passages(
        app: App, ctl: tuple[ProviderControlClient, ...]) -> None:
    primary, fallback = ctl
    primary.set_fault("outage")
    fallback.set_fault("error", status=500)
    before = metric(app, "rag_degraded_answers_total", reason="no_provider")
    with app.client() as client:
        r = ask(client)
        assert r.status_code == 200
        body = r.json()
        assert (body["provider"], body["degraded"], body["cached"]) == ("none", True, False)
        assert (r.headers["x-provider"], r.headers["x-degraded"]) == ("none", "true")
        assert "[kb-00-00]" in body["answer"] and "Redis" in body["answer"]
        for _ in range(FAIL_MAX):
            ask(client)
        ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert metric(app, "rag_degraded_answers_total", reason="no_provider") >= before + 1
    assert primary.counters()["outage"] == FAIL_MAX
    assert fallback.counters()["error_5xx"] == FAIL_MAX


def test_provider_hang_times_out_to_fallback(app: App,
                                             ctl: tuple[ProviderControlClient, ...]) -> None:
    primary, _ = ctl
    primary.set_fault("hang")
    t0 = time.monotonic()
    with app.client() as client:
        r = ask(client)
    assert r.json()["provider"] == "fallback"
    assert 1.0 <= time.monotonic() - t0 < 3.0  # RAG_LLM_TIMEOUT_S=1, no retries
    assert primary.counters()["hung"] == 1


# -- a second replica: its own Redis (killed), no fallback, no degradation ----------------------


@pytest.fixture()
def strict_app(sims: tuple[Sim, Sim]) -> Iterator[tuple[App, RedisHA]]:
    with redis_with_sentinel() as redis, \
            app_process(primary=sims[0], fallback=sims[1], redis=redis, replica="app-az-b",
                        env={"RAG_FALLBACK_ENABLED": "false",
                             "RAG_DEGRADE_ENABLED": "false"}) as a:
        yield a, redis


@pytest.mark.slow
def test_redis_down_cache_fails_open_and_no_fallback_fails_answers(
        strict_app: tuple[App, RedisHA], sims: tuple[Sim, Sim]) -> None:
    app, redis = strict_app
    with app.client() as client:
        q = question()
        assert ask(client, q).json()["provider"] == "primary"
        assert ask(client, q).json()["provider"] == "cache"
        redis.redis.kill()
        redis.redis.wait(5)
        for _ in range(10):  # every answer still served, from the provider
            r = ask(client, q)
            assert r.status_code == 200 and r.json()["provider"] == "primary"
        ready = client.get("/readyz").json()
        assert ready["dependencies"]["cache"]["ok"] is False and ready["ready"] is True
        assert metric(app, "rag_cache_total", result="error") >= 1
        with ProviderControlClient(sims[0].control_url, sims[0].token) as primary:
            primary.set_fault("error", status=500)
            try:
                r = ask(client)
            finally:
                primary.clear()
    assert r.status_code == 503
    assert r.json()["error"] == "no dependency could answer"
    assert "degradation is disabled" in r.json()["detail"]
    assert r.headers["x-provider"] == "none" and r.headers["x-replica"] == "app-az-b"


# -- a third replica: vector tier in server mode, Qdrant unreachable ---------------------------


@pytest.mark.slow
def test_retrieval_down_answers_without_context_degraded(sims: tuple[Sim, Sim]) -> None:
    from conftest_app import free_port

    dead = free_port()  # nothing listens there: connection refused
    with app_process(primary=sims[0], fallback=sims[1], replica="app-az-c",
                     env={"RAG_QDRANT_MODE": "server",
                          "RAG_QDRANT_URL": f"http://127.0.0.1:{dead}",
                          "RAG_RETRIEVAL_TIMEOUT_S": "0.5"}) as app, app.client() as client:
        r = ask(client)
        ready = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert (body["provider"], body["degraded"], body["sources"]) == ("primary", True, [])
    assert r.headers["x-degraded"] == "true"
    assert "No context was provided" in body["answer"]
    assert ready.status_code == 503
    assert ready.json()["dependencies"]["retrieval"]["ok"] is False


