"""The project's own templates of all 83 images against the Java original's `raw-gray/` templates.

The images are decoded with this project's decoder (raw gray values), which is what
the raw-gray golden set was made from. The issue's bar: on average ≥ 98 % of the
original's minutiae have a counterpart of the same type within 2 px and 0.2 rad, and
no image below 90 %. Exact equality is also counted and reported.
"""

from __future__ import annotations

import math
from pathlib import Path


from biometrics.sourceafis.extractor import extract
from biometrics.sourceafis.image import decode_image
from biometrics.sourceafis.template import Minutia, Template

from tests.fingerprint_data import GOLDEN, RAW_GRAY, afis_images, fvc_images, golden_name
MAX_DISTANCE = 2.0
MAX_ANGLE = 0.2

def _images() -> list[Path]:
    return fvc_images() + afis_images()


def _has_counterpart(minutia: Minutia, candidates: tuple[Minutia, ...]) -> bool:
    for other in candidates:
        if other.type != minutia.type:
            continue
        if math.hypot(other.x - minutia.x, other.y - minutia.y) > MAX_DISTANCE:
            continue
        delta = abs(other.direction - minutia.direction)
        if min(delta, 2 * math.pi - delta) <= MAX_ANGLE:
            return True
    return False


def agreement(ours: Template, java: Template) -> float:
    """Share of the original's minutiae that have a counterpart in ours."""
    if not java.minutiae:
        return 1.0 if not ours.minutiae else 0.0
    return sum(_has_counterpart(m, ours.minutiae) for m in java.minutiae) / len(java.minutiae)


def test_agreement_helper_can_fail():
    java = Template(100, 100, (Minutia(10, 10, 1.0, 0), Minutia(50, 50, 2.0, 1)))
    assert agreement(java, java) == 1.0
    shifted = Template(100, 100, (Minutia(13, 10, 1.0, 0), Minutia(50, 50, 2.0, 0)))
    assert agreement(shifted, java) == 0.0


def test_all_images_agree_with_the_java_templates():
    images = _images()
    assert len(images) == 83
    shares = {}
    exact = 0
    for path in images:
        ours = extract(decode_image(path.read_bytes()))
        java = Template.from_cbor((RAW_GRAY / "templates" / f"{golden_name(path)}.cbor").read_bytes())
        assert (ours.width, ours.height) == (java.width, java.height), path.name
        shares[path.name] = agreement(ours, java)
        exact += ours.minutiae == java.minutiae
    average = sum(shares.values()) / len(shares)
    worst = min(shares, key=shares.get)
    print(f"\nagreement: average {average:.4f}, worst {worst} {shares[worst]:.4f}, identical templates {exact}/83")
    assert average >= 0.98
    assert shares[worst] >= 0.90, f"{worst}: {shares[worst]:.3f}"


def test_fvc_images_through_javas_gray_curve_agree_with_the_main_java_templates():
    """The same images as Java's ImageIO sees them (8-bit gray passed through its sRGB
    curve, listed in imageio-gray-lut.tsv) against the main golden templates: a second,
    independent set of 80 inputs for the algorithm, whatever this project's decoder does."""
    from PIL import Image
    import numpy as np

    lut_rows = (GOLDEN / "imageio-gray-lut.tsv").read_text().splitlines()[1:]
    lut = np.array([float(row.split("\t")[2]) for row in lut_rows])
    assert lut.shape == (256,)
    images = fvc_images()
    assert len(images) == 80
    shares = {}
    exact = 0
    for path in images:
        ours = extract(lut[np.asarray(Image.open(path))])
        java = Template.from_cbor((GOLDEN / "templates" / f"{golden_name(path)}.cbor").read_bytes())
        shares[path.name] = agreement(ours, java)
        exact += ours.minutiae == java.minutiae
    average = sum(shares.values()) / len(shares)
    worst = min(shares, key=shares.get)
    print(f"\nImageIO-decoded agreement: average {average:.4f}, worst {worst} {shares[worst]:.4f}, identical {exact}/80")
    assert average >= 0.98
    assert shares[worst] >= 0.90, f"{worst}: {shares[worst]:.3f}"
