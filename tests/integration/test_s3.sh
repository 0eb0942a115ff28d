#!/usr/bin/env bash
# tests/integration/test_s3.sh - `netsec sync push|pull` against a real S3
# server: $NETSEC_TEST_S3_ENDPOINT if set (with AWS_* credentials and bucket
# $NETSEC_TEST_S3_BUCKET), else s3rver (npm) started here and stopped by pid.
# Trains a small model, pushes (twice: nothing moves the second time),
# changes one file (only it moves), pulls into a fresh folder and serves the
# model from there, round-trips a multipart upload byte for byte, and checks
# that bad credentials and a bad bucket fail clearly without showing the
# secret.  s3rver does not verify signatures: tests/unit/cloud/test_sigv4.c
# does that against AWS's vectors.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
cd "$T" || exit 1

BUCKET=${NETSEC_TEST_S3_BUCKET:-netsec-test}
if [[ -n ${NETSEC_TEST_S3_ENDPOINT:-} ]]; then
  export AWS_ENDPOINT_URL=$NETSEC_TEST_S3_ENDPOINT
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-S3RVER} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-S3RVER}
else
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "SKIP: node/npm missing (s3rver)"; exit 77
  fi
  S3SH="$NETSEC_SOURCE_DIR/scripts/test-servers/s3.sh"
  trap '"$S3SH" stop "$T/s3.pid"' EXIT
  "$S3SH" start "$T/s3.port" "$T/s3.pid" "$BUCKET" || { echo "FAIL: s3rver did not start"; exit 1; }
  export AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$T/s3.port")"
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
fi
unset AWS_SESSION_TOKEN NETSEC_S3_URI
URI="s3://$BUCKET/it-$$"

# --- a small trained model ------------------------------------------------------------
cat >"$T/small.yaml" <<'Y'
tree: {max_depth: [4]}
Y
head -n 1500 "$DATA" >"$T/small.csv"
run train --data "$T/small.csv" --schema "$SCHEMA" --families tree --grid "$T/small.yaml" \
  --cv 2 --expected-score 0.5 --tracking none --artifacts "$T/artifacts" --registry "$T/models"
expect_rc 0 "train a small model"
n_local=$(find "$T/artifacts" "$T/models" -type f ! -name '.lock' ! -name '*.tmp*' | wc -l)

# --- push, push again, change one file ----------------------------------------------------
run -v sync push "$URI" --artifacts "$T/artifacts" --registry "$T/models"
expect_rc 0 "first push"
expect_out "sync push $URI: $n_local file\(s\)" "every file moved the first time ($n_local)"
expect_out "; 0 unchanged" "nothing skipped the first time"
# current is the last object uploaded, after the version folder.
last=$(grep -E '^  put ' "$T/out" | tail -n 1)
expect_eq "$(echo "$last" | grep -c '/models/netsec/current ')" 1 "current uploaded last"
vline=$(grep -n 'models/netsec/1/model.nsm' "$T/out" | cut -d: -f1)
cline=$(grep -n 'models/netsec/current ' "$T/out" | cut -d: -f1)
[[ -n $vline && -n $cline && $vline -lt $cline ]] && pass || fail "version before current"
grep -q '\.lock\|\.tmp' "$T/out" && fail "a lock or temp file was pushed" || pass

run sync push "$URI" --artifacts "$T/artifacts" --registry "$T/models"
expect_rc 0 "second push"
expect_out ": 0 file\(s\), 0 bytes uploaded; $n_local unchanged" "nothing moves the second time"

