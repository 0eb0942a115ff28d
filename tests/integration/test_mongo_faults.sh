#!/usr/bin/env bash
# tests/integration/test_mongo_faults.sh - the MongoDB store when things go
# wrong, through the CLI:
#   (a) MongoDB down: nothing listens at the port, a name that does not
#       resolve, an address that never answers: exit 3, an error naming
#       host:port, in bounded time (< 10 s with the default time-outs);
#   (b) a network cut mid-ingest: a server of the test's own is killed (by pid)
#       while a 300,000-row ingest runs; netsec exits non-zero with a clear
#       error, does not hang, and leaves the input file untouched; a fresh
#       server then takes the same ingest; a silent cut (the server stopped
#       with SIGSTOP) is bounded when the URI sets socketTimeoutMS;
#   (c) refused authentication: a CongoDB whose saslStart answers
#       AuthenticationFailed (CongoDB itself accepts anyone: the test patches
#       its handler in a wrapper), or wrong credentials on
#       $NETSEC_TEST_MONGO_URI's server; exit 3, not retried.
# No message may contain a password given in the URI.
#
# Uses $NETSEC_TEST_MONGO_URI when set (for (c)); otherwise starts a CongoDB
# with scripts/test-servers/mongo.sh.  (b) and the refusing server of (c)
# always run servers of their own (stopped by pid at exit), so they need
# node; without node and without $NETSEC_TEST_MONGO_URI the test skips (77).
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
SERVERS="$NETSEC_SOURCE_DIR/scripts/test-servers/mongo.sh"
CONGO="$NETSEC_SOURCE_DIR/third_party/test-servers/congodb"
PW="Fau1tyS3cret"
unset NETSEC_STORE

have_node=0
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && have_node=1

# Servers started here (pid files) and a background netsec to stop at exit.
pidfiles=()
bg_pid=""
cleanup() {
  [[ -n $bg_pid ]] && kill -9 "$bg_pid" 2>/dev/null
  for f in "${pidfiles[@]}"; do
    # a stopped (SIGSTOP) server must be continued to take the TERM
    [[ -f $f ]] && kill -CONT "$(cat "$f")" 2>/dev/null
    bash "$SERVERS" stop "$f"
  done
}
trap cleanup EXIT

# start_server NAME: a CongoDB of our own; sets $port; 77 when npm cannot install.
start_server() {
  pidfiles+=("$T/$1.pid")
  if ! bash "$SERVERS" start "$T/$1.port" "$T/$1.pid" 2>"$T/server.err"; then
    cat "$T/server.err" >&2
    if grep -q "npm\|network\|ENOTFOUND\|EAI_AGAIN" "$T/server.err"; then
      echo "skipped: cannot install CongoDB (no npm registry?)"
      exit 77
    fi
    exit 1
  fi
  port=$(cat "$T/$1.port")
}

if [[ -z "${NETSEC_TEST_MONGO_URI:-}" ]]; then
  if [[ $have_node -eq 0 ]]; then
    echo "skipped: node/npm missing and NETSEC_TEST_MONGO_URI not set"
    exit 77
  fi
  bash "$SERVERS" install 2>"$T/server.err" || {
    cat "$T/server.err" >&2
    if grep -q "npm\|network\|ENOTFOUND\|EAI_AGAIN" "$T/server.err"; then
      echo "skipped: cannot install CongoDB (no npm registry?)"
      exit 77
    fi
    exit 1
  }
fi

ms() { date +%s%3N; }

# no_password WHAT: neither output holds $PW
no_password() {
  if grep -q "$PW" "$T/err" "$T/out"; then fail "$1: the password was printed: $(head -c 400 "$T/err")"; else pass; fi
}

# dead_port: a 127.0.0.1 port where nothing listens
dead_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo 1
}

# --- (a) MongoDB down ---------------------------------------------------------------
dp=$(dead_port)
sha_data=$(sha256sum <"$DATA")
s=$(ms)
run --store "mongodb://alice:$PW@127.0.0.1:$dp/faults" ingest "$DATA" --schema "$SCHEMA"
e=$(ms)
expect_rc 3 "ingest with MongoDB down"
expect_err "127\.0\.0\.1:$dp" "the error names host:port"
expect_err "cannot connect" "the error says it cannot connect"
no_password "MongoDB down"
if (( e - s < 10000 )); then pass; else fail "MongoDB down: took $((e - s)) ms"; fi
expect_eq "$(sha256sum <"$DATA")" "$sha_data" "the input file is untouched"
echo "note: (a) nothing listening at 127.0.0.1:$dp: exit $rc in $((e - s)) ms: $(head -n 1 "$T/err")"

for target in "netsec-no-such-host.invalid:27017" "192.0.2.1:27017"; do
  s=$(ms)
  run --store "mongodb://alice:$PW@$target/faults?authSource=admin" store list
  e=$(ms)
  expect_rc 3 "store list at $target"
  expect_err "${target//./\\.}" "the error names $target"
  no_password "$target"
  if (( e - s < 10000 )); then pass; else fail "$target: took $((e - s)) ms"; fi
  echo "note: (a) $target: exit $rc in $((e - s)) ms: $(head -n 1 "$T/err" | cut -c1-220)"
