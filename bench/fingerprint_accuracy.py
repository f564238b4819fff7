"""Accuracy of the exact SourceAFIS mode, the accuracy mode and each of its components on the
development prints (FVC2002 DB1_B, 10 fingers x 8 impressions, and the same prints made worn,
dry and 400 dpi by bench/worn_prints.py): EER, FNMR at FMR 0.1 % and 0.01 %, a DET curve per
set (SVG), and the verification-time ratio accurate / exact.

    .venv/bin/python bench/fingerprint_accuracy.py [--out docs] [--timing-rounds 3]

Protocol (docs/fingerprint-accuracy.md): impressions 1-2 of each finger are enrolled, 3-8 are
probes. A genuine comparison is a probe against its own finger, an impostor one a probe against
another finger's enrollment. Single-impression settings compare with impression 1 only; fused
ones compare with both and fuse the two scores. Parameters (the fusion rule, keeping the
enhancement, the quality threshold) are chosen on fingers 101-105 ("fit"); figures are reported
on fingers 106-110 ("held out", impostors: their probes against all nine other fingers'
enrollments) and, for reference, on all ten fingers (which includes the fit fingers). The worn
set is reported with what was fitted on DB1_B, nothing refitted.

The second matcher, Minutia Cylinder-Code (biometrics/accurate/mcc.py), scores the enhanced
templates alone and fused with SourceAFIS: each matcher's score z-normalised on the impostor
scores of the fit fingers (every ordered pair), then a weighted sum whose weight is chosen on the
fit fingers too (fit_score_fusion). It is measured here, not part of the accuracy mode.

The mode's template holds two minutia sets: the enhanced image's and the plain image's as the
exact mode extracts them; a comparison keeps the higher of SourceAFIS's two scores (rows
"accurate"). The enhanced set alone ("enhancement only", the mode before 2026-11-30) and the
quality-adaptive enhancement (ADAPTIVE: the response fading where orientation coherence is low;
chosen on fingers 101-105 of both sets) are measured beside it. The fit fingers' every-pair tables
are printed too. Verification times (decode, extraction, two comparisons, through
biometrics.engine) are wall clock and process CPU time, with the load average; the accuracy
mode also as the service runs it, its two extractions as two tasks of a two-worker pool.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import html
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from biometrics import engine  # noqa: E402
from biometrics.accurate import assess_capture, fuse, write_template  # noqa: E402
from biometrics.accurate.template import AccurateTemplate  # noqa: E402
from biometrics.accurate.enhancement import GaborParameters, enhance  # noqa: E402
from biometrics.accurate.extraction import extract_enhanced, normalized  # noqa: E402
from biometrics.accurate.mcc import MccMatcher, cylinders  # noqa: E402
from biometrics.sourceafis.accuracy import ErrorRates  # noqa: E402
from biometrics.sourceafis.extractor import extract  # noqa: E402
from biometrics.sourceafis.image import decode_image  # noqa: E402
from biometrics.sourceafis.matcher import Matcher  # noqa: E402
from tests.fingerprint_data import fvc_images  # noqa: E402

from bench import worn_prints  # noqa: E402

ENROLLED = (1, 2)
PROBES = (3, 4, 5, 6, 7, 8)
FIT = tuple(str(f) for f in range(101, 106))
HELD_OUT = tuple(str(f) for f in range(106, 111))
# Share of the fit fingers' probes the quality check may send back for another capture.
RECAPTURE_BUDGET = 0.10
# The quality-adaptive enhancement, a component measured beside the mode: its parameters (12
# orientations, the response fading from coherence 0.30 down to 0 at 0.15) were chosen on fingers
# 101-105 of both sets (docs/fingerprint-accuracy.md); it lost on the held-out fingers.
ADAPTIVE = dataclasses.replace(GaborParameters(), orientations=12, coherence_floor=0.15, coherence_full=0.30)


@dataclass
class Prints:
    pixels: dict  # name -> 500 dpi image
    exact: dict  # name -> Template (plain SourceAFIS)
    enhanced: dict  # name -> Template (enhanced image, the accuracy mode's)
    adaptive: dict  # name -> Template (the quality-adaptive enhancement, a component)
    quality: dict  # name -> CaptureQuality
    cylinders: dict  # name -> MCC cylinders of the enhanced template
    files: dict = dataclasses.field(default_factory=dict)  # name -> the file as captured (500 dpi set)


@dataclass
class ScoreTable:
    """Scores of every ordered pair of prints, computed once (MCC alone, and fused scores)."""
    scores: dict  # (probe name, candidate name) -> score


def scorer(source, probe: str):
    """The function scoring `probe` against a candidate (by name) in `source`: a dict of
    templates compared by SourceAFIS, or a ScoreTable."""
    if isinstance(source, ScoreTable):
        return lambda candidate: source.scores[(probe, candidate)]
    matcher = Matcher(source[probe])
    return lambda candidate: float(matcher.match(source[candidate]))


def score_table(prints: Prints, kind: str) -> ScoreTable:
    """Every ordered pair scored by SourceAFIS on the enhanced templates (`afis`), MCC (`mcc`),
    or the higher of SourceAFIS's scores on the enhanced and on the plain (exact-mode) templates
    (`both`: the accuracy mode's template, which holds both minutia sets)."""
    names = sorted(prints.enhanced)
    scores = {}
    for probe in names:
        if kind == "both":
            enhanced, plain = Matcher(prints.enhanced[probe]), Matcher(prints.exact[probe])
            for candidate in names:
                scores[(probe, candidate)] = max(float(enhanced.match(prints.enhanced[candidate])),
                                                 float(plain.match(prints.exact[candidate])))
        elif kind == "mcc":
            matcher = MccMatcher(prints.cylinders[probe])
            for candidate in names:
                scores[(probe, candidate)] = matcher.match(prints.cylinders[candidate])
        else:
            matcher = Matcher(prints.enhanced[probe])
            for candidate in names:
                scores[(probe, candidate)] = float(matcher.match(prints.enhanced[candidate]))
    return ScoreTable(scores)


@dataclass(frozen=True)
class ScoreFusion:
    """z-normalisation of each matcher's score on its impostor distribution, then a weighted
    sum: weight × z(SourceAFIS) + (1 - weight) × z(MCC)."""
    afis_mean: float
    afis_spread: float
    mcc_mean: float
    mcc_spread: float
    weight: float

    def __call__(self, afis: float, mcc: float) -> float:
        return (self.weight * (afis - self.afis_mean) / self.afis_spread
                + (1 - self.weight) * (mcc - self.mcc_mean) / self.mcc_spread)

    def table(self, afis: ScoreTable, mcc: ScoreTable) -> ScoreTable:
        return ScoreTable({pair: self(score, mcc.scores[pair]) for pair, score in afis.scores.items()})


def load(damage=None, dpi: float = 500) -> Prints:
    """The repository's prints, or `damage(pixels, name)` of each (an image at `dpi`), extracted
    in both modes as the service does (each mode brings the image to 500 dpi itself)."""
    prints = Prints({}, {}, {}, {}, {}, {})
    for path in fvc_images():
        pixels = decode_image(path.read_bytes())
        if damage is None:
            prints.files[path.stem] = path.read_bytes()
        else:
            pixels = damage(pixels, path.stem)
        image = normalized(pixels, dpi)
        prints.pixels[path.stem] = image
        prints.exact[path.stem] = extract(pixels, dpi)
        prints.enhanced[path.stem] = extract(enhance(image), 500)
        prints.adaptive[path.stem] = extract(enhance(image, ADAPTIVE), 500)
        prints.quality[path.stem] = assess_capture(image, prints.enhanced[path.stem])
        prints.cylinders[path.stem] = cylinders(prints.enhanced[path.stem])
    return prints


def comparisons(templates: dict, probe_fingers, gallery_fingers, impressions, rule, skip=frozenset()):
    """(genuine, impostor) fused scores of every probe of `probe_fingers` against the enrollment
    of every finger in `gallery_fingers`."""
    genuine, impostor = [], []
    for finger in probe_fingers:
        for probe_impression in PROBES:
            name = f"{finger}_{probe_impression}"
            if name in skip:
                continue
            match = scorer(templates, name)
            for enrolled in gallery_fingers:
                score = fuse([match(f"{enrolled}_{i}") for i in impressions], rule)
                (genuine if enrolled == finger else impostor).append(score)
    return genuine, impostor


def all_pairs(templates: dict, fingers) -> tuple[list, list]:
    """The FVC protocol: every ordered pair of different impressions of `fingers`, one template
    against one (no fusion): more comparisons, for the single-impression components."""
    every = sorted({p for p, _ in templates.scores} if isinstance(templates, ScoreTable) else templates)
    names = [n for n in every if n.split("_")[0] in fingers]
    genuine, impostor = [], []
    for probe in names:
        match = scorer(templates, probe)
        for candidate in names:
            if candidate != probe:
                score = match(candidate)
                (genuine if probe.split("_")[0] == candidate.split("_")[0] else impostor).append(score)
    return genuine, impostor


def rates(genuine, impostor) -> dict:
    r = ErrorRates(genuine, impostor)
    return {
        "eer": r.eer().value,
        "fnmr_0.1": r.fnmr_at_fmr(0.001),
        "fnmr_0.01": r.fnmr_at_fmr(0.0001),
        "genuine": len(genuine),
        "impostor": len(impostor),
        "rates": r,
    }


def settings(prints: Prints, rule: str, quality_threshold: float, tables: dict) -> dict:
    low = frozenset(n for n, q in prints.quality.items() if q.recapture(quality_threshold))
    return {
        "exact, 1 impression (SourceAFIS)": (prints.exact, (1,), "max", frozenset()),
        "exact, 2 impressions, max (the service today)": (prints.exact, ENROLLED, "max", frozenset()),
        "exact, 2 impressions, mean": (prints.exact, ENROLLED, "mean", frozenset()),
        "accurate, 1 impression (enhanced + plain minutiae, max of both sets)": (tables["both"], (1,), "max", frozenset()),
        f"**accurate: enhanced + plain minutiae, {rule} fusion (the mode)**": (tables["both"], ENROLLED, rule, frozenset()),
        "enhancement only, 1 impression": (prints.enhanced, (1,), "max", frozenset()),
        f"enhancement only + {rule} fusion (the mode before, accurate-3 of one set)": (prints.enhanced, ENROLLED, rule, frozenset()),
        f"quality-adaptive enhancement + {rule} fusion (not in the mode)": (prints.adaptive, ENROLLED, rule, frozenset()),
        f"accurate + quality recapture (score < {quality_threshold:.1f})": (tables["both"], ENROLLED, rule, low),
        "MCC alone, 1 impression": (tables["mcc"], (1,), "max", frozenset()),
        f"MCC alone, 2 impressions, {rule}": (tables["mcc"], ENROLLED, rule, frozenset()),
        f"enhancement + MCC (score fusion, then {rule}; not in the mode)": (tables["fused"], ENROLLED, rule, frozenset()),
    }


def fit(prints: Prints, mode_scores: ScoreTable) -> tuple[str, float, dict]:
    """Fusion rule (on the mode's scores) and quality threshold chosen on the fit fingers only."""
    eer = {}
    for rule in ("max", "mean"):
        eer[rule] = rates(*comparisons(mode_scores, FIT, FIT, ENROLLED, rule))["eer"]
    rule = min(eer, key=lambda r: (eer[r], r != "max"))
    fit_probes = sorted(prints.quality[f"{f}_{i}"].score for f in FIT for i in PROBES)
    threshold = fit_probes[int(RECAPTURE_BUDGET * len(fit_probes))] if fit_probes else 0.0
    return rule, threshold, eer


def fit_score_fusion(afis: ScoreTable, mcc: ScoreTable) -> tuple[ScoreFusion, dict]:
    """z-norm of each matcher on the impostor scores of the fit fingers (every ordered pair), and
    the weight of SourceAFIS (0 to 1 by tenths) with the lowest every-pair EER on the fit fingers
    (ties: lower FNMR at FMR 0.1 %, then more weight on SourceAFIS)."""
    _, afis_impostor = all_pairs(afis, FIT)
    _, mcc_impostor = all_pairs(mcc, FIT)
    base = dict(afis_mean=statistics.fmean(afis_impostor), afis_spread=statistics.pstdev(afis_impostor) or 1.0,
                mcc_mean=statistics.fmean(mcc_impostor), mcc_spread=statistics.pstdev(mcc_impostor) or 1.0)
    results = {}
    for tenth in range(11):
        fusion = ScoreFusion(**base, weight=tenth / 10)
        r = rates(*all_pairs(fusion.table(afis, mcc), FIT))
        results[fusion.weight] = (r["eer"], r["fnmr_0.1"])
    weight = min(results, key=lambda w: (*results[w], -w))
    return ScoreFusion(**base, weight=weight), results


# --- DET curve ------------------------------------------------------------------------------

COLOURS = ["#555555", "#1f77b4", "#17becf", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd", "#e377c2", "#8c564b",
           "#bcbd22", "#000000", "#7f7fff"]


def det_svg(title: str, curves: dict, floor: float) -> str:
    """FNMR against FMR on log-log axes from `floor` to 1; rates of 0 are drawn at the floor."""
    width, height, left, top, right, bottom = 640, 480, 70, 40, 250, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    decades = -math.floor(math.log10(floor))

    def x(rate):
        return left + plot_w * (1 + math.log10(max(rate, floor)) / decades)

    def y(rate):
        return top + plot_h * (-math.log10(max(rate, floor)) / decades)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="20" font-size="13">{html.escape(title)}</text>']
    for d in range(decades + 1):
        rate = 10.0 ** -d
        label = f"{rate * 100:g}%"
        parts.append(f'<line x1="{x(rate):.1f}" y1="{top}" x2="{x(rate):.1f}" y2="{top + plot_h}" stroke="#ddd"/>')
        parts.append(f'<line x1="{left}" y1="{y(rate):.1f}" x2="{left + plot_w}" y2="{y(rate):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{x(rate):.1f}" y="{top + plot_h + 15}" text-anchor="middle">{label}</text>')
        parts.append(f'<text x="{left - 5}" y="{y(rate) + 4:.1f}" text-anchor="end">{label}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 20}" text-anchor="middle">FMR (false match rate)</text>')
    parts.append(f'<text x="15" y="{top + plot_h / 2}" transform="rotate(-90 15 {top + plot_h / 2})" text-anchor="middle">FNMR (false non-match rate)</text>')
    for index, (name, r) in enumerate(curves.items()):
        thresholds = r._thresholds()
        points = [(x(r.fmr(t)), y(r.fnmr(t))) for t in thresholds]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        colour = COLOURS[index % len(COLOURS)]
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        ly = top + 12 + 16 * index
        parts.append(f'<line x1="{left + plot_w + 10}" y1="{ly - 4}" x2="{left + plot_w + 30}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"/>')
        # The table's bold (markdown) is not drawn.
        parts.append(f'<text x="{left + plot_w + 34}" y="{ly}" font-size="9">{html.escape(name.replace("**", ""))}</text>')
    parts.append("</svg>\n")
    return "\n".join(parts)


# --- speed ----------------------------------------------------------------------------------


def verification_times(prints: Prints, rounds: int) -> dict:
    """Median time of one desk verification from the scanner's file (decode, extraction, then the
    probe against the two enrolled impressions' stored templates), through the engine's own
    functions in this process, as wall-clock time and as the process's CPU time; ratios are the
    median of each verification's ratio to the exact one made next to it."""
    names = [f"{f}_{i}" for f in FIT + HELD_OUT for i in PROBES[:2]]
    stored = {"exact": {n: t.to_cbor() for n, t in prints.exact.items()},
              "accurate": {n: write_template(AccurateTemplate(prints.enhanced[n], prints.exact[n])) for n in prints.exact}}
    settings = ("exact", "accurate", "enhancement only")
    wall = {s: [] for s in settings}
    cpu = {s: [] for s in settings}
    for _ in range(rounds):
        for name in names:
            finger = name.split("_")[0]
            enrolled = [f"{finger}_{i}" for i in ENROLLED]
            # Alternate the order so drift in the machine's load falls on all alike.
            for mode in settings if len(wall["exact"]) % 2 == 0 else settings[::-1]:
                start, start_cpu = time.perf_counter(), time.process_time()
                if mode == "enhancement only":  # the mode before: one extraction, of the enhanced image
                    matcher = Matcher(extract_enhanced(decode_image(prints.files[name]), 500))
                    fuse([matcher.match(prints.enhanced[e]) for e in enrolled], "max")
                else:
                    _, scores = engine.analyse_and_score(prints.files[name], 500, [stored[mode][e] for e in enrolled], mode)
                    fuse(scores, "max")
                wall[mode].append(time.perf_counter() - start)
                cpu[mode].append(time.process_time() - start_cpu)
    result = {}
    for clock, times in (("wall", wall), ("cpu", cpu)):
        for mode in settings:
            result[f"{clock} {mode}"] = statistics.median(times[mode])
            if mode != "exact":
                result[f"{clock} ratio {mode}"] = statistics.median(a / e for a, e in zip(times[mode], times["exact"]))
    return result


async def pooled_times(prints: Prints, rounds: int) -> dict:
    """The same verifications as the service runs them, on a pool of two workers
    (engine.MatchingPool): the exact mode's one task, the accuracy mode's two tasks at once
    (the two extractions side by side). Wall clock as the caller waits."""
    names = [f"{f}_{i}" for f in FIT + HELD_OUT for i in PROBES[:2]]
    stored = {"exact": {n: t.to_cbor() for n, t in prints.exact.items()},
              "accurate": {n: write_template(AccurateTemplate(prints.enhanced[n], prints.exact[n])) for n in prints.exact}}
    pool = engine.MatchingPool(2)
    pool.start()
    wall = {"exact": [], "accurate": []}
    try:
        for mode in wall:  # the workers' first tasks (numba's caches) are not timed
            for _ in range(2):
                await pool.analyse_and_score(prints.files[names[0]], 500, [stored[mode][names[1]]], mode)
        for _ in range(rounds):
            for name in names:
                enrolled = [f"{name.split('_')[0]}_{i}" for i in ENROLLED]
                for mode in ("exact", "accurate") if len(wall["exact"]) % 2 == 0 else ("accurate", "exact"):
                    start = time.perf_counter()
                    await pool.analyse_and_score(prints.files[name], 500, [stored[mode][e] for e in enrolled], mode)
                    wall[mode].append(time.perf_counter() - start)
    finally:
        await pool.close()
    return {"exact": statistics.median(wall["exact"]), "accurate": statistics.median(wall["accurate"]),
            "ratio": statistics.median(a / e for a, e in zip(wall["accurate"], wall["exact"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--timing-rounds", type=int, default=3)
    args = parser.parse_args()
    started = time.perf_counter()
    prints = load()
    print(f"extracted 80 prints in both modes in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    tables = {"afis": score_table(prints, "afis"), "mcc": score_table(prints, "mcc"), "both": score_table(prints, "both")}
    print(f"scored every pair by SourceAFIS and MCC in {time.perf_counter() - started:.0f} s")
    rule, threshold, fit_eer = fit(prints, tables["both"])
    print(f"fit on fingers {FIT[0]}-{FIT[-1]}: the mode's fusion EER max {fit_eer['max']:.4%}, "
          f"mean {fit_eer['mean']:.4%} -> rule {rule}; quality threshold {threshold:.2f} "
          f"(recaptures {RECAPTURE_BUDGET:.0%} of the fit probes)")
    fusion, weights = fit_score_fusion(tables["afis"], tables["mcc"])
    tables["fused"] = fusion.table(tables["afis"], tables["mcc"])
    print(f"MCC score fusion fitted on fingers {FIT[0]}-{FIT[-1]} (every pair): {fusion}; fit EER / FNMR@0.1% "
          "by SourceAFIS weight: " + ", ".join(f"{w:.1f}: {e:.2%} / {f:.2%}" for w, (e, f) in weights.items()))
    report(prints, "FVC2002 DB1_B", "", rule, threshold, tables, args.out)
    started = time.perf_counter()
    worn = load(worn_prints.worn, worn_prints.WORN_DPI)
    print(f"\nextracted the 80 worn 400 dpi prints in both modes in {time.perf_counter() - started:.0f} s "
          f"(reported with the rule and threshold fitted on FVC2002 DB1_B fingers {FIT[0]}-{FIT[-1]}, not refitted)")
    worn_tables = {"afis": score_table(worn, "afis"), "mcc": score_table(worn, "mcc"), "both": score_table(worn, "both")}
    worn_tables["fused"] = fusion.table(worn_tables["afis"], worn_tables["mcc"])
    report(worn, "worn/dry 400 dpi (simulated from DB1_B)", "worn-", rule, threshold, worn_tables, args.out)
    timing(prints, args.timing_rounds)


def timing(prints: Prints, rounds: int) -> None:
    load_before = os.getloadavg()
    times = verification_times(prints, rounds)
    pooled = asyncio.run(pooled_times(prints, rounds))
    print(f"\nverification (decode + extraction(s) + 2 comparisons), median over {rounds} rounds of 20 probes, "
          f"load average before {load_before[0]:.2f} / after {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores:")
    for clock in ("wall", "cpu"):
        print(f"  in one process, {clock}: exact {times[clock + ' exact'] * 1000:.1f} ms; " + "; ".join(
            f"{mode} {times[f'{clock} {mode}'] * 1000:.1f} ms ({times[f'{clock} ratio {mode}']:.2f}x exact)"
            for mode in ("accurate", "enhancement only")))
    print(f"  on a pool of two workers (the service's way), wall: exact {pooled['exact'] * 1000:.1f} ms; "
          f"accurate {pooled['accurate'] * 1000:.1f} ms ({pooled['ratio']:.2f}x exact)")


def report(prints: Prints, set_label: str, prefix: str, rule: str, threshold: float, tables: dict, out: Path) -> None:
    """The enrollment-protocol and every-pair tables of one development set, and its DET curves."""
    sets = {"held-out fingers 106-110": (HELD_OUT, FIT + HELD_OUT), "all fingers 101-110": (FIT + HELD_OUT, FIT + HELD_OUT)}
    for set_name, (probe_fingers, gallery_fingers) in sets.items():
        print(f"\n## {set_label}, {set_name}\n")
        print("| setting | EER | FNMR @ FMR 0.1 % | FNMR @ FMR 0.01 % | genuine / impostor | recaptured probes |")
        print("|---|---|---|---|---|---|")
        curves, fewest = {}, math.inf
        for name, (templates, impressions, fusion, skip) in settings(prints, rule, threshold, tables).items():
            result = rates(*comparisons(templates, probe_fingers, gallery_fingers, impressions, fusion, skip))
            probes = [f"{f}_{i}" for f in probe_fingers for i in PROBES]
            recaptured = sum(1 for p in probes if p in skip)
            print(f"| {name} | {result['eer']:.2%} | {result['fnmr_0.1']:.2%} | {result['fnmr_0.01']:.2%} | "
                  f"{result['genuine']} / {result['impostor']} | {recaptured} of {len(probes)} |")
            curves[name] = result["rates"]
            fewest = min(fewest, result["impostor"])
        slug = "held-out" if set_name.startswith("held") else "all"
        floor = 10.0 ** -math.ceil(math.log10(fewest))
        (out / f"fingerprint-det-{prefix}{slug}.svg").write_text(det_svg(f"DET, {set_label}, {set_name}", curves, floor))
    for set_name, fingers in (("fit fingers 101-105", FIT), ("held-out fingers 106-110", HELD_OUT),
                              ("all fingers 101-110", FIT + HELD_OUT)):
        print(f"\n## {set_label}, every ordered pair, one template against one (FVC protocol), {set_name}\n")
        print("| setting | EER | FNMR @ FMR 0.1 % | FNMR @ FMR 0.01 % | genuine / impostor |")
        print("|---|---|---|---|---|")
        curves = {}
        for name, templates in (("exact (SourceAFIS)", prints.exact),
                                ("**accurate: enhanced + plain minutiae (max of both sets)**", tables["both"]),
                                ("enhancement only (the mode before)", prints.enhanced),
                                ("quality-adaptive enhancement", prints.adaptive),
                                ("MCC alone (enhanced minutiae)", tables["mcc"]),
                                ("enhancement + MCC (score fusion)", tables["fused"])):
            result = rates(*all_pairs(templates, fingers))
            print(f"| {name} | {result['eer']:.2%} | {result['fnmr_0.1']:.2%} | {result['fnmr_0.01']:.2%} | "
                  f"{result['genuine']} / {result['impostor']} |")
            curves[name] = result["rates"]
        if fingers == FIT:
            continue  # printed to show what the choices were made on; no curve
        slug = "pairs-held-out" if fingers == HELD_OUT else "pairs-all"
        floor = 10.0 ** -math.ceil(math.log10(result["impostor"]))
        (out / f"fingerprint-det-{prefix}{slug}.svg").write_text(
            det_svg(f"DET, {set_label}, every ordered pair, {set_name}", curves, floor))


if __name__ == "__main__":
    main()
