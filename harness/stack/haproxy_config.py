"""HAProxy's configuration from the knobs, one generator for every substrate, so a knob means
the same directive everywhere (the docker substrate swaps in Docker names and DNS afterwards:
``harness.stack.docker.configs.dockerize_haproxy``). Pure: no disk, no network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.stack.ports import (
    APP_PORT,
    FRONT_PORT,
    QDRANT_FRONT_PORT,
    QDRANT_HTTP_PORT,
    STATS_PORT,
)
from harness.topology import EDGE, ZONES

__all__ = ["OBSERVE_ERROR_LIMIT", "haproxy_config"]

#: consecutive layer-7 errors before passive checks mark a server DOWN (knob haproxy.observe_layer7)
OBSERVE_ERROR_LIMIT = 10


def haproxy_config(addresses: Mapping[str, str], knobs: Mapping[str, Any], *, stats_socket: str,
                   cluster: bool) -> str:
    """The whole HAProxy configuration; ``addresses`` maps each place (zones, ``edge``) to the
    address its servers and HAProxy's binds use."""
    edge = addresses[EDGE]
    inter, fall, rise = (knobs["haproxy.check_inter_ms"], knobs["haproxy.fall"],
                         knobs["haproxy.rise"])
    default_server = f"inter {inter} fastinter {inter} downinter {inter} fall {fall} rise {rise}"
    if knobs["haproxy.observe_layer7"]:
        default_server += f" observe layer7 error-limit {OBSERVE_ERROR_LIMIT} on-error mark-down"
    app_server = default_server
    if knobs["haproxy.server_maxconn"]:
        # queue at the load balancer, not in the replica: with a single-threaded replica every
        # request in flight is CPU work ahead of its /healthz answer
        app_server += f" maxconn {knobs['haproxy.server_maxconn']}"
    out = [
        "global",  # no log target: in foreground (-db) state changes go to stderr once
        f"  stats socket {stats_socket} mode 600 level admin",
        "  maxconn 5000",
        "  hard-stop-after 3s",
        "",
        "defaults",
        "  mode http",
        f"  timeout connect {knobs['haproxy.timeout_connect_ms']}ms",
        "  timeout client 60s",
        f"  timeout server {knobs['haproxy.timeout_server_ms']}ms",
        f"  timeout check {max(100, min(int(inter), 2000))}ms",
        f"  timeout queue {knobs['haproxy.timeout_queue_ms']}ms",
        "  timeout http-keep-alive 10s",
        f"  retries {knobs['haproxy.retries']}",
        "  option redispatch 1" if knobs["haproxy.redispatch"] else "  no option redispatch",
        f"  retry-on {knobs['haproxy.retry_on']}",
        "",
        "frontend front",
        f"  bind {edge}:{FRONT_PORT}",
        "  default_backend app",
        "",
        "backend app",
        "  balance roundrobin",
        "  option httpchk",
        "  http-check send meth GET uri /healthz",
        "  http-check expect status 200",
        f"  default-server {app_server} on-marked-down shutdown-sessions",
    ]
    out += [f"  server app-{z} {addresses[z]}:{APP_PORT} check" for z in ZONES]
    out += [
        "",
        "frontend stats",
        f"  bind {edge}:{STATS_PORT}",
        "  http-request use-service prometheus-exporter if { path /metrics }",
        "  stats enable",
        "  stats uri /stats",
        "  stats refresh 2s",
    ]
    if cluster:
        out += [
            "",
            "frontend qdrant_front",
            f"  bind {edge}:{QDRANT_FRONT_PORT}",
            "  default_backend qdrant",
            "",
            "backend qdrant",
            "  balance roundrobin",
            "  option httpchk",
            "  http-check send meth GET uri /readyz",
            "  http-check expect status 200",
            f"  default-server {default_server}",
        ]
        out += [f"  server qdrant-{z} {addresses[z]}:{QDRANT_HTTP_PORT} check" for z in ZONES]
    return "\n".join(out) + "\n"
