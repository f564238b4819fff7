"""The repository's fingerprint data is complete and unaltered: every file the manifest lists,
with its digest, and every FVC print with the pixels of its original TIFF."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from tests.fingerprint_data import FVC, FVC_DB2B, ROOT, fvc_images


def _listing(path):
    return [line.split() for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_every_file_of_the_manifest_is_there_unaltered():
    rows = _listing(ROOT / "MANIFEST.sha256")
    assert len(rows) > 600
    wrong = [name for digest, name in rows
             if not (ROOT / name).is_file() or hashlib.sha256((ROOT / name).read_bytes()).hexdigest() != digest]
    assert not wrong, f"missing or altered fingerprint data: {wrong[:10]}"


@pytest.mark.parametrize("folder", [FVC, FVC_DB2B], ids=["db1b", "db2b"])
def test_the_fvc_prints_keep_the_original_pixels(folder):
    originals = {name.removesuffix(".tif"): (pixels, size) for _, pixels, name, size in _listing(folder / "ORIGINALS.sha256")}
    images = fvc_images() if folder == FVC else sorted(folder.glob("*.png"))
    assert images and {path.stem for path in images} == set(originals)
    for path in images:
        with Image.open(path) as image:
            assert image.mode == "L", path.name
            pixels = np.asarray(image)
        expected_digest, size = originals[path.stem]
        assert f"{pixels.shape[1]}x{pixels.shape[0]}" == size, path.name
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == expected_digest, path.name
