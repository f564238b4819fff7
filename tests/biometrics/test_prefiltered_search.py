"""The pre-filtered 1:N search (edgeindex): each candidate's star edges indexed by edge-hash cell
and quantised shape, candidates screened by locally consistent edge votes, the best
Prefilter.kept(n) scored exactly.  Exactly scored candidates keep the 1:1 score bit for bit,
the rest are 0, and on the repository's prints with the benchmark's rotated and shifted copies
every probe's first candidate is the exhaustive search's, with a margin."""
from __future__ import annotations

import random

import numpy as np
import pytest

from biometrics.sourceafis import CompactGallery, Matcher, SearchTemplate, Template
from biometrics.sourceafis.edgeindex import NO_CELL, EdgeIndex, Prefilter
from tests.biometrics.test_compact_gallery import _clustered, _random_template
from tests.biometrics.test_screened_search import searched  # noqa: F401 (the module's fixture)


def test_prefilter_keeps_every_exhaustive_first_candidate_first(searched):  # noqa: F811
    probes, fingers, gallery, matchers, exhaustive = searched
    index = EdgeIndex.build(gallery)
    setting = Prefilter()
    kept, passed, trusted = setting.kept(len(gallery)), setting.screened(len(gallery)), setting.trusted_votes(len(gallery))
    assert (kept, passed, trusted) == (100, 150, 60)
    for probe, matcher, scores in zip(probes, matchers, exhaustive):
        result = matcher.prefilter_compact(gallery, index)
        first = int(np.argmax(scores))
        assert fingers[first] == probe.finger
        assert int(np.argmax(result.scores)) == first, probe.finger
        assert result.exact[first] and kept <= result.exact.sum() <= kept + trusted
        # Exact where scored (bit for bit), a screening score or 0 elsewhere: never above it.
        assert np.array_equal(result.scores[result.exact], scores[result.exact])
        assert np.all(result.scores <= scores)
        assert np.count_nonzero(result.scores[~result.exact]) <= passed
        # The margin: the first candidate is well inside what one of the two screens keeps.
        counted = matcher.prefilter_votes(gallery, index)
        by_votes = np.argsort(-counted, kind="stable")
        rank = int(np.flatnonzero(by_votes == first)[0])
        chosen = np.sort(by_votes[:passed]).astype(np.int64)
        screen_rank = passed
        if first in chosen:
            screen = matcher._compact(gallery, chosen, setting.roots, setting.stride)
            screen_rank = int(np.flatnonzero(np.argsort(-screen, kind="stable") == np.flatnonzero(chosen == first)[0])[0])
        assert rank < trusted // 2 or (rank < passed // 2 and screen_rank < kept // 2), (probe.finger, rank, screen_rank)


def test_the_three_stages_on_a_small_gallery():
    rng = random.Random(11)
    templates = [_random_template(rng, rng.randrange(15, 50), 300) for _ in range(60)]
    gallery = CompactGallery.from_templates(templates)
    index = EdgeIndex.build(gallery)
    setting = Prefilter(keep=5, fraction=0.0, passed=0.5, trusted=0.1)
    assert (setting.kept(60), setting.screened(60), setting.trusted_votes(60)) == (5, 30, 6)
    matcher = Matcher(templates[7])
    exhaustive = matcher.match_compact(gallery)
    result = matcher.prefilter_compact(gallery, index, setting)
    by_votes = np.argsort(-matcher.prefilter_votes(gallery, index), kind="stable")
    assert result.exact[by_votes[:6]].all() and 6 <= result.exact.sum() <= 11
    assert np.array_equal(result.scores[result.exact], exhaustive[result.exact])
    assert np.all(result.scores <= exhaustive)
    assert not result.scores[by_votes[30:]].any()  # not passed to the root screen: 0
    assert int(np.argmax(result.scores)) == int(np.argmax(exhaustive)) == 7


def test_votes_separate_the_probes_finger_from_the_others(searched):  # noqa: F811
    probes, fingers, gallery, matchers, _ = searched
    index = EdgeIndex.build(gallery)
    fingers = np.array(fingers)
    for probe, matcher in zip(probes, matchers):
        counted = matcher.prefilter_votes(gallery, index)
        mates = fingers == probe.finger
        # Most of the finger's copies out-vote every other finger's best.
        assert (counted[mates] > counted[~mates].max()).mean() > 0.5, probe.finger


