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

import math
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .keys import new_data_key, open_sealed, seal
from .sourceafis.compact import Screening
from .sourceafis.edgeindex import EdgeIndex, Prefilter
from .sourceafis.edges import SearchTemplate
from .sourceafis.gallery import Gallery
from .sourceafis.loader import load_gallery
from .sourceafis.matcher import Matcher
from .sourceafis.template import Minutia, Template

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
    """The template's minutiae rotated about its centre and shifted; those leaving the image dropped."""
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


def _reference_scores(probes: Sequence[Template], gallery: Sequence[Template]) -> np.ndarray:
    """Every probe against every candidate with the 1:1 kernel (the exhaustive reference)."""
    scores = np.zeros((len(probes), len(gallery)))
    matchers = [Matcher(p) for p in probes]
    for first in range(0, len(gallery), _REFERENCE_BATCH):
        batch = Gallery(gallery[first:first + _REFERENCE_BATCH])
        for row, matcher in enumerate(matchers):
            scores[row, first:first + len(batch)] = matcher.match_gallery(batch)
    return scores


def run(prints_folder: Path, gallery_size: int, shards: int = 1, probes: int = 10, seed: int = 2026,
        exhaustive_limit: int = 20_000, fingers: int | None = None, ray_address: str = "",
        screening: Screening | None = Screening(), prefilter: Prefilter | None = Prefilter()) -> dict:
    """Builds, seals, loads and searches the gallery; returns the figures (see the module docstring).

    The exhaustive search (every candidate scored exactly) always runs; with `screening` the
    two-stage search runs too, and with `prefilter` the search pre-filtered by each shard's edge
    index (its build timed apart from loading); their rates are reported beside the exhaustive
    one and rank1_same_as_exhaustive says whether every probe's first candidate is the
    exhaustive one's in each of them."""
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
    templates = [p.template for p in members] + [
        moved(enrolled[i % len(enrolled)].template, rng) for i in range(gallery_size - len(members))]
    fingers = [p.finger for p in members] + [enrolled[i % len(enrolled)].finger for i in range(gallery_size - len(members))]
    sealed, contexts, keys = [], [], []
    for index, template in enumerate(templates):
        if index % _TEMPLATES_PER_SUBJECT == 0:
            keys.append(new_data_key())
        context = f"template:customer:{index // _TEMPLATES_PER_SUBJECT}:{index}"
        sealed.append(seal(keys[-1], template.to_cbor(), context))
        contexts.append(context)

    kernel_rate = _impostor_rate(prints)

    # Loading: open every sealed template and build each shard's compact gallery.
    bounds = [gallery_size * s // shards for s in range(shards + 1)]
    started = time.thread_time()
    galleries = []
    for s in range(shards):
        opened = [open_sealed(keys[i // _TEMPLATES_PER_SUBJECT], sealed[i], contexts[i])
                  for i in range(bounds[s], bounds[s + 1])]
        galleries.append(load_gallery(opened))
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
        "load_templates_per_second_per_core": gallery_size / load_seconds,
        "rank1_correct": sum(fingers[r] == p.finger for r, p in zip(fast_rank1, probe_prints)) / len(matchers),
        "load_average": os.getloadavg()[0],
    }
    if screening is not None:
        result.update({
            "screening": {"roots": screening.roots, "stride": screening.stride, "keep": screening.keep, "fraction": screening.fraction,
                          "kept_per_shard": [min(screening.kept(len(g)), len(g)) for g in galleries]},
            "screened_candidates_per_second_per_core": gallery_size * len(matchers) / screened_cpu,
            "screened_ratio_to_kernel_impostor_rate": gallery_size * len(matchers) / screened_cpu / kernel_rate,
            "screened_ratio_to_exhaustive": search_cpu / screened_cpu,
            "screened_rank1_correct": sum(fingers[r] == p.finger for r, p in zip(screened_rank1, probe_prints)) / len(matchers),
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
            "prefiltered_rank1_correct": sum(fingers[r] == p.finger for r, p in zip(prefiltered_rank1, probe_prints)) / len(matchers),
            "prefiltered_rank1_same_as_exhaustive": prefiltered_rank1 == fast_rank1,
            "prefilter_vote_rank_of_exhaustive_first": vote_ranks,
            "prefilter_screen_rank_of_exhaustive_first": screen_ranks,
        })
    if ray_address:
        result.update(_on_cluster(ray_address, shards, bounds, templates, probe_prints, scores))
    # rank1_same_as_exhaustive: every ranking reported (the screened and the pre-filtered ones, when
    # run) has the exhaustive search's first candidate for every probe.
    same = (screened_rank1 == fast_rank1 if screening is not None else True) \
        and (prefiltered_rank1 == fast_rank1 if prefilter is not None else True)
    if gallery_size <= exhaustive_limit:
        reference = _reference_scores([p.template for p in probe_prints], templates)
        result["rank1_same_as_exhaustive"] = [int(np.argmax(r)) for r in reference] == fast_rank1 and same
        result["scores_equal_to_1to1"] = bool(np.array_equal(reference, scores))
    else:
        # Too large to score again with the 1:1 kernel here; the compact kernel's exhaustive mode
        # scores every candidate exactly (bit for bit the 1:1 score), so it is the reference.
        result["rank1_same_as_exhaustive"] = same if screening is not None or prefilter is not None else None
        result["scores_equal_to_1to1"] = None
    return result


def _on_cluster(address: str, shards: int, bounds: list[int], templates: Sequence[Template],
                probe_prints: Sequence[Print], scores: np.ndarray, top: int = 10) -> dict:
    """The same shards held by Ray actors: their store written (sealed), the actors started and
    loaded from it, each probe fanned out to every shard and merged; the merged best `top`
    must equal the in-process scores' best `top`.  Times are wall times of this client."""
    import tempfile

    from .keys import MasterKey
    from .shards import ShardedGallery, ShardError, ShardStore, best

    master = MasterKey.generate()
    with tempfile.TemporaryDirectory(prefix="bench-shards") as folder:
        store = ShardStore(folder)
        store.create(shards, master)
        for s in range(shards):
            key = store.data_key(s, master)
            store.append(s, 0, [(i, templates[i].to_cbor()) for i in range(bounds[s], bounds[s + 1])], key)
        started = time.perf_counter()
        try:
            gallery = ShardedGallery(store, master, ray_address=address)
        except ShardError as error:
            raise BenchError(str(error)) from None
        load_wall = time.perf_counter() - started
        try:
            nodes = {i["node"] for i in gallery.info()}
            probes = [p.template.to_cbor() for p in probe_prints]
            gallery.search(probes[0], 0.0, top)  # every actor compiled and warm before timing
            started = time.perf_counter()
            results = [gallery.search(p, 0.0, top) for p in probes]
            search_wall = time.perf_counter() - started
        finally:
            gallery.close()
    ids = np.arange(scores.shape[1], dtype=np.int64)
    same = all([(m, sc) for m, sc, _ in r.hits] == best(ids, row, 0.0, top) for r, row in zip(results, scores))
    return {"ray_address": address, "ray_nodes": len(nodes), "ray_load_seconds": load_wall,
            "ray_search_seconds_per_probe": search_wall / len(probes),
            # The slowest shard's CPU time bounds a probe on an idle cluster: the load-independent
            # side of the scaling ratio (this machine's other work inflates the wall times).
            "ray_slowest_shard_cpu_seconds_per_probe": sum(max(r.cpu_seconds.values()) for r in results) / len(probes),
            "ray_retries": sum(r.retries for r in results), "ray_top_equal_in_process": same}
