"""The faster Gabor filterings measured by bench/enhancement_fit.py (not in the mode) compute
what they claim: the decimated one equals each pixel's own kernel applied directly on the grid
it samples, the pooled ones follow the full-resolution response, the tool puts the mode's
filtering back, and it reads the fit fingers only."""
from __future__ import annotations

import numpy as np
import pytest

from bench import enhancement_fit
from biometrics.accurate import enhancement
from biometrics.accurate.enhancement import GaborParameters
from biometrics.accurate.extraction import normalized
from biometrics.sourceafis.image import decode_image
from tests.fingerprint_data import fvc_path

PARAMS = GaborParameters()


@pytest.fixture(scope="module")
def print_102_3() -> np.ndarray:
    image = normalized(decode_image(fvc_path("102_3").read_bytes()), 500)
    return (image - image.mean()) / image.std()


def _direct(image: np.ndarray, index: np.ndarray, y: int, x: int) -> float:
    radius = int(round(3 * PARAMS.sigma))
    padded = np.pad(image, radius, mode="reflect")
    kernel = enhancement._gabor_kernel(index[y, x] * np.pi / PARAMS.orientations, PARAMS)
    return float((padded[y:y + 2 * radius + 1, x:x + 2 * radius + 1] * kernel[::-1, ::-1]).sum())


def test_the_decimated_filter_is_exact_on_its_grid_and_close_between(print_102_3):
    image = print_102_3
    rng = np.random.default_rng(5)
    index = rng.integers(0, PARAMS.orientations, size=image.shape)
    fast = enhancement_fit.decimated_gabor(image, index, PARAMS)
    for y, x in zip(2 * rng.integers(0, image.shape[0] // 2, 200), 2 * rng.integers(0, image.shape[1] // 2, 200)):
        assert fast[y, x] == pytest.approx(_direct(image, index, y, x), abs=1e-3)
    # Off the grid: cubic midpoints of the exact samples, including the last row and column.
    full = enhancement._oriented_gabor(image, index, PARAMS)
    assert np.isfinite(fast).all()
    assert np.abs(fast - full).mean() < 0.05 * np.abs(full).mean()
    assert np.corrcoef(fast[-1], full[-1])[0, 1] > 0.95
    assert np.corrcoef(fast[:, -1], full[:, -1])[0, 1] > 0.95


@pytest.mark.parametrize("variant", ["coarse", "coarse-cubic"])
def test_the_pooled_filterings_follow_the_full_response(print_102_3, variant):
    image = print_102_3
    index, _ = enhancement._bins(*enhancement._smoothed_moments(image, PARAMS), PARAMS.orientations, -1.0, 1.0)
    full = enhancement._oriented_gabor(image, index, PARAMS)
    pooled = enhancement_fit.VARIANTS[variant](image, index, PARAMS)
    assert np.isfinite(pooled).all()
    assert np.corrcoef(pooled.ravel(), full.ravel())[0, 1] > 0.8
    # The same ridges: the sign (ridge or valley) agrees where the full response is strong.
    strong = np.abs(full) > np.percentile(np.abs(full), 50)
    assert (np.sign(pooled[strong]) == np.sign(full[strong])).mean() > 0.9


def test_the_tool_restores_the_modes_filtering_and_reads_only_the_fit_fingers(print_102_3):
    original = enhancement._oriented_gabor
    with enhancement_fit.filtering("coarse"):
        assert enhancement._oriented_gabor is enhancement_fit.coarse_gabor
    assert enhancement._oriented_gabor is original
    with pytest.raises(RuntimeError), enhancement_fit.filtering("decimated"):
        raise RuntimeError
    assert enhancement._oriented_gabor is original
    assert enhancement_fit.FIT == ("101", "102", "103", "104", "105")
