#!/usr/bin/env bash
# The reliability soak: a release `lorad serve` on the demo model with the demo adapters, four tenants with tokens,
# then `lorad bench load` with 256 streaming clients for DURATION seconds (default 600). Prints the load figures.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-600}
CLIENTS=${CLIENTS:-256}
SOCK=/tmp/lorad-soak-$$.sock
DATA=$(mktemp -d /tmp/lorad-soak-data-XXXXXX)
.build/release/lorad serve --model demo --register-adapters adapters --socket "$SOCK" --data-dir "$DATA" 2>"$DATA/daemon.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 100); do grep -q ready "$DATA/daemon.log" && break; sleep 0.1; done
TOKENS=""
for t in soak-a soak-b soak-c soak-d; do
  tok=$(curl -s --unix-socket "$SOCK" -X POST http://localhost/v1/tenants \
        -d "{\"name\":\"$t\",\"token\":true,\"max_concurrent\":256}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  TOKENS="$TOKENS,$tok"
done
.build/release/lorad bench load --socket "$SOCK" --clients "$CLIENTS" --duration "$DURATION" \
  --models sql,french,python,demo --tokens "${TOKENS#,}" --sample-seconds 5 "$@"
