#!/usr/bin/env bash
# tests/integration/test_registry_cli.sh - `netsec models add | list | show |
# promote | rollback | history | check` through the binary: a model card from
# meta.json, promotion and rollback, check after damage and after a crash,
# and the exit codes of every error.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
REG="$T/models"
head -n 1001 "$DATA" >"$T/train.csv"
{ head -n 1 "$DATA"; sed -n 1002,1301p "$DATA"; } >"$T/test.csv"

run fit --family tree --params max_depth=4 --train "$T/train.csv" --test "$T/test.csv" \
    --schema "$SCHEMA" -o "$T/tree.nsm"
expect_rc 0 "fit tree"
run fit --family logreg --train "$T/train.csv" --test "$T/test.csv" --schema "$SCHEMA" -o "$T/lr.nsm"
expect_rc 0 "fit logreg"

cat >"$T/meta.json" <<'EOF'
{"name": "netsec", "family": "tree", "params": {"max_depth": 4, "criterion": "gini"},
 "trained_at": "2024-05-01T12:00:00Z", "run_id": "run-42", "data_hash": "abc123",
 "schema_hash": "def456", "classes": ["-1", "1"], "threat": "-1", "cv_score": 0.91234,
 "scoring": "f1",
 "metrics": {"test": {"accuracy": 0.92, "precision": 0.93, "recall": 0.9, "f1": 0.9183,
                      "roc_auc": 0.95},
             "train": {"accuracy": 0.95, "f1": 0.951}},
 "confusion_matrix": {"labels": ["-1", "1"], "matrix": [[135, 15], [9, 141]]},
 "feature_importance": [{"name": "SSLfinal_State", "importance": 0.61},
                        {"name": "URL_of_Anchor", "importance": 0.25},
                        {"name": "web_traffic", "importance": 0.14}],
 "n_train": 1000, "n_test": 300}
EOF

# Empty registry.
run models list --registry "$REG"
expect_rc 0 "list an empty registry"
expect_out "no versions yet" "empty registry said so"
run models show --registry "$REG"
expect_rc 1 "show with nothing current"
expect_err "models/netsec: no version is current" "names the registry"
run models rollback --registry "$REG"
expect_rc 1 "rollback with no history"

# Add, with and without a card.
run models add "$T/tree.nsm" --meta "$T/meta.json" --registry "$REG"
expect_rc 0 "add with meta"
expect_out "added version 1" "first version is 1"
run models add "$T/lr.nsm" --registry "$REG" --promote --reason "baseline"
expect_rc 0 "add --promote"
expect_out "version 2 is current" "promoted at once"
run models list --registry "$REG"
expect_rc 0 "list"
expect_out "^  1 +tree +2024-05-01T12:00:00Z +0\.9183" "list row of version 1"
expect_out "^\* 2 " "current marked with *"

# show: the card.
run models show 1 --registry "$REG"
expect_rc 0 "show 1"
expect_out "version 1$" "header without (current)"
expect_out "family: +tree" "family"
expect_out "params: +max_depth=4, criterion=gini" "params"
expect_out "threat class: +-1" "threat"
expect_out "cv score: +0\.9123 \(f1\)" "cv score"
expect_out "rows: +1000 train, 300 test" "rows"
expect_out "f1 +0\.9183 +0\.9510" "metrics table"
expect_out "roc_auc +0\.9500 +-" "missing train metric shown as -"
expect_out "^ +-1 +1$" "confusion header with labels"
expect_out "^  -1 +135 +15$" "confusion row"
expect_out "SSLfinal_State +0\.6100  #{30}$" "top importance has the longest bar"
expect_out "model sha256: +[0-9a-f]{64}" "registry added the model hash"
run models show --registry "$REG"
expect_rc 0 "show current"
expect_out "version 2 \(current\)" "current version shown by default"
run models show 9 --registry "$REG"
expect_rc 1 "show a missing version"
expect_err "models/netsec: version 9 does not exist" "error names registry and version"
run models show x --registry "$REG"
expect_rc 2 "show a bad version"

