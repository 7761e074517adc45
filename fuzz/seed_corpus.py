#!/usr/bin/env python3
"""Writes seed inputs for the differential and backward fuzz targets from a
conformance file (default ../shared/conformance/conv_golden.json), in the byte
format of fuzz_targets/common/mod.rs. Usage: python3 fuzz/seed_corpus.py [FILE]"""
import json, os, sys

here = os.path.dirname(os.path.abspath(__file__))
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "../../shared/conformance/conv_golden.json")
modes = ["zeros", "reflect", "replicate", "circular"]
written = 0
for case in json.load(open(path))["cases"]:
    d = case["dims"]
    g = case["groups"]
    ins, ks = case["input_shape"][2:], case["weight_shape"][2:]
    if case["batch"] > 2 or g > 3 or case["in_channels"] // g > 3 or case["out_channels"] // g > 3:
        continue
    if any(l > 12 for l in ins) or any(k > 5 for k in ks) or any(s > 3 for s in case["stride"]) \
            or any(x > 3 for x in case["dilation"]) or any(a > 4 or b > 4 for a, b in case["padding"]):
        continue
    b = [d - 1, case["batch"] - 1, g - 1, case["in_channels"] // g - 1, case["out_channels"] // g - 1,
         modes.index(case["padding_mode"]), 0 if case["op"] == "cross_correlation" else 1]
    for a in range(d):
        pb, pa = case["padding"][a]
        b += [ins[a] - 1, ks[a] - 1, case["stride"][a] - 1, case["dilation"][a] - 1, pb, pa]
    q = lambda v: max(-128, min(127, round(v * 16))) & 0xFF
    data = bytes(b) + bytes(q(v) for v in case["input"] + case["weight"] + (case["bias"] or [0.0] * case["out_channels"]))
    for target in ["differential", "backward"]:
        out = os.path.join(here, "corpus", target)
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, "seed-" + case["name"]), "wb").write(data)
    written += 1
print(f"wrote {written} seeds per target")
