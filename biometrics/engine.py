"""The fingerprint work that runs in the process pool: extraction, 1:1 scores, 1:N search.

Functions here are top-level and take and return plain bytes and numbers, so they cross the
process boundary cheaply; templates travel as the SourceAFIS CBOR the storage keeps.
"""
from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
from collections import OrderedDict
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import modes
from .sourceafis.compact import CompactGallery
from .sourceafis.extractor import extract
from .sourceafis.image import ImageError, decode_image


class CaptureError(Exception):
    """The capture cannot be read as a fingerprint image."""


@dataclass(frozen=True)
class Analysis:
    template: bytes  # SourceAFIS CBOR, with the version of the mode that made it
    positions: tuple[tuple[int, int], ...]
    width: int
    height: int
    mode: str = "exact"

    @property
    def version(self) -> str:
        return modes.version_of(self.mode)


def _pixels(image: bytes):
    try:
        return decode_image(image)
    except ImageError as error:
        raise CaptureError(f"the capture is not a readable fingerprint image: {error}") from None


def analyse(image: bytes, dpi: float, mode: str = "exact") -> Analysis:
    """Decode the scanner's file and extract its minutiae template in the given mode (in this
    process; MatchingPool.analyse runs the accuracy mode's two extractions side by side)."""
    if mode == "accurate":
        return join_accurate([analyse_accurate_part(image, dpi, part) for part in ACCURATE_PARTS])[0]
    pixels = _pixels(image)
    modes.version_of(mode)
    template = extract(pixels, dpi=dpi)
    return Analysis(template.to_cbor(), tuple((m.x, m.y) for m in template.minutiae), template.width,
                    template.height, mode)


# The accuracy mode's template holds two minutia sets from two independent extractions: the
# enhanced image's (enhancement + SourceAFIS, the longer) and the capture's as the exact mode
# extracts it. A verification runs them as two tasks on two workers, each scoring its own set
# against the same set of the candidates; the answer is the higher of the two scores.
ACCURATE_PARTS = ("enhanced", "plain")


@dataclass(frozen=True)
class Part:
    name: str
    template: bytes  # the part's SourceAFIS CBOR (the enhanced one with the accuracy version)
    positions: tuple[tuple[int, int], ...]
    width: int
    height: int
    scores: tuple[float, ...]  # against the same part of each candidate


def analyse_accurate_part(image: bytes, dpi: float, part: str, candidates: Sequence[bytes] = ()) -> Part:
    """One of the accuracy mode's two extractions, and its scores against that part of each
    candidate (accuracy-mode templates; another version raises TemplateVersionError)."""
    from .accurate import ACCURATE_VERSION, read_template
    from .accurate.extraction import extract_enhanced
    from .sourceafis.matcher import Matcher

    pixels = _pixels(image)
    try:
        if part == "enhanced":
            template = extract_enhanced(pixels, dpi)
            data = template.to_cbor(ACCURATE_VERSION)
        elif part == "plain":
            template = extract(pixels, dpi=dpi)
            data = template.to_cbor()
        else:
            raise ValueError(f"unknown part {part!r} of an accuracy-mode template; known: {ACCURATE_PARTS}")
    except ImageError as error:
        raise CaptureError(f"the capture is not a readable fingerprint image: {error}") from None
    matcher = Matcher(template) if candidates else None
    return Part(part, data, tuple((m.x, m.y) for m in template.minutiae), template.width, template.height,
                tuple(float(matcher.match(getattr(read_template(c), part))) for c in candidates))


def join_accurate(parts: Sequence[Part]) -> tuple[Analysis, list[float]]:
    """The accuracy-mode analysis from its two parts, and each candidate's score: the higher of
    the two sets' scores. The capture's quality (minutiae over enough skin) is judged on the set
    whose minutiae cover more skin (ties: more minutiae, then the enhanced): the matcher uses
    both, so a print the exact mode accepts is not refused because the enhancement lost an edge
    of it (the drawing shows the enhanced minutiae, from the template)."""
    from .accurate.template import join_parts
    from .quality import convex_hull_area

    by_name = {p.name: p for p in parts}
    enhanced, plain = by_name["enhanced"], by_name["plain"]
    judged = max((plain, enhanced), key=lambda p: (convex_hull_area(p.positions), len(p.positions), p is enhanced))
    analysis = Analysis(join_parts(enhanced.template, plain.template), judged.positions, enhanced.width,
                        enhanced.height, "accurate")
    return analysis, [max(a, b) for a, b in zip(enhanced.scores, plain.scores)]


