"""The MCC score fusion the accuracy benchmark fits (bench/fingerprint_accuracy.py): z-norm on
the fit fingers' impostor scores, and the weight chosen on the fit fingers."""
from __future__ import annotations

import random

import pytest

from bench.fingerprint_accuracy import FIT, HELD_OUT, ScoreFusion, ScoreTable, fit_score_fusion

NAMES = [f"{finger}_{impression}" for finger in FIT + HELD_OUT for impression in range(1, 9)]


def _table(separates: bool, seed: int, scale: float, offset: float) -> ScoreTable:
    """Scores of every ordered pair: genuine pairs far above impostors when `separates`, else
    the same noise for both."""
    rng = random.Random(seed)
    scores = {}
    for a in NAMES:
        for b in NAMES:
            genuine = a.split("_")[0] == b.split("_")[0]
            scores[(a, b)] = offset + scale * (rng.random() + (5.0 if genuine and separates else 0.0))
    return ScoreTable(scores)


def test_z_normalisation_centres_the_impostors():
    fusion = ScoreFusion(afis_mean=10.0, afis_spread=5.0, mcc_mean=0.4, mcc_spread=0.02, weight=0.25)
    assert fusion(10.0, 0.4) == 0.0
    assert fusion(20.0, 0.4) == pytest.approx(0.25 * 2)
    assert fusion(10.0, 0.44) == pytest.approx(0.75 * 2)


@pytest.mark.parametrize("afis_separates", [True, False])
def test_the_weight_goes_to_the_matcher_that_separates_the_fit_fingers(afis_separates):
    afis = _table(afis_separates, 1, 30.0, 2.0)
    mcc = _table(not afis_separates, 2, 0.05, 0.45)
    fusion, results = fit_score_fusion(afis, mcc)
    assert results[fusion.weight] == (0.0, 0.0)
    noise_only = 0.0 if afis_separates else 1.0
    assert results[noise_only][0] > 0.2  # the noisy matcher alone: EER near chance
    if afis_separates:
        assert fusion.weight == 1.0  # ties go to SourceAFIS, the reference
    else:
        assert fusion.weight < 1.0
    # Normalised on the fit fingers' impostors only: their fused mean is ~0 (noise of 0-1 × scale).
    assert fusion.afis_mean == pytest.approx(2.0 + 30.0 * 0.5, abs=3.0)
    assert fusion.mcc_mean == pytest.approx(0.45 + 0.05 * 0.5, abs=0.005)
