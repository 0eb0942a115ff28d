#!/usr/bin/env bash
# tests/integration/test_ingest.sh - `netsec ingest/export/store/run` on the
# bundled data and on every kind of bad input: each bad file gets a message
# naming file, line and column, a non-zero exit, and nothing in the store.
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"

rows_in() { # rows_in COLLECTION -> number of data rows exported (0 if none)
  if "$NETSEC" export -c "$1" -o "$T/rows.csv" 2>/dev/null; then
    echo $(( $(wc -l <"$T/rows.csv") - 1 ))
  else
    echo 0
  fi
}

# --- the good path -------------------------------------------------------
run ingest "$DATA" --schema "$SCHEMA"
expect_rc 0 "ingest bundled data"
expect_out "ingested 11055 rows" "ingest reports the row count"
expect_eq "$(rows_in phishing)" 11055 "11055 rows stored"

run ingest "$DATA" --schema "$SCHEMA"
expect_rc 0 "second ingest of the same file"
expect_out "already ingested" "duplicate detected by content hash"
expect_eq "$(rows_in phishing)" 11055 "no duplicate rows"

run ingest "$DATA" --schema "$SCHEMA" --allow-duplicate
expect_rc 0 "ingest with --allow-duplicate"
expect_eq "$(rows_in phishing)" 22110 "duplicate ingest when asked"

run ingest "$DATA" --schema "$SCHEMA" --replace --allow-duplicate
expect_rc 0 "ingest with --replace"
expect_eq "$(rows_in phishing)" 11055 "replace drops old rows"

# export -> re-ingest round trip gives the same rows
run export -c phishing -o "$T/export.csv"
expect_rc 0 "export"
run ingest "$T/export.csv" --schema "$SCHEMA" --collection copy
expect_rc 0 "re-ingest the export"
"$NETSEC" export -c copy -o "$T/export2.csv"
if cmp -s "$T/export.csv" "$T/export2.csv"; then pass; else fail "export round trip differs"; fi
# exported values equal the source file's values (header quoting aside)
if diff <(tail -n +2 "$DATA") <(tail -n +2 "$T/export.csv") >/dev/null; then pass; else fail "exported rows differ from the source"; fi

run store list
expect_rc 0 "store list"
expect_out "^phishing +11055" "store list shows phishing"
run store drop copy
expect_rc 0 "store drop"

# --- bad input: every case names the file, line and column; nothing is stored ----
head -n 1 "$DATA" >"$T/h.csv"
before=$(rows_in phishing)

bad() { # bad NAME DESCRIPTION REGEX [ingest args...]: file $T/NAME must be refused
  local name=$1 desc=$2 re=$3
  shift 3
  run ingest "$T/$name" --schema "$SCHEMA" --collection phishing "$@"
  if [[ $rc -ne 0 ]]; then pass; else fail "$desc: exit 0"; fi
  expect_err "$re" "$desc"
  expect_eq "$(rows_in phishing)" "$before" "$desc: store unchanged"
}

{ cat "$T/h.csv"; sed -n 2,4p "$DATA"; echo "1,1,1"; sed -n 5,6p "$DATA"; } >"$T/fields.csv"
bad fields.csv "wrong number of fields" "fields.csv:5:.*(field|column)"

{ cat "$T/h.csv"; sed -n 2,3p "$DATA"; printf '"-1,1,1\n'; } >"$T/quote.csv"
bad quote.csv "unterminated quote" "quote.csv:4:.*(quote|unterminated)"

{ cat "$T/h.csv"; sed -n 2,3p "$DATA"; sed -n 4p "$DATA" | sed 's/^[^,]*,/abc,/'; } >"$T/text.csv"
bad text.csv "text in a numeric column" "text.csv:4:1:.*having_IP_Address"

{ cat "$T/h.csv"; sed -n 2,3p "$DATA"; sed -n 4p "$DATA" | sed 's/^[^,]*,/7,/'; } >"$T/value.csv"
bad value.csv "a value the schema does not allow" "value.csv:4:1:.*having_IP_Address"

: >"$T/empty.csv"
bad empty.csv "empty file" "empty.csv.*(no data|empty)"

bad h.csv "header only" "h.csv.*(no data|empty)"

sed '1s/"URL_Length"/"having_IP_Address"/' "$DATA" | head -n 5 >"$T/dupcol.csv"
bad dupcol.csv "duplicate column names" "dupcol.csv:1:2:.*(duplicate|having_IP_Address)"

head -c 3000 /dev/urandom | tr -d '\n' | sed 's/^/\x00/' >"$T/garbage.csv"
printf '\x00\x01\x02binary\xff\xfe\n' >>"$T/garbage.csv"
bad garbage.csv "binary garbage" "garbage.csv:1:"

{ cat "$T/h.csv"; head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' '1'; echo; } >"$T/long.csv"
bad long.csv "a line larger than the cap" "long.csv:2:.*(cap|limit|larger|exceed|longer than max)"

run ingest "$T/does-not-exist.csv" --schema "$SCHEMA" --collection phishing
expect_rc 3 "missing file: I/O exit code"
expect_err "does-not-exist.csv.*(No such file|cannot open)" "missing file message"

cp "$DATA" "$T/unreadable.csv"; chmod 000 "$T/unreadable.csv"
if [[ $(id -u) -ne 0 ]]; then
  run ingest "$T/unreadable.csv" --schema "$SCHEMA" --collection phishing
  expect_rc 3 "unreadable file"
fi
run ingest "$T" --schema "$SCHEMA" --collection phishing
if [[ $rc -ne 0 ]]; then pass; else fail "a folder as input: exit 0"; fi

# --skip-bad stores the good rows and keeps the bad ones with reasons
run ingest "$T/text.csv" --schema "$SCHEMA" --collection skipped --skip-bad
expect_rc 0 "skip-bad ingest"
expect_out "put aside 1 bad" "skip-bad reports how many"
expect_eq "$(rows_in skipped)" 2 "skip-bad keeps good rows"
run export -c skipped --rejects
expect_rc 0 "export rejects"
expect_out "4.*having_IP_Address" "rejects name line and field"

# --- usage and exit codes ---------------------------------------------------
run ingest
expect_rc 2 "ingest without FILE is a usage error"
run frobnicate
expect_rc 2 "unknown command"
run --version
expect_out "^netsec [0-9]+\.[0-9]+\.[0-9]+" "--version"
run ingest --help
expect_rc 0 "ingest --help"
expect_out "Usage: netsec ingest" "ingest --help text"
run -q ingest "$DATA" --schema "$SCHEMA" --collection quiet
expect_rc 0 "quiet ingest"
if [[ ! -s "$T/out" ]]; then pass; else fail "--quiet printed: $(cat "$T/out")"; fi

# Output to a device is written in place, never replaced by a renamed temp file.
run export -c phishing -o /dev/null
expect_rc 0 "export to /dev/null"
[[ -c /dev/null ]] && pass || fail "/dev/null is still a character device"

# --- the main job -----------------------------------------------------------
export NETSEC_STORE="sqlite:$T/run.db"
run run --no-train --no-serve
expect_rc 0 "netsec run"
expect_out "rows +11055" "run summary rows"
expect_out "class -1 .*threat" "run summary threat class"
expect_out "duplicate rows +5206" "run summary duplicates"
run run --no-train --no-serve
expect_rc 0 "netsec run twice"
expect_out "already in the store" "second run does not duplicate"
finish
