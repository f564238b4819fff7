"""The accuracy mode (biometrics.accurate): its own template version, no matching across modes,
`loanctl fingerprint scores --mode`, impression fusion on real genuine pairs, capture quality."""
from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest

from biometrics.accurate import (
    ACCURATE_VERSION,
    AccurateMatcher,
    fuse,
    assess_capture,
    extract as accurate_extract,
    read_template,
    write_template,
)
from biometrics.accurate.enhancement import GaborParameters, confidence, enhance, ridge_orientation
from biometrics.accurate.extraction import normalized
from biometrics.accurate.template import AccurateGallery
from biometrics.sourceafis import Matcher, Template
from biometrics.sourceafis import cbor
from biometrics.sourceafis.extractor import extract as exact_extract
from biometrics.sourceafis.image import decode_image
from biometrics.sourceafis.template import TEMPLATE_VERSION, TemplateError, TemplateVersionError
from tests.biometrics.test_fingerprint_cli import loanctl
from tests.fingerprint_data import RAW_GRAY, fvc_path

THRESHOLD = 40.0  # the service's default decision threshold
# The quality-adaptive enhancement as measured (docs/fingerprint-accuracy.md; not in the mode).
ADAPTIVE = dataclasses.replace(GaborParameters(), orientations=12, coherence_floor=0.15, coherence_full=0.30)


def pixels(name: str) -> np.ndarray:
    return decode_image(fvc_path(name).read_bytes())


@pytest.fixture(scope="module")
def accurate_101_1() -> Template:
    return accurate_extract(pixels("101_1"), 500)


def test_accurate_template_carries_its_version_and_round_trips(accurate_101_1):
    data = write_template(accurate_101_1)
    assert cbor.loads(data)["version"] == ACCURATE_VERSION != TEMPLATE_VERSION
    assert read_template(data) == accurate_101_1
    assert len(accurate_101_1.minutiae) > 10
    # The exact mode's serialization is untouched by the mode parameter.
    exact = Template.from_cbor((RAW_GRAY / "templates" / "101_1.tif.cbor").read_bytes())
    assert cbor.loads(exact.to_cbor())["version"] == TEMPLATE_VERSION


def test_matching_across_modes_is_refused(accurate_101_1):
    with pytest.raises(TemplateVersionError, match="accuracy mode"):
        Template.from_cbor(write_template(accurate_101_1))
    exact = (RAW_GRAY / "templates" / "101_1.tif.cbor").read_bytes()
    with pytest.raises(TemplateVersionError, match="not this accuracy mode"):
        read_template(exact)
    # A Java-made exact template still reads in the exact mode.
    assert Template.from_cbor(exact).minutiae


def test_scores_command_takes_a_mode(tmp_path, capsys):
    folder = tmp_path / "prints"
    folder.mkdir()
    names = ("101_1", "101_2", "102_1")
    for name in names:
        shutil.copy(fvc_path(name), folder / f"{name}.png")
    exact_out, accurate_out, default_out = tmp_path / "exact.tsv", tmp_path / "accurate.tsv", tmp_path / "default.tsv"
    assert loanctl("fingerprint", "scores", folder, "-o", default_out) == 0
    assert loanctl("fingerprint", "scores", folder, "--mode", "exact", "-o", exact_out) == 0
    assert loanctl("fingerprint", "scores", folder, "--dpi", "500", "--mode", "accurate", "-o", accurate_out) == 0
    assert exact_out.read_text() == default_out.read_text()
    lines = accurate_out.read_text().splitlines()
    assert lines[0] == "probe\tcandidate\tscore"
    rows = {(p, c): float(s) for p, c, s in (line.split("\t") for line in lines[1:])}
    assert len(rows) == 9
    templates = {n: accurate_extract(pixels(n), 500) for n in names}
    for (probe, candidate), score in rows.items():
        assert score == AccurateMatcher(templates[probe.removesuffix(".png")]).match(
            templates[candidate.removesuffix(".png")])
    assert rows["101_1.png", "101_2.png"] >= THRESHOLD > rows["101_1.png", "102_1.png"]
    assert accurate_out.read_text() != exact_out.read_text()


