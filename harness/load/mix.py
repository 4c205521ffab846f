"""What the load asks: a seeded sequence of questions with a realistic repeat distribution.

Real traffic repeats itself: a few questions are asked very often, most rarely. With
``repeat="zipf"`` the question of popularity rank ``r`` (1-based, in a seeded random order of the
file) is drawn with weight ``1 / r**s``, so the app's LLM response cache gets a realistic hit
rate and a Redis fault matters. ``uniform`` draws every question equally often; ``unique`` makes
every request distinct (a request number is appended), so the cache never hits.

But a realistic Zipf over a few hundred questions lets the cache answer ~99.7 % of requests, so a
provider fault is invisible (issue 10). ``repeat="generated"`` controls the hit share instead:
request ``i`` re-asks an already-asked question (which the cache answers once the first answer
is stored) with probability ``cache_hit_target``, and otherwise asks a **fresh** question
generated from the file (see :class:`QuestionGenerator`): a paraphrase, a templated variant or a
combination of two questions, tagged with a reference ``(ref <nonce>z<stream>z<i>)`` (stream
and request number in letters) that is unique to the run nonce, the stream and the request
number. A fresh question was therefore
never asked before in this run, nor in any earlier run that used another nonce (the runner's
default nonce is derived from the run id, so a warm shared game-day stack's cache cannot answer
it). Fresh questions keep every content word of the corpus questions they come from, so
retrieval still finds the documents they are about and answers stay meaningful.

The sequence of questions is a pure function of ``(questions, repeat, s, seed, cache_hit_target,
nonce)``: request ``i`` of a seeded run always asks the same question.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError

__all__ = ["DEFAULT_CACHE_HIT_TARGET", "REPEAT_MODES", "QuestionGenerator", "RequestMix",
           "run_nonce"]

REPEAT_MODES: tuple[str, ...] = ("zipf", "uniform", "unique", "generated")
DEFAULT_CACHE_HIT_TARGET = 0.5
MAX_CACHE_HIT_TARGET = 0.99  # 1.0 would never ask a fresh question, so nothing could be re-asked
_NONCE = re.compile(r"^[A-Za-z0-9]{1,16}$")
#: a repeat re-asks a question first asked at least this many requests earlier in its stream,
#: so its first answer is normally stored already (~200 ms at 300 req/s)
REPEAT_LAG = 64
#: how many distinct fresh questions a stream keeps for re-asking (bounded memory: a one-hour
#: run at 300 req/s asks ~540,000 fresh questions)
REPEAT_POOL = 4096

# Framings that keep every word of the question they wrap and add none that the corpus's
# documents use (measured with the reference app's embedding: each framing keeps the source
# document in the top 3 for >= 97.5 % of the corpus questions, against 98.5 % unframed; words
# such as "runbook", "incident", "check" or "second" pulled retrieval to other topics).
_PREFIXES: tuple[str, ...] = (
    "Could you tell me: ", "A colleague asked me: ", "Before tonight's change window: ",
    "Help me understand: ", "In production, ", "For a three-zone deployment, ",
)
_SUFFIXES: tuple[str, ...] = (
    "", " Thanks!", " Answer in plain words.", " Cite the passages you use.",
)
_TEMPLATES: tuple[str, ...] = (
    "Explain briefly: {q}", "{q} And what is the usual figure?", "In one paragraph, {ql}",
)
_JOINS: tuple[str, ...] = (" Also, ", " Related: ", " Separately, ", " Another one: ", " Plus: ")


def _body(question: str) -> bytes:
    return json.dumps({"question": question}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def run_nonce(run_id: str) -> str:
    """A short nonce for a run id (8 hex digits of its BLAKE2b): the fresh questions of two runs
    with different ids never coincide, even with the same seed."""
    return hashlib.blake2b(run_id.encode(), digest_size=4).hexdigest()


def _letters(n: int) -> str:
    """``n`` in base 25 with the letters a-y: a reference is one token the documents never use
    (a request number in digits would match a document's figure, e.g. "41 seconds", and pull
    retrieval towards it), and "z" can separate the fields unambiguously."""
    out = ""
    while True:
        n, r = divmod(n, 25)
        out = "abcdefghijklmnopqrstuvwxy"[r] + out
        if n == 0:
            return out


def _lower_first(q: str) -> str:
    return q[:1].lower() + q[1:] if q[1:2].islower() else q


@dataclass(frozen=True, slots=True)
class QuestionGenerator:
    """Fresh questions from a question file: given the stream's seeded random generator, a
    pure function of ``(questions, nonce, stream, i)``.

    Each fresh question takes a base question ``j`` (uniform over the file) and one form
    (45 % / 30 % / 25 %):
    a paraphrase (a framing prefix and suffix around it), a templated variant, or a combination
    with the question two lines further on (in the fixture corpus: the same component, the next
    topic), then the unique reference ``(ref <nonce>z<stream>z<i>)``.
    """

    questions: tuple[str, ...]
    nonce: str

    def fresh(self, rng: random.Random, stream: int, i: int) -> str:
        qs = self.questions
        j = rng.randrange(len(qs))
        q = qs[j]
        form = rng.random()
        if form < 0.45:
            prefix = rng.choice(_PREFIXES)
            text = (prefix + (q if prefix.endswith(". ") else _lower_first(q))
                    + rng.choice(_SUFFIXES))
        elif form < 0.75:
            t = rng.choice(_TEMPLATES)
            text = t.format(q=q, ql=_lower_first(q))
        else:
            other = qs[(j + 2) % len(qs)] if len(qs) > 2 else qs[(j + 1) % len(qs)]
            text = q + rng.choice(_JOINS) + _lower_first(other)
        return f"{text} (ref {self.nonce}z{_letters(stream)}z{_letters(i)})"


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestMix:
    """Questions and how often each is asked. Build with :meth:`from_questions` or directly."""

    questions: tuple[str, ...]
    repeat: str = "zipf"
    s: float = 1.1
    seed: int = 0
    cache_hit_target: float | None = None  # only with repeat="generated" (default 0.5 there)
    nonce: str = ""  # only with repeat="generated"; "" -> derived from the seed
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
        if self.repeat == "generated":
            t = self.cache_hit_target
            if t is None:
                object.__setattr__(self, "cache_hit_target", DEFAULT_CACHE_HIT_TARGET)
            elif isinstance(t, bool) or not isinstance(t, (int, float)) or \
                    not (0.0 <= t <= MAX_CACHE_HIT_TARGET):
                raise ConfigError("the cache-hit target is the share of requests that re-ask "
                                  "an already-asked question", field="load.mix.cache_hit_target",
                                  value=t, allowed=f"a number in [0, {MAX_CACHE_HIT_TARGET}]")
            if not self.nonce:
                object.__setattr__(self, "nonce", f"s{self.seed & 0xFFFFFFFF:x}")
            elif not isinstance(self.nonce, str) or not _NONCE.match(self.nonce):
                raise ConfigError("the run nonce goes into every fresh question",
                                  field="load.mix.nonce", value=self.nonce,
                                  allowed="1-16 letters or digits")
        else:
            if self.cache_hit_target is not None:
                raise ConfigError("a cache-hit target needs generated questions (the other "
                                  "mixes cannot control the hit share)",
                                  field="load.mix.cache_hit_target",
                                  value=self.cache_hit_target,
                                  allowed="leave it out, or set load.mix.repeat: generated")
            if self.nonce:
                raise ConfigError("a nonce only applies to generated questions",
                                  field="load.mix.nonce", value=self.nonce,
                                  allowed="leave it out, or set load.mix.repeat: generated")
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

    @property
    def target(self) -> float | None:
        """The cache-hit share this mix is built for: the target for ``generated``, 0 for
        ``unique`` (never repeats), None for ``zipf`` / ``uniform`` (not controlled)."""
        if self.repeat == "generated":
            return self.cache_hit_target
        return 0.0 if self.repeat == "unique" else None

    def to_json(self) -> dict[str, object]:
        """Everything needed to rebuild the same mix in another process (Locust)."""
        return {"questions": list(self.questions), "repeat": self.repeat, "s": self.s,
                "seed": self.seed, "cache_hit_target": self.cache_hit_target,
                "nonce": self.nonce}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> RequestMix:
        qs = data["questions"]
        assert isinstance(qs, list)
        t = data.get("cache_hit_target")
        return cls(questions=tuple(str(q) for q in qs), repeat=str(data["repeat"]),
                   s=float(str(data["s"])), seed=int(str(data["seed"])),
                   cache_hit_target=None if t is None else float(str(t)),
                   nonce=str(data.get("nonce") or ""))

    @classmethod
    def from_questions(cls, path: str | Path, *, repeat: str = "zipf", s: float = 1.1,
                       seed: int = 0, cache_hit_target: float | None = None,
                       nonce: str = "") -> RequestMix:
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
        return cls(questions=tuple(questions), repeat=repeat, s=s, seed=seed,
                   cache_hit_target=cache_hit_target, nonce=nonce)

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

    def generated(self, seed_offset: int = 0) -> Iterator[tuple[str, bool]]:
        """Endless seeded sequence of ``(question, is_repeat)`` for ``repeat="generated"``.

        Request ``i`` is a repeat with probability ``cache_hit_target``: it re-asks a fresh
        question of this stream first asked at least :data:`REPEAT_LAG` requests earlier
        (uniformly among the last :data:`REPEAT_POOL` fresh ones), so its first answer is
        normally stored already. The first ``REPEAT_LAG`` requests of a stream have nothing old
        enough to re-ask, so they are all fresh (a shortfall of about ``REPEAT_LAG * target``
        repeats per stream, spent in the warm-up).
        """
        target = float(self.cache_hit_target or 0.0)
        gen = QuestionGenerator(self.questions, self.nonce)
        rng = random.Random(f"{self.seed}:generated:{seed_offset}")
        pool: list[str] = []  # ring: fresh question n is pool[n % REPEAT_POOL] ...
        asked_at: list[int] = []  # ... first asked by request asked_at[n % REPEAT_POOL]
        fresh = 0  # fresh questions so far
        ready = 0  # fresh questions [0, ready) were asked at least REPEAT_LAG requests ago
        for i in itertools.count():
            lo = max(0, fresh - REPEAT_POOL)  # older ones were overwritten in the ring
            ready = max(ready, lo)  # (those are >= REPEAT_POOL > REPEAT_LAG requests old)
            while ready < fresh and asked_at[ready % REPEAT_POOL] <= i - REPEAT_LAG:
                ready += 1
            if rng.random() < target and ready > lo:
                k = lo + int(rng.random() * (ready - lo))
                yield pool[k % REPEAT_POOL], True
                continue
            q = gen.fresh(rng, seed_offset, i)
            if len(pool) < REPEAT_POOL:
                pool.append(q)
                asked_at.append(i)
            else:
                pool[fresh % REPEAT_POOL] = q
                asked_at[fresh % REPEAT_POOL] = i
            fresh += 1
            yield q, False

    def bodies(self, seed_offset: int = 0) -> Iterator[bytes]:
        """Endless seeded sequence of JSON request bodies ``{"question": ...}``."""
        if self.repeat == "generated":
            for q, _ in self.generated(seed_offset):
                yield _body(q)
        elif self.repeat == "unique":
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
