#!/usr/bin/env bash
# tests/integration/test_learn_cli.sh - `netsec fit | predict | search | models
# check` through the binary: every family trains and predicts from its model
# file alone; bad input gets a clear error, a non-zero exit and no output file.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
head -n 2001 "$DATA" >"$T/train.csv"
{ head -n 1 "$DATA"; sed -n 2002,2401p "$DATA"; } >"$T/test.csv"

for family in logreg tree forest knn adaboost gbdt; do
  params=""
  case $family in forest|adaboost|gbdt) params="n_estimators=20" ;; esac
  run fit --family "$family" --params "$params" --train "$T/train.csv" --test "$T/test.csv" \
      --schema "$SCHEMA" -o "$T/$family.model" --metrics-out "$T/$family.json"
  expect_rc 0 "fit $family"
  expect_out "threat '-1': precision" "fit $family reports threat-class metrics"
  f1=$(sed 's/.*"f1":\([0-9.]*\).*/\1/' "$T/$family.json")
  if awk "BEGIN{exit !($f1 > 0.85)}"; then pass; else fail "fit $family: test F1 $f1 too low"; fi
  run models check "$T/$family.model"
  expect_rc 0 "models check $family"
  expect_out "family: $family" "models check names the family"
done

# Aliases and parameter help.
run fit --family random_forest --help-params
expect_rc 0 "alias and --help-params"
expect_out "n_estimators +default 100" "parameter table shows defaults"

# predict: columns in another order, an extra id column, no label column.
awk -F, 'BEGIN{OFS=","} NR==1{print "id",$3,$2,$1,$0; next} {print "row"NR,$3,$2,$1,$0}' "$T/test.csv" \
  | cut -d, -f1-4,8-34 >"$T/shuffled.csv"
run predict --model "$T/forest.model" "$T/shuffled.csv" -o "$T/pred.csv"
expect_rc 0 "predict with shuffled columns and an extra column"
expect_eq "$(wc -l <"$T/pred.csv")" "401" "one output row per input row (+ header)"
expect_eq "$(head -n 1 "$T/pred.csv" | tr ',' '\n' | tail -n 3 | paste -sd,)" \
  "predicted_column,proba_-1,proba_1" "output columns"
if tail -n +2 "$T/pred.csv" | cut -d, -f1 | grep -q '^row2$'; then pass; else fail "id column passed through"; fi
labels=$(tail -n +2 "$T/pred.csv" | awk -F, '{print $(NF-2)}' | sort -u | paste -sd,)
expect_eq "$labels" "-1,1" "predictions in the dataset's own labels"

# predict: a missing column is named; nothing is written.
cut -d, -f1-5 "$T/test.csv" >"$T/narrow.csv"
run predict --model "$T/forest.model" "$T/narrow.csv" -o "$T/none.csv"
expect_rc 1 "predict with missing columns"
expect_err "missing|SFH|Result" "missing columns named"
if [[ ! -e "$T/none.csv" ]]; then pass; else fail "no output file after a failed predict"; fi

# fit: bad parameters are refused before any work, with the valid range; no model file.
run fit --family forest --params n_estimators=0 --train "$T/train.csv" --schema "$SCHEMA" -o "$T/bad.model"
expect_rc 2 "bad parameter value"
expect_err "n_estimators.*\[1, " "range in the message"
run fit --family forest --params n_trees=5 --train "$T/train.csv" --schema "$SCHEMA" -o "$T/bad.model"
expect_rc 2 "unknown parameter"
expect_err "valid: n_estimators" "valid names listed"
run fit --family nosuch --train "$T/train.csv" -o "$T/bad.model"
expect_rc 2 "unknown family"
if [[ ! -e "$T/bad.model" ]]; then pass; else fail "no model file after a refused fit"; fi

# fit: one class only.
{ head -n 1 "$DATA"; grep -- ',1$' "$DATA" | head -n 50; } >"$T/one.csv"
run fit --family tree --train "$T/one.csv" --schema "$SCHEMA" -o "$T/one.model"
expect_rc 1 "one class only"
expect_err "only one class" "one-class message"

# fit/predict with a test file whose columns differ.
run fit --family tree --train "$T/train.csv" --test "$T/narrow.csv" --schema "$SCHEMA" -o "$T/t2.model"
if [[ $rc -ne 0 ]]; then pass; else fail "test file with other columns accepted"; fi
if [[ ! -e "$T/t2.model" ]]; then pass; else fail "no model after a failed evaluation"; fi

# models check: corrupted, truncated, foreign files.
cp "$T/tree.model" "$T/corrupt.model"
printf '\xff' | dd of="$T/corrupt.model" bs=1 seek=200 conv=notrunc 2>/dev/null
run models check "$T/corrupt.model"
expect_rc 1 "corrupted model"
expect_err "checksum" "checksum named"
head -c 100 "$T/tree.model" >"$T/short.model"
run models check "$T/short.model"
expect_rc 1 "truncated model"
run models check "$DATA"
expect_rc 1 "a CSV is not a model"
expect_err "magic" "foreign file"

# search: a leaderboard, the winner written.
run search --train "$T/train.csv" --test "$T/test.csv" --schema "$SCHEMA" --families tree,knn,logreg -o "$T/best.model"
expect_rc 0 "search"
expect_out "^1 +(tree|knn|logreg) " "leaderboard rank 1"
expect_out "winner: " "winner line"
run models check "$T/best.model"
expect_rc 0 "search winner is a valid model"
printf 'tree:\n  criterion: [gini, nosuch]\n' >"$T/grid.yaml"
run search --train "$T/train.csv" --schema "$SCHEMA" --grid "$T/grid.yaml"
expect_rc 1 "bad grid file"
expect_err "grid.yaml:2:" "grid error names its YAML line"
finish