def test_scores_command_refuses_templates_of_the_other_mode(tmp_path, capsys):
    folder = tmp_path / "templates"
    folder.mkdir()
    shutil.copy(RAW_GRAY / "templates" / "101_1.tif.cbor", folder / "101_1.cbor")
    capsys.readouterr()
    assert loanctl("fingerprint", "scores", folder, "--mode", "accurate", "-o", tmp_path / "s.tsv") == 2
    assert "not this accuracy mode" in capsys.readouterr().err
    (folder / "101_1.cbor").write_bytes(write_template(accurate_extract(pixels("101_1"), 500)))
    assert loanctl("fingerprint", "scores", folder, "-o", tmp_path / "s.tsv") == 2
    assert "made by the accuracy mode" in capsys.readouterr().err
    assert not (tmp_path / "s.tsv").exists()


@pytest.mark.parametrize("finger", ["101", "103", "105", "107", "109"])
def test_fusion_does_not_lower_genuine_scores(finger):
    """Real genuine pairs: probe impression 3 against enrolled impressions 1 and 2. Scores of the
    two modes are not compared pair by pair (different minutiae); each mode's fused score is at
    least its single-impression score, and the accurate one accepts the genuine finger."""
    probe = pixels(f"{finger}_3")
    enrolled = [pixels(f"{finger}_{i}") for i in (1, 2)]
    exact_probe = exact_extract(probe, 500)
    exact_singles = [Matcher(exact_probe).match(exact_extract(e, 500)) for e in enrolled]
    assert fuse(exact_singles, "max") == max(exact_singles) >= exact_singles[0]
    probe_template = accurate_extract(probe, 500)
    candidates = [accurate_extract(e, 500) for e in enrolled]
    matcher = AccurateMatcher(probe_template)
    singles = [matcher.match(c) for c in candidates]
    fused = matcher.match_finger(candidates)
    assert fused == max(singles) >= singles[0]
    assert fused >= THRESHOLD


def test_fused_impostor_scores_stay_below_the_threshold():
    probe = AccurateMatcher(accurate_extract(pixels("101_3"), 500))
    for finger in ("102", "106"):
        assert probe.match_finger([accurate_extract(pixels(f"{finger}_{i}"), 500) for i in (1, 2)]) < THRESHOLD


def test_quality_asks_for_another_capture_of_a_smudge_not_of_a_good_print():
    good_image = normalized(pixels("101_1"), 500)
    good = assess_capture(good_image, accurate_extract(good_image, 500))
    assert good.recapture(30.0) is None and good.score > 30.0
    rng = np.random.default_rng(17)
    smudge = np.clip(0.5 + 0.05 * rng.standard_normal(good_image.shape), 0, 1)
    poor = assess_capture(smudge, accurate_extract(smudge, 500))
    assert poor.score < good.score
    assert poor.recapture(30.0) in {"few_minutiae", "small_area", "unclear_ridges"}


def test_adaptive_enhancement_keeps_clear_ridges_and_leaves_a_damaged_region_flat():
    """The quality-adaptive step (a measured component): a blotch of noise where ridges were has
    no clear orientation; there the filter's response fades to flat gray instead of ridges
    painted along a guessed orientation, while the clear ridges around it are filtered exactly
    as without the adaptation (which the mode uses: its response is kept everywhere)."""
    image = normalized(pixels("101_1"), 500).copy()
    rng = np.random.default_rng(3)
    image[150:230, 150:230] = np.clip(0.4 + 0.25 * rng.standard_normal((80, 80)), 0, 1)
    _, coherence = ridge_orientation(image, ADAPTIVE)
    core = (slice(170, 210), slice(170, 210))
    clear = (slice(60, 100), slice(150, 230))
    assert coherence[core].mean() < ADAPTIVE.coherence_floor < ADAPTIVE.coherence_full < coherence[clear].mean()
    adaptive = enhance(image, ADAPTIVE)
    fixed = enhance(image, dataclasses.replace(ADAPTIVE, coherence_floor=None))
    assert np.array_equal(adaptive[clear], fixed[clear])
    assert fixed[core].std() > 0.03
    assert (adaptive[core] == 0.5).mean() > 0.9 and adaptive[core].std() < fixed[core].std() / 10
    floor, full = ADAPTIVE.coherence_floor, ADAPTIVE.coherence_full
    assert confidence(np.array([0.0, floor, full, 1.0]), ADAPTIVE).tolist() == [0, 0, 1, 1]
    # The mode's own enhancement keeps the response everywhere.
    assert GaborParameters().coherence_floor is None and np.all(confidence(coherence) == 1)
    assert ACCURATE_VERSION.endswith("+accurate-3")


