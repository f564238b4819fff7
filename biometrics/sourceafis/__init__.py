"""SourceAFIS 3.18.1 fingerprint matching, written for this project in NumPy and numba.

Templates (:mod:`.template`) read and write the Java original's CBOR format; the
matcher (:mod:`.matcher`) gives the original's scores bit for bit.
"""

from .accuracy import ErrorRates
from .compact import CompactGallery
from .gallery import Gallery
from .edges import SearchTemplate
from .matcher import MatchExplanation, Matcher
from .template import Minutia, MinutiaType, Template, TemplateError

__all__ = [
    "CompactGallery",
    "ErrorRates",
    "Gallery",
    "MatchExplanation",
    "Matcher",
    "Minutia",
    "MinutiaType",
    "SearchTemplate",
    "Template",
    "TemplateError",
]
