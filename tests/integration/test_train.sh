#!/usr/bin/env bash
# tests/integration/test_train.sh - `netsec train` end to end: the embedded
# default, every stage's artifacts, the registry and MLflow-format tracking,
# concurrent runs, gates, bad input (empty store, schema mismatch, a column
# entirely missing, one class, a full disk) and kill -9 at several points.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
cd "$T" || exit 1
have_numpy=0
/usr/bin/python3 -c 'import numpy' 2>/dev/null && have_numpy=1

# A small grid keeps the suite quick; one run below uses the full default.
cat >"$T/small.yaml" <<'EOF'
tree: {criterion: [gini, entropy]}
logreg: {}
forest: {n_estimators: [8, 16]}
EOF
SMALL=(--grid "$T/small.yaml" --families tree,logreg,forest)

# --- the embedded default: empty store -> bundled data ingested, full grids ---
run train
expect_rc 0 "netsec train with no arguments"
expect_out "ingesting .*phisingData.csv" "the bundled data is ingested first"
expect_out "chosen by cross-validation f1" "leaderboard and the chosen family"
for f in logreg tree forest knn adaboost gbdt; do
  expect_out "^[0-9]+ +$f " "leaderboard lists $f"
done
expect_out "registry: netsec v1 promoted" "first model promoted"
run1=$(sed -n 's/^artifacts  //p' "$T/out")
[[ -d "$run1" ]] && pass || fail "run folder printed: '$run1'"
for f in run.status data_ingestion/feature_store/phishing.csv \
         data_ingestion/ingested/train.csv data_ingestion/ingested/test.csv \
         data_validation/validated/train.csv data_validation/validated/test.csv \
         data_validation/drift_report/report.yaml \
         data_transformation/transformed/train.npy data_transformation/transformed/test.npy \
         data_transformation/transformed/train_labels.npy data_transformation/preprocessor.bin \
         model_trainer/model.nsm model_trainer/report.json; do
  [[ -s "$run1/$f" ]] && pass || fail "artifact $f"
done
expect_eq "$(cat "$run1/run.status")" "finished" "run.status"
expect_eq "$(($(wc -l <"$run1/data_ingestion/ingested/train.csv") - 1))" "8844" "train rows (80%)"
expect_eq "$(($(wc -l <"$run1/data_ingestion/ingested/test.csv") - 1))" "2211" "test rows (20%)"
grep -q '^drift_status: ' "$run1/data_validation/drift_report/report.yaml" && pass || fail "drift report"
[[ $(grep -c 'p_value:' "$run1/data_validation/drift_report/report.yaml") -eq 30 ]] && pass \
  || fail "drift report has the 30 features"
/usr/bin/python3 - "$run1/model_trainer/report.json" <<'EOF' && pass || fail "report.json content"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "finished"
assert r["data"]["rows"] == 11055 and r["data"]["duplicate_rows"] == 5206
assert 0.5 < r["data"]["leakage"]["share"] < 0.8, r["data"]["leakage"]
assert len(r["families"]) == 6
assert r["chosen"]["selected_by"] == "cross-validation"
assert r["gates"]["passed"] is True and r["chosen"]["test"]["f1"] > 0.9
assert r["registry"]["version"] == 1 and r["registry"]["promoted"] is True
assert len(r["chosen"]["feature_importance"]) == 10
EOF
if [[ $have_numpy == 1 ]]; then
  /usr/bin/python3 - "$run1/data_transformation/transformed" <<'EOF' && pass || fail "npy files load in numpy"
import numpy as np, sys
d = sys.argv[1]
a = np.load(d + "/train.npy"); b = np.load(d + "/test.npy")
assert a.shape == (8844, 31) and b.shape == (2211, 31), (a.shape, b.shape)
assert set(np.unique(a[:, -1])) == {-1.0, 1.0}
l = np.load(d + "/train_labels.npy")
assert l.shape == (8844,) and set(l) == {"-1", "1"}
assert (l.astype(float) == a[:, -1]).all()
EOF
fi
[[ $(cat models/netsec/current 2>/dev/null | tr -dc 0-9) == 1 ]] && pass || fail "registry current = 1"
run models check --registry models
expect_rc 0 "registry check"
run models show
expect_rc 0 "models show"
expect_out "gbdt|forest|knn|tree|logreg|adaboost" "model card names the family"

