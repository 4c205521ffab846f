"""The service's configuration, read once from ``RAG_*`` environment variables.

Two groups: the resilience **knobs** (same names and defaults as the harness's knob catalog;
a contract test keeps them in step, this package never imports the harness) and the **wiring**
(where the providers, Redis/Sentinel and Qdrant are). ``reference_app/README.md`` lists all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KNOB_ENV", "WRITE_ORDERINGS", "ConfigurationError", "Settings", "load_settings"]

#: knob environment variable -> (type, default). Must match harness/knobs.py.
KNOB_ENV: Mapping[str, tuple[type, Any]] = {
    "RAG_LLM_TIMEOUT_S": (float, 2.0),
    "RAG_LLM_MAX_RETRIES": (int, 1),
    "RAG_FALLBACK_ENABLED": (bool, True),
    "RAG_BREAKER_ENABLED": (bool, True),
    "RAG_BREAKER_FAIL_MAX": (int, 5),
    "RAG_BREAKER_RESET_S": (float, 5.0),
    "RAG_CACHE_ENABLED": (bool, True),
    "RAG_CACHE_REPLICA_READS": (bool, True),
    "RAG_DEGRADE_ENABLED": (bool, True),
    "RAG_RETRIEVAL_TIMEOUT_S": (float, 1.0),
    "RAG_TOP_K": (int, 3),
    "RAG_REDIS_SOCKET_TIMEOUT_S": (float, 0.25),
    "RAG_REDIS_CONNECT_TIMEOUT_S": (float, 0.25),
    "RAG_SENTINEL_SOCKET_TIMEOUT_S": (float, 0.25),
    "RAG_REDIS_VIA_TOXIPROXY": (bool, False),
}

#: Qdrant write orderings (``RAG_QDRANT_WRITE_ORDERING``), weakest first.
WRITE_ORDERINGS = ("weak", "medium", "strong")

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "corpus" / "documents.jsonl"


class ConfigurationError(Exception):
    """A RAG_* variable is missing or malformed (names it, says what is allowed)."""


def _parse(name: str, typ: type, raw: str) -> Any:
    try:
        if typ is bool:
            low = raw.strip().lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError
        return typ(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a valid {typ.__name__}") from None


def _address_map(raw: str) -> dict[tuple[str, int], tuple[str, int]]:
    out: dict[tuple[str, int], tuple[str, int]] = {}
    for item in filter(None, (p.strip() for p in raw.split(","))):
        real, sep, proxy = item.partition("=")
        if not sep:
            raise ConfigurationError(f"RAG_REDIS_ADDRESS_MAP item {item!r}: expected "
                                     "realhost:port=proxyhost:port")
        out[_hostport(real, "RAG_REDIS_ADDRESS_MAP")] = _hostport(proxy, "RAG_REDIS_ADDRESS_MAP")
    return out


def _hostport(text: str, var: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigurationError(f"{var}: {text!r} is not host:port")
    return host, int(port)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    # knobs
    llm_timeout_s: float = 2.0
    llm_max_retries: int = 1
    fallback_enabled: bool = True
    breaker_enabled: bool = True
    breaker_fail_max: int = 5
    breaker_reset_s: float = 5.0
    cache_enabled: bool = True
    cache_replica_reads: bool = True
    degrade_enabled: bool = True
    retrieval_timeout_s: float = 1.0
    top_k: int = 3
    redis_socket_timeout_s: float = 0.25
    redis_connect_timeout_s: float = 0.25
    sentinel_socket_timeout_s: float = 0.25
    redis_via_toxiproxy: bool = False
    # wiring
    replica: str = "app"
    api_key: str
    primary_url: str
    fallback_url: str = ""
    provider_key: str = "sim-key"
    model: str = "sim-model"
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_master: str = "mymaster"
    redis_address_map: Mapping[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    cache_ttl_s: int = 3600
    qdrant_mode: str = "embedded"
    qdrant_url: str = ""
    qdrant_shards: int = 3
    qdrant_replication: int = 2
    qdrant_write_consistency: int = 1
    qdrant_write_ordering: str = "medium"
    ingest_timeout_s: float = 5.0
    collection: str = "kb"
    corpus: Path = DEFAULT_CORPUS
    embed_dim: int = 512
    host: str = "127.0.0.1"
    port: int = 8000


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``env`` (default ``os.environ``); ConfigurationError on bad input."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for var, (typ, default) in KNOB_ENV.items():
        values[var[4:].lower()] = _parse(var, typ, env[var]) if env.get(var) else default
    for var in ("RAG_API_KEY", "RAG_PRIMARY_URL"):
        if not env.get(var):
            raise ConfigurationError(f"{var} is required (e.g. RAG_API_KEY=secret, "
                                     "RAG_PRIMARY_URL=http://127.0.0.1:9001/v1)")
    mode = env.get("RAG_QDRANT_MODE", "embedded")
    if mode not in ("embedded", "server"):
        raise ConfigurationError(f"RAG_QDRANT_MODE={mode!r}; allowed: embedded, server")
    if mode == "server" and not env.get("RAG_QDRANT_URL"):
        raise ConfigurationError("RAG_QDRANT_MODE=server needs RAG_QDRANT_URL "
                                 "(e.g. http://127.0.0.1:6333, the Qdrant front door)")
    ordering = env.get("RAG_QDRANT_WRITE_ORDERING") or "medium"
    if ordering not in WRITE_ORDERINGS:
        raise ConfigurationError(f"RAG_QDRANT_WRITE_ORDERING={ordering!r}; allowed: "
                                 + ", ".join(WRITE_ORDERINGS))
    ingest_timeout = (_parse("RAG_INGEST_TIMEOUT_S", float, env["RAG_INGEST_TIMEOUT_S"])
                      if env.get("RAG_INGEST_TIMEOUT_S") else 5.0)
    if not ingest_timeout > 0:
        raise ConfigurationError(f"RAG_INGEST_TIMEOUT_S={ingest_timeout!r}: must be > 0")
    sentinels = tuple(_hostport(s, "RAG_REDIS_SENTINELS")
                      for s in env.get("RAG_REDIS_SENTINELS", "").split(",") if s.strip())
    ints = {name: _parse(var, int, env[var]) for name, var in (
        ("cache_ttl_s", "RAG_CACHE_TTL_S"), ("qdrant_shards", "RAG_QDRANT_SHARDS"),
        ("qdrant_replication", "RAG_QDRANT_REPLICATION"),
        ("qdrant_write_consistency", "RAG_QDRANT_WRITE_CONSISTENCY"),
        ("embed_dim", "RAG_EMBED_DIM"), ("port", "RAG_PORT")) if env.get(var)}
    return Settings(
        **values, **ints,
        replica=env.get("RAG_REPLICA") or "app",
        api_key=env["RAG_API_KEY"],
        primary_url=env["RAG_PRIMARY_URL"],
        fallback_url=env.get("RAG_FALLBACK_URL", ""),
        provider_key=env.get("RAG_PROVIDER_KEY") or "sim-key",
        model=env.get("RAG_MODEL") or "sim-model",
        redis_sentinels=sentinels,
        redis_master=env.get("RAG_REDIS_MASTER") or "mymaster",
        redis_address_map=_address_map(env.get("RAG_REDIS_ADDRESS_MAP", "")),
        qdrant_mode=mode,
        qdrant_url=env.get("RAG_QDRANT_URL", ""),
        qdrant_write_ordering=ordering,
        ingest_timeout_s=ingest_timeout,
        collection=env.get("RAG_COLLECTION") or "kb",
        corpus=Path(env.get("RAG_CORPUS") or DEFAULT_CORPUS),
        host=env.get("RAG_HOST") or "127.0.0.1",
    )
