"""The provider simulator, seen from a client: every fault kind, and counters that match."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest_app import Sim, provider_sim

from harness.errors import ConfigError, StackError
from harness.simulators.control import ProviderControlClient

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "Context:\n[kb-9] Kafka keeps serving. It is fine.\n\n"
                                        "Question: what does Kafka do?"}]
BODY = {"model": "sim-model", "messages": MESSAGES}


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    with provider_sim("primary", latency_ms=5, tokens_per_s=5000, seed=42) as s:
        yield s


@pytest.fixture()
def ctl(sim: Sim) -> Iterator[ProviderControlClient]:
    with ProviderControlClient(sim.control_url, sim.token) as c:
        c.clear()
        c.reset_counters()
        yield c
        c.clear()


@pytest.fixture()
def http(sim: Sim) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=2.0) as c:
        yield c


def sdk(sim: Sim, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.url, api_key="x", max_retries=0, **kw)  # type: ignore[arg-type]


def test_control_api_needs_the_token(sim: Sim) -> None:
    assert httpx.get(f"{sim.control_url}/counters").status_code == 401
    assert httpx.get(f"{sim.control_url}/counters",
                     headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{sim.control_url}/healthz").status_code == 200
    with ProviderControlClient(sim.control_url, "wrong") as bad, \
            pytest.raises(StackError, match="401"):
        bad.faults()


def test_bad_fault_is_a_config_error(ctl: ProviderControlClient) -> None:
    with pytest.raises(ConfigError, match="has no parameter 'code'"):
        ctl.set_fault("error", code=500)
    assert ctl.faults() == {}


def test_openai_sdk_completion_is_deterministic(sim: Sim, ctl: ProviderControlClient) -> None:
    with sdk(sim) as client:
        a = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        b = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        models = client.models.list()
    assert a.choices[0].message.content == b.choices[0].message.content
    assert a.choices[0].message.content.startswith("Kafka keeps serving. It is fine.")
    assert a.usage is not None and a.usage.completion_tokens > 5
    assert [m.id for m in models.data] == ["sim-model"]
    assert ctl.counters()["ok"] == 2


def test_streaming_matches_and_ends_with_done(sim: Sim, http: httpx.Client,
                                              ctl: ProviderControlClient) -> None:
    with sdk(sim) as client:
        full = client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        stream = client.chat.completions.create(model="m", messages=MESSAGES,  # type: ignore[arg-type]
                                                stream=True)
        text = "".join(c.choices[0].delta.content or "" for c in stream)
    assert text == full.choices[0].message.content
    with http.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as r:
        lines = [line for line in r.iter_lines() if line]
    assert r.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[-2][6:])["choices"][0]["finish_reason"] == "stop"
    counts = ctl.counters()
    assert (counts["ok"], counts["streams"], counts["requests"]) == (3, 2, 3)


def test_error_fault(sim: Sim, ctl: ProviderControlClient) -> None:
    ctl.set_fault("error", status=502)
    with sdk(sim) as client, pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert info.value.status_code == 502
    ctl.set_fault("error", status=400)
    with sdk(sim) as client, pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    counts = ctl.counters()
    assert (counts["error_5xx"], counts["error_4xx"], counts["ok"]) == (1, 1, 0)


def test_error_rate_counts_match_the_client(http: httpx.Client,
                                            ctl: ProviderControlClient) -> None:
    ctl.set_fault("error", status=500, rate=0.4)
    statuses = [http.post("/chat/completions", json=BODY).status_code for _ in range(200)]
    counts = ctl.counters()
    assert counts["error_5xx"] == statuses.count(500)
    assert counts["ok"] == statuses.count(200)
    assert counts["requests"] == 200
    assert 50 < statuses.count(500) < 110


def test_rate_limit_fault(http: httpx.Client, ctl: ProviderControlClient) -> None:
    ctl.set_fault("rate_limit", retry_after_s=3)
    r = http.post("/chat/completions", json=BODY)
    assert r.status_code == 429 and r.headers["retry-after"] == "3"
    assert r.json()["error"]["code"] == "rate_limit_exceeded"
    assert ctl.counters()["rate_limited"] == 1


def test_latency_fault(http: httpx.Client, ctl: ProviderControlClient) -> None:
    t0 = time.monotonic()
    http.post("/chat/completions", json=BODY)
    base = time.monotonic() - t0
    ctl.set_fault("latency", ms=300, jitter_ms=0)
    t0 = time.monotonic()
    assert http.post("/chat/completions", json=BODY).status_code == 200
    assert time.monotonic() - t0 >= 0.3 > base
    counts = ctl.counters()
    assert (counts["ok"], counts["delayed"]) == (2, 1)


def test_hang_fault_until_client_timeout(sim: Sim, ctl: ProviderControlClient) -> None:
    ctl.set_fault("hang")
    t0 = time.monotonic()
    with httpx.Client(base_url=sim.url, timeout=0.5) as c, pytest.raises(httpx.ReadTimeout):
        c.post("/chat/completions", json=BODY)
    assert time.monotonic() - t0 >= 0.5
    assert ctl.counters()["hung"] == 1


def test_slow_stream_fault(http: httpx.Client, ctl: ProviderControlClient) -> None:
    ctl.set_fault("slow_stream", tokens_per_s=40)
    t0 = time.monotonic()
    with http.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as r:
        chunks = [line for line in r.iter_lines() if line.startswith("data: {")]
    elapsed = time.monotonic() - t0
    n_words = len(chunks) - 2  # role chunk and finish chunk
    assert elapsed >= (n_words - 1) / 40 * 0.9
    assert ctl.counters()["ok"] == 1


def _content_chunks(r: httpx.Response, got: list[str]) -> None:
    for line in r.iter_lines():
        if line.startswith("data: {"):
            delta = json.loads(line[6:])["choices"][0]["delta"]
            if delta.get("content"):
                got.append(delta["content"])


def test_stall_stream_fault(sim: Sim, ctl: ProviderControlClient) -> None:
    ctl.set_fault("stall_stream", after_tokens=2)
    got: list[str] = []
    with httpx.Client(base_url=sim.url, timeout=0.5) as c, pytest.raises(httpx.ReadTimeout), \
            c.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as r:
        _content_chunks(r, got)
    assert len(got) == 2
    with httpx.Client(base_url=sim.url, timeout=0.5) as c, pytest.raises(httpx.ReadTimeout):
        c.post("/chat/completions", json=BODY)  # non-streaming: half a body, then nothing
    assert ctl.counters()["stalled"] == 2


def test_disconnect_fault(http: httpx.Client, ctl: ProviderControlClient) -> None:
    ctl.set_fault("disconnect", after_tokens=3)
    got: list[str] = []
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)), \
            http.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as r:
        _content_chunks(r, got)
    assert len(got) == 3
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post("/chat/completions", json=BODY)
    assert ctl.counters()["disconnected"] == 2


def test_malformed_fault(sim: Sim, ctl: ProviderControlClient) -> None:
    ctl.set_fault("malformed")
    r = httpx.post(f"{sim.url}/chat/completions", json=BODY, timeout=2)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    with sdk(sim) as client, pytest.raises(Exception) as info:
        client.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert not isinstance(info.value, openai.APIStatusError)
    assert ctl.counters()["malformed"] == 2


def test_outage_fault_modes(sim: Sim, ctl: ProviderControlClient) -> None:
    ctl.set_fault("outage")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
        httpx.post(f"{sim.url}/chat/completions", json=BODY, timeout=2)
    ctl.set_fault("outage", mode="503")
    assert httpx.post(f"{sim.url}/chat/completions", json=BODY, timeout=2).status_code == 503
    ctl.clear("outage")
    assert httpx.post(f"{sim.url}/chat/completions", json=BODY, timeout=2).status_code == 200
    counts = ctl.counters()
    assert (counts["outage"], counts["ok"]) == (2, 1)
    assert ctl.reset_counters()["outage"] == 2 and ctl.counters()["outage"] == 0
