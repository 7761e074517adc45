#!/usr/bin/env python3
"""A/B of builds (or environment settings) of the benchmark driver, alternating.

On a shared, noisy host two builds timed one after the other differ by more than
most changes do. This runs each configuration in turn, ROUNDS times (the order
reversed every other round, so neither always runs first), and reports per
(workload, threads, configuration) the median of the rounds' medians and the best
of them (the best is the better estimate of the uncontended speed).

    cp target/release/examples/bench /tmp/bench_old   # before the change
    cargo build --release --example bench             # after it
    benches/compare/ab.py 10 "pw c1d --threads 1,2 --min-time 0.3" \\
        /tmp/bench_old target/release/examples/bench
    # a configuration may set variables first and add options after the driver:
    #   "XCORR_ISA=avx2@target/release/examples/bench" "@target/release/examples/bench --packed"
"""
import collections
import json
import os
import statistics
import subprocess
import sys


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, args, configs = int(sys.argv[1]), sys.argv[2].split(), sys.argv[3:]
    times = collections.defaultdict(list)
    pcts = collections.defaultdict(list)
    for r in range(rounds):
        for config in configs if r % 2 == 0 else configs[::-1]:
            env = dict(os.environ)
            assigns, _, command = config.rpartition("@")
            binary, *extra = command.split()
            for kv in assigns.split():
                key, value = kv.split("=", 1)
                env[key] = value
            out = subprocess.run(
                [binary, *args, *extra, "--json"], capture_output=True, text=True, env=env, check=True
            ).stdout
            for line in out.splitlines():
                if line.startswith("{"):
                    d = json.loads(line)
                    name = d["workload"] if d["workload"] not in ("-", "gemm") else d["descriptor"]
                    times[(name, d["threads"], config)].append(d["median_ms"])
                    pcts[(name, d["threads"], config)].append(d.get("pct_peak") or float("nan"))
    # %peak: the median of the rounds' (with `--peak adjacent`, each round's
    # own median ratio to the peak probed next to its calls).
    print(f"{'workload':40} {'T':>2} {'median ms':>10} {'best ms':>10} {'%peak':>6}  configuration")
    for key, v in sorted(times.items()):
        name, threads, config = key
        pct = statistics.median(pcts[key])
        print(f"{name[:40]:40} {threads:>2} {statistics.median(v):10.3f} {min(v):10.3f} {pct:6.1f}  {config}")


if __name__ == "__main__":
    main()
