"""`loanctl fingerprint …` run through a real argparse parser, on real prints and templates."""

from __future__ import annotations

import argparse
import shutil

import pytest
from PIL import Image

from biometrics.cli import register
from biometrics.sourceafis import Matcher, Template

from tests.fingerprint_data import GOLDEN, fvc_path, read_text, write_fvc_tiff


def loanctl(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="loanctl")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args([str(a) for a in argv])
    return args.run(args)


def test_match_of_two_templates_prints_the_original_score(capsys):
    code = loanctl(
        "fingerprint", "match", GOLDEN / "templates" / "101_1.tif.cbor", GOLDEN / "templates" / "101_2.tif.cbor"
    )
    out = capsys.readouterr().out
    assert code == 0
    golden = {
        (p, c): s for p, c, s in (l.split("\t") for l in read_text(GOLDEN / "scores.tsv").splitlines()[1:])
    }
    assert out.strip() == golden["101_1.tif", "101_2.tif"]


def test_scores_of_a_template_folder_reproduce_the_golden_listing(tmp_path, capsys):
    folder = tmp_path / "templates"
    folder.mkdir()
    for path in (GOLDEN / "templates").glob("1*.tif.cbor"):
        shutil.copy(path, folder / path.name)
    output = tmp_path / "scores.tsv"
    assert loanctl("fingerprint", "scores", folder, "-o", output) == 0
    assert output.read_text() == read_text(GOLDEN / "scores.tsv")
    captured = capsys.readouterr()
    assert "6400 scores of 80 prints" in captured.out
    assert "matching" in captured.err  # the progress bar


def test_extract_then_match_images_and_templates_alike(tmp_path, capsys):
    out_a = tmp_path / "a.cbor"
    out_b = tmp_path / "b.cbor"
    assert loanctl("fingerprint", "extract", fvc_path("101_1"), "-o", out_a) == 0
    assert loanctl("fingerprint", "extract", fvc_path("101_2"), "--dpi", "500", "-o", out_b) == 0
    a = Template.from_cbor(out_a.read_bytes())
    b = Template.from_cbor(out_b.read_bytes())
    assert len(a.minutiae) > 5 and len(b.minutiae) > 5
    capsys.readouterr()
    assert loanctl("fingerprint", "match", fvc_path("101_1"), out_b) == 0
    from_image = float(capsys.readouterr().out)
    assert from_image == Matcher(a).match(b)
    assert from_image > 40  # two impressions of the same finger


def test_scores_of_an_image_folder(tmp_path):
    folder = tmp_path / "prints"
    folder.mkdir()
    for name in ("101_1.tif", "101_2.tif", "102_1.tif"):
        write_fvc_tiff(name.removesuffix(".tif"), folder / name)
    output = tmp_path / "scores.tsv"
    assert loanctl("fingerprint", "scores", folder, "-o", output) == 0
    lines = output.read_text().splitlines()
    assert lines[0] == "probe\tcandidate\tscore"
    pairs = [line.split("\t") for line in lines[1:]]
    assert [(p, c) for p, c, _ in pairs] == [
        (p, c) for p in ("101_1.tif", "101_2.tif", "102_1.tif") for c in ("101_1.tif", "101_2.tif", "102_1.tif")
    ]
    scores = {(p, c): float(s) for p, c, s in pairs}
    assert scores["101_1.tif", "101_2.tif"] > 40 > scores["101_1.tif", "102_1.tif"]


def test_show_draws_both_minutia_types(tmp_path, capsys):
    output = tmp_path / "show.png"
    assert loanctl("fingerprint", "show", fvc_path("101_1"), "-o", output) == 0
    with Image.open(output) as drawn, Image.open(fvc_path("101_1")) as original:
        assert drawn.format == "PNG"
        assert drawn.size == original.size
        colours = {colour for _, colour in drawn.convert("RGB").getcolors(1 << 20)}
    assert (220, 30, 30) in colours and (20, 110, 230) in colours
    assert "minutiae drawn" in capsys.readouterr().out


def test_bench_reports_speed_and_accuracy(tmp_path, capsys):
    folder = tmp_path / "prints"
    folder.mkdir()
    for name in ("101_1.tif", "101_2.tif", "101_3.tif", "102_1.tif", "102_2.tif", "103_1.tif"):
        write_fvc_tiff(name.removesuffix(".tif"), folder / name)
    assert loanctl("fingerprint", "bench", folder) == 0
    captured = capsys.readouterr()
    for label in ("extraction", "impostor comparisons", "genuine comparisons", "1:N comparisons", "EER",
                  "FNMR at FMR 1%", "FNMR at FMR 0.1%"):
        assert label in captured.out
    assert "6 (3 fingers)" in captured.out
    assert "genuine" in captured.err and "#" in captured.err


@pytest.mark.parametrize(
    "make, argv_tail, fragment",
    [
        (lambda d: None, ["match", "{d}/missing.cbor", "{d}/missing.cbor"], "No such file"),
        (lambda d: (d / "x.png").write_text("not an image"), ["match", "{d}/x.png", "{d}/x.png"], "not an image"),
        (lambda d: (d / "e.png").write_bytes(b""), ["extract", "{d}/e.png", "-o", "{d}/o.cbor"], "empty"),
        (lambda d: (d / "t.cbor").write_bytes(b"\xa0"), ["match", "{d}/t.cbor", "{d}/t.cbor"], "missing keys"),
        (lambda d: (d / "t.cbor").write_bytes(b"\x00\x01"), ["match", "{d}/t.cbor", "{d}/t.cbor"], "trailing bytes"),
        (lambda d: (d / "empty").mkdir(), ["scores", "{d}/empty", "-o", "{d}/s.tsv"], "holds no images"),
        (lambda d: None, ["scores", "{d}/nowhere", "-o", "{d}/s.tsv"], "is not a folder"),
        (lambda d: (d / "sub").mkdir(), ["show", "{d}/sub", "-o", "{d}/o.png"], "is a folder"),
        (
            lambda d: [(d / "b").mkdir(), write_fvc_tiff("101_1", d / "b" / "print.tif")],
            ["bench", "{d}/b"],
            "FINGER_IMPRESSION",
        ),
    ],
)
def test_errors_are_one_clear_line_and_a_nonzero_exit(tmp_path, capsys, make, argv_tail, fragment):
    make(tmp_path)
    code = loanctl("fingerprint", *[a.format(d=tmp_path) for a in argv_tail])
    captured = capsys.readouterr()
    assert code == 2
    assert fragment in captured.err
    assert captured.err.startswith("loanctl fingerprint: ")
    assert "Traceback" not in captured.err


def test_tiny_image_gives_an_error_or_an_empty_template(tmp_path, capsys):
    image = tmp_path / "dot.png"
    Image.new("L", (1, 1), 255).save(image)
    code = loanctl("fingerprint", "extract", image, "-o", tmp_path / "dot.cbor")
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    if code == 0:
        assert Template.from_cbor((tmp_path / "dot.cbor").read_bytes()).minutiae == ()
    else:
        assert code == 2 and captured.err.startswith("loanctl fingerprint: ")


@pytest.mark.parametrize("dpi", ["0", "-5", "abc", "nan", "1e9"])
def test_bad_dpi_is_an_argument_error(dpi, capsys):
    with pytest.raises(SystemExit) as stopped:
        loanctl("fingerprint", "extract", fvc_path("101_1"), "--dpi", dpi, "-o", "x.cbor")
    assert stopped.value.code == 2
    assert "dpi" in capsys.readouterr().err
