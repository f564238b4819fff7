"""Does the pre-filtered 1:N search keep every probe's first candidate? Each impression number
of the repository's FVC prints in turn is the probe set (one print per finger); the gallery is
every other print plus rotated and shifted copies up to N (as `bench-identify` builds it). For
every probe the exhaustive search's first candidate is compared with the pre-filtered one's,
and its rank by votes and by the root screen is printed (the margin to the cut-offs).

    .venv/bin/python bench/prefilter_margin.py --gallery 100000
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.identifybench import default_prints, gallery_cbor, read_prints  # noqa: E402
from biometrics.sourceafis.edgeindex import EdgeIndex, Prefilter  # noqa: E402
from biometrics.sourceafis.loader import load_gallery  # noqa: E402
from biometrics.sourceafis.matcher import Matcher  # noqa: E402


def check(prints, impression: int, size: int, prefilter: Prefilter) -> dict:
    probes = [p for p in prints if p.impression == impression]
    enrolled = [p for p in prints if p.impression != impression]
    rng = random.Random(2026)
    gallery = load_gallery([t for batch in gallery_cbor([p.template for p in enrolled],
                                                        [p.template for p in enrolled], size, rng)
                            for t in batch])
    index = EdgeIndex.build(gallery)
    rows = []
    for probe in probes:
        matcher = Matcher(probe.template)
        exhaustive = matcher.match_compact(gallery)
        first = int(np.argmax(exhaustive))
        started = time.thread_time()
        fast = matcher.prefilter_compact(gallery, index, prefilter).scores
        seconds = time.thread_time() - started
        order = np.argsort(-matcher.prefilter_votes(gallery, index), kind="stable")
        vote_rank = int(np.flatnonzero(order == first)[0])
        passed = np.sort(order[:prefilter.screened(size)]).astype(np.int64)
        where = np.flatnonzero(passed == first)
        screen = matcher._compact(gallery, passed, prefilter.roots, prefilter.stride)
        screen_rank = int(np.flatnonzero(np.argsort(-screen, kind="stable") == where[0])[0]) if where.size else None
        rows.append({"probe": f"{probe.finger}_{probe.impression}", "first_same": int(np.argmax(fast)) == first,
                     "best": float(exhaustive[first]), "vote_rank": vote_rank, "screen_rank": screen_rank,
                     "prefiltered_cpu_s": seconds})
    return {"impression": impression, "probes": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gallery", type=int, default=10_000)
    parser.add_argument("--impressions", default="1,2,3,4,5,6,7,8")
    args = parser.parse_args()
    prints = read_prints(default_prints())
    prefilter = Prefilter()
    misses, worst_votes, worst_screen, cpu = 0, 0, 0, []
    for impression in (int(i) for i in args.impressions.split(",")):
        result = check(prints, impression, args.gallery, prefilter)
        for row in result["probes"]:
            misses += not row["first_same"]
            worst_votes = max(worst_votes, row["vote_rank"])
            worst_screen = max(worst_screen, row["screen_rank"] if row["screen_rank"] is not None else 0)
            cpu.append(row["prefiltered_cpu_s"])
        print(json.dumps(result), flush=True)
        print(f"impression {impression}: {sum(r['first_same'] for r in result['probes'])}/{len(result['probes'])} "
              f"first candidates kept; vote ranks {[r['vote_rank'] for r in result['probes']]}, "
              f"screen ranks {[r['screen_rank'] for r in result['probes']]}", file=sys.stderr, flush=True)
    print(json.dumps({"gallery": args.gallery, "probes": len(cpu), "misses": misses,
                      "worst_vote_rank": worst_votes, "passed_to_screen": prefilter.screened(args.gallery),
                      "trusted_by_votes": prefilter.trusted_votes(args.gallery),
                      "worst_screen_rank": worst_screen, "kept_by_screen": prefilter.kept(args.gallery),
                      "prefiltered_candidates_per_second_per_core": args.gallery * len(cpu) / sum(cpu),
                      "load_average": os.getloadavg()[0]}))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
