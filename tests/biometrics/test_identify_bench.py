"""`loanctl biometrics bench-identify` on a small synthetic gallery: one JSON object whose
ranking equals the 1:1 kernel's exhaustive one; the gallery streamed in batches is the one the
benchmark built as Template objects before."""
from __future__ import annotations

import io
import json
import random
import socket

import pytest

from biometrics.cli import ProgressBar
from biometrics.identifybench import gallery_cbor, moved, read_prints
from biometrics.sourceafis.template import Minutia, MinutiaType, Template
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


# --- the streamed synthetic gallery (a million templates without a million Template objects) ---


def _old_gallery(real, bases, size, rng):
    """The gallery as the benchmark built it before streaming: every Template object at once."""
    return real[:size] + [moved(bases[i % len(bases)], rng) for i in range(size - len(real[:size]))]


def test_the_streamed_gallery_is_the_old_one_template_for_template():
    prints = read_prints(FVC, fingers=4)
    real, bases = [p.template for p in prints[:10]], [p.template for p in prints]
    # Unusual bases too: no minutiae, and minutiae at the corners (most copies keep fewer than 5,
    # so moved() keeps the template itself), with directions next to 0 and 2π.
    corner = Template(300, 400, tuple(Minutia(x, y, d, MinutiaType(k)) for x, y, d, k in
                                      ((0, 0, 0.0, 0), (299, 0, 6.2831, 1), (0, 399, 3.0, 0), (299, 399, 1e-7, 1),
                                       (150, 200, 2.5, 0), (151, 200, 2.5, 0))))
    bases += [Template(300, 400, ()), corner]
    size = 10 + 5 * len(bases) + 7
    old = _old_gallery(real, bases, size, random.Random(7))
    # Small batches: batch edges fall inside the real templates and inside the cycle of bases.
    batches = list(gallery_cbor(real, bases, size, random.Random(7), batch=64))
    assert [len(b) for b in batches[:-1]] == [10] + [64] * (len(batches) - 2)
    streamed = [c for b in batches for c in b]
    assert streamed == [t.to_cbor() for t in old]  # the same bytes, so the same sealed records and scores
    assert [Template.from_cbor(c) for c in streamed] == old
    assert any(c == corner.to_cbor() for c in streamed[10:])  # the "fewer than 5 stay" case was met
    assert len(set(streamed)) > size - 10  # copies do differ from each other


def test_a_gallery_smaller_than_the_real_prints_is_their_first_ones():
    prints = read_prints(FVC, fingers=2)
    real = [p.template for p in prints]
    assert [c for b in gallery_cbor(real, real, 5, random.Random(1), batch=2) for c in b] == \
        [t.to_cbor() for t in real[:5]]


def test_bench_identify_reports_the_build_and_shows_progress(capsys):
    code = main(["biometrics", "bench-identify", "--gallery", "300", "--probes", "1", "--fingers", "3",
                 "--prints", str(FVC), "--exhaustive"])
    captured = capsys.readouterr()
    assert code == 0
    result = json.loads(captured.out)
    assert result["build_seconds"] > 0 and result["build_cpu_seconds"] > 0
    assert 300 < result["sealed_bytes_per_template"] < 2000
    assert result["coordinator_peak_rss_bytes"] > 10 * 2 ** 20
    assert result["store_write_seconds"] == 0.0  # no cluster, no shard store
    # Progress on stderr (not a terminal: a line per tenth and per phase), never on stdout.
    assert "building" in captured.err and "300/300" in captured.err
    assert "searching" in captured.err and "1/1" in captured.err


def test_progress_off_a_terminal_writes_a_line_per_tenth():
    stream = io.StringIO()
    bar = ProgressBar("building", 1000, stream=stream, lines=10)
    for _ in range(100):
        bar.advance(10)
    bar.update("searching", 1, 2)
    bar.update("searching", 2, 2)
    lines = stream.getvalue().splitlines()
    assert [line.split()[0] for line in lines] == ["building"] * 11 + ["searching"] * 2
    assert lines[10].split()[2] == "1000/1000" and lines[-1].split()[2] == "2/2"
    quiet = io.StringIO()
    bar = ProgressBar("building", 1000, stream=quiet)  # without lines: only the final line, as before
    bar.advance(500)
    bar.advance(500)
    assert len(quiet.getvalue().splitlines()) == 1
