"""The compact gallery (minutiae and neighbour stars, edge shapes computed in the kernel) scores
every candidate exactly as the 1:1 matcher does, and stays within its size budget."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from biometrics.sourceafis import CompactGallery, Matcher, Minutia, MinutiaType, SearchTemplate, Template, TemplateError
from biometrics.sourceafis.loader import load_gallery
from biometrics.sourceafis.compact import STAR

from tests.biometrics.test_matcher import GOLDEN, _golden_scores, _template

# The budget for one enrolled finger in memory.
MAX_BYTES_PER_TEMPLATE = 4096


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


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    return bytes([major << 5 | 25]) + value.to_bytes(2, "big")


def _definite_cbor(template: Template, directions: list[float] | None = None) -> bytes:
    """The template as a definite-length CBOR map, keys in another order (valid, not what Java writes)."""
    import struct

    def text(value: str) -> bytes:
        return _cbor_head(3, len(value)) + value.encode()

    def integer(value: int) -> bytes:
        return _cbor_head(0, value) if value >= 0 else _cbor_head(1, -1 - value)

    directions = directions if directions is not None else [m.direction for m in template.minutiae]
    n = len(template.minutiae)
    return b"".join([
        _cbor_head(5, 7),
        text("types"), text("".join("B" if m.type else "E" for m in template.minutiae)),
        text("positionsY"), _cbor_head(4, n), *(integer(m.y) for m in template.minutiae),
        text("positionsX"), _cbor_head(4, n), *(integer(m.x) for m in template.minutiae),
        text("directions"), _cbor_head(4, n), *(b"\xfb" + struct.pack(">d", d) for d in directions),
        text("width"), integer(template.width), text("height"), integer(template.height),
        text("version"), text("test"),
    ])


def _same(first: CompactGallery, second: CompactGallery) -> bool:
    return all(np.array_equal(getattr(first, f), getattr(second, f))
               for f in ("offsets", "xs", "ys", "directions", "types", "stars"))


def test_loading_cbor_gives_the_gallery_of_the_parsed_templates():
    blobs = [p.read_bytes() for p in sorted((GOLDEN / "templates").glob("*.cbor"))]
    templates = [Template.from_cbor(b) for b in blobs]
    expected = CompactGallery.from_templates(templates)
    assert _same(load_gallery(blobs), expected)  # as Java wrote them
    assert _same(load_gallery([t.to_cbor() for t in templates]), expected)  # as this project writes them


def test_loading_takes_the_slow_road_for_unusual_encodings_and_refuses_malformed_ones():
    rng = random.Random(5)
    templates = [_random_template(rng, count, 300) for count in (0, 1, 12, 40)]
    # float64 directions, definite lengths, keys in another order: valid CBOR the compiled reader leaves to Python.
    definite = [_definite_cbor(t) for t in templates]
    # Minutiae out of shuffled order: Template sorts them, so the compiled reader must not take them as they are.
    out_of_order = Template.__new__(Template)
    object.__setattr__(out_of_order, "width", 300)
    object.__setattr__(out_of_order, "height", 300)
    object.__setattr__(out_of_order, "minutiae", tuple(reversed(templates[2].minutiae)))
    blobs = [t.to_cbor() for t in templates] + definite + [out_of_order.to_cbor()]
    expected = CompactGallery.from_templates([Template.from_cbor(b) for b in blobs])
    assert _same(load_gallery(blobs), expected)
    for bad in (templates[2].to_cbor()[:-2], templates[2].to_cbor().replace(b"positionsX", b"positionsZ"),
                _definite_cbor(templates[2], [7.0] * 12)):
        with pytest.raises(TemplateError):
            load_gallery([templates[1].to_cbor(), bad])
