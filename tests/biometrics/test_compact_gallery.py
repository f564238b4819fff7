"""The compact gallery (minutiae and neighbour stars, edge shapes computed in the kernel) scores
every candidate exactly as the 1:1 matcher does, and stays within its size budget."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from biometrics.sourceafis import CompactGallery, Matcher, Minutia, MinutiaType, SearchTemplate, Template
from biometrics.sourceafis.compact import STAR

from tests.biometrics.test_matcher import GOLDEN, _golden_scores, _template, needs_data

# The budget for one enrolled finger in memory.
MAX_BYTES_PER_TEMPLATE = 4096


@needs_data
@pytest.mark.parametrize(
    "variant, listing",
    [("", "scores.tsv"), ("", "scores-afis.tsv"), ("raw-gray", "scores.tsv"), ("raw-gray", "scores-afis.tsv")],
)
def test_compact_scores_equal_one_to_one_scores_on_every_golden_pair(variant, listing):
    folder = GOLDEN / variant if variant else GOLDEN
    rows = _golden_scores(folder, listing)
    names = sorted({p for p, _, _ in rows})
    templates = {n: SearchTemplate.build(_template(folder / "templates", n)) for n in names}
    gallery = CompactGallery.from_templates(templates[n] for n in names)
    assert gallery.nbytes / len(gallery) <= MAX_BYTES_PER_TEMPLATE
    compact, single = {}, {}
    for probe in names:
        matcher = Matcher(templates[probe])
        for candidate, score in zip(names, matcher.match_compact(gallery).tolist()):
            compact[probe, candidate] = score
            single[probe, candidate] = matcher.match(templates[candidate])
    differ = [(p, c, compact[p, c], single[p, c]) for p, c, _ in rows if compact[p, c] != single[p, c]]
    assert not differ, f"{len(differ)} of {len(rows)} compact scores differ from 1:1, e.g. {differ[:5]}"
    golden = [(p, c, s, compact[p, c]) for p, c, s in rows if compact[p, c] != s]
    assert not golden, f"{len(golden)} compact scores differ from the Java original, e.g. {golden[:5]}"


def _random_template(rng: random.Random, count: int, spread: int) -> Template:
    minutiae = [
        Minutia(rng.randrange(-spread, spread), rng.randrange(-spread, spread), rng.uniform(0, 2 * math.pi),
                rng.choice((MinutiaType.ENDING, MinutiaType.BIFURCATION)))
        for _ in range(count)
    ]
    return Template(spread, spread, tuple(minutiae))


def _clustered(rng: random.Random) -> Template:
    # Ties everywhere: minutiae on a coarse grid, several at one position.
    minutiae = [Minutia(10 * rng.randrange(6), 10 * rng.randrange(6), rng.choice((0.0, 1.0, 3.0)),
                        MinutiaType.ENDING) for _ in range(40)]
    return Template(60, 60, tuple(minutiae))


def test_compact_scores_equal_one_to_one_scores_on_unusual_templates():
    """Few minutiae (stars shorter than EDGE_TABLE_NEIGHBORS), edges beyond the polar table,
    equal distances at the star cut, and an empty template."""
    rng = random.Random(16)
    templates = [_random_template(rng, count, spread)
                 for count in (0, 1, 2, 3, 5, 9, 10, 11, 30, 80, 200)
                 for spread in (40, 300, 9000)]
    templates += [_clustered(rng) for _ in range(4)]
    searchable = [SearchTemplate.build(t) for t in templates]
    gallery = CompactGallery.from_templates(templates)
    for probe in searchable[::3] + searchable[-4:]:
        matcher = Matcher(probe)
        expected = [matcher.match(c) for c in searchable]
        assert matcher.match_compact(gallery).tolist() == expected
        assert matcher.match_compact(gallery, 5, 9).tolist() == expected[5:9]


def test_stars_are_the_search_templates_neighbour_tables():
    rng = random.Random(7)
    templates = [_random_template(rng, count, 500) for count in (2, 9, 10, 40, 120)] + [_clustered(rng)]
    gallery = CompactGallery.from_templates(templates)
    for index, template in enumerate(templates):
        search = SearchTemplate.build(template)
        first = int(gallery.offsets[index])
        for minutia in range(search.count):
            expected = search.star_neighbors[search.star_offsets[minutia]:search.star_offsets[minutia + 1]]
            stored = gallery.stars[(first + minutia) * STAR:(first + minutia) * STAR + len(expected)]
            assert stored.tolist() == expected.tolist(), (index, minutia)


def test_gallery_bytes_round_trip_and_concatenation_keep_the_scores():
    rng = random.Random(3)
    templates = [_random_template(rng, rng.randrange(12, 60), 400) for _ in range(30)]
    whole = CompactGallery.from_templates(templates)
    copied = CompactGallery.from_bytes(whole.to_bytes())
    joined = CompactGallery.concatenate([CompactGallery.from_templates(templates[:11]),
                                         CompactGallery.from_templates(templates[11:])])
    matcher = Matcher(templates[4])
    expected = matcher.match_compact(whole)
    assert expected[4] > 100  # the probe itself
    assert np.array_equal(matcher.match_compact(copied), expected)
    assert np.array_equal(matcher.match_compact(joined), expected)
    with pytest.raises(ValueError):
        CompactGallery.from_bytes(whole.to_bytes()[:-3])
    with pytest.raises(IndexError):
        matcher.match_compact(whole, 5, 31)
