"""The accuracy mode: a second, versioned template/matcher mode beside exact SourceAFIS.

Exact SourceAFIS (:mod:`biometrics.sourceafis`) stays the reference and the default. This mode
enhances the image before the same SourceAFIS extraction (:mod:`.enhancement`) and keeps, beside
those minutiae, the exact mode's of the capture; a comparison takes the higher of the two
SourceAFIS scores. Its templates carry their own version (:mod:`.template`); it fuses the scores
of every impression enrolled for a finger (:mod:`.fusion`) and grades captures so the clerk can
capture again (:mod:`.quality`).
Templates of the two modes are never matched against each other.
"""

from .extraction import extract
from .fusion import FUSION_RULES, fuse
from .quality import CaptureQuality, assess_capture
from .template import ACCURATE_VERSION, AccurateGallery, AccurateMatcher, AccurateTemplate, read_template, write_template

__all__ = [
    "ACCURATE_VERSION",
    "AccurateGallery",
    "AccurateMatcher",
    "AccurateTemplate",
    "CaptureQuality",
    "FUSION_RULES",
    "assess_capture",
    "extract",
    "fuse",
    "read_template",
    "write_template",
]
