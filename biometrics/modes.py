"""Template modes: which template versions a deployment makes, and reading a template only in
the mode that made it.

A deployment makes templates in one mode (Config.fingerprint_mode): "exact" (SourceAFIS 3.18.1,
the reference) or "accurate" (biometrics.accurate). Every stored template carries its version
(the `template_version` column, and the version inside the CBOR), and a probe is only ever
compared with templates of its own version: minutiae of an enhanced image against minutiae of
a plain one would give scores on no calibrated scale.
"""
from __future__ import annotations

from typing import Callable, Sequence

from .accurate.template import ACCURATE_VERSION, AccurateGallery, AccurateMatcher, read_template as read_accurate
from .sourceafis import cbor
from .sourceafis.compact import CompactGallery
from .sourceafis.loader import load_gallery
from .sourceafis.matcher import Matcher
from .sourceafis.template import ACCURATE_VERSION_MARK, TEMPLATE_VERSION, Template, TemplateError, \
    TemplateVersionError

MODES = ("exact", "accurate")
VERSIONS = {"exact": TEMPLATE_VERSION, "accurate": ACCURATE_VERSION}
_KEY = b"\x67version"  # the CBOR text "version" (0x60 + 7)


def version_of(mode: str) -> str:
    """The template version a mode writes."""
    try:
        return VERSIONS[mode]
    except KeyError:
        raise ValueError(f"unknown fingerprint mode {mode!r}; known: {', '.join(MODES)}") from None


def mode_of(version: str) -> str:
    """The mode whose matcher reads templates of this version (SourceAFIS's own versions,
    Java's included, are the exact mode's)."""
    if version == ACCURATE_VERSION:
        return "accurate"
    if ACCURATE_VERSION_MARK in version:
        raise TemplateVersionError(f"template version {version!r} is of an accuracy mode this build does not have")
    return "exact"


def template_version(data: bytes) -> str:
    """The version a CBOR template declares. Fast path: the text right after the "version" key
    (short texts, as both modes and the Java original write them); otherwise the whole map."""
    at = data.find(_KEY)
    if 0 <= at <= 16 and len(data) > at + len(_KEY):
        head = data[at + len(_KEY)]
        start, size = (at + len(_KEY) + 1, head - 0x60) if 0x60 <= head < 0x78 else (
            (at + len(_KEY) + 2, data[at + len(_KEY) + 1]) if head == 0x78 and len(data) > at + len(_KEY) + 1
            else (-1, 0))
        if start > 0 and start + size <= len(data):
            try:
                return data[start:start + size].decode("utf-8")
            except UnicodeDecodeError:
                pass
    try:
        root = cbor.loads(data)
    except cbor.CborError as error:
        raise TemplateError(f"not a valid template: {error}") from None
    version = root.get("version") if isinstance(root, dict) else None
    if not isinstance(version, str):
        raise TemplateError("not a valid template: no version")
    return version


def reader(mode: str) -> Callable[[bytes], Template]:
    """The mode's template reader; it raises TemplateVersionError for another mode's template."""
    if mode == "accurate":
        return read_accurate
    if mode == "exact":
        return Template.from_cbor
    raise ValueError(f"unknown fingerprint mode {mode!r}; known: {', '.join(MODES)}")


def matcher(mode: str, probe: bytes):
    """The mode's matcher for a probe template: `match(template)` of a template its reader
    read, `match_compact(gallery)` of a gallery `gallery` built (scores as `match` gives)."""
    template = reader(mode)(probe)
    return AccurateMatcher(template) if mode == "accurate" else Matcher(template)


def gallery(mode: str, candidates: Sequence[bytes]):
    """The compact 1:N gallery of a mode's templates (the accuracy mode's holds both minutia sets)."""
    return AccurateGallery.load(candidates) if mode == "accurate" else load_gallery(candidates)


def gallery_from_bytes(mode: str, data: bytes):
    return AccurateGallery.from_bytes(data) if mode == "accurate" else CompactGallery.from_bytes(data)


def check_versions(mode: str, templates: Sequence[bytes]) -> None:
    """TemplateVersionError unless every template is of the mode (a gallery of one version)."""
    for data in templates:
        if mode_of(template_version(data)) != mode:
            raise TemplateVersionError(
                f"a {mode} gallery was given a template of version {template_version(data)!r}: "
                f"templates of different modes are never compared")


def readable(version: str) -> bool:
    """Whether a mode of this build reads templates of this version."""
    try:
        mode_of(version)
    except TemplateVersionError:
        return False
    return True
