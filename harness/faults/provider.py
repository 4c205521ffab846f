"""Provider faults through the LLM simulator's control API (``ProviderControl``).

One fault per simulator fault kind (5xx, 429 with Retry-After, latency, hang, slow or stalled
stream, mid-stream disconnect, malformed body, outage). Verified by the simulator itself: its
``GET /faults`` lists the kind with our parameters; after revert the kind is gone. Each fault
clears only its own kind, so two provider faults can overlap.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from harness.faults.base import Fault, Injection
from harness.faults.checks import Check
from harness.faults.exercise import ExercisePlan
from harness.faults.params import Param
from harness.faults.registry import register
from harness.simulators.control import ProviderControlClient
from harness.stack.base import ProviderControl, Stack

__all__ = ["PROVIDER_FAULTS", "ProviderFault"]

PROVIDERS = ("primary", "fallback")
_PROVIDER = Param(name="provider", type="str", choices=PROVIDERS, default="primary",
                  help="which simulated provider misbehaves")
_RATE = Param(name="rate", type="float", minimum=0.0, maximum=1.0, default=1.0,
              help="fraction of completion requests hit")


def _client(stack: Stack, provider: str) -> ProviderControlClient:
    assert isinstance(stack, ProviderControl)
    url, token = stack.provider_control(provider)
    return ProviderControlClient(url, token)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderFault(Fault):
    """Base: the simulator fault ``KIND`` with this spec's parameters (minus ``provider``)."""

    FAMILY: ClassVar[str] = "provider"
    CAPABILITIES: ClassVar[tuple[str, ...]] = ("ProviderControl",)
    TARGET_HELP: ClassVar[str] = "use param provider"
    KIND: ClassVar[str] = ""

    provider: str = "primary"
    rate: float = 1.0

    def kind_params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("target", "provider")}

    def resolve(self, stack: Stack) -> tuple[str, ...]:
        return (f"provider-{self.provider}",)

    def prepare(self, stack: Stack, injection: Injection) -> None:
        """Build the control client early: creating one costs ~0.3 s (CA bundle) here."""
        injection.scratch["control"] = _client(stack, self.provider)

    def inject(self, stack: Stack, injection: Injection) -> None:
        injection.data.update(provider=self.provider, kind=self.KIND)
        ctl = injection.scratch.pop("control", None) or _client(stack, self.provider)
        with ctl:
            injection.data["applied"] = ctl.set_fault(self.KIND, **self.kind_params())

    def verify(self, stack: Stack, injection: Injection) -> Check:
        with _client(stack, self.provider) as ctl:
            active = ctl.faults()
        got = active.get(self.KIND)
        if got is None:
            return Check(False, f"simulator {self.provider} does not list {self.KIND!r} as "
                                f"active (active: {sorted(active)})")
        want = self.kind_params()
        diff = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
        if diff:
            return Check(False, f"simulator {self.provider} runs {self.KIND!r} with other "
                                f"parameters (want, got): {diff}")
        return Check(True, f"simulator {self.provider} reports {self.KIND!r} active with {got}")

    def revert(self, stack: Stack, injection: Injection) -> None:
        with _client(stack, self.provider) as ctl:
            ctl.clear(self.KIND)

    def exercise_plan(self, stack: Stack, injection: Injection) -> ExercisePlan:
        """The simulator's own count of completion requests it received while faulty."""
        return ExercisePlan(counters=(f"provider.{self.provider}.requests",), rule="llm",
                            note=f"completion requests the {self.provider} simulator received")

    def verify_reverted(self, stack: Stack, injection: Injection) -> Check:
        with _client(stack, self.provider) as ctl:
            active = ctl.faults()
        if self.KIND in active:
            return Check(False, f"simulator {self.provider} still lists {self.KIND!r}")
        return Check(True, f"simulator {self.provider} no longer lists {self.KIND!r} "
                           f"(active: {sorted(active) or 'none'})")


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderError(ProviderFault):
    NAME: ClassVar[str] = "provider-5xx"
    SUMMARY: ClassVar[str] = "the provider answers an HTTP error (default 500) at a rate"
    KIND: ClassVar[str] = "error"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        _PROVIDER, _RATE, Param(name="status", type="int", minimum=400, maximum=599,
                                default=500, help="HTTP status returned"))

    status: int = 500


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderRateLimit(ProviderFault):
    NAME: ClassVar[str] = "provider-429"
    SUMMARY: ClassVar[str] = "the provider answers 429 with a Retry-After header at a rate"
    KIND: ClassVar[str] = "rate_limit"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        _PROVIDER, _RATE, Param(name="retry_after_s", type="float", minimum=0, maximum=3600,
                                default=1.0, help="Retry-After value in seconds"))

    retry_after_s: float = 1.0


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderLatency(ProviderFault):
    NAME: ClassVar[str] = "provider-latency"
    SUMMARY: ClassVar[str] = "the provider answers late (added ms +/- jitter)"
    KIND: ClassVar[str] = "latency"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        _PROVIDER, _RATE,
        Param(name="ms", type="float", minimum=0, maximum=600_000, default=500.0,
              help="added latency in ms"),
        Param(name="jitter_ms", type="float", minimum=0, maximum=600_000, default=0.0,
              help="uniform +/- jitter in ms"))

    ms: float = 500.0
    jitter_ms: float = 0.0


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderHang(ProviderFault):
    NAME: ClassVar[str] = "provider-hang"
    SUMMARY: ClassVar[str] = "the provider accepts the request and never answers"
    KIND: ClassVar[str] = "hang"
    PARAMS: ClassVar[tuple[Param, ...]] = (_PROVIDER, _RATE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderSlowStream(ProviderFault):
    NAME: ClassVar[str] = "provider-slow-stream"
    SUMMARY: ClassVar[str] = "the provider streams tokens slowly"
    KIND: ClassVar[str] = "slow_stream"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        _PROVIDER, _RATE, Param(name="tokens_per_s", type="float", minimum=0.01,
                                maximum=1e6, default=5.0, help="token rate of the stream"))

    tokens_per_s: float = 5.0


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderStallStream(ProviderFault):
    NAME: ClassVar[str] = "provider-stall-stream"
    SUMMARY: ClassVar[str] = "the provider's stream stops after some tokens and stays open"
    KIND: ClassVar[str] = "stall_stream"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        _PROVIDER, _RATE, Param(name="after_tokens", type="int", minimum=0, maximum=100_000,
                                default=3, help="tokens sent before the stall"))

    after_tokens: int = 3


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderDisconnect(ProviderFault):
    NAME: ClassVar[str] = "provider-disconnect"
    SUMMARY: ClassVar[str] = "the provider drops the connection in the middle of the stream"
    KIND: ClassVar[str] = "disconnect"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        _PROVIDER, _RATE, Param(name="after_tokens", type="int", minimum=0, maximum=100_000,
                                default=3, help="tokens sent before the disconnect"))

    after_tokens: int = 3


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderMalformed(ProviderFault):
    NAME: ClassVar[str] = "provider-malformed"
    SUMMARY: ClassVar[str] = "the provider answers 200 with a body that is not valid JSON/SSE"
    KIND: ClassVar[str] = "malformed"
    PARAMS: ClassVar[tuple[Param, ...]] = (_PROVIDER, _RATE)


@register
@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderOutage(ProviderFault):
    NAME: ClassVar[str] = "provider-outage"
    SUMMARY: ClassVar[str] = ("the provider is down: connections reset (mode reset) or every "
                              "request answered 503 (mode 503)")
    KIND: ClassVar[str] = "outage"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        _PROVIDER, _RATE, Param(name="mode", type="str", choices=("reset", "503"),
                                default="reset", help="how the outage looks"))

    mode: str = "reset"


#: provider fault name -> class (also in FAULTS)
PROVIDER_FAULTS: dict[str, type[ProviderFault]] = {
    c.NAME: c for c in (ProviderError, ProviderRateLimit, ProviderLatency, ProviderHang,
                        ProviderSlowStream, ProviderStallStream, ProviderDisconnect,
                        ProviderMalformed, ProviderOutage)}
