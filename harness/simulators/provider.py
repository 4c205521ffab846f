"""A simulated OpenAI-compatible LLM provider with a fault-control API.

``python -m harness.simulators.provider --name primary --host H --port P --control-host H
--control-port C --token T [--latency-ms 20] [--tokens-per-s 2000] [--seed N]``

Serves ``POST /v1/chat/completions`` (JSON, or SSE with ``stream: true`` ending in
``data: [DONE]``), ``GET /v1/models`` and ``GET /healthz``. Answers are deterministic (derived
from the prompt); a completion takes ``latency_ms + completion_tokens / tokens_per_s``. The
control API (another port, bearer token) switches faults on and off and reports what was served
by outcome (see :mod:`harness.simulators.faults` and :mod:`harness.simulators.control`).

Stream faults also hit non-streaming requests: ``slow_stream`` stretches the generation time to
``completion_tokens / tokens_per_s``; ``stall_stream`` and ``disconnect`` send the response head
and the first half of the JSON body, then stall until the client gives up, or reset the
connection. Counters (``GET /counters`` on the control port) count each completion request once,
in the outcome decided for it: ok, error_5xx, error_4xx, rate_limited, hung, stalled,
disconnected, malformed, outage, bad_request; plus ``requests``, ``streams``, ``delayed``
(latency or slow-stream applied) and ``models``.

``outage`` cannot refuse connections while listening: by default (``mode=reset``) it drops every
completion request's connection with a TCP reset before any response byte (clients see a
connection error); ``mode=503`` answers 503 at once instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import sys
import time
from collections import Counter
from hashlib import blake2b
from typing import Any

from harness.simulators.faults import FaultSet, Plan
from harness.simulators.httpserver import Connection, HttpServer, Request

__all__ = ["OUTCOMES", "ProviderSimulator", "main", "make_answer"]

#: Outcome counters, each completion request counted in exactly one when its fate is decided.
OUTCOMES = ("ok", "error_5xx", "error_4xx", "rate_limited", "hung", "stalled", "disconnected",
            "malformed", "outage", "bad_request")
_SENTENCE = re.compile(r"(?<=[.!?])\s")


def _user_text(messages: Any) -> str:
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, list):
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content)
    return ""


def make_answer(name: str, messages: Any) -> str:
    """A deterministic answer: the first sentence of the first context passage, if any."""
    text = _user_text(messages)
    digest = blake2b(text.encode(), digest_size=4).hexdigest()
    question = text.rsplit("Question:", 1)[-1].strip() or "(empty)"
    passage = ""
    if "Context:" in text:
        for line in text.split("Context:", 1)[1].splitlines():
            line = line.strip()
            if line.startswith("["):
                passage = line.split("]", 1)[-1].strip()
                break
    first = " ".join(_SENTENCE.split(passage)[:2]) if passage else "No context was provided."
    return f"{first} This answers: {question} [sim {name} {digest}]"


class ProviderSimulator:
    """The completion server's behaviour; ``serve()`` runs both listeners."""

    def __init__(self, *, name: str, latency_ms: float = 20.0, tokens_per_s: float = 2000.0,
                 seed: int = 0, token: str) -> None:
        self.name = name
        self.latency_s = latency_ms / 1000.0
        self.tokens_per_s = tokens_per_s
        self.token = token
        self.faults = FaultSet(seed)
        self.counters: Counter[str] = Counter()

    # -- completions --------------------------------------------------------------------------

    async def handle(self, req: Request, conn: Connection) -> None:
        if req.path == "/v1/chat/completions" and req.method == "POST":
            await self._completion(req, conn)
        elif req.path == "/v1/models" and req.method == "GET":
            self.counters["models"] += 1
            await conn.send_json(200, {"object": "list", "data": [
                {"id": "sim-model", "object": "model", "created": 0, "owned_by": self.name}]})
        elif req.path == "/healthz":
            await conn.send_json(200, {"status": "ok", "name": self.name})
        else:
            await conn.send_json(404, _error(f"no route {req.method} {req.path}", "not_found"))

    async def _completion(self, req: Request, conn: Connection) -> None:
        self.counters["requests"] += 1
        try:
            body = req.json()
            messages = body["messages"]
            model = str(body.get("model", "sim-model"))
            stream = bool(body.get("stream", False))
        except (ValueError, KeyError, TypeError) as exc:
            self.counters["bad_request"] += 1
            await conn.send_json(400, _error(f"expected a JSON body with 'messages': {exc}",
                                             "invalid_request_error"))
            return
        if stream:
            self.counters["streams"] += 1
        plan = self.faults.plan()
        if plan.action != "ok":
            await self._misbehave(plan, conn)
            return
        answer = make_answer(self.name, messages)
        tokens_per_s = plan.tokens_per_s or self.tokens_per_s
        if plan.extra_delay_s or plan.tokens_per_s:
            self.counters["delayed"] += 1
        delay = self.latency_s + plan.extra_delay_s
        if stream:
            await self._stream(conn, plan, answer, model, delay, tokens_per_s)
        else:
            await self._respond(conn, plan, answer, model, _user_text(messages),
                                delay + len(answer.split(" ")) / tokens_per_s)

    async def _misbehave(self, plan: Plan, conn: Connection) -> None:
        if plan.action == "outage":
            self.counters["outage"] += 1
            if plan.outage_mode == "reset":
                conn.abort()
            else:
                await conn.send_json(503, _error("simulated provider outage", "server_error"))
        elif plan.action == "hang":
            self.counters["hung"] += 1
            await conn.wait_client_close()
        elif plan.action == "error":
            self.counters["error_5xx" if plan.status >= 500 else "error_4xx"] += 1
            await conn.send_json(plan.status, _error(f"simulated error {plan.status}",
                                                     "server_error"))
        else:
            self.counters["rate_limited"] += 1
            await conn.send_json(429, _error("simulated rate limit", "rate_limit_exceeded"),
                                 headers={"Retry-After": f"{plan.retry_after_s:g}"})

    async def _respond(self, conn: Connection, plan: Plan, answer: str, model: str,
                       prompt: str, delay: float) -> None:
        await asyncio.sleep(delay)
        n_out, n_in = len(answer.split(" ")), len(prompt.split())
        body = json.dumps({
            "id": f"chatcmpl-{self.name}-{self.counters['requests']}",
            "object": "chat.completion", "created": int(time.time()), "model": model,
            "system_fingerprint": f"sim-{self.name}",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                      "total_tokens": n_in + n_out}}, separators=(",", ":")).encode()
        if plan.malformed:
            body = b'{"id": "chatcmpl-broken", "choices": [{"message": {"content": "trunc'
        cut = plan.disconnect_after is not None or plan.stall_after is not None
        if not cut:
            self.counters["malformed" if plan.malformed else "ok"] += 1
            await conn.send(200, body)
            return
        # Non-streaming stall / disconnect: the head and the first half of the body.
        await conn.write_raw(conn.head(200, content_type="application/json", length=len(body))
                             + body[: len(body) // 2])
        if plan.disconnect_after is not None:
            self.counters["disconnected"] += 1
            conn.abort()
        else:
            self.counters["stalled"] += 1
            await conn.wait_client_close()

    async def _stream(self, conn: Connection, plan: Plan, answer: str, model: str,
                      delay: float, tokens_per_s: float) -> None:
        await asyncio.sleep(delay)
        cid = f"chatcmpl-{self.name}-{self.counters['requests']}"
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            obj = {"id": cid, "object": "chat.completion.chunk", "created": created,
                   "model": model, "choices": [{"index": 0, "delta": delta,
                                                "finish_reason": finish, "logprobs": None}]}
            return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

        await conn.write_raw(conn.head(200, content_type="text/event-stream", length=None,
                                       headers={"Cache-Control": "no-cache"}))
        await conn.write_chunk(chunk({"role": "assistant", "content": ""}))
        words = answer.split(" ")
        start = time.monotonic()
        for i, word in enumerate(words):
            if plan.stall_after is not None and i >= plan.stall_after:
                self.counters["stalled"] += 1
                await conn.wait_client_close()
                return
            if plan.disconnect_after is not None and i >= plan.disconnect_after:
                self.counters["disconnected"] += 1
                conn.abort()
                return
            due = start + i / tokens_per_s
            if (wait := due - time.monotonic()) > 0.001:
                await asyncio.sleep(wait)
            if plan.malformed and i == 1:
                await conn.write_chunk(b'data: {"id": "broken", "choices": [{"delta": {"con\n\n')
                continue
            await conn.write_chunk(chunk({"content": word if i == 0 else " " + word}))
        self.counters["malformed" if plan.malformed else "ok"] += 1
        await conn.write_chunk(chunk({}, "stop"))
        await conn.write_chunk(b"data: [DONE]\n\n")
        await conn.end_chunks()

    # -- control API ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, int]:
        keys = ("requests", "streams", "delayed", "models", *OUTCOMES)
        return {k: int(self.counters.get(k, 0)) for k in keys}

    async def control(self, req: Request, conn: Connection) -> None:
        if req.path == "/healthz":
            await conn.send_json(200, {"status": "ok", "name": self.name})
            return
        if req.headers.get("authorization") != f"Bearer {self.token}":
            await conn.send_json(401, {"error": "missing or wrong bearer token"},
                                 headers={"WWW-Authenticate": "Bearer"})
            return
        try:
            status, obj = self._control_route(req)
        except ValueError as exc:
            status, obj = 400, {"error": str(exc)}
        await conn.send_json(status, obj)

    def _control_route(self, req: Request) -> tuple[int, Any]:
        parts = [p for p in req.path.split("/") if p]
        m = req.method
        if parts == ["faults"] and m == "GET":
            return 200, {"faults": self.faults.active}
        if parts == ["faults"] and m == "DELETE":
            return 200, {"cleared": self.faults.clear()}
        if len(parts) == 2 and parts[0] == "faults" and m in ("PUT", "POST"):
            params = req.json() or {}
            if not isinstance(params, dict):
                raise ValueError(f"expected a JSON object of parameters, got {params!r}")
            return 200, {"kind": parts[1], "params": self.faults.set(parts[1], params)}
        if len(parts) == 2 and parts[0] == "faults" and m == "DELETE":
            return 200, {"cleared": self.faults.clear(parts[1])}
        if parts == ["counters"] and m == "GET":
            return 200, self.snapshot()
        if parts == ["counters", "reset"] and m == "POST":
            before = self.snapshot()
            self.counters.clear()
            return 200, before
        if parts == ["info"] and m == "GET":
            return 200, {"name": self.name, "latency_ms": self.latency_s * 1000.0,
                         "tokens_per_s": self.tokens_per_s}
        return 404, {"error": f"no control route {m} {req.path}; see harness.simulators.control"}

    async def serve(self, host: str, port: int, control_host: str, control_port: int,
                    ready: asyncio.Event | None = None, stop: asyncio.Event | None = None,
                    bound: list[int] | None = None) -> None:
        stop = stop or asyncio.Event()
        async with HttpServer(self.handle, host, port) as api, \
                HttpServer(self.control, control_host, control_port) as ctl:
            if bound is not None:
                bound[:] = [api.port, ctl.port]
            print(f"provider {self.name} listening on http://{host}:{api.port}/v1 "
                  f"control http://{control_host}:{ctl.port}", flush=True)
            if ready is not None:
                ready.set()
            await stop.wait()


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m harness.simulators.provider",
                                description="Simulated OpenAI-compatible LLM provider.")
    p.add_argument("--name", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--control-host", default="127.0.0.1")
    p.add_argument("--control-port", type=int, required=True)
    p.add_argument("--token", required=True, help="bearer token for the control API")
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--tokens-per-s", type=float, default=2000.0)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    sim = ProviderSimulator(name=args.name, latency_ms=args.latency_ms,
                            tokens_per_s=args.tokens_per_s, seed=args.seed, token=args.token)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await sim.serve(args.host, args.port, args.control_host, args.control_port, stop=stop)

    runner = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # optional: faster event loop when installed

        runner = uvloop.run
    try:
        runner(run())
    except OSError as exc:
        print(f"provider {args.name}: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