def test_templates_of_the_previous_accuracy_version_are_not_read():
    """accurate-3 changed what a template holds: a -2 template is another mode's (the service
    treats its print as one to capture again), never matched against -3 minutiae."""
    from biometrics import modes

    previous = ACCURATE_VERSION.replace("-3", "-2")
    assert not modes.readable(previous) and modes.readable(ACCURATE_VERSION)
    with pytest.raises(TemplateVersionError):
        modes.mode_of(previous)
    template = accurate_extract(pixels("101_1"), 500)
    with pytest.raises(TemplateVersionError, match="not this accuracy mode"):
        read_template(template.enhanced.to_cbor(previous))


# --- two minutia sets per template: the enhanced print's and the exact mode's -----------------


def test_template_keeps_the_exact_modes_template_of_the_capture_beside_the_enhanced_one(accurate_101_1):
    image = pixels("101_1")
    exact = exact_extract(image, 500)
    # The plain set is the exact mode's template bit for bit; the enhanced set differs.
    assert accurate_101_1.plain == exact
    assert accurate_101_1.plain.to_cbor() == exact.to_cbor()
    assert accurate_101_1.enhanced != exact and len(accurate_101_1.enhanced.minutiae) > 10
    assert accurate_101_1.minutiae == accurate_101_1.enhanced.minutiae
    assert (accurate_101_1.width, accurate_101_1.height) == (exact.width, exact.height)
    assert ACCURATE_VERSION.endswith("+accurate-3")
    again = read_template(write_template(accurate_101_1))
    assert again.plain == exact and again.enhanced == accurate_101_1.enhanced


def test_a_comparison_keeps_the_higher_of_the_two_sets_scores(accurate_101_1):
    for name in ("101_2", "101_5", "102_1"):
        candidate = accurate_extract(pixels(name), 500)
        enhanced = Matcher(accurate_101_1.enhanced).match(candidate.enhanced)
        plain = Matcher(accurate_101_1.plain).match(candidate.plain)
        assert AccurateMatcher(accurate_101_1).match(candidate) == max(enhanced, plain)
    # The plain sets score exactly as the exact mode does.
    assert Matcher(accurate_101_1.plain).match(exact_extract(pixels("101_2"), 500)) == Matcher(
        exact_extract(pixels("101_1"), 500)).match(exact_extract(pixels("101_2"), 500))


def test_malformed_accurate_templates_are_refused(accurate_101_1):
    root = cbor.loads(write_template(accurate_101_1))
    del root["plain"]
    for key in ("directions",):
        root[key] = [cbor.Float32(d) for d in root[key]]
    with pytest.raises(TemplateError, match="plain"):
        read_template(cbor.dumps(root))
    with pytest.raises(TemplateError):
        read_template(b"\xbf\x67version")
    # A template of an older accuracy version is another mode's: re-enroll.
    with pytest.raises(TemplateVersionError, match="not this accuracy mode"):
        read_template(accurate_101_1.enhanced.to_cbor(ACCURATE_VERSION.replace("-3", "-2")))


def test_gallery_of_both_sets_scores_as_one_comparison_at_a_time(accurate_101_1):
    names = ("101_2", "102_1", "103_4", "101_7")
    data = [write_template(accurate_extract(pixels(n), 500)) for n in names]
    gallery = AccurateGallery.from_bytes(AccurateGallery.load(data).to_bytes())
    assert len(gallery) == len(names)
    matcher = AccurateMatcher(accurate_101_1)
    compact = matcher.match_compact(gallery)
    assert compact.tolist() == [matcher.match(read_template(d)) for d in data]
    assert compact[0] >= THRESHOLD > compact[1]
