#!/usr/bin/env bash
# tests/integration/test_faults.sh - faults on the way to other machines.
#
# S3 (our own s3rver, started with scripts/test-servers/s3.sh and killed by pid:
# a remote $NETSEC_TEST_S3_ENDPOINT cannot be killed, so it is not used here):
#   1. the server killed in the middle of a multipart push: netsec exits 3 in a
#      bounded time after its retries, naming bucket and key and no secret; every
#      local file is byte-for-byte unchanged; a fresh server on the same storage
#      shows no half object (an unfinished multipart upload is not an object) and
#      no `current` without its version; a second push completes and a pull into
#      a fresh folder verifies the model.
#   2. the server killed in the middle of a pull: non-zero exit; the destination
#      keeps its old complete file (or has none), never a truncated one, and no
#      temp files stay behind; the next pull succeeds.
# MLflow (tests/tools/mlflow_peer.py):
#   3. a server answering 500 to everything: training still succeeds with one
#      warning, the local runs stay pending, `track push --pending` fails (exit 3)
#      while the server fails and succeeds once it answers; a 400 answer is not
#      retried (one request), in training and in `track push`.
# Sections whose tool is missing (node/npm, python3) are skipped; exit 77 when
# both are.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
PEER="$NETSEC_SOURCE_DIR/tests/tools/mlflow_peer.py"
S3SH="$NETSEC_SOURCE_DIR/scripts/test-servers/s3.sh"
S3BIN="$NETSEC_SOURCE_DIR/third_party/test-servers/s3rver/node_modules/s3rver/bin/s3rver.js"
PY=/usr/bin/python3
cd "$T" || exit 1

have_node=1
command -v node >/dev/null && command -v npm >/dev/null || have_node=0
have_py=1
[[ -x $PY ]] || have_py=0
if [[ $have_node == 0 && $have_py == 0 ]]; then
  echo "SKIP: node/npm (s3rver) and python3 (MLflow peer) missing"; exit 77
fi

PEER_PID=
NETSEC_PID=
cleanup() {
  [[ -n $NETSEC_PID ]] && kill "$NETSEC_PID" 2>/dev/null
  [[ -n $PEER_PID ]] && kill "$PEER_PID" 2>/dev/null
  [[ -f "$T/s3.pid" ]] && "$S3SH" stop "$T/s3.pid"
}
trap cleanup EXIT

# A small trained model: artifacts and registry.
cat >"$T/small.yaml" <<'Y'
tree: {max_depth: [4]}
Y
head -n 1500 "$DATA" >"$T/small.csv"
small_train() {
  run train --data "$T/small.csv" --schema "$SCHEMA" --families tree --grid "$T/small.yaml" \
    --cv 2 --expected-score 0.5 "$@"
}

# alive PID: the process runs (not a zombie); no fork, so it can sit in a tight loop.
alive() {
  local s
  read -r _ _ s _ 2>/dev/null <"/proc/$1/stat" || return 1
  [[ $s != Z ]]
}

# manifest DIR...: "sha256  path" of every file under the folders, sorted.
manifest() { find "$@" -type f -print0 | sort -z | xargs -0 -r sha256sum; }
# rel_manifest DIR: the same with paths relative to DIR, lock and temp files left out.
rel_manifest() {
  (cd "$1" && find . -type f ! -name '*.lock' ! -name '.lock' ! -name '*.tmp*' -print0 |
    sort -z | xargs -0 -r sha256sum)
}

