"""Each extraction stage against the Java original's transparency record of that stage.

Every case starts from the record's own `decoded-image` matrix, so these tests check
the algorithm, whatever the image decoder does.

Tolerances:
- Booleans, integers (histograms, block grid, masks, binary images, skeleton pixels and
  graphs, minutia positions and types): exact. These are the algorithm's decisions;
  one flipped value is a real difference.
- Float matrices (scaled and equalized image, contrast, smoothing): max absolute
  difference 1e-9. The port does the same IEEE double operations in the same order as
  Java; on this machine these agree bit for bit (difference 0.0).
- Orientation vectors (pixelwise, per block, smoothed): max absolute difference 1e-9.
  Their unit vectors come from cos/sin, where glibc and Java's intrinsics can differ
  by 1 ulp; summed over up to 9 × 225 pixels this leaves differences of at most
  1.4e-12 here (on values up to ~1e3). The angles taken from them, and every later
  stage, are identical. Any real deviation of the algorithm shows up above 1e-4.
- Minutia directions: exact float32, since they come from atan2 of small integer
  vectors, rounded to float32 (a 1-ulp double difference cannot change the float32
  except at a rounding tie, which would be reported here as a failure to look at).
"""

from __future__ import annotations


import cbor2
import numpy as np
import pytest

from biometrics.sourceafis import extractor
from biometrics.sourceafis.blocks import BlockMap
from biometrics.sourceafis.skeleton import Skeleton
from biometrics.sourceafis.template import Minutia, MinutiaType, Template

from tests.fingerprint_data import TRANSPARENCY, read_bytes
CASES = ["101_1.tif", "101_2.tif", "102_1.tif"]
FLOAT_TOLERANCE = 1e-9

def load(case: str, key: str):
    return cbor2.loads(read_bytes(TRANSPARENCY / f"extract-{case}" / f"{key}.cbor"))


def _matrix(record: dict, dtype) -> np.ndarray:
    return np.array(record["cells"], dtype=dtype).reshape(record["height"], record["width"])


def _snapshot(key: str, value):
    """Copies a stage result at the moment it is recorded (skeletons are edited in place later)."""
    if isinstance(value, Skeleton):
        return {
            "minutiae": [minutia.position for minutia in value.minutiae],
            "ridges": value.ridges(),
        }
    if isinstance(value, list):
        return [(m.x, m.y, m.direction, int(m.type)) for m in value]
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


@pytest.fixture(scope="module", params=CASES)
def run(request):
    case = request.param
    decoded = _matrix(load(case, "decoded-image"), np.float64)
    stages: dict = {}
    width, height, minutiae = extractor.extract_stages(decoded, 500, lambda key, value: stages.__setitem__(key, _snapshot(key, value)))
    template = Template(width, height, tuple(Minutia(m.x, m.y, m.direction, MinutiaType(m.type)) for m in minutiae))
    return case, stages, template


FLOAT_MATRICES = ["decoded-image", "scaled-image", "contrast", "equalized-image", "parallel-smoothing", "orthogonal-smoothing"]
BOOLEAN_MATRICES = [
    "absolute-contrast-mask",
    "relative-contrast-mask",
    "combined-mask",
    "filtered-mask",
    "binarized-image",
    "pixel-mask",
    "filtered-binary-image",
    "inner-mask",
    "ridges-binarized-skeleton",
    "ridges-thinned-skeleton",
    "valleys-binarized-skeleton",
    "valleys-thinned-skeleton",
]
POINT_MATRICES = ["pixelwise-orientation", "block-orientation", "smoothed-orientation"]
HISTOGRAMS = ["histogram", "smoothed-histogram"]
SKELETONS = [
    prefix + key
    for prefix in ("ridges-", "valleys-")
    for key in ("traced-skeleton", "removed-dots", "removed-pores", "removed-gaps", "removed-tails", "removed-fragments")
]
MINUTIA_LISTS = ["skeleton-minutiae", "inner-minutiae", "removed-minutia-clouds", "top-minutiae"]


