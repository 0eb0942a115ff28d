#!/usr/bin/env bash
# tests/integration/test_serve.sh - `netsec serve` over real HTTP on 127.0.0.1:
# every endpoint and error path (bad multipart, truncated upload, wrong or
# missing columns, garbage, oversized bodies, no token, a wrong token, two
# trainings at once, a promote during a stream of predictions, a slow
# client), hot reload, the prediction log behind /home, and a clean stop.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
cd "$T" || exit 1
command -v curl >/dev/null || { echo "curl is needed"; exit 1; }
TOKEN=test-token-0123456789abcdef
export NETSEC_REGISTRY="$T/models" NETSEC_ARTIFACTS="$T/artifacts" MLFLOW_TRACKING_URI="$T/mlruns"

# A first model (small grid: quick).
run train --data "$DATA" -s "$SCHEMA" --families tree,logreg --tracking none
expect_rc 0 "a first model"

pids=()
start_server() { # start_server NAME [ENV=V...] -- [ARGS...]
  local name=$1; shift
  local envs=()
  while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  rm -f "$T/$name.port"
  env "${envs[@]}" "$NETSEC" serve --host 127.0.0.1 --port 0 --port-file "$T/$name.port" "$@" \
    >"$T/$name.log" 2>&1 &
  pids+=($!)
  eval "${name}_pid=$!"
  for _ in $(seq 100); do [[ -s "$T/$name.port" ]] && break; sleep 0.05; done
  eval "${name}_url=http://127.0.0.1:$(cat "$T/$name.port")"
}
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

start_server main NETSEC_API_TOKEN=$TOKEN NETSEC_KEEP_PREDICTIONS="$T/kept" NETSEC_MAX_UPLOAD=4000000 -- --timeout 3
U=$main_url
[[ -n "$U" && -s "$T/main.port" ]] && pass || fail "server started: $(cat "$T/main.log")"