done

# --- (b) a network cut mid-ingest -----------------------------------------------------
if [[ $have_node -eq 1 ]]; then
  big="$T/big.csv"
  rows=300000
  { head -n 1 "$DATA"
    for _ in $(seq 1 28); do tail -n +2 "$DATA"; done | head -n $rows; } >"$big"
  big_size=$(stat -c %s "$big")
  sha_big=$(sha256sum <"$big")

  # cut URI: a password is given (PLAIN, which CongoDB lets through), so that
  # its absence from the messages is checked too.
  start_server cut
  cut_pid=$(cat "$T/cut.pid")
  cut_uri="mongodb://carol:$PW@127.0.0.1:$port/cutdb?authMechanism=PLAIN&authSource=%24external"
  run --store "$cut_uri" store list
  expect_rc 0 "PLAIN credentials against CongoDB"

  s=$(ms)
  "$NETSEC" --store "$cut_uri" ingest "$big" --schema "$SCHEMA" >"$T/out" 2>"$T/err" &
  bg_pid=$!
  # Cut once netsec has read a fifth of the file (its reading runs one batch
  # ahead of the inserts, so rows are being stored by then).
  cut=0
  for _ in $(seq 1 300); do # up to 30 s
    kill -0 "$bg_pid" 2>/dev/null || break
    rchar=$(awk '/^rchar/ {print $2}' "/proc/$bg_pid/io" 2>/dev/null || echo 0)
    if (( ${rchar:-0} > big_size / 5 )); then
      kill -9 "$cut_pid"
      cut=$(ms)
      break
    fi
    sleep 0.05
  done
  if [[ $cut -eq 0 ]]; then
    fail "network cut: the ingest ended (or never read the file) before the cut"
  else
    # wait for netsec, at most 30 s after the cut
    while kill -0 "$bg_pid" 2>/dev/null && (( $(ms) - cut < 30000 )); do sleep 0.05; done
    if kill -0 "$bg_pid" 2>/dev/null; then
      fail "network cut: netsec still runs 30 s after the server was killed"
      kill -9 "$bg_pid"
    fi
    wait "$bg_pid"
    rc=$?
    bg_pid=""
    e=$(ms)
    if [[ $rc -ne 0 ]]; then pass; else fail "network cut: ingest exit 0: $(cat "$T/out")"; fi
    expect_rc 3 "network cut: exit code"
    expect_err "mongodb" "network cut: the error names the store"
    expect_err "127\.0\.0\.1:$port" "network cut: the error names host:port"
    no_password "network cut"
    if grep -q "^ingested" "$T/out"; then fail "network cut: reported as ingested"; else pass; fi
    if (( e - cut < 10000 )); then pass; else fail "network cut: netsec took $((e - cut)) ms after the cut"; fi
    echo "note: (b) server killed $((cut - s)) ms into the ingest (netsec had read > 1/5 of $rows rows);" \
         "netsec exited $rc $((e - cut)) ms later: $(grep -m 1 "error:" "$T/err" | cut -c1-300)"
    grep -v "error:" "$T/err" | sed 's/^/note: (b) and: /' | cut -c1-300
  fi
  expect_eq "$(stat -c %s "$big")" "$big_size" "network cut: input size unchanged"
  expect_eq "$(sha256sum <"$big")" "$sha_big" "network cut: input content unchanged"
  bash "$SERVERS" stop "$T/cut.pid"

  # A silent cut (the server stopped, SIGSTOP: the kernel still accepts the
  # bytes, nothing answers), with socketTimeoutMS in the URI: bounded.  With
  # libmongoc's default socketTimeoutMS (300 s, netsec sets none) each stalled
  # operation waits 5 minutes: not tested here.
  start_server stall
  stall_pid=$(cat "$T/stall.pid")
  "$NETSEC" --store "mongodb://carol:$PW@127.0.0.1:$port/cutdb?authMechanism=PLAIN&authSource=%24external&socketTimeoutMS=3000" \
    ingest "$big" --schema "$SCHEMA" >"$T/out" 2>"$T/err" &
  bg_pid=$!
  cut=0
  for _ in $(seq 1 300); do
    kill -0 "$bg_pid" 2>/dev/null || break
    rchar=$(awk '/^rchar/ {print $2}' "/proc/$bg_pid/io" 2>/dev/null || echo 0)
    if (( ${rchar:-0} > big_size / 5 )); then
      kill -STOP "$stall_pid"
      cut=$(ms)
      break
    fi
    sleep 0.05
  done
  if [[ $cut -eq 0 ]]; then
    fail "silent cut: the ingest ended before the cut"
  else
    while kill -0 "$bg_pid" 2>/dev/null && (( $(ms) - cut < 30000 )); do sleep 0.05; done
    if kill -0 "$bg_pid" 2>/dev/null; then
      fail "silent cut: netsec still runs 30 s after the server stopped answering"
      kill -9 "$bg_pid"
    fi
    wait "$bg_pid"
    rc=$?
    bg_pid=""
    e=$(ms)
    expect_rc 3 "silent cut (socketTimeoutMS=3000): exit code"
    expect_err "127\.0\.0\.1:$port" "silent cut: the error names host:port"
    no_password "silent cut"
    if (( e - cut < 20000 )); then pass; else fail "silent cut: netsec took $((e - cut)) ms"; fi
    echo "note: (b) silent cut (SIGSTOP, socketTimeoutMS=3000): exit $rc $((e - cut)) ms after the cut:" \
         "$(grep -m 1 "error:" "$T/err" | cut -c1-300)"
  fi
  kill -CONT "$stall_pid" 2>/dev/null
  bash "$SERVERS" stop "$T/stall.pid"
  expect_eq "$(sha256sum <"$big")" "$sha_big" "silent cut: input content unchanged"

  # a fresh server takes the same ingest
  start_server cut2
  cut_uri="mongodb://carol:$PW@127.0.0.1:$port/cutdb?authMechanism=PLAIN&authSource=%24external"
  run --store "$cut_uri" ingest "$big" --schema "$SCHEMA"
  expect_rc 0 "ingest again into a fresh server"
  expect_out "ingested $rows rows" "the fresh server took all rows"
  run --store "$cut_uri" store list
  expect_out "^phishing +$rows +0 +1 " "store list after the new ingest"
  no_password "ingest again"
  bash "$SERVERS" stop "$T/cut2.pid"