@pytest.mark.parametrize("key", FLOAT_MATRICES)
def test_float_matrix(run, key):
    case, stages, _ = run
    expected = _matrix(load(case, key), np.float64)
    actual = stages[key]
    assert actual.shape == expected.shape
    assert np.max(np.abs(actual - expected)) <= FLOAT_TOLERANCE


@pytest.mark.parametrize("key", BOOLEAN_MATRICES)
def test_boolean_matrix(run, key):
    case, stages, _ = run
    expected = _matrix(load(case, key), bool)
    actual = stages[key]
    assert actual.shape == expected.shape
    differing = int(np.count_nonzero(actual != expected))
    assert differing == 0, f"{differing} of {expected.size} cells differ"


@pytest.mark.parametrize("key", POINT_MATRICES)
def test_orientation_vectors(run, key):
    case, stages, _ = run
    record = load(case, key)
    expected = np.array(record["vectors"], dtype=np.float64).reshape(record["height"], record["width"], 2)
    actual = stages[key]
    assert actual.shape == expected.shape
    assert np.max(np.abs(actual - expected)) <= FLOAT_TOLERANCE


@pytest.mark.parametrize("key", HISTOGRAMS)
def test_histogram(run, key):
    case, stages, _ = run
    record = load(case, key)
    expected = np.array(record["counts"], dtype=np.int64).reshape(record["height"], record["width"], record["bins"])
    np.testing.assert_array_equal(stages[key], expected)


def test_blocks(run):
    case, stages, _ = run
    record = load(case, "blocks")
    blocks: BlockMap = stages["blocks"]
    assert (blocks.width, blocks.height) == (record["pixels"]["x"], record["pixels"]["y"])
    for name, grid in (("primary", blocks.primary), ("secondary", blocks.secondary)):
        assert (grid.width, grid.height) == (record[name]["blocks"]["x"], record[name]["blocks"]["y"])
        assert grid.xs.tolist() == record[name]["x"]
        assert grid.ys.tolist() == record[name]["y"]


@pytest.mark.parametrize("key", SKELETONS)
def test_skeleton(run, key):
    case, stages, _ = run
    record = load(case, key)
    actual = stages[key]
    assert actual["minutiae"] == [(m["x"], m["y"]) for m in record["minutiae"]]
    expected_ridges = [(r["start"], r["end"], [(p["x"], p["y"]) for p in r["points"]]) for r in record["ridges"]]
    assert len(actual["ridges"]) == len(expected_ridges)
    assert actual["ridges"] == expected_ridges


def _minutiae(record: dict) -> list[tuple]:
    return [
        (m["position"]["x"], m["position"]["y"], m["direction"], 0 if m["type"] == "ENDING" else 1)
        for m in record["minutiae"]
    ]


@pytest.mark.parametrize("key", MINUTIA_LISTS)
def test_minutiae(run, key):
    case, stages, _ = run
    assert stages[key] == _minutiae(load(case, key))


def test_shuffled_minutiae_and_template(run):
    case, _, template = run
    record = load(case, "shuffled-minutiae")
    assert (template.width, template.height) == (record["size"]["x"], record["size"]["y"])
    assert [(m.x, m.y, m.direction, int(m.type)) for m in template.minutiae] == _minutiae(record)
    java = Template.from_cbor(read_bytes(TRANSPARENCY / f"extract-{case}" / "template.cbor"))
    assert template.minutiae == java.minutiae


def test_resizer_averages_areas():
    # Not covered by the records (all are 500 dpi, where the image passes unchanged).
    from biometrics.sourceafis.resizer import resize

    image = np.arange(16, dtype=np.float64).reshape(4, 4)
    assert resize(image, 500) is image
    halved = resize(image, 1000)
    np.testing.assert_allclose(halved, image.reshape(2, 2, 2, 2).mean(axis=(1, 3)), rtol=0, atol=1e-12)
    # Java's Math.round rounds 2.5 up: 5 px at 1000 dpi become 3 px, not 2.
    assert resize(np.ones((5, 5)), 1000).shape == (3, 3)
    doubled = resize(image, 250)
    assert doubled.shape == (8, 8)
    np.testing.assert_allclose(doubled[::2, ::2], image, rtol=0, atol=1e-12)
