#!/usr/bin/env bash
# scripts/test-servers/s3.sh - the S3 test server (npm s3rver@3.7.1, pinned in
# third_party/test-servers/s3rver/) for the integration tests.
#
#   s3.sh install                       npm ci --ignore-scripts (idempotent)
#   s3.sh start PORTFILE PIDFILE BUCKET  start on a free 127.0.0.1 port with BUCKET,
#                                        wait until it answers, write port and pid
#   s3.sh stop PIDFILE                   stop it by its pid
#
# s3rver's key and secret are both "S3RVER"; it does not verify signatures.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
pkg="$here/third_party/test-servers/s3rver"
bin="$pkg/node_modules/s3rver/bin/s3rver.js"

need_node() {
  command -v node >/dev/null && command -v npm >/dev/null || {
    echo "s3.sh: node and npm are needed (apt-get install nodejs npm)" >&2
    exit 77
  }
}

case "${1:-}" in
install)
  need_node
  if [[ -f "$bin" && "$pkg/node_modules/.package-lock.json" -nt "$pkg/package-lock.json" ]]; then
    exit 0
  fi
  (cd "$pkg" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
  ;;
start)
  [[ $# -eq 4 ]] || { echo "usage: s3.sh start PORTFILE PIDFILE BUCKET" >&2; exit 2; }
  need_node
  "$0" install
  portfile=$2 pidfile=$3 bucket=$4
  data=$(mktemp -d "${TMPDIR:-/tmp}/netsec-s3rver.XXXXXX")
  for try in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
           echo $((20000 + RANDOM % 20000)))
    # s3rver signs its continuation tokens with DES: OpenSSL 3 keeps it in the legacy provider.
    node --openssl-legacy-provider "$bin" -d "$data" -a 127.0.0.1 -p "$port" --configure-bucket "$bucket" \
      >"$data.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
      if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        echo "$port" >"$portfile"
        echo "$pid" >"$pidfile"
        echo "$data" >"$pidfile.data"
        exit 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  echo "s3.sh: s3rver did not start; its log:" >&2
  cat "$data.log" >&2 || true
  exit 1
  ;;
stop)
  [[ $# -eq 2 ]] || { echo "usage: s3.sh stop PIDFILE" >&2; exit 2; }
  [[ -f $2 ]] || exit 0
  pid=$(cat "$2")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  if [[ -f "$2.data" ]]; then
    data=$(cat "$2.data")
    [[ $data == */netsec-s3rver.* ]] && rm -rf "$data" "$data.log"
    rm -f "$2.data"
  fi
  rm -f "$2"
  ;;
*)
  echo "usage: s3.sh install | start PORTFILE PIDFILE BUCKET | stop PIDFILE" >&2
  exit 2
  ;;
esac
