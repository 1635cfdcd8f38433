#!/usr/bin/env bash
# Search benchmark: builds Roster and roster-bench in release mode and runs the benchmark.
# Usage: scripts/bench.sh [--contacts N] [--clients C] [--queries Q] [--skip-postgres] ...
# Figures and the exact command are recorded in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p roster -p roster-bench
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/roster-bench" "$@"
