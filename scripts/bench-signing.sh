#!/usr/bin/env bash
# Signing throughput, ours against pyHanko, on one core and the same file:
# runs the Rust benchmark (which writes the contract, keys and certificates
# to target/bench-signing/), then pyHanko tuned (key loaded once, signature
# space pre-sized, an in-process timestamper), and prints the ratio.
# Needs: pip install pyhanko pyhanko-certvalidator.
set -euo pipefail
cd "$(dirname "$0")/.."
taskset -c 0 cargo bench --bench pdf_signing
taskset -c 0 python3 scripts/bench_pyhanko.py target/bench-signing
