"""`loanctl biometrics bench-identify`: 1:N duplicate-identity search over a synthetic gallery.

The gallery is made from the repository's prints: the real templates of every impression but
the probes', then copies of them rotated about the centre and shifted (up to ±60 px), their
minutiae that leave the image dropped, so every template is distinct but has real structure.
Each template is sealed as the service stores it (AES-GCM under its subject's data key), and
loading means what a searching process does: open every template and build the compact
gallery.  Probes are the real last impressions of each finger; their mates are in the gallery.

Every figure is CPU time of this thread (one core), so other load on the machine slows the
figures less than wall time; the machine's load average is reported beside them.
"""
from __future__ import annotations

import hashlib
import math
import os
import random
import re
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from .keys import new_data_key, open_sealed, seal
from .sourceafis.compact import Screening
from .sourceafis.edgeindex import EdgeIndex, Prefilter
from .sourceafis.edges import SearchTemplate
from .sourceafis.gallery import Gallery
from .sourceafis.loader import load_gallery
from .sourceafis import cbor
from .sourceafis.matcher import Matcher
from .sourceafis.template import _SHUFFLE_PRIME, MAX_COORDINATE, MAX_MINUTIAE, TEMPLATE_VERSION, Minutia, MinutiaType, Template

# FVC names: FINGER_IMPRESSION.ext (101_1.tif).
_PRINT_NAME = re.compile(r"^(?P<finger>[^_]+)_(?P<impression>[0-9]+)\.(tif|tiff|png|bmp|jpg|jpeg)$", re.IGNORECASE)
# Candidates the reference (1:1 kernel over SearchTemplates) scores per batch; bounds its memory.
_REFERENCE_BATCH = 2000
# Subjects share a data key in groups of this many templates (a borrower enrolls a few fingers).
_TEMPLATES_PER_SUBJECT = 2


class BenchError(Exception):
    """The benchmark cannot run with these inputs."""


def default_prints() -> Path:
    """Where a checkout of the repository keeps its FVC prints (tests/data/fingerprints); an
    installed copy has no tests folder and is given one with --prints."""
    return Path(__file__).resolve().parents[1] / "tests" / "data" / "fingerprints" / "fvc2002-db1b"


def moved(template: Template, rng: random.Random) -> Template:
    """The template's minutiae rotated about its centre and shifted; those leaving the image dropped.
    (gallery_cbor makes the same copies a batch at a time; a test keeps the two in step.)"""
    angle = rng.uniform(-math.pi, math.pi)
    dx, dy = rng.uniform(-60, 60), rng.uniform(-60, 60)
    cx, cy = template.width / 2, template.height / 2
    cos, sin = math.cos(angle), math.sin(angle)
    minutiae = []
    for m in template.minutiae:
        x = cx + (m.x - cx) * cos - (m.y - cy) * sin + dx
        y = cy + (m.x - cx) * sin + (m.y - cy) * cos + dy
        if 0 <= x < template.width and 0 <= y < template.height:
            minutiae.append(Minutia(int(x), int(y), (m.direction + angle) % (2 * math.pi), m.type))
    if len(minutiae) < 5:
        return template
    return Template(template.width, template.height, tuple(minutiae))


