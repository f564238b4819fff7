"""Error rates: the FVC EER and FNMR at fixed FMR, checked by hand and against the golden metrics."""

from __future__ import annotations

import json
import math

import pytest

from biometrics.sourceafis.accuracy import ErrorRates

from tests.fingerprint_data import GOLDEN, read_text


def test_rates_at_a_threshold_count_score_at_or_above_as_match():
    rates = ErrorRates(genuine=[10, 20, 30, 40], impostor=[0, 5, 10, 15, 20])
    assert rates.fmr(10) == 3 / 5
    assert rates.fnmr(10) == 0
    assert rates.fmr(21) == 0
    assert rates.fnmr(21) == 2 / 4
    assert rates.fmr(-math.inf) == 1 and rates.fnmr(math.inf) == 1


def test_perfect_separation_has_zero_eer():
    rates = ErrorRates(genuine=[50, 60, 70], impostor=[1, 2, 3])
    eer = rates.eer()
    assert eer.value == 0
    assert rates.fnmr_at_fmr(0.0) == 0


def test_complete_overlap_has_fifty_percent_eer():
    rates = ErrorRates(genuine=[1, 2, 3, 4], impostor=[1, 2, 3, 4])
    eer = rates.eer()
    assert (eer.low, eer.high, eer.threshold) == (0.5, 0.5, 3)


def test_fnmr_at_fmr_uses_the_lowest_threshold_within_the_target():
    impostor = list(range(100))  # one impostor at each score 0..99
    genuine = [50, 95, 99, 100, 120]
    rates = ErrorRates(genuine, impostor)
    # FMR <= 1% needs at most one impostor accepted: threshold 99.
    assert rates.threshold_at_fmr(0.01) == 99
    assert rates.fnmr_at_fmr(0.01) == 2 / 5
    assert rates.threshold_at_fmr(0.0) == 100
    assert rates.fnmr_at_fmr(0.0) == 3 / 5


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="genuine and impostor"):
        ErrorRates([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        ErrorRates([math.nan], [1.0])
    with pytest.raises(ValueError, match="not a rate"):
        ErrorRates([1.0], [0.0]).fnmr_at_fmr(2)


def test_golden_scores_give_the_golden_metrics():
    metrics = json.loads((GOLDEN / "metrics.json").read_text())
    rows = [line.split("\t") for line in read_text(GOLDEN / "scores.tsv").splitlines()[1:]]
    finger = lambda name: name.split("_")[0]  # noqa: E731
    genuine = [float(s) for p, c, s in rows if p != c and finger(p) == finger(c)]
    impostor = [float(s) for p, c, s in rows if finger(p) != finger(c)]
    assert (len(genuine), len(impostor)) == (metrics["genuine_pairs"], metrics["impostor_pairs"])
    rates = ErrorRates(genuine, impostor)
    eer = rates.eer()
    assert eer.low == metrics["eer_fvc_low"]
    assert eer.high == metrics["eer_fvc_high"]
    assert eer.value == pytest.approx(metrics["eer_fvc_mid"], abs=1e-15)
    assert rates.fmr(40) == metrics["at_threshold_40"]["fmr"]
    assert rates.fnmr(40) == metrics["at_threshold_40"]["fnmr"]
