from __future__ import annotations

from pathlib import Path

import pytest

from reference_app.config import ConfigurationError, load_settings

WIRING = {"RAG_API_KEY": "k", "RAG_PRIMARY_URL": "http://127.0.0.1:1/v1"}


def test_wiring_is_parsed() -> None:
    s = load_settings({**WIRING, "RAG_REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26380",
                       "RAG_REDIS_ADDRESS_MAP": "10.0.0.5:6379=127.0.0.1:16379",
                       "RAG_REPLICA": "app-az-b", "RAG_CORPUS": "/tmp/x.jsonl",
                       "RAG_PORT": "9000", "RAG_QDRANT_MODE": "server",
                       "RAG_QDRANT_URL": "http://127.0.0.1:6333"})
    assert s.redis_sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    assert s.redis_address_map == {("10.0.0.5", 6379): ("127.0.0.1", 16379)}
    assert (s.replica, s.corpus, s.port, s.qdrant_mode) == ("app-az-b", Path("/tmp/x.jsonl"),
                                                            9000, "server")
    assert s.redis_master == "mymaster" and s.fallback_url == ""


@pytest.mark.parametrize(("env", "needle"), [
    ({}, "RAG_API_KEY is required"),
    ({"RAG_API_KEY": "k"}, "RAG_PRIMARY_URL is required"),
    ({**WIRING, "RAG_TOP_K": "three"}, "RAG_TOP_K='three' is not a valid int"),
    ({**WIRING, "RAG_FALLBACK_ENABLED": "maybe"}, "RAG_FALLBACK_ENABLED"),
    ({**WIRING, "RAG_QDRANT_MODE": "cluster"}, "allowed: embedded, server"),
    ({**WIRING, "RAG_QDRANT_MODE": "server"}, "needs RAG_QDRANT_URL"),
    ({**WIRING, "RAG_REDIS_SENTINELS": "nohost"}, "is not host:port"),
    ({**WIRING, "RAG_REDIS_ADDRESS_MAP": "a:1"}, "realhost:port=proxyhost:port"),
])
def test_bad_configuration_names_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigurationError, match=needle.replace("(", r"\(")):
        load_settings(env)
