"""Faster variants of the accuracy mode's Gabor filtering, compared on the FIT fingers only
(101-105 of FVC2002 DB1_B and of the worn 400 dpi set; fingers 106-110 are never read here):
every-pair EER and FNMR at FMR 0.1 % of the mode's score (the higher of the enhanced and plain
sets' SourceAFIS scores) and of the enhanced set alone, and the enhancement's median CPU time
per print (time.process_time; the CPU figure is the steady one on a loaded machine).

    .venv/bin/python bench/enhancement_fit.py [--variants full,coarse,coarse-cubic,decimated]
    .venv/bin/python bench/enhancement_fit.py --verification [--rounds 3]

`--verification` measures instead the CPU time of a desk verification through
`biometrics.engine.analyse_and_score` in one process (decode, extraction(s), the two enrolled
impressions scored), exact against accurate with each variant, modes alternated, on the fit
fingers' impressions 3-4 against their 1-2.

Variants of `enhancement._oriented_gabor` (the 16 inverse FFTs are most of the enhancement's
time); everything else in `enhance` is the mode's own:

- full: the mode's filtering (each pixel's response from a full-resolution FFT per orientation).
- coarse: the bank run on the normalised image mean-pooled 2 × 2 (ridge period 9 → 4.5 px,
  σ 4 → 2: FFTs a quarter of the size), each pixel taking its bin's pooled response
  interpolated bilinearly (the cell centres of `_upsampling`).
- coarse-cubic: the same, interpolated by Catmull-Rom over 4 × 4 cells.
- decimated: the full-resolution filter brought back exactly at every other pixel of both axes
  (a 2× decimation is the sum of the spectrum's aliased halves, so each inverse FFT is a quarter
  of the size); the other pixels are cubic midpoints of those samples.

Used to decide whether a faster enhancement may replace the mode's without losing accuracy,
without looking at the held-out fingers (docs/fingerprint-accuracy.md, "Speed").
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.accurate import enhancement  # noqa: E402
from biometrics.accurate.enhancement import GaborParameters, enhance  # noqa: E402
from biometrics.accurate.extraction import normalized  # noqa: E402
from biometrics.sourceafis.extractor import extract  # noqa: E402
from biometrics.sourceafis.image import decode_image  # noqa: E402
from biometrics.sourceafis.matcher import Matcher  # noqa: E402
from tests.fingerprint_data import fvc_images  # noqa: E402

from bench import worn_prints  # noqa: E402
from bench.fingerprint_accuracy import ScoreTable, all_pairs, rates  # noqa: E402

FIT = tuple(str(f) for f in range(101, 106))


@njit(cache=True)
def _take_bilinear(result, response, pixels, offset, y0, y1, wy, x0, x1, wx) -> None:
    """result at the flat positions `pixels` = the pooled `response` (shifted by `offset` cells
    both ways) interpolated bilinearly."""
    width = result.shape[1]
    for p in pixels:
        y, x = p // width, p % width
        low = response[y0[y] + offset, x0[x] + offset] * (1 - wy[y]) + response[y1[y] + offset, x0[x] + offset] * wy[y]
        high = response[y0[y] + offset, x1[x] + offset] * (1 - wy[y]) + response[y1[y] + offset, x1[x] + offset] * wy[y]
        result[y, x] = low * (1 - wx[x]) + high * wx[x]


@njit(cache=True)
def _take_cubic(result, response, pixels, offset, rows, row_weights, columns, column_weights) -> None:
    """The same over 4 × 4 cells with per-axis weights."""
    width = result.shape[1]
    for p in pixels:
        y, x = p // width, p % width
        value = 0.0
        for i in range(4):
            line = 0.0
            for j in range(4):
                line += response[rows[y, i] + offset, columns[x, j] + offset] * column_weights[x, j]
            value += line * row_weights[y, i]
        result[y, x] = value


def _cubic_axis(pixels: int, count: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Catmull-Rom cells and weights from a grid pooled by `factor` back to `pixels` (cell
    centres as in `_upsampling`, the edge cells repeated)."""
    position = np.clip((np.arange(pixels) + 0.5) / factor - 0.5, 0, count - 1)
    low = np.floor(position).astype(np.int64)
    t = (position - low)[:, None]
    cells = np.clip(low[:, None] + np.arange(-1, 3), 0, count - 1)
    weights = np.hstack([(-t ** 3 + 2 * t ** 2 - t) / 2, (3 * t ** 3 - 5 * t ** 2 + 2) / 2,
                         (-3 * t ** 3 + 4 * t ** 2 + t) / 2, (t ** 3 - t ** 2) / 2])
    return np.ascontiguousarray(cells), np.ascontiguousarray(weights)


