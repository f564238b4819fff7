"""1:N search on Ray shards: the same gallery on a one-node and a two-node local cluster.

    .venv/bin/python bench/identify_cluster.py [--galleries 10000,100000,1000000] [--probes 2] [--screened]

Each cluster runs inside a network namespace of its own (biometrics.loopbackcluster: only
loopback traffic), one CPU per node and one shard per node; `loanctl biometrics
bench-identify --shards NODES --ray-address …` runs inside it (its progress on this stderr)
and prints its JSON, from which this prints, per gallery and node count: the build, the load
rates (in-process and in the actors), bytes per template, peak memory of the client and of
each actor, CPU and wall time per probe, and the scaling ratio 1 -> 2 nodes, then both runs'
JSON, one per line.  The in-process exhaustive search runs in both (it is the reference the
merged top 10 is compared with); the in-process two-stage search only with --screened.  Needs
root (unshare -n).  Both nodes share this machine's cores, so the wall ratio is bounded by the
cores that are free while it runs (load averages beside every figure).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from biometrics.loopbackcluster import LoopbackCluster  # noqa: E402

MB = 2 ** 20


def measure(nodes: int, gallery: int, probes: int, screened: bool) -> dict:
    loanctl = str(Path(sys.executable).with_name("loanctl"))
    before = os.getloadavg()
    print(f"-- {gallery} templates on {nodes} node(s), load average {before[0]:.1f}", file=sys.stderr, flush=True)
    with LoopbackCluster(nodes=nodes, cpus_per_node=1) as cluster:
        done = cluster.run([loanctl, "biometrics", "bench-identify", "--gallery", str(gallery), "--shards", str(nodes),
                            "--probes", str(probes), "--exhaustive-limit", "1", "--ray-address", cluster.address,
                            *([] if screened else ["--exhaustive"])],
                           cwd=str(ROOT), capture_stderr=False)
    if done.returncode != 0:
        raise SystemExit(f"bench-identify failed on {nodes} node(s) (its stderr is above)")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["load_average_before"], row["load_average_after"] = before, os.getloadavg()
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--galleries", default="10000,100000")
    parser.add_argument("--probes", type=int, default=3)
    parser.add_argument("--screened", action="store_true", help="also time the in-process two-stage search")
    args = parser.parse_args()
    print("gallery  nodes  build s  load/s/core (in-process, actors)  actors start+load s  bytes/tpl"
          "  client peak MB  actor peak MB  shard CPU s/probe  in-process CPU s/probe  wall s/probe"
          "  top-10 equal  load avg before/after", flush=True)
    for gallery in (int(g) for g in args.galleries.split(",")):
        measured = {n: measure(n, gallery, args.probes, args.screened) for n in (1, 2)}
        for n, r in measured.items():
            print(f"{gallery:>7}  {r['ray_nodes']:>5}  {r['build_seconds']:>7.1f}"
                  f"  {r['load_templates_per_second_per_core']:>14,.0f} {r['ray_load_templates_per_second_per_core']:>14,.0f}"
                  f"  {r['ray_load_seconds']:>19.1f}  {r['bytes_per_template']:>9.0f}"
                  f"  {r['coordinator_peak_rss_bytes'] / MB:>14.0f}"
                  f"  {' '.join(f'{b / MB:.0f}' for b in r['ray_actor_peak_rss_bytes']):>13}"
                  f"  {' '.join(f'{c:.2f}' for c in r['ray_shard_cpu_seconds_per_probe']):>17}"
                  f"  {r['search_cpu_seconds_per_probe']:>22.2f}  {r['ray_search_seconds_per_probe']:>12.2f}"
                  f"  {str(r['ray_top_equal_in_process']):>12}"
                  f"  {r['load_average_before'][0]:.1f}/{r['load_average_after'][0]:.1f}", flush=True)
        ratio = measured[1]["ray_search_seconds_per_probe"] / measured[2]["ray_search_seconds_per_probe"]
        cpu = measured[1]["ray_slowest_shard_cpu_seconds_per_probe"] / measured[2]["ray_slowest_shard_cpu_seconds_per_probe"]
        print(f"{gallery:>7}  scaling 1 -> 2 nodes: {ratio:.2f}x faster in wall time, {cpu:.2f}x in the slowest shard's CPU time",
              flush=True)
        for n in (1, 2):
            print(json.dumps(measured[n]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
