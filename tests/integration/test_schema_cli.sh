#!/usr/bin/env bash
# tests/integration/test_schema_cli.sh - `netsec schema infer|check|show` and
# `netsec validate` through the binary: inference reproduces the bundled
# schema, validation reports every problem with line and column.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"

run schema check "$SCHEMA"
expect_rc 0 "schema check of the bundled schema"
expect_out "columns: 31 \(31 int" "schema check counts columns"
expect_out "classes: -1 \(threat\) 1" "schema check marks the threat class"
bundled_hash=$(grep sha256 "$T/out" | awk '{print $2}')

run schema infer "$DATA" --target Result --threat=-1 --name phishing -o "$T/inferred.yaml"
expect_rc 0 "schema infer"
run schema check "$T/inferred.yaml"
expect_rc 0 "inferred schema loads"
expect_eq "$(grep sha256 "$T/out" | awk '{print $2}')" "$bundled_hash" "inferred schema equals the bundled one"

run schema show "$SCHEMA"
expect_rc 0 "schema show"
"$NETSEC" schema show "$SCHEMA" >"$T/canon.yaml"
run schema check "$T/canon.yaml"
expect_eq "$(grep sha256 "$T/out" | awk '{print $2}')" "$bundled_hash" "canonical form round-trips"

run validate "$DATA" --schema "$SCHEMA"
expect_rc 0 "bundled data is valid"
expect_out "valid: 11055 records" "validate counts records"

# Every problem is reported, each with its line and column.
{ head -n 3 "$DATA"; sed -n 4p "$DATA" | sed 's/^[^,]*,/abc,/'; sed -n 5p "$DATA" | sed 's/^[^,]*,[^,]*,/1,5,/';
  echo "1,1"; sed -n 7p "$DATA" | sed 's/,[^,]*$/,0/'; } >"$T/bad.csv"
run validate "$T/bad.csv" --schema "$SCHEMA"
expect_rc 1 "invalid file exits 1"
expect_err "bad.csv:4:1: .*having_IP_Address" "text in a numeric column, line 4 column 1"
expect_err "bad.csv:5:2: .*URL_Length" "value not allowed, line 5 column 2"
expect_err "bad.csv:6:.*(fields|expected 31)" "wrong field count, line 6"
expect_err "bad.csv:7:31: .*Result" "unknown label, line 7 column 31"
expect_err "invalid: 4 problems in 6 records" "summary line"

# A header with a wrong name is reported on line 1 at its column.
sed '1s/"URL_Length"/"URL_Len"/' "$DATA" | head -n 20 >"$T/names.csv"
run validate "$T/names.csv" --schema "$SCHEMA"
expect_rc 1 "wrong column name"
expect_err "names.csv:1:2: .*URL_Len" "unknown column named with its position"

# Bad schemas: syntax and meaning, with the YAML line.
printf 'columns:\n  - name: a\n    type: int\n  - name: a\n    type: float\n' >"$T/dup.yaml"
run schema check "$T/dup.yaml"
expect_rc 1 "duplicate column in schema"
expect_err "dup.yaml:4:" "duplicate column's YAML line"
printf 'columns: [\n' >"$T/syntax.yaml"
run schema check "$T/syntax.yaml"
expect_rc 1 "YAML syntax error"
expect_err "syntax.yaml:[0-9]+:[0-9]+:" "syntax error location"
run validate "$DATA" --schema "$T/missing.yaml"
expect_rc 3 "missing schema file is an I/O error"

# NSL-KDD, when the shared data is present: infer with names, validate with the bundled schema.
NSL="$NETSEC_SOURCE_DIR/../shared/data/nsl_kdd/KDDTrain+_20Percent.txt"
if [[ -f "$NSL" ]]; then
  run validate "$NSL" --schema "$NETSEC_SOURCE_DIR/data/nsl_kdd.schema.yaml"
  expect_rc 0 "NSL-KDD validates against its schema"
  names=$(grep -A1000 '^columns:' "$NETSEC_SOURCE_DIR/data/nsl_kdd.schema.yaml" | grep -- '- name:' | sed 's/.*name: *"\{0,1\}\([^"]*\)"\{0,1\}/\1/' | paste -sd,)
  run schema infer "$NSL" --names "$names" --target label --benign normal --ignore difficulty -o "$T/kdd.yaml"
  expect_rc 0 "NSL-KDD schema inference"
  run validate "$NSL" --schema "$T/kdd.yaml"
  expect_rc 0 "NSL-KDD validates against the inferred schema"
fi
finish