else
  echo "note: (b) skipped: node is needed to run a server of the test's own to cut"
fi

# --- (c) refused authentication ----------------------------------------------------------
auth_check() { # URI WHAT [loose]: loose for a server that may not speak SCRAM (CongoDB)
  local s e
  s=$(ms)
  run --store "$1" store list
  e=$(ms)
  expect_rc 3 "$2: exit code"
  if [[ -z "${3:-}" ]]; then
    expect_err "[Aa]uthenticat" "$2: the error says authentication failed"
  fi
  expect_err "after 1 try" "$2: not retried"
  no_password "$2"
  if (( e - s < 5000 )); then pass; else fail "$2: took $((e - s)) ms"; fi
  echo "note: (c) $2: exit $rc in $((e - s)) ms: $(head -n 1 "$T/err" | cut -c1-300)"
}

if [[ -n "${NETSEC_TEST_MONGO_URI:-}" ]]; then
  hosts=$(printf '%s' "$NETSEC_TEST_MONGO_URI" | sed -E 's#^mongodb(\+srv)?://([^@/?]*@)?([^/?]*).*#\3#')
  scheme=$(printf '%s' "$NETSEC_TEST_MONGO_URI" | sed -E 's#^(mongodb(\+srv)?)://.*#\1#')
  opts=""
  [[ $NETSEC_TEST_MONGO_URI == *\?* ]] && opts="?${NETSEC_TEST_MONGO_URI#*\?}"
  auth_check "$scheme://netsec_nobody:$PW@$hosts/faults$opts" "wrong credentials on NETSEC_TEST_MONGO_URI's server" loose
fi

if [[ $have_node -eq 1 ]]; then
  # CongoDB answers saslStart with success for anyone; this wrapper makes it
  # refuse as mongod does (code 18).
  cat >"$T/refuse-auth.mjs" <<'JS'
import path from 'node:path';
import { pathToFileURL } from 'node:url';
const [port, pkg] = [Number(process.argv[2]), process.argv[3]];
const url = (p) => pathToFileURL(path.resolve(pkg, p)).href;
const { AdminHandler } = await import(url('dist_ts/congodb/server/handlers/AdminHandler.js'));
const refuse = async () => ({ ok: 0, errmsg: 'Authentication failed.', code: 18,
                              codeName: 'AuthenticationFailed' });
AdminHandler.prototype.handleSaslStart = refuse;
AdminHandler.prototype.handleSaslContinue = refuse;
const { CongoServer } = await import(url('dist_ts/congodb/index.js'));
const server = new CongoServer({ host: '127.0.0.1', port, storage: 'memory' });
await server.start();
const stop = async () => { try { await server.stop(); } finally { process.exit(0); } };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
JS
  port=$(dead_port)
  node "$T/refuse-auth.mjs" "$port" "$CONGO/pack/package" >"$T/refuse.log" 2>&1 </dev/null &
  echo $! >"$T/refuse.pid"
  pidfiles+=("$T/refuse.pid")
  up=0
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
    sleep 0.1
  done
  if [[ $up -eq 1 ]]; then
    auth_check "mongodb://mallory:$PW@127.0.0.1:$port/faults" "refused SCRAM authentication"
    auth_check "mongodb://mallory:$PW@127.0.0.1:$port/faults?authMechanism=PLAIN&authSource=%24external" \
      "refused PLAIN authentication"
    # without credentials the same server is usable: only authentication is refused
    run --store "mongodb://127.0.0.1:$port/faults" store list
    expect_rc 0 "the refusing server without credentials"
  else
    fail "the refusing CongoDB did not start: $(cat "$T/refuse.log")"
  fi
  bash "$SERVERS" stop "$T/refuse.pid"
else
  echo "note: (c) the refusing CongoDB needs node: skipped"
fi

finish
