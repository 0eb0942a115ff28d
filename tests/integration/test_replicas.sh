#!/usr/bin/env bash
# tests/integration/test_replicas.sh - scaling out: two `netsec serve`
# processes share one store and one registry (as N stateless replicas behind
# a load balancer would); a promotion made through one replica reaches the
# other by its registry poll and hot reload, and both keep answering
# throughout.  With $NETSEC_TEST_MONGO_URI set, the shared store is MongoDB.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
cd "$T" || exit 1
TOKEN=replica-token-0123456789abcdef
export NETSEC_REGISTRY="$T/shared/models" NETSEC_ARTIFACTS="$T/shared/artifacts"
if [[ -n "${NETSEC_TEST_MONGO_URI:-}" ]]; then
  base=$(printf '%s' "$NETSEC_TEST_MONGO_URI" | sed -E 's#^(mongodb(\+srv)?://[^/?]*).*#\1#')
  export NETSEC_STORE="$base/netsec_replicas_$$"
fi

# Two versions in the shared registry: v1 (tree) promoted, v2 (logreg) not.
run fit --family tree --train "$DATA" --schema "$SCHEMA" -o "$T/tree.nsm"
expect_rc 0 "a tree model"
run fit --family logreg --train "$DATA" --schema "$SCHEMA" -o "$T/logreg.nsm"
expect_rc 0 "a logreg model"
run models add "$T/tree.nsm" --promote --registry "$NETSEC_REGISTRY"
expect_rc 0 "v1 promoted"
run models add "$T/logreg.nsm" --registry "$NETSEC_REGISTRY"
expect_rc 0 "v2 added"

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
for name in a b; do
  NETSEC_API_TOKEN=$TOKEN "$NETSEC" serve --host 127.0.0.1 --port 0 --port-file "$T/$name.port" \
    >"$T/$name.log" 2>&1 &
  pids+=($!)
done
for name in a b; do
  for _ in $(seq 100); do [[ -s "$T/$name.port" ]] && break; sleep 0.05; done
done
A="http://127.0.0.1:$(cat "$T/a.port")"
B="http://127.0.0.1:$(cat "$T/b.port")"
family() { curl -s "$1/readyz" | sed -n 's/.*"version":\([0-9]*\),"family":"\([a-z]*\)".*/\1 \2/p'; }
expect_eq "$(family "$A")" "1 tree" "replica a serves v1"
expect_eq "$(family "$B")" "1 tree" "replica b serves v1"

rec=$(head -n 2 "$DATA" | /usr/bin/python3 -c '
import csv, json, sys
r = list(csv.reader(sys.stdin)); print(json.dumps({k: int(v) for k, v in zip(r[0], r[1]) if k != "Result"}))')
# Predictions on b all along, while the promotion goes through a.
(
  for _ in $(seq 120); do
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' -d "$rec" "$B/predict/json"
    sleep 0.02
  done
) >"$T/b.codes" &
stream=$!
code=$(curl -s -o "$T/promote.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$A/models/2/promote")
expect_eq "$code" "200" "promote v2 through replica a"
expect_eq "$(family "$A")" "2 logreg" "replica a switched at once"
switched=0
for _ in $(seq 100); do # the poll interval is 1 s
  if [[ "$(family "$B")" == "2 logreg" ]]; then switched=1; break; fi
  sleep 0.1
done
expect_eq "$switched" "1" "replica b switched to v2 by itself"
wait $stream
expect_eq "$(sort -u "$T/b.codes" | paste -sd,)" "200" "replica b answered every request during the switch"
grep -q 'serving model netsec v2 (logreg)' "$T/b.log" && pass || fail "replica b logged the switch"

# A rollback through b reaches a.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$B/models/rollback")
expect_eq "$code" "200" "rollback through replica b"
switched=0
for _ in $(seq 100); do
  if [[ "$(family "$A")" == "1 tree" ]]; then switched=1; break; fi
  sleep 0.1
done
expect_eq "$switched" "1" "replica a followed the rollback"

# Both replicas log predictions to the one shared store: a's dashboard counts b's.
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d "$rec" "$A/predict/json"
counted=0
for _ in $(seq 50); do # the log is written by a background thread, a second at a time
  curl -s "$A/home" >"$T/home.html"
  if grep -Eq '>12[0-9]<' "$T/home.html"; then counted=1; break; fi
  sleep 0.2
done
expect_eq "$counted" "1" "a's dashboard counts the requests b served"
finish
