#!/usr/bin/env bash
# scripts/test-servers/mongo.sh - a MongoDB-wire test server (CongoDB, in
# memory, from npm @push.rocks/smartmongo@2.2.0) for the MongoDB store's tests.
#
#   mongo.sh install                  install the pinned packages (idempotent)
#   mongo.sh start PORTFILE PIDFILE   start on a free 127.0.0.1 port; waits until
#                                     it accepts connections, then writes the
#                                     port and the server's pid
#   mongo.sh stop PIDFILE             stop that server (by its pid) and wait
#
# The packages go to third_party/test-servers/congodb/node_modules (npm ci from
# the committed package-lock.json) and .../congodb/pack (the unpacked
# smartmongo tarball); both are git-ignored.  Only `install` reaches the
# network (the npm registry).  See ../shared/recipes/test-servers.md for why a
# plain `npm install @push.rocks/smartmongo` does not work.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/third_party/test-servers/congodb
pack=$dir/pack
smartmongo=@push.rocks/smartmongo@2.2.0

die() { echo "mongo.sh: $*" >&2; exit 1; }

need_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
    die "node and npm are needed (Debian: apt-get install nodejs npm)"
}

installed() {
  [[ -f $pack/package/dist_ts/congodb/index.js && -d $dir/node_modules/mingo &&
     -d $dir/node_modules/bson && -f $dir/node_modules/.package-lock.json ]] &&
    [[ "$(node -p 'require(process.argv[1]).version' "$pack/package/package.json")" == 2.2.0 ]]
}

cmd_install() {
  need_node
  if installed; then
    return 0
  fi
  (
    cd "$dir"
    if [[ -f package-lock.json ]]; then
      npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    else
      npm install --ignore-scripts --no-audit --no-fund --loglevel=error
    fi
    rm -rf "$pack.tmp" && mkdir -p "$pack.tmp"
    tgz=$(cd "$pack.tmp" && npm pack "$smartmongo" --silent 2>/dev/null | tail -n 1)
    [[ -f "$pack.tmp/$tgz" ]] || die "npm pack $smartmongo failed"
    tar -xzf "$pack.tmp/$tgz" -C "$pack.tmp"
    rm -f "$pack.tmp/$tgz"
    rm -rf "$pack" && mv "$pack.tmp" "$pack"
  )
  installed || die "install did not complete"
  echo "mongo.sh: CongoDB installed in $dir" >&2
}

free_port() {
  node -e 'const s = require("net").createServer();
           s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

cmd_start() {
  local portfile=${1:?usage: mongo.sh start PORTFILE PIDFILE}
  local pidfile=${2:?usage: mongo.sh start PORTFILE PIDFILE}
  need_node
  installed || cmd_install
  local try port pid log
  log=${pidfile%.pid}.log
  for try in 1 2 3; do
    port=$(free_port)
    # Its own output goes to a log file, so that no caller's pipe stays open.
    node "$dir/start-congodb.mjs" "$port" "$pack/package" >"$log" 2>&1 </dev/null &
    pid=$!
    for _ in $(seq 1 150); do # up to 15 s
      if ! kill -0 "$pid" 2>/dev/null; then
        break
      fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$port" >"$portfile"
        echo "$pid" >"$pidfile"
        return 0
      fi
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  cat "$log" >&2 || true
  die "CongoDB did not start (log: $log)"
}

cmd_stop() {
  local pidfile=${1:?usage: mongo.sh stop PIDFILE}
  local pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  [[ $pid =~ ^[0-9]+$ ]] || die "bad pid file $pidfile"
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case ${1:-} in
install) cmd_install ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
*) die "usage: mongo.sh install | start PORTFILE PIDFILE | stop PIDFILE" ;;
esac
