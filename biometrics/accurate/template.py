"""Accuracy-mode templates: SourceAFIS's CBOR map with this mode's own version string.

The version tells the modes apart: this mode reads only its own templates and the exact mode
refuses these (biometrics.sourceafis.template.TemplateVersionError), so a score never mixes
minutiae of an enhanced image with minutiae of a plain one. A bank migrating keeps both versions
of an enrolled print, or re-enrolls.
"""
from __future__ import annotations

from typing import Sequence

from ..sourceafis.matcher import Matcher
from ..sourceafis.template import (
    ACCURATE_VERSION_MARK,
    TEMPLATE_VERSION,
    Template,
    TemplateVersionError,
)
from .fusion import fuse

# Bump the number whenever the enhancement or extraction changes what a template holds.
# -3: the orientation bins from a polynomial atan2 and the gray scale from a subsampled percentile
# (faster; a pixel near a bin boundary or the scale may differ slightly from -2's).
ACCURATE_VERSION = f"{TEMPLATE_VERSION}{ACCURATE_VERSION_MARK}-3"


def _refuse_others(version: str) -> None:
    if version != ACCURATE_VERSION:
        raise TemplateVersionError(
            f"template version {version!r} is not this accuracy mode's ({ACCURATE_VERSION!r}); "
            f"re-enroll the print in the accurate mode, or match it in the mode that made it"
        )


def write_template(template: Template) -> bytes:
    return template.to_cbor(ACCURATE_VERSION)


def read_template(data: bytes) -> Template:
    """Reads an accuracy-mode template; TemplateVersionError for any other version."""
    return Template.read_cbor(data, refuse=_refuse_others)


class AccurateMatcher:
    """Compares one probe with every impression enrolled for a finger and fuses the scores."""

    def __init__(self, probe: Template, rule: str = "max") -> None:
        self._matcher = Matcher(probe)
        self.rule = rule

    def match(self, candidate: Template) -> float:
        return float(self._matcher.match(candidate))

    def match_finger(self, impressions: Sequence[Template]) -> float:
        return fuse([self.match(t) for t in impressions], self.rule)
