#!/usr/bin/env bash
# tests/integration/test_mlflow_rest.sh - `netsec train` tracking to an MLflow
# server over REST, and the outage/replay path (`netsec track push`).
#
# The server is tests/tools/mlflow_peer.py, our own in-memory peer that checks
# every request against MLflow's published REST spec (method, path, auth
# header, JSON fields and types, LogBatch limits) - not a real MLflow server,
# which cannot be installed here.  Checks: experiment, parent and nested runs
# with params/metrics/tags/artifacts and FINISHED status arrive with the auth
# header; retries through injected 503s and dropped connections; an outage
# leaves training successful with a warning and the local copy pending;
# `track push --pending` replays it once, a second push sends nothing; the
# bearer-token variant; and no password or token in any output or file.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
PEER="$NETSEC_SOURCE_DIR/tests/tools/mlflow_peer.py"
PY=/usr/bin/python3
cd "$T" || exit 1
[[ -x $PY ]] || { echo "no $PY: skipped"; exit 77; }

PASSWORD='pw-Zq7#secret:x'
TOKEN='tok-9f8e7d6c5b4a-SECRET'
PEER_PID=
cleanup() { [[ -n $PEER_PID ]] && kill "$PEER_PID" 2>/dev/null; }
trap cleanup EXIT

# start_peer ARGS...: starts a peer, sets PORT and PEER_PID.
start_peer() {
  rm -f "$T/port"
  "$PY" "$PEER" --port-file "$T/port" "$@" &
  PEER_PID=$!
  for _ in $(seq 100); do [[ -s "$T/port" ]] && break; sleep 0.05; done
  PORT=$(cat "$T/port")
}
stop_peer() { kill "$PEER_PID" 2>/dev/null; wait "$PEER_PID" 2>/dev/null; PEER_PID=; }
dump() { curl -s "http://127.0.0.1:$PORT/_peer/dump" >"$T/dump.json"; }
# q EXPR: evaluates a Python expression over the dump (d) and prints it.
q() { "$PY" -c "import json,sys; d=json.load(open('$T/dump.json')); print($1)"; }
train() {
  run train --data "$DATA" -s "$SCHEMA" --families tree,logreg --artifacts "$T/artifacts" \
    --registry "$T/models" "$@"
}
export NETSEC_LOCAL_MLRUNS="$T/mlruns"
export NETSEC_TRACKING_RETRIES=3
export MLFLOW_TRACKING_USERNAME=alice MLFLOW_TRACKING_PASSWORD="$PASSWORD"

# --- 1. a run over REST with basic auth -------------------------------------
start_peer --user alice --password "$PASSWORD"
export MLFLOW_TRACKING_URI="http://127.0.0.1:$PORT"
train
expect_rc 0 "train with tracking to the peer"
cp "$T/err" "$T/err1"
dump
expect_eq "$(q 'd["violations"]')" "[]" "no request broke the spec"
expect_eq "$(q 'len(d["experiments"])')" 1 "one experiment created"
expect_eq "$(q 'list(d["experiments"].values())[0]["name"]')" netsec "experiment name"
expect_eq "$(q 'len(d["runs"])')" 3 "a parent and two nested runs"
expect_eq "$(q 'sorted(set(r["auth"] for r in d["requests"]))')" "['basic']" \
  "every request carried the basic-auth header"
expect_eq "$(q 'sorted(r["status"] for r in d["runs"].values())')" \
  "['FINISHED', 'FINISHED', 'FINISHED']" "all runs FINISHED"
parent=$(q '[r["run_id"] for r in d["runs"].values() if "mlflow.parentRunId" not in r["tags"]][0]')
expect_eq "$(q "sorted(r['tags']['mlflow.parentRunId'] for r in d['runs'].values() if 'mlflow.parentRunId' in r['tags'])")" \
  "['$parent', '$parent']" "nested runs point at the parent"
expect_eq "$(q "sorted(d['runs']['$parent']['artifacts'])")" \
  "['drift_report/report.yaml', 'model/model.nsm', 'report.json']" "artifacts uploaded"
expect_eq "$(q "d['runs']['$parent']['params'].get('seed')")" 42 "parent params"
expect_eq "$(q "'test_f1' in [m['key'] for m in d['runs']['$parent']['metrics']]")" True "parent metrics"
expect_eq "$(q "sorted(set(r['params']['family'] for r in d['runs'].values() if 'family' in r['params']))")" \
  "['logreg', 'tree']" "family params on nested runs"