# =====================================================================================
# S3: the server killed mid-transfer
# =====================================================================================
if [[ $have_node == 1 ]]; then
  BUCKET=netsec-faults
  "$S3SH" start "$T/s3.port" "$T/s3.pid" "$BUCKET" || { echo "FAIL: s3rver did not start"; exit 1; }
  S3PORT=$(cat "$T/s3.port")
  S3DATA=$(cat "$T/s3.pid.data")
  export AWS_ENDPOINT_URL="http://127.0.0.1:$S3PORT"
  # s3rver checks the key id, not the signature: any secret works, and none may show.
  SECRET='fault-secret-Vq83Lk0pZ'
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=$SECRET
  unset AWS_SESSION_TOKEN NETSEC_S3_URI
  URI="s3://$BUCKET/faults-$$"
  export NETSEC_S3_MULTIPART_THRESHOLD=$((5 * 1024 * 1024)) NETSEC_S3_PART_SIZE=$((5 * 1024 * 1024))
  BIG_SIZE=$((40 * 1024 * 1024 + 4321))

  # kill_s3: a network cut: SIGKILL to the server, by pid.
  S3PID=$(cat "$T/s3.pid")
  kill_s3() {
    kill -9 "$S3PID" 2>/dev/null
    for _ in $(seq 1 100); do alive "$S3PID" || break; sleep 0.05; done
  }
  # restart_s3: a fresh server on the same storage folder and port (s3.sh stop,
  # from the trap, still finds the pid and removes the folder).
  restart_s3() {
    local pid
    # Started from a subshell, as s3.sh does: not a job of this shell.
    (node --openssl-legacy-provider "$S3BIN" -d "$S3DATA" -a 127.0.0.1 -p "$S3PORT" \
      --configure-bucket "$BUCKET" >>"$S3DATA.log" 2>&1 &
     echo $! >"$T/s3.pid")
    pid=$(cat "$T/s3.pid")
    S3PID=$pid
    for _ in $(seq 1 200); do
      curl -s -o /dev/null "$AWS_ENDPOINT_URL/" && return 0
      alive "$pid" || break
      sleep 0.05
    done
    echo "FAIL: s3rver did not restart on $S3DATA" >&2
    return 1
  }
  # cut_when GLOB CMD...: runs netsec CMD in the background, kills the server as soon
  # as a file matches GLOB, and waits (at most 60 s) for netsec to end.  Sets rc,
  # elapsed (ms from the cut to netsec's exit) and cut (1 if the cut came while
  # netsec still ran).
  cut_when() {
    local glob=$1 t0 i
    shift
    "$NETSEC" "$@" >"$T/out" 2>"$T/err" &
    NETSEC_PID=$!
    cut=0
    for ((i = 0; i < 400000; i++)); do
      if compgen -G "$glob" >/dev/null; then
        # Freeze netsec at once (no fork on this path), cut, let it go on.
        kill -STOP "$NETSEC_PID" 2>/dev/null
        kill_s3
        kill -CONT "$NETSEC_PID" 2>/dev/null
        cut=1
        break
      fi
      alive "$NETSEC_PID" || break
    done
    [[ $cut == 1 ]] || kill_s3
    t0=$(date +%s%N)
    for ((i = 0; i < 600; i++)); do
      alive "$NETSEC_PID" || break
      sleep 0.1
    done
    if alive "$NETSEC_PID"; then
      fail "netsec $1 still running 60 s after the server died"
      kill -9 "$NETSEC_PID"
    fi
    wait "$NETSEC_PID"
    rc=$?
    NETSEC_PID=
    elapsed=$((($(date +%s%N) - t0) / 1000000))
  }

  small_train --tracking none --artifacts "$T/artifacts" --registry "$T/models"
  expect_rc 0 "train a small model"
  RUN_DIR=$(ls -d "$T"/artifacts/*/ | head -n 1)
  RUN_ID=$(basename "$RUN_DIR")
  head -c "$BIG_SIZE" /dev/urandom >"$RUN_DIR/big.bin"
  manifest "$T/artifacts" "$T/models" >"$T/before.sha"

  # --- 1. the server dies during a multipart upload ------------------------------------
  # Parts land in <storage>/<bucket>/._S3rver_uploads/<upload id>/<N>: part 2 being
  # written means part 1 went up and the upload is under way.
  cut_when "$S3DATA/$BUCKET/._S3rver_uploads/*/2" \
    -v -v sync push "$URI" --artifacts "$T/artifacts" --registry "$T/models"
  expect_eq "$cut" 1 "the server was killed while the push ran"
  expect_rc 3 "a push cut off fails with the network exit code"
  [[ $elapsed -lt 30000 ]] && pass || fail "the push took ${elapsed} ms to give up after the cut"
  expect_err "retrying in [0-9]+ ms" "connection errors were retried with back-off"
  expect_err "error: s3: PUT s3://$BUCKET/faults-$$/artifacts/$RUN_ID/big.bin: .*after 5 tries" \
    "the error names the operation, bucket and key and the tries"
  if grep -qF -- "$SECRET" "$T/out" "$T/err"; then fail "the secret was printed"; else pass; fi
  manifest "$T/artifacts" "$T/models" >"$T/after.sha"
  cmp -s "$T/before.sha" "$T/after.sha" && pass ||
    fail "local files changed by the failed push: $(diff "$T/before.sha" "$T/after.sha" | head -5)"

  restart_s3 || exit 1
  # What a reader of the bucket sees now: a listing through netsec (dry-run pull) and
  # one by hand.
  run sync pull "$URI" --dry-run --artifacts "$T/look/a" --registry "$T/look/m"
  expect_rc 0 "the bucket can be listed after the cut"
  big_line=$(grep -E "would get +faults-$$/artifacts/$RUN_ID/big.bin " "$T/out")
  [[ -z $big_line || $big_line == *"($BIG_SIZE bytes)"* ]] && pass ||
    fail "a partial object is visible: $big_line"
  [[ -z $big_line ]] && pass || fail "the aborted multipart upload shows as an object"
  if grep -q 'models/netsec/current' "$T/out"; then
    grep -q 'models/netsec/1/model.nsm' "$T/out" && pass || fail "current without its version"
  else pass; fi
  curl -s "$AWS_ENDPOINT_URL/$BUCKET?list-type=2&prefix=faults-$$/" >"$T/list.xml"
  grep -q "<Key>faults-$$/artifacts/$RUN_ID/big.bin</Key>" "$T/list.xml" &&
    fail "ListObjectsV2 shows the half-uploaded key" || pass
  [[ ! -e $T/look ]] && pass || fail "a dry run wrote files"

  run -v -v sync push "$URI" --artifacts "$T/artifacts" --registry "$T/models"
  expect_rc 0 "push again after the restart"
  expect_err "multipart upload of $BIG_SIZE bytes" "the big file went up as multipart again"
  expect_out "put +faults-$$/artifacts/$RUN_ID/big.bin" "the big file was uploaded"
  manifest "$T/artifacts" "$T/models" >"$T/after.sha"
  cmp -s "$T/before.sha" "$T/after.sha" && pass || fail "local files changed by the push"

  mkdir -p "$T/rep1"
  run sync pull "$URI" --artifacts "$T/rep1/artifacts" --registry "$T/rep1/models"
  expect_rc 0 "pull into a fresh folder"
  expect_out "current model verified" "the pulled model was verified"
  run models check --registry "$T/rep1/models"
  expect_rc 0 "models check on the replica"
  expect_eq "$(rel_manifest "$T/rep1/artifacts" | sha256sum)" \
    "$(rel_manifest "$T/artifacts" | sha256sum)" "pulled artifacts equal the local ones"
  expect_eq "$(rel_manifest "$T/rep1/models" | sha256sum)" \
    "$(rel_manifest "$T/models" | sha256sum)" "pulled registry equals the local one"

  # --- 2. the server dies during a pull ------------------------------------------------
  # 2a. The replica has an old complete version of big.bin (same size, other bytes):
  # the pull downloads into big.bin.tmp.XXXXXX; the server dies while it does.
  REP_BIG="$T/rep1/artifacts/$RUN_ID/big.bin"
  head -c "$BIG_SIZE" /dev/urandom >"$REP_BIG"
  old_sha=$(sha256sum <"$REP_BIG")
  manifest "$T/rep1/models" >"$T/rep_models.sha"
  cut_when "$REP_BIG.tmp.*" sync pull "$URI" --artifacts "$T/rep1/artifacts" \
    --registry "$T/rep1/models"
  expect_eq "$cut" 1 "the server was killed while the pull ran"
  [[ $rc -ne 0 ]] && pass || fail "a pull cut off must fail"
  expect_rc 3 "a pull cut off fails with the network exit code"
  [[ $elapsed -lt 30000 ]] && pass || fail "the pull took ${elapsed} ms to give up after the cut"
  expect_err "s3://$BUCKET/faults-$$/artifacts/$RUN_ID/big.bin" "the error names the key"
  expect_eq "$(sha256sum <"$REP_BIG")" "$old_sha" "the old complete file stays in place"
  expect_eq "$(find "$T/rep1" -name '*.tmp*' | wc -l)" 0 "no temp file left by the failed pull"
  manifest "$T/rep1/models" | cmp -s - "$T/rep_models.sha" && pass ||
    fail "the replica's registry changed"
  restart_s3 || exit 1
  run sync pull "$URI" --artifacts "$T/rep1/artifacts" --registry "$T/rep1/models"
  expect_rc 0 "pull again after the restart"
  expect_out "got +faults-$$/artifacts/$RUN_ID/big.bin" "the big file came down"
  cmp -s "$RUN_DIR/big.bin" "$REP_BIG" && pass || fail "big.bin differs after the second pull"
  expect_eq "$(find "$T/rep1" -name '*.tmp*' | wc -l)" 0 "no temp files after a successful pull"

  # 2b. A fresh replica without the file: after the cut it is absent, not truncated.
  mkdir -p "$T/rep2"
  REP2_BIG="$T/rep2/artifacts/$RUN_ID/big.bin"
  cut_when "$REP2_BIG.tmp.*" sync pull "$URI" --artifacts "$T/rep2/artifacts" \
    --registry "$T/rep2/models"
  expect_eq "$cut" 1 "the server was killed while the fresh pull ran"
  expect_rc 3 "a fresh pull cut off fails"
  [[ ! -e $REP2_BIG ]] && pass || fail "a file is in place after the cut ($(stat -c %s "$REP2_BIG") bytes)"
  expect_eq "$(find "$T/rep2" -name '*.tmp*' | wc -l)" 0 "no temp file left in the fresh replica"
  # The registry came first and is whole.
  run models check --registry "$T/rep2/models"
  expect_rc 0 "the registry pulled before the cut checks"
  restart_s3 || exit 1
  run sync pull "$URI" --artifacts "$T/rep2/artifacts" --registry "$T/rep2/models"
  expect_rc 0 "the fresh pull completes after the restart"
  expect_eq "$(rel_manifest "$T/rep2/artifacts" | sha256sum)" \
    "$(rel_manifest "$T/artifacts" | sha256sum)" "the fresh replica's artifacts are whole"
  expect_eq "$(find "$T/rep2" -name '*.tmp*' | wc -l)" 0 "no temp files in the fresh replica"

  manifest "$T/artifacts" "$T/models" >"$T/after.sha"
  cmp -s "$T/before.sha" "$T/after.sha" && pass || fail "the source folders changed"
  "$S3SH" stop "$T/s3.pid"
  unset NETSEC_S3_MULTIPART_THRESHOLD NETSEC_S3_PART_SIZE AWS_ENDPOINT_URL
else
  echo "SKIP: node/npm missing: S3 fault sections not run"
fi

# =====================================================================================
# MLflow: a server answering 500, then 400
# =====================================================================================
if [[ $have_py == 1 ]]; then
  start_peer() {
    rm -f "$T/peer.port"
    "$PY" "$PEER" --port-file "$T/peer.port" "$@" &
    PEER_PID=$!
    for _ in $(seq 100); do [[ -s "$T/peer.port" ]] && break; sleep 0.05; done
    PPORT=$(cat "$T/peer.port")
  }
  dump() { curl -s "http://127.0.0.1:$PPORT/_peer/dump" >"$T/dump.json"; }
  q() { "$PY" -c "import json,sys; d=json.load(open('$T/dump.json')); print($1)"; }
  fail_mode() {
    curl -s -X POST -d "$1" "http://127.0.0.1:$PPORT/_peer/fail" >/dev/null
  }
  pending() { run track list; grep -c ' yes ' "$T/out"; }
  export NETSEC_LOCAL_MLRUNS="$T/mlruns"
  export NETSEC_TRACKING_RETRIES=3
  unset MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD MLFLOW_TRACKING_TOKEN MLFLOW_TRACKING_URI

  # --- 3a. every request answered 500 --------------------------------------------------
  start_peer --fail-status 500
  TRK="http://127.0.0.1:$PPORT"
  small_train --tracking "$TRK" --artifacts "$T/ml_art" --registry "$T/ml_models"
  expect_rc 0 "training succeeds while MLflow answers 500"
  expect_eq "$(grep -c 'tracking:' "$T/err")" 1 "exactly one tracking warning"
  expect_err "warning: tracking: .*HTTP 500.*kept in the local store.*netsec track push" \
    "the warning names the 500 and the way out"
  dump
  expect_eq "$(q 'len(d["requests"])')" 4 "the first call was tried 1 + 3 times, then no more"
  expect_eq "$(q 'sorted(set(r.get("status") for r in d["requests"]))')" "[500]" "all answered 500"
  expect_eq "$(q 'len(d["runs"])')" 0 "nothing reached the server"
  expect_eq "$(pending)" 2 "the parent and nested run are pending locally"
  run models check --registry "$T/ml_models"
  expect_rc 0 "the run's model is registered locally"

  run track push --pending --to "$TRK"
  expect_rc 3 "push --pending fails while the server answers 500"
  expect_err "push to $TRK failed.*stays pending" "the push failure keeps the runs pending"
  expect_eq "$(pending)" 2 "still pending after the failed push"

  fail_mode '{"count": 0}'
  run track push --pending --to "$TRK"
  expect_rc 0 "push --pending once the server answers"
  expect_out "2 run\(s\) sent" "both runs sent"
  dump
  expect_eq "$(q 'len(d["runs"])')" 2 "the runs arrived"
  expect_eq "$(q 'sorted(r["status"] for r in d["runs"].values())')" "['FINISHED', 'FINISHED']" \
    "replayed runs are FINISHED"
  expect_eq "$(q 'd["violations"]')" "[]" "replayed requests follow the spec"
  expect_eq "$(pending)" 0 "nothing pending after the push"

  # --- 3b. a 400 is not retried ------------------------------------------------------
  dump
  n0=$(q 'len(d["requests"])')
  fail_mode '{"count": 1000000, "mode": "400"}'
  small_train --tracking "$TRK" --artifacts "$T/ml_art" --registry "$T/ml_models"
  expect_rc 0 "training succeeds while MLflow answers 400"
  expect_err "warning: tracking: .*HTTP 400" "the warning names the 400"
  expect_eq "$(grep -c 'tracking:' "$T/err")" 1 "one warning for the 400"
  if grep -q 'retrying' "$T/err"; then fail "a 400 was retried"; else pass; fi
  dump
  expect_eq "$(q "len(d['requests']) - $n0")" 1 "a 400 answer costs one request, no retries"
  expect_eq "$(pending)" 2 "the runs are pending after the 400"
  dump
  n0=$(q 'len(d["requests"])')
  run track push --pending --to "$TRK"
  # (exit 2 today: the library maps an MLflow 400 to NS_ERR_INVALID, which the CLI
  # reports as a usage error; docs/tracking.md lists 3 for a server failure.)
  [[ $rc -ne 0 ]] && pass || fail "push --pending must fail on a 400"
  expect_err "HTTP 400" "the push error names the 400"
  dump
  expect_eq "$(q "len(d['requests']) - $n0")" 1 "push: a 400 answer is not retried"
  fail_mode '{"count": 0}'
  run track push --pending --to "$TRK"
  expect_rc 0 "push --pending after the 400s stop"
  expect_eq "$(pending)" 0 "nothing pending at the end"
  kill "$PEER_PID" 2>/dev/null; wait "$PEER_PID" 2>/dev/null; PEER_PID=
else
  echo "SKIP: python3 missing: MLflow fault section not run"
fi

finish
