#!/usr/bin/env bash
# The console's keystroke-to-results time at N contacts in one workspace (default
# 1,000,000), in headless Chromium: loads the contacts with roster-bench (which also runs
# a short search benchmark), serves them, and types searches into the console.
# Usage: scripts/console-bench.sh [--contacts N] [--data-dir DIR]
# With --data-dir, the loaded data stays in DIR and a later run with the same DIR types
# into it again without loading. Figures and the exact command are in BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
contacts=1000000
data=""
while [ $# -gt 0 ]; do
  case "$1" in
    --contacts) contacts="$2"; shift 2 ;;
    --data-dir) data="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
cargo build --release --locked -p roster -p roster-bench
target="${CARGO_TARGET_DIR:-target}/release"
keep="$data"
[ -n "$data" ] || data="$(mktemp -d)"
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; [ -n "$keep" ] || rm -rf "$data"' EXIT

if [ ! -d "$data/index" ]; then
  "$target/roster-bench" --contacts "$contacts" --workspaces 1 --clients 1 --queries 500 \
    --skip-postgres --data-dir "$data"
fi
key="$("$target/roster" --data-dir "$data" key create --workspace 1 --name console-bench \
  --permission '*' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).key))')"

log="$data/serve.log"
"$target/roster" --data-dir "$data" serve --listen 127.0.0.1:0 2> "$log" &
server=$!
for _ in $(seq 600); do
  address="$(grep -o 'address=[0-9.:]*' "$log" | head -1 | cut -d= -f2 || true)"
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { echo "roster serve did not start:"; cat "$log"; exit 1; }

(cd crates/roster/tests/console && [ -d node_modules ] || npm ci --no-audit --no-fund --silent)
ROSTER_BASE="http://$address" ROSTER_KEY="$key" node crates/roster/tests/console/keystroke.bench.mjs