# MLflow file store: experiment meta, one parent run and six nested runs.
exp=$(grep -l "^name: netsec$" mlruns/*/meta.yaml 2>/dev/null | head -n 1)
[[ -n "$exp" ]] && pass || fail "mlruns experiment 'netsec'"
expdir=$(dirname "$exp")
n_runs=$(find "$expdir" -mindepth 2 -maxdepth 2 -name meta.yaml | wc -l)
expect_eq "$n_runs" "7" "one parent and six family runs"
n_child=$(grep -l . "$expdir"/*/tags/mlflow.parentRunId 2>/dev/null | wc -l)
expect_eq "$n_child" "6" "six nested runs"
parent=$(grep -L . "$expdir"/*/tags/mlflow.parentRunId 2>/dev/null | head -n 1)
parent_dir=$(for d in "$expdir"/*/; do [[ -e "$d/tags/mlflow.parentRunId" ]] || echo "$d"; done | head -n 1)
[[ -s "$parent_dir/metrics/test_f1" && -s "$parent_dir/artifacts/report.json" && \
   -s "$parent_dir/artifacts/model/model.nsm" ]] && pass || fail "parent run metrics and artifacts"
grep -q '^status: 3$' "$parent_dir/meta.yaml" && pass || fail "parent run FINISHED (3)"

# Prediction with the registered model fills gaps with its imputer.
{ head -n 1 "$DATA"; sed -n 2,21p "$DATA" | sed 's/^1,/,/'; } >"$T/gaps.csv"
run predict --model models/netsec/1/model.nsm "$T/gaps.csv" -o "$T/pred.csv"
expect_rc 0 "predict with missing values (imputed)"

# --- netsec drift: the training split against itself and against shifted data ---
run drift "$run1/data_ingestion/ingested/train.csv" "$run1/data_ingestion/ingested/test.csv" \
  -s "$SCHEMA" -o "$T/drift.yaml"
expect_rc 0 "netsec drift"
expect_out "^0 of 30 columns drifted" "no drift between train and test"
grep -q '^drift_status: false' "$T/drift.yaml" && pass || fail "drift YAML written"
awk -F, 'BEGIN{OFS=","} NR==1{print; next} {$14=1; print}' \
  "$run1/data_ingestion/ingested/test.csv" >"$T/shifted.csv"
run drift "$run1/data_ingestion/ingested/train.csv" "$T/shifted.csv" -s "$SCHEMA" --fail-on-drift
expect_rc 5 "drift gate exit"
expect_out "URL_of_Anchor .*DRIFT" "the shifted column is flagged"
cut -d, -f1-30 "$T/shifted.csv" >"$T/nolabel.csv"
run drift "$run1/data_ingestion/ingested/train.csv" "$T/nolabel.csv" -s "$SCHEMA"
expect_rc 0 "drift on new data without the label column"
run drift "$run1/data_ingestion/ingested/train.csv" "$T/missing-file.csv" -s "$SCHEMA"
expect_rc 3 "drift on a missing file"

# --- a second run: same data, not worse -> promoted; --dedup: no leakage ---
run train -c phishing --dedup "${SMALL[@]}" --expected-score 0.5 --force --tracking none
expect_rc 0 "train --dedup"
expect_out "leakage: 0 of" "dedup leaves no test row in train"
expect_out "5206 exact duplicates, dropped" "dedup count"