def coarse_gabor(normalized_image, index, params, interpolation="linear", factor=2):
    """The bank on the image pooled by `factor` (period and σ divided by it)."""
    pooled = enhancement._pooled(np.ascontiguousarray(normalized_image), factor)
    small = dataclasses.replace(params, ridge_period=params.ridge_period / factor, sigma=params.sigma / factor)
    height, width = pooled.shape
    radius = int(round(3 * small.sigma))
    shape = (enhancement._fast_length(height + 2 * radius), enhancement._fast_length(width + 2 * radius))
    spectrum = np.fft.rfft2(np.pad(pooled.astype(np.float32), radius, mode="reflect"), shape)
    result = np.zeros_like(normalized_image)
    if interpolation == "cubic":
        take = _take_cubic
        weights = (*_cubic_axis(normalized_image.shape[0], height, factor),
                   *_cubic_axis(normalized_image.shape[1], width, factor))
    else:
        take = _take_bilinear
        weights = enhancement._upsampling(normalized_image.shape, pooled.shape, factor)
    order, ends = enhancement._by_bin(np.ascontiguousarray(index), params.orientations)
    for k, kernel_spectrum in enumerate(enhancement._kernel_spectra(shape, small)):
        pixels = order[ends[k - 1] if k else 0:ends[k]]
        if pixels.size:
            # The full convolution is shifted by the kernel's radius and the padding's.
            take(result, np.fft.irfft2(spectrum * kernel_spectrum, shape), pixels, 2 * radius, *weights)
    return result


@njit(cache=True)
def _take_even(result, response, pixels, offset) -> None:
    """result at `pixels` from `response`, the exact output at every other pixel of both axes
    (shifted by `offset` cells): a pixel on that grid takes its sample, any other the cubic
    (Catmull-Rom) midpoint of its 4 (or 4 × 4) nearest samples."""
    width = result.shape[1]
    near, far = 9.0 / 16.0, -1.0 / 16.0
    for p in pixels:
        y, x = p // width, p % width
        cy, cx = y // 2 + offset, x // 2 + offset
        if y % 2 == 0 and x % 2 == 0:
            result[y, x] = response[cy, cx]
        elif y % 2 == 0:
            result[y, x] = far * (response[cy, cx - 1] + response[cy, cx + 2]) + near * (response[cy, cx] + response[cy, cx + 1])
        elif x % 2 == 0:
            result[y, x] = far * (response[cy - 1, cx] + response[cy + 2, cx]) + near * (response[cy, cx] + response[cy + 1, cx])
        else:
            value = 0.0
            for i in range(4):
                line = (far * (response[cy - 1 + i, cx - 1] + response[cy - 1 + i, cx + 2])
                        + near * (response[cy - 1 + i, cx] + response[cy - 1 + i, cx + 1]))
                value += line * (near if i == 1 or i == 2 else far)
            result[y, x] = value


def _even_length(n: int) -> int:
    n = enhancement._fast_length(n)
    while n % 2:
        n = enhancement._fast_length(n + 1)
    return n


