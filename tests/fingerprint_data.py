"""The fingerprint data the tests read, kept in the repository (tests/data/fingerprints/README.md).

Every test reaches the prints and the SourceAFIS goldens through this module, so a clone in any
folder has what it needs; a missing file is a failure (FileNotFoundError), never a skip.
"""
from __future__ import annotations

import gzip
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "data" / "fingerprints"
FVC = ROOT / "fvc2002-db1b"
AFIS_SAMPLES = ROOT / "afis-samples"
GOLDEN = ROOT / "golden" / "sourceafis-3.18.1"
RAW_GRAY = GOLDEN / "raw-gray"
TRANSPARENCY = GOLDEN / "transparency"
FVC_DB2B = ROOT / "fvc2002-db2b"
# Prints at resolutions other than 500 dpi and the Java original's outputs for them.
PARITY = ROOT / "parity"
PARITY_GOLDEN = GOLDEN / "parity"
PARITY_DPIS = (400, 569, 1000)


def fvc_path(name: str) -> Path:
    """One FVC2002 DB1_B impression by its original name (`101_1`), stored as a PNG with the
    original TIFF's pixels."""
    return FVC / f"{name}.png"


def fvc_images() -> list[Path]:
    images = sorted(FVC.glob("*.png"))
    if len(images) != 80:
        raise FileNotFoundError(f"expected the 80 FVC2002 DB1_B prints in {FVC}, found {len(images)}")
    return images


def afis_images() -> list[Path]:
    images = sorted(AFIS_SAMPLES.glob("*.png"))
    if len(images) != 3:
        raise FileNotFoundError(f"expected the 3 SourceAFIS sample prints in {AFIS_SAMPLES}, found {len(images)}")
    return images


def parity_images(dpi: int) -> dict[str, Path]:
    """The inputs of the resolution-parity goldens at `dpi`, by their golden name: eight FVC2002
    DB1_B prints resampled to that resolution, and at 569 dpi also FVC2002 DB2_B 105_5, which that
    scanner captured at 569 dpi (`db2b-105_5`)."""
    images = {path.stem: path for path in sorted((PARITY / str(dpi)).glob("*.png"))}
    if len(images) != 8:
        raise FileNotFoundError(f"expected 8 resampled prints in {PARITY / str(dpi)}, found {len(images)}")
    if dpi == 569:
        db2b = FVC_DB2B / "105_5.png"
        if not db2b.is_file():
            raise FileNotFoundError(f"missing {db2b}")
        images["db2b-105_5"] = db2b
    return images


def golden_name(image: Path) -> str:
    """The name the Java run gave an image: the FVC prints were fed as `101_1.tif`."""
    return f"{image.stem}.tif" if image.parent == FVC else image.name


def read_bytes(path: Path) -> bytes:
    """A golden file's bytes; large ones are stored gzip-compressed beside their plain name."""
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes())
    if path.exists():
        return path.read_bytes()
    return gzip.decompress(path.with_name(path.name + ".gz").read_bytes())


def read_text(path: Path) -> str:
    return read_bytes(path).decode("utf-8")


def write_fvc_tiff(name: str, target: Path) -> Path:
    """The print as its scanner wrote it: an uncompressed 8-bit TIFF with the stored pixels (the
    repository keeps a losslessly compressed PNG; the pixels are the original's)."""
    from PIL import Image

    with Image.open(fvc_path(name)) as image:
        image.save(target, "TIFF")
    return target
