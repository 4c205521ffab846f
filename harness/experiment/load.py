"""Build the experiment's load generator (open loop or Locust) against a running stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.experiment.model import Experiment
from harness.timeline import Timeline

__all__ = ["DEFAULT_QUESTIONS", "make_generator", "make_mix", "make_writer", "questions_path"]

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / \
    "questions.jsonl"


def questions_path(exp: Experiment, file: str | None = None) -> Path:
    """The questions file: the experiment's (relative to the file, then to the working
    directory), else the fixture corpus."""
    q = exp.load.mix.questions
    if q is None:
        return DEFAULT_QUESTIONS
    p = Path(q)
    if p.is_absolute():
        return p
    candidates = [Path.cwd() / p]
    if file:
        candidates[:0] = [Path(file).parent / p, Path(file).parent.parent / p]
    for c in candidates:
        if c.exists():
            return c
    raise ConfigError("questions file not found", file=file, field="load.mix.questions",
                      value=q, allowed="a path relative to the experiment file or the "
                                       "working directory")


def make_mix(exp: Experiment, *, seed: int, file: str | None = None,
             run_id: str | None = None) -> Any:
    """The experiment's :class:`~harness.load.mix.RequestMix`; generated questions carry the
    experiment's nonce, else one derived from ``run_id`` (else from the seed)."""
    from harness.load import RequestMix
    from harness.load.mix import run_nonce

    m = exp.load.mix
    generated = m.repeat == "generated"
    nonce = (m.nonce or (run_nonce(run_id) if run_id else "")) if generated else ""
    return RequestMix.from_questions(questions_path(exp, file), repeat=m.repeat, s=m.zipf_s,
                                     seed=seed, cache_hit_target=m.cache_hit_target,
                                     nonce=nonce)


def make_generator(exp: Experiment, *, stack: Any, timeline: Timeline, seed: int,
                   file: str | None = None, run_id: str | None = None) -> Any:
    from harness.load import LocustDriver, OpenLoopGenerator

    topo = stack.topology
    mix = make_mix(exp, seed=seed, file=file, run_id=run_id)
    timeline.add_event("load.mix", "load", repeat=mix.repeat, target=mix.target,
                       nonce=mix.nonce, questions=len(mix.questions))
    if exp.load.generator == "locust":
        users = max(4, min(200, int(exp.load.rate / 10)))
        return LocustDriver(url=topo.front_door.url, api_key=topo.api_key, mix=mix, seed=seed,
                            timeline=timeline, users=users, rate=exp.load.rate,
                            arrivals=exp.load.arrivals, timeout_s=exp.load.timeout,
                            remote_workers=exp.load.remote_workers,
                            master_bind=exp.load.master_bind, master_port=exp.load.master_port)
    return OpenLoopGenerator(url=topo.front_door.url, api_key=topo.api_key, rate=exp.load.rate,
                             arrivals=exp.load.arrivals, mix=mix, seed=seed, timeline=timeline,
                             timeout_s=exp.load.timeout,
                             extra_headers=getattr(stack, "request_headers", None) or None)


def make_writer(exp: Experiment, *, stack: Any, timeline: Timeline, seed: int) -> Any:
    """The writer share (``load.writes``) against the front door, or None without one."""
    spec = exp.load.writes
    if spec is None:
        return None
    from harness.load.writer import WriteLoad

    topo = stack.topology
    return WriteLoad(url=topo.front_door.url, api_key=topo.api_key, rate=spec.rate, seed=seed,
                     timeline=timeline, delete_share=spec.delete_share,
                     timeout_s=spec.timeout)
