"""Accuracy-mode templates: two minutia sets of one capture under this mode's own version.

A template holds the minutiae SourceAFIS finds in the enhanced image (the map's own keys, as a
SourceAFIS template) and, under the key "plain", the minutiae the exact mode finds in the image
as captured (bit for bit the exact mode's template of it). A comparison scores both sets against
the same sets of the candidate and keeps the higher score: the enhancement rescues prints whose
ridges are broken or faint, the plain extraction the few that the enhancement spoils (a badly
damaged print it fills with ridges that are not there). Both scores are SourceAFIS scores on the
same scale, so the maximum needs no normalisation (chosen on the fit fingers,
docs/fingerprint-accuracy.md).

The version tells the modes apart: this mode reads only its own templates and the exact mode
refuses these (biometrics.sourceafis.template.TemplateVersionError), so a score never mixes
minutiae of an enhanced image with minutiae of a plain one. A bank migrating keeps both versions
of an enrolled print, or re-enrolls.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..sourceafis import cbor
from ..sourceafis.compact import CompactGallery
from ..sourceafis.matcher import Matcher
from ..sourceafis.template import (
    ACCURATE_VERSION_MARK,
    TEMPLATE_VERSION,
    Template,
    TemplateError,
    TemplateVersionError,
)
from .fusion import fuse

# Bump the number whenever the enhancement or extraction changes what a template holds.
# -3: the orientation bins from a polynomial atan2 and the gray scale from a subsampled percentile
# (faster than -2's), and the exact mode's minutiae of the capture kept beside the enhanced ones.
ACCURATE_VERSION = f"{TEMPLATE_VERSION}{ACCURATE_VERSION_MARK}-3"
PLAIN = "plain"
_MINUTIA_KEYS = ("positionsX", "positionsY", "directions", "types")


@dataclass(frozen=True)
class AccurateTemplate:
    enhanced: Template  # minutiae of the enhanced image
    plain: Template  # the exact mode's template of the same capture

    # The print as the pages draw it and the quality check counts it: the enhanced minutiae.
    @property
    def width(self) -> int:
        return self.enhanced.width

    @property
    def height(self) -> int:
        return self.enhanced.height

    @property
    def minutiae(self):
        return self.enhanced.minutiae


def _refuse_others(version: str) -> None:
    if version != ACCURATE_VERSION:
        raise TemplateVersionError(
            f"template version {version!r} is not this accuracy mode's ({ACCURATE_VERSION!r}); "
            f"re-enroll the print in the accurate mode, or match it in the mode that made it"
        )


def write_template(template: AccurateTemplate) -> bytes:
    return join_parts(template.enhanced.to_cbor(ACCURATE_VERSION), template.plain.to_cbor())


def join_parts(enhanced: bytes, plain: bytes) -> bytes:
    """The template from its two minutia sets as SourceAFIS CBOR (the enhanced one written with
    this mode's version, the plain one as the exact mode writes it): the two extractions are
    independent, so the service runs them on two workers and joins what they return."""
    enhanced, plain = cbor.loads(enhanced), cbor.loads(plain)
    # Directions stay float32 on the wire, as SourceAFIS writes them.
    for part in (enhanced, plain):
        part["directions"] = [cbor.Float32(d) for d in part["directions"]]
    enhanced[PLAIN] = {key: plain[key] for key in _MINUTIA_KEYS}
    return cbor.dumps(enhanced)


def read_template(data: bytes) -> AccurateTemplate:
    """Reads an accuracy-mode template; TemplateVersionError for any other version, TemplateError
    for anything malformed (each minutia set is checked as the exact mode checks a template)."""
    try:
        root = cbor.loads(data)
    except cbor.CborError as error:
        raise TemplateError(f"not a valid template: {error}") from None
    if not isinstance(root, dict):
        raise TemplateError("not a valid template: expected a CBOR map")
    version = root.get("version")
    if not isinstance(version, str):
        raise TemplateError("not a valid template: version must be a short text string")
    _refuse_others(version)
    plain = root.pop(PLAIN, None)
    if not isinstance(plain, dict) or sorted(plain) != sorted(_MINUTIA_KEYS):
        raise TemplateError(f"not a valid template: the {PLAIN!r} minutiae ({', '.join(_MINUTIA_KEYS)}) are missing")
    enhanced = Template.read_cbor(cbor.dumps(root), refuse=_refuse_others)
    plain = Template.read_cbor(cbor.dumps({"version": TEMPLATE_VERSION, "width": enhanced.width,
                                           "height": enhanced.height, **plain}))
    return AccurateTemplate(enhanced, plain)


class AccurateGallery:
    """1:N candidates of the accuracy mode: a compact gallery of each minutia set, in order."""

    def __init__(self, enhanced: CompactGallery, plain: CompactGallery) -> None:
        if len(enhanced) != len(plain):
            raise ValueError("the two minutia sets of a gallery must hold the same candidates")
        self.enhanced, self.plain = enhanced, plain

    def __len__(self) -> int:
        return len(self.enhanced)

    @classmethod
    def load(cls, candidates: Sequence[bytes]) -> "AccurateGallery":
        templates = [read_template(c) for c in candidates]
        return cls(*(_compact([getattr(t, part) for t in templates]) for part in ("enhanced", "plain")))

    @classmethod
    def concatenate(cls, galleries: Sequence["AccurateGallery"]) -> "AccurateGallery":
        """One gallery of the candidates of several, in order (nothing is rebuilt)."""
        return cls(CompactGallery.concatenate([g.enhanced for g in galleries]),
                   CompactGallery.concatenate([g.plain for g in galleries]))

    def to_bytes(self) -> bytes:
        enhanced = self.enhanced.to_bytes()
        padding = -len(enhanced) % 8  # the plain gallery's arrays start aligned, as the first's
        return np.int64(len(enhanced)).tobytes() + enhanced + bytes(padding) + self.plain.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> "AccurateGallery":
        view = memoryview(data)
        size = int(np.frombuffer(view[:8], dtype=np.int64)[0])
        start = 8 + size + (-size % 8)
        return cls(CompactGallery.from_bytes(view[8:8 + size]), CompactGallery.from_bytes(view[start:]))


def _compact(templates: Sequence[Template]) -> CompactGallery:
    counts = np.array([len(t.minutiae) for t in templates], dtype=np.int64)
    arrays = [[getattr(t, name) for t in templates] for name in ("positions_x", "positions_y", "directions", "types")]
    empty = (np.int32, np.int32, np.float32, np.int8)
    return CompactGallery.from_minutiae(counts, *(np.concatenate(a) if a else np.zeros(0, dtype=kind)
                                                  for a, kind in zip(arrays, empty)))


class AccurateMatcher:
    """Scores a probe against candidates: the higher of the enhanced sets' and the plain sets'
    SourceAFIS scores; per finger, fused over the impressions enrolled for it."""

    def __init__(self, probe: AccurateTemplate, rule: str = "max") -> None:
        self._enhanced = Matcher(probe.enhanced)
        self._plain = Matcher(probe.plain)
        self.rule = rule

    def match(self, candidate: AccurateTemplate) -> float:
        return max(float(self._enhanced.match(candidate.enhanced)), float(self._plain.match(candidate.plain)))

    def match_compact(self, gallery: AccurateGallery) -> np.ndarray:
        return np.maximum(self._enhanced.match_compact(gallery.enhanced), self._plain.match_compact(gallery.plain))

    def match_finger(self, impressions: Sequence[AccurateTemplate]) -> float:
        return fuse([self.match(t) for t in impressions], self.rule)
