"""The reference stack's resilience knobs: one catalog, validated like everything else.

Experiments (``stack.knobs``) and the CLI (``--set KNOB=VALUE``) override these to ask "what if":
what if HAProxy did not retry, what if there were no fallback provider. The stack turns them into
HAProxy/Sentinel/Redis config and into the ``RAG_*`` environment of each app replica
(``reference_app`` reads the same names; a contract test keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

__all__ = ["KNOBS", "Knob", "KnobValues", "parse_assignment", "resolve_knobs"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Knob:
    name: str  # dotted: "<component>.<setting>"
    type: type  # bool | int | float | str
    default: Any
    help: str
    env: str | None = None  # RAG_* variable for app knobs
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def component(self) -> str:
        return self.name.split(".", 1)[0]

    def allowed(self) -> str:
        if self.type is bool:
            return "true or false"
        if self.choices:
            return ", ".join(self.choices)
        lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
        hi = "inf" if self.maximum is None else f"{self.maximum:g}"
        return f"{self.type.__name__} in [{lo}, {hi}]"

    def coerce(self, value: Any, *, file: str | None = None, field: str | None = None) -> Any:
        """Validate and convert ``value`` (a YAML value or a CLI string)."""
        field = field or self.name
        bad = ConfigError(f"invalid value for knob {self.name!r}", file=file, field=field,
                          value=value, allowed=self.allowed())
        if self.type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
                return False
            raise bad
        if self.type in (int, float):
            if isinstance(value, bool):
                raise bad
            try:
                if self.type is int:
                    if isinstance(value, float) and not value.is_integer():
                        raise ValueError
                    v: float = int(value)
                else:
                    v = float(value)
            except (TypeError, ValueError, OverflowError):
                raise bad from None
            if v != v or (self.minimum is not None and v < self.minimum) or (
                    self.maximum is not None and v > self.maximum):
                raise bad
            return v
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            raise bad
        return value


_K = Knob
KNOBS: Mapping[str, Knob] = {k.name: k for k in (
    # -- the app replicas (reference_app reads RAG_*) ---------------------------------------------
    _K(name="app.llm_timeout_s", type=float, default=2.0, minimum=0.05, maximum=120,
       env="RAG_LLM_TIMEOUT_S", help="ChatOpenAI request timeout per attempt"),
    _K(name="app.llm_max_retries", type=int, default=1, minimum=0, maximum=10,
       env="RAG_LLM_MAX_RETRIES", help="OpenAI SDK retries per provider before falling back"),
    _K(name="app.fallback_enabled", type=bool, default=True, env="RAG_FALLBACK_ENABLED",
       help="fall back to the secondary provider when the primary fails"),
    _K(name="app.breaker_enabled", type=bool, default=True, env="RAG_BREAKER_ENABLED",
       help="a circuit breaker around each provider"),
    _K(name="app.breaker_fail_max", type=int, default=5, minimum=1, maximum=1000,
       env="RAG_BREAKER_FAIL_MAX", help="consecutive failures that open a provider's breaker"),
    _K(name="app.breaker_reset_s", type=float, default=5.0, minimum=0.1, maximum=600,
       env="RAG_BREAKER_RESET_S", help="seconds an open breaker waits before a trial call"),
    _K(name="app.cache_enabled", type=bool, default=True, env="RAG_CACHE_ENABLED",
       help="LLM response cache in Redis (through Sentinel), failing open"),
    _K(name="app.cache_replica_reads", type=bool, default=True, env="RAG_CACHE_REPLICA_READS",
       help="while the Redis master is unreachable (e.g. during a Sentinel failover), read the "
            "cache from a replica instead of treating every lookup as a miss"),
    _K(name="app.degrade_enabled", type=bool, default=True, env="RAG_DEGRADE_ENABLED",
       help="answer degraded (passages only / no context) instead of failing"),
    _K(name="app.retrieval_timeout_s", type=float, default=1.0, minimum=0.05, maximum=60,
       env="RAG_RETRIEVAL_TIMEOUT_S", help="Qdrant search timeout"),
    _K(name="app.top_k", type=int, default=3, minimum=1, maximum=50, env="RAG_TOP_K",
       help="passages retrieved per question"),
    _K(name="app.redis_socket_timeout_s", type=float, default=0.25, minimum=0.01, maximum=30,
       env="RAG_REDIS_SOCKET_TIMEOUT_S", help="Redis command timeout (cache)"),
    _K(name="app.redis_connect_timeout_s", type=float, default=0.25, minimum=0.01, maximum=30,
       env="RAG_REDIS_CONNECT_TIMEOUT_S", help="Redis connect timeout (cache)"),
    _K(name="app.sentinel_socket_timeout_s", type=float, default=0.25, minimum=0.01, maximum=30,
       env="RAG_SENTINEL_SOCKET_TIMEOUT_S", help="Sentinel query timeout for master discovery"),
    _K(name="app.redis_via_toxiproxy", type=bool, default=False, env="RAG_REDIS_VIA_TOXIPROXY",
       help="route cache traffic through per-Redis Toxiproxy proxies (client-side address "
            "remap of what Sentinel hands out) so Redis latency toxics apply"),
    # -- HAProxy front door ---------------------------------------------------------------------
    _K(name="haproxy.retries", type=int, default=3, minimum=0, maximum=20,
       help="retries of a failed request to another server"),
    _K(name="haproxy.redispatch", type=bool, default=True,
       help="option redispatch: retry on a different server"),
    _K(name="haproxy.retry_on", type=str, default="all-retryable-errors",
       choices=("all-retryable-errors", "conn-failure empty-response response-timeout",
                "conn-failure", "none"),
       help="retry-on conditions (POSTs included)"),
    _K(name="haproxy.check_inter_ms", type=int, default=500, minimum=50, maximum=60000,
       help="active health check interval"),
    _K(name="haproxy.fall", type=int, default=2, minimum=1, maximum=100,
       help="failed checks before a server is marked DOWN"),
    _K(name="haproxy.rise", type=int, default=2, minimum=1, maximum=100,
       help="passed checks before a server is marked UP"),
    _K(name="haproxy.timeout_connect_ms", type=int, default=500, minimum=10, maximum=60000,
       help="timeout connect"),
    _K(name="haproxy.timeout_server_ms", type=int, default=10000, minimum=100, maximum=600000,
       help="timeout server (per attempt)"),
    _K(name="haproxy.server_maxconn", type=int, default=32, minimum=0, maximum=100000,
       help="requests in flight per app replica (0: no limit); more wait in HAProxy's queue, "
            "so a busy replica's event loop stays short enough to answer its health checks"),
    _K(name="haproxy.timeout_queue_ms", type=int, default=5000, minimum=100, maximum=600000,
       help="timeout queue: how long a request may wait for a free slot before a 503"),
    _K(name="haproxy.observe_layer7", type=bool, default=True,
       help="passive checks: mark a server DOWN after consecutive layer-7 errors"),
    # -- Redis and Sentinel ------------------------------------------------------------------------
    _K(name="sentinel.down_after_ms", type=int, default=1000, minimum=100, maximum=600000,
       help="down-after-milliseconds"),
    _K(name="sentinel.failover_timeout_ms", type=int, default=3000, minimum=500, maximum=3600000,
       help="failover-timeout"),
    _K(name="sentinel.quorum", type=int, default=2, minimum=1, maximum=3,
       help="sentinels that must agree the master is down"),
    _K(name="sentinel.parallel_syncs", type=int, default=1, minimum=1, maximum=2,
       help="parallel-syncs"),
    _K(name="redis.min_replicas_to_write", type=int, default=1, minimum=0, maximum=2,
       help="min-replicas-to-write on the master (bounds lost writes under partition)"),
    _K(name="redis.min_replicas_max_lag", type=int, default=2, minimum=1, maximum=3600,
       help="min-replicas-max-lag in seconds"),
    # -- simulated LLM providers ---------------------------------------------------------------------
    _K(name="provider.base_latency_ms", type=float, default=20.0, minimum=0, maximum=60000,
       help="provider simulators' base latency per completion"),
    _K(name="provider.tokens_per_s", type=float, default=2000.0, minimum=1, maximum=1e6,
       help="provider simulators' token rate (completion length / rate adds to latency)"),
)}


KnobValues = Mapping[str, Any]


def resolve_knobs(overrides: Mapping[str, Any] | None = None, *, file: str | None = None,
                  field_prefix: str = "stack.knobs") -> dict[str, Any]:
    """Defaults overlaid with validated overrides. Unknown names are a ConfigError."""
    values = {k.name: k.default for k in KNOBS.values()}
    for name, raw in (overrides or {}).items():
        knob = KNOBS.get(str(name))
        if knob is None:
            raise ConfigError("unknown knob", file=file, field=f"{field_prefix}.{name}",
                              value=name, allowed=sorted(KNOBS))
        values[knob.name] = knob.coerce(raw, file=file, field=f"{field_prefix}.{name}")
    return values


def parse_assignment(text: str) -> tuple[str, str]:
    """``KNOB=VALUE`` from the command line."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ConfigError("--set takes KNOB=VALUE", field="--set", value=text,
                          allowed=sorted(KNOBS))
    return name.strip(), value.strip()


def app_environment(values: Mapping[str, Any]) -> dict[str, str]:
    """The RAG_* environment for an app replica from resolved knob values."""
    env = {}
    for knob in KNOBS.values():
        if knob.env:
            v = values[knob.name]
            env[knob.env] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return env
