"""The HTTP face of one replica (FastAPI): ``/v1/answer``, ``/v1/documents`` (the write path,
:mod:`reference_app.ingest`), ``/healthz``, ``/readyz``, ``/metrics``.

Every response carries ``X-Replica``, ``X-Degraded`` (``true``/``false``) and ``X-Provider``
(``primary``|``fallback``|``cache``|``none``), added by a pure-ASGI middleware when a handler did
not set them. Handlers encode JSON themselves (no pydantic models on the hot path).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from langchain_openai import ChatOpenAI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_app.breaker import CircuitBreaker
from reference_app.cache import SentinelCache
from reference_app.config import Settings
from reference_app.ingest import IngestError, Ingestor, parse_write
from reference_app.metrics import BREAKER_STATE_VALUE, Metrics
from reference_app.retrieval import Retriever
from reference_app.service import Provider, RagService, Unavailable

__all__ = ["build_service", "create_app"]

MAX_QUESTION = 4000


class ReplicaHeaders:
    """Pure ASGI middleware: default X-Replica / X-Degraded / X-Provider on every response."""

    def __init__(self, app: ASGIApp, replica: str) -> None:
        self.app = app
        self.defaults = [(b"x-replica", replica.encode()), (b"x-degraded", b"false"),
                         (b"x-provider", b"none")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.defaults if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def build_service(settings: Settings, metrics: Metrics) -> RagService:
    def on_change(name: str, state: str) -> None:
        metrics.breaker_state.labels(name).set(BREAKER_STATE_VALUE[state])

    def breaker(name: str, fail_max: int, reset_s: float) -> CircuitBreaker:
        return CircuitBreaker(name, fail_max=fail_max, reset_s=reset_s,
                              enabled=settings.breaker_enabled, on_change=on_change)

    urls = [("primary", settings.primary_url)]
    if settings.fallback_enabled and settings.fallback_url:
        urls.append(("fallback", settings.fallback_url))
    providers = [Provider(name=name, breaker=breaker(name, settings.breaker_fail_max,
                                                     settings.breaker_reset_s),
                          llm=ChatOpenAI(model=settings.model, base_url=url,
                                         api_key=settings.provider_key,  # type: ignore[arg-type]
                                         timeout=settings.llm_timeout_s,
                                         max_retries=settings.llm_max_retries, temperature=0.0))
                 for name, url in urls]
    cache = None
    if settings.cache_enabled and settings.redis_sentinels:
        cache = SentinelCache(
            sentinels=settings.redis_sentinels, master=settings.redis_master,
            socket_timeout=settings.redis_socket_timeout_s,
            connect_timeout=settings.redis_connect_timeout_s,
            sentinel_timeout=settings.sentinel_socket_timeout_s,
            address_map=settings.redis_address_map if settings.redis_via_toxiproxy else None,
            ttl_s=settings.cache_ttl_s, breaker=breaker("cache", 3, 1.0),
            replica_breaker=(breaker("cache-replica", 3, 1.0)
                             if settings.cache_replica_reads else None),
            on_result=metrics.cache_result)
    return RagService(settings, retriever=Retriever(settings), metrics=metrics,
                      providers=providers, cache=cache)


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(obj, separators=(",", ":")), status_code=status,
                    media_type="application/json", headers=headers)


def create_app(settings: Settings) -> ASGIApp:
    metrics = Metrics()
    state: dict[str, RagService] = {}
    writers: dict[str, Ingestor] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["svc"] = svc = build_service(settings, metrics)
        writers["ingest"] = ingestor = Ingestor(settings, svc.retriever, svc.cache)
        print(f"reference_app {settings.replica} ready on http://{settings.host}:"
              f"{settings.port} (qdrant {settings.qdrant_mode}, "
              f"{len(svc.retriever.documents)} documents, providers "
              f"{[p.name for p in svc.providers]}, cache "
              f"{'on' if svc.cache else 'off'})", flush=True)
        try:
            yield
        finally:
            ingestor.close()
            if svc.cache is not None:
                await svc.cache.aclose()
            svc.retriever.close()

    app = FastAPI(title="reference RAG service", lifespan=lifespan, docs_url=None,
                  redoc_url=None, openapi_url=None)
    key = settings.api_key.encode()

    @app.post("/v1/answer")
    async def answer(request: Request) -> Response:
        t0 = time.perf_counter()
        if not hmac.compare_digest(request.headers.get("x-api-key", "").encode(), key):
            metrics.requests.labels("401", "none").inc()
            return _json(401, {"error": "missing or wrong X-API-Key header"})
        try:
            question = json.loads(await request.body())["question"]
            if not isinstance(question, str) or not question.strip():
                raise ValueError
        except (ValueError, KeyError, TypeError):
            metrics.requests.labels("400", "none").inc()
            return _json(400, {"error": 'expected a JSON body {"question": "<non-empty '
                                        'string>"}'})
        if len(question) > MAX_QUESTION:
            metrics.requests.labels("400", "none").inc()
            return _json(400, {"error": f"question longer than {MAX_QUESTION} characters"})
        try:
            result = await state["svc"].answer(question)
        except Unavailable as exc:
            metrics.requests.labels("503", "none").inc()
            metrics.latency.observe(time.perf_counter() - t0)
            return _json(503, {"error": "no dependency could answer", "detail": exc.reason,
                               "replica": settings.replica})
        metrics.requests.labels("200", result.provider).inc()
        metrics.latency.observe(time.perf_counter() - t0)
        degraded = "true" if result.degraded else "false"
        return _json(200, {"answer": result.answer, "sources": result.sources,
                           "degraded": result.degraded, "provider": result.provider,
                           "replica": settings.replica, "cached": result.cached},
                     {"X-Degraded": degraded, "X-Provider": result.provider})

    @app.post("/v1/documents")
    async def documents(request: Request) -> Response:
        if not hmac.compare_digest(request.headers.get("x-api-key", "").encode(), key):
            return _json(401, {"error": "missing or wrong X-API-Key header"})
        try:
            req = parse_write(json.loads(await request.body()))
        except ValueError as exc:
            return _json(400, {"error": str(exc)})
        try:
            result = await writers["ingest"].apply(req)
        except IngestError as exc:
            metrics.writes.labels(req.op, "none").inc()
            return _json(503, {"error": "the write was not acknowledged", "detail": str(exc),
                               "write_id": req.write_id, "acknowledged": [],
                               "replica": settings.replica}, {"X-Write-Acked": ""})
        acked = ",".join(result.acknowledged)
        metrics.writes.labels(req.op, acked.replace(",", "+")).inc()
        return _json(200, {**result.to_json(), "replica": settings.replica},
                     {"X-Write-Acked": acked})

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json(200, {"status": "ok", "replica": settings.replica})

    @app.get("/readyz")
    async def readyz() -> Response:
        svc = state["svc"]
        report = await _readiness(svc)
        return _json(200 if report["ready"] else 503, report)

    @app.get("/metrics")
    async def prometheus() -> Response:
        svc = state.get("svc")
        if svc is not None:
            for br in _breakers(svc):
                metrics.breaker_state.labels(br.name).set(BREAKER_STATE_VALUE[br.state])
                metrics.breaker_opens.labels(br.name).set(br.opens)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return ReplicaHeaders(app, settings.replica)


def _breakers(svc: RagService) -> list[CircuitBreaker]:
    out = [p.breaker for p in svc.providers]
    if svc.cache is not None:
        out.append(svc.cache.breaker)
        if svc.cache.replica_breaker is not None:
            out.append(svc.cache.replica_breaker)
    return out


async def _readiness(svc: RagService) -> dict[str, Any]:
    """Ready = retrieval works and at least one provider's breaker is not open.

    The cache never decides readiness (it fails open). Do not point a load balancer's health
    check here: a shared dependency outage would take every replica out; use /healthz.
    """
    retrieval = await asyncio.to_thread(svc.retriever.readiness) if (
        svc.settings.qdrant_mode == "server") else svc.retriever.readiness()
    providers = {p.name: {**p.breaker.snapshot(), "last_error": p.last_error}
                 for p in svc.providers}
    if svc.cache is None:
        cache: dict[str, Any] = {"ok": True, "enabled": False}
    else:
        ok, detail = await svc.cache.aping()
        cache = {"ok": ok, "enabled": True, "detail": detail,
                 "breaker": svc.cache.breaker.snapshot(), "last_error": svc.cache.last_error}
    ready = bool(retrieval["ok"]) and any(p["state"] != "open" for p in providers.values())
    return {"replica": svc.settings.replica, "ready": ready,
            "breakers": {br.name: br.state for br in _breakers(svc)},
            "dependencies": {"retrieval": retrieval, "cache": cache, "providers": providers}}