expect_eq "$(q "all(r['end_time'] and r['end_time'] >= r['start_time'] for r in d['runs'].values())")" True "end times"
expect_eq "$(q "all(r['tags'].get('mlflow.user') and r['tags'].get('mlflow.source.type') == 'LOCAL' for r in d['runs'].values())")" \
  True "mlflow.user and mlflow.source.* tags"
size=$(stat -c %s "$(ls "$T"/artifacts/*/model_trainer/model.nsm | head -1)")
expect_eq "$(q "d['runs']['$parent']['artifacts']['model/model.nsm']['size']")" "$size" "model uploaded whole"
run track list
expect_rc 0 "track list"
expect_eq "$(grep -c ' FINISHED ' "$T/out")" 3 "three local copies"
expect_eq "$(grep -c ' yes ' "$T/out")" 0 "nothing pending after a clean run"

# --- 2. retries: injected 503s and a dropped connection are retried ----------
curl -s -X POST -d '{"count": 2, "mode": "503"}' "http://127.0.0.1:$PORT/_peer/fail" >/dev/null
train
expect_rc 0 "train through two 503s"
dump
expect_eq "$(q 'len(d["runs"])')" 6 "three more runs despite the 503s"
expect_eq "$(q 'sum(1 for r in d["requests"] if r.get("injected") == "503")')" 2 "503s were served"
curl -s -X POST -d '{"count": 1, "mode": "drop"}' "http://127.0.0.1:$PORT/_peer/fail" >/dev/null
train
expect_rc 0 "train through a dropped connection"
dump
expect_eq "$(q 'len(d["runs"])')" 9 "three more runs despite the drop"
expect_eq "$(q 'sorted(set(r["status"] for r in d["runs"].values()))')" "['FINISHED']" "all FINISHED"
if grep -q "pending" "$T/err"; then fail "retried failures must not leave the run pending"; else pass; fi

# --- 3. outage: the server keeps failing -> warning, local copy pending -------
curl -s -X POST -d '{"count": 1000, "mode": "503"}' "http://127.0.0.1:$PORT/_peer/fail" >/dev/null
train
expect_rc 0 "training succeeds while the server fails"
expect_err "warning.*tracking: .*kept failing.*netsec track push" "one warning names the outage and the way out"
expect_eq "$(grep -c 'tracking:' "$T/err")" 1 "only one tracking warning"
run track list
expect_eq "$(grep -c ' yes ' "$T/out")" 3 "the three local copies are pending"
curl -s -X POST -d '{"count": 0}' "http://127.0.0.1:$PORT/_peer/fail" >/dev/null
dump
before=$(q 'len(d["runs"])')
run track push --pending
expect_rc 0 "push --pending once the server is back"
expect_out "3 run\(s\) sent" "three runs replayed"
dump
expect_eq "$(q 'len(d["runs"])')" $((before + 3)) "three runs arrived"
expect_eq "$(q 'd["violations"]')" "[]" "replayed requests follow the spec"
run track list
expect_eq "$(grep -c ' yes ' "$T/out")" 0 "nothing pending after the push"
run track push --pending
expect_rc 0 "second push --pending"
expect_out "no pending runs" "a second push finds nothing"
run track list
local_parent=$(grep -E '^[0-9a-f]{32} ' "$T/out" | grep -vE -- '-(tree|logreg) \(' | head -1 | cut -d' ' -f1)
run track push "$local_parent"
expect_rc 0 "push of a pushed run"
expect_out "0 run\(s\) sent, 3 already there" "pushing twice does not duplicate"
dump
expect_eq "$(q 'len(d["runs"])')" $((before + 3)) "no duplicates on the server"

# The replayed runs keep their original names, start times and metric timestamps.
"$PY" - "$T/dump.json" "$T/mlruns" <<'EOF' && pass || fail "replayed runs match the local copies"
import json, os, sys
d = json.load(open(sys.argv[1]))
root = sys.argv[2]
local = {}
for exp in os.listdir(root):
    p = os.path.join(root, exp)
    if not os.path.isdir(p) or exp.startswith("."):
        continue
    for run in os.listdir(p):
        rp = os.path.join(p, run)
        # Only replayed runs (they were pending): live copies have their own clocks.
        if not os.path.isfile(os.path.join(rp, "tags", "netsec.pending_push")):
            continue
        remote = open(os.path.join(rp, "tags", "netsec.remote_run_id")).read()
        meta = dict(l.split(": ", 1) for l in open(os.path.join(rp, "meta.yaml")).read().splitlines() if ": " in l)
        local[remote] = (meta, rp)
