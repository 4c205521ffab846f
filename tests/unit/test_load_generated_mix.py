"""The generated question mix: deterministic, fresh across runs, a controlled cache-hit share,
still answerable by retrieval, and clear errors for bad settings."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.load import RequestMix
from harness.load.mix import REPEAT_LAG, REPEAT_POOL, run_nonce

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "fixtures" / "corpus" / "questions.jsonl"
DOCUMENTS = ROOT / "fixtures" / "corpus" / "documents.jsonl"


def _mix(**kw: object) -> RequestMix:
    args: dict[str, object] = {"repeat": "generated", "seed": 11}
    args.update(kw)
    return RequestMix.from_questions(QUESTIONS, **args)  # type: ignore[arg-type]


def _questions(mix: RequestMix, n: int, stream: int = 0) -> list[str]:
    return [json.loads(b)["question"] for b in islice(mix.bodies(stream), n)]


def test_request_i_of_a_seeded_run_always_asks_the_same_question() -> None:
    a = _questions(_mix(cache_hit_target=0.4, nonce="run1"), 3000)
    b = _questions(_mix(cache_hit_target=0.4, nonce="run1"), 3000)
    assert a == b
    assert a != _questions(_mix(cache_hit_target=0.4, nonce="run1", seed=12), 3000)
    # the same seed, another nonce: the same questions apart from the reference tag
    c = _questions(_mix(cache_hit_target=0.4, nonce="run2"), 3000)
    strip = [q.rsplit(" (ref ", 1)[0] for q in a]
    assert strip == [q.rsplit(" (ref ", 1)[0] for q in c]
    assert a != c


def test_fresh_questions_are_never_asked_by_another_run_stream_or_earlier_request() -> None:
    runs = {nonce: _mix(cache_hit_target=0.5, nonce=nonce) for nonce in ("aaa", "bbb")}
    seen: dict[str, set[str]] = {}
    for nonce, mix in runs.items():
        for stream in (0, 1):
            asked: set[str] = set()
            for q, repeat in islice(mix.generated(stream), 5000):
                if repeat:
                    assert q in asked  # a repeat re-asks this stream's own earlier question
                else:
                    assert q not in asked  # a fresh one was never asked before in the stream
                asked.add(q)
            seen[f"{nonce}/{stream}"] = asked
    keys = sorted(seen)
    for i, k in enumerate(keys):
        for other in keys[i + 1:]:
            assert not seen[k] & seen[other], (k, other)
    # the default nonce comes from the seed, so two seeds never share a fresh question either
    s1 = set(_questions(_mix(seed=1), 2000))
    s2 = set(_questions(_mix(seed=2), 2000))
    assert not s1 & s2
    assert run_nonce("run-a") != run_nonce("run-b")
    assert len(run_nonce("x")) == 8


def _simulated_hits(mix: RequestMix, n: int, store_after: int) -> float:
    """A cache that stores an answer ``store_after`` requests after the question was first
    asked (the miss still in flight), like the app's write-after-answer."""
    stored: set[str] = set()
    pending: list[tuple[int, str]] = []
    hits = 0
    for i, body in enumerate(islice(mix.bodies(), n)):
        while pending and pending[0][0] <= i:
            stored.add(pending.pop(0)[1])
        q = json.loads(body)["question"]
        if q in stored:
            hits += 1
        elif not any(p == q for _, p in pending):
            pending.append((i + store_after, q))
    return hits / n