def test_index_survives_bytes_and_concatenation():
    rng = random.Random(5)
    templates = [_random_template(rng, rng.randrange(12, 60), 400) for _ in range(30)]
    templates += [_random_template(rng, count, 9000) for count in (0, 1, 2, 5)] + [_clustered(rng)]
    gallery = CompactGallery.from_templates(templates)
    index = EdgeIndex.build(gallery)
    assert index.fits(gallery) and index.cells.shape[0] == gallery.stars.shape[0]
    copied = EdgeIndex.from_bytes(index.to_bytes())
    assert np.array_equal(copied.cells, index.cells) and np.array_equal(copied.shapes, index.shapes)
    joined = EdgeIndex.concatenate([EdgeIndex.build(CompactGallery.from_templates(templates[:11])),
                                    EdgeIndex.build(CompactGallery.from_templates(templates[11:]))])
    assert np.array_equal(joined.cells, index.cells) and np.array_equal(joined.shapes, index.shapes)
    # A gallery that travels as bytes keeps its index's answers.
    moved_gallery = CompactGallery.from_bytes(gallery.to_bytes())
    matcher = Matcher(templates[4])
    expected = matcher.prefilter_compact(gallery, index, Prefilter(keep=5, fraction=0.0))
    again = matcher.prefilter_compact(moved_gallery, copied, Prefilter(keep=5, fraction=0.0))
    assert np.array_equal(again.scores, expected.scores) and np.array_equal(again.exact, expected.exact)
    assert expected.exact[4] and int(np.argmax(expected.scores)) == 4  # the probe itself
    counted = matcher.prefilter_votes(gallery, index)
    assert counted[4] == counted.max() > 0
    # Templates too sparse for any star edge under LENGTH_BINS index nothing and get no votes.
    assert (index.cells[int(gallery.offsets[31]) * 9:int(gallery.offsets[34]) * 9] == NO_CELL).all()
    for broken in (index.to_bytes()[:-1], b"", b"\x01" + bytes(7) + b"\xff\xff" + bytes(3)):
        with pytest.raises(ValueError):
            EdgeIndex.from_bytes(broken)
    with pytest.raises(ValueError):
        matcher.prefilter_compact(gallery, EdgeIndex.build(CompactGallery.from_templates(templates[:11])))


def test_exact_scores_on_unusual_templates_and_everything_kept_is_the_exhaustive_search():
    rng = random.Random(16)
    templates = [_random_template(rng, count, spread)
                 for count in (0, 1, 2, 3, 5, 9, 10, 11, 30, 80, 200) for spread in (40, 300, 9000)]
    templates += [_clustered(rng) for _ in range(3)]
    gallery = CompactGallery.from_templates(templates)
    index = EdgeIndex.build(gallery)
    for probe in templates[::4]:
        matcher = Matcher(probe)
        exhaustive = matcher.match_compact(gallery)
        everything = matcher.prefilter_compact(gallery, index, Prefilter(keep=len(templates)))
        assert everything.exact.all() and np.array_equal(everything.scores, exhaustive)
        few = matcher.prefilter_compact(gallery, index, Prefilter(keep=3, fraction=0.0))
        assert few.exact.sum() == 3
        assert np.array_equal(few.scores[few.exact], exhaustive[few.exact])


def test_probe_without_minutiae_ranks_as_the_exhaustive_search():
    rng = random.Random(9)
    gallery = CompactGallery.from_templates([_random_template(rng, 30, 400) for _ in range(12)])
    matcher = Matcher(Template(400, 400, ()))
    result = matcher.prefilter_compact(gallery, EdgeIndex.build(gallery), Prefilter(keep=4, fraction=0.0))
    assert not matcher.prefilter_votes(gallery, EdgeIndex.build(gallery)).any()
    assert result.scores.tolist() == [0.0] * 12 and result.exact.sum() == 4
    assert int(np.argmax(result.scores)) == int(np.argmax(matcher.match_compact(gallery))) == 0


def test_empty_gallery():
    gallery = CompactGallery.from_templates([])
    index = EdgeIndex.build(gallery)
    assert index.nbytes == 0 and EdgeIndex.from_bytes(index.to_bytes()).cells.shape == (0,)
    matcher = Matcher(SearchTemplate.build(_random_template(random.Random(1), 20, 300)))
    result = matcher.prefilter_compact(gallery, index)
    assert result.scores.shape == (0,) and result.exact.shape == (0,)
    assert EdgeIndex.concatenate([]).nbytes == 0


@pytest.mark.parametrize("settings", [{"keep": 0}, {"fraction": -0.1}, {"fraction": 1.5}, {"passed": 2.0},
                                      {"trusted": -1.0}, {"stride": 71}, {"roots": 0}])
def test_prefilter_settings_are_checked(settings):
    with pytest.raises(ValueError):
        Prefilter(**settings)


def test_stage_sizes_are_the_larger_of_the_count_and_the_fraction_within_the_gallery():
    setting = Prefilter()
    assert (setting.kept(60), setting.screened(60), setting.trusted_votes(60)) == (60, 60, 2)
    assert (setting.kept(10_000), setting.screened(10_000), setting.trusted_votes(10_000)) == (100, 500, 200)
    assert (setting.kept(100_000), setting.screened(100_000), setting.trusted_votes(100_000)) == (1000, 5000, 2000)
    assert Prefilter(keep=1, fraction=0.0).kept(0) == 0


def test_the_margin_bench_reports_each_probes_ranks_and_whether_its_first_candidate_was_kept():
    """bench/prefilter_margin.py on a small gallery: one row per probe, with the exhaustive first
    candidate's rank by votes (within the gallery) and its verdict, as the docs quote it."""
    from bench import prefilter_margin
    from biometrics.identifybench import default_prints, read_prints

    result = prefilter_margin.check(read_prints(default_prints(), fingers=4), 8, 600, Prefilter())
    rows = result["probes"]
    assert [r["probe"] for r in rows] == ["101_8", "102_8", "103_8", "104_8"]
    assert all(r["first_same"] and 0 <= r["vote_rank"] < 600 and r["best"] > 0 for r in rows)
