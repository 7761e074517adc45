#!/usr/bin/env bash
# Side-by-side benchmark: xcorr's driver and the peers of ../shared/peers, in one
# session, alternating (xcorr, Python peers, Rust peers, xcorr), f32, 1 and 2
# threads, every workload of workloads.json. Writes JSON under $OUT and prints the
# README table (benches/compare/table.py).
#
#   cp -r ../shared/peers /tmp/peers && (cd /tmp/peers && python3 peers.py --prepare \
#       && cd rust && cargo build --release)          # once
#   PEAK=267,533 benches/compare/run.sh                # peak: limits/run.sh's zmm FMA 1T,2T
set -euo pipefail
cd "$(dirname "$0")/../.."
PEERS=${PEERS:-/tmp/peers}
OUT=${OUT:-/tmp/xcorr-compare}
PEAK=${PEAK:-267,533}
# Peers that are too slow to time in a round (seconds per call) are left out.
PY_PEERS=${PY_PEERS:-torch,ort,cv2.filter2D,cv2.sepFilter2D,ndimage.correlate,signal.fft,np.correlate}
mkdir -p "$OUT"
cargo build --release --example bench
bench() { target/release/examples/bench --json --threads 1,2 --peak "$PEAK" "$@"; }
bench > "$OUT/xcorr-1.jsonl"
(cd "$PEERS" && python3 peers.py --peers "$PY_PEERS" --threads 1,2 --out "$OUT/py.json" > "$OUT/py.log" 2>&1)
if [ -x "$PEERS/rust/target/release/conv-peers" ]; then
    (cd "$PEERS/rust" && ./target/release/conv-peers --peers "${RUST_PEERS:-candle,ndconv.direct,ndconv.fft,ndconv.fft_par,tract}" --threads 1,2 --out "$OUT/rust.json" > "$OUT/rust.log" 2>&1)
fi
bench > "$OUT/xcorr-2.jsonl"
cat "$OUT"/xcorr-1.jsonl "$OUT"/xcorr-2.jsonl > "$OUT/xcorr.jsonl"
p1=${PEAK%,*}; p2=${PEAK#*,}
python3 benches/compare/table.py "$OUT/xcorr.jsonl" "$OUT/py.json" $( [ -f "$OUT/rust.json" ] && echo "$OUT/rust.json" ) \
    --peak1 "$p1" --peak2 "$p2"
