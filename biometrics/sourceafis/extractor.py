"""Fingerprint feature extraction: image → minutiae template, as SourceAFIS 3.18.1 does it.

`extract` is the public entry. `extract_stages` also hands every intermediate result,
under the original's transparency key names, to a callback, so each stage can be
checked against the Java original's transparency records.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import (
    binarization,
    equalization,
    histogram,
    minutiae,
    orientation,
    resizer,
    segmentation,
    skeletonfilters,
    smoothing,
    thinning,
)
from . import extraction_parameters as parameters
from .blocks import block_map
from .image import ImageError
from .minutiae import FeatureMinutia
from .skeleton import Skeleton, SkeletonType, trace
from .template import Minutia, MinutiaType, Template

Recorder = Callable[[str, Any], None]

MIN_DPI = 20.0
MAX_DPI = 20_000.0
# Bounds memory when a low dpi scales a small image up.
MAX_SCALED_SIDE = 4000


def _ignore(key: str, value: Any) -> None:
    pass


def skeletonize(binary: np.ndarray, type: SkeletonType, record: Recorder = _ignore) -> Skeleton:
    """Thin, trace and filter one binary image into a skeleton graph."""
    prefix = type.value
    record(prefix + "binarized-skeleton", binary)
    thinned = thinning.thin(binary)
    record(prefix + "thinned-skeleton", thinned)
    skeleton = trace(thinned, type)
    record(prefix + "traced-skeleton", skeleton)
    skeletonfilters.remove_dots(skeleton)
    record(prefix + "removed-dots", skeleton)
    skeletonfilters.remove_pores(skeleton)
    record(prefix + "removed-pores", skeleton)
    skeletonfilters.remove_gaps(skeleton)
    record(prefix + "removed-gaps", skeleton)
    skeletonfilters.remove_tails(skeleton)
    record(prefix + "removed-tails", skeleton)
    skeletonfilters.remove_fragments(skeleton)
    record(prefix + "removed-fragments", skeleton)
    return skeleton


def extract_stages(
    pixels: np.ndarray, dpi: float = 500, record: Recorder = _ignore
) -> tuple[int, int, list[FeatureMinutia]]:
    """Runs the whole pipeline; returns (width, height, minutiae before shuffling).

    `pixels` is a (height, width) float matrix with 1.0 = black.
    """
    try:
        dpi = float(dpi)
    except (TypeError, ValueError):
        raise ImageError(f"dpi must be a number, got {dpi!r}") from None
    if not MIN_DPI <= dpi <= MAX_DPI:
        raise ImageError(f"dpi {dpi} is outside the supported range {MIN_DPI:g}–{MAX_DPI:g}")
    image = np.ascontiguousarray(pixels, dtype=np.float64)
    if image.ndim != 2 or image.size == 0:
        raise ImageError(f"expected a non-empty 2-D pixel matrix, got shape {image.shape}")
    if not np.isfinite(image).all():
        raise ImageError("pixel matrix contains NaN or infinite values")
    record("decoded-image", image)
    height, width = image.shape
    new_width, new_height = resizer.scaled_size(width, height, dpi)
    if new_width < 1 or new_height < 1:
        raise ImageError(f"image of {width}×{height} px at {dpi:g} dpi is smaller than one pixel at 500 dpi")
    if new_width > MAX_SCALED_SIDE or new_height > MAX_SCALED_SIDE:
        raise ImageError(f"image of {width}×{height} px at {dpi:g} dpi is larger than {MAX_SCALED_SIDE} px at 500 dpi")
    image = resizer.resize(image, dpi)
    record("scaled-image", image)
    height, width = image.shape
    blocks = block_map(width, height, parameters.BLOCK_SIZE)
    record("blocks", blocks)
    local = histogram.create(blocks, image)
    record("histogram", local)
    smoothed_histogram = histogram.smooth(blocks, local)
    record("smoothed-histogram", smoothed_histogram)
    contrast = segmentation.clipped_contrast(local)
    record("contrast", contrast)
    absolute = segmentation.absolute_contrast_mask(contrast)
    record("absolute-contrast-mask", absolute)
    relative = segmentation.relative_contrast_mask(contrast, blocks)
    record("relative-contrast-mask", relative)
    combined = absolute | relative
    record("combined-mask", combined)
    mask = segmentation.filter_mask(combined)
    record("filtered-mask", mask)
    equalized = equalization.equalize(blocks, image, smoothed_histogram, mask)
    record("equalized-image", equalized)
    pixelwise = orientation.pixelwise(equalized, mask, blocks)
    record("pixelwise-orientation", pixelwise)
    by_block = orientation.aggregate(pixelwise, blocks, mask)
    record("block-orientation", by_block)
    smoothed_orientation = orientation.smooth(by_block, mask)
    record("smoothed-orientation", smoothed_orientation)
    block_angles = orientation.block_angles(smoothed_orientation, mask)
    parallel = smoothing.parallel(equalized, block_angles, mask, blocks)
    record("parallel-smoothing", parallel)
    orthogonal = smoothing.orthogonal(parallel, block_angles, mask, blocks)
    record("orthogonal-smoothing", orthogonal)
    binary = binarization.binarize(parallel, orthogonal, mask, blocks)
    record("binarized-image", binary)
    pixel_mask = segmentation.pixelwise(mask, blocks)
    record("pixel-mask", pixel_mask)
    binary = binarization.cleanup(binary, pixel_mask)
    record("filtered-binary-image", binary)
    inverted = binarization.invert(binary, pixel_mask)
    inner_mask = segmentation.inner(pixel_mask)
    record("inner-mask", inner_mask)
    ridges = skeletonize(binary, SkeletonType.RIDGES, record)
    valleys = skeletonize(inverted, SkeletonType.VALLEYS, record)
    found = minutiae.collect(ridges, valleys)
    record("skeleton-minutiae", found)
    found = minutiae.inner(found, inner_mask)
    record("inner-minutiae", found)
    found = minutiae.remove_clouds(found)
    record("removed-minutia-clouds", found)
    found = minutiae.top(found)
    record("top-minutiae", found)
    return width, height, found


def extract(pixels: np.ndarray, dpi: float = 500) -> Template:
    """Minutiae template of a fingerprint image scanned at `dpi`.

    `pixels` is a (height, width) float matrix with 1.0 = black, as `decode_image`
    returns. Raises ImageError for matrices or dpi it cannot work on; a blank or tiny
    image gives a template without minutiae.
    """
    width, height, found = extract_stages(pixels, dpi)
    return Template(
        width,
        height,
        tuple(Minutia(m.x, m.y, m.direction, MinutiaType(m.type)) for m in found),
    )
