"""The two-stage 1:N search (compact.Screening): a screening score from a subset of each
candidate's roots, then the best candidates scored exactly.  Exactly scored candidates keep the
1:1 score bit for bit, screening scores never exceed it, and on the repository's prints with the
benchmark's rotated and shifted distractors every probe's first candidate is the exhaustive one's."""
from __future__ import annotations

import random

import numpy as np
import pytest

from biometrics.identifybench import moved, read_prints
from biometrics.sourceafis import Matcher
from biometrics.sourceafis.compact import Screening
from biometrics.sourceafis.loader import load_gallery
from tests.fingerprint_data import FVC

# Distractors beside the real impressions (the benchmark's synthetic gallery, its seed).
GALLERY = 3000


@pytest.fixture(scope="module")
def searched():
    prints = read_prints(FVC)
    last = {}
    for p in prints:
        last[p.finger] = max(last.get(p.finger, 0), p.impression)
    probes = [p for p in prints if p.impression == last[p.finger]]
    enrolled = [p for p in prints if p not in probes]
    rng = random.Random(2026)
    templates = [p.template for p in enrolled] + [
        moved(enrolled[i % len(enrolled)].template, rng) for i in range(GALLERY - len(enrolled))]
    fingers = [p.finger for p in enrolled] + [enrolled[i % len(enrolled)].finger for i in range(GALLERY - len(enrolled))]
    gallery = load_gallery([t.to_cbor() for t in templates])
    matchers = [Matcher(p.template) for p in probes]
    return probes, fingers, gallery, matchers, [m.match_compact(gallery) for m in matchers]


def test_screening_keeps_every_exhaustive_first_candidate_first(searched):
    probes, fingers, gallery, matchers, exhaustive = searched
    assert len(probes) == 10
    for probe, matcher, scores in zip(probes, matchers, exhaustive):
        screened = matcher.screen_compact(gallery, Screening())
        first = int(np.argmax(scores))
        assert fingers[first] == probe.finger  # the mate is first in the exhaustive search
        assert int(np.argmax(screened.scores)) == first, probe.finger
        assert screened.exact[first]
        # Exact where scored exactly (bit for bit), never above the exact score elsewhere.
        assert np.array_equal(screened.scores[screened.exact], scores[screened.exact])
        assert np.all(screened.scores <= scores)
        assert screened.exact.sum() == Screening().kept(len(gallery))


def test_screening_score_is_a_lower_bound_that_is_exact_with_every_root(searched):
    _, _, gallery, matchers, exhaustive = searched
    matcher, scores = matchers[0], exhaustive[0]
    every = np.arange(len(gallery), dtype=np.int64)
    assert np.array_equal(matcher._compact(gallery, every, 70, 1), scores)
    for roots, stride in ((70, 8), (8, 1), (1, 1), (20, 3)):
        screen = matcher._compact(gallery, every, roots, stride)
        assert np.all(screen <= scores), (roots, stride)
    # A screen that keeps only one candidate: that one exact, the rest their screening scores.
    one = matcher.screen_compact(gallery, Screening(keep=1, fraction=0.0))
    assert one.exact.sum() == 1
    chosen = int(np.flatnonzero(one.exact)[0])
    assert one.scores[chosen] == scores[chosen]
    screen = matcher._compact(gallery, every, Screening().roots, Screening().stride)
    assert np.array_equal(np.delete(one.scores, chosen), np.delete(screen, chosen))


def test_screening_finds_the_mate_that_every_eighth_root_missed():
    """At 100,000 candidates the benchmark's copy 41,500 (finger 109, rotated and shifted) was the
    exhaustive first candidate of probe 109_8 (22 of its 46 roots give ≈ 214), but roots 0, 8, ...,
    40 are all wrong, so a stride of 8 screened it at 1.4 and it was never rescored."""
    prints = read_prints(FVC, fingers=None)
    probe = next(p for p in prints if p.finger == "109" and p.impression == 8)
    last = {}
    for p in prints:
        last[p.finger] = max(last.get(p.finger, 0), p.impression)
    enrolled = [p for p in prints if p.impression != last[p.finger]]
    rng = random.Random(2026)
    for i in range(41_500 - len(enrolled) + 1):  # the benchmark's sequence of copies, up to that one
        copy = moved(enrolled[i % len(enrolled)].template, rng)
    gallery = load_gallery([copy.to_cbor()])
    matcher = Matcher(probe.template)
    exact = matcher.match_compact(gallery)[0]
    assert exact > 200
    every = np.arange(1, dtype=np.int64)
    assert matcher._compact(gallery, every, 70, 8)[0] < 10
    screen = matcher._compact(gallery, every, Screening().roots, Screening().stride)[0]
    assert screen > 200


@pytest.mark.parametrize("settings", [{"roots": 0}, {"stride": 71}, {"keep": 0}, {"fraction": 1.5}])
def test_screening_settings_are_checked(settings):
    with pytest.raises(ValueError):
        Screening(**settings)
