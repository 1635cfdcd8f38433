#!/usr/bin/env bash
# Import/export benchmark (issue: "Running Roster for real"). Generates N contacts as CSV
# (default 1,000,000; names, emails, phones of many countries, organizations by name),
# imports them into an empty SQLite workspace while `roster serve` runs on the same data
# directory, and measures: import time, time until the last row is found by search,
# export time, and peak RSS of each process. Figures go to BENCHMARKS.md.
#
#   bash scripts/bench-import.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
cargo build --release --locked -q -p roster -p roster-bench
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
export ROSTER_DATA_DIR=$WORK/data
unset ROSTER_DATABASE_URL ROSTER_CONFIG ROSTER_ADMIN_TOKEN
now() { date +%s.%N; }
since() { python3 -c "print(f'{$(now) - $1:.1f}')"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

"$BIN/roster-bench" --contacts "$N" --write-csv "$WORK/contacts.csv"
SIZE_MB=$(( $(stat -c %s "$WORK/contacts.csv") / 1048576 ))
LAST_EMAIL=$(tail -n 1 "$WORK/contacts.csv" | cut -d, -f4)
WS=$("$BIN/roster" workspace create --name Bench | json '["id"]')
KEY=$("$BIN/roster" key create --workspace "$WS" --name bench --permission '*' | json '["key"]')

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/roster" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
until "$BIN/roster" healthcheck --listen "127.0.0.1:$PORT" >/dev/null 2>&1; do sleep 0.1; done

found() {
    curl -fs -G "http://127.0.0.1:$PORT/v1/chatbots/$WS/contacts/search" \
        -H "x-chatcaptain-key: $KEY" --data-urlencode "query=$LAST_EMAIL" | json '["results"]["found"]'
}
START=$(now)
/usr/bin/time -f "%M" -o "$WORK/import.rss" "$BIN/roster" import --workspace "$WS" "$WORK/contacts.csv" \
    >"$WORK/report.ndjson" 2>"$WORK/import.log"
IMPORTED=$(since "$START")
until [ "$(found)" = "1" ]; do sleep 0.2; done
SEARCHABLE=$(since "$START")
SUMMARY=$(tail -n 1 "$WORK/report.ndjson")
SERVER_RSS=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$SERVER/status")

START=$(now)
/usr/bin/time -f "%M" -o "$WORK/export.rss" "$BIN/roster" export --workspace "$WS" >"$WORK/export.csv" 2>/dev/null
EXPORTED=$(since "$START")
ROWS=$(( $(wc -l <"$WORK/export.csv") - 1 ))

echo "# roster import/export benchmark: $N contacts ($SIZE_MB MiB of CSV), SQLite, server running"
echo "$SUMMARY"
echo
echo "| contacts | import | searchable (last row found) | export | import peak RSS | server peak RSS | export peak RSS |"
echo "|---|---|---|---|---|---|---|"
echo "| $N | $IMPORTED s | $SEARCHABLE s | $EXPORTED s ($ROWS rows) | $(( $(cat "$WORK/import.rss") / 1024 )) MiB | $SERVER_RSS MiB | $(( $(cat "$WORK/export.rss") / 1024 )) MiB |"