# http METHOD PATH [curl args...]: body in $T/body, status in $code, headers in $T/headers
http() {
  local m=$1 p=$2; shift 2
  code=$(curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$m" "$@" "$U$p")
}
expect_code() { if [[ $code == "$1" ]]; then pass; else fail "$2: HTTP $code, wanted $1: $(head -c 400 "$T/body")"; fi; }
expect_body() { if grep -Eq -- "$1" "$T/body"; then pass; else fail "$2: body lacks /$1/: $(head -c 400 "$T/body")"; fi; }
json_ok() { /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/body" && pass || fail "$1: not JSON"; }

# --- service endpoints ---
http GET /healthz; expect_code 200 "healthz"
http GET /readyz; expect_code 200 "readyz with a model"; expect_body '"version":1' "serving v1"
http GET /; expect_code 302 "root redirects"; grep -qi '^location: /docs' "$T/headers" && pass || fail "to /docs"
http GET /docs; expect_code 200 "docs"; expect_body 'swagger-ui' "Swagger UI page"
http GET /docs/swagger-ui-bundle.js; expect_code 200 "Swagger UI bundle served offline"
http GET /docs/LICENSE; expect_code 200 "Swagger UI licence shipped"; expect_body 'Apache License' "Apache-2.0 text"
http GET /openapi.json; expect_code 200 "openapi"; json_ok "openapi"
/usr/bin/python3 - "$T/body" <<'EOF' && pass || fail "OpenAPI document matches the routes"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["paths"]
for path, m in [("/predict", "post"), ("/predict/json", "post"), ("/train", "post"), ("/train", "get"),
                ("/jobs/{id}", "get"), ("/models", "get"), ("/models/current", "get"),
                ("/models/{version}/promote", "post"), ("/models/rollback", "post"), ("/home", "get"),
                ("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get")]:
    assert m in p[path], (path, m)
assert p["/train"]["post"]["security"] == [{"bearer": []}]
assert "multipart/form-data" in p["/predict"]["post"]["requestBody"]["content"]
fam = d["components"]["schemas"]["FamilyParameters"]["properties"]
assert set(fam) == {"logreg", "tree", "forest", "knn", "adaboost", "gbdt"}, fam.keys()
assert fam["forest"]["properties"]["n_estimators"]["default"] == 100
assert "SSLfinal_State" in d["components"]["schemas"]["Record"]["properties"]
EOF
http GET /nowhere; expect_code 404 "unknown route"; json_ok "404 body"
http DELETE /predict; expect_code 405 "wrong method"

# --- /predict ---
http POST /predict -F "file=@$DATA"
expect_code 200 "predict the phishing CSV (multipart)"
expect_body '<h1>Predicted Data</h1>' "HTML table"
[[ $(grep -c '<tr' "$T/body") -eq 11056 ]] && pass || fail "11055 rows + header in the table"
grep -qi '^x-netsec-rows: 11055' "$T/headers" && pass || fail "row count header"
http POST '/predict?format=csv' -F "file=@$DATA"
expect_code 200 "format=csv"
expect_eq "$(head -n 1 "$T/body" | tr ',' '\n' | tail -n 4 | paste -sd,)" \
  "predicted_column,threat_probability,proba_-1,proba_1" "CSV columns"
labels=$(tail -n +2 "$T/body" | awk -F, '{print $(NF-3)}' | sort -u | paste -sd,)
expect_eq "$labels" "-1,1" "labels in the dataset's own values"
http POST /predict -H 'Accept: application/json' -H 'Content-Type: text/csv' --data-binary "@$DATA"
expect_code 200 "raw text/csv body, JSON by Accept"; json_ok "predict JSON"
# Columns shuffled, an id column and hostile text passed through, escaped in HTML.
awk -F, 'BEGIN{OFS=","} NR==1{print "note",$3,$2,$1,$0; next} NR<=6{print "<script>x</script>",$3,$2,$1,$0}' \
  "$DATA" | cut -d, -f1-4,8-35 >"$T/shuffled.csv"
http POST /predict -F "file=@$T/shuffled.csv"
expect_code 200 "shuffled columns with an extra one"
if grep -q '<script>x' "$T/body"; then fail "unescaped cell in the HTML"; else pass; fi
expect_body '&lt;script&gt;x&lt;/script&gt;' "cells HTML-escaped"
cut -d, -f2- "$DATA" >"$T/missing.csv"
http POST /predict -F "file=@$T/missing.csv"
expect_code 422 "a missing column"; expect_body 'having_IP_Address' "names the missing column"; json_ok "422 body"
printf -- '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n%s' \
  "$(head -n 3 "$DATA")" >"$T/truncated.body"
http POST /predict -H 'Content-Type: multipart/form-data; boundary=XYZ' --data-binary "@$T/truncated.body"
expect_code 400 "a truncated upload"; expect_body 'truncated' "says truncated"
http POST /predict -H 'Content-Type: multipart/form-data' --data-binary 'x'
expect_code 400 "multipart without a boundary"
http POST /predict -F "other=@$DATA"
expect_code 400 "no file field"
head -c 200000 /dev/urandom >"$T/garbage.bin"
http POST /predict -F "file=@$T/garbage.bin"
[[ $code == 400 || $code == 422 ]] && pass || fail "garbage bytes: HTTP $code"
json_ok "garbage bytes: a JSON error"
head -c 5000000 /dev/zero | tr '\0' 'a' >"$T/big.csv"
http POST /predict -H 'Content-Type: text/csv' --data-binary "@$T/big.csv"
expect_code 413 "oversized body (Content-Length)"
http POST /predict -H 'Content-Type: text/csv' -H 'Transfer-Encoding: chunked' --data-binary "@$T/big.csv"
expect_code 413 "oversized chunked body"
http POST /predict -H 'Content-Type: application/xml' --data-binary '<a/>'
expect_code 415 "unsupported media type"
http POST '/predict?format=xml' -F "file=@$DATA"
expect_code 400 "unknown format"
http POST '/predict?keep=true&format=csv' -F "file=@$DATA"
kept=$(sed -n 's/^[Xx]-[Nn]etsec-[Rr]esult: \(.*\)\r$/\1/p' "$T/headers")
[[ -n "$kept" && -s "$kept" && $(wc -l <"$kept") -eq 11056 ]] && pass || fail "keep=true writes the request's own file ($kept)"

# --- /predict/json ---
rec=$(head -n 2 "$DATA" | /usr/bin/python3 -c '
import csv, json, sys
r = list(csv.reader(sys.stdin)); print(json.dumps({k: int(v) for k, v in zip(r[0], r[1]) if k != "Result"}))')
http POST /predict/json -H 'Content-Type: application/json' -d "$rec"
expect_code 200 "one record"; expect_body '"predicted_column":"-?1"' "a label"
http POST /predict/json -H 'Content-Type: application/json' -d "[$rec,$rec]"
expect_code 200 "two records"; [[ $(grep -o predicted_column "$T/body" | wc -l) -eq 2 ]] && pass || fail "two predictions"
http POST /predict/json -H 'Content-Type: application/json' -d "${rec/\"URL_Length\": /\"URL_Length\": null, \"x\": }"
expect_code 200 "a null value is imputed"
http POST /predict/json -H 'Content-Type: application/json' -d '{"URL_Length": 1}'
expect_code 422 "missing keys"; expect_body 'having_IP_Address' "names them"
http POST /predict/json -H 'Content-Type: application/json' -d "${rec/\"URL_Length\": 1/\"URL_Length\": \"abc\"}"
expect_code 422 "a wrong type"
http POST /predict/json -H 'Content-Type: application/json' -d '{"a": '
expect_code 400 "malformed JSON"; expect_body '"line":1' "where the JSON broke"

# --- authentication and training jobs ---
http POST /train; expect_code 401 "no token"
grep -qi '^www-authenticate: Bearer' "$T/headers" && pass || fail "WWW-Authenticate"
http POST /train -H 'Authorization: Bearer nope'; expect_code 401 "wrong token"
http POST /models/rollback; expect_code 401 "rollback needs the token"
http POST /train -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"families": "tree,forest", "force": true}'
expect_code 202 "training starts"
job=$(sed -n 's/.*"id":"\(job-[^"]*\)".*/\1/p' "$T/body")
[[ -n "$job" ]] && pass || fail "job id"
http POST /train -H "Authorization: Bearer $TOKEN"
expect_code 409 "a second training while one runs"; expect_body "\"running_job\":\"$job\"" "names the running job"
for _ in $(seq 200); do
  http GET "/jobs/$job"; grep -q '"state":"running"' "$T/body" || break; sleep 0.1
done
expect_body '"state":"finished"' "the job finishes"; expect_body '"promoted":true' "and promotes"
http GET /jobs/nope; expect_code 404 "unknown job"
sleep 0.3
http GET /readyz; expect_body '"version":2' "hot reload to v2 after training"

# --- a promote and a rollback during a stream of predictions ---
(
  for _ in $(seq 150); do
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: application/json' -d "$rec" "$U/predict/json"
  done
) >"$T/stream.codes" &
stream=$!
for v in 1 2 1; do
  http POST "/models/$v/promote" -H "Authorization: Bearer $TOKEN"; expect_code 200 "promote v$v during predictions"
done
http POST /models/rollback -H "Authorization: Bearer $TOKEN"; expect_code 200 "rollback during predictions"
expect_body '"serving":2' "rollback serves the previous version"
wait $stream
expect_eq "$(sort -u "$T/stream.codes" | paste -sd,)" "200" "no prediction failed during the switches"
http POST /models/99/promote -H "Authorization: Bearer $TOKEN"; expect_code 404 "promote an unknown version"
http GET /models; expect_code 200 "models"; expect_body '"current":2' "current in the list"; json_ok "models JSON"
http GET /models/current; expect_code 200 "current model"; expect_body '"family"' "its card"

# --- dashboard, metrics ---
sleep 1.2 # the prediction log is written by a background thread
http GET /home; expect_code 200 "dashboard"
for id in chart-timeline chart-share chart-classes chart-features; do expect_body "id=\"$id\"" "$id"; done
http GET /metrics; expect_code 200 "metrics"
expect_body 'netsec_predictions_total\{class="-1"\} [1-9]' "predictions by class"
expect_body 'netsec_http_requests_total\{method="POST",route="/predict",status="4xx"\}' "4xx counted"
expect_body 'netsec_training_runs_total\{outcome="rejected"\} 1' "the rejected training"
expect_body 'netsec_model_version\{name="netsec",family="[a-z]+"\} 2' "model version gauge"

# --- a slow client cannot hold a connection: idle timeout 3 s ---
start=$(date +%s)
/usr/bin/python3 - "$(cat "$T/main.port")" <<'EOF' && pass || fail "slow client disconnected by the timeout"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n")
s.settimeout(10)
t = time.time()
data = s.recv(100)
assert time.time() - t < 8, "held too long"
EOF

# --- no token configured: 403 with how to set one; CORS ---
start_server notoken NETSEC_LOG_RAW_ROWS=1 -- --cors https://ok.example --max-fields 40
U=$notoken_url
http POST /predict -F "file=@$DATA"; expect_code 200 "predict with raw rows logged"
sleep 1.5
/usr/bin/python3 - "$T/store.db" <<'EOF' && pass || fail "raw rows kept in the prediction log"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(n,) = db.execute("select count(*) from netsec_prediction_raw").fetchone()
(csv,) = db.execute("select csv from netsec_prediction_raw limit 1").fetchone()
assert n >= 1 and csv.count(b"\n") == 11056, (n, csv.count(b"\n"))
EOF
awk -F, 'BEGIN{OFS=","} {print $0,$0}' "$DATA" >"$T/wide.csv"
http POST /predict -F "file=@$T/wide.csv"; expect_code 413 "more fields than NETSEC_MAX_FIELDS"
http POST /train; expect_code 403 "no token configured"; expect_body 'NETSEC_API_TOKEN' "says how to set one"
http GET /healthz -H 'Origin: https://ok.example'
grep -qi '^access-control-allow-origin: https://ok.example' "$T/headers" && pass || fail "allowed origin echoed"
http GET /healthz -H 'Origin: https://evil.example'
grep -qi '^access-control-allow-origin' "$T/headers" && fail "other origin allowed" || pass
run serve --cors '*' --port 0
expect_rc 2 "'*' is refused as a CORS origin"

# --- still alive after all that, and a clean stop ---
kill -0 "$main_pid" && pass || fail "the server survived every request"
kill -TERM "$main_pid"; wait "$main_pid"; rc=$?
expect_eq "$rc" "0" "SIGTERM stops it cleanly"
grep -q 'req=.* method=POST route=/predict .*status=200 bytes=[0-9]* ms=' "$T/main.log" && pass \
  || fail "one log line per request"
finish
