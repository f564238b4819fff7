"""1:N search on Ray shards: the same gallery on a one-node and a two-node local cluster.

    .venv/bin/python bench/identify_cluster.py [--galleries 10000,100000] [--probes 3]

Each cluster runs inside a network namespace of its own (biometrics.loopbackcluster: only
loopback traffic), one CPU per node and one shard per node; `loanctl biometrics
bench-identify --shards NODES --ray-address …` runs inside it and prints its JSON, from which
this prints the search wall time per probe on 1 and 2 nodes and the scaling ratio.  Needs root
(unshare -n).  Both nodes share this machine's cores, so the ratio is bounded by the cores that
are free while it runs (reported as the load average).
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


def measure(nodes: int, gallery: int, probes: int) -> dict:
    loanctl = str(Path(sys.executable).with_name("loanctl"))
    with LoopbackCluster(nodes=nodes, cpus_per_node=1) as cluster:
        done = cluster.run([loanctl, "biometrics", "bench-identify", "--gallery", str(gallery), "--shards", str(nodes),
                            "--probes", str(probes), "--exhaustive-limit", "1", "--ray-address", cluster.address],
                           cwd=str(ROOT))
    if done.returncode != 0:
        raise SystemExit(f"bench-identify failed on {nodes} node(s): {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--galleries", default="10000,100000")
    parser.add_argument("--probes", type=int, default=3)
    args = parser.parse_args()
    print("gallery  nodes  load s  search s/probe  slowest shard CPU s/probe  in-process CPU s/probe  top-10 equal  load avg")
    for gallery in (int(g) for g in args.galleries.split(",")):
        rows = {n: measure(n, gallery, args.probes) for n in (1, 2)}
        for n, r in rows.items():
            print(f"{gallery:>7}  {r['ray_nodes']:>5}  {r['ray_load_seconds']:>6.1f}  {r['ray_search_seconds_per_probe']:>14.2f}"
                  f"  {r.get('ray_slowest_shard_cpu_seconds_per_probe', float('nan')):>25.2f}"
                  f"  {r['search_cpu_seconds_per_probe']:>22.2f}  {str(r['ray_top_equal_in_process']):>12}"
                  f"  {os.getloadavg()[0]:>8.1f}")
        ratio = rows[1]["ray_search_seconds_per_probe"] / rows[2]["ray_search_seconds_per_probe"]
        cpu = rows[1]["ray_slowest_shard_cpu_seconds_per_probe"] / rows[2]["ray_slowest_shard_cpu_seconds_per_probe"]
        print(f"{gallery:>7}  scaling 1 -> 2 nodes: {ratio:.2f}x faster in wall time, {cpu:.2f}x in the slowest shard's CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