ok = 0
for rid, (meta, rp) in local.items():
    r = d["runs"][rid]
    assert r["run_name"] == meta["run_name"].strip("'"), (r["run_name"], meta["run_name"])
    assert str(r["start_time"]) == meta["start_time"], (r["start_time"], meta["start_time"])
    assert str(r["end_time"]) == meta["end_time"]
    for m in os.listdir(os.path.join(rp, "metrics")):
        ts, v, step = open(os.path.join(rp, "metrics", m)).read().split()
        got = [x for x in r["metrics"] if x["key"] == m]
        assert got and str(got[0]["timestamp"]) == ts and int(got[0]["step"]) == int(step), m
        assert abs(float(got[0]["value"]) - float(v)) <= 1e-12 * max(1, abs(float(v))), m
    for p in os.listdir(os.path.join(rp, "params")):
        assert r["params"][p] == open(os.path.join(rp, "params", p)).read(), p
    ok += 1
assert ok == 3, ok
EOF

# --- 4. peer down: connection refused -> pending; pushed to a new peer -------
stop_peer
train
expect_rc 0 "training succeeds with the server down"
expect_err "cannot reach the MLflow server at http://127.0.0.1:$PORT" "warning names the server"
run track list
expect_eq "$(grep -c ' yes ' "$T/out")" 3 "three pending copies"
start_peer --user alice --password "$PASSWORD"
run track push --pending --to "http://127.0.0.1:$PORT"
expect_rc 0 "push --pending to a fresh server"
dump
expect_eq "$(q 'len(d["runs"])')" 3 "the outage run and its nested runs arrived"
expect_eq "$(q 'len(d["experiments"])')" 1 "experiment created by name"
expect_eq "$(q 'd["violations"]')" "[]" "no violations"
stop_peer

# --- 5. bearer token (DagsHub style) ------------------------------------------
unset MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD
start_peer --token "$TOKEN"
export MLFLOW_TRACKING_URI="http://127.0.0.1:$PORT"
MLFLOW_TRACKING_TOKEN="$TOKEN" train
expect_rc 0 "train with a bearer token"
dump
expect_eq "$(q 'sorted(set(r["auth"] for r in d["requests"]))')" "['bearer']" "Authorization: Bearer on every request"
expect_eq "$(q 'len(d["runs"])')" 3 "runs arrived with the token"
MLFLOW_TRACKING_TOKEN=wrong-token train
expect_rc 0 "a wrong token does not fail training"
expect_err "HTTP 401" "the 401 is reported"
cp "$T/err" "$T/err401"

# --- 6. credentials in the URI are used and redacted ---------------------------
stop_peer
start_peer --user bob --password "$PASSWORD"
MLFLOW_TRACKING_URI="http://bob:$PASSWORD@127.0.0.1:$PORT" train
expect_rc 0 "train with userinfo in the URI"
dump
expect_eq "$(q 'sorted(set(r["auth"] for r in d["requests"]))')" "['basic']" "userinfo used as basic auth"
stop_peer
MLFLOW_TRACKING_URI="http://bob:$PASSWORD@127.0.0.1:$PORT" train
expect_err "http://127.0.0.1:$PORT" "the server named without userinfo"
cp "$T/err" "$T/err_userinfo"
run track push --pending --to "http://bob:$PASSWORD@127.0.0.1:$PORT"
expect_rc 3 "push to a server that is down fails with exit 3"
expect_err "push to http://\*\*\*@127.0.0.1:$PORT failed" "push names the server redacted"

# --- 7. no secret anywhere ------------------------------------------------------
if grep -rqF -- "$PASSWORD" "$T"/err* "$T/out" "$T/artifacts" "$T/mlruns" "$T/models" 2>/dev/null; then
  fail "the password leaked: $(grep -rlF -- "$PASSWORD" "$T"/err* "$T/out" "$T/artifacts" "$T/mlruns" "$T/models")"
else pass; fi
if grep -rqF -- "$TOKEN" "$T"/err* "$T/out" "$T/artifacts" "$T/mlruns" "$T/models" 2>/dev/null; then
  fail "the token leaked"
else pass; fi

finish
