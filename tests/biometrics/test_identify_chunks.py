"""The pool's 1:N over compact chunks: asked by digest first, chunks resent only when missing,
ranking by score then gallery order, and a cache that never drops a chunk mid-search."""
from __future__ import annotations

import random

from biometrics import engine
from biometrics.sourceafis import Matcher, SearchTemplate
from tests.biometrics.test_compact_gallery import _random_template


def _chunks(templates, size):
    return [engine.compact_chunk([t.to_cbor() for t in templates[i:i + size]]) for i in range(0, len(templates), size)]


def test_identify_compact_asks_for_missing_chunks_then_ranks_every_candidate(monkeypatch):
    monkeypatch.setattr(engine, "_galleries", type(engine._galleries)())
    rng = random.Random(11)
    templates = [_random_template(rng, rng.randrange(15, 50), 350) for _ in range(25)]
    templates[17] = templates[3]  # two equal best candidates: the earlier ranks first
    chunks = _chunks(templates, 10)
    probe = templates[3].to_cbor()
    digests = [digest for digest, _ in chunks]
    assert engine.identify_compact(probe, [(d, None) for d in digests], 0.0) == digests
    expected_scores = [Matcher(SearchTemplate.build(templates[3])).match(t) for t in templates]
    ranked = engine.identify_compact(probe, chunks, 0.0)
    assert [i for i, _ in ranked][:2] == [3, 17]
    assert sorted(ranked, key=lambda hit: hit[0]) == list(enumerate(expected_scores))
    assert [s for _, s in ranked] == sorted(expected_scores, reverse=True)
    # Now held: digests alone suffice, and a threshold keeps only the hits.
    assert engine.identify_compact(probe, [(d, None) for d in digests], 40.0, limit=1) == [(3, expected_scores[3])]


def test_a_search_larger_than_the_cache_still_scores_every_chunk(monkeypatch):
    monkeypatch.setattr(engine, "_galleries", type(engine._galleries)())
    monkeypatch.setattr(engine, "CACHED_CHUNKS", 2)
    rng = random.Random(12)
    templates = [_random_template(rng, 30, 350) for _ in range(12)]
    chunks = _chunks(templates, 3)
    probe = templates[7].to_cbor()
    engine.identify_compact(probe, chunks[:2], 0.0)  # the first two are held
    # New chunks before the held ones: taking them in must not drop a held one not yet searched.
    request = chunks[2:] + [(d, None) for d, _ in chunks[:2]]
    ranked = engine.identify_compact(probe, request, 0.0)
    assert len(ranked) == 12 and ranked[0][0] == 1  # templates[7] is second of the request
    assert len(engine._galleries) == 2
