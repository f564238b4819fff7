"""Minutia Cylinder-Code (biometrics/accurate/mcc.py): the properties the published algorithm
has, on the repository's prints."""
from __future__ import annotations

import functools
import math
import statistics

import numpy as np
import pytest
from PIL import Image

from biometrics.accurate import mcc
from biometrics.sourceafis.extractor import extract
from biometrics.sourceafis.image import decode_image
from biometrics.sourceafis.template import Minutia, Template
from tests.fingerprint_data import fvc_path


@functools.lru_cache(maxsize=None)
def _pixels(name: str) -> np.ndarray:
    return decode_image(fvc_path(name).read_bytes())


@functools.lru_cache(maxsize=None)
def _template(name: str) -> Template:
    return extract(_pixels(name), 500)


def _moved(template: Template, angle: float, shift: tuple[float, float]) -> Template:
    """The template's minutiae turned by `angle` about the print's centre and shifted: the same
    finger placed otherwise on the glass (positions rounded to whole pixels, as extracted)."""
    cx, cy = template.width / 2, template.height / 2
    c, s = math.cos(angle), math.sin(angle)
    moved = []
    for m in template.minutiae:
        x, y = m.x - cx, m.y - cy
        moved.append(Minutia(int(round(cx + c * x - s * y + shift[0])), int(round(cy + s * x + c * y + shift[1])),
                             (m.direction + angle) % (2 * math.pi), m.type))
    return Template(template.width + 200, template.height + 200, tuple(moved))


def test_cylinder_layout_follows_the_paper():
    cylinders = mcc.cylinders(_template("101_1"))
    assert cylinders.values.shape[1] == 16 * 16 * 6
    assert cylinders.valid.shape[1] == 16 * 16
    assert 0 < len(cylinders) <= len(_template("101_1").minutiae)
    # Cells hold sigmoid values; cells outside the disc of radius R are never valid.
    assert cylinders.values.min() >= 0.0 and cylinders.values.max() <= 1.0
    corner = 0  # cell (0, 0): its centre is ~92 px from the minutia, beyond R = 70
    assert not cylinders.valid[:, corner].any()


@pytest.mark.parametrize("name", ["101_1", "106_3", "110_8"])
def test_self_match_is_the_maximum(name):
    cylinders = mcc.cylinders(_template(name))
    assert mcc.similarity(cylinders, cylinders) == pytest.approx(1.0, abs=1e-6)


def test_scores_are_symmetric_and_bounded():
    names = ["101_1", "101_2", "104_5", "107_1"]
    cylinders = {n: mcc.cylinders(_template(n)) for n in names}
    for a in names:
        for b in names:
            forward = mcc.similarity(cylinders[a], cylinders[b])
            assert 0.0 <= forward <= 1.0 + 1e-9
            assert forward == pytest.approx(mcc.similarity(cylinders[b], cylinders[a]), abs=1e-6)


def test_invariant_to_rotation_and_translation_of_the_minutiae():
    original = _template("103_2")
    impostor = mcc.MccMatcher(original).match(_template("108_2"))
    for angle, shift in ((math.radians(30), (60, -25)), (math.radians(-75), (100, 100)), (math.radians(85), (0, 40))):
        moved = _moved(original, angle, shift)
        score = mcc.MccMatcher(original).match(moved)
        # Only the rounding of positions to whole pixels separates it from the self-match.
        assert score > 0.9, (angle, score)
        assert score > impostor + 0.3
    # The paper's δθ = π/2: cylinders whose minutiae point more than 90° apart never pair, so a
    # print turned upside down is not matched (no scanner at a desk does that).
    assert mcc.MccMatcher(original).match(_moved(original, math.pi, (0, 0))) < 0.6


def test_rotated_copy_of_a_print_still_matches():
    """The image itself turned by 25° and shifted on a larger canvas, then extracted again: the
    score stays at the level of the unrotated genuine pair and far above impostors."""
    name = "105_1"
    pixels = _pixels(name)
    height, width = pixels.shape
    canvas = np.zeros((height + 120, width + 120))
    canvas[70:70 + height, 40:40 + width] = pixels  # 0.0 is white background
    rotated = np.asarray(Image.fromarray(canvas.astype(np.float32), mode="F").rotate(
        25, resample=Image.BICUBIC, fillcolor=0.0), dtype=np.float64)
    matcher = mcc.MccMatcher(_template(name))
    score = matcher.match(extract(rotated, 500))
    impostors = [matcher.match(_template(f"{finger}_1")) for finger in range(101, 111) if finger != 105]
    assert score > max(impostors) + 0.1, (score, impostors)
    assert score > 0.5


def test_genuine_scores_above_impostor_scores_on_db1b():
    """Impressions 1 and 2 of the ten DB1_B fingers: every genuine pair against every impostor
    pair (the matcher has no parameter fitted on these prints; they are the paper's)."""
    names = [f"{finger}_{impression}" for finger in range(101, 111) for impression in (1, 2)]
    cylinders = {n: mcc.cylinders(_template(n)) for n in names}
    genuine, impostor = [], []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            score = mcc.similarity(cylinders[a], cylinders[b])
            (genuine if a.split("_")[0] == b.split("_")[0] else impostor).append(score)
    assert len(genuine) == 10 and len(impostor) == 180
    assert statistics.fmean(genuine) > statistics.fmean(impostor) + 3 * statistics.pstdev(impostor)
    # Most genuine pairs are above every impostor pair.
    assert sum(g > max(impostor) for g in genuine) >= 7


def test_empty_and_tiny_templates_score_zero():
    empty = mcc.cylinders(Template(300, 300, ()))
    assert len(empty) == 0
    lone = mcc.cylinders(Template(300, 300, (Minutia(100, 100, 1.0, 0),)))
    assert len(lone) == 0  # fewer than min_M neighbours: no valid cylinder
    assert mcc.similarity(empty, mcc.cylinders(_template("101_1"))) == 0.0
    assert mcc.similarity(lone, lone) == 0.0