# --- two runs at once: distinct folders and versions ---
"$NETSEC" train -c phishing "${SMALL[@]}" --force --tracking none >"$T/a.out" 2>"$T/a.err" &
pa=$!
"$NETSEC" train -c phishing "${SMALL[@]}" --force --tracking none >"$T/b.out" 2>"$T/b.err" &
pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
expect_eq "$ra$rb" "00" "two concurrent runs succeed"
da=$(sed -n 's/^artifacts  //p' "$T/a.out"); db=$(sed -n 's/^artifacts  //p' "$T/b.out")
[[ -n "$da" && -n "$db" && "$da" != "$db" ]] && pass || fail "concurrent runs share no folder"
va=$(sed -n 's/^registry: netsec v\([0-9]*\).*/\1/p' "$T/a.out")
vb=$(sed -n 's/^registry: netsec v\([0-9]*\).*/\1/p' "$T/b.out")
[[ -n "$va" && -n "$vb" && "$va" != "$vb" ]] && pass || fail "concurrent runs get distinct versions ($va, $vb)"

# --- gates ---
before=$(ls models/netsec | grep -c '^[0-9]')
run train -c phishing "${SMALL[@]}" --expected-score 0.999 --tracking none
expect_rc 5 "expected-score gate stops the run"
expect_err "below the expected 0.9990" "gate message"
expect_eq "$(ls models/netsec | grep -c '^[0-9]')" "$before" "nothing registered after a failed gate"
gate_run=$(sed -n 's/.*artifacts and report are in //p' "$T/err")
grep -q '^failed: model_evaluation' "$gate_run/run.status" && pass || fail "failed run.status"
grep -q '"status": "failed"' "$gate_run/model_trainer/report.json" && pass || fail "failed report.json"

# --- bad input ---
NETSEC_STORE="sqlite:$T/empty.db" run train -c phishing --tracking none
expect_rc 1 "empty store"
expect_err "has no data in collection 'phishing'" "empty store message"

sed '0,/values: \[-1, 1\]/s//values: [-1, 0, 1]/' "$SCHEMA" >"$T/other.yaml"
run train -c phishing -s "$T/other.yaml" --tracking none
expect_rc 1 "schema mismatch with the stored collection"
expect_err "schema mismatch" "schema mismatch message"

awk -F, 'BEGIN{OFS=","} NR==1{print; next} {$5=""; print}' "$DATA" >"$T/nocol.csv"
run train --data "$T/nocol.csv" -s "$SCHEMA" "${SMALL[@]}" --tracking none
expect_rc 1 "a column entirely missing"
expect_err "entirely missing" "names the empty column"

{ head -n 1 "$DATA"; grep ',1$' "$DATA" | head -n 300; } >"$T/oneclass.csv"
run train --data "$T/oneclass.csv" -s "$SCHEMA" "${SMALL[@]}" --tracking none
expect_rc 1 "one class only"
expect_err "only one class|one class" "one-class message"

# A full disk: writes beyond 256 KB fail (EFBIG) -> I/O error, nothing promoted.
cur_before=$(cat models/netsec/current)
( trap '' XFSZ; ulimit -f 256; exec "$NETSEC" train -c phishing "${SMALL[@]}" --force \
    --tracking none ) >"$T/out" 2>"$T/err"
rc=$?
expect_rc 3 "a failing write (disk full) stops the run"
expect_eq "$(cat models/netsec/current)" "$cur_before" "current model unchanged after a write failure"

# --- kill -9 at several points: the current model stays loadable, the
# registry consistent, and the next start marks the killed run failed ---
for stage in data_ingestion data_validation data_transformation model_search model_evaluation \
             model_registry; do
  NETSEC_TEST_CRASH_AT=$stage "$NETSEC" train -c phishing "${SMALL[@]}" --force \
    --tracking none >"$T/out" 2>"$T/err"
  rc=$?
  expect_eq "$rc" "137" "killed at $stage"
  killed=$(ls -td artifacts/*/ | head -n 1)
  grep -q '^running ' "$killed/run.status" && pass || fail "$stage: run.status still says running"
  run models check --registry models
  expect_rc 0 "registry consistent after a kill at $stage"
  cur=$(cat models/netsec/current)
  run models check "models/netsec/$cur/model.nsm"
  expect_rc 0 "current model loadable after a kill at $stage"
done
run train -c phishing "${SMALL[@]}" --force --tracking none
expect_rc 0 "a run after the kills"
n_reaped=$(grep -l '^failed: interrupted' artifacts/*/run.status | wc -l)
expect_eq "$n_reaped" "6" "the killed runs are marked failed on the next start"

finish