def decimated_gabor(normalized_image, index, params):
    """The full-resolution filter, each orientation brought back only at every other pixel."""
    height, width = normalized_image.shape
    radius = int(round(3 * params.sigma))
    # Two more pixels each side than the filter needs: the cubic midpoints reach a sample beyond
    # the image's last pixel, which must be the filter's response there, not the circular wrap.
    pad = radius + 4
    rows, columns = _even_length(height + 2 * pad), _even_length(width + 2 * pad)
    spectrum = np.fft.rfft2(np.pad(normalized_image.astype(np.float32), pad, mode="reflect"), (rows, columns))
    result = np.zeros_like(normalized_image)
    order, ends = enhancement._by_bin(np.ascontiguousarray(index), params.orientations)
    half_rows, half_columns = rows // 2, columns // 2
    kept = half_columns // 2 + 1  # the rfft bins of a decimated row
    mirror = -np.arange(half_rows) % half_rows  # row frequency -r of the row-folded spectrum
    for k, kernel_spectrum in enumerate(enhancement._kernel_spectra((rows, columns), params)):
        pixels = order[ends[k - 1] if k else 0:ends[k]]
        if pixels.size:
            product = spectrum * kernel_spectrum
            folded = product[:half_rows] + product[half_rows:]  # decimated along the rows
            # Along the columns the alias of bin c is c + W/2, outside the half spectrum: by the
            # spectrum's Hermitian symmetry it is conj(bin W/2 - c) at row frequency -r.
            folded = folded[:, :kept] + np.conj(folded[mirror][:, half_columns:half_columns - kept:-1])
            response = np.fft.irfft2(folded / 4, (half_rows, half_columns))
            # Pixel p is at p + pad + radius of the full output (an even shift): half that here.
            _take_even(result, response, pixels, (pad + radius) // 2)
    return result


VARIANTS = {
    "full": enhancement._oriented_gabor,
    "coarse": coarse_gabor,
    "coarse-cubic": lambda image, index, params: coarse_gabor(image, index, params, "cubic"),
    "decimated": decimated_gabor,
}


@contextlib.contextmanager
def filtering(variant: str):
    """`enhance` with the variant's Gabor filtering in place of the mode's."""
    original = enhancement._oriented_gabor
    enhancement._oriented_gabor = VARIANTS[variant]
    try:
        yield
    finally:
        enhancement._oriented_gabor = original


def verification_cpu(variants, rounds: int) -> dict:
    """Median CPU time per verification, per setting ("exact", "accurate <variant>"), and the
    median ratio of each to the exact verification of the same probe made next to it."""
    from biometrics import engine
    from biometrics.accurate import write_template
    from biometrics.accurate.extraction import extract as extract_accurate

    files = {p.stem: p.read_bytes() for p in fvc_images() if p.stem.split("_")[0] in FIT}
    probes = [f"{f}_{i}" for f in FIT for i in (3, 4)]
    enrolled = {f: [f"{f}_1", f"{f}_2"] for f in FIT}
    stored = {"exact": {n: extract(decode_image(files[n]), 500).to_cbor() for e in enrolled.values() for n in e}}
    for variant in variants:
        with filtering(variant):
            stored[variant] = {n: write_template(extract_accurate(decode_image(files[n]), 500))
                               for e in enrolled.values() for n in e}
    settings = ["exact", *variants]
    cpu = {s: [] for s in settings}
    for round_ in range(rounds + 1):  # the first round compiles and warms the caches
        for probe in probes:
            candidates = enrolled[probe.split("_")[0]]
            for setting in settings if len(cpu["exact"]) % 2 == 0 else settings[::-1]:
                mode = "exact" if setting == "exact" else "accurate"
                with filtering("full" if setting == "exact" else setting):
                    start = time.process_time()
                    engine.analyse_and_score(files[probe], 500, [stored[setting][c] for c in candidates], mode)
                    spent = time.process_time() - start
                if round_:
                    cpu[setting].append(spent)
    result = {}
    for setting in settings:
        result[setting] = statistics.median(cpu[setting])
        if setting != "exact":
            result[f"ratio {setting}"] = statistics.median(a / e for a, e in zip(cpu[setting], cpu["exact"]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--verification", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.verification:
        before = os.getloadavg()[0]
        times = verification_cpu(args.variants.split(","), args.rounds)
        print(f"verification CPU, median over {args.rounds} rounds of {2 * len(FIT)} probes, load average "
              f"{before:.2f} before / {os.getloadavg()[0]:.2f} after (1 min), {os.cpu_count()} cores:")
        print(f"  exact {times['exact'] * 1000:.1f} ms")
        for variant in args.variants.split(","):
            print(f"  accurate, {variant} filtering: {times[variant] * 1000:.1f} ms ({times['ratio ' + variant]:.2f}x exact)")
        return
    paths = [p for p in fvc_images() if p.stem.split("_")[0] in FIT]
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores", flush=True)
    params = GaborParameters()
    for label, damage, dpi in (("DB1_B", None, 500), ("worn", worn_prints.worn, worn_prints.WORN_DPI)):
        images, plain = {}, {}
        for path in paths:
            pixels = decode_image(path.read_bytes())
            if damage is not None:
                pixels = damage(pixels, path.stem)
            images[path.stem] = normalized(pixels, dpi)
            plain[path.stem] = extract(pixels, dpi)
        names = sorted(images)
        plain_matchers = {n: Matcher(plain[n]) for n in names}
        for variant in args.variants.split(","):
            with filtering(variant):
                enhance(images[names[0]], params)  # compile and warm the caches
                enhanced, cpu = {}, []
                for n in names:
                    start = time.process_time()
                    picture = enhance(images[n], params)
                    cpu.append(time.process_time() - start)
                    enhanced[n] = extract(picture, 500)
            matchers = {n: Matcher(enhanced[n]) for n in names}
            alone = {(p, c): float(matchers[p].match(enhanced[c])) for p in names for c in names if p != c}
            both = {(p, c): max(s, float(plain_matchers[p].match(plain[c]))) for (p, c), s in alone.items()}
            for kind, table in (("mode (max of both sets)", both), ("enhanced set alone", alone)):
                r = rates(*all_pairs(ScoreTable(table), FIT))
                print(f"{label:5} {variant:12} {kind:24} EER {r['eer']:.2%}  FNMR@0.1% {r['fnmr_0.1']:.2%}  "
                      f"enhancement CPU median {statistics.median(cpu) * 1000:.1f} ms", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
