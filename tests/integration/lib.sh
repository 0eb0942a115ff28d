# tests/integration/lib.sh - helpers for the integration scripts.
# Each script sources this, gets $NETSEC (the binary), a fresh $T folder, and
# check functions that count passes and failures; `finish` prints the
# "N passed, N failed" line and sets the exit status.
set -u
: "${NETSEC:?set NETSEC to the netsec binary}"
: "${NETSEC_SOURCE_DIR:?set NETSEC_SOURCE_DIR}"
T=${NETSEC_TMP:-$(mktemp -d)}
rm -rf "$T" && mkdir -p "$T"
export NETSEC_STORE="sqlite:$T/store.db"
export NETSEC_DATA_DIR="$NETSEC_SOURCE_DIR/data"
n_pass=0
n_fail=0

pass() { n_pass=$((n_pass + 1)); }
fail() { n_fail=$((n_fail + 1)); echo "FAIL: $*" >&2; }

# run CMD...: runs netsec with args, capturing stdout in $T/out, stderr in $T/err, status in $rc.
run() {
  "$NETSEC" "$@" >"$T/out" 2>"$T/err"
  rc=$?
}

# expect_rc N DESCRIPTION
expect_rc() {
  if [[ $rc -eq $1 ]]; then pass; else fail "$2: exit $rc, wanted $1; stderr: $(head -c 600 "$T/err")"; fi
}

# expect_err REGEX DESCRIPTION: stderr matches the extended regex
expect_err() {
  if grep -Eq -- "$1" "$T/err"; then pass; else fail "$2: stderr does not match /$1/: $(head -c 600 "$T/err")"; fi
}

# expect_out REGEX DESCRIPTION
expect_out() {
  if grep -Eq -- "$1" "$T/out"; then pass; else fail "$2: stdout does not match /$1/: $(head -c 600 "$T/out")"; fi
}

# expect_eq GOT WANT DESCRIPTION
expect_eq() {
  if [[ "$1" == "$2" ]]; then pass; else fail "$3: got '$1', wanted '$2'"; fi
}

finish() {
  echo "$n_pass passed, $n_fail failed"
  [[ $n_fail -eq 0 ]]
}
