"""The episode view: one fault occurrence is one draw (docs/MEASUREMENT.md, "Episodes").

The bad requests of one incident are not independent draws: they come in a burst that one cause
started and one failover ended. So besides the request-level bound, count **episodes** (every
landed occurrence of a fault, over trials and repeats within a run): per fault name, the
distribution of what one episode cost (bad requests, error-seconds, share of the real budget)
and an exact Clopper-Pearson bound on ``p_hurt``, the probability that an episode costs any bad
request at all. With ``n`` clean episodes the one-sided upper bound is ``1 - (1 - c)^(1/n)``:
3 trials bound it at 63 % (95 %), 10 at 26 %, 30 at 9.5 %. The episodes are assumed to be
independent and alike (same fault, same stack, same load): repeats in one run share a stack that
may have been changed by the earlier ones (e.g. a Redis master that moved).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.analysis.stats import clopper_pearson
from harness.analysis.trials import Distribution, summarise

__all__ = ["EpisodeSample", "EpisodeView", "episode_views"]


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeSample:
    name: str
    family: str
    bad_requests: int
    error_seconds: float | None
    share: float | None  # of the real budget, under its budgeting method


@dataclass(frozen=True, slots=True, kw_only=True)
class EpisodeView:
    name: str
    family: str
    episodes: int
    hurt: int  # episodes with at least one bad request
    confidence: float
    p_hurt_lower: float
    p_hurt_upper: float
    bad_requests: Distribution
    error_seconds: Distribution
    share: Distribution

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "family": self.family, "episodes": self.episodes,
                "hurt": self.hurt, "p_hurt": self.hurt / self.episodes if self.episodes else None,
                "p_hurt_lower": self.p_hurt_lower, "p_hurt_upper": self.p_hurt_upper,
                "confidence": self.confidence, "bad_requests": self.bad_requests.to_json(),
                "error_seconds": self.error_seconds.to_json(), "share": self.share.to_json()}


def episode_views(samples: Sequence[EpisodeSample], *,
                  confidence: float = 0.95) -> Mapping[str, EpisodeView]:
    """Per fault name, the episode distribution and the bound on ``p_hurt``."""
    groups: dict[str, list[EpisodeSample]] = {}
    for s in samples:
        groups.setdefault(s.name, []).append(s)
    out = {}
    for name, group in groups.items():
        n, k = len(group), sum(1 for s in group if s.bad_requests > 0)
        b = clopper_pearson(k, n, confidence)
        out[name] = EpisodeView(
            name=name, family=group[0].family, episodes=n, hurt=k, confidence=confidence,
            p_hurt_lower=b.lower, p_hurt_upper=b.upper,
            bad_requests=summarise([float(s.bad_requests) for s in group]),
            error_seconds=summarise([s.error_seconds for s in group]),
            share=summarise([s.share for s in group]))
    return out
