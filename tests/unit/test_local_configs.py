"""Pure configuration of the local stack: names, addresses, and every server's config."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ConfigError, StackError
from harness.knobs import KNOBS, resolve_knobs
from harness.stack.local import configs
from harness.stack.local.plan import PROXY_PORTS, choose_octet, make_plan, run_key
from harness.topology import EDGE, EXTERNAL, ZONES

CONTRACT_ENV = ("RAG_REPLICA", "RAG_API_KEY", "RAG_PRIMARY_URL", "RAG_FALLBACK_URL",
                "RAG_PROVIDER_KEY", "RAG_MODEL", "RAG_REDIS_SENTINELS", "RAG_REDIS_MASTER",
                "RAG_REDIS_ADDRESS_MAP", "RAG_QDRANT_MODE", "RAG_QDRANT_URL", "RAG_COLLECTION",
                "RAG_CORPUS", "RAG_HOST", "RAG_PORT")


def plan(netns: bool = True, octet: int = 7, run_id: str = "ab12cd"):
    return make_plan(run_id, netns_mode=netns, octet=octet)


# -- names and addresses ----------------------------------------------------------------------
@given(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", fullmatch=True))
def test_every_interface_name_fits_ifnamsiz(run_id: str) -> None:
    p = make_plan(run_id, netns_mode=True, octet=3)
    assert 3 <= len(p.key) <= 8
    assert all(len(link) <= 15 for link in p.links)
    assert all(p.key in name for name in (*p.links, *p.namespaces, p.tag))


def test_run_key_keeps_short_ids_and_hashes_long_ones() -> None:
    assert run_key("ab12cd") == "ab12cd"
    assert run_key("20261122-nightly-zone-loss") == run_key("20261122-nightly-zone-loss")
    assert run_key("20261122-nightly-zone-loss") != run_key("20261122-nightly-zone-lost")
    with pytest.raises(ConfigError):
        run_key("bad id with spaces")


def test_names_and_addresses_of_a_run() -> None:
    p = plan()
    assert p.netns("az-a") == "ch-ab12cd-a" and p.netns(EXTERNAL) == "ch-ab12cd-x"
    assert p.netns(EDGE) is None and p.bridge == "ch-ab12cd-br"
    assert p.ip(EDGE) == "10.213.7.1" and p.subnet == "10.213.7.0/24"
    assert len(set(p.addresses.values())) == 5
    assert p.place_of_ip("10.213.7.12") == "az-b" and p.place_of_ip("10.0.0.1") is None
    lo = plan(netns=False, octet=150)
    assert lo.namespaces == () and lo.links == () and lo.netns("az-a") is None
    assert all(ipaddress.ip_address(a).is_loopback for a in lo.addresses.values())


def test_choose_octet_avoids_routes_and_other_runs() -> None:
    occupied = [ipaddress.IPv4Network("10.213.0.0/17")]  # octets 0..127 are in use
    taken = set(range(128, 200))
    octet = choose_octet("ab12cd", taken=taken, occupied=occupied)
    assert 200 <= octet <= 254
    # deterministic for a key, different keys usually start elsewhere
    assert octet == choose_octet("ab12cd", taken=taken, occupied=occupied)
    with pytest.raises(StackError, match="no free /24"):
        choose_octet("x", taken=range(1, 255), occupied=[])
    whole = [ipaddress.IPv4Network("10.0.0.0/8")]
    with pytest.raises(StackError):
        choose_octet("x", taken=(), occupied=whole)


# -- Redis and Sentinel -----------------------------------------------------------------------
def test_redis_master_and_replicas() -> None:
    k = resolve_knobs({"redis.min_replicas_to_write": 0, "redis.min_replicas_max_lag": 7})
    p = plan()
    master = configs.redis_config(p, "az-a", k, data_dir="/d")
    assert "replicaof" not in master and "bind 10.213.7.11" in master
    assert "min-replicas-to-write 0" in master and "min-replicas-max-lag 7" in master
    for zone in ("az-b", "az-c"):
        rep = configs.redis_config(p, zone, k, data_dir="/d")
        assert "replicaof 10.213.7.11 6379" in rep
        assert f"replica-announce-ip {p.ip(zone)}" in rep
    assert 'save ""' in master and "appendonly no" in master


def test_sentinel_settings_follow_knobs_and_peers_are_known() -> None:
    k = resolve_knobs({"sentinel.quorum": 3, "sentinel.down_after_ms": 1500,
                       "sentinel.failover_timeout_ms": 4000, "sentinel.parallel_syncs": 2})
    p = plan()
    ids = {configs.sentinel_id(p, z) for z in ZONES}
    assert len(ids) == 3 and all(len(i) == 40 for i in ids)
    text = configs.sentinel_config(p, "az-b", k, data_dir="/s")
    assert "sentinel monitor mymaster 10.213.7.11 6379 3" in text
    assert "sentinel down-after-milliseconds mymaster 1500" in text
    assert "sentinel failover-timeout mymaster 4000" in text
    assert "sentinel parallel-syncs mymaster 2" in text
    assert "sentinel announce-ip 10.213.7.12" in text
    assert text.count("known-sentinel") == 2 and configs.sentinel_id(p, "az-b") not in \
        text.split("known-sentinel", 1)[1]
    assert text.count("known-replica") == 2


# -- HAProxy ------------------------------------------------------------------------------------
def test_haproxy_defaults() -> None:
    text = configs.haproxy_config(plan(), resolve_knobs(), stats_socket="/s/h.sock",
                                  cluster=False)
    assert "stats socket /s/h.sock mode 600 level admin" in text
    assert "retries 3" in text and "option redispatch 1" in text
    assert "retry-on all-retryable-errors" in text
    assert "http-check send meth GET uri /healthz" in text
    assert "inter 500 fastinter 500 downinter 500 fall 2 rise 2 observe layer7" in text
    assert "timeout connect 500ms" in text and "timeout server 10000ms" in text
    assert "on-error mark-down maxconn 32 on-marked-down" in text  # app servers only
    assert "timeout queue 5000ms" in text
    for zone in ZONES:
        assert f"server app-{zone} {plan().ip(zone)}:8000 check" in text
    assert "prometheus-exporter" in text and "backend qdrant" not in text
    assert "bind 10.213.7.1:8080" in text


def test_haproxy_follows_knobs_and_cluster_mode() -> None:
    k = resolve_knobs({"haproxy.retries": 0, "haproxy.redispatch": False,
                       "haproxy.retry_on": "none", "haproxy.observe_layer7": False,
                       "haproxy.check_inter_ms": 200, "haproxy.fall": 3, "haproxy.rise": 4})
    text = configs.haproxy_config(plan(), k, stats_socket="/s", cluster=True)
    assert "retries 0" in text and "no option redispatch" in text
    assert "retry-on none" in text and "observe layer7" not in text
    assert "inter 200 fastinter 200 downinter 200 fall 3 rise 4" in text
    assert "maxconn 32" in text.split("backend qdrant")[0]
    assert "maxconn 32" not in text.split("backend qdrant")[1]
    unlimited = configs.haproxy_config(plan(), resolve_knobs({"haproxy.server_maxconn": 0}),
                                       stats_socket="/s", cluster=False)
    assert "maxconn 32" not in unlimited and "  maxconn 5000" in unlimited
    assert "backend qdrant" in text and "uri /readyz" in text
    assert "server qdrant-az-c 10.213.7.13:6333 check" in text


# -- Toxiproxy and the app ----------------------------------------------------------------------
def test_toxiproxy_proxies() -> None:
    p = plan()
    proxies = {x["name"]: x for x in configs.toxiproxy_config(p, cluster=False)}
    assert set(proxies) == set(PROXY_PORTS) - {"qdrant"}
    assert proxies["provider-primary"]["upstream"] == "10.213.7.20:9001"
    assert proxies["redis-az-b"] == {"name": "redis-az-b", "listen": "10.213.7.1:16380",
                                     "upstream": "10.213.7.12:6379", "enabled": True}
    full = json.loads(configs.dumps_toxiproxy(p, cluster=True))
    assert {x["name"] for x in full} == set(PROXY_PORTS)
    assert next(x for x in full if x["name"] == "qdrant")["upstream"] == "10.213.7.1:6333"


def test_app_environment_is_complete_and_goes_through_toxiproxy() -> None:
    p = plan()
    k = resolve_knobs({"app.redis_via_toxiproxy": True, "app.llm_timeout_s": 3})
    env = configs.app_env(p, "az-c", k, api_key="K", provider_key="P", corpus="/c.jsonl",
                          collection="kb", cluster=False)
    assert set(CONTRACT_ENV) <= set(env)
    assert {kn.env for kn in KNOBS.values() if kn.env} <= set(env)
    assert env["RAG_REPLICA"] == "app-az-c" and env["RAG_HOST"] == "10.213.7.13"
    assert env["RAG_PRIMARY_URL"] == "http://10.213.7.1:18001/v1"  # Toxiproxy, not the sim
    assert env["RAG_FALLBACK_URL"] == "http://10.213.7.1:18002/v1"
    assert env["RAG_REDIS_VIA_TOXIPROXY"] == "true" and env["RAG_LLM_TIMEOUT_S"] == "3.0"
    assert env["RAG_REDIS_SENTINELS"] == "10.213.7.11:26379,10.213.7.12:26379,10.213.7.13:26379"
    pairs = dict(x.split("=") for x in env["RAG_REDIS_ADDRESS_MAP"].split(","))
    assert pairs == {"10.213.7.11:6379": "10.213.7.1:16379", "10.213.7.12:6379":
                     "10.213.7.1:16380", "10.213.7.13:6379": "10.213.7.1:16381"}
    assert env["RAG_QDRANT_MODE"] == "embedded"
    server = configs.app_env(p, "az-a", k, api_key="K", provider_key="P", corpus="/c",
                             collection="kb", cluster=True)
    assert server["RAG_QDRANT_MODE"] == "server"
    assert server["RAG_QDRANT_URL"] == "http://10.213.7.1:16333"


def test_provider_and_qdrant_command_lines() -> None:
    p = plan()
    k = resolve_knobs({"provider.base_latency_ms": 35, "provider.tokens_per_s": 500})
    argv = configs.provider_argv("/py", p, "fallback", k, token="T", seed=9)
    assert argv[:3] == ["/py", "-m", "harness.simulators.provider"]
    joined = " ".join(argv)
    assert "--host 10.213.7.20 --port 9002" in joined and "--control-port 9102" in joined
    assert "--latency-ms 35 --tokens-per-s 500 --seed 9" in joined and "--token=T" in joined

    assert configs.qdrant_argv("/q", p, "az-a") == ["/q", "--uri", "http://10.213.7.11:6335"]
    assert configs.qdrant_argv("/q", p, "az-b") == [
        "/q", "--bootstrap", "http://10.213.7.11:6335", "--uri", "http://10.213.7.12:6335"]
    env = configs.qdrant_env(p, "az-c", storage="/st")
    assert env["QDRANT__CLUSTER__ENABLED"] == "true"
    assert env["QDRANT__SERVICE__HOST"] == "10.213.7.13"


def test_a_provider_token_that_looks_like_an_option_still_starts_the_simulator() -> None:
    # Regression: "--token", "-x..." made argparse reject the simulator's command line, so the
    # stack failed to start whenever a random token began with "-".
    from harness.simulators.provider import _parse

    argv = configs.provider_argv("/py", plan(), "primary", resolve_knobs(), token="-Ab3", seed=1)
    assert _parse(argv[3:]).token == "-Ab3"
