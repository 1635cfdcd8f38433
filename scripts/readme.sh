#!/usr/bin/env bash
# Runs the README as a new user would: in a fresh copy of the tree (what `git ls-files`
# lists, as it stands) with no data directory, the "Run it" block as the server, then every
# other `sh` block top to bottom as one script, so variables set by one block reach the next.
# The commands run exactly as written; only `curl` is wrapped to fail on a 4xx/5xx answer,
# so an example that stopped working fails this run. Markers in the README (HTML comments
# just before a block) say how to treat it:
#   <!-- readme-test: server -->            the server command, started in the background
#   <!-- readme-test: skip … -->            not run (the test command itself)
#   <!-- readme-test: stop the server … --> the server is stopped (SIGTERM, as Ctrl-C would)
#                                            before this block
#
#   bash scripts/readme.sh            # needs curl and jq, as the README says
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

for tool in curl jq; do
    command -v "$tool" >/dev/null || { echo "readme.sh needs $tool" >&2; exit 1; }
done

WORK=$(mktemp -d)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# The fresh copy. A clean clone of main has exactly these files.
TREE=$WORK/tree
mkdir -p "$TREE"
git ls-files -z | xargs -0 cp --parents -t "$TREE"

# The README's sh blocks, each with the marker before it: "<marker>\t<line of the block>".
awk '
    /^<!-- readme-test: / { marker = $0; sub(/^<!-- readme-test: /, "", marker); sub(/ -->$/, "", marker); next }
    /^```sh$/ { inside = 1; block++; next }
    /^```$/ && inside { inside = 0; marker = ""; next }
    inside { printf "%d\t%s\t%s\n", block, (marker == "" ? "run" : marker), $0 }
' README.md >"$WORK/blocks.tsv"

SERVER_CMD=$(awk -F'\t' '$2 == "server" { print $3 }' "$WORK/blocks.tsv")
[ -n "$SERVER_CMD" ] || { echo "README has no block marked as the server" >&2; exit 1; }
echo "== README: $(cut -f1 "$WORK/blocks.tsv" | sort -u | wc -l) sh blocks; server: $SERVER_CMD"

cd "$TREE"
# The server listens where the README says; nothing else may be there.
if curl -fs http://127.0.0.1:8080/healthz >/dev/null 2>&1; then
    echo "something already listens on 127.0.0.1:8080; stop it first" >&2
    exit 1
fi
unset ROSTER_DATA_DIR ROSTER_DATABASE_URL ROSTER_LISTEN ROSTER_CONFIG ROSTER_ADMIN_TOKEN
bash -c "$SERVER_CMD" >"$WORK/server.log" 2>&1 &
SERVER=$!
# The first run builds the release binary.
for _ in $(seq 1800); do
    curl -fs http://127.0.0.1:8080/healthz >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "the server stopped" >&2; exit 1; }
    sleep 1
done
curl -fs http://127.0.0.1:8080/healthz >/dev/null || { tail -50 "$WORK/server.log" >&2; exit 1; }

# One script of every other block, in order.
{
    echo 'set -euo pipefail'
    echo 'curl() { command curl --fail-with-body "$@"; }'
    awk -F'\t' -v server="$SERVER" '
        $2 == "server" || $2 ~ /^skip/ { next }
        $1 != last {
            last = $1
            printf "echo \"== README block %d\" >&2\n", $1
            if ($2 ~ /^stop the server/) {
                printf "kill -TERM %s; while kill -0 %s 2>/dev/null; do sleep 0.2; done\n", server, server
            }
        }
        { sub(/^[^\t]*\t[^\t]*\t/, ""); print }
    ' "$WORK/blocks.tsv"
} >"$WORK/readme-script.sh"

if bash "$WORK/readme-script.sh" >"$WORK/readme.out" 2>"$WORK/readme.err"; then
    echo "== README examples: all blocks ran; what they printed:"
    cat "$WORK/readme.out"
else
    status=$?
    echo "== README examples failed (exit $status); last output:" >&2
    tail -40 "$WORK/readme.out" >&2
    tail -40 "$WORK/readme.err" >&2
    echo "== server log:" >&2
    tail -20 "$WORK/server.log" >&2
    exit 1
fi
