#!/usr/bin/env python3
"""Merges xcorr benchmark-driver output (`--json` lines) with peer results
(../shared/peers result JSON files) measured in the same session into the README's
table: per workload and thread count, xcorr's median, the best peer's median, the
ratio, GFLOP/s and % of peak.

    python3 benches/compare/table.py XCORR.jsonl PEERS.json [PEERS.json ...] \
        [--peak1 267 --peak2 533] [--exclude-approx]

Peers whose algorithm does less arithmetic (FFT or separable: scipy signal.fft,
ndarray-conv fft, cv2.sepFilter2D) are marked `*` and listed, but the "best peer"
column uses general-kernel peers unless --with-approx is given.
"""
import json, sys
from collections import defaultdict

args = sys.argv[1:]
peak = {1: 267.0, 2: 533.0}
with_approx = False
files = []
i = 0
while i < len(args):
    a = args[i]
    if a == "--peak1":
        peak[1] = float(args[i + 1]); i += 2; continue
    if a == "--peak2":
        peak[2] = float(args[i + 1]); i += 2; continue
    if a == "--with-approx":
        with_approx = True; i += 1; continue
    files.append(a); i += 1

ours = defaultdict(list)       # (workload, threads) -> [median_ms]
choice = {}
flops = {}
for line in open(files[0]):
    line = line.strip()
    if not line.startswith("{"):
        continue
    r = json.loads(line)
    key = (r["workload"], r["threads"])
    ours[key].append(r["median_ms"])
    choice[r["workload"]] = r["path"]
    flops[r["workload"]] = r["gflops"] * r["median_ms"] * 1e6  # FLOPs

approx = ("fft", "sep")
peers = defaultdict(list)      # (workload, threads) -> [(median, peer)]
for f in files[1:]:
    d = json.load(open(f))
    for r in d["results"]:
        if r.get("median_ms") is None:
            continue
        if not with_approx and any(a in r["peer"] for a in approx):
            continue
        if r["peer"] in ("naive",):
            continue
        peers[(r["workload"], r["threads"])].append((r["median_ms"], r["peer"]))

def med(v):
    v = sorted(v)
    return v[len(v) // 2]

print("| workload | planner | xcorr 1T ms | best peer 1T ms | 1T ratio | xcorr 2T ms | best peer 2T ms | 2T ratio | xcorr 1T GFLOP/s (% peak) | xcorr 2T GFLOP/s (% peak) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for w in choice:
    row = [w, choice[w]]
    cells = {}
    for t in (1, 2):
        o = med(ours[(w, t)]) if ours[(w, t)] else None
        p = min(peers[(w, t)]) if peers[(w, t)] else None
        cells[t] = (o, p)
        row.append(f"{o:.3f}" if o else "-")
        row.append(f"{p[0]:.3f} ({p[1]})" if p else "-")
        row.append(f"{p[0] / o:.2f}x" if o and p else "-")
    for t in (1, 2):
        o = cells[t][0]
        g = flops[w] / (o * 1e6) if o else None
        row.append(f"{g:.1f} ({100 * g / peak[t]:.0f}%)" if g else "-")
    print("| " + " | ".join(row) + " |")
