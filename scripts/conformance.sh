#!/usr/bin/env bash
# Conformance runs against a live `roster serve`, with schemathesis generating requests:
#  1. Chatwoot's own OpenAPI contract (../shared/api/chatwoot.openapi.json). Checks that no
#     request gets a 5xx and that every response matches the documented schema, where the
#     contract is right: conformance/corrected_spec.py corrects what chatwoot-behaviour.md
#     shows the real server does differently (and says why, line by line).
#  2. Roster's own admin API document (crates/api/openapi/admin.json, served at
#     /openapi.json): the same checks, so the committed document cannot drift from what
#     the server answers.
#
#   bash scripts/conformance.sh            # needs python3 (installs schemathesis in a venv)
set -euo pipefail
cd "$(dirname "$0")/.."

SPEC=../shared/api/chatwoot.openapi.json
VENV=${ROSTER_VENV:-$HOME/.cache/roster-venv}
SCHEMATHESIS_VERSION=4.32.5
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --locked -p roster
ROSTER=${CARGO_TARGET_DIR:-target}/debug/roster
DATA=$(mktemp -d)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$DATA"
}
trap cleanup EXIT
export ROSTER_DATA_DIR=$DATA
unset ROSTER_DATABASE_URL ROSTER_CONFIG
export ROSTER_ADMIN_TOKEN=conformance-admin-token

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
ACCOUNT_ID=$("$ROSTER" workspace create --name Conformance | json '["id"]')
ROSTER_KEY=$("$ROSTER" key create --workspace "$ACCOUNT_ID" --name conformance --permission '*' | json '["key"]')
"$ROSTER" inbox create --workspace "$ACCOUNT_ID" --name API --channel-type Channel::Api >/dev/null

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ROSTER_URL=http://127.0.0.1:$PORT
"$ROSTER" serve --listen "127.0.0.1:$PORT" >"$DATA/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do
    curl -fs "$ROSTER_URL/healthz" >/dev/null && break
    sleep 0.1
done

# A few contacts, so ids the generator guesses (1, 2, …) exist sometimes.
for i in 1 2 3; do
    curl -fs -X POST "$ROSTER_URL/api/v1/accounts/$ACCOUNT_ID/contacts" \
        -H "api_access_token: $ROSTER_KEY" -H 'content-type: application/json' \
        -d "{\"name\": \"Seed $i\", \"email\": \"seed$i@example.com\", \"inbox_id\": 1}" >/dev/null
done

python3 conformance/corrected_spec.py "$SPEC" >"$DATA/chatwoot.corrected.json"
export ROSTER_URL ROSTER_KEY ACCOUNT_ID
"$VENV/bin/schemathesis" --config-file conformance/schemathesis.toml run "$DATA/chatwoot.corrected.json" \
    --url "$ROSTER_URL" --checks not_a_server_error,response_schema_conformance
"$VENV/bin/schemathesis" --config-file conformance/admin.toml run crates/api/openapi/admin.json --request-timeout 35 \
    --url "$ROSTER_URL" --checks not_a_server_error,response_schema_conformance