# Promote, rollback, history.
run models promote 1 --registry "$REG" --reason "better f1"
expect_rc 0 "promote 1"
expect_out "version 1 is current \(was 2\)" "promote message"
run models rollback --registry "$REG"
expect_rc 0 "rollback"
expect_out "rolled back from version 1 to version 2" "rollback message"
run models rollback --registry "$REG"
expect_rc 1 "nothing more to roll back"
expect_err "nothing to roll back to" "rollback error"
run models history --registry "$REG"
expect_rc 0 "history"
expect_eq "$(wc -l <"$T/out")" "3" "three history lines"
expect_out "rollback +2 +back from version 1" "rollback line"
run models promote 5 --registry "$REG"
expect_rc 1 "promote a missing version"
expect_err "version 5" "names the version"
run models promote --registry "$REG"
expect_rc 2 "promote without VERSION"

# check: registry, one version, a loose file.
run models check --registry "$REG"
expect_rc 0 "check a sound registry"
expect_out "ok \(2 versions, current 2\)" "check summary"
run models check 1 --registry "$REG"
expect_rc 0 "check one version"
run models check "$T/tree.nsm"
expect_rc 0 "check a file"
expect_out "family: tree" "file described"

# Damage: a flipped byte in version 1, a crash leftover.
printf '\xff' | dd of="$REG/netsec/1/model.nsm" bs=1 seek=80 conv=notrunc 2>/dev/null
mkdir -p "$REG/netsec/.tmp.crash1"
run models check --registry "$REG"
expect_rc 1 "check finds the damage"
expect_err "1 problem found" "problem count"
expect_err "version 1" "damaged version named"
if [[ ! -e "$REG/netsec/.tmp.crash1" ]]; then pass; else fail "leftover temp folder removed"; fi
run models check 1 --registry "$REG"
expect_rc 1 "check the damaged version"
run models promote 1 --registry "$REG"
expect_rc 1 "promote a damaged version"
expect_err "checksum|corrupt|version 1" "promote error"
run models show --registry "$REG"
expect_out "version 2 \(current\)" "current unchanged after the refused promote"

# A crash between the history line and the pointer: the next open finishes it.
run models add "$T/tree.nsm" --registry "$REG"
expect_rc 0 "add version 3"
# (the braces keep bash's "Killed" notice off the test log)
{ NETSEC_TEST_CRASH_AT=promote:after-history "$NETSEC" models promote 3 --registry "$REG" \
    >/dev/null 2>&1; } 2>/dev/null
expect_eq "$?" "137" "killed at promote:after-history"
expect_eq "$(cat "$REG/netsec/current")" "2" "pointer not yet switched"
run models list --registry "$REG"
expect_out "^\* 3 " "open finished the logged promotion"

# Bad input to add, other names, usage errors.
echo '[1, 2]' >"$T/bad.json"
run models add "$T/tree.nsm" --meta "$T/bad.json" --registry "$REG"
expect_rc 1 "meta that is not an object"
expect_err "JSON object" "meta error"
echo '{"a": }' >"$T/bad2.json"
run models add "$T/tree.nsm" --meta "$T/bad2.json" --registry "$REG"
expect_rc 1 "meta that does not parse"
expect_err "meta.json:1:7: " "JSON error position"
run models add "$T/test.csv" --registry "$REG"
expect_rc 1 "add a file that is not a model"
run models add "$T/none.nsm" --registry "$REG"
expect_rc 3 "add a missing file"
run models list --registry "$REG" --name other
expect_rc 0 "another name"
expect_out "other: no versions" "separate registry per name"
run models list --registry "$REG" --name ../x
expect_rc 2 "bad name"
run models frobnicate
expect_rc 2 "unknown subcommand"
run models list --bogus
expect_rc 2 "unknown option"
run models list extra --registry "$REG"
expect_rc 2 "list with an argument"
run models rollback --reason x --registry "$REG"
expect_rc 2 "--reason on rollback"
echo x >"$T/regfile"
run models list --registry "$T/regfile"
expect_rc 3 "registry root is a file"
run models --help
expect_rc 0 "help"
expect_out "promote VERSION" "help lists promote"

finish