class _Bases:
    """Templates' minutiae as flat arrays, to make many moved copies of them a batch at a time
    without a Python object per minutia: `moved_cbor` gives exactly the bytes that
    `moved(template, rng).to_cbor()` gives for each, drawing the same numbers from the generator."""

    def __init__(self, templates: Sequence[Template]) -> None:
        self.cbor = [t.to_cbor() for t in templates]
        # Each CBOR map up to the minutiae (version, width, height), without the map's closing break.
        self.heads = [cbor.dumps({"version": TEMPLATE_VERSION, "width": t.width, "height": t.height})[:-1]
                      for t in templates]
        self.widths = np.array([t.width for t in templates], dtype=np.float64)
        self.heights = np.array([t.height for t in templates], dtype=np.float64)
        self.counts = np.array([len(t.minutiae) for t in templates], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)
        minutiae = [m for t in templates for m in t.minutiae]
        self.xs = np.array([m.x for m in minutiae], dtype=np.float64)
        self.ys = np.array([m.y for m in minutiae], dtype=np.float64)
        self.directions = np.array([m.direction for m in minutiae], dtype=np.float64)
        self.types = np.array([int(m.type) for m in minutiae], dtype=np.int8)

    def moved_cbor(self, which: Sequence[int], rng: random.Random) -> list[bytes]:
        """A moved copy of templates[i] for each i of `which`, in order."""
        n = len(which)
        which = np.asarray(which, dtype=np.int64)
        # The same draws as moved(), copy by copy: angle, dx, dy; cos and sin from math, as there.
        draws = [(rng.uniform(-math.pi, math.pi), rng.uniform(-60, 60), rng.uniform(-60, 60)) for _ in range(n)]
        angle = np.array([d[0] for d in draws])
        dx, dy = np.array([d[1] for d in draws]), np.array([d[2] for d in draws])
        cos = np.array([math.cos(a) for a in angle.tolist()])
        sin = np.array([math.sin(a) for a in angle.tolist()])
        # Every copy's minutiae in one flat array; `row` is the copy each belongs to.
        counts = self.counts[which]
        total = int(counts.sum())
        row = np.repeat(np.arange(n), counts)
        source = np.repeat(self.starts[which] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(total)
        width, height = self.widths[which][row], self.heights[which][row]
        cx, cy = width / 2, height / 2
        mx, my = self.xs[source], self.ys[source]
        # moved()'s arithmetic in the same order, element-wise in float64: the same bits.
        x = cx + (mx - cx) * cos[row] - (my - cy) * sin[row] + dx[row]
        y = cy + (mx - cx) * sin[row] + (my - cy) * cos[row] + dy[row]
        inside = (0 <= x) & (x < width) & (0 <= y) & (y < height)
        kept = np.bincount(row[inside], minlength=n)
        row = row[inside]
        xs, ys = x[inside].astype(np.int64), y[inside].astype(np.int64)  # int(): towards zero, all >= 0
        # Minutia rounds its direction to float32 (round to nearest, as the numpy cast does).
        directions = np.remainder(self.directions[source][inside] + angle[row], 2 * math.pi).astype(np.float32)
        types = self.types[source][inside]
        # Template's shuffled order within each copy: template._shuffle_key in 64-bit integers
        # (Java's int wrapping), -0.0 before 0.0.
        scrambled = _wrap32(_wrap32(xs * _SHUFFLE_PRIME + ys) * _SHUFFLE_PRIME)
        order = np.lexsort((types, -np.signbit(directions).astype(np.int8), directions, ys, xs, scrambled, row))
        xs, ys, directions, types = xs[order].tolist(), ys[order].tolist(), directions[order], types[order]
        cells = np.empty((len(xs), 5), dtype=np.uint8)
        cells[:, 0] = 0xFA  # a float32 item, big-endian
        cells[:, 1:] = directions.astype(">f4").view(np.uint8).reshape(-1, 4)
        floats = cells.tobytes()
        letters = np.where(types == int(MinutiaType.BIFURCATION), ord("B"), ord("E")).astype(np.uint8).tobytes()
        xs_cbor, ys_cbor = [_INT_CBOR[v] for v in xs], [_INT_CBOR[v] for v in ys]
        out = []
        bounds = np.concatenate([[0], np.cumsum(kept)]).tolist()
        for i, (base, first, last) in enumerate(zip(which.tolist(), bounds, bounds[1:])):
            if last - first < 5:
                out.append(self.cbor[base])  # moved() keeps the template when fewer than 5 stay inside
                continue
            out.append(b"".join((
                self.heads[base],
                _POSITIONS_X, b"\x9f", b"".join(xs_cbor[first:last]), b"\xff",
                _POSITIONS_Y, b"\x9f", b"".join(ys_cbor[first:last]), b"\xff",
                _DIRECTIONS, b"\x9f", floats[5 * first:5 * last], b"\xff",
                _TYPES, _TEXT_HEADS[last - first], letters[first:last], b"\xff")))
        return out


def _wrap32(values: np.ndarray) -> np.ndarray:
    values = values & 0xFFFFFFFF
    return np.where(values >= 1 << 31, values - (1 << 32), values)


_POSITIONS_X, _POSITIONS_Y, _DIRECTIONS, _TYPES = (cbor.dumps(key) for key in ("positionsX", "positionsY", "directions", "types"))
# CBOR of the non-negative integers a position can be, and the head of a text of n letters.
_INT_CBOR = [cbor.dumps(value) for value in range(MAX_COORDINATE + 1)]
_TEXT_HEADS = [cbor.dumps("E" * n)[:-n or None] for n in range(MAX_MINUTIAE + 1)]


def gallery_cbor(real: Sequence[Template], bases: Sequence[Template], size: int, rng: random.Random,
                 batch: int = 4096) -> Iterator[list[bytes]]:
    """The synthetic gallery's CBOR templates in batches, in gallery order: the real templates
    (at most `size`), then moved copies of bases[0], bases[1], … (cycling) up to `size` in all.
    The same templates, in the same order, as building the list of `moved(...)` Template objects
    did, without ever holding more than one batch."""
    count = min(len(real), size)
    for first in range(0, count, batch):
        yield [t.to_cbor() for t in real[first:min(first + batch, count)]]
    prepared = _Bases(bases)
    copies = size - count
    for first in range(0, copies, batch):
        yield prepared.moved_cbor([i % len(bases) for i in range(first, min(first + batch, copies))], rng)


@dataclass(frozen=True)
class Print:
    finger: str
    impression: int
    template: Template


def read_prints(folder: Path, fingers: int | None = None) -> list[Print]:
    """Templates extracted from the folder's prints (of its first `fingers` fingers, if given)."""
    from .sourceafis.extractor import extract
    from .sourceafis.image import decode_image

    if not folder.is_dir():
        raise BenchError(f"the prints folder {folder} does not exist (give --prints)")
    prints = []
    names = sorted({m["finger"] for m in map(_PRINT_NAME.match, (p.name for p in folder.iterdir())) if m})
    for path in sorted(folder.iterdir()):
        found = _PRINT_NAME.match(path.name)
        if found and (fingers is None or found["finger"] in names[:fingers]):
            template = extract(decode_image(path.read_bytes()), 500.0)
            prints.append(Print(found["finger"], int(found["impression"]), template))
    fingers = {p.finger for p in prints}
    if len(fingers) < 2 or len(prints) == len(fingers):
        raise BenchError(f"{folder} needs FINGER_IMPRESSION images of at least two fingers, some with two impressions")
    return prints


def _impostor_rate(prints: Sequence[Print]) -> float:
    """Impostor comparisons per CPU second of the 1:1 kernel (SearchTemplates in cache, one compiled loop)."""
    searchable = [SearchTemplate.build(p.template) for p in prints]
    galleries = {f: Gallery([s for s, p in zip(searchable, prints) if p.finger != f]) for f in {p.finger for p in prints}}
    matchers = [(Matcher(s), galleries[p.finger]) for s, p in zip(searchable, prints)]
    matchers[0][0].match_gallery(matchers[0][1])  # compiled before timing
    best = math.inf
    for _ in range(3):
        started = time.thread_time()
        compared = 0
        for matcher, gallery in matchers:
            matcher.match_gallery(gallery)
            compared += len(gallery)
        best = min(best, (time.thread_time() - started) / compared)
    return 1.0 / best


def _reference_scores(probes: Sequence[Template], batches: Iterable[Sequence[Template]], size: int) -> np.ndarray:
    """Every probe against every candidate with the 1:1 kernel (the exhaustive reference), the
    gallery given in batches of templates."""
    scores = np.zeros((len(probes), size))
    matchers = [Matcher(p) for p in probes]
    first = 0
    for templates in batches:
        batch = Gallery(list(templates))
        for row, matcher in enumerate(matchers):
            scores[row, first:first + len(batch)] = matcher.match_gallery(batch)
        first += len(batch)
    return scores


def _subject_context(index: int) -> str:
    return f"template:customer:{index // _TEMPLATES_PER_SUBJECT}:{index}"


class _StoreWriter:
    """The shards' sealed store for the cluster (biometrics.shards.ShardStore), written batch by
    batch as the gallery is built: template i is member i of the shard whose bounds hold it."""

    def __init__(self, folder: str, bounds: list[int]) -> None:
        from .keys import MasterKey
        from .shards import ShardStore

        self.master = MasterKey.generate()
        self.store = ShardStore(folder)
        self.store.create(len(bounds) - 1, self.master)
        self.bounds = bounds
        self.keys = [self.store.data_key(s, self.master) for s in range(len(bounds) - 1)]
        self.seconds = 0.0

    def write(self, first: int, templates: Sequence[bytes]) -> None:
        started = time.perf_counter()
        end = first + len(templates)
        for s, key in enumerate(self.keys):
            low, high = max(first, self.bounds[s]), min(end, self.bounds[s + 1])
            if low < high:
                self.store.append(s, low - self.bounds[s], [(i, templates[i - first]) for i in range(low, high)], key)
        self.seconds += time.perf_counter() - started


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


Progress = Callable[[str, int, int], None]


def run(prints_folder: Path, gallery_size: int, shards: int = 1, probes: int = 10, seed: int = 2026,
        exhaustive_limit: int = 20_000, fingers: int | None = None, ray_address: str = "",
        screening: Screening | None = Screening(), prefilter: Prefilter | None = Prefilter(),
        progress: Progress = lambda label, done, total: None) -> dict:
    """Builds, seals, loads and searches the gallery; returns the figures (see the module docstring).

    The exhaustive search (every candidate scored exactly) always runs; with `screening` the
    two-stage search runs too, and with `prefilter` the search pre-filtered by each shard's edge
    index (its build timed apart from loading); their rates are reported beside the exhaustive
    one and rank1_same_as_exhaustive says whether every probe's first candidate is the
    exhaustive one's in each of them.  The gallery is built and sealed batch by batch
    (gallery_cbor): only the sealed records stay in memory, so a million templates fit where a
    million Template objects (≈ 5 KB each) did not."""
    if gallery_size < 1 or shards < 1 or probes < 1:
        raise BenchError("--gallery, --shards and --probes must be at least 1")
    if shards > gallery_size:
        raise BenchError("more shards than templates")
    rng = random.Random(seed)
    prints = read_prints(prints_folder, fingers)
    last = {}
    for p in prints:
        last[p.finger] = max(last.get(p.finger, 0), p.impression)
    probe_prints = [p for p in prints if p.impression == last[p.finger]][:probes]
    enrolled = [p for p in prints if p not in probe_prints]
    # The gallery: real impressions first, then moved copies; each labelled with its finger.
    members = enrolled[:gallery_size]

    def finger_of(index: int) -> str:
        return enrolled[index if index < len(members) else (index - len(members)) % len(enrolled)].finger

    bounds = [gallery_size * s // shards for s in range(shards + 1)]
    with tempfile.TemporaryDirectory(prefix="bench-shards") as folder:
        writer = _StoreWriter(folder, bounds) if ray_address else None
        # Building: each batch of templates sealed as the service stores it (and, for the
        # cluster, into the shards' store), then dropped.
        sealed, keys = [], []
        started_cpu, started_wall = time.thread_time(), time.perf_counter()
        for batch in gallery_cbor([p.template for p in members], [p.template for p in enrolled], gallery_size, rng):
            first = len(sealed)
            for index, template in enumerate(batch, first):
                if index % _TEMPLATES_PER_SUBJECT == 0:
                    keys.append(new_data_key())
                sealed.append(seal(keys[-1], template, _subject_context(index)))
            if writer is not None:
                writer.write(first, batch)
            progress("building", len(sealed), gallery_size)
        build_cpu, build_wall = time.thread_time() - started_cpu, time.perf_counter() - started_wall
        sealed_bytes = sum(len(s) for s in sealed)

        kernel_rate = _impostor_rate(prints)

        # Loading: open every sealed template and build each shard's compact gallery (the compiled
        # reader and builder loaded first, as a serving process has them, so the rate is the
        # loading's own and not numba's start).
        load_gallery([open_sealed(keys[i // _TEMPLATES_PER_SUBJECT], sealed[i], _subject_context(i))
                      for i in range(min(gallery_size, 8))])
        started = time.thread_time()
        galleries = []
        for s in range(shards):
            opened = [open_sealed(keys[i // _TEMPLATES_PER_SUBJECT], sealed[i], _subject_context(i))
                      for i in range(bounds[s], bounds[s + 1])]
            galleries.append(load_gallery(opened))
            del opened
            progress("loading", bounds[s + 1], gallery_size)
        load_seconds = time.thread_time() - started
        gallery_bytes = sum(g.nbytes for g in galleries)

        # Search: every probe against every shard, the shards' scores merged and ranked.
        matchers = [Matcher(p.template) for p in probe_prints]
        matchers[0].match_compact(galleries[0], 0, min(10, len(galleries[0])))  # compiled before timing
        started_cpu, started_wall = time.thread_time(), time.perf_counter()
        scores = np.zeros((len(matchers), gallery_size))
        for row, matcher in enumerate(matchers):
            for s, gallery in enumerate(galleries):
                scores[row, bounds[s]:bounds[s + 1]] = matcher.match_compact(gallery)
            progress("searching", row + 1, len(matchers))
        search_cpu = time.thread_time() - started_cpu
        search_wall = time.perf_counter() - started_wall
        fast_rank1 = [int(np.argmax(row)) for row in scores]  # argmax: the first of equal best
        screened_cpu, screened_rank1 = None, None
        if screening is not None:
            # The two-stage search, shard by shard (each shard keeps its own best, so the union holds
            # the gallery's best by screening score).
            matchers[0].screen_compact(galleries[0], screening)  # compiled before timing
            started_cpu = time.thread_time()
            screened = np.zeros((len(matchers), gallery_size))
            for row, matcher in enumerate(matchers):
                for s, gallery in enumerate(galleries):
                    screened[row, bounds[s]:bounds[s + 1]] = matcher.screen_compact(gallery, screening).scores
                progress("screening", row + 1, len(matchers))
            screened_cpu = time.thread_time() - started_cpu
            screened_rank1 = [int(np.argmax(row)) for row in screened]

        prefiltered_cpu, prefiltered_rank1, indexes = None, None, []
        if prefilter is not None:
            started = time.thread_time()
            indexes = [EdgeIndex.build(g) for g in galleries]
            index_seconds = time.thread_time() - started
            matchers[0].prefilter_compact(galleries[0], indexes[0], prefilter)  # compiled before timing
            started_cpu = time.thread_time()
            prefiltered = np.zeros((len(matchers), gallery_size))
            for row, matcher in enumerate(matchers):
                for s, (gallery, index) in enumerate(zip(galleries, indexes)):
                    prefiltered[row, bounds[s]:bounds[s + 1]] = matcher.prefilter_compact(gallery, index, prefilter).scores
            prefiltered_cpu = time.thread_time() - started_cpu
            prefiltered_rank1 = [int(np.argmax(row)) for row in prefiltered]
            # The margin: where the exhaustive first candidate ranks by votes in its shard, and by the
            # root screen among those passed to it (0 = first; None: not passed).
            vote_ranks, screen_ranks = [], []
            for matcher, first in zip(matchers, fast_rank1):
                s = int(np.searchsorted(bounds, first, side="right")) - 1
                order = np.argsort(-matcher.prefilter_votes(galleries[s], indexes[s]), kind="stable")
                vote_ranks.append(int(np.flatnonzero(order == first - bounds[s])[0]))
                passed = np.sort(order[:prefilter.screened(len(galleries[s]))]).astype(np.int64)
                where = np.flatnonzero(passed == first - bounds[s])
                screen = matcher._compact(galleries[s], passed, prefilter.roots, prefilter.stride)
                screen_ranks.append(int(np.flatnonzero(np.argsort(-screen, kind="stable") == where[0])[0]) if where.size else None)

        result = {
            "gallery": gallery_size,
            "shards": shards,
            "probes": len(matchers),
            "candidates_per_second_per_core": gallery_size * len(matchers) / search_cpu,
            "kernel_impostor_per_second": kernel_rate,
            "ratio_to_kernel_impostor_rate": gallery_size * len(matchers) / search_cpu / kernel_rate,
            "search_seconds_per_probe": search_wall / len(matchers),
            "search_cpu_seconds_per_probe": search_cpu / len(matchers),
            # With the pre-filter, what a searching process holds: the compact gallery and its edge index.
            "bytes_per_template": (gallery_bytes + sum(i.nbytes for i in indexes)) / gallery_size,
            "compact_gallery_bytes_per_template": gallery_bytes / gallery_size,
            "sealed_bytes_per_template": sealed_bytes / gallery_size,
            # Building: generating the moved copies, their CBOR and sealing them (and, for the
            # cluster, writing the shards' store: store_write_seconds of it).
            "build_seconds": build_wall,
            "build_cpu_seconds": build_cpu,
            "store_write_seconds": writer.seconds if writer is not None else 0.0,
            "load_templates_per_second_per_core": gallery_size / load_seconds,
            "rank1_correct": sum(finger_of(r) == p.finger for r, p in zip(fast_rank1, probe_prints)) / len(matchers),
            "load_average": os.getloadavg()[0],
        }
        if screening is not None:
            result.update({
                "screening": {"roots": screening.roots, "stride": screening.stride, "keep": screening.keep, "fraction": screening.fraction,
                              "kept_per_shard": [min(screening.kept(len(g)), len(g)) for g in galleries]},
                "screened_candidates_per_second_per_core": gallery_size * len(matchers) / screened_cpu,
                "screened_ratio_to_kernel_impostor_rate": gallery_size * len(matchers) / screened_cpu / kernel_rate,
                "screened_ratio_to_exhaustive": search_cpu / screened_cpu,
                "screened_rank1_correct": sum(finger_of(r) == p.finger for r, p in zip(screened_rank1, probe_prints)) / len(matchers),
                # The check: every probe's first candidate is the exhaustive search's.
                "screened_rank1_same_as_exhaustive": screened_rank1 == fast_rank1,
            })
        if prefilter is not None:
            result.update({
                "prefilter": {"keep": prefilter.keep, "fraction": prefilter.fraction, "passed": prefilter.passed, "trusted": prefilter.trusted,
                              "roots": prefilter.roots, "stride": prefilter.stride,
                              "screened_per_shard": [prefilter.screened(len(g)) for g in galleries],
                              "kept_per_shard": [prefilter.kept(len(g)) for g in galleries]},
                "edge_index_bytes_per_template": sum(i.nbytes for i in indexes) / gallery_size,
                "edge_index_build_templates_per_second_per_core": gallery_size / index_seconds,
                "prefiltered_candidates_per_second_per_core": gallery_size * len(matchers) / prefiltered_cpu,
                "prefiltered_ratio_to_kernel_impostor_rate": gallery_size * len(matchers) / prefiltered_cpu / kernel_rate,
                "prefiltered_ratio_to_exhaustive": search_cpu / prefiltered_cpu,
                "prefiltered_rank1_correct": sum(finger_of(r) == p.finger for r, p in zip(prefiltered_rank1, probe_prints)) / len(matchers),
                "prefiltered_rank1_same_as_exhaustive": prefiltered_rank1 == fast_rank1,
                "prefilter_vote_rank_of_exhaustive_first": vote_ranks,
                "prefilter_screen_rank_of_exhaustive_first": screen_ranks,
            })
        # rank1_same_as_exhaustive: every ranking reported (the screened and the pre-filtered ones,
        # when run) has the exhaustive search's first candidate for every probe.
        same = (screened_rank1 == fast_rank1 if screening is not None else True) \
            and (prefiltered_rank1 == fast_rank1 if prefilter is not None else True)
        if gallery_size <= exhaustive_limit:
            def templates(keys=keys, sealed=sealed):
                for first in range(0, gallery_size, _REFERENCE_BATCH):
                    yield [Template.from_cbor(open_sealed(keys[i // _TEMPLATES_PER_SUBJECT], sealed[i], _subject_context(i)))
                           for i in range(first, min(first + _REFERENCE_BATCH, gallery_size))]

            reference = _reference_scores([p.template for p in probe_prints], templates(), gallery_size)
            result["rank1_same_as_exhaustive"] = [int(np.argmax(r)) for r in reference] == fast_rank1 and same
            result["scores_equal_to_1to1"] = bool(np.array_equal(reference, scores))
        else:
            # Too large to score again with the 1:1 kernel here; the compact kernel's exhaustive mode
            # scores every candidate exactly (bit for bit the 1:1 score), so it is the reference.
            result["rank1_same_as_exhaustive"] = same if screening is not None or prefilter is not None else None
            result["scores_equal_to_1to1"] = None
        del sealed, keys, galleries, indexes  # the cluster's actors read the store; this process keeps the scores
        if writer is not None:
            result.update(_on_cluster(ray_address, writer, probe_prints, scores, progress))
        result["coordinator_peak_rss_bytes"] = _peak_rss_bytes()
    return result


def _on_cluster(address: str, writer: _StoreWriter, probe_prints: Sequence[Print], scores: np.ndarray,
                progress: Progress, top: int = 10) -> dict:
    """The same shards held by Ray actors: the actors started and loaded from the store written
    while building, each probe fanned out to every shard and merged; the merged best `top` must
    equal the in-process scores' best `top`.  Times are wall times of this client."""
    from .shards import ShardedGallery, ShardError, best

    progress("actors loading", 0, 1)
    started = time.perf_counter()
    try:
        gallery = ShardedGallery(writer.store, writer.master, ray_address=address)
    except ShardError as error:
        raise BenchError(str(error)) from None
    load_wall = time.perf_counter() - started
    progress("actors loading", 1, 1)
    try:
        infos = gallery.info()
        probes = [p.template.to_cbor() for p in probe_prints]
        gallery.warm(probes[0])  # every actor's kernel compiled before timing
        started = time.perf_counter()
        results = []
        for p in probes:
            results.append(gallery.search(p, 0.0, top))
            progress("ray searching", len(results), len(probes))
        search_wall = time.perf_counter() - started
        after = gallery.info()
    finally:
        gallery.close()
    ids = np.arange(scores.shape[1], dtype=np.int64)
    same = all([(m, sc) for m, sc, _ in r.hits] == best(ids, row, 0.0, top) for r, row in zip(results, scores))
    shards = len(infos)
    return {"ray_address": address, "ray_nodes": len({i["node"] for i in infos}), "ray_load_seconds": load_wall,
            # Each actor's own CPU time to read, open and build its shard (per core, like the in-process figure).
            "ray_load_templates_per_second_per_core": sum(i["templates"] for i in infos) / sum(i["load_cpu_seconds"] for i in infos),
            "ray_search_seconds_per_probe": search_wall / len(probes),
            # The slowest shard's CPU time bounds a probe on an idle cluster: the load-independent
            # side of the scaling ratio (this machine's other work inflates the wall times).
            "ray_slowest_shard_cpu_seconds_per_probe": sum(max(r.cpu_seconds.values()) for r in results) / len(probes),
            "ray_shard_cpu_seconds_per_probe": [sum(r.cpu_seconds[s] for r in results) / len(probes) for s in range(shards)],
            "ray_actor_peak_rss_bytes": [i["peak_rss_bytes"] for i in after],
            "ray_retries": sum(r.retries for r in results), "ray_top_equal_in_process": same}


async def enroll_moved_copies(service, templates: Sequence[bytes], count: int, *, first_subject: int,
                              seed: int, tag: bytes = b"synthetic") -> None:
    """`count` enrolled captures in the service's database, each a rotated and shifted copy of
    one of `templates` (in turn), two fingers per customer from `first_subject` on, sealed as
    the service seals templates: a large gallery for benchmarks and tests without scanning it."""
    from . import modes
    from .service import Subject
    from .tables import Capture

    rng = random.Random(seed)
    bases = [Template.from_cbor(t) for t in templates]
    version = modes.template_version(templates[0])
    for first in range(0, count, 2000):
        async with service.db.unit_of_work() as session:
            for index in range(first, min(first + 2000, count)):
                subject = Subject("customer", first_subject + index // 2)
                key = await service._data_key(session, subject, create=True)
                base = bases[index % len(bases)]
                data = moved(base, rng).to_cbor()
                sha = hashlib.sha256(tag + b":%d" % index).hexdigest()
                session.add(Capture(sha256=sha, template_version=version, subject_kind="customer",
                                    subject_id=subject.id, finger=1 + index % 2, purpose="enrollment",
                                    enrolled=True, minutiae=len(base.minutiae),
                                    template_sealed=seal(key, data, service._context("template", subject, sha))))
