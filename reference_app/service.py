"""The RAG answer path: retrieve -> cache -> primary -> fallback -> degrade (or 503).

Every dependency can fail without failing the request while something can still answer:

* retrieval fails -> the question goes to the LLM without context, answer marked degraded;
* the cache fails -> a miss (fail-open, see :mod:`reference_app.cache`);
* the primary fails or its breaker is open -> the fallback provider (``RAG_FALLBACK_ENABLED``);
* both fail -> an answer built from the retrieved passages, marked degraded;
* nothing can answer (no passages and no provider, or degradation disabled) -> ``Unavailable``
  (HTTP 503 with a JSON error).

The cache is consulted before any provider, so a hit costs no LLM call and no LangChain model
invocation, and both providers share entries (the cache key is the model and the prompt).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.outputs import Generation
from langchain_openai import ChatOpenAI

from reference_app.breaker import CircuitBreaker
from reference_app.cache import SentinelCache
from reference_app.config import Settings
from reference_app.metrics import Metrics
from reference_app.retrieval import Retriever

__all__ = ["Answer", "Provider", "RagService", "Unavailable"]

SYSTEM_PROMPT = ("You are an SRE assistant. Answer the question in two sentences using only "
                 "the context passages, and cite passage ids in brackets.")
_SYSTEM = SystemMessage(content=SYSTEM_PROMPT)


class Unavailable(Exception):
    """Nothing could answer: the HTTP layer turns this into a 503 with ``reason``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    answer: str
    sources: list[str]
    degraded: bool
    provider: str  # primary | fallback | cache | none
    cached: bool


@dataclass(slots=True, kw_only=True)
class Provider:
    name: str
    llm: ChatOpenAI
    breaker: CircuitBreaker
    last_error: str = ""


def build_prompt(question: str, docs: list[Document]) -> str:
    if not docs:
        return f"Context: (none available)\n\nQuestion: {question}"
    passages = "\n".join(f"[{d.metadata.get('id', '?')}] {d.page_content}" for d in docs)
    return f"Context:\n{passages}\n\nQuestion: {question}"


def passages_answer(docs: list[Document]) -> str:
    parts = [f"[{d.metadata.get('id', '?')}] {d.page_content[:240]}" for d in docs]
    return ("The language model is unavailable; the most relevant passages are: "
            + " ".join(parts))


class RagService:
    def __init__(self, settings: Settings, *, retriever: Retriever, metrics: Metrics,
                 providers: list[Provider], cache: SentinelCache | None) -> None:
        self.settings = settings
        self.retriever = retriever
        self.metrics = metrics
        self.providers = providers
        self.cache = cache
        self.llm_string = f"model={settings.model};system={SYSTEM_PROMPT}"
        self.retrieval_error = ""

    async def answer(self, question: str) -> Answer:
        s = self.settings
        docs, retrieved = await self._retrieve(question)
        if not retrieved and not s.degrade_enabled:
            raise Unavailable(f"retrieval failed ({self.retrieval_error}) and degradation is "
                              "disabled (RAG_DEGRADE_ENABLED=false)")
        sources = [str(d.metadata.get("id", "")) for d in docs]
        prompt = build_prompt(question, docs)
        if self.cache is not None:
            hit = await self.cache.alookup(prompt, self.llm_string)
            if hit:
                return self._done(Answer(answer=hit[0].text, sources=sources,
                                         degraded=not retrieved, provider="cache", cached=True))
        for provider in self.providers:
            text = await self._call(provider, prompt)
            if text is not None:
                if self.cache is not None:  # indexed by source, so a write can invalidate it
                    await self.cache.astore(prompt, self.llm_string, [Generation(text=text)],
                                            sources)
                return self._done(Answer(answer=text, sources=sources, degraded=not retrieved,
                                         provider=provider.name, cached=False))
        if s.degrade_enabled and docs:
            self.metrics.degraded.labels("no_provider").inc()
            return Answer(answer=passages_answer(docs), sources=sources, degraded=True,
                          provider="none", cached=False)
        why = "no provider answered" + ("" if s.degrade_enabled else
                                        " and degradation is disabled")
        if not retrieved:
            why += f"; retrieval failed ({self.retrieval_error})"
        raise Unavailable(why + "; " + "; ".join(
            f"{p.name}: {p.last_error or p.breaker.state}" for p in self.providers))

    def _done(self, answer: Answer) -> Answer:
        if answer.degraded:
            self.metrics.degraded.labels("no_retrieval").inc()
        return answer

    async def _retrieve(self, question: str) -> tuple[list[Document], bool]:
        try:
            return await self.retriever.search(question), True
        except Exception as exc:  # any failure of the vector tier degrades, never fails
            self.retrieval_error = f"{type(exc).__name__}: {exc}"[:300]
            self.metrics.retrieval_failures.labels(type(exc).__name__).inc()
            return [], False

    async def _call(self, provider: Provider, prompt: str) -> str | None:
        if not provider.breaker.allow():
            self.metrics.provider_skipped.labels(provider.name).inc()
            return None
        self.metrics.provider_calls.labels(provider.name).inc()
        try:
            message = await provider.llm.ainvoke([_SYSTEM, HumanMessage(content=prompt)])
            text = message.content if isinstance(message.content, str) else str(message.content)
            if not text.strip():
                raise ValueError("the provider returned an empty answer")
        except asyncio.CancelledError:
            provider.breaker.abandon()
            raise
        except Exception as exc:  # any provider failure: count it, trip the breaker, move on
            provider.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self.metrics.provider_failures.labels(provider.name, type(exc).__name__).inc()
            provider.breaker.failure()
            return None
        provider.breaker.success()
        return text