run_dir=$(ls -d "$T"/artifacts/*/ | head -n 1)
echo "# a note" >>"$run_dir/data_validation/drift_report/report.yaml"
touch "$T/artifacts/stray.tmp.123456" "$T/models/netsec/x.lock"
run sync push "$URI" --dry-run --artifacts "$T/artifacts" --registry "$T/models"
expect_rc 0 "dry run"
expect_out "would put .*report.yaml" "dry run lists the changed file"
expect_out "\(dry run\).*: 1 file\(s\)" "dry run counts one"
run sync push "$URI" --artifacts "$T/artifacts" --registry "$T/models"
expect_out ": 1 file\(s\)" "only the changed file moves"
expect_out "put +.*drift_report/report.yaml" "the changed file is the one"
rm -f "$T/artifacts/stray.tmp.123456" "$T/models/netsec/x.lock"

# --- pull into a fresh replica ---------------------------------------------------------------
mkdir -p "$T/replica" && cd "$T/replica" || exit 1
run sync pull "$URI"
expect_rc 0 "pull into an empty folder"
expect_out "downloaded.*current model verified" "pull verified the current model"
run models check --registry models
expect_rc 0 "models check on the replica"
run models show --registry models
expect_rc 0 "models show on the replica"
expect_out "family: +tree" "the replica's card"
cmp -s "$T/models/netsec/1/model.nsm" models/netsec/1/model.nsm && pass || fail "model bytes differ"
cmp -s "$run_dir/data_validation/drift_report/report.yaml" \
  "artifacts/$(basename "$run_dir")/data_validation/drift_report/report.yaml" && pass ||
  fail "changed artifact not pulled"
run sync pull "$URI"
expect_out ": 0 file\(s\)" "a second pull moves nothing"
# Damage one local file: pull restores it (same size, different content).
printf 'X' | dd of=models/netsec/1/meta.json bs=1 seek=0 conv=notrunc 2>/dev/null
run sync pull "$URI" --only models
expect_out ": 1 file\(s\)" "pull restores a changed file"
run models check --registry models
expect_rc 0 "check after the restore"
cd "$T" || exit 1

# --- multipart round trip -----------------------------------------------------------------
mkdir -p "$T/big/run" && head -c $((11 * 1024 * 1024 + 12345)) /dev/urandom >"$T/big/run/blob.bin"
NETSEC_S3_MULTIPART_THRESHOLD=$((5 * 1024 * 1024)) NETSEC_S3_PART_SIZE=$((5 * 1024 * 1024)) \
  run -v -v sync push "$URI-mp" --only artifacts --artifacts "$T/big"
expect_rc 0 "multipart push"
expect_err "multipart upload of $((11 * 1024 * 1024 + 12345)) bytes in 3 parts" "went as 3 parts"
NETSEC_S3_PAGE_SIZE=1 run sync pull "$URI-mp" --only artifacts --artifacts "$T/big2"
expect_rc 0 "multipart pull"
cmp -s "$T/big/run/blob.bin" "$T/big2/run/blob.bin" && pass || fail "multipart file differs"
NETSEC_S3_PAGE_SIZE=1 run sync push "$URI" --artifacts "$T/artifacts" --registry "$T/models"
expect_out ": 0 file\(s\)" "paged listing (max-keys=1): nothing moves"

# --- errors ------------------------------------------------------------------------------------
AWS_ACCESS_KEY_ID=NOSUCHKEY AWS_SECRET_ACCESS_KEY=very-secret-value-123 run sync push "$URI" \
  --artifacts "$T/artifacts" --registry "$T/models"
expect_rc 3 "bad credentials"
expect_err "InvalidAccessKeyId" "S3's error code shown"
expect_err "s3://$BUCKET/" "the bucket named"
grep -q "very-secret-value-123" "$T/err" "$T/out" && fail "the secret was printed" || pass
run sync push "s3://no-such-bucket-$$/x" --artifacts "$T/artifacts" --registry "$T/models"
expect_rc 1 "missing bucket"
expect_err "NoSuchBucket" "NoSuchBucket shown"
AWS_SECRET_ACCESS_KEY= run sync push "$URI"
expect_rc 2 "no secret"
expect_err "AWS_SECRET_ACCESS_KEY" "names the variable"
run sync push "http://x/y"
expect_rc 2 "not an s3 URI"
run sync push
expect_rc 2 "no destination"
run sync fetch "$URI"
expect_rc 2 "unknown action"

# --- train with NETSEC_S3_URI: sync after the run; a failed sync only warns ------------------
NETSEC_S3_URI="$URI-train" run train --data "$T/small.csv" --schema "$SCHEMA" --families tree \
  --grid "$T/small.yaml" --cv 2 --expected-score 0.5 --tracking none --artifacts "$T/a2" \
  --registry "$T/m2"
expect_rc 0 "train with sync"
expect_out "sync push $URI-train: [1-9][0-9]* file" "sync ran after training"
NETSEC_S3_URI="s3://no-such-bucket-$$/x" run train --data "$T/small.csv" --schema "$SCHEMA" \
  --families tree --grid "$T/small.yaml" --cv 2 --expected-score 0.5 --tracking none \
  --artifacts "$T/a3" --registry "$T/m3"
expect_rc 0 "a failed sync does not fail the run"
expect_err "warning: sync push to .* failed; the run is trained and registered locally" \
  "the warning says the run counts"
finish