def analyse_and_score(image: bytes, dpi: float, candidates: Sequence[bytes],
                      mode: str = "exact") -> tuple[Analysis, list[float]]:
    """A verification's work in one trip to a worker: the capture analysed in `mode`, then scored
    against each candidate (the same scores as `scores` on its template; all of that mode)."""
    if mode == "accurate":
        return join_accurate([analyse_accurate_part(image, dpi, part, candidates) for part in ACCURATE_PARTS])
    analysis = analyse(image, dpi, mode)
    return analysis, (scores(analysis.template, candidates) if candidates else [])


def scores(probe: bytes, candidates: Sequence[bytes]) -> list[float]:
    """Score the probe against each candidate (1:1, as the Java original scores), all read by
    the probe's mode: a candidate of another version raises TemplateVersionError."""
    mode = modes.mode_of(modes.template_version(probe))
    read = modes.reader(mode)
    matcher = modes.matcher(mode, probe)
    return [float(matcher.match(read(c))) for c in candidates]


# Compact galleries a worker holds, by digest, newest last. The enrolled set is searched in
# chunks of stable membership (by capture id), so a new enrollment rebuilds only the chunk it
# joins; the rest are reused by the next search on this worker.  A chunk of 4,096 prints takes
# about 2.5 MB, so the cache holds a million prints.
_galleries: "OrderedDict[str, CompactGallery]" = OrderedDict()
CACHED_CHUNKS = 256
CHUNK_SIZE = 4096


def gallery_key(candidates: Sequence[bytes]) -> str:
    digest = hashlib.sha256()
    for c in candidates:
        digest.update(hashlib.sha256(c).digest())
    return digest.hexdigest()


def _gallery(key: str, candidates: Sequence[bytes], mode: str = "exact") -> CompactGallery:
    gallery = _galleries.get(key)
    if gallery is None:
        # Compact form, read in one compiled pass: a worker that has not seen a chunk builds it at
        # tens of thousands of templates per second, and keeps about 0.6 KB per template (the
        # accuracy mode's two minutia sets: twice that, read in Python).
        gallery = modes.gallery(mode, candidates)
        _galleries[key] = gallery
        while len(_galleries) > CACHED_CHUNKS:
            _galleries.popitem(last=False)
    else:
        _galleries.move_to_end(key)
    return gallery


def _scores(probe: bytes, chunks: Sequence[Sequence[bytes]]) -> np.ndarray:
    mode = modes.mode_of(modes.template_version(probe))
    for chunk in chunks:
        modes.check_versions(mode, chunk)
    matcher = modes.matcher(mode, probe)
    parts = [matcher.match_compact(_gallery(gallery_key(chunk), chunk, mode)) for chunk in chunks if chunk]
    return np.concatenate(parts) if parts else np.zeros(0)


def search(probe: bytes, chunks: Sequence[Sequence[bytes]]) -> list[float]:
    """1:N: the probe's score against every candidate (chunk after chunk, in order), each chunk
    in one compiled loop over its compact gallery."""
    return _scores(probe, chunks).tolist()


def compact_chunk(candidates: Sequence[bytes], mode: str = "exact") -> tuple[str, bytes]:
    """A chunk's compact gallery as bytes and their digest (the name workers cache it by). Every
    candidate must be of the mode (a gallery holds one template version); the digest names the
    mode too, so equal minutiae of two modes are never one cached gallery."""
    modes.check_versions(mode, candidates)
    data = modes.gallery(mode, candidates).to_bytes()
    return f"{mode}:{hashlib.sha256(data).hexdigest()}", data


def identify_compact(probe: bytes, chunks: Sequence[tuple[str, bytes | None]], threshold: float,
                     limit: int | None = None) -> list[tuple[int, float]] | list[str]:
    """1:N ranked: (candidate index over all chunks, score) of the best candidates at or above the
    threshold, best first (ties: lower index first), with no Python per candidate.

    Chunks come in compact form: (digest, bytes), or (digest, None) for a chunk the worker may
    hold.  The worker views the bytes as its gallery (nothing is rebuilt) and keeps them by
    digest; if a chunk sent without bytes is not held, the answer is the list of such digests
    (the caller sends those again with their bytes).
    """
    mode = modes.mode_of(modes.template_version(probe))
    foreign = [digest for digest, _ in chunks if not digest.startswith(f"{mode}:")]
    if foreign:
        raise modes.TemplateVersionError(f"a {mode} probe was sent galleries of another mode: {foreign[0]}")
    galleries = [_galleries.get(digest) for digest, _ in chunks]
    missing = [digest for (digest, data), held in zip(chunks, galleries) if held is None and data is None]
    if missing:
        return missing
    for index, (digest, data) in enumerate(chunks):
        if galleries[index] is None:
            galleries[index] = _galleries[digest] = modes.gallery_from_bytes(mode, data)
        else:
            _galleries.move_to_end(digest)
    # Trimmed after every gallery of this search is in hand, so none is dropped half-way.
    while len(_galleries) > CACHED_CHUNKS:
        _galleries.popitem(last=False)
    matcher = modes.matcher(mode, probe)
    parts = [matcher.match_compact(gallery) for gallery in galleries]
    return rank(np.concatenate(parts) if parts else np.zeros(0), threshold, limit)


