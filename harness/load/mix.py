"""What the load asks: a seeded sequence of questions with a realistic repeat distribution.

Real traffic repeats itself: a few questions are asked very often, most rarely. With
``repeat="zipf"`` the question of popularity rank ``r`` (1-based, in a seeded random order of the
file) is drawn with weight ``1 / r**s``, so the app's LLM response cache gets a realistic hit
rate and a Redis fault matters. ``uniform`` draws every question equally often; ``unique`` makes
every request distinct (a request number is appended), so the cache never hits.

The sequence of questions is a pure function of ``(questions, repeat, s, seed)``: request ``i``
of a seeded run always asks the same question.
"""

from __future__ import annotations

import bisect
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError

__all__ = ["REPEAT_MODES", "RequestMix"]

REPEAT_MODES: tuple[str, ...] = ("zipf", "uniform", "unique")


def _body(question: str) -> bytes:
    return json.dumps({"question": question}, ensure_ascii=False,
                      separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestMix:
    """Questions and how often each is asked. Build with :meth:`from_questions` or directly."""

    questions: tuple[str, ...]
    repeat: str = "zipf"
    s: float = 1.1
    seed: int = 0
    _order: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _cum: tuple[float, ...] = field(init=False, repr=False, compare=False)
    _bodies: tuple[bytes, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.questions:
            raise ConfigError("a request mix needs at least one question", field="load.mix")
        if self.repeat not in REPEAT_MODES:
            raise ConfigError("unknown repeat distribution", field="load.mix.repeat",
                              value=self.repeat, allowed=REPEAT_MODES)
        if not (0.0 <= self.s <= 10.0):
            raise ConfigError("the Zipf exponent must be in [0, 10]", field="load.mix.s",
                              value=self.s)
        order = list(range(len(self.questions)))
        random.Random(self.seed).shuffle(order)  # popularity rank -> question index
        weights = ([1.0 / (r + 1) ** self.s for r in range(len(order))]
                   if self.repeat == "zipf" else [1.0] * len(order))
        cum, acc = [], 0.0
        for w in weights:
            acc += w
            cum.append(acc)
        object.__setattr__(self, "_order", tuple(order))
        object.__setattr__(self, "_cum", tuple(cum))
        object.__setattr__(self, "_bodies", tuple(_body(q) for q in self.questions))

    @classmethod
    def from_questions(cls, path: str | Path, *, repeat: str = "zipf", s: float = 1.1,
                       seed: int = 0) -> RequestMix:
        """Read ``questions.jsonl``: one JSON object per line with a ``question`` (or ``text``)
        field, or one JSON string per line. Blank lines are skipped."""
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the questions file: {exc.strerror}", file=str(path),
                              field="load.mix.questions") from None
        questions = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"line {n} is not JSON ({exc.msg})", file=str(path),
                                  field="load.mix.questions") from None
            q = item if isinstance(item, str) else (
                item.get("question") or item.get("text") if isinstance(item, dict) else None)
            if not isinstance(q, str) or not q.strip():
                raise ConfigError(f"line {n} has no 'question' string", file=str(path),
                                  field="load.mix.questions", value=item)
            questions.append(q)
        return cls(questions=tuple(questions), repeat=repeat, s=s, seed=seed)

    def indexes(self, seed_offset: int = 0) -> Iterator[int]:
        """Endless seeded sequence of question indexes (``seed_offset`` gives Locust users
        independent streams)."""
        rng = random.Random(f"{self.seed}:mix:{seed_offset}")  # str seeds hash with SHA-512
        order, cum = self._order, self._cum
        total = cum[-1]
        n = len(order)
        while True:
            if n == 1:
                yield 0
            else:
                yield order[min(bisect.bisect_right(cum, rng.random() * total), n - 1)]

    def bodies(self, seed_offset: int = 0) -> Iterator[bytes]:
        """Endless seeded sequence of JSON request bodies ``{"question": ...}``."""
        if self.repeat == "unique":
            for i, ix in enumerate(self.indexes(seed_offset)):
                yield _body(f"{self.questions[ix]} (request {seed_offset}-{i})")
        else:
            bodies = self._bodies
            for ix in self.indexes(seed_offset):
                yield bodies[ix]

    def popularity(self) -> Sequence[float]:
        """Probability of each question (by index in ``questions``)."""
        total = self._cum[-1]
        prev, probs = 0.0, [0.0] * len(self.questions)
        for rank, ix in enumerate(self._order):
            probs[ix] = (self._cum[rank] - prev) / total
            prev = self._cum[rank]
        return probs