@pytest.mark.parametrize("target", [0.0, 0.2, 0.5, 0.8, 0.95])
def test_a_simulated_cache_hits_the_target_share(target: float) -> None:
    n = 20_000
    got = _simulated_hits(_mix(cache_hit_target=target), n, store_after=REPEAT_LAG // 2)
    # the first REPEAT_LAG fresh requests have nothing to re-ask: that shortfall, plus a
    # binomial 4-sigma band
    sd = (target * (1 - target) / n) ** 0.5
    assert target - REPEAT_LAG * target / n - 4 * sd - 1e-9 <= got <= target + 4 * sd + 1e-9


def test_a_zipf_mix_over_the_corpus_is_what_hid_provider_faults() -> None:
    """The reason for the generated mix: Zipf over 672 questions -> the cache answers ~all."""
    zipf = RequestMix.from_questions(QUESTIONS, seed=3)
    seen: set[bytes] = set()
    hits = 0
    for body in islice(zipf.bodies(), 20_000):
        hits += body in seen
        seen.add(body)
    assert hits / 20_000 > 0.95
    assert _simulated_hits(_mix(cache_hit_target=0.5), 20_000, store_after=1) < 0.52


def test_repeats_stay_within_a_bounded_pool_of_recent_questions() -> None:
    mix = _mix(cache_hit_target=0.5, nonce="pool")
    order: dict[str, int] = {}
    first: dict[str, int] = {}
    fresh = 0
    for i, (q, repeat) in enumerate(islice(mix.generated(), 6 * REPEAT_POOL)):
        if repeat:
            assert i - first[q] >= REPEAT_LAG  # asked long enough ago to be cached
            assert fresh - order[q] <= REPEAT_POOL  # one of the last REPEAT_POOL fresh ones
        else:
            order[q], first[q] = fresh, i
            fresh += 1


def test_fresh_questions_keep_the_corpus_question_and_vary_its_form() -> None:
    corpus = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    qs = [q for q, rep in islice(_mix(cache_hit_target=0.0, nonce="form").generated(), 2000)
          if not rep]
    lowered = [c[1:] for c in corpus]  # the first letter may be lower-cased by a framing
    assert all(any(c in q for c in lowered) for q in qs[:300])
    combos = sum(sum(c in q for c in lowered) >= 2 for q in qs[:300])
    assert 40 < combos < 150  # about a quarter combine two questions
    assert len({q.rsplit(" (ref ", 1)[0] for q in qs}) > 1500  # many forms, not one template
    assert all(q.endswith(")") and " (ref formza" in q for q in qs)  # nonce, stream 0 = "a"
    assert qs[0].endswith(" (ref formzaza)")  # request 0; a number never appears in digits


def test_fresh_questions_are_still_answerable_by_retrieval() -> None:
    """The reference app's own embedding ranks a fresh question's source document in its top 3
    about as often as for the corpus question itself (answers stay meaningful)."""
    from reference_app.embeddings import HashingEmbeddings

    emb = HashingEmbeddings()
    docs = [json.loads(line) for line in DOCUMENTS.read_text().splitlines()]
    matrix = np.array(emb.embed_documents([d["text"] for d in docs]))
    items = [json.loads(line) for line in QUESTIONS.read_text().splitlines()]

    def found(text: str, relevant: set[str]) -> bool:
        scores = matrix @ emb.query_array(text)
        return any(docs[i]["id"] in relevant for i in np.argsort(-scores)[:3])

    baseline = sum(found(it["question"], set(it["relevant"])) for it in items) / len(items)
    fresh = [q for q, rep in islice(_mix(cache_hit_target=0.0, nonce="rag").generated(), 600)
             if not rep]
    ok = 0
    for q in fresh:
        relevant = {d for it in items if it["question"][1:] in q for d in it["relevant"]}
        assert relevant
        ok += found(q, relevant)
    assert ok / len(fresh) >= baseline - 0.03, (ok / len(fresh), baseline)


@pytest.mark.parametrize("kwargs, field", [
    ({"cache_hit_target": 1.0}, "load.mix.cache_hit_target"),
    ({"cache_hit_target": -0.01}, "load.mix.cache_hit_target"),
    ({"cache_hit_target": float("nan")}, "load.mix.cache_hit_target"),
    ({"cache_hit_target": True}, "load.mix.cache_hit_target"),
    ({"nonce": "has space"}, "load.mix.nonce"),
    ({"nonce": "x" * 17}, "load.mix.nonce"),
    ({"repeat": "zipf", "cache_hit_target": 0.5}, "load.mix.cache_hit_target"),
    ({"repeat": "uniform", "nonce": "abc"}, "load.mix.nonce"),
    ({"repeat": "often"}, "load.mix.repeat"),
])
def test_bad_mix_settings_are_config_errors(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as ei:
        _mix(**kwargs)
    assert ei.value.field == field
    assert ei.value.allowed


def test_target_and_the_json_round_trip_for_locust() -> None:
    mix = _mix(cache_hit_target=0.3, nonce="loc")
    assert mix.target == 0.3
    assert _mix().target == 0.5  # the documented default
    assert RequestMix.from_questions(QUESTIONS).target is None  # zipf: not controlled
    assert RequestMix.from_questions(QUESTIONS, repeat="unique").target == 0.0
    again = RequestMix.from_json(json.loads(json.dumps(mix.to_json())))
    assert list(islice(again.bodies(5), 500)) == list(islice(mix.bodies(5), 500))