def rank(scores: np.ndarray, threshold: float, limit: int | None = None) -> list[tuple[int, float]]:
    hits = np.flatnonzero(scores >= threshold)
    order = hits[np.lexsort((hits, -scores[hits]))][:limit]
    return [(int(i), float(scores[i])) for i in order]


class MatchingPool:
    """A process pool sized to the cores, so matching never blocks the event loop.

    Workers are forked from a fork server that has imported and compiled the engine once
    (biometrics.warmup), so a new pool's first request does not pay numba's start-up.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._executor: Executor | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["biometrics.warmup"])
        self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

    async def close(self) -> None:
        if self._executor is not None:
            executor, self._executor = self._executor, None
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)

    async def run(self, function, *args):
        if self._executor is None:
            raise RuntimeError("the matching pool is not started")
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def analyse(self, image: bytes, dpi: float, mode: str = "exact") -> Analysis:
        if mode == "accurate":
            return (await self._accurate(image, dpi, []))[0]
        return await self.run(analyse, image, dpi, mode)

    async def analyse_and_score(self, image: bytes, dpi: float, candidates: Sequence[bytes],
                                mode: str = "exact") -> tuple[Analysis, list[float]]:
        if mode == "accurate":
            return await self._accurate(image, dpi, list(candidates))
        return await self.run(analyse_and_score, image, dpi, list(candidates), mode)

    async def _accurate(self, image: bytes, dpi: float, candidates: list[bytes]) -> tuple[Analysis, list[float]]:
        """The accuracy mode's two extractions as two tasks at once (on two workers when two are
        free): the verification waits for the longer one, not for their sum."""
        parts = await asyncio.gather(*(self.run(analyse_accurate_part, image, dpi, part, candidates)
                                       for part in ACCURATE_PARTS))
        return join_accurate(parts)

    async def scores(self, probe: bytes, candidates: Sequence[bytes]) -> list[float]:
        return await self.run(scores, probe, list(candidates))

    async def search(self, probe: bytes, chunks: Sequence[Sequence[bytes]]) -> list[float]:
        """Scores against the candidates of every chunk, in order (see `search`)."""
        return await self.run(search, probe, [list(c) for c in chunks])

    async def compact_chunk(self, candidates: Sequence[bytes], mode: str = "exact") -> tuple[str, bytes]:
        return await self.run(compact_chunk, list(candidates), mode)

    async def identify_compact(self, probe: bytes, chunks: Sequence[tuple[str, bytes]], threshold: float,
                               limit: int | None = None) -> list[tuple[int, float]]:
        """identify_compact on a worker: first by digest only, then with the bytes of what it lacks
        (after two misses, every chunk's bytes: the pool may hand each call to another worker)."""
        missing: set[str] = set()
        for attempt in range(3):
            request = [(digest, data if attempt == 2 or digest in missing else None) for digest, data in chunks]
            answer = await self.run(identify_compact, probe, request, threshold, limit)
            if not answer or isinstance(answer[0], tuple):
                return answer
            missing = set(answer)
        raise RuntimeError("a worker did not take the chunks it was sent")

    async def render(self, template: bytes, image: bytes | None = None) -> bytes:
        return await self.run(render, template, image)


def render(template: bytes, image: bytes | None = None) -> bytes:
    """A PNG of the print with its minutiae drawn (the engine's drawing); without the image
    (not kept), the minutiae on a blank card of the print's size."""
    import io

    import numpy as np

    from .sourceafis.drawing import draw_minutiae

    parsed = modes.reader(modes.mode_of(modes.template_version(template)))(template)
    if image is not None:
        pixels = decode_image(image)
    else:
        pixels = np.zeros((max(parsed.height, 1), max(parsed.width, 1)), dtype=np.float64)
    out = io.BytesIO()
    draw_minutiae(pixels, parsed).save(out, "PNG")
    return out.getvalue()
