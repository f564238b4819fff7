"""SourceAFIS 3.18.1 fingerprint matching, written for this project in NumPy and numba.

Templates (:mod:`.template`) read and write the Java original's CBOR format; the
matcher (:mod:`.matcher`) gives the original's scores bit for bit.
"""

from .jitcache import configure as _configure_jit_cache

_configure_jit_cache()  # before any module below defines a cached numba function

from .accuracy import ErrorRates  # noqa: E402
from .compact import CompactGallery  # noqa: E402
from .gallery import Gallery  # noqa: E402
from .edges import SearchTemplate  # noqa: E402
from .matcher import MatchExplanation, Matcher  # noqa: E402
from .template import Minutia, MinutiaType, Template, TemplateError  # noqa: E402

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
