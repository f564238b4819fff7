"""Speed and accuracy of extraction and matching on a set of prints with known fingers."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .accuracy import ErrorRates
from .edges import SearchTemplate
from .gallery import Gallery
from .matcher import Matcher
from .template import Template

Progress = Callable[[str, int, int], None]

# Timing passes over the comparisons; the median pass is reported.
PASSES = 3
# Back-to-back comparisons of one pair, as the Java original's timings were taken (20 calls, divided by 20).
REPEATS = 20
# CPU time of this thread: on a shared machine, time spent waiting for a core is not the matcher's.
_clock = time.thread_time


@dataclass(frozen=True)
class BenchmarkReport:
    prints: int
    fingers: int
    extraction_ms: float  # median per image, decode + extract
    median_minutiae: float
    probe_build_us: float  # median Matcher(probe) time
    impostor_us: float  # median over impostor pairs of one comparison, REPEATS back to back (Java's method)
    genuine_us: float  # the same over genuine pairs
    impostor_per_second: float  # impostor-only galleries of distinct candidates
    genuine_per_second: float
    one_to_n_per_second: float
    single_match_us: float  # median of one Matcher.match() call from Python, impostor pairs
    genuine_pairs: int
    impostor_pairs: int
    eer: float
    eer_low: float
    eer_high: float
    fnmr_at_fmr_1: float
    fnmr_at_fmr_01: float

    def lines(self) -> list[str]:
        return [
            f"prints                          {self.prints} ({self.fingers} fingers)",
            f"extraction (decode + extract)   {self.extraction_ms:.1f} ms median, {self.median_minutiae:g} minutiae median",
            f"probe build (Matcher)           {self.probe_build_us:.0f} µs median",
            f"impostor comparisons            {1e6 / self.impostor_us:,.0f}/s ({self.impostor_us:.1f} µs median;"
            f" one pair {REPEATS}× back to back, as the Java timings)",
            f"genuine comparisons             {1e6 / self.genuine_us:,.0f}/s ({self.genuine_us:.1f} µs median)",
            f"impostor comparisons, 1:N       {self.impostor_per_second:,.0f}/s ({1e6 / self.impostor_per_second:.1f} µs each;"
            f" distinct candidates in turn)",
            f"genuine comparisons, 1:N        {self.genuine_per_second:,.0f}/s ({1e6 / self.genuine_per_second:.1f} µs each)",
            f"1:N comparisons (one core)      {self.one_to_n_per_second:,.0f}/s (every print against all {self.prints})",
            f"single match() call             {self.single_match_us:.1f} µs median (impostor, with Python call overhead)",
            "(times are CPU time of one thread)",
            f"EER                             {100 * self.eer:.2f}% (interval {100 * self.eer_low:.2f}%–{100 * self.eer_high:.2f}%;"
            f" {self.genuine_pairs} genuine, {self.impostor_pairs} impostor pairs)",
            f"FNMR at FMR 1%                  {100 * self.fnmr_at_fmr_1:.2f}%",
            f"FNMR at FMR 0.1%                {100 * self.fnmr_at_fmr_01:.2f}%",
        ]


def run_benchmark(
    images: Sequence[tuple[object, bytes]],
    fingers: Sequence[str],
    extract: Callable[[bytes], Template],
    progress: Progress = lambda label, done, total: None,
) -> BenchmarkReport:
    """Extracts every image, then times comparisons: impostor, genuine and 1:N (all against all)."""
    count = len(images)
    # One untimed extraction and match first: numba compiles (or loads its cache) on first use.
    warm = SearchTemplate.build(extract(images[0][1]))
    Matcher(warm).match(warm)
    templates: list[SearchTemplate] = []
    extraction_ms = []
    for index, (_, data) in enumerate(images):
        started = _clock()
        template = extract(data)
        extraction_ms.append(1000 * (_clock() - started))
        templates.append(SearchTemplate.build(template))
        progress("extracting", index + 1, count)

    build_us = []
    matchers = []
    for template in templates:
        started = _clock()
        matchers.append(Matcher(template))
        build_us.append(1e6 * (_clock() - started))

    same = np.array([[a == b for b in fingers] for a in fingers])
    impostor_galleries = [Gallery([t for j, t in enumerate(templates) if not same[i, j]]) for i in range(count)]
    genuine_galleries = [Gallery([t for j, t in enumerate(templates) if same[i, j] and i != j]) for i in range(count)]
    full = Gallery(templates)
    impostor_pairs = int((~same).sum())
    genuine_pairs = int(same.sum()) - count

    def timed(galleries: Sequence[Gallery], label: str, pass_index: int) -> float:
        started = _clock()
        for index, (matcher, gallery) in enumerate(zip(matchers, galleries)):
            matcher.match_gallery(gallery)
            progress(f"{label} {pass_index + 1}/{PASSES}", index + 1, count)
        return _clock() - started

    impostor_s = statistics.median(timed(impostor_galleries, "impostor", p) for p in range(PASSES))
    genuine_s = statistics.median(timed(genuine_galleries, "genuine", p) for p in range(PASSES))
    full_s = statistics.median(timed([full] * count, "1:N", p) for p in range(PASSES))

    repeated_us: dict[bool, list[float]] = {True: [], False: []}
    for i, matcher in enumerate(matchers):
        for j, candidate in enumerate(templates):
            if i != j:
                pair = Gallery([candidate] * REPEATS)
                started = _clock()
                matcher.match_gallery(pair)
                repeated_us[bool(same[i, j])].append(1e6 * (_clock() - started) / REPEATS)
        progress("pairs 20×", i + 1, count)

    single_us = []
    for i, matcher in enumerate(matchers):
        for j, candidate in enumerate(templates):
            if not same[i, j]:
                started = _clock()
                matcher.match(candidate)
                single_us.append(1e6 * (_clock() - started))
        progress("single calls", i + 1, count)

    scores = np.stack([matcher.match_gallery(full) for matcher in matchers])
    off_diagonal = ~np.eye(count, dtype=bool)
    rates = ErrorRates(scores[same & off_diagonal], scores[~same])
    eer = rates.eer()
    return BenchmarkReport(
        prints=count,
        fingers=len(set(fingers)),
        extraction_ms=statistics.median(extraction_ms),
        median_minutiae=statistics.median(t.count for t in templates),
        probe_build_us=statistics.median(build_us),
        impostor_us=statistics.median(repeated_us[False]),
        genuine_us=statistics.median(repeated_us[True]) if repeated_us[True] else float("nan"),
        impostor_per_second=impostor_pairs / impostor_s,
        genuine_per_second=genuine_pairs / genuine_s if genuine_pairs else float("nan"),
        one_to_n_per_second=count * count / full_s,
        single_match_us=statistics.median(single_us),
        genuine_pairs=genuine_pairs,
        impostor_pairs=impostor_pairs,
        eer=eer.value,
        eer_low=eer.low,
        eer_high=eer.high,
        fnmr_at_fmr_1=rates.fnmr_at_fmr(0.01),
        fnmr_at_fmr_01=rates.fnmr_at_fmr(0.001),
    )
