"""`loanctl biometrics bench-identify` on a small synthetic gallery: one JSON object whose
ranking equals the 1:1 kernel's exhaustive one."""
from __future__ import annotations

import json
import socket

import pytest

from core.cli import main
from tests.fingerprint_data import FVC


def test_bench_identify_prints_the_figures_and_the_rank1_check(capsys):
    code = main(["biometrics", "bench-identify", "--gallery", "60", "--shards", "2", "--probes", "2",
                 "--fingers", "3", "--prints", str(FVC)])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert result["gallery"] == 60 and result["shards"] == 2 and result["probes"] == 2
    for key in ("candidates_per_second_per_core", "kernel_impostor_per_second", "load_templates_per_second_per_core"):
        assert result[key] > 0, key
    assert 0 < result["bytes_per_template"] <= 4096
    # Small enough to rescore every candidate with the 1:1 kernel: same scores, same rank 1.
    assert result["scores_equal_to_1to1"] is True
    assert result["rank1_same_as_exhaustive"] is True
    assert result["rank1_correct"] == 1.0  # each probe's mates are in the gallery
    # The two-stage search runs beside the exhaustive one, with its own rate and rank-1 check.
    assert result["screened_candidates_per_second_per_core"] > 0
    assert result["screened_rank1_same_as_exhaustive"] is True
    assert result["screening"]["kept_per_shard"] == [30, 30]
    # So does the search pre-filtered by each shard's edge index; bytes_per_template holds both.
    assert result["prefiltered_candidates_per_second_per_core"] > 0
    assert result["prefiltered_ratio_to_kernel_impostor_rate"] > 0
    assert result["prefiltered_rank1_same_as_exhaustive"] is True
    assert result["prefilter"]["kept_per_shard"] == [30, 30]
    assert len(result["prefilter_vote_rank_of_exhaustive_first"]) == 2
    assert all(r is not None for r in result["prefilter_screen_rank_of_exhaustive_first"])  # all passed
    assert result["bytes_per_template"] == pytest.approx(
        result["compact_gallery_bytes_per_template"] + result["edge_index_bytes_per_template"])


def test_bench_identify_prefilter_setting(capsys):
    code = main(["biometrics", "bench-identify", "--gallery", "40", "--probes", "2", "--fingers", "3",
                 "--prints", str(FVC), "--prefilter-keep", "3", "--prefilter-fraction", "0"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["prefilter"]["kept_per_shard"] == [3]
    # Three candidates of forty scored exactly; the check is reported either way.
    assert isinstance(result["prefiltered_rank1_same_as_exhaustive"], bool)
    assert result["rank1_same_as_exhaustive"] is (result["prefiltered_rank1_same_as_exhaustive"]
                                                   and result["screened_rank1_same_as_exhaustive"]
                                                   and result["scores_equal_to_1to1"])
    assert main(["biometrics", "bench-identify", "--gallery", "40", "--fingers", "3", "--prints", str(FVC),
                 "--prefilter-fraction", "2"]) == 2
    assert "fraction" in capsys.readouterr().err


def test_bench_identify_exhaustive_only(capsys):
    code = main(["biometrics", "bench-identify", "--gallery", "40", "--probes", "2", "--fingers", "3",
                 "--prints", str(FVC), "--exhaustive"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert "screened_candidates_per_second_per_core" not in result
    assert "prefiltered_candidates_per_second_per_core" not in result
    assert result["rank1_same_as_exhaustive"] is True and result["scores_equal_to_1to1"] is True
    assert main(["biometrics", "bench-identify", "--gallery", "40", "--fingers", "3", "--prints", str(FVC),
                 "--screen-stride", "71"]) == 2
    assert "stride" in capsys.readouterr().err


def test_bench_identify_refuses_what_it_cannot_do(capsys, tmp_path):
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    assert main(["biometrics", "bench-identify", "--gallery", "10", "--fingers", "2", "--probes", "1",
                 "--prints", str(FVC), "--ray-address", f"127.0.0.1:{closed}"]) == 2
    assert "cannot reach the Ray cluster" in capsys.readouterr().err
    assert main(["biometrics", "bench-identify", "--gallery", "10", "--prints", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["biometrics", "bench-identify", "--gallery", "0"])
