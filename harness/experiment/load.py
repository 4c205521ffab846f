"""Build the experiment's load generator (open loop or Locust) against a running stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.experiment.model import Experiment
from harness.timeline import Timeline

__all__ = ["DEFAULT_QUESTIONS", "make_generator", "make_writer", "questions_path"]

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


def make_generator(exp: Experiment, *, stack: Any, timeline: Timeline, seed: int,
                   file: str | None = None) -> Any:
    from harness.load import LocustDriver, OpenLoopGenerator, RequestMix

    topo = stack.topology
    mix = RequestMix.from_questions(questions_path(exp, file), repeat=exp.load.mix.repeat,
                                    s=exp.load.mix.zipf_s, seed=seed)
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
