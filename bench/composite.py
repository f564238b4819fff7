"""The composite of a committee meeting: time and peak memory against the meeting's length.

    python bench/composite.py                     # 9 people, 5 and 30 minutes
    python bench/composite.py --people 9 --minutes 1 5 30 --json out.json
    python bench/composite.py --minutes 30 --tile 160 120   # smaller output, a quarter of the encoding

The meeting is synthetic (``committee.synthetic``: 160x120 15 fps VP8 and Opus tone per
person, joins staggered over the first 5 %, every third person leaves at 90 %), written once
per length into a temporary folder. The composite runs exactly as after a real meeting: in a
child process with its memory limit (``committee.compositejob.CompositeRunner``, the
suite's default settings: 320x240 tiles, 15 fps, WebM VP8/Opus). Reported per length: the
child's wall time, CPU time (user + system: what a loaded machine does not distort) and peak
RSS, each as a ratio to the meeting's length (seconds per second of meeting; MB per minute of
meeting). Flat memory means the peak RSS is the same
for every length.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from committee.compositejob import CompositeJob, CompositeRunner  # noqa: E402
from committee.synthetic import people, write_recording  # noqa: E402


async def measure(directory: Path, runner: CompositeRunner) -> dict:
    job = CompositeJob(directory.name)
    started = time.perf_counter()
    result = await runner.run(job, directory, directory / "composite.webm")
    return {"seconds": time.perf_counter() - started, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=9)
    parser.add_argument("--minutes", type=float, nargs="+", default=[5.0, 30.0])
    parser.add_argument("--memory-mb", type=int, default=1536)
    parser.add_argument("--tile", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"),
                        help="composite tile size (default: the suite's, 320 240)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    options = {"tile": args.tile} if args.tile else {}
    runner = CompositeRunner(memory_mb=args.memory_mb, attempts=1, options=options)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-composite-") as temporary:
        for minutes in args.minutes:
            directory = Path(temporary) / f"m{minutes:g}"
            seconds = minutes * 60
            started = time.perf_counter()
            write_recording(directory, f"BENCH-{minutes:g}", people(args.people, seconds))
            generated = time.perf_counter() - started
            result = asyncio.run(measure(directory, runner))
            row = {"people": args.people, "minutes": minutes, "generate_seconds": round(generated, 1),
                   "compose_seconds": round(result["seconds"], 1),
                   "time_ratio": round(result["seconds"] / seconds, 3),
                   "cpu_seconds": result["cpu_seconds"],
                   "cpu_ratio": round(result["cpu_seconds"] / seconds, 3),
                   "peak_rss_mb": result["peak_rss_mb"],
                   "rss_mb_per_meeting_minute": round(result["peak_rss_mb"] / minutes, 2),
                   "output": f"{result['width']}x{result['height']}, {result['video_frames']} frames"}
            rows.append(row)
            print(json.dumps(row), flush=True)
            (directory / "composite.webm").unlink(missing_ok=True)
    print()
    print("| meeting | compose wall time | wall / meeting length | child CPU | CPU / meeting length "
          "| peak RSS (child) | peak RSS / meeting minute |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['people']} people, {row['minutes']:g} min | {row['compose_seconds']} s | {row['time_ratio']} "
              f"| {row['cpu_seconds']} s | {row['cpu_ratio']} | {row['peak_rss_mb']} MB "
              f"| {row['rss_mb_per_meeting_minute']} MB/min |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
